"""Kernel density (log-sum-exp over three points) with prange (numba-examples legacy/kernel-density-estimation)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "legacy/kernel-density-estimation/kernel_density_estimation_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["kde"],
    "imports": ["import numpy as np"],
    "added_imports": ["from heron import prange"],
    "notes": "The source imports prange from numba (from numba import njit, prange); here it "
             "comes from heron.",
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(0).random_sample(500),)


def run(X):
    return kde(X)
