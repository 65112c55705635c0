"""N-body accelerations in float32 with float32 globals (numba-benchmark bench_nbody.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_nbody.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["run_numba_nbody"],
    "helpers": ["make_nbody_samples"],
    "globals": ["eps_2", "zero", "one"],
    "imports": ["import math", "import numpy as np"],
}


def make_inputs():
    return make_nbody_samples(60)


def run(positions, weights):
    return run_numba_nbody(positions, weights)
