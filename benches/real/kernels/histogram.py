"""Histogram with uniform bins (numba-examples density_estimation/histogram)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/density_estimation/histogram/impl.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["get_bin_edges", "compute_bin", "numba_histogram"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    a = np.random.RandomState(0).normal(loc=0.0, scale=5.0, size=2000)
    return a, a.astype(np.float32), 10


def run(a, a32, bins):
    # the source's input_generator uses float32 and float64 samples
    return numba_histogram(a, bins), numba_histogram(a32, bins)
