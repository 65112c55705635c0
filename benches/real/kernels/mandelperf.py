"""Mandelbrot on a 26 x 21 grid with complex numbers (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["abs2", "mandel", "mandelperf"],
}


def make_inputs():
    return ()


def run():
    return mandelperf()
