"""Jacobi relaxation for the Laplace equation (numba-examples legacy/laplace2d/laplace2d-numba.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/laplace2d/laplace2d-numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["jacobi_relax_core"],
    "notes": "The driver repeats the author's main loop (call, swap A and Anew) 30 times on a "
             "40 x 40 mesh.",
}

import numpy as np


def make_inputs():
    A = np.zeros((40, 40), dtype=np.float64)
    Anew = np.zeros((40, 40), dtype=np.float64)
    A[:, 0] = 1.0
    Anew[:, 0] = 1.0
    return A, Anew


def run(A, Anew):
    errors = []
    for it in range(30):
        errors.append(jacobi_relax_core(A, Anew))
        A, Anew = Anew, A
    return errors
