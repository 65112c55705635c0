"""Sparse matrix-vector product in CSR form with fancy indexing and @ (npbench spmv)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/spmv/spmv_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["spmv"],
    "imports": ["import numpy as np"],
    "notes": "npbench makes the CSR arrays with scipy.sparse.random (uint32 indices); the "
             "driver builds a random CSR matrix of the same form with NumPy.",
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(42)
    M, N = 40, 50
    counts = rng.randint(0, 6, size=M)
    rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    cols = np.concatenate([np.sort(rng.choice(N, c, replace=False)) for c in counts])
    return rows, cols.astype(np.uint32), rng.random_sample(rows[-1]), rng.random_sample(N)


def run(rows, cols, vals, x):
    return spmv(rows, cols, vals, x)
