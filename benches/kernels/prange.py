"""Parallel loops (issue 14): an elementwise kernel and an integer reduction written with
``prange`` in ``# heron: jit, parallel`` functions (Numba: ``parallel=True`` and its own
``prange``). ``benches/parallel_threads.py`` compares 1 and 2 threads."""
import math

import numpy as np

from heron import prange


# heron: jit, parallel
def smooth(a, out):
    for i in prange(a.shape[0]):
        x = a[i]
        out[i] = math.sqrt(x * x + 1.0) * math.sin(x) + math.cos(x) * math.exp(-x * x)
    return out


# heron: jit, parallel
def collatz_steps(n):
    total = 0
    for i in prange(1, n):
        k = i
        steps = 0
        while k != 1:
            if k % 2 == 0:
                k = k // 2
            else:
                k = 3 * k + 1
            steps += 1
        total += steps
    return total


def setup(quick=False):
    n = 50_000 if quick else 4_000_000
    a = np.linspace(-5.0, 5.0, n)
    return a, np.zeros(n), (20_000 if quick else 300_000)


def run(args):
    a, out, n = args
    return smooth(a, out), collatz_steps(n)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
