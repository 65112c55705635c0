"""Moving average, a @guvectorize kernel (numba-examples legacy/movemean.py; also Numba's docs)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/movemean.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["move_mean"],
    "notes": "Numba makes a gufunc '(n),()->(n)' of it; the driver calls the kernel on each "
             "row with the window as a one-element intp array and an output row, as the "
             "gufunc machinery does.",
}

import numpy as np


def make_inputs():
    rows = np.concatenate([np.arange(20, dtype=np.float64).reshape(2, 10),
                           np.random.RandomState(0).random_sample((2, 10))])
    return rows, np.empty_like(rows)


def run(rows, out):
    window = np.array([3], dtype=np.intp)
    for i in range(rows.shape[0]):
        move_mean(rows[i], window, out[i])
