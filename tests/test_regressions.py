"""Regression tests from differential fuzzing (tests/fuzz): each is a minimal reproducer of a
difference between Heron and CPython, compared against CPython with ``_compare``.

A test marked ``xfail(strict=True)`` documents a known bug: it fails until the compiler is
fixed, and then XPASSes, which fails the suite as a reminder to remove the mark.
"""
import math

import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, fingerprint, modules, outcome  # noqa: E402


def same(tmp_path, source, *args, name="f"):
    """Assert that ``name(*args)`` behaves identically under CPython and Heron."""
    plain, jit = modules(tmp_path, source)
    expected = outcome(getattr(plain, name), args)
    got = outcome(getattr(jit, name), args)
    assert got == expected, f"CPython gave {expected}, Heron gave {got}"


def test_int32_scalar_minus_out_of_range_python_int(tmp_path):
    # CPython: OverflowError: Python integer 2147483648 out of bounds for int32
    same(tmp_path, """
def f(a):
    v = a[2]
    v -= 2147483648
    return v
""", np.array([1, 1, 1, 1], dtype=np.int32))


def test_index_expressions_evaluated_before_bounds_check(tmp_path):
    # CPython: IndexError: index -7 is out of bounds for axis 1 with size 3 (the inner read)
    # Heron:   IndexError: index 4 is out of bounds for axis 0 with size 4
    same(tmp_path, """
def f(n, a):
    return a[4, a[0, n]]
""", -7, np.arange(12, dtype=np.int64).reshape(4, 3))


def test_index_expression_raises_before_bounds_check(tmp_path):
    # CPython: ZeroDivisionError: integer division or modulo by zero
    # Heron:   IndexError: index 3 is out of bounds for axis 0 with size 2
    same(tmp_path, """
def f(a, z):
    return a[3, 1 // z]
""", np.zeros((2, 4)), 0)


def test_math_ceil_of_int64_goes_through_float(tmp_path):
    # CPython: math.ceil(np.int64(2**63 - 1)) == 2**63 (a Python int: the call deoptimizes)
    same(tmp_path, """
import math
def f(a):
    return math.ceil(a[1]) % 5, math.floor(a[1]) % 5
""", np.array([1, 2**63 - 1], dtype=np.int64))


def test_math_floor_of_int64_rounds_through_float(tmp_path):
    same(tmp_path, """
import math
def f(a):
    return math.floor(a[0])
""", np.array([2**53 + 1], dtype=np.int64))


def test_math_trunc_of_int64_raises_type_error(tmp_path):
    # CPython: TypeError: type numpy.int64 doesn't define __trunc__ method
    same(tmp_path, """
import math
def f(a):
    return math.trunc(a[0])
""", np.array([7, 2], dtype=np.int64))


def test_math_trunc_of_float32_raises_type_error(tmp_path):
    # CPython: TypeError: type numpy.float32 doesn't define __trunc__ method
    same(tmp_path, """
import math
def f(a):
    return math.trunc(a[0])
""", np.array([2.5], dtype=np.float32))


def test_int32_array_augmented_store_out_of_range_python_int(tmp_path):
    # CPython: OverflowError: Python integer 4611686018427387904 out of bounds for int32
    same(tmp_path, """
def f(a):
    a[0, 0] *= 4611686018427387904
    return a[0, 0]
""", np.zeros((1, 1), dtype=np.int32))


def test_int32_scalar_floordiv_out_of_range_python_int(tmp_path):
    same(tmp_path, """
def f(a, n):
    return a[0] // n
""", np.array([-1], dtype=np.int32), 2**62)


# NumPy sends a mixed-type power (np.int64 ** float, float ** np.int32, ...) through the
# np.power ufunc, whose float64 loop is NumPy's own SIMD code on CPUs with AVX-512 (not libm's
# pow, which np.float64 ** float and CPython's float ** float use); the last bit can differ.
_UFUNC_POW_DIFFERS = float(np.power(np.float64(7.0), 1.5)) != math.pow(7.0, 1.5)


def test_int64_scalar_power_float_uses_numpy_power_loop(tmp_path):
    # CPython: np.float64(18.520259177452132); Heron: np.float64(18.520259177452136) (libm)
    same(tmp_path, """
def f(a, y):
    return a[0] ** y
""", np.array([7], dtype=np.int64), 1.5)


def test_float_power_int32_scalar_uses_numpy_power_loop(tmp_path):
    # CPython: np.float64(7.1639295999999996e+75); Heron: np.float64(7.1639296e+75)
    same(tmp_path, """
def f(x, a):
    return x ** a[0]
""", 9.2e18, np.array([4], dtype=np.int32))


def test_powers_in_both_arms_of_conditional_compile(tmp_path):
    plain, jit = modules(tmp_path, """
def f(x, c):
    return x ** 3 if c else x ** 2
""")
    assert_same(plain, jit, "f", 1.5, 0, native=True)
    assert_same(plain, jit, "f", 1.5, 1, native=True)


def test_true_division_of_a_variable_that_was_int_keeps_the_int_message(tmp_path):
    # fuzz seed 777838. CPython: ZeroDivisionError("division by zero") (int / int);
    # Heron had typed v0 as float and raised "float division by zero".
    same(tmp_path, """
def f():
    v0 = 0
    v0 /= 0
""")


def test_numpy_int_stored_into_a_signed_array_is_range_checked(tmp_path):
    # fuzz seed 782723. NumPy: OverflowError("Python integer 4611686018427387905 out of bounds
    # for int32"); Heron had wrapped the value.
    same(tmp_path, """
def f(p0, p1):
    p1[0] += p0[0, 0]
""", np.array([4611686018427387904, 1, 1, 0], dtype=np.int64).reshape(1, 4), np.array([1], dtype=np.int32))
    # ...while a NumPy int stored into an unsigned array wraps, as in NumPy.
    same(tmp_path, """
def g(a, b):
    a[0] = b[0]
""", np.zeros(1, dtype=np.uint8), np.array([-1], dtype=np.int64), name="g")


def test_deoptimization_continues_with_its_own_modules_globals(tmp_path):
    # Fuzzing on 3.13 (CI): two programs with the same function source share equal code
    # objects (code equality ignores the file); the continuation cache was keyed by the code
    # object, so a deoptimization in the second module read the first module's globals
    # (CPython: 2.5, Heron: 1.5).
    import importlib.util
    import sys

    from heron._native import Dispatcher

    source = "K = {}\n\ndef f(n):\n    s = 0\n    for i in range(n):\n        s += 2 ** 62\n    return K\n"
    results = []
    for k, value in enumerate((1.5, 2.5)):
        path = tmp_path / f"same_source_{k}.py"
        path.write_text(source.format(value))
        spec = importlib.util.spec_from_file_location(f"same_source_{k}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        mod.f = Dispatcher(mod.f)
        results.append(mod.f(3))
        assert mod.f.stats()["deopts"] == 1, mod.f.stats()
    assert results == [1.5, 2.5]


def test_loop_in_a_branch_found_dead_compiles(tmp_path):
    # `if False:` around a loop: inference drops the branch, and the loop analysis must not ask
    # for its types (an internal compiler error, found by the fuzzer).
    plain, jit = modules(tmp_path, """
def f(p1):
    if False:
        for i0 in range(3):
            pass
    return p1 * 2
""")
    assert_same(plain, jit, "f", 1.5)


def test_invert_of_a_bool_runs_as_python(tmp_path):
    # `~True` is -2 with a DeprecationWarning on Python 3.12+ (found by the differential test):
    # left to the interpreter, which warns; `~` of an int compiles.
    import warnings
    plain, jit = modules(tmp_path, """
def f(p0):
    return ~p0
""")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert_same(plain, jit, "f", True, native=False)
    assert_same(plain, jit, "f", 5)


def test_numpy_power_of_one_clears_a_nans_sign(tmp_path):
    # Seed 778405: (0 % a).sum() ** 1 with a 0.0 in `a`: NumPy's remainder gives -nan, and
    # NumPy's power gives +nan for np.float64(-nan) ** 1 (CPython's float ** 1 keeps -nan).
    neg_nan = np.array([0xFFF8000000000001], dtype=np.uint64).view(np.float64)[0]
    src = """
def f(x, a):
    return x ** 1, float(x) ** 1, (0 % a).sum() ** 1, x ** 3
"""
    for x in (neg_nan, -neg_nan, np.float64(-2.5)):
        same(tmp_path, src, x, np.array([0.0, 1.5]))


def test_power_of_zero_still_reports_its_bases_errors(tmp_path):
    # Seed 903383: (1 / a[1]) ** 0 with a[1] == 0.0 is 1.0, but the division still warns
    # "divide by zero" (and raises under errstate(divide="raise")); the base must not be
    # removed as dead code when the reports come from the processor's sticky flags.
    import warnings
    src = """
def f(a):
    v = (1 / a[1]) ** 0
    return v
"""
    plain, jit = modules(tmp_path, src)
    a = np.array([1.0, 0.0])
    seen = []
    for fn in (plain.f, jit.f):
        with warnings.catch_warnings(record=True) as caught, np.errstate(divide="warn"):
            warnings.simplefilter("always")
            r = fn(a)
        seen.append((fingerprint(r), [str(w.message) for w in caught]))
    assert seen[0] == seen[1] and seen[0][1] == ["divide by zero encountered in scalar divide"]
    with np.errstate(divide="raise"):
        assert_same(plain, jit, "f", a)
