"""Ways of iterating over arrays: for x in a, a.flat, np.ndindex, np.nditer, zip (numba-benchmark bench_iterating.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_iterating.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["array_iter_1d", "flat_iter", "flat_index", "ndindex", "range1d", "range2d",
            "nditer1", "nditer2", "zip_iter", "zip_flat"],
    "globals": ["dtype", "zero"],
    "imports": ["import numpy as np"],
    "notes": "nditer3 is left out: it calls ndarray.itemset, which NumPy 2 removed. The driver "
             "makes the source's arrays (int32, C, Fortran, strided) smaller and not all zero.",
}

import numpy as np


def make_inputs():
    N = 30
    arr1 = (np.arange(N * N) % 7).astype(np.int32)
    arr2c = arr1.reshape((N, N))
    return arr1, arr2c, arr2c.T, np.concatenate((arr2c, arr2c))[::2]


def run(arr1, arr2c, arr2f, arr2a):
    out = [array_iter_1d(arr1), range1d(arr1), zip_iter(arr1, arr1)]
    for a in (arr1, arr2c, arr2f, arr2a):
        out += [flat_iter(a), flat_index(a), ndindex(a), nditer1(a), nditer2(a, a),
                zip_flat(a, a)]
    for a in (arr2c, arr2f, arr2a):
        out.append(range2d(a))
    return out
