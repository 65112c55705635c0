"""Recursive out-of-place merge sort on array copies (numba-examples legacy/mergesort.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/mergesort.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["mergesort"],
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(0).random_sample(300),)


def run(arr):
    return mergesort(arr)
