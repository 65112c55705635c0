"""One measurement in a fresh process; started by ``benches/run.py``, not by hand.

    python _worker.py kernel MODE NAME [--quick] [--min-reps N] [--max-reps N] [--budget S]
    python _worker.py callcost MODE [--quick]
    python _worker.py script PATH            (the Numba variant of ``python kernels/NAME.py``)

MODE is ``cpython`` (run with HERON_DISABLE=1 by the harness), ``heron`` (Heron's start-up hook
active) or ``numba`` (HERON_DISABLE=1, and the marked functions wrapped with ``numba.njit``).
The result is one JSON object on the last line of stdout, after the ``@@HERON-BENCH@@`` tag (a
kernel may print lines of its own before it).
"""

import gc
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = os.path.join(HERE, "kernels")
TAG = "@@HERON-BENCH@@"

# ``# heron: jit[, options]`` on its own line above a def (and its decorators) ...
_MARK_ABOVE = re.compile(
    r"^[ \t]*#[ \t]*heron:[ \t]*jit\b(?P<opts>[^\n]*)\n(?:[ \t]*@[^\n]*\n)*[ \t]*def[ \t]+(?P<name>\w+)",
    re.M)
# ... or at the end of the def line.
_MARK_INLINE = re.compile(r"^[ \t]*def[ \t]+(?P<name>\w+)[^\n]*#[ \t]*heron:[ \t]*jit\b(?P<opts>[^\n]*)$",
                          re.M)


def marked_functions(source):
    """``[(name, options)]`` of the functions marked ``# heron: jit`` in ``source``."""
    found = {}
    for regex in (_MARK_ABOVE, _MARK_INLINE):
        for m in regex.finditer(source):
            opts = [o.strip() for o in m.group("opts").split(",") if o.strip()]
            found.setdefault(m.group("name"), opts)
    return sorted(found.items(), key=lambda item: source.find("def " + item[0]))


def load_kernel(name):
    """Import kernels/NAME.py as the top-level module NAME (through Heron's finder if active)."""
    if KERNELS not in sys.path:
        sys.path.insert(0, KERNELS)
    import importlib
    return importlib.import_module(name)


def numba_error_text(exc):
    """The informative part of a Numba compile error, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("Failed in nopython", "During:", "File \"",
                                                     "^", "<source", "- Resolution failure"))]
    text = " ".join(keep[:3]) or type(exc).__name__
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return f"{type(exc).__name__}: {text}"[:300]


def wrap_with_numba(module, path):
    """Replace every marked function of ``module`` by ``numba.njit`` of it; return the names."""
    import numba
    with open(path, encoding="utf-8") as f:
        source = f.read()
    extra = getattr(module, "NUMBA_OPTIONS", {})
    if hasattr(module, "prange"):
        module.prange = numba.prange  # heron.prange is range; Numba's parallel loops need its own
    names = []
    for name, opts in marked_functions(source):
        kwargs = dict(extra.get(name, {}))
        if "parallel" in opts:
            kwargs["parallel"] = True
        setattr(module, name, numba.njit(**kwargs)(getattr(module, name)))
        names.append(name)
    return names


def heron_records(module_name):
    """Heron's report records for one module, or None when Heron is not active."""
    try:
        import heron
    except ImportError:
        return None
    recs = [r for r in heron.report() if r["module"] == module_name]
    return [{k: r[k] for k in ("qualname", "line", "status", "reason", "signatures",
                               "compile_time_s", "calls", "native_calls", "fallback_calls",
                               "failures")} for r in recs]


def measure_kernel(mode, name, quick, min_reps, max_reps, budget, save=None):
    out = {"mode": mode, "kernel": name}
    t0 = time.perf_counter()
    module = load_kernel(name)
    import _bench
    if mode == "numba":
        import numba
        out["numba_version"] = numba.__version__
        out["jitted"] = wrap_with_numba(module, module.__file__)
    out["import_s"] = time.perf_counter() - t0
    args = module.setup(quick)
    t = time.perf_counter()
    try:
        result = module.run(args)
    except Exception as exc:  # a compile failure under Numba; anything else is reported too
        out["error"] = numba_error_text(exc) if mode == "numba" else f"{type(exc).__name__}: {exc}"
        return out
    out["first_s"] = time.perf_counter() - t
    out["fingerprint"] = _bench.fingerprint(result)
    out["value_fingerprint"] = _bench.value_fingerprint(result)
    if isinstance(result, tuple):
        out["parts"] = [_bench.fingerprint(v) for v in result]
    if save:
        import pickle
        with open(save, "wb") as f:
            pickle.dump(result, f)
    del result
    times = []
    gc.collect()
    gc.disable()
    deadline = time.perf_counter() + budget
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() < deadline):
        t = time.perf_counter()
        result = module.run(args)
        times.append(time.perf_counter() - t)
    gc.enable()
    out["times_s"] = times
    out["steady_s"] = min(times)
    out["last_fingerprint"] = _bench.fingerprint(result)
    if mode == "heron":
        out["heron"] = heron_records(name)
    if mode == "numba":
        out["numba_signatures"] = {n: len(getattr(module, n).signatures) for n in out["jitted"]}
    return out


def _loop_empty(r):
    for i in r:
        pass


def _loop_call(f, r, x):
    for i in r:
        f(x)


def _best_loop(f, n, x, reps):
    r = range(n)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        if f is None:
            _loop_empty(r)
        else:
            _loop_call(f, r, x)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e9


def measure_callcost(mode, quick):
    """ns per call of trivial functions from an interpreted loop (best of several loops)."""
    import numpy as np
    n, reps = (200_000, 5) if quick else (1_000_000, 9)
    module = load_kernel("_callcost")
    a = np.arange(4.0)
    out = {"mode": mode, "n": n}
    if mode == "numba":
        import numba
        out["numba_version"] = numba.__version__
        wrap_with_numba(module, module.__file__)
    cases = {"add1": (module.add1, 7), "first": (module.first, a),
             "add1_py": (module.add1_py, 7), "first_py": (module.first_py, a)}
    for f, x in cases.values():
        f(x)  # compile / warm up
    gc.collect()
    gc.disable()
    ns = {"empty": []}
    for key in cases:
        ns[key] = []
    for _ in range(3):  # interleave the cases, keep the best of all rounds
        ns["empty"].append(_best_loop(None, n, None, reps))
        for key, (f, x) in cases.items():
            ns[key].append(_best_loop(f, n, x, reps))
    gc.enable()
    out["ns"] = {k: min(v) for k, v in ns.items()}
    if mode == "heron":
        out["heron"] = heron_records("_callcost")
    return out


def run_script(path):
    """The Numba variant of ``python kernels/NAME.py``: same program, marked functions njit-ed."""
    import importlib.util
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    wrap_with_numba(module, path)
    import _bench
    _bench.main(module.setup, module.run)


def main(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["kernel", "callcost", "script"])
    p.add_argument("mode_or_path")
    p.add_argument("name", nargs="?")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--min-reps", type=int, default=3)
    p.add_argument("--max-reps", type=int, default=20)
    p.add_argument("--budget", type=float, default=2.0)
    p.add_argument("--save", default=None, help="pickle the first result to this file")
    a = p.parse_args(argv)
    if a.what == "script":
        run_script(a.mode_or_path)
        return
    if a.what == "kernel":
        out = measure_kernel(a.mode_or_path, a.name, a.quick, a.min_reps, a.max_reps, a.budget, a.save)
    else:
        out = measure_callcost(a.mode_or_path, a.quick)
    out["python"] = sys.version.split()[0]
    np = sys.modules.get("numpy")
    out["numpy_version"] = np.__version__ if np is not None else None
    sys.stdout.flush()
    print(TAG + " " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
