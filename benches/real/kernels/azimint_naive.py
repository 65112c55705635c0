"""Azimuthal integration with boolean masks and mean (npbench azimint_naive, from pyFAI's paper)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/azimint_naive/azimint_naive_numba_n.py",
    "license": "BSD-3-Clause (npbench, Copyright (c) 2021, SPCL); the code: Copyright 2014 Jerome Kieffer et al., CC-BY 3.0",
    "jit": ["azimint_naive"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(42)
    return rng.random_sample(1000), rng.random_sample(1000), 20


def run(data, radius, npt):
    return azimint_naive(data, radius, npt)
