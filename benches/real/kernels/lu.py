"""LU factorisation in place with @ on slices (npbench polybench/lu)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/lu/lu_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
}

import numpy as np


def make_inputs():
    N = 30
    A = np.tril((-np.arange(N)[None, :] % N) / N + 1.0 + np.zeros((N, 1)))
    np.fill_diagonal(A, 1.0)
    return (A @ A.T,)


def run(A):
    kernel(A)
