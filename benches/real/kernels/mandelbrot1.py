"""Mandelbrot on a complex grid with masks and loops (npbench mandelbrot1, after N. Rougier's From Numpy to Python)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/mandelbrot1/mandelbrot1_numba_n.py",
    "license": "BSD-3-Clause (npbench, Copyright (c) 2021, SPCL); the code: Copyright (2017) Nicolas P. Rougier - BSD license",
    "jit": ["linspace", "mandelbrot"],
    "imports": ["import numpy as np"],
}


def make_inputs():
    return -2.25, 0.75, -1.25, 1.25, 40, 30, 20


def run(xmin, xmax, ymin, ymax, xn, yn, maxiter):
    return mandelbrot(xmin, xmax, ymin, ymax, xn, yn, maxiter)
