"""Discriminant of quadratic equations, a @vectorize kernel (numba-examples legacy/vectorize/polynomial.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/vectorize/polynomial.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["discriminant"],
    "imports": ["import math"],
    "notes": "Numba makes a ufunc of it (signatures f4(f4, f4, f4) and f8(f8, f8, f8)); the "
             "driver calls the scalar kernel on each element of float32 and float64 inputs.",
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    a, b, c = rng.random_sample(200), rng.random_sample(200) + 10, rng.random_sample(200)
    return a, b, c, a.astype(np.float32), b.astype(np.float32), c.astype(np.float32)


def run(a, b, c, a32, b32, c32):
    return ([discriminant(x, y, z) for x, y, z in zip(a, b, c)],
            [discriminant(x, y, z) for x, y, z in zip(a32, b32, c32)])


def edge():
    errors = []
    for args in ((1.0, 0.0, 1.0), (np.float32(1.0), np.float32(0.0), np.float32(1.0)),
                 (np.float64(0.5), np.float64(0.0), np.float64(0.5))):
        try:
            errors.append(discriminant(*args))
        except ValueError as e:    # a negative discriminant: math domain error
            errors.append(repr(e))
    return errors
