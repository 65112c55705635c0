"""Mean ignoring NaNs over a.flat (numba-benchmark bench_numbagg.py, from the numbagg project)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_numbagg.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["nanmean"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    a = np.random.RandomState(0).randn(1000)
    a[a < -1] = np.nan
    a2 = a.reshape((10, 100))
    return a, a2, a2[::-1], np.full(5, np.nan)


def run(a, a2, a2r, allnan):
    return nanmean(a), nanmean(a2), nanmean(a2r), nanmean(allnan)
