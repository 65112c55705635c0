"""Black-Scholes writing into output arrays, constants as module globals (numba-benchmark, from numba's tests)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_blackscholes.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["cnd", "blackscholes"],
    "globals": ["A1", "A2", "A3", "A4", "A5", "RSQRT2PI"],
    "imports": ["import math", "import numpy as np"],
}

import numpy as np


def make_inputs():
    n = 1000
    return (np.zeros(n), np.zeros(n), np.random.RandomState(0).uniform(5.0, 30.0, n),
            np.random.RandomState(1).uniform(1.0, 100.0, n),
            np.random.RandomState(2).uniform(0.25, 10.0, n), 0.02, 0.30)


def run(*args):
    blackscholes(*args)


def edge():
    t = np.array([0.0, 1.0, 0.0])
    s = np.array([10.0, 20.0, 30.0])
    call, put = np.zeros(3), np.zeros(3)
    blackscholes(call, put, s, s[::-1], t, 0.02, 0.0)    # zero volatility too
    return call, put
