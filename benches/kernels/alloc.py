"""Array allocation in a loop: ``np.empty`` inside a compiled function (NumPy makes the array
through a callback, so each allocation costs a GIL round trip; Numba allocates natively)."""
import numpy as np


# heron: jit
def alloc_loop(n, rounds):
    total = 0.0
    for r in range(rounds):
        a = np.empty(n)
        for j in range(n):
            a[j] = (j + r) * 0.5
        total += a[n - 1] - a[0]
    return total


def setup(quick=False):
    return (200, 100) if quick else (1000, 500)


def run(args):
    return alloc_loop(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
