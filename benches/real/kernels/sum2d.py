"""Sum of a 2-D array (numba-examples legacy/sum.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/sum.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["sum2d"],
    "notes": "The author compiles it with jit(sum2d) and an explicit signature double(double[:,::1]).",
}

import numpy as np


def make_inputs():
    a = np.random.RandomState(0).randn(100, 100)
    return (a, a.astype(np.float32), np.asfortranarray(a), a[::3, 1::2],
            (a * 100).astype(np.int64), np.zeros((0, 5)))


def run(a, a32, af, strided, ints, empty):
    return [sum2d(x) for x in (a, a32, af, strided, ints, empty)]


def edge():
    return (sum2d(np.array([[np.inf, -np.inf]])), sum2d(np.array([[1e308, 1e308]])),
            sum2d(np.array([[True, True]])), sum2d(np.array([[2**62, 2**62]])),
            sum2d(np.array([[-0.0]])))
