"""Regression tests from differential fuzzing (tests/fuzz): each is a minimal reproducer of a
difference between Heron and CPython, compared against CPython with ``_compare``.

A test marked ``xfail(strict=True)`` documents a known bug: it fails until the compiler is
fixed, and then XPASSes, which fails the suite as a reminder to remove the mark.
"""
import math

import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import modules, outcome  # noqa: E402


def same(tmp_path, source, *args, name="f"):
    """Assert that ``name(*args)`` behaves identically under CPython and Heron."""
    plain, jit = modules(tmp_path, source)
    expected = outcome(getattr(plain, name), args)
    got = outcome(getattr(jit, name), args)
    assert got == expected, f"CPython gave {expected}, Heron gave {got}"


@pytest.mark.xfail(strict=True, reason="np.int32 op a Python int out of int32 range must raise "
                                       "OverflowError (NEP 50), Heron computes a result")
def test_int32_scalar_minus_out_of_range_python_int(tmp_path):
    # CPython: OverflowError: Python integer 2147483648 out of bounds for int32
    same(tmp_path, """
def f(a):
    v = a[2]
    v -= 2147483648
    return v
""", np.array([1, 1, 1, 1], dtype=np.int32))


@pytest.mark.xfail(strict=True, reason="a[i, j]: all index expressions are evaluated before any "
                                       "bounds check; Heron checks i before evaluating j")
def test_index_expressions_evaluated_before_bounds_check(tmp_path):
    # CPython: IndexError: index -7 is out of bounds for axis 1 with size 3 (the inner read)
    # Heron:   IndexError: index 4 is out of bounds for axis 0 with size 4
    same(tmp_path, """
def f(n, a):
    return a[4, a[0, n]]
""", -7, np.arange(12, dtype=np.int64).reshape(4, 3))


@pytest.mark.xfail(strict=True, reason="a[i, j]: all index expressions are evaluated before any "
                                       "bounds check; Heron checks i before evaluating j")
def test_index_expression_raises_before_bounds_check(tmp_path):
    # CPython: ZeroDivisionError: integer division or modulo by zero
    # Heron:   IndexError: index 3 is out of bounds for axis 0 with size 2
    same(tmp_path, """
def f(a, z):
    return a[3, 1 // z]
""", np.zeros((2, 4)), 0)


@pytest.mark.xfail(strict=True, reason="math.ceil/math.floor of a numpy.int64 go through float "
                                       "(NumPy ints have no __ceil__/__floor__); Heron keeps the int")
def test_math_ceil_of_int64_goes_through_float(tmp_path):
    # CPython: math.ceil(np.int64(2**63 - 1)) == 2**63 (a Python int: the call deoptimizes)
    same(tmp_path, """
import math
def f(a):
    return math.ceil(a[1]) % 5, math.floor(a[1]) % 5
""", np.array([1, 2**63 - 1], dtype=np.int64))


@pytest.mark.xfail(strict=True, reason="math.floor of a numpy.int64 goes through float: "
                                       "2**53 + 1 becomes 2**53")
def test_math_floor_of_int64_rounds_through_float(tmp_path):
    same(tmp_path, """
import math
def f(a):
    return math.floor(a[0])
""", np.array([2**53 + 1], dtype=np.int64))
