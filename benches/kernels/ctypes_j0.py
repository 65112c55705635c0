"""A native function in a loop: libm's Bessel function j0 through ctypes (issue 16), summed
over a grid. Heron and Numba call it directly; CPython goes through ctypes for each call."""
import ctypes
import ctypes.util

import numpy as np

libm = ctypes.CDLL(ctypes.util.find_library("m"))
j0 = libm.j0
j0.argtypes = [ctypes.c_double]
j0.restype = ctypes.c_double


# heron: jit
def bessel_table(xs, out):
    for i in range(xs.shape[0]):
        out[i] = j0(xs[i]) * 0.5 + j0(xs[i] * 2.0)
    return out


def setup(quick=False):
    n = 20_000 if quick else 1_000_000
    return np.linspace(0.0, 100.0, n), np.zeros(n)


def run(args):
    return bessel_table(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
