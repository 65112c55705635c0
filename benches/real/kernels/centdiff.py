"""Centered differences in 1-D and 2-D on C, Fortran and strided arrays (numba-benchmark bench_centdiff.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_centdiff.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["centered_difference_range1d", "centered_difference_range2d"],
}

import numpy as np


def make_inputs():
    N = 30
    u1 = np.random.RandomState(0).rand(N * N)
    u2c = u1.reshape((N, N))
    u2f = u2c.T
    u2a = np.concatenate((u2c, u2c))[::2]
    return (u1, np.zeros_like(u1), u2c, np.zeros_like(u2c), u2f, np.zeros_like(u2f),
            u2a, np.zeros_like(u2a))


def run(u1, D1, u2c, D2c, u2f, D2f, u2a, D2a):
    centered_difference_range1d(u1, D1, 1.5)
    centered_difference_range2d(u2c, D2c, 1.5)
    centered_difference_range2d(u2f, D2f, 1.5)
    centered_difference_range2d(u2a, D2a)
