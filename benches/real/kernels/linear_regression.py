"""Linear regression by gradient descent with np.dot (numba-examples legacy/linear_regression)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "legacy/linear_regression/linear_regression_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["linear_regression"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    N, D, p = 200, 10, 4
    return rng.random_sample((N, p)), rng.random_sample((N, D)), np.zeros((D, p)), 5, 0.01 / N


def run(Y, X, w, iterations, alphaN):
    return linear_regression(Y, X, w, iterations, alphaN)
