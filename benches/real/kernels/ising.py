"""Ising model Metropolis sweeps with np.random.random (numba-benchmark bench_ising.py, after M. Rocklin)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_ising.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["_update", "update"],
    "globals": ["kT"],
    "imports": ["from math import exp, log, e, sqrt", "import numpy as np"],
    "notes": "The driver seeds NumPy's global random state and makes a smaller spin grid as "
             "the source does.",
}

import numpy as np


def make_inputs():
    np.random.seed(0)
    x = np.random.RandomState(0).randint(2, size=(20, 20)).astype('i8')
    x[x == 0] = -1
    return (x,)


def run(x):
    for i in range(3):
        update(x)
