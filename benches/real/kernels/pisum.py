"""Sum of 1/k^2, 500 times (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["pisum"],
    "notes": "5 million iterations fixed in the body: the driver calls it once "
             "(HERON_REAL_REPEAT=1 is set by the driver).",
}

import os

os.environ["HERON_REAL_REPEAT"] = "1"


def make_inputs():
    return ()


def run():
    return pisum()
