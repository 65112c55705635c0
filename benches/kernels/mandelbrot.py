"""An escape-time fractal: Mandelbrot with float arithmetic, iteration counts stored into an
int64 2-D array."""
import numpy as np


# heron: jit
def escape_time(cr, ci, max_iter):
    zr = 0.0
    zi = 0.0
    n = 0
    while n < max_iter:
        zr2 = zr * zr
        zi2 = zi * zi
        if zr2 + zi2 > 4.0:
            break
        zi = 2.0 * zr * zi + ci
        zr = zr2 - zi2 + cr
        n += 1
    return n


# heron: jit
def mandelbrot(out, xmin, xmax, ymin, ymax, max_iter):
    H, W = out.shape
    dx = (xmax - xmin) / (W - 1)
    dy = (ymax - ymin) / (H - 1)
    for i in range(H):
        ci = ymin + i * dy
        for j in range(W):
            out[i, j] = escape_time(xmin + j * dx, ci, max_iter)


def setup(quick=False):
    h, w, max_iter = (40, 60, 40) if quick else (160, 240, 80)
    return np.zeros((h, w), dtype=np.int64), -2.2, 0.8, -1.2, 1.2, max_iter


def run(args):
    out, xmin, xmax, ymin, ymax, max_iter = args
    mandelbrot(out, xmin, xmax, ymin, ymax, max_iter)
    return out


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
