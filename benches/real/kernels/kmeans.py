"""k-means clustering with nested comprehensions (numba-examples legacy/k-means/k-means_numba.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/k-means/k-means_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["kmeans"],
    "imports": ["import numpy as np", "from math import sqrt"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    init = rng.random_sample((3, 4))
    return rng.random_sample((120, 4)), 3, 2, 120, 4, init


def run(A, numCenter, numIter, N, D, init_centroids):
    return kmeans(A, numCenter, numIter, N, D, init_centroids)
