"""The Mandelbrot set with Python complex numbers (numba-examples' mandel: `z = z*z + c`),
iteration counts stored into a uint8 2-D array."""
import numpy as np


# heron: jit
def mandel(x, y, max_iters):
    c = complex(x, y)
    z = 0.0j
    for i in range(max_iters):
        z = z * z + c
        if (z.real * z.real + z.imag * z.imag) >= 4:
            return i
    return 255


# heron: jit
def create_fractal(min_x, max_x, min_y, max_y, image, iters):
    height = image.shape[0]
    width = image.shape[1]
    pixel_size_x = (max_x - min_x) / width
    pixel_size_y = (max_y - min_y) / height
    for x in range(width):
        real = min_x + x * pixel_size_x
        for y in range(height):
            imag = min_y + y * pixel_size_y
            image[y, x] = mandel(real, imag, iters)
    return image


def setup(quick=False):
    h, w, iters = (40, 60, 20) if quick else (200, 300, 50)
    return -2.0, 1.0, -1.0, 1.0, np.zeros((h, w), dtype=np.uint8), iters


def run(args):
    return create_fractal(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
