"""Extraterrestrial radiation over a latitude grid with np.ndenumerate (numba-examples legacy/ra24.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/ra24.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["ra_numba"],
    "imports": ["import numpy as np", "import math"],
    "notes": "Inputs as the author's: day 120, a float32 grid of 45 degrees (in radians), "
             "smaller; the result is float32 (np.zeros_like).",
}

import numpy as np


def make_inputs():
    lat = np.deg2rad(np.ones((20, 20), dtype=np.float32) * 45.)
    lat[3, :] = np.deg2rad(np.float32(10.0))
    return 120, lat


def run(doy, lat):
    return ra_numba(doy, lat)
