"""Hypotenuse over a structured (record) array with attribute access (numba-examples legacy/structures.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/structures.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["hypot"],
    "globals": ["record_type"],
    "imports": ["import numpy as np"],
    "notes": "Records of a plain structured array are numpy.void, without attribute access in "
             "CPython; the driver passes a numpy.recarray (np.rec.array) so that data[i].x "
             "works under CPython as under Numba.",
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    a = np.zeros(30, dtype=record_type)
    a["x"] = rng.random_sample(30)
    a["y"] = rng.random_sample(30)
    return (np.rec.array(a),)


def run(data):
    return hypot(data)
