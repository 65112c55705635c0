"""Trace of tanh plus broadcasting (Numba's 5-minute guide, as kept in npbench go_fast)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/go_fast/go_fast_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["go_fast"],
    "imports": ["import numpy as np"],
    "notes": "The code is the example of https://numba.readthedocs.io/en/stable/user/5minguide.html "
             "(npbench cites it); the driver passes the guide's x = np.arange(100).reshape(10, 10) "
             "and a float array.",
}

import numpy as np


def make_inputs():
    return np.arange(100).reshape(10, 10), np.random.RandomState(42).random_sample((12, 12))


def run(x, y):
    return go_fast(x), go_fast(y)
