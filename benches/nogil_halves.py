"""``# heron: jit, nogil`` functions writing disjoint halves of one array from two Python
threads (issue 14's check: at least 1.6x faster than one thread doing both halves). The steady
time of each way, best of ``--rounds``, in this process; run with the interpreter that has
Heron installed:

    python benches/nogil_halves.py [--rounds 7] [--n 4000000]
"""

import argparse
import math
import threading
import time

import numpy as np


# heron: jit, nogil
def fill(out, lo, hi):
    for i in range(lo, hi):
        x = (i % 1000) * 1e-3   # the same work in both halves
        out[i] = math.sqrt(x * x + 1.0) * math.sin(x) + math.cos(x) * math.exp(-x * x)


def one_thread(out):
    n = out.shape[0]
    fill(out, 0, n // 2)
    fill(out, n // 2, n)


def two_threads(out):
    n = out.shape[0]
    t = threading.Thread(target=fill, args=(out, 0, n // 2))
    t.start()
    fill(out, n // 2, n)
    t.join()


def timed(call, out):
    t0 = time.perf_counter()
    call(out)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=4_000_000)
    opts = ap.parse_args()
    a, b = np.zeros(opts.n), np.zeros(opts.n)
    one_thread(a)  # compiles
    # Alternate the two ways, so that a busy machine slows both alike; best of each.
    ones, twos = [], []
    for _ in range(opts.rounds):
        ones.append(timed(one_thread, a))
        twos.append(timed(two_threads, b))
    one, two = min(ones), min(twos)
    assert np.array_equal(a, b)
    print(f"one thread {one:.4f} s, two threads {two:.4f} s: {one / two:.2f}x")


if __name__ == "__main__":
    main()
