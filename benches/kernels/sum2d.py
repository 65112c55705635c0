"""Example program sum2d.py: a nested-loop sum over a 2-D float64 array."""
import numpy as np


# heron: jit
def sum2d(arr):
    M, N = arr.shape
    result = 0.0
    for i in range(M):
        for j in range(N):
            result += arr[i, j]
    return result


def setup(quick=False):
    n = 300 if quick else 1000
    return (np.arange(n * n, dtype=np.float64).reshape(n, n) * 0.1,)


def run(args):
    return sum2d(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
