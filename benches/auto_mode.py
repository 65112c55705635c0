"""Profiling mode (``HERON_AUTO=1``, issue 13) against plain CPython: whole programs, unmarked.

Each scenario is a small unmarked program, run as ``python script.py`` in fresh processes with
``HERON_AUTO=1`` and with ``HERON_DISABLE=1``, interleaved; prints the best wall time and CPU
time (user + system of the process, the sampling thread included) of each, their ratio
(auto / plain), and the median ratio of the pairs. Both runs must print the same output (a
difference is an error).

* ``hot helper``: a numeric helper with an inner loop, called from a driver loop (the
  speed-up profiling mode is for);
* ``text``: text processing (tokenising, dicts of strings, formatting), nothing numeric:
  its functions get hot and are not compiled (the overhead);
* ``numeric lists``: numbers in lists and dicts, classes, not compilable (the overhead);
* ``cold``: many small functions called a few hundred times each, never hot (the cost of
  watching alone);
* ``one long call``: a numeric loop in a ``main()`` called once: found hot while it runs,
  and its loop switches to native code at a back-edge (on-stack replacement, ``heron._osr``);
* ``main with files``: the same in a ``main()`` that also writes a file (it cannot compile as a
  whole);
* ``module loop``: a hot loop at module level, switched the same way.

    python benches/auto_mode.py [--repeat 7] [--scenarios text,cold] [--instructions]
                                [--repo DIR] [PYTHON ...]

With ``--instructions``, the machine instructions of each whole run are counted by valgrind
(callgrind) instead, once per mode: exact and independent of the load of a shared machine,
but blind to the cost of switching threads, and on 3.10 and 3.11 an upper bound for the
sampling thread (under valgrind the program runs some 50 times slower, so the thread, which
wakes by the clock, takes some 50 times more samples of the same work).

Each PYTHON (default: this interpreter) gets a throw-away virtual environment with Heron's
start-up hook pointing at this checkout's ``python/`` (and the interpreter's own site-packages,
for NumPy). Timings are never asserted: this prints figures.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HOT_HELPER = '''
import math

def potential(x, y, n):
    s = 0.0
    for k in range(1, n):
        r = math.sqrt((x - k) * (x - k) + y * y + 1.0)
        s += 1.0 / r
    return s

def main():
    total = 0.0
    for i in range(40000):
        total += potential(i * 0.01, 0.5, 200)
    print(f"{total:.6f}")

main()
'''

TEXT = '''
import collections
import re

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
         "pi rho sigma tau upsilon phi chi psi omega").split()

def make_line(i):
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)].capitalize() for k in range(12))

def tokens(line):
    return [w.lower().strip(".,") for w in re.split(r"\\s+", line) if w]

def shout(word):
    return word.upper() + "!"

class Counter:
    def __init__(self):
        self.counts = collections.defaultdict(int)

    def add(self, word):
        self.counts[word] += 1

def main():
    c = Counter()
    longest = ""
    for i in range(40000):
        for w in tokens(make_line(i)):
            c.add(w)
            if len(w) > len(longest):
                longest = w
    top = sorted(c.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    print(top, shout(longest), sum(c.counts.values()))

main()
'''

NUMERIC_LISTS = '''
def matmul(a, b):
    n, m, p = len(a), len(b), len(b[0])
    return [[sum(a[i][k] * b[k][j] for k in range(m)) for j in range(p)] for i in range(n)]

def histogram(values, bins):
    h = {}
    for v in values:
        key = int(v * bins)
        h[key] = h.get(key, 0) + 1
    return h

class Particle:
    def __init__(self, x, v):
        self.x, self.v = x, v

    def move(self, dt):
        self.x += self.v * dt
        if self.x > 1.0 or self.x < 0.0:
            self.v = -self.v

def main():
    a = [[(i * j) % 7 / 7.0 for j in range(60)] for i in range(60)]
    for _ in range(3):
        a = matmul(a, a)
        a = [[x / 60.0 for x in row] for row in a]
    ps = [Particle(i / 500.0, (i % 13) / 13.0 - 0.5) for i in range(500)]
    for _ in range(300):
        for p in ps:
            p.move(0.01)
    h = histogram([p.x for p in ps] * 50, 20)
    print(round(a[0][0], 9), sorted(h.items())[:3])

main()
'''


def _cold():
    defs = "\n".join(f"def f{i}(x):\n    return x * {i} + len(str(x))\n" for i in range(200))
    calls = "\n".join(f"    t += f{i}(k)" for i in range(200))
    return (defs + "\ndef main():\n    t = 0\n    for k in range(500):\n" +
            calls.replace("\n", "\n    ").replace("    t +=", "        t +=", 1)
            + "\n    print(t)\n\nmain()\n")


ONE_LONG_CALL = '''
def main():
    s = 0.0
    for i in range(3_000_000):
        s += (i % 7) * 0.5 - (i % 3)
    print(s)

main()
'''

MAIN_WITH_IO = '''
import math

def main(path):
    total = 0.0
    for i in range(1, 4_000_000):
        x = i * 1e-3
        total += math.sin(x) / x
    with open(path, "w") as out:
        out.write(f"{total:.12f}\\n")
    print(open(path).read().strip())

main("result.txt")
'''

MODULE_LOOP = '''
n = 4_000_000
acc = 0
s = 0.0
for k in range(n):
    acc += (k * k) % 7
    s += (k % 11) * 0.25
print(acc, s)
'''

SCENARIOS = {
    "hot helper": HOT_HELPER,
    "text": TEXT,
    "numeric lists": NUMERIC_LISTS,
    "cold": None,
    "one long call": ONE_LONG_CALL,
    "main with files": MAIN_WITH_IO,
    "module loop": MODULE_LOOP,
}


def make_env(python, dest, repo):
    """A virtual environment for ``python`` whose start-up runs Heron's hook from ``repo``, and
    that sees ``python``'s own site-packages (NumPy)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    exe = dest / "bin" / "python"
    purelib = subprocess.run(
        [str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    outer = subprocess.run(
        [python, "-c", "import site; print('\\n'.join(site.getsitepackages()))"],
        check=True, capture_output=True, text=True).stdout.split()
    hook = repo / "sitecustomize" / "purelib" / "heron_hook.pth"
    Path(purelib, "heron.pth").write_text(str(repo / "python") + "\n")
    Path(purelib, hook.name).write_text(hook.read_text())
    Path(purelib, "outer_site.pth").write_text("\n".join(outer) + "\n")
    return str(exe)


def run_once(exe, script, env):
    """``(wall seconds, CPU seconds, stdout)`` of one run of ``script``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([exe, str(script)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def instructions(exe, script, env):
    """Machine instructions of one run (valgrind's callgrind)."""
    import re
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          exe, str(script)], env={**env, "PYTHONHASHSEED": "0"},
                         capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def measure_instructions(exe, script, base):
    auto = instructions(exe, script, {**base, "HERON_AUTO": "1"})
    plain = instructions(exe, script, {**base, "HERON_DISABLE": "1"})
    return (f"auto {auto / 1e6:9.1f} M  plain {plain / 1e6:9.1f} M instructions  "
            f"ratio {auto / plain:.4f}")


def measure(exe, script, base, repeat):
    """Best and median-of-pairs figures of ``script`` with profiling mode and without Heron."""
    modes = (("auto", {"HERON_AUTO": "1"}), ("plain", {"HERON_DISABLE": "1"}))
    best = {m: [float("inf"), float("inf")] for m, _ in modes}
    pairs = []
    outputs = set()
    for _ in range(repeat):
        pair = {}
        for label, extra in modes:
            wall, cpu, stdout = run_once(exe, script, {**base, **extra})
            outputs.add(stdout)
            best[label][0] = min(best[label][0], wall)
            best[label][1] = min(best[label][1], cpu)
            pair[label] = wall
        pairs.append(pair["auto"] / pair["plain"])
    if len(outputs) != 1:
        raise RuntimeError(f"{script}: the output differs between the runs: {outputs}")
    a, p = best["auto"], best["plain"]
    return (f"auto {a[0] * 1e3:7.1f} ms (cpu {a[1] * 1e3:7.1f})  plain {p[0] * 1e3:7.1f} ms "
            f"(cpu {p[1] * 1e3:7.1f})  wall ratio {a[0] / p[0]:.3f}  cpu ratio "
            f"{a[1] / p[1]:.3f}  median pair ratio {statistics.median(pairs):.3f}")


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scenarios", default="",
                        help="comma-separated names (default: all): " + ", ".join(SCENARIOS))
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with valgrind instead of timing")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the checkout whose python/ to measure")
    parser.add_argument("pythons", nargs="*", default=[sys.executable])
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()] or list(SCENARIOS)
    # Byte-code caches are written (as in an installed Heron): PYTHONDONTWRITEBYTECODE would
    # have every run compile Heron's modules from source.
    base = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")
            and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, python in enumerate(args.pythons):
            exe = make_env(python, tmp / f"env{n}", args.repo.resolve())
            version = subprocess.run([exe, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True).stdout.strip()
            print(f"Python {version}", flush=True)
            for title in chosen:
                body = SCENARIOS[title] if SCENARIOS[title] is not None else _cold()
                script = tmp / f"{title.replace(' ', '_').replace(',', '')}.py"
                script.write_text(body)
                run_once(exe, script, base)          # writes the byte-code caches
                run_once(exe, script, {**base, "HERON_AUTO": "1"})   # and profiling mode's
                if args.instructions:
                    line = measure_instructions(exe, script, base)
                else:
                    line = measure(exe, script, base, args.repeat)
                print(f"  {title:25s} {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
