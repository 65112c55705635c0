"""Fannkuch permutation flips on lists (pyperformance bm_fannkuch, from the Benchmarks Game)."""
SOURCE = {
    "repo": "python/pyperformance", "commit": "1d3e21798ebf2420b62c1eded4ce94453ba15151", "path": "pyperformance/data-files/benchmarks/bm_fannkuch/run_benchmark.py",
    "license": "MIT (pyperformance, COPYING)",
    "jit": ["fannkuch"],
    "notes": "Pure Python (pyperformance), not written for Numba.",
}


def make_inputs():
    return (7,)


def run(n):
    return fannkuch(n)
