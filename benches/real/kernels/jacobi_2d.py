"""Jacobi 2-D stencil by slice assignment (npbench polybench/jacobi_2d)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/jacobi_2d/jacobi_2d_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
}

import numpy as np


def make_inputs():
    N = 20
    i, j = np.indices((N, N)).astype(np.float64)
    return 10, i * (j + 2) / N, i * (j + 3) / N


def run(TSTEPS, A, B):
    kernel(TSTEPS, A, B)


def edge():
    A, B = np.arange(16.0).reshape(4, 4), np.zeros((4, 4))
    kernel(3, A[:, ::-1], B)
    C, D = np.ones((2, 2)), np.ones((2, 2))
    kernel(4, C, D)
    return A, B, C, D
