"""Native functions through cffi in a loop (issue 16): libm's erf and cbrt from an ABI-mode
`ffi.dlopen`. Heron calls them directly; CPython goes through cffi for each call."""
import cffi
import numpy as np

ffi = cffi.FFI()
ffi.cdef("double erf(double); double cbrt(double);")
libm = ffi.dlopen("libm.so.6")
erf, cbrt = libm.erf, libm.cbrt   # Numba takes cffi functions as globals, not `libm.erf`


# heron: jit
def erf_cbrt(xs, out):
    for i in range(xs.shape[0]):
        out[i] = erf(xs[i]) + cbrt(xs[i] * 3.0)
    return out


def setup(quick=False):
    n = 20_000 if quick else 1_000_000
    return np.linspace(-4.0, 4.0, n), np.zeros(n)


def run(args):
    return erf_cbrt(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
