"""Nussinov RNA folding, dynamic programming with max (npbench polybench/nussinov)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/nussinov/nussinov_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["match", "kernel"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    N = 40
    seq = ((np.arange(N) + 1) % 4).astype(np.int32)
    return N, seq, np.random.RandomState(0).randint(0, 4, size=N)


def run(N, seq, seq64):
    return kernel(N, seq), kernel(N, seq64)


def edge():
    return (kernel(1, np.array([2], dtype=np.int32)), kernel(0, np.zeros(0, dtype=np.int32)),
            kernel(5, np.array([1, 2, 1, 2, 1], dtype=np.int8)))
