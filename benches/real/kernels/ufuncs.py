"""sinc, logit and expit, @vectorize kernels (numba-examples legacy/ufuncs.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/ufuncs.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["sinc", "logit", "expit"],
    "imports": ["import math"],
    "notes": "Numba makes ufuncs of them (signatures f8(f8) and f4(f4)); the driver calls "
             "each scalar kernel on the elements of float64 and float32 arrays.",
}

import numpy as np


def make_inputs():
    x = np.concatenate([np.linspace(-3.0, 3.0, 61), [0.0, 1e-300, -1e-300]])
    p = np.linspace(0.01, 0.99, 50)
    return x, x.astype(np.float32), p, p.astype(np.float32)


def run(x, x32, p, p32):
    return ([sinc(v) for v in x], [sinc(v) for v in x32],
            [expit(v) for v in x], [expit(v) for v in x32],
            [logit(v) for v in p], [logit(v) for v in p32])
