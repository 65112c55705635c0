"""Floyd-Warshall shortest paths with np.minimum on rows (npbench polybench/floyd_warshall)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/polybench/floyd_warshall/floyd_warshall_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["kernel"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    N = 30
    i, j = np.indices((N, N))
    path = (i * j % 7 + 1).astype(np.int32)
    path[((i + j) % 13 == 0) | ((i + j) % 7 == 0) | ((i + j) % 11 == 0)] = 999
    return path, path.astype(np.int64), path.astype(np.float64)


def run(path, path64, pathf):
    kernel(path)
    kernel(path64)
    kernel(pathf)


def edge():
    one = np.array([[5]], dtype=np.int32)
    kernel(one)
    big = np.full((3, 3), 2**30, dtype=np.int32)     # path sums overflow int32 (NumPy wraps)
    kernel(big)
    inf = np.array([[0.0, np.inf], [np.nan, 0.0]])
    kernel(inf)
    return one, big, inf
