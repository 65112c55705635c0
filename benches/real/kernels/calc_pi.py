"""Monte Carlo pi with whole-array NumPy random numbers (numba-examples legacy/pi.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/pi.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["calc_pi:parallel"],
    "imports": ["import numpy as np"],
    "notes": "Numba option parallel=run_parallel. The driver seeds NumPy's global random "
             "state before each call.",
}

import numpy as np


def make_inputs():
    np.random.seed(0)
    return (2000,)


def run(n):
    return calc_pi(n)
