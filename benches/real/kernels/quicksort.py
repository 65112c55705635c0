"""Recursive quicksort in place (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["qsort_kernel"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    return rng.random_sample(500), rng.randint(0, 20, size=300)


def run(a, ints):
    qsort_kernel(ints, 0, len(ints) - 1)
    return qsort_kernel(a, 0, len(a) - 1)


def edge():
    nan = np.array([3.0, np.nan, 1.0, np.nan, 2.0, -0.0, 0.0])
    return (qsort_kernel(np.zeros(0), 0, -1), qsort_kernel(nan, 0, len(nan) - 1),
            qsort_kernel(np.array([5, -3, 7, 1, 0, -128, 127], dtype=np.int8), 0, 6),
            qsort_kernel(np.array([True, False, True, False]), 0, 3))
