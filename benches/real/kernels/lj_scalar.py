"""Lennard-Jones potential of a cluster, scalar loops (numba-examples physics/lennard_jones)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/physics/lennard_jones/numba_scalar_impl.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["lj_numba_scalar", "distance_numba_scalar", "potential_numba_scalar"],
}

import numpy as np


def make_inputs():
    c = np.random.RandomState(0).uniform(0.0, 6.0, size=(80, 3))
    return c, c.astype(np.float32), np.asfortranarray(c)


def run(cluster, cluster32, cluster_f):
    return [potential_numba_scalar(c) for c in (cluster, cluster32, cluster_f)]


def edge():
    # two atoms at the same place: 1./r divides by zero (NumPy warns, gives inf, then nan)
    c = np.random.RandomState(0).uniform(0.0, 6.0, size=(5, 3))
    return potential_numba_scalar(np.concatenate([c, c[:2]]))
