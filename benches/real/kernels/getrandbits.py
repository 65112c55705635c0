"""Python's random.getrandbits in a loop after random.seed (numba-benchmark bench_random.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_random.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["py_getrandbits"],
    "imports": ["import random"],
}


def make_inputs():
    return 42, 2000


def run(seed, n):
    return py_getrandbits(seed, n)
