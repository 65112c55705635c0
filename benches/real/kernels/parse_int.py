"""Parse random hex strings back to integers (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["parse_int"],
    "imports": ["import random"],
    "notes": "The Numba version of the benchmarks leaves this one to the interpreter (no "
             "@njit); it is marked here as a user would try it.",
}

import random


def make_inputs():
    random.seed(1)
    return (1000,)


def run(t):
    return parse_int(t)
