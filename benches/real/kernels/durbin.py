"""Durbin's Toeplitz solver with np.dot and np.flip on slices (npbench polybench/durbin)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/durbin/durbin_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    N = 40
    return ((N + 1 - np.arange(N)).astype(np.float64),)


def run(r):
    return kernel(r)
