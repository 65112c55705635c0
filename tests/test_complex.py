"""Python `complex` in compiled code (issue 12, item 1): literals, `complex(a, b)`, `+ - * / **`
with ints, floats and bools (made complex first, as CPython 3.10-3.13 does), `abs`, `==`,
`!=`, truth, `.real`, `.imag`, `.conjugate()`, complex arguments, results and callees, and
CPython's errors ("complex division by zero", "0.0 to a negative or complex power", "complex
exponentiation", "absolute value too large"). Compared with CPython on signed zeros,
infinities, NaNs, tiny and huge parts, bit for bit (through `float.hex`).
"""

import pytest

from test_ufuncs import compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_complex_arithmetic_matches_cpython_on_special_values(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import math

    def h(z):
        if isinstance(z, complex):
            return z.real.hex() + "," + z.imag.hex()
        return repr(z)

    # heron: jit
    def ops(a, b):
        return a + b, a - b, a * b, a + 2, 3.5 - a, a * True, -a

    # heron: jit
    def tests(a, b):
        return a == b, a != b, a == 0.0, a == 1, 2 != a, bool(a), not a

    # heron: jit
    def quot(a, b):
        return a / b

    # heron: jit
    def power(a, n):
        return a ** n

    # heron: jit
    def size(a):
        return abs(a)

    # heron: jit
    def parts(x, y):
        z = complex(x, y) + 1j - 2.5j * x
        return z.real, z.imag, z.conjugate(), complex(x), complex(), complex(z)

    vals = [complex(a, b) for a in (0.0, -0.0, 1.5, -2.0, math.inf, -math.inf, math.nan, 1e308, 5e-324, 3.0)
            for b in (0.0, -0.0, 0.75, -math.inf, math.nan, -1e-310, 1e200)]
    for a in vals:
        for b in vals[::7]:
            print(h(a), h(b), [h(x) for x in ops(a, b)], tests(a, b))
            for f, args in ((quot, (a, b)), (power, (a, 2)), (power, (a, -3)), (power, (a, 0.5)),
                            (power, (a, b)), (power, (a, 101)), (size, (a,))):
                try:
                    print(" ", f.__name__, h(f(*args)))
                except (ZeroDivisionError, OverflowError) as e:
                    print(" ", f.__name__, type(e).__name__, e)
    for x, y in ((1.0, 2.0), (-0.0, 0.0), (math.inf, 3), (2, True)):
        print([h(p) for p in parts(x, y)])
    """, native=["ops", "tests", "quot", "power", "size", "parts"])


def test_mandelbrot_with_complex_numbers(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def abs2(z):
        return z.real * z.real + z.imag * z.imag

    # heron: jit
    def mandel(x, y, max_iters):
        c = complex(x, y)
        z = 0.0j
        for i in range(max_iters):
            z = z * z + c
            if abs2(z) >= 4:
                return i
        return 255

    # heron: jit
    def fractal(image, iters):
        for x in range(image.shape[1]):
            for y in range(image.shape[0]):
                image[y, x] = mandel(-2.0 + 3.0 * x / image.shape[1], -1.0 + 2.0 * y / image.shape[0], iters)
        return image

    # heron: jit
    def orbit(c, n):
        z = c
        for i in range(n):
            z = z ** 2 + c / (1 + abs(z))
            print(i, z)
        return z

    img = fractal(np.zeros((30, 50), dtype=np.uint8), 40)
    print(img.sum(), img[15].tolist())
    print(orbit(0.25 + 0.5j, 5))
    """, native=["fractal", "orbit"])
