"""Parallel loops on 1 and 2 threads (issue 14): the steady time of each function of
``kernels/prange.py`` in fresh processes with ``HERON_NUM_THREADS=1`` and ``=2``, and the
speed-up. Run with the interpreter that has Heron installed:

    python benches/parallel_threads.py [--rounds 5]
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import prange as kernel
a, out, n = kernel.setup()

def best(call, rounds):
    call()  # compiles
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times)

rounds = int(sys.argv[2])
print(json.dumps({"smooth": best(lambda: kernel.smooth(a, out), rounds),
                  "rescale": best(lambda: kernel.rescale(out), rounds),
                  "halve": best(lambda: kernel.halve(out), rounds),
                  "collatz_steps": best(lambda: kernel.collatz_steps(n), rounds)}))
"""


def measure(threads, rounds, disable=False):
    env = dict(os.environ, HERON_NUM_THREADS=str(threads))
    if disable:
        env["HERON_DISABLE"] = "1"
    kernels = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels")
    out = subprocess.run([sys.executable, "-c", CHILD, kernels, str(rounds)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()
    one, two = measure(1, opts.rounds), measure(2, opts.rounds)
    plain = measure(1, 1, disable=True)
    print(f"{'function':16} {'CPython s':>10} {'1 thread s':>11} {'2 threads s':>12} {'2 vs 1':>7} {'2 vs CPython':>13}")
    for name in one:
        print(f"{name:16} {plain[name]:10.4f} {one[name]:11.4f} {two[name]:12.4f} {one[name] / two[name]:6.2f}x {plain[name] / two[name]:12.1f}x")


if __name__ == "__main__":
    main()
