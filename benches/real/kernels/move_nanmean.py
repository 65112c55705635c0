"""Moving mean ignoring NaNs, a @guvectorize kernel (numba-benchmark bench_numbagg.py, from numbagg)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_numbagg.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["move_nanmean"],
    "imports": ["import numpy as np"],
    "notes": "Numba makes a gufunc '(n),()->(n)' of it; the driver calls the kernel on 1-D "
             "arrays with the window as a one-element intp array, as the gufunc machinery does.",
}

import numpy as np


def make_inputs():
    a = np.random.RandomState(0).randn(1000)
    a[a < -1] = np.nan
    return a, np.empty_like(a), a.reshape((10, 100))[::-1, 3], np.empty(10)


def run(a, out, column, out2):
    move_nanmean(a, np.array([10], dtype=np.intp), out)
    move_nanmean(column, np.array([3], dtype=np.intp), out2)
