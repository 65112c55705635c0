"""Filter-bank correlation, seven nested loops over 4-D arrays (numba-examples legacy/fbcorr.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/fbcorr.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["fbcorr"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    imgs, filters = rng.randn(2, 10, 10, 3), rng.randn(4, 3, 3, 3)
    return (imgs, filters, np.zeros((2, 4, 8, 8)), imgs.astype(np.float32),
            filters.astype(np.float32), np.zeros((2, 4, 8, 8), dtype=np.float32))


def run(imgs, filters, output, imgs32, filters32, output32):
    fbcorr(imgs, filters, output)
    fbcorr(imgs32, filters32, output32)


def edge():
    out = np.zeros((1, 2, 0, 3))
    fbcorr(np.ones((1, 2, 5, 1)), np.ones((2, 3, 3, 1)), out)     # taller filter: no rows
    ints = np.zeros((1, 1, 2, 2), dtype=np.int64)
    fbcorr(np.full((1, 2, 2, 1), 2**40, dtype=np.int64), np.full((1, 1, 1, 1), 2**30,
                                                                  dtype=np.int64), ints)
    return out, ints
