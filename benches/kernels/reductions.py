"""Reductions over 1-D float64 arrays: a sum of squares and a dot product."""
import numpy as np


# heron: jit
def sum_of_squares(a):
    total = 0.0
    for i in range(len(a)):
        total += a[i] * a[i]
    return total


# heron: jit
def dot(a, b):
    n = a.shape[0]
    acc = 0.0
    for i in range(n):
        acc += a[i] * b[i]
    return acc


def setup(quick=False):
    n = 30_000 if quick else 400_000
    rng = np.random.default_rng(4)
    return rng.standard_normal(n), rng.standard_normal(n)


def run(args):
    a, b = args
    return sum_of_squares(a), dot(a, b)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
