"""Names reused for values of other types (live-range splitting, ``frontend::webs``).

A local name that holds an int in one part of a function and a numpy.intp, a float or a
numpy.float32 in another is one variable per web of definitions and uses, each with its own
type; every result must still be CPython's (values, types, the value a zero-trip loop leaves,
what a deoptimization hands to the interpreter).
"""
import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, modules  # noqa: E402

SOURCE = """
import math
import numpy as np

def window_index(a, w):
    # move_nanmean's shape: `i` is a range() int, then a numpy.intp used as an index.
    window = w[0]
    s = 0.0
    for i in range(window - 1):
        s += a[i]
    i = window - 1
    s += a[i]
    for i in range(window, len(a)):
        s += a[i] - a[i - window]
    return s

def window_index_kept(a, w):
    # The same, but `i` is read after the last loop: a zero-trip loop leaves `window - 1`
    # (a numpy.intp) there, so the loop's web and the assignment's are one.
    window = w[0]
    i = window - 1
    s = a[i]
    for i in range(window, len(a)):
        s += a[i]
    return s, i

def expit(x):
    # numba-examples' expit: a numpy.float32 parameter rebound to a float on one path.
    if x > 0:
        x = math.exp(x)
        return x / (1 + x)
    else:
        return 1 / (1 + math.exp(-x))

def phases(n):
    x = 0
    for k in range(n):
        x += k
    a = x * 2
    x = 1.5
    b = x / 4
    x = np.float32(2.5)
    c = x * x
    return a, b, c, x

def zero_trip(n):
    i = np.int64(7)
    for i in range(n):
        pass
    return i

def aug(n):
    x = n
    x += 0.5
    y = x
    x = n * 3
    return y, x

def deopt_after_reuse(n):
    x = 2.5
    y = x * 2
    x = n
    x = x * x * x * x
    return x, y

def loop_with_break(a):
    t = 0
    for k in range(a.shape[0]):
        t = a[k]
        if t < 0:
            break
        t = k * 2
    total = t
    t = 1.25
    return total, t

def tuple_targets(a):
    j, k = 0, 1
    a[j] = 3.0
    j, k = 2.5, a[k]
    return j, k
"""


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("webs"), SOURCE)


def test_loop_index_then_numpy_intp_index(mods):
    plain, jit = mods
    a = np.random.RandomState(0).randn(50)
    for w in (1, 3, 10):
        assert_same(plain, jit, "window_index", a, np.array([w], dtype=np.intp))
    for w in (3, 50, 60):
        assert_same(plain, jit, "window_index_kept", a[:10], np.array([w], dtype=np.intp), native=False)


def test_parameter_rebound_to_another_type_on_one_path(mods):
    plain, jit = mods
    for v in (np.float32(-2.5), np.float32(0.0), np.float32(1.75), -3.0, 0.5, 2.0):
        assert_same(plain, jit, "expit", v)


def test_one_name_three_types_in_sequence(mods):
    plain, jit = mods
    for n in (0, 5, 100):
        assert_same(plain, jit, "phases", n)


def test_zero_trip_loop_keeps_the_earlier_value(mods):
    plain, jit = mods
    for n in (0, 1, 4):
        assert_same(plain, jit, "zero_trip", n, native=False)


def test_augmented_assignment_and_reuse(mods):
    plain, jit = mods
    for n in (0, 7, -3):
        assert_same(plain, jit, "aug", n)


def test_deoptimization_hands_over_the_live_web(mods):
    plain, jit = mods
    # 2**20 ** 4 overflows int64: the interpreter goes on with the int `x`, not the float one.
    for n in (3, 2**20, -(2**17)):
        assert_same(plain, jit, "deopt_after_reuse", n, native=False)
    assert jit.deopt_after_reuse.stats()["native_calls"] >= 1


def test_break_and_reuse(mods):
    plain, jit = mods
    assert_same(plain, jit, "loop_with_break", np.array([1.0, 2.0, -1.0, 4.0]), native=False)
    assert_same(plain, jit, "loop_with_break", np.array([1.0, 2.0]), native=False)
    assert_same(plain, jit, "loop_with_break", np.zeros(0), native=False)


def test_tuple_targets(mods):
    plain, jit = mods
    assert_same(plain, jit, "tuple_targets", np.zeros(3))
