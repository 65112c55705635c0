"""Game of life on a torus with an int8 neighbour count (numba-benchmark bench_gameoflife.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_gameoflife.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["wrap", "increment_neighbors", "numba_life_step"],
    "imports": ["import numpy as np"],
    "notes": "numba_life_step has a plain @jit (object mode allowed) in the source. The driver "
             "runs 10 steps as the source's run_game does, on a smaller board.",
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(0).random_sample((30, 20)) > 0.5,)


def run(state):
    for i in range(10):
        state = numba_life_step(state)
    return state
