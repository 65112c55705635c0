"""What watching ``__main__`` costs the script's own top-level code (issue 9, item 8).

Runs small scripts whose module-level loop sits before, between or after marked defs, or after
a marked def that never runs (inside an untaken ``if``), with Heron on and with
``HERON_DISABLE=1``, and prints what the loop costs in both, and their ratio:

* by default, CPU time: best of N interleaved runs, and the ratio normalised by a reference
  loop inside a function timed in the same process (median of N), which divides out the
  speed changes of a shared machine;
* with ``--instructions``, machine instructions counted by valgrind (callgrind): each script
  runs with two loop lengths, and the difference is the loop's own cost, exactly, whatever
  else runs on the machine (start-up, imports and the hook's own work cancel out). Needs
  ``valgrind``; slow.

Also times ``python -c pass`` both ways.

    python benches/main_overhead.py [--repeat 7] [--instructions] [--repo DIR] [PYTHON ...]

Each PYTHON (default: this interpreter) gets a throw-away virtual environment with Heron's
start-up hook pointing at this checkout's ``python/`` (or ``DIR/python``, to measure another
checkout, as the tests make it).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LOOP = """
t0 = time.process_time()
s = 0
for i in range(N):
    s += i * i % 7
loop_time += time.process_time() - t0
"""

# The same loop in a function, timed right after: the machine's speed in this very process
# (nothing Heron does touches it), to divide out the noise of a shared machine.
REFERENCE = """
def reference():
    t0 = time.process_time()
    s = 0
    for i in range(N):
        s += i * i % 7
    return time.process_time() - t0
print(loop_time, min(reference() for _ in range(2)))
"""

HEAD = "import sys, time\nN = int(sys.argv[1])\nloop_time = 0.0\n"

MARKED = """
# heron: jit
def {name}(x):
    return x + 1
"""

SCENARIOS = {
    "loop before the marked def": LOOP + MARKED.format(name="f"),
    "loop between two marked defs": MARKED.format(name="f") + LOOP + MARKED.format(name="g"),
    "loop after the marked defs": MARKED.format(name="f") + MARKED.format(name="g") + LOOP,
    "marked def in an untaken if": "if len(sys.argv) > 5:" + textwrap.indent(
        MARKED.format(name="f"), "    ") + LOOP,
    "loop calling a marked function": MARKED.format(name="f") + LOOP.replace(
        "s += i * i % 7", "s += i * i % 7\n    if i == 0:\n        f(1)"),
}


def make_env(python, dest, repo):
    """A virtual environment for ``python`` whose start-up runs Heron's hook from ``repo``."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    exe = dest / "bin" / "python"
    purelib = subprocess.run(
        [str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    hook = repo / "sitecustomize" / "purelib" / "heron_hook.pth"
    Path(purelib, "heron.pth").write_text(str(repo / "python") + "\n")
    Path(purelib, hook.name).write_text(hook.read_text())
    return str(exe)


def run_times(exe, script, env, n):
    """``(module-level loop time, reference loop time)`` of one run."""
    out = subprocess.run([exe, str(script), str(n)], env=env, capture_output=True, text=True,
                         check=True)
    loop, reference = map(float, out.stdout.split()[-2:])
    return loop, reference


def instructions(exe, script, env, n):
    """Machine instructions of one run (valgrind's callgrind)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          exe, str(script), str(n)], env={**env, "PYTHONHASHSEED": "0"},
                         capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def startup_time(exe, env, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([exe, "-c", "pass"], env=env, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


MODES = (("heron", {}), ("plain", {"HERON_DISABLE": "1"}))


def measure_times(exe, script, base, repeat):
    times = {"heron": float("inf"), "plain": float("inf")}
    relative = {"heron": [], "plain": []}
    for _ in range(repeat):     # interleaved, best of N (CPU time)
        for label, extra in MODES:
            loop, reference = run_times(exe, script, {**base, **extra}, 1_500_000)
            times[label] = min(times[label], loop)
            relative[label].append(loop / reference)
    median = {k: statistics.median(v) for k, v in relative.items()}
    return (f"heron {times['heron'] * 1e3:7.1f} ms  plain {times['plain'] * 1e3:7.1f} ms  "
            f"ratio {times['heron'] / times['plain']:.3f}  "
            f"normalised {median['heron'] / median['plain']:.3f}")


def measure_instructions(exe, script, base, short=20_000, long=120_000):
    per = {}
    for label, extra in MODES:
        env = {**base, **extra}
        per[label] = (instructions(exe, script, env, long)
                      - instructions(exe, script, env, short)) / (long - short)
    return (f"heron {per['heron']:8.1f}  plain {per['plain']:8.1f} instructions an iteration  "
            f"ratio {per['heron'] / per['plain']:.4f}")


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with valgrind instead of timing")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the checkout whose python/ to measure")
    parser.add_argument("pythons", nargs="*", default=[sys.executable])
    args = parser.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")
            and k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, python in enumerate(args.pythons):
            exe = make_env(python, tmp / f"env{n}", args.repo.resolve())
            version = subprocess.run([exe, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True).stdout.strip()
            print(f"Python {version}", flush=True)
            for title, body in SCENARIOS.items():
                script = tmp / "script.py"
                script.write_text(HEAD + body + REFERENCE)
                if args.instructions:
                    line = measure_instructions(exe, script, base)
                else:
                    line = measure_times(exe, script, base, args.repeat)
                print(f"  {title:34s} {line}", flush=True)
            if not args.instructions:
                on = startup_time(exe, base, args.repeat)
                off = startup_time(exe, {**base, "HERON_DISABLE": "1"}, args.repeat)
                print(f"  {'start-up, python -c pass':34s} heron {on * 1e3:7.1f} ms  plain "
                      f"{off * 1e3:7.1f} ms  difference {(on - off) * 1e3:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
