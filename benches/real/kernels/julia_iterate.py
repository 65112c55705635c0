"""Julia set: iterate z = z*z + c on a complex grid (numba-examples legacy/juliaset/juliaset_numba.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/juliaset/juliaset_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["iterate"],
    "imports": ["import numpy as np"],
    "notes": "The driver makes the grid as the author's juliaset() does, smaller, with fewer "
             "iterations (overflow to inf/nan happens, as in the original).",
}

import numpy as np


def make_inputs():
    x = np.linspace(-1.5, 1.5, 30)
    y = np.linspace(-1.5, 1.5, 30)
    X, Y = np.meshgrid(x, y)
    return 40, X + Y * 1j, -.745429 + .11308j


def run(col, Z, c):
    return iterate(col, Z, c)
