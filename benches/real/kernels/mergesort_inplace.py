"""Recursive in-place merge sort on views (numba-examples legacy/mergesort.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/mergesort.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["mergesort_inplace"],
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(1).random_sample(200),)


def run(arr):
    return mergesort_inplace(arr)
