"""Steady-state speed of the real kernels: Heron against CPython and Numba, in one run.

    python benches/real/speed.py                       # every kernel, table on stdout
    python benches/real/speed.py --kernels harris,centdiff --markdown out.md

Each kernel file (``corpus/NAME.py``, see ``run.py``) runs three times in fresh processes with
``HERON_REAL_TIME=1``, which makes the harness time ``run(*make_inputs())`` after its two
checked calls (fresh inputs for every call, made outside the timed region; best of at least 3
calls and up to 1 s): under Heron's start-up hook, with ``HERON_DISABLE=1`` (CPython), and as a
Numba program (``HERON_DISABLE=1``, every ``# heron: jit`` marker made ``@numba.njit``,
``, parallel`` / ``, nogil`` passed as Numba's options, ``heron.prange`` made ``numba.prange``;
written as ``corpus/_numba_NAME.py``). Numba's output (results and warnings, stdout and
stderr) is compared with CPython's: where they differ, its time is not for the same work
(marked †; Numba does not report NumPy's warnings, nor raise where CPython raises). Heron/Numba above 1 means
slower than Numba. The geometric mean is over the kernels where Heron ran natively and Numba
compiled and gave CPython's results.

Needs Numba installed in ``--python``; Heron's own correctness is ``run.py``'s job.
"""

import argparse
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _corpus  # noqa: E402
import run as real  # noqa: E402

MARKER = re.compile(r"^(\s*)# heron: jit(?:,\s*([\w ,]+))?\s*$")


def numba_source(text):
    """The Numba program of a corpus file: markers made decorators, prange Numba's."""
    out = ["import numba"]
    for line in text.split("\n"):
        m = MARKER.match(line)
        if m:
            opts = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()]
            args = ", ".join(f"{o}=True" for o in opts if o in ("parallel", "nogil"))
            out.append(f"{m.group(1)}@numba.njit({args})")
            continue
        line = line.replace("from heron import prange", "from numba import prange")
        line = line.replace("heron.prange", "numba.prange")
        out.append(line)
    return "\n".join(out)


def timed(python, corpus_dir, name, env):
    """``(seconds or None, checked output, stderr)`` of one timed run of ``NAME.py`` (the
    output: stdout and stderr, less the timing line, so that warnings count)."""
    rc, stdout, stderr, _ = real.run_mode(python, corpus_dir, name, dict(env, HERON_REAL_TIME="1"))
    times = re.findall(r"^time: (\S+)$", stdout, re.M)
    checked = "\n".join(l for l in stdout.split("\n") if not l.startswith("time: ")) + "\n--\n" + stderr
    if rc != 0 or not times:
        return None, checked, stderr
    return float(times[-1]), checked, stderr


def measure(python, corpus_dir, name):
    """The three runs of one kernel."""
    with open(os.path.join(corpus_dir, name + ".py")) as f:
        text = f.read()
    with open(os.path.join(corpus_dir, f"_numba_{name}.py"), "w") as f:
        f.write(numba_source(text))
    plain_t, plain_out, _ = timed(python, corpus_dir, name, {"HERON_DISABLE": "1"})
    heron_t, heron_out, _ = timed(python, corpus_dir, name, {})
    numba_t, numba_out, numba_err = timed(python, corpus_dir, f"_numba_{name}", {"HERON_DISABLE": "1"})
    why = ""
    if numba_t is None:
        last = [l for l in numba_err.strip().split("\n") if l.strip()]
        why = last[-1][:90] if last else "failed"
    return {"name": name, "cpython": plain_t, "heron": heron_t, "numba": numba_t,
            "heron_same": real.without_report_line(heron_out) == plain_out,
            "numba_same": numba_out == plain_out,
            "numba_error": why}


def fmt(t):
    if t is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e3), ("µs", 1e6)):
        if t * scale >= 1:
            return f"{t * scale:.3g} {unit}"
    return f"{t * 1e9:.3g} ns"


def table(rows, status):
    lines = ["| Kernel | Heron | CPython | Heron | Numba | Heron/CPython | Heron/Numba |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    ratios = []
    for r in rows:
        hc = f"{r['heron'] / r['cpython']:.3f}" if r["heron"] and r["cpython"] else "—"
        if r["numba"] is None:
            hn = f"Numba fails: {r['numba_error']}" if r["numba_error"] else "—"
        elif r["heron"] is None:
            hn = "—"
        else:
            q = r["heron"] / r["numba"]
            hn = f"{q:.2f}" + ("" if r["numba_same"] else " †")
            if r["numba_same"] and status.get(r["name"]) == "native":
                ratios.append(q)
        lines.append(f"| {r['name']} | {status.get(r['name'], '?')} | {fmt(r['cpython'])} | "
                     f"{fmt(r['heron'])} | {fmt(r['numba'])} | {hc} | {hn} |")
    gm = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
    return "\n".join(lines), gm, len(ratios)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--kernels", help="comma-separated names (default: all)")
    ap.add_argument("--corpus-dir", default=_corpus.DEFAULT_OUT)
    ap.add_argument("--markdown", help="also write the table here (Markdown)")
    args = ap.parse_args(argv)
    only = args.kernels.split(",") if args.kernels else None
    written, missing = _corpus.materialize(args.corpus_dir, only)
    for name, why in missing.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    python = real.hook_python(args.python)
    work = os.path.join(args.corpus_dir, "_speed_work")
    os.makedirs(work, exist_ok=True)
    rows, status = [], {}
    for name in written:        # one at a time: the timings share the machine with nothing
        status[name] = real.run_kernel(python, args.corpus_dir, name, work, edge=None)["status"]
        rows.append(measure(python, args.corpus_dir, name))
        r = rows[-1]
        print(f"{name:24s} {status[name]:8s} cpython {fmt(r['cpython']):>9s}  heron {fmt(r['heron']):>9s}"
              f"  numba {fmt(r['numba']):>9s}", flush=True)
    text, gm, n = table(rows, status)
    summary = (f"Geometric mean of Heron/Numba over {n} kernels where Heron runs natively and "
               f"Numba compiles with CPython's results: {gm:.2f}.")
    print(text)
    print(summary)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n\n" + summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
