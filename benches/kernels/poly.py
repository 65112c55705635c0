"""Example program poly.py: 10x^5+4x^4+x^3-20x^2+3 over a float64 array (a compiled function
calling another)."""
import numpy as np


# heron: jit
def poly(x):
    return 10 * x**5 + 4 * x**4 + x**3 - 20 * x**2 + 3


# heron: jit
def poly_array(xs, out):
    for i in range(xs.shape[0]):
        out[i] = poly(xs[i])


def setup(quick=False):
    xs = np.linspace(-2.0, 2.0, 20_000 if quick else 200_000)
    return xs, np.zeros_like(xs)


def run(args):
    xs, out = args
    poly_array(xs, out)
    return out


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
