"""exp of a linear combination, called from four threads on chunks (numba-examples legacy/nogil.py; also Numba's docs)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/nogil.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["inner_func_nb:nogil"],
    "imports": ["import math"],
    "notes": "Numba options: signature void(double[:], double[:], double[:]), nopython, nogil. "
             "The driver runs it once whole and once split over 4 threads, as the author's "
             "make_singlethread and make_multithread do.",
}

import threading

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    return rng.random_sample(4000), rng.random_sample(4000)


def run(a, b):
    single = np.empty(len(a), dtype=np.float64)
    inner_func_nb(single, a, b)
    multi = np.empty(len(a), dtype=np.float64)
    chunk = (len(a) + 3) // 4
    threads = [threading.Thread(target=inner_func_nb,
                                args=[arg[i * chunk:(i + 1) * chunk] for arg in (multi, a, b)])
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return single, multi


def edge():
    result = np.zeros(3)
    try:
        inner_func_nb(result, np.array([1.0, 400.0, 2.0]), np.array([0.0, 0.0, 0.0]))
    except OverflowError as e:      # math.exp of 840: math range error, raised midway
        return result, repr(e)
    return result, None
