"""Checks that codegen drops only when a loop proves them safe (codegen::RangeFact and
IndexFact): `v + k` and `v - k` on a `for v in range(...)` variable near the ends of i64, and
array indexing by a loop variable with and without negative indices. Each case runs natively
and is compared with CPython, including the cases where the check must stay and fire."""
import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, modules  # noqa: E402

I64_MAX = 2**63 - 1

SOURCE = """
def plus(start, n, k):
    s = 0
    for i in range(start, n):
        s = i + 1
    return s


def plus_two(start, n):
    s = 0
    for i in range(start, n):
        s = i + 2
    return s


def plus_two_slack(start, n):
    s = 0
    for i in range(start, n - 1):
        s = i + 2
    return s


def plus_three_slack(start, n):
    s = 0
    for i in range(start, n - 1):
        s = i + 3
    return s


def minus_from_zero(n):
    s = 0
    for i in range(n):
        s += i - 5
    return s


def minus_from_negative(n):
    s = 0
    for i in range(-(2**62), n):
        s = i - 2**62 - 1
        break
    return s


def const_start_minus(n, k):
    s = 0
    for i in range(-3, n):
        s = i - k
    return s


def gather(a, n):
    s = 0.0
    for i in range(n):
        s += a[i]
    return s


def gather_shifted(a, n):
    s = 0.0
    for i in range(n):
        s += a[i - 1]
    return s


def scatter(a, b):
    for i in range(1, len(a) - 1):
        b[i] = a[i - 1] + a[i + 1]
    return b[1]


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def guarded_minus(n):
    if n < -(2**63) + 5:
        return 0
    return n - 3, n - 5, n - 6


def guarded_le(n, k):
    while k > 0:
        k -= 1
        if n <= -(2**63) + 2:
            continue
        return n - 3
    return 0


def dot(a, b):
    n = a.shape[0]
    acc = 0.0
    for i in range(n):
        acc += a[i] * b[i]
    return acc


def row_copy(a, out, k):
    for j in range(len(a)):
        out[k, j] = a[j] * 2.0
    return out[k, 0]


def const_index(a, b, n):
    s = 0.0
    for j in range(n):
        s += a[5] * b[j + 1]
    return s


def shifted_store(a, out):
    for j in range(len(a)):
        out[j - 1] = a[j]
    return out[0]


def with_break_else(a, b, stop):
    t = 0.0
    for j in range(len(a)):
        if j == stop:
            break
        if a[j] < 0:
            continue
        t += b[j]
    else:
        t = -t
    return t
"""


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("loopfacts"), SOURCE)


@pytest.mark.parametrize("start,n", [(0, 10), (I64_MAX - 3, I64_MAX), (-5, -1)])
def test_loop_variable_plus_one_never_overflows(mods, start, n):
    assert_same(*mods, "plus", start, n, 1)


@pytest.mark.parametrize("start,n", [(0, 10), (I64_MAX - 3, I64_MAX)])
def test_loop_variable_plus_two_is_checked(mods, start, n):
    # i + 2 reaches 2**63 on the last iteration: a Python int beyond i64 (deoptimizes).
    assert_same(*mods, "plus_two", start, n, native=(n < 100))


@pytest.mark.parametrize("start,n", [(0, 10), (I64_MAX - 3, I64_MAX)])
def test_loop_variable_plus_slack(mods, start, n):
    assert_same(*mods, "plus_two_slack", start, n)
    assert_same(*mods, "plus_three_slack", start, n, native=(n < 100))


def test_loop_variable_minus_from_zero(mods):
    assert_same(*mods, "minus_from_zero", 20)


def test_loop_variable_minus_below_i64_is_checked(mods):
    assert_same(*mods, "minus_from_negative", 5, native=False)
    assert_same(*mods, "const_start_minus", 2, 2**63 - 2, native=False)
    assert_same(*mods, "const_start_minus", 2, 7)


def test_loop_variable_indexes(mods):
    a = np.arange(8.0)
    assert_same(*mods, "gather", a, 8)
    assert_same(*mods, "gather", a, 9)            # IndexError at i == 8
    assert_same(*mods, "gather_shifted", a, 8)    # a[-1] on the first iteration
    assert_same(*mods, "gather_shifted", a, 10)   # IndexError at i - 1 == 8
    assert_same(*mods, "scatter", a, np.zeros(8))
    assert_same(*mods, "scatter", a, np.zeros(3))  # b shorter than a: IndexError


def test_versioned_loops_match_cpython(mods):
    # Each function runs once with every access in bounds (the copy of the loop without
    # checks) and once where the test before the loop fails (the checked copy), which must
    # fail at the same iteration, after the same stores, with the same message.
    a = np.arange(1.0, 9.0)
    assert_same(*mods, "dot", a, a[::-1].copy())
    assert_same(*mods, "dot", a, np.ones(5))
    assert_same(*mods, "dot", a, np.ones(7))                   # one short: IndexError at i == 7
    assert_same(*mods, "row_copy", a, np.zeros((3, 8)), 2)
    assert_same(*mods, "row_copy", a, np.zeros((3, 8)), -1)    # a negative row: checked copy
    assert_same(*mods, "row_copy", a, np.zeros((3, 8)), 3)     # IndexError on the first store
    assert_same(*mods, "row_copy", a, np.zeros((3, 5)), 1)     # IndexError at j == 5
    assert_same(*mods, "row_copy", a, np.zeros((3, 7)), 1)     # IndexError at j == 7
    assert_same(*mods, "const_index", a, a, 7)
    assert_same(*mods, "const_index", a[:4].copy(), a, 7)      # a[5] out of bounds
    assert_same(*mods, "const_index", a, a, 8)                 # b[8] out of bounds
    assert_same(*mods, "const_index", a[:5].copy(), a, 7)      # a[5] just out of bounds
    assert_same(*mods, "shifted_store", a, np.zeros(8))        # out[-1] first: never versioned
    for stop in (3, 100):
        assert_same(*mods, "with_break_else", np.array([1.0, -2.0, 3.0, 4.0, 5.0]), np.arange(5.0), stop)
        assert_same(*mods, "with_break_else", np.array([1.0, -2.0, 3.0, 4.0, 5.0]), np.arange(4.0), stop)


@pytest.mark.parametrize("n", [0, 1, 2, 20, -5, -(2**63), -(2**63) + 4, -(2**63) + 5, -(2**63) + 6, 2**63 - 1])
def test_lower_bounds_after_early_exits(mods, n):
    # After `if n < c: return`, `n - k` needs no overflow check while c - k stays in i64;
    # beyond that the check must stay (n - 6 at n == -2**63 + 5 is a Python int).
    if -2 <= n <= 20:
        assert_same(*mods, "fib", n)
    assert_same(*mods, "guarded_minus", n, native=False)
    assert_same(*mods, "guarded_le", n, 2, native=False)
