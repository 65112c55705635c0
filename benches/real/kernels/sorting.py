"""Array sort, argsort and median through NumPy methods (numba-benchmark bench_sorting.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_sorting.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["real_sort", "argsort", "median"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    n = 1000
    rnd = np.random.RandomState(42).uniform(1.0, 100.0, n).astype(np.float32)
    tri = np.concatenate([np.linspace(1.0, 100.0, n // 4, dtype=np.float32),
                          np.linspace(100.0, 1.0, 3 * n // 4, dtype=np.float32)])
    withnan = rnd.astype(np.float64)
    withnan[::7] = np.nan
    return rnd, tri, np.floor(rnd), withnan, np.random.RandomState(1).randint(-50, 50, 300)


def run(rnd, tri, dup, withnan, ints):
    a, b, c, d, e = rnd.copy(), tri.copy(), dup.copy(), withnan.copy(), ints.copy()
    for x in (a, b, c, d, e):
        real_sort(x)
    return (a, b, c, d, e, argsort(rnd), argsort(dup), argsort(ints), median(rnd),
            median(rnd[:-1]), median(dup), median(ints), median(withnan))


def edge():
    empty = np.zeros(0)
    real_sort(empty)
    b = np.array([True, False, True])
    real_sort(b)
    return empty, b, argsort(empty), median(empty), median(np.array([np.inf, -np.inf]))
