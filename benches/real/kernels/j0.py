"""Bessel function J0 from Cephes polynomials with global coefficient arrays (numba-examples legacy/ufuncs.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/ufuncs.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["polevl", "p1evl", "j0"],
    "globals": ["PP", "PQ", "DR1", "DR2", "RP", "RQ", "QP", "QQ", "NPY_PI_4", "SQ2OPI"],
    "imports": ["import math", "import numpy as np"],
    "notes": "The author compiles them with explicit signatures: f8(f8,f8[:]) and f8(f8).",
}

import numpy as np


def make_inputs():
    return (np.concatenate([np.linspace(-20.0, 20.0, 81), [1e-6, 3e-6, 5.0, 4.999]]),)


def run(xs):
    return [j0(x) for x in xs]
