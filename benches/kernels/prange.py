"""Parallel loops (issue 14): an elementwise kernel and an integer reduction written with
``prange`` in ``# heron: jit, parallel`` functions, and two loops that rewrite an array in place (Numba: ``parallel=True`` and its own
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
def rescale(b):
    # In place: each iteration reads and writes its own element only.
    for i in prange(b.shape[0]):
        b[i] = math.sqrt(b[i] * b[i] + 1.0) - 1.0


# heron: jit, parallel
def halve(b):
    # In place and memory-bound: the parallel run must not cost more than the serial one.
    for i in prange(b.shape[0]):
        b[i] = b[i] * 0.5


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
    r = smooth(a, out)
    rescale(out)
    halve(out)
    return r, collatz_steps(n)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
