"""A fuzzing worker: reads JSON requests on stdin, answers one JSON line each on stdout.

Requests: ``{"op": "gen", "seed": S, "size": X}`` generates the module of seed S and checks it;
``{"op": "check", "source": TEXT}`` checks the given module. Before the Heron half of a check the
worker prints ``{"phase": "heron"}``, so that the parent can tell a hang or a crash in compiled
code from a slow CPython reference. Run by ``run.py`` in a subprocess, so that a crash or a hang
in native code loses only one program.
"""
import json
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    sys.set_int_max_str_digits(0) if hasattr(sys, "set_int_max_str_digits") else None
    sys.dont_write_bytecode = True
    from fuzz import gen, harness

    out = sys.stdout
    sys.stdout = sys.stderr  # anything the program prints must not corrupt the protocol

    def send(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    for line in sys.stdin:
        req = json.loads(line)
        source = None
        try:
            if req["op"] == "gen":
                source = gen.generate_seed(req["seed"], req.get("size", 1.0), frozenset(req.get("avoid", ())))
            else:
                source = req["source"]
            result = harness.check(source, progress=lambda phase: send({"phase": phase}))
            if req["op"] == "gen" and result["status"] == "mismatch":
                result["source"] = source
        except Exception as exc:  # noqa: BLE001
            import traceback
            result = {"status": "error", "why": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
            if req["op"] == "gen":
                result["source"] = source
        send(result)


if __name__ == "__main__":
    main()
