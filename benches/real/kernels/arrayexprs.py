"""Whole-array expressions a + b, (a - b) * (a + b), a ** 2, a ** 3 (numba-benchmark bench_arrayexprs.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_arrayexprs.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["sum", "sq_diff", "rel_diff", "square", "cube"],
    "notes": "The source compiles them with jit(nopython=True) in its setup(); the module "
             "function named sum shadows the builtin, as in the source.",
}

import numpy as np


def make_inputs():
    random = np.random.RandomState(0)
    arrays = tuple(random.uniform(1.0, 2.0, size=500).astype(dtype)
                   for dtype in ("float32", "float32", "float64", "float64"))
    return arrays + (random.randint(1, 1000, size=500), random.randint(1, 1000, size=500))


def run(a32, b32, a64, b64, i64, j64):
    return [f(a, b) for f in (sum, sq_diff, rel_diff, square, cube)
            for a, b in ((a32, b32), (a64, b64), (i64, j64), (a32, b64), (a64[::-1], b64[::2][:250].repeat(2)))]


def edge():
    x = np.linspace(-1.0, 1.0, 9)
    big = np.array([3_000_000, -3_000_000, 2**62], dtype=np.int64)
    small = np.array([100, -100, 127], dtype=np.int8)
    m = np.arange(12.0).reshape(3, 4)
    return [rel_diff(x, -x),                      # 0/0: nan, "invalid value encountered"
            rel_diff(np.float32(1.0), np.float32(-1.0)),
            cube(big, big), square(small, small), sum(small, small), sq_diff(small, big),
            sum(m, x[:4]), sum(m, 2.5), cube(np.array([True, False]), None),
            rel_diff(np.zeros(0), np.zeros(0)), sum(m[:, ::2], m[:, 1::2])]
