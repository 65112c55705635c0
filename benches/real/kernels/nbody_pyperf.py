"""Solar-system n-body on lists of lists (pyperformance bm_nbody, from the Benchmarks Game)."""
SOURCE = {
    "repo": "python/pyperformance", "commit": "1d3e21798ebf2420b62c1eded4ce94453ba15151", "path": "pyperformance/data-files/benchmarks/bm_nbody/run_benchmark.py",
    "license": "MIT (pyperformance, COPYING)",
    "jit": ["advance", "report_energy", "offset_momentum"],
    "helpers": ["combinations"],
    "globals": ["PI", "SOLAR_MASS", "DAYS_PER_YEAR", "BODIES", "SYSTEM", "PAIRS"],
    "notes": "Pure Python (pyperformance), not written for Numba. The driver does what "
             "bench_nbody does once, with 200 steps.",
}


def make_inputs():
    return ()


def run():
    offset_momentum(BODIES['sun'])
    e0 = report_energy()
    advance(0.01, 200)
    return e0, report_energy()
