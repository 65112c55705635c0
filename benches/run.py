"""Heron's benchmark harness: every kernel under CPython, Heron and Numba, in fresh processes.

    python benches/run.py                       # full run, writes benches/results/RESULTS.md
    python benches/run.py --quick               # short run (CI)
    python benches/run.py --kernels fib,stencil --out /tmp/r.md

Each kernel (benches/kernels/NAME.py, see kernels/_bench.py) is measured in three fresh
processes of ``--python``/``--numba-python``:

* CPython: ``HERON_DISABLE=1``, the functions run as written;
* Heron: the installed start-up hook swaps the ``# heron: jit`` functions;
* Numba (when ``numba`` imports in ``--numba-python``): ``HERON_DISABLE=1`` and the harness
  wraps the same marked functions with ``numba.njit``.

Per kernel it reports the steady time per call (best of N after a warm-up call), the first call
(compilation included), the wall time of the whole program ``python kernels/NAME.py``, the
ratios Heron/CPython and Heron/Numba, and whether the three results are identical (``repr`` of
scalars, dtype/shape/SHA-256 of arrays). It also measures compile time per function, the cost of
calling a trivial compiled function from interpreted code, and what the installed ``.pth`` adds
to ``python -c pass``. The exit status is 1 when Heron's result differs from CPython's or a
measurement failed.
"""

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KERNELS = os.path.join(HERE, "kernels")
WORKER = os.path.join(HERE, "_worker.py")
TAG = "@@HERON-BENCH@@"
HERON_VARS = ("HERON_DISABLE", "HERON_REPORT", "HERON_AUTO")
MODES = ("cpython", "heron", "numba")

# The .pth that the wheel installs; the start-up measurement processes site-packages without it.
PTH_NAME = "heron_hook.pth"

# Known causes of Numba's differences, checked by hand.
NUMBA_WHY = {
    "poly": (" (Numba computes `x**5` as x2=x*x, x4=x2*x2, x4*x instead of calling libm `pow` as "
             "CPython does: many elements differ in the last bits, and the loop becomes "
             "pure multiplications, which is why it is so much faster)"),
}
_SITE_CODE = (
    "import site\n"
    "_add = site.addpackage\n"
    "def addpackage(sitedir, name, known_paths):\n"
    "    if name == {skip!r}:\n"
    "        return known_paths\n"
    "    return _add(sitedir, name, known_paths)\n"
    "site.addpackage = addpackage\n"
    "site.main()\n")


# ----------------------------------------------------------------------------- processes

def env_for(mode, quick):
    env = {k: v for k, v in os.environ.items() if k not in HERON_VARS}
    if mode in ("cpython", "numba"):
        env["HERON_DISABLE"] = "1"
    env["HERON_BENCH_QUICK"] = "1" if quick else "0"
    return env


def run_tagged(cmd, env, timeout):
    """Run a worker; return its JSON object, or ``{"error": ...}``."""
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                           cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(TAG):
            return json.loads(line[len(TAG):])
    tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"error": f"exit status {p.returncode}: {tail}"}


def time_script(cmd, env, timeout):
    """Wall time of a whole ``python script.py`` and the last line it printed."""
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                           cwd=HERE)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    wall = time.perf_counter() - t
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        return None, f"exit status {p.returncode}: {tail}"
    lines = p.stdout.strip().splitlines()
    return wall, (lines[-1] if lines else "")


def probe(python, code, env=None):
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120,
                           env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["?"])[-1]
    return p.stdout.strip(), None


# ----------------------------------------------------------------------------- measurements

def discover():
    return sorted(f[:-3] for f in os.listdir(KERNELS) if f.endswith(".py") and not f.startswith("_"))


def merge_rounds(ms):
    """One measurement from several processes: the best steady and first call of all; the
    result must be the same in every process."""
    good = [m for m in ms if ok(m)]
    if len(good) < len(ms) or not good:
        return next(m for m in ms if not ok(m))
    best = dict(min(good, key=lambda m: m["steady_s"]))
    best["saved"] = good[0].get("saved")
    best["first_s"] = min(m["first_s"] for m in good)
    best["rounds"] = len(good)
    for m in good:
        if m["fingerprint"] != best["fingerprint"]:
            best["last_fingerprint"] = m["fingerprint"]  # reported as not repeatable
    return best


def measure_kernel(name, cfg, log):
    res = {"name": name}
    wargs = ["--min-reps", str(cfg.min_reps), "--max-reps", str(cfg.max_reps),
             "--budget", str(cfg.budget)] + (["--quick"] if cfg.quick else [])
    runs = {}
    for rnd in range(cfg.rounds):  # alternate the modes, so a burst of load hits all of them
        for mode in MODES:
            if mode == "numba" and not cfg.numba_python:
                continue
            if rnd and not ok(runs[mode][0]):
                continue
            py = cfg.numba_python if mode == "numba" else cfg.python
            log(f"  {name}: {mode} (round {rnd + 1}) ...")
            save = os.path.join(cfg.tmp, f"{name}.{mode}.pickle")
            extra = [] if rnd else ["--save", save]
            m = run_tagged([py, WORKER, "kernel", mode, name] + wargs + extra,
                           env_for(mode, cfg.quick), cfg.timeout)
            if not rnd and os.path.exists(save):
                m["saved"] = save
            runs.setdefault(mode, []).append(m)
    for mode, ms in runs.items():
        res[mode] = merge_rounds(ms)
    path = os.path.join(KERNELS, name + ".py")
    cmds = {"cpython": [cfg.python, path], "heron": [cfg.python, path]}
    if cfg.numba_python and "error" not in res.get("numba", {}):
        cmds["numba"] = [cfg.numba_python, WORKER, "script", path]
    walls = {m: [] for m in cmds}
    printed = {}
    for _ in range(cfg.script_reps):  # interleave the three programs, keep the best of each
        for mode, cmd in cmds.items():
            if mode in printed and printed[mode][0] is None:
                continue
            wall, last = time_script(cmd, env_for(mode, cfg.quick), cfg.timeout)
            printed[mode] = (wall, last)
            if wall is not None:
                walls[mode].append(wall)
    res["script"] = {m: {"wall_s": min(w) if w else None, "walls_s": w,
                         "printed": printed[m][1]} for m, w in walls.items()}
    # Once more under Heron with its JSON report: did the __main__ path compile the same?
    report = os.path.join(cfg.tmp, f"{name}.report.json")
    env = env_for("heron", cfg.quick)
    env["HERON_REPORT"] = report
    time_script(cmds["heron"], env, cfg.timeout)
    try:
        with open(report, encoding="utf-8") as f:
            res["script_report"] = json.load(f)
    except (OSError, ValueError) as exc:
        res["script_report"] = {"error": f"no report from HERON_REPORT={report} ({exc})"}
    return res


def measure_callcost(cfg, log):
    out = {}
    for mode in ("heron", "numba"):
        if mode == "numba" and not cfg.numba_python:
            continue
        py = cfg.numba_python if mode == "numba" else cfg.python
        log(f"  call overhead: {mode} ...")
        out[mode] = run_tagged([py, WORKER, "callcost", mode] + (["--quick"] if cfg.quick else []),
                               env_for(mode, cfg.quick), cfg.timeout)
    return out


def _spawn_time(cmd, env):
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def measure_startup(cfg, log):
    """Median start-up of ``python -c pass`` variants, in ms, interleaved in random order."""
    log(f"  start-up: {cfg.startup_reps} rounds ...")
    py = cfg.python
    on = env_for("heron", False)
    off = env_for("cpython", False)
    variants = {
        "pass": ([py, "-c", "pass"], on),
        "pass_disabled": ([py, "-c", "pass"], off),
        "pass_no_site": ([py, "-S", "-c", "pass"], on),
        # The same site processing done by hand, once with every .pth and once without Heron's:
        # the difference is exactly what the installed .pth costs.
        "site_with_pth": ([py, "-S", "-c", _SITE_CODE.format(skip="(none)")], on),
        "site_without_pth": ([py, "-S", "-c", _SITE_CODE.format(skip=PTH_NAME)], on),
    }
    times = {k: [] for k in variants}
    order = list(variants)
    for k in order:  # warm the page cache
        _spawn_time(*variants[k])
    rng = random.Random(4)
    for _ in range(cfg.startup_reps):
        rng.shuffle(order)
        for k in order:
            times[k].append(_spawn_time(*variants[k]) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    # Paired differences per round are less noisy than differences of medians: report both.
    paired = {
        "pth": statistics.median(a - b for a, b in zip(times["site_with_pth"], times["site_without_pth"])),
        "vs_disabled": statistics.median(a - b for a, b in zip(times["pass"], times["pass_disabled"])),
        "vs_no_site": statistics.median(a - b for a, b in zip(times["pass"], times["pass_no_site"])),
    }
    # Where the time goes: Heron's modules in ``-X importtime`` (microseconds, cumulative).
    imports = []
    for _ in range(min(cfg.startup_reps, 30)):
        p = subprocess.run([py, "-X", "importtime", "-c", "pass"], env=on, capture_output=True,
                           text=True)
        entries = []  # (indent, cumulative us) of heron's modules; the outermost ones count
        for line in p.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip().startswith("heron"):
                try:
                    entries.append((len(parts[2]) - len(parts[2].lstrip()), int(parts[1])))
                except ValueError:
                    pass
        top = min((e[0] for e in entries), default=0)
        imports.append(sum(us for indent, us in entries if indent == top))
    return {"median_ms": med, "paired_ms": paired, "heron_import_us": statistics.median(imports),
            "reps": cfg.startup_reps}


# ----------------------------------------------------------------------------- analysis

def fmt_time(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} µs" if s >= 1e-5 else f"{s * 1e6:.1f} µs"


def fmt_ratio(r):
    if r is None:
        return "—"
    if r >= 10:
        return f"{r:.0f}"
    if r >= 0.1:
        return f"{r:.2f}"
    return f"{r:.3f}" if r >= 0.001 else f"{r:.1e}"


def ok(m):
    return isinstance(m, dict) and "error" not in m and "steady_s" in m


def heron_status(h):
    """("native" | "python" | "partly python" | "inactive", reasons) for a Heron measurement."""
    recs = h.get("heron")
    if recs is None or not recs:
        return "inactive", ["Heron recorded no candidate: is the wheel (and its .pth) installed in --python?"]
    reasons = []
    status = "native"
    for r in recs:
        if r["status"] != "replaced":
            status = "python"
            reasons.append(f"{r['qualname']}: {r['reason']}")
        elif r["fallback_calls"] or r["failures"]:
            if status == "native":
                status = "partly python"
            why = "; ".join(f"{f['reason']} (line {f['line']}, {f['signature']})" for f in r["failures"])
            reasons.append(f"{r['qualname']}: {r['fallback_calls']} call(s) ran as Python: {why or '?'}")
    return status, reasons


def _load(path):
    import pickle
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # the harness's interpreter may lack numpy: fall back to fingerprints
        return None


def _array_diff(x, y):
    """Where two arrays differ (both NumPy arrays of the same shape), or None."""
    np = sys.modules.get("numpy")
    if np is None or not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        return None
    if x.shape != y.shape or x.dtype != y.dtype:
        return f"{x.dtype}{x.shape} vs {y.dtype}{y.shape}"
    xb = x.view(np.uint8).reshape(x.shape + (-1,)) if x.dtype.kind == "f" else x
    yb = y.view(np.uint8).reshape(y.shape + (-1,)) if y.dtype.kind == "f" else y
    bad = np.argwhere((xb != yb).reshape(x.shape + (-1,)).any(axis=-1)) if x.dtype.kind == "f" \
        else np.argwhere(x != y)
    if not len(bad):
        return "same values"
    i = tuple(int(k) for k in bad[0])
    text = f"{len(bad)} of {x.size} elements differ, first at {list(i)}: {x[i]!r} vs {y[i]!r}"
    if x.dtype.kind == "f":
        with np.errstate(all="ignore"):
            text += f"; max |difference| {float(np.nanmax(np.abs(x - y))):.3g}"
    return text


def describe_diff(m, ref, limit=160):
    """What differs between two results: the differing elements of tuples, else both values;
    arrays as how many elements differ and the first one (when both results were saved)."""
    xs, ys = (_load(m["saved"]), _load(ref["saved"])) if m.get("saved") and ref.get("saved") \
        else (None, None)
    if xs is not None and ys is not None:
        pairs = list(zip(xs, ys)) if isinstance(xs, tuple) and isinstance(ys, tuple) \
            and len(xs) == len(ys) else [(xs, ys)]
        out = []
        for i, (x, y) in enumerate(pairs):
            d = _array_diff(x, y)
            if d is None and repr(x) != repr(y):
                d = f"{repr(x)[:limit]} vs {repr(y)[:limit]}"
            if d and d != "same values":
                out.append((f"element {i}: " if len(pairs) > 1 else "") + d)
        if out:
            return "; ".join(out)
    a, b = m.get("parts"), ref.get("parts")
    if a and b and len(a) == len(b):
        diffs = [f"element {i}: {x[:limit]} vs {y[:limit]}" for i, (x, y) in enumerate(zip(a, b))
                 if x != y]
        return "; ".join(diffs)
    return f"{m['fingerprint'][:limit]} vs {ref['fingerprint'][:limit]}"


def analyse(results):
    problems = []      # loud: Heron gives another result, or a measurement failed
    notes = []         # Numba's own differences and failures
    for res in results:
        name = res["name"]
        c, h, n = res.get("cpython"), res.get("heron"), res.get("numba")
        for mode, m in (("cpython", c), ("heron", h)):
            if m is not None and not ok(m):
                problems.append(f"{name}: the {mode} run failed: {m.get('error')}")
        if ok(h):
            res["heron_status"], res["heron_reasons"] = heron_status(h)
        else:
            res["heron_status"], res["heron_reasons"] = "error", []
        check = []
        if ok(c) and ok(h):
            if h["fingerprint"] != c["fingerprint"]:
                kind = "type only" if h["value_fingerprint"] == c["value_fingerprint"] else "value"
                check.append(f"**HERON MISMATCH ({kind})**")
                problems.append(f"{name}: Heron's result differs from CPython's ({kind}), Heron vs "
                                f"CPython: {describe_diff(h, c, 300)}")
            if h["last_fingerprint"] != h["fingerprint"]:
                check.append("**HERON NOT REPEATABLE**")
                problems.append(f"{name}: Heron's result changed between calls: "
                                f"{h['fingerprint'][:120]} then {h['last_fingerprint'][:120]}")
        if n is not None:
            if not ok(n):
                res["numba_error"] = n.get("error")
                notes.append(f"{name}: Numba could not compile it: {n.get('error')}")
            elif ok(c) and n["fingerprint"] != c["fingerprint"]:
                if n["value_fingerprint"] == c["value_fingerprint"]:
                    check.append("Numba: same value, other type")
                    notes.append(f"{name}: Numba returns the same values with other types, Numba "
                                 f"vs CPython: {describe_diff(n, c)}")
                else:
                    check.append("**NUMBA MISMATCH**")
                    notes.append(f"{name}: Numba's result differs from CPython's, Numba vs CPython: "
                                 f"{describe_diff(n, c)}" + NUMBA_WHY.get(name, ""))
        for mode, s in res.get("script", {}).items():
            worker = res.get(mode)
            if s["wall_s"] is None:
                (problems if mode != "numba" else notes).append(
                    f"{name}: `python kernels/{name}.py` ({mode}) failed: {s['printed']}")
            elif ok(worker) and s["printed"] != worker["fingerprint"]:
                check.append(f"**{mode} script differs**")
                (problems if mode == "heron" else notes).append(
                    f"{name}: the whole program under {mode} printed {s['printed'][:120]}, "
                    f"the measured run returned {worker['fingerprint'][:120]}")
        rep = res.get("script_report")
        if isinstance(rep, dict):
            problems.append(f"{name}: `python kernels/{name}.py`: {rep['error']}")
        elif rep is not None and res["heron_status"] == "native":
            for rec in rep:
                if rec.get("status") != "replaced" or rec.get("fallback_calls"):
                    check.append("**__main__ not native**")
                    problems.append(f"{name}: as the script itself (`python kernels/{name}.py`, the "
                                    f"__main__ path) Heron ran {rec.get('qualname')} as Python: "
                                    f"{rec.get('reason') or rec.get('failures')}")
        if not check and ok(c) and ok(h):
            check.append("identical" if n is None or ok(n) else "identical (Heron, CPython)")
        res["check"] = ", ".join(check) or "—"
        res["r_cpy"] = h["steady_s"] / c["steady_s"] if ok(c) and ok(h) else None
        res["r_numba"] = h["steady_s"] / n["steady_s"] if ok(h) and ok(n) else None
        sc = res.get("script", {})
        hw = sc.get("heron", {}).get("wall_s")
        nw = sc.get("numba", {}).get("wall_s")
        res["r_wall"] = hw / nw if hw and nw else None
    return problems, notes


def compile_rows(results):
    rows = []
    for res in results:
        h = res.get("heron")
        if not ok(h):
            continue
        first_minus = h["first_s"] - h["steady_s"]
        for r in h.get("heron") or []:
            rows.append((res["name"], r, first_minus))
    return rows


# ----------------------------------------------------------------------------- report

def table(headers, rows, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    return "\n".join(lines)


def targets(results, callcost, startup, compile_list):
    rows = []
    h = callcost.get("heron", {})
    if "ns" in h:
        net = h["ns"]["add1"] - h["ns"]["empty"]
        rows.append(("call overhead ≤ 60 ns", f"{net:.0f} ns (add1(int), loop cost subtracted)",
                     "met" if net <= 60 else "**not met**"))
    else:
        rows.append(("call overhead ≤ 60 ns", "not measured", "**not met**"))
    times = [r["compile_time_s"] for _, r, _ in compile_list if r["status"] == "replaced" and r["signatures"]]
    if times:
        med = statistics.median(times)
        rows.append(("median compile ≤ 5 ms", f"{med * 1e3:.2f} ms over {len(times)} functions "
                     f"(max {max(times) * 1e3:.1f} ms)", "met" if med <= 5e-3 else "**not met**"))
    if startup:
        pth = startup["paired_ms"]["pth"]
        rows.append((".pth start-up ≤ 1 ms", f"{pth:.2f} ms (site with vs without {PTH_NAME})",
                     "met" if pth <= 1 else "**not met**"))
    # A kernel where Numba computes another result (†) is not the same work: listed apart.
    differs = [r["name"] for r in results if r.get("r_numba") is not None and "NUMBA MISMATCH" in r["check"]]
    rn = [(r["name"], r["r_numba"]) for r in results
          if r.get("r_numba") is not None and r["name"] not in differs]
    if rn:
        worst = max(rn, key=lambda x: x[1])
        slow = [f"{k} {v:.2f}x" for k, v in rn if v > 1.1]
        apart = f"; not comparable (Numba's result differs): {', '.join(differs)}" if differs else ""
        rows.append(("no kernel slower than 1.1x Numba",
                     f"worst {worst[0]} {worst[1]:.2f}x; over 1.1x: {', '.join(slow) or 'none'}{apart}",
                     "met" if not slow else f"**not met** ({len(slow)} of {len(rn)})"))
    else:
        rows.append(("no kernel slower than 1.1x Numba", "Numba not available", "not measured"))
    rw = [(r["name"], r["r_wall"]) for r in results if r.get("r_wall") is not None]
    if rw:
        over = [f"{k} {v:.2f}" for k, v in rw if v > 0.5]
        rows.append(("whole-script wall ≤ ½ Numba's",
                     f"worst {max(rw, key=lambda x: x[1])[0]} {max(v for _, v in rw):.2f}; "
                     f"over 0.5: {', '.join(over) or 'none'}",
                     "met" if not over else f"**not met** ({len(over)} of {len(rw)})"))
    return rows


def render(cfg, meta, results, callcost, startup, problems, notes):
    out = []
    out.append("# Heron benchmarks")
    out.append("")
    command = "python benches/run.py" + (" --quick" if cfg.quick else "") + (
        f" --kernels {cfg.kernels}" if cfg.kernels else "")
    out.append(f"Measured {meta['date']} with `{command}` on {meta['cpu']} "
               f"({os.cpu_count()} cores, a shared and noisy machine). Python {meta['python']}, "
               f"NumPy {meta['numpy']}, Numba {meta['numba'] or 'not installed'}; Heron's native "
               f"extension installed {meta['built']}, work tree at commit "
               f"{meta['git']}. {'Quick run: small problem sizes. ' if cfg.quick else ''}"
               f"Load average (1 min) {meta['load_start']} at the start, {meta['load_end']} at the end. "
               f"Every number comes from fresh processes ({cfg.rounds} per kernel and mode, "
               "alternating, best kept); ratios compare runs of this invocation.")
    out.append("")
    out.append("## Kernels")
    out.append("")
    out.append("Steady = best of N calls after a warm-up call (N ≤ "
               f"{cfg.max_reps}, within {cfg.budget:g} s). Ratios are times (Heron/CPython 0.01 = 100x "
               "faster; Heron/Numba above 1 = slower than Numba). Result: `repr` of scalars and "
               "dtype/shape/SHA-256 of arrays, Heron and Numba against CPython. † = Numba computes "
               "another result there, so its time is not for the same work.")
    out.append("")
    rows = []
    for r in results:
        c, h, n = r.get("cpython"), r.get("heron"), r.get("numba")
        status = r["heron_status"]
        if n is None:
            ntime = "not installed"
        elif ok(n):
            ntime = fmt_time(n["steady_s"])
        else:
            ntime = "fails to compile"
        rows.append((r["name"], status if status == "native" else f"**{status}**",
                     fmt_time(c["steady_s"]) if ok(c) else "error",
                     fmt_time(h["steady_s"]) if ok(h) else "error", ntime,
                     fmt_ratio(r["r_cpy"]),
                     fmt_ratio(r["r_numba"]) + (" †" if "NUMBA MISMATCH" in r["check"] else ""),
                     r["check"]))
    out.append(table(["Kernel", "Heron", "CPython steady", "Heron steady", "Numba steady",
                      "Heron/CPython", "Heron/Numba", "Result"], rows,
                     ["l", "l", "r", "r", "r", "r", "r", "l"]))
    out.append("")
    out.append("## First call and whole program")
    out.append("")
    out.append("First call: the first `run(args)` in a fresh process (compilation included). Whole "
               f"program: wall time of `python kernels/NAME.py` (best of {cfg.script_reps}; for Numba "
               "the same program with the marked functions wrapped by `numba.njit`, `import numba` "
               "included).")
    out.append("")
    rows = []
    for r in results:
        c, h, n = r.get("cpython"), r.get("heron"), r.get("numba")
        sc = r.get("script", {})
        rows.append((r["name"], fmt_time(c.get("first_s")) if ok(c) else "—",
                     fmt_time(h.get("first_s")) if ok(h) else "—",
                     fmt_time(n.get("first_s")) if ok(n) else "—",
                     fmt_time(sc.get("cpython", {}).get("wall_s")),
                     fmt_time(sc.get("heron", {}).get("wall_s")),
                     fmt_time(sc.get("numba", {}).get("wall_s")),
                     fmt_ratio(r["r_wall"])))
    out.append(table(["Kernel", "CPython first", "Heron first", "Numba first", "CPython program",
                      "Heron program", "Numba program", "Heron/Numba program"], rows))
    out.append("")
    out.append("## Compile time per function")
    out.append("")
    out.append("`stats()` = the dispatcher's `compile_time_s` (all specializations; a callee "
               "compiled for its caller counts on its own line). First − steady = the kernel's "
               "first call minus its steady call (everything the first call pays once); Numba's "
               "alongside.")
    out.append("")
    rows = []
    clist = compile_rows(results)
    seen = set()
    for name, rec, fm in clist:
        res = next(x for x in results if x["name"] == name)
        n = res.get("numba")
        nfm = (n["first_s"] - n["steady_s"]) if ok(n) else None
        first_line = name not in seen
        seen.add(name)
        rows.append((name if first_line else "", rec["qualname"],
                     rec["status"] if rec["status"] == "replaced" else f"**{rec['status']}**",
                     ", ".join(rec["signatures"]) or "—",
                     f"{rec['compile_time_s'] * 1e3:.2f} ms",
                     fmt_time(fm) if first_line else "", fmt_time(nfm) if first_line else ""))
    out.append(table(["Kernel", "Function", "Status", "Signatures", "stats()", "Heron first − steady",
                      "Numba first − steady"], rows, ["l", "l", "l", "l", "r", "r", "r"]))
    out.append("")
    out.append("## Call overhead")
    out.append("")
    h, nb = callcost.get("heron", {}), callcost.get("numba", {})
    if "ns" in h:
        e = h["ns"]["empty"]
        out.append(f"A loop `for i in range({h['n']:,}): f(x)` in interpreted code, best of several "
                   f"loops, in ns per iteration; \"net\" subtracts the empty loop ({e:.1f} ns).")
        out.append("")
        rows = []
        for key, label in (("add1", "`add1(x)`: `return x + 1`, x an int"),
                           ("first", "`first(a)`: `return a[0]`, a float64 1-D array")):
            row = [label, f"{h['ns'][key]:.0f}", f"{h['ns'][key] - e:.0f}",
                   f"{h['ns'][key + '_py']:.0f}", f"{h['ns'][key + '_py'] - e:.0f}"]
            if "ns" in nb:
                ne = nb["ns"]["empty"]
                row += [f"{nb['ns'][key]:.0f}", f"{nb['ns'][key] - ne:.0f}"]
            else:
                row += ["—", "—"]
            rows.append(row)
        out.append(table(["Function", "Heron", "Heron net", "Plain Python", "Python net", "Numba",
                          "Numba net"], rows))
    else:
        out.append(f"Not measured: {h.get('error')}")
    out.append("")
    out.append("## Start-up cost of the installed .pth")
    out.append("")
    if startup:
        m, p = startup["median_ms"], startup["paired_ms"]
        out.append(f"Median of {startup['reps']} interleaved runs of each (ms, including process "
                   "spawn). Nothing is marked, so this is what every Python start pays.")
        out.append("")
        out.append(table(["Command", "Median"], [
            ("`python -c pass`", f"{m['pass']:.2f} ms"),
            ("`HERON_DISABLE=1 python -c pass`", f"{m['pass_disabled']:.2f} ms"),
            ("`python -S -c pass` (no site at all)", f"{m['pass_no_site']:.2f} ms"),
            ("`python -S -c 'site.main()'` with every .pth", f"{m['site_with_pth']:.2f} ms"),
            (f"`python -S -c 'site.main()'` skipping {PTH_NAME}", f"{m['site_without_pth']:.2f} ms"),
        ], ["l", "r"]))
        out.append("")
        out.append(table(["Difference (median of paired runs)", "ms"], [
            (f"**.pth cost**: site with − without {PTH_NAME}", f"**{p['pth']:.2f}**"),
            ("`python -c pass` − `HERON_DISABLE=1 python -c pass`", f"{p['vs_disabled']:.2f}"),
            ("`python -c pass` − `python -S -c pass` (all of site, not only Heron)",
             f"{p['vs_no_site']:.2f}"),
            ("Heron's modules in `-X importtime` (cumulative, median)",
             f"{startup['heron_import_us'] / 1e3:.2f}"),
        ], ["l", "r"]))
    out.append("")
    out.append("## Issue 4 targets")
    out.append("")
    out.append(table(["Target", "Measured", "Status"], targets(results, callcost, startup, clist),
                     ["l", "l", "l"]))
    out.append("")
    out.append("## Heron fallbacks, differences and failures")
    out.append("")
    lines = []
    for r in results:
        if r["heron_status"] not in ("native", "error"):
            for why in r["heron_reasons"]:
                lines.append(f"- {r['name']}: Heron ran it as Python: {why}")
    for pr in problems:
        lines.append(f"- **FAILURE** {pr}")
    out.extend(lines or ["- none: every kernel compiled and gave CPython's exact result."])
    out.append("")
    if notes:
        out.append("Numba (for information; not Heron's problems):")
        out.append("")
        out.extend(f"- {nt}" for nt in notes)
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------- main

def loadavg():
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def metadata(cfg):
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    meta["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "python"],
                               capture_output=True, text=True).stdout.strip()
        meta["git"] = f"`{sha}`" + (" (with uncommitted changes in src/ or python/)" if dirty else "")
    except OSError:
        meta["git"] = "?"
    info, err = probe(cfg.python, "import os, sys, time, numpy, heron, heron._native as n; "
                      "print(sys.version.split()[0], numpy.__version__, time.strftime("
                      "'%Y-%m-%dT%H:%M', time.localtime(os.path.getmtime(n.__file__))))",
                      env_for("heron", False))
    if err:
        sys.exit(f"run.py: Heron is not importable in {cfg.python}: {err}\n"
                 "build and install the wheel first (see benches/README.md)")
    meta["python"], meta["numpy"], meta["built"] = info.split()
    meta["numba"] = "not used (--no-numba)" if cfg.no_numba else None
    if cfg.numba_python:
        v, err = probe(cfg.numba_python, "import numba; print(numba.__version__)", env_for("numba", False))
        if err:
            print(f"run.py: numba is not importable in {cfg.numba_python} ({err}); Numba columns "
                  "left empty", file=sys.stderr)
            cfg.numba_python = None
        else:
            meta["numba"] = v
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and few repetitions (CI)")
    p.add_argument("--kernels", default="", help="comma-separated kernel names (default: all)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "RESULTS.md"),
                   help="Markdown file to write (default: benches/results/RESULTS.md)")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter with Heron installed, for the CPython and Heron runs")
    p.add_argument("--numba-python", default=None,
                   help="interpreter with numba installed (default: --python)")
    p.add_argument("--no-numba", action="store_true", help="skip the Numba runs")
    p.add_argument("--json", default=None, help="also write the raw measurements to this file")
    p.add_argument("--rounds", type=int, default=0,
                   help="fresh processes per kernel and mode, best kept (default: 2, --quick: 1)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per process")
    cfg = p.parse_args(argv)
    cfg.python = os.path.abspath(cfg.python) if os.sep in cfg.python else cfg.python
    cfg.numba_python = None if cfg.no_numba else (cfg.numba_python or cfg.python)
    if cfg.quick:
        cfg.min_reps, cfg.max_reps, cfg.budget, cfg.script_reps, cfg.startup_reps = 3, 10, 0.3, 1, 40
        cfg.rounds = cfg.rounds or 1
    else:
        cfg.min_reps, cfg.max_reps, cfg.budget, cfg.script_reps, cfg.startup_reps = 3, 20, 1.5, 5, 200
        cfg.rounds = cfg.rounds or 2
    names = discover()
    if cfg.kernels:
        wanted = [k.strip() for k in cfg.kernels.split(",") if k.strip()]
        unknown = [k for k in wanted if k not in names]
        if unknown:
            p.error(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = wanted

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    import tempfile
    tmp = tempfile.TemporaryDirectory(prefix="heron-bench-")
    cfg.tmp = tmp.name
    try:
        import numpy  # noqa: F401 - only to describe differing arrays, when available
    except ImportError:
        pass
    meta = metadata(cfg)
    meta["load_start"] = loadavg()
    log(f"run.py: {len(names)} kernels, python {cfg.python}, numba {cfg.numba_python or 'off'}")
    results = [measure_kernel(n, cfg, log) for n in names]
    callcost = measure_callcost(cfg, log)
    startup = measure_startup(cfg, log)
    meta["load_end"] = loadavg()
    problems, notes = analyse(results)
    for mode, m in callcost.items():
        if "error" in m:
            problems.append(f"call overhead ({mode}) failed: {m['error']}")
    text = render(cfg, meta, results, callcost, startup, problems, notes)
    text += f"\nThe whole run took {time.perf_counter() - t0:.0f} s.\n"
    os.makedirs(os.path.dirname(os.path.abspath(cfg.out)), exist_ok=True)
    with open(cfg.out, "w", encoding="utf-8") as f:
        f.write(text)
    if cfg.json:
        with open(cfg.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "kernels": results, "callcost": callcost, "startup": startup},
                      f, indent=1)
    print(text)
    log(f"run.py: wrote {cfg.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
