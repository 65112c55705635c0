"""Statistics of traces of random matrix powers (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["randmatstat"],
    "imports": ["from numpy import *", "from numpy.random import rand, randn",
                "from numpy.linalg import matrix_power"],
    "notes": "The Numba version of the benchmarks leaves this one to the interpreter (no "
             "@njit); it is marked here as a user would try it. The driver seeds NumPy.",
}

import numpy as np


def make_inputs():
    np.random.seed(0)
    return (20,)


def run(t):
    return randmatstat(t)
