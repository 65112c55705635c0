"""Logistic regression by gradient descent (numba-examples legacy/logistic-regression; also on numba.pydata.org)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "legacy/logistic-regression/logistic_regression.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["logistic_regression:parallel"],
    "imports": ["import numpy as np"],
    "notes": "Numba options parallel=run_parallel (true with more than one thread), "
             "fastmath=True; Heron has no fastmath.",
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    D, N = 3, 100
    return rng.random_sample(N), rng.random_sample((N, D)), 2.0 * np.ones(D) - 1.3, 5


def run(Y, X, w, iterations):
    return logistic_regression(Y, X, w, iterations)


def edge():
    # huge margins: np.exp overflows (NumPy warns) and the weights become inf/nan
    Y = np.array([1.0, -1.0, 1.0])
    X = np.array([[300.0, 1.0], [-400.0, 2.0], [500.0, 3.0]])
    return logistic_regression(Y, X, np.array([-2.0, 1.0]), 3)
