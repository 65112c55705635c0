"""Lennard-Jones potential of a cluster, array expressions (numba-examples physics/lennard_jones)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/physics/lennard_jones/numba_array_impl.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["lj_numba_array", "distances_numba_array", "potential_numba_array"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(1).uniform(0.0, 6.0, size=(60, 3)),)


def run(cluster):
    return potential_numba_array(cluster)
