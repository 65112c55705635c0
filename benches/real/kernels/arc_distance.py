"""Pairwise arc distance, one array expression (npbench pythran/arc_distance, by Serge Guelton)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/pythran/arc_distance/arc_distance_numba_n.py",
    "license": "BSD-3-Clause (npbench, Copyright (c) 2021, SPCL); the code: Copyright (c) 2019, Serge Guelton, BSD-3-Clause",
    "jit": ["arc_distance"],
    "imports": ["import numpy as np"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(42)
    return tuple(rng.random_sample(1000) for _ in range(4))


def run(t0, p0, t1, p1):
    return (arc_distance(t0, p0, t1, p1),
            arc_distance(*(a.astype(np.float32) for a in (t0, p0, t1, p1))),
            arc_distance(t0[::2], p0[::2], t1[1::2], p1[1::2]))


def edge():
    t = np.array([0.0, np.pi, 1.0])
    p = np.array([0.0, 0.0, np.nan])
    return arc_distance(t, p, t[::-1], p), arc_distance(0.5, 0.25, t, p)
