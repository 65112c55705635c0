"""Kernel density estimate, the multithreaded variant with prange (numba-examples density_estimation/kernel)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/density_estimation/kernel/impl.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["gaussian", "numba_kde_multithread:parallel"],
    "imports": ["import numpy as np"],
    "added_imports": ["from heron import prange"],
    "adapt": [["numba.prange(", "prange(", "Numba's prange is spelled heron.prange (imported as prange)"]],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(1)
    samples = rng.normal(loc=0.0, scale=5.0, size=300)
    bandwidths = np.full_like(samples, 1.06 * 300**0.2 * 5.0)
    points = rng.normal(loc=0.0, scale=5.0, size=50)
    return points, samples, bandwidths


def run(points, samples, bandwidths):
    return numba_kde_multithread(points, samples, bandwidths)
