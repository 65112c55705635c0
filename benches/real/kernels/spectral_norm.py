"""Spectral norm with lists and functions passed as arguments (pyperformance bm_spectral_norm)."""
SOURCE = {
    "repo": "python/pyperformance", "commit": "1d3e21798ebf2420b62c1eded4ce94453ba15151", "path": "pyperformance/data-files/benchmarks/bm_spectral_norm/run_benchmark.py",
    "license": "MIT (pyperformance, COPYING)",
    "jit": ["eval_A", "eval_times_u", "eval_AtA_times_u", "part_A_times_u", "part_At_times_u"],
    "notes": "Pure Python (pyperformance), not written for Numba. The driver runs the power "
             "iteration of bench_spectral_norm once, with n = 30 and 3 rounds instead of 130 "
             "and 10.",
}


def make_inputs():
    return (30,)


def run(n):
    # the power iteration of bench_spectral_norm: u -> A^T A u, three times
    u = [1] * n
    for _ in range(3):
        v = eval_AtA_times_u(u)
        u = eval_AtA_times_u(v)
    return sum(a * b for a, b in zip(u, v)), sum(b * b for b in v)
