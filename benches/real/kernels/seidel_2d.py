"""Gauss-Seidel 2-D stencil, row slices plus a scalar loop (npbench polybench/seidel_2d)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/seidel_2d/seidel_2d_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
}

import numpy as np


def make_inputs():
    N = 20
    i, j = np.indices((N, N)).astype(np.float64)
    return 6, N, (i * (j + 2) + 2) / N


def run(TSTEPS, N, A):
    kernel(TSTEPS, N, A)


def edge():
    A = np.arange(9.0).reshape(3, 3)
    kernel(1, 3, A)           # no time step
    B = np.arange(4.0).reshape(2, 2)
    kernel(3, 2, B)           # no interior
    C = np.arange(16.0).reshape(4, 4)[:, ::-1]
    kernel(3, 4, C)           # a strided view
    return A, B, C
