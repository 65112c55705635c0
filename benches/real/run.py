"""Run the corpus of real kernels under Heron and under CPython, compare, and tabulate.

    python benches/real/run.py                     # every kernel, table on stdout
    python benches/real/run.py --kernels fib,fbcorr --jobs 1
    python benches/real/run.py --markdown out.md --json out.json

Each kernel file (``corpus/NAME.py``, written from its public source by ``_corpus.py``) runs
twice as ``python NAME.py`` in a fresh process: with Heron's start-up hook and
``HERON_REPORT=NAME.json``, and with ``HERON_DISABLE=1``. The two runs must print the same
stdout (the harness prints every result and every input array after the calls: dtype, shape,
strides and SHA-256 of the bytes), the same stderr (less Heron's "report written" line) and
exit the same way. From the report, each marked function of the kernel is

* ``native``: every call ran native code to the end (no fallback call, no deoptimization);
* ``python``: no call ran native code;
* ``partly``: some did, some did not;

and the kernel is ``native`` when all its called functions are, ``python`` when none ran native
code, ``partly`` otherwise. The reason shown is the first failure Heron reported (in source
order of the functions), or the deoptimizations. The exit status is 1 when a kernel's result
differs or it crashed.

``--python`` is the interpreter (default: this one); when it does not run Heron's start-up hook
(Heron reached through PYTHONPATH rather than installed), a throw-away virtual environment with
the hook is made for it, as the test suite does (tests/conftest.py).
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON_DIR = os.path.join(REPO, "python")
HOOK_PTH = os.path.join(REPO, "sitecustomize", "purelib", "heron_hook.pth")
sys.path.insert(0, HERE)

import _corpus  # noqa: E402

REPORT_LINE = "Heron report written to "
TIMEOUT = 300


# -- interpreters ------------------------------------------------------------------------------

def child_env(extra=None):
    """Our environment without HERON_* and PYTHONPATH, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERON_") and k != "PYTHONPATH"}
    env.update(extra or {})
    return env


def _hook_active(python):
    out = subprocess.run([python, "-c", "import sys; print('heron._boot' in sys.modules)"],
                         env=child_env(), capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


def hook_python(python):
    """An interpreter that runs Heron's start-up hook for this checkout: ``python`` itself
    when it does, else one of a virtual environment made for it (kept in the temp directory,
    made again when it no longer works)."""
    if _hook_active(python):
        return python
    key = hashlib.sha256(f"{python}\0{PYTHON_DIR}".encode()).hexdigest()[:12]
    dest = os.path.join(tempfile.gettempdir(), f"heron-real-env-{os.getuid()}-{key}")
    exe = os.path.join(dest, "bin", "python")
    if os.path.exists(exe) and _hook_active(exe):
        return exe
    subprocess.run([python, "-m", "venv", "--clear", "--without-pip", dest], check=True,
                   capture_output=True, timeout=120)
    purelib = subprocess.run(
        [exe, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    outer = subprocess.run([python, "-c", "import site, os; print('\\n'.join("
                            "p for p in site.getsitepackages() if os.path.isdir(p)))"],
                           check=True, capture_output=True, text=True, timeout=60).stdout
    with open(os.path.join(purelib, "heron.pth"), "w") as f:
        f.write(PYTHON_DIR + "\n")
    with open(HOOK_PTH) as src, open(os.path.join(purelib, os.path.basename(HOOK_PTH)),
                                     "w") as f:
        f.write(src.read())
    with open(os.path.join(purelib, "outer_site.pth"), "w") as f:
        f.write(outer)
    if not _hook_active(exe):
        raise RuntimeError(f"Heron's start-up hook does not run in {exe}")
    return exe


# -- one kernel --------------------------------------------------------------------------------

def run_mode(python, corpus_dir, name, env):
    """``(returncode, stdout, stderr, seconds)`` of ``python NAME.py`` in ``corpus_dir``."""
    start = time.perf_counter()
    try:
        out = subprocess.run([python, name + ".py"], cwd=corpus_dir, env=child_env(env),
                             capture_output=True, text=True, timeout=TIMEOUT)
        rc, stdout, stderr = out.returncode, out.stdout, out.stderr
    except subprocess.TimeoutExpired as e:
        rc, stdout, stderr = "timeout", e.stdout or "", e.stderr or ""
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        stderr = stderr.decode() if isinstance(stderr, bytes) else stderr
    return rc, stdout, stderr, time.perf_counter() - start


def without_report_line(stderr):
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith(REPORT_LINE))


def run_kernel(python, corpus_dir, name, work_dir, edge="separate"):
    """Run kernel ``name`` under Heron and under CPython; returns a dict with both runs, the
    report records of the kernel's functions, the comparison and the classification.

    ``edge`` says how a driver's ``edge()`` cases (see ``_harness``) run: ``"separate"``, in
    two more processes, so that they do not count for the classification; ``"inline"``, in
    the same processes, after the kernel's own calls (fewer processes: for tests, where the
    classification does not matter); ``None``: not at all. Their results must be the same.
    """
    report = os.path.join(work_dir, name + ".report.json")
    if os.path.exists(report):
        os.remove(report)
    extra = {"HERON_REAL_EDGE": "1"} if edge == "inline" else {}
    heron = run_mode(python, corpus_dir, name, dict(extra, HERON_REPORT=report))
    plain = run_mode(python, corpus_dir, name, dict(extra, HERON_DISABLE="1"))
    records = []
    if os.path.exists(report):
        with open(report) as f:
            path = os.path.realpath(os.path.join(corpus_dir, name + ".py"))
            records = [r for r in json.load(f) if os.path.realpath(r["file"]) == path]
    res = {"name": name, "heron": heron, "cpython": plain, "records": records}
    res.update(compare(heron, plain))
    res.update(classify(records))
    with open(os.path.join(corpus_dir, name + ".py"), encoding="utf-8") as f:
        has_edge = "\ndef edge(" in f.read()
    if edge == "separate" and has_edge:
        # the driver's edge cases: results only (the report of this run is not used)
        edge_env = {"HERON_REAL_EDGE": "1", "HERON_REAL_REPEAT": "1"}
        res["edge_heron"] = run_mode(python, corpus_dir, name, edge_env)
        res["edge_cpython"] = run_mode(python, corpus_dir, name,
                                       dict(edge_env, HERON_DISABLE="1"))
        edge_cmp = compare(res["edge_heron"], res["edge_cpython"])
        if not edge_cmp["same"] and res["same"]:
            res.update(verdict=edge_cmp["verdict"], same=False,
                       diff="(edge cases) " + edge_cmp["diff"])
    return res


def compare(heron, plain):
    """``{"same": bool, "verdict": text, "diff": text}`` for two ``run_mode`` results."""
    problems = []
    if plain[0] != 0:
        problems.append(f"CPython run failed (rc {plain[0]})")
    if heron[0] != plain[0]:
        problems.append(f"exit status {heron[0]} under Heron, {plain[0]} under CPython")
    if heron[1] != plain[1]:
        problems.append("stdout differs")
    if without_report_line(heron[2]) != plain[2]:
        problems.append("stderr differs")
    if not problems:
        return {"same": True, "verdict": "same", "diff": ""}
    crashed = heron[0] == "timeout" or (isinstance(heron[0], int) and heron[0] < 0)
    verdict = ("CRASH" if crashed else "CPYTHON-FAILS" if plain[0] != 0 else "DIFFERS")
    return {"same": False, "verdict": verdict, "diff": "; ".join(problems) + "\n"
            + first_difference(heron, plain)}


def first_difference(heron, plain, context=2):
    """The first differing lines of stdout (or stderr), for a reader."""
    for label, a, b in (("stdout", heron[1], plain[1]),
                        ("stderr", without_report_line(heron[2]), plain[2])):
        la, lb = a.splitlines(), b.splitlines()
        for i in range(max(len(la), len(lb))):
            x = la[i] if i < len(la) else "<missing>"
            y = lb[i] if i < len(lb) else "<missing>"
            if x != y:
                return (f"first {label} difference at line {i + 1}:\n"
                        f"  heron:   {x[:400]}\n  cpython: {y[:400]}\n")
    return ""


# -- classification ----------------------------------------------------------------------------

def function_status(rec):
    """``native``, ``python``, ``partly`` or ``unused`` for one report record."""
    ran_native = rec["native_calls"] > 0 or rec.get("called_from_native", 0) > 0
    if rec["calls"] == 0 and not ran_native:
        return "unused"
    if not ran_native:
        return "python"
    if rec["fallback_calls"] == 0 and rec.get("deopts", 0) == 0:
        return "native"
    return "partly"


def function_reason(rec):
    """Why ``rec``'s function did not always run native code (one line), or ''."""
    name = rec["qualname"]
    if rec["failures"]:
        f = rec["failures"][0]
        return f"{name}: {f['reason']} (line {f['line']})"
    if rec.get("deopts"):
        return (f"{name}: deoptimized to the interpreter in {rec['deopts']} of "
                f"{rec['calls']} call(s)")
    if rec.get("reason"):
        return f"{name}: {rec['reason']}"
    if rec["fallback_calls"]:
        return (f"{name}: {rec['fallback_calls']} call(s) ran as Python, and the report says "
                f"no reason")
    return ""


def classify(records):
    statuses = [(r, function_status(r)) for r in sorted(records, key=lambda r: r["line"])]
    used = [(r, s) for r, s in statuses if s != "unused"]
    kinds = {s for _, s in used}
    if not used:
        status = "no-calls" if records else "no-report"
    elif kinds == {"native"}:
        status = "native"
    elif kinds == {"python"}:
        status = "python"
    else:
        status = "partly"
    reasons = [function_reason(r) for r, s in used if s != "native"]
    reasons = [r for r in reasons if r]
    return {"status": status, "reason": reasons[0] if reasons else "",
            "reasons": reasons,
            "functions": {r["qualname"]: s for r, s in statuses}}


_CATEGORY_RULES = [
    # (pattern on the reason text, category): the first that matches names the category
    (r"default argument values", "default argument values (def f(x, poly=0x8408))"),
    (r"only `for name in ", "for loops over anything but range() or an array (zip(), "
                            "enumerate(), a.flat, np.ndenumerate(), np.ndindex(), np.nditer())"),
    (r"attribute `\.shape` of a \(", "for loops over a tuple (reported as `.shape` of a tuple)"),
    (r"comprehension", "list comprehensions"),
    (r"complex|dtype, byte order", "complex numbers (scalars, arrays) and other dtypes "
                                   "(structured)"),
    (r"None|`is not`", "None (returned, or compared with `is not`)"),
    (r"changes type|holds different types|returns either type|gives either type",
     "a variable or expression whose type depends on the path (0.0 then numpy.float64, "
     "float vs numpy.float32, bool vs numpy.bool)"),
    (r"the global `[^`]*` \(an? (int32|float32|int64|float64|ndarray|method|"
     r"builtin_function_or_method)\)",
     "module-level globals of NumPy types: scalars, arrays, functions imported by name"),
    (r"only calls to functions by name", "calls to functions of other modules "
                                         "(random.random, random.seed, random.randint, ...)"),
    (r"arguments of type (list|tuple|dict)|a list is not|range\(\) and prange\(\) can only",
     "lists and tuples (as arguments, or made in the function)"),
    (r"arguments of type Dispatcher", "functions passed as arguments"),
    (r"MatMult", "the @ operator"),
    (r"is not supported in compiled code yet|attribute `\.(T|flat)`",
     "NumPy functions, methods and attributes not supported yet (np.flip, np.random.ranf, "
     ".reshape, .T, .flat)"),
    (r"array indices must be integers", "indexing with a bool mask or a uint64"),
    (r"storing a numpy.float64 into a uint8", "storing floats into integer arrays"),
    (r"deoptimized", "deoptimized at run time"),
    (r"the report says no reason", "calls run as Python without a reason in the report (the "
                                   "calls pass keyword arguments)"),
    (r"the dtype must be a NumPy type", "dtype=x.dtype"),
]


def category(reason):
    """A short category of a reason, for ranking: a rule of ``_CATEGORY_RULES``, or the
    reason without the function's name, line and a callee's "cannot be compiled" prefix."""
    text = reason.split(": ", 1)[-1]
    text = re.sub(r" \(line \d+\)$", "", text)
    text = re.sub(r"^`[^`]*` cannot be compiled for \(.*?\): ", "", text)
    for pattern, name in _CATEGORY_RULES:
        if re.search(pattern, text):
            return name
    return text


# -- the table ---------------------------------------------------------------------------------

def table(results, markdown=False):
    rows = []
    for r in results:
        same = "yes" if r["same"] else r["verdict"]
        reason = r["reason"] if r["status"] != "native" else ""
        rows.append((r["name"], r["status"], same, reason))
    if markdown:
        out = ["| kernel | Heron | same as CPython | first reason Heron gave |",
               "| --- | --- | --- | --- |"]
        for name, status, same, reason in rows:
            reason = reason.replace("|", "\\|")
            out.append(f"| {name} | {status} | {same} | {reason} |")
        return "\n".join(out) + "\n"
    w = max(len(r[0]) for r in rows)
    out = [f"{'kernel':<{w}}  {'heron':<7} {'result':<8} first reason"]
    for name, status, same, reason in rows:
        out.append(f"{name:<{w}}  {status:<7} {same:<8} {reason}")
    return "\n".join(out) + "\n"


def summary(results):
    n = len(results)
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    bad = [r for r in results if not r["same"]]
    parts = [f"{counts.get(k, 0)} {k}" for k in ("native", "partly", "python")]
    parts += [f"{v} {k}" for k, v in counts.items() if k not in ("native", "partly", "python")]
    text = (f"{n} kernels: " + ", ".join(parts) + f"; {n - len(bad)} of {n} give CPython's "
            f"results exactly" + (f", {len(bad)} do not: "
                                  + ", ".join(f"{r['name']} ({r['verdict']})" for r in bad)
                                  if bad else "") + ".\n")
    return text


def ranking(results):
    """``[(category, kernels)]``: for the kernels not fully native, how many each category of
    first reason (per function) blocks, most first."""
    blocked = {}
    for r in results:
        if r["status"] == "native":
            continue
        for cat in {category(x) for x in r["reasons"]}:
            blocked.setdefault(cat, set()).add(r["name"])
    return sorted(((c, sorted(k)) for c, k in blocked.items()), key=lambda x: (-len(x[1]), x[0]))


def markdown(results):
    """The table, the summary and the ranking of reasons, in Markdown."""
    out = table(results, markdown=True) + "\n" + summary(results) + "\n"
    out += "| reason (category) | kernels blocked | which |\n| --- | --- | --- |\n"
    for cat, kernels in ranking(results):
        out += f"| {cat.replace('|', '/')} | {len(kernels)} | {', '.join(kernels)} |\n"
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--kernels", help="comma-separated names (default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="kernels run at once (default 2)")
    ap.add_argument("--corpus-dir", default=_corpus.DEFAULT_OUT)
    ap.add_argument("--markdown", help="also write the table and summary here (Markdown)")
    ap.add_argument("--json", help="write every run's details here")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each difference")
    args = ap.parse_args(argv)

    only = args.kernels.split(",") if args.kernels else None
    written, missing = _corpus.materialize(args.corpus_dir, only)
    for name, why in missing.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    if not written:
        print("no kernel could be written (sources missing)", file=sys.stderr)
        return 2
    python = hook_python(args.python)
    work = tempfile.mkdtemp(prefix="heron-real-")
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda n: run_kernel(python, args.corpus_dir, n, work),
                                written))
    elapsed = time.perf_counter() - start

    print(table(results))
    print(summary(results))
    print("Reasons for not compiling natively, by the number of kernels each blocks:")
    for cat, kernels in ranking(results):
        print(f"  {len(kernels):3d}  {cat}  ({', '.join(kernels)})")
    bad = [r for r in results if not r["same"]]
    for r in bad:
        print(f"\n{r['name']}: {r['verdict']}: {r['diff']}")
        if args.verbose:
            print("--- heron stderr:\n" + r["heron"][2][-3000:])
    print(f"\n({len(results)} kernels in {elapsed:.1f} s)")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
