"""Recursive Fibonacci (Julia micro-benchmarks, numba/perf.py)."""
SOURCE = {
    "repo": "JuliaLang/Microbenchmarks", "commit": "f35dc94374c409e71feb99514ae211016e060a4f", "path": "numba/perf.py",
    "license": "MIT (Copyright (c) 2009-2018 Jeff Bezanson, Stefan Karpinski, Viral B. Shah, and other contributors)",
    "jit": ["fib"],
}


def make_inputs():
    return (20,)


def run(n):
    return fib(n)


def edge():
    return fib(-3), fib(True), fib(2.5), fib(0), fib(25)
