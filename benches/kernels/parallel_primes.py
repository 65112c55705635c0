"""Example program parallel_primes.py: threads call a compiled function that runs without the
GIL (Numba needs ``nogil=True`` for the same, see NUMBA_OPTIONS)."""
import os
from concurrent.futures import ThreadPoolExecutor

# What a Numba user writes for the same program: the threads only help without the GIL.
NUMBA_OPTIONS = {"count_primes": {"nogil": True}}


# heron: jit
def count_primes(lo, hi):
    count = 0
    for n in range(lo, hi):
        if n < 2:
            continue
        if n % 2 == 0:
            count += n == 2
            continue
        d = 3
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        count += prime
    return count


def setup(quick=False):
    return (100_000 if quick else 500_000, os.cpu_count() or 1)


def run(args):
    limit, workers = args
    edges = [limit * k // workers for k in range(workers + 1)]
    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(count_primes, edges[:-1], edges[1:]))


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
