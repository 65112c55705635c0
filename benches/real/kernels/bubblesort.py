"""Bubble sort in place (numba-examples legacy/bubblesort.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/bubblesort.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["bubblesort"],
    "notes": "The author compiles it with bubblesort_fast = jit(nopython=True)(bubblesort).",
}

import numpy as np


def make_inputs():
    floats = np.random.RandomState(0).uniform(-1.0, 1.0, size=150)
    return (np.array(list(reversed(range(200))), dtype=np.int64), floats,
            floats.astype(np.float32)[::-1], (floats * 50).astype(np.int8))


def run(ints, floats, f32_reversed_view, int8s):
    bubblesort(np.zeros(0))
    bubblesort(np.ones(1))
    bubblesort(ints)
    bubblesort(floats)
    bubblesort(f32_reversed_view)
    bubblesort(int8s)


def edge():
    b = np.array([True, False, True, False])
    u = np.array([2**63, 1, 2**64 - 1, 0], dtype=np.uint64)
    n = np.array([3.0, np.nan, 1.0, -np.inf])
    for x in (b, u, n):
        bubblesort(x)
    return b, u, n
