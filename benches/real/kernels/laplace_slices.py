"""Laplace equation by slice-assignment array expressions (numba-benchmark bench_laplace.py, from numpy-vbench)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_laplace.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["laplace"],
    "globals": ["dx", "dy", "dx2", "dy2"],
    "imports": ["import numpy as np"],
}


def make_inputs():
    return 20, 20


def run(N, Niter):
    return laplace(N, Niter)


def edge():
    return laplace(2, 3), laplace(3, 0), laplace(1, 1)
