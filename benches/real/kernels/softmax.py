"""Softmax over the last axis of a 4-D float32 array (npbench deep_learning/softmax)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/deep_learning/softmax/softmax_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["softmax"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(42).random_sample((2, 3, 4, 5)).astype(np.float32),)


def run(x):
    return softmax(x)
