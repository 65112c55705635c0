"""Codegen replaces some operations by cheaper ones with the same result (strength
reduction): `x // 2**s` and `x % 2**s` by a shift and a mask, `x / 2**s` by a multiplication
by the reciprocal, and no ZeroDivisionError check for a nonzero constant divisor. Each is
compared with CPython on the values where the rewrites could go wrong: negative numbers,
subnormal results, infinities, NaN, the ends of int64, and NumPy integer types."""
import math

import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, modules  # noqa: E402

SOURCE = """
def int_pow2(x):
    return (x // 1, x % 1, x // 2, x % 2, x // 8, x % 8, x // 2**31, x % 2**31,
            x // 2**62, x % 2**62, -x // 4, -x % 4)


def int_not_pow2(x):
    return x // 6, x % 6, x // -4, x % -4


def np_int_pow2(a, i):
    v = a[i]
    return v // 4, v % 4, v // 1, v % 16


def float_div(x):
    return x / 2, x / 0.5, x / 2.0**-1022, x / 2.0**1023, x / 2.0**-1074, x / 3.0, x / -4.0


def np_float_div(a, i):
    v = a[i]
    return v / 2, v / 0.25, v / 2.0**1023, v / 2.0**-1022


def float_div_zero(x):
    return x / 0.0


def float_floordiv_const(x):
    return x // 2.0, x % 2.0, x // -0.5


def divides(x, y):
    return x % y == 0, x % y != 0, (x + 1) % y == 0
"""

INTS = [0, 1, -1, 7, -7, 8, -8, 2**31 - 1, -(2**31), 2**62 + 3, -(2**62) - 3, 2**63 - 1, -(2**63)]
FLOATS = [0.0, -0.0, 1.0, -3.5, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-310, 1.7976931348623157e308,
          -1e308, math.inf, -math.inf, math.nan, 123456.789]


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("strength"), SOURCE)


@pytest.mark.parametrize("x", INTS)
def test_floor_division_and_modulo_by_powers_of_two(mods, x):
    # -x overflows i64 for x = -2**63: the call then deoptimizes (a Python int result).
    assert_same(*mods, "int_pow2", x, native=x != -(2**63))
    assert_same(*mods, "int_not_pow2", x)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32])
def test_numpy_integer_floor_division_by_powers_of_two(mods, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.min + 1, -5 if info.min < 0 else 5, 0, 3, info.max], dtype=dtype)
    for i in range(len(a)):
        assert_same(*mods, "np_int_pow2", a, i)


@pytest.mark.parametrize("x", FLOATS)
def test_division_by_powers_of_two(mods, x):
    assert_same(*mods, "float_div", x)
    assert_same(*mods, "float_floordiv_const", x)
    assert_same(*mods, "float_div_zero", x)


def test_numpy_float_division_by_powers_of_two(mods):
    a = np.array(FLOATS)
    for i in range(len(a)):
        assert_same(*mods, "np_float_div", a, i, native=False)


@pytest.mark.parametrize("x", INTS)
@pytest.mark.parametrize("y", [1, -1, 2, -3, 7, 0, 2**62, -(2**63)])
def test_remainder_compared_with_zero(mods, x, y):
    # `x % y == 0` tests the truncated remainder (the same zero test as Python's floored one).
    assert_same(*mods, "divides", x, y, native=x != 2**63 - 1)
