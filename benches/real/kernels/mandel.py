"""Mandelbrot fractal with complex arithmetic (numba-examples legacy/mandel/mandel_jit.py; also Numba's docs)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/mandel/mandel_jit.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["mandel", "create_fractal"],
}

import numpy as np


def make_inputs():
    return -2.0, 1.0, -1.0, 1.0, np.zeros((40, 60), dtype=np.uint8), 20


def run(min_x, max_x, min_y, max_y, image, iters):
    return create_fractal(min_x, max_x, min_y, max_y, image, iters)
