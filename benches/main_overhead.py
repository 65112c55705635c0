"""What watching ``__main__`` costs the script's own top-level code (issue 9, item 8).

Runs small scripts whose module-level loop sits before, between or after marked defs, or after
a marked def that never runs (inside an untaken ``if``), with Heron on and with
``HERON_DISABLE=1``, and prints the ratio of the loop's CPU time (best of N interleaved runs), and the same ratio
normalised by a reference loop inside a function timed in the same process (median of N), which
divides out the speed changes of a shared machine. Also times ``python -c pass`` both ways.

    python benches/main_overhead.py [--repeat 7] [PYTHON ...]

Each PYTHON (default: this interpreter) gets a throw-away virtual environment with Heron's
start-up hook pointing at this checkout (as the tests make it).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LOOP = """
t0 = time.process_time()
s = 0
for i in range(1_500_000):
    s += i * i % 7
loop_time += time.process_time() - t0
"""

# The same loop in a function, timed right after: the machine's speed in this very process
# (nothing Heron does touches it), to divide out the noise of a shared machine.
REFERENCE = """
def reference():
    t0 = time.process_time()
    s = 0
    for i in range(1_500_000):
        s += i * i % 7
    return time.process_time() - t0
print(loop_time, min(reference() for _ in range(2)))
"""

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


def make_env(python, dest):
    """A virtual environment for ``python`` whose start-up runs Heron's hook."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    exe = dest / "bin" / "python"
    purelib = subprocess.run(
        [str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    hook = REPO / "sitecustomize" / "purelib" / "heron_hook.pth"
    Path(purelib, "heron.pth").write_text(str(REPO / "python") + "\n")
    Path(purelib, hook.name).write_text(hook.read_text())
    return str(exe)


def loop_time(exe, script, env):
    """``(module-level loop time, reference loop time)`` of one run."""
    out = subprocess.run([exe, str(script)], env=env, capture_output=True, text=True,
                         check=True)
    loop, reference = map(float, out.stdout.split()[-2:])
    return loop, reference


def startup_time(exe, env, repeat):
    import time
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([exe, "-c", "pass"], env=env, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("pythons", nargs="*", default=[sys.executable])
    args = parser.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")
            and k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, python in enumerate(args.pythons):
            exe = make_env(python, tmp / f"env{n}")
            version = subprocess.run([exe, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True).stdout.strip()
            print(f"Python {version}")
            for title, body in SCENARIOS.items():
                script = tmp / "script.py"
                script.write_text("import sys, time\nloop_time = 0.0\n" + body + REFERENCE)
                times = {"heron": float("inf"), "plain": float("inf")}
                relative = {"heron": [], "plain": []}
                for _ in range(args.repeat):     # interleaved, best of N (CPU time)
                    for label, extra in (("heron", {}), ("plain", {"HERON_DISABLE": "1"})):
                        loop, reference = loop_time(exe, script, {**base, **extra})
                        times[label] = min(times[label], loop)
                        relative[label].append(loop / reference)
                median = {k: sorted(v)[len(v) // 2] for k, v in relative.items()}
                print(f"  {title:34s} heron {times['heron'] * 1e3:7.1f} ms  plain "
                      f"{times['plain'] * 1e3:7.1f} ms  ratio {times['heron'] / times['plain']:.3f}"
                      f"  normalised {median['heron'] / median['plain']:.3f}")
            on = startup_time(exe, base, args.repeat)
            off = startup_time(exe, {**base, "HERON_DISABLE": "1"}, args.repeat)
            print(f"  {'start-up, python -c pass':34s} heron {on * 1e3:7.1f} ms  plain "
                  f"{off * 1e3:7.1f} ms  difference {(on - off) * 1e3:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
