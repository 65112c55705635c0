"""Cholesky factorisation in place with np.dot on row slices (npbench polybench/cholesky)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/cholesky/cholesky_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
    "imports": ["import numpy as np"],
}

import numpy as np


def _spd(N):
    A = np.tril((-np.arange(N)[None, :] % N) / N + 1.0 + np.zeros((N, 1)))
    np.fill_diagonal(A, 1.0)
    return A @ A.T


def make_inputs():
    return (_spd(30),)


def run(A):
    kernel(A)


def edge():
    A = np.array([[1.0, 2.0], [2.0, 1.0]])          # not positive definite: sqrt of < 0
    kernel(A)
    B = np.array([[4.0]])
    kernel(B)
    return A, B
