"""Globals and callees stay live (issue 9, item 1): a compiled function sees what CPython sees
in its module's globals, the builtins and the modules it reads, when they change after it was
compiled. Guards on what was read are checked at each call, never inside loops; a scalar global
that keeps changing value is then read at each call instead of recompiling.

Each program runs as a real ``python script.py`` with Heron and with ``HERON_DISABLE=1``.
"""

import pytest

from conftest import compare_with_cpython

pytestmark = pytest.mark.usefixtures("real_native")


def compare(heron_python, tmp_path, source):
    return compare_with_cpython(heron_python, tmp_path, source)[1]


def test_a_global_rebound_in_a_loop(heron_python, tmp_path):
    records = compare(heron_python, tmp_path, """
        dt = 0.1

        # heron: jit
        def step(x):
            for k in range(3):
                x = x + dt
            return x

        for dt in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
            print(step(1.0))
    """)
    rec = records["step"]
    assert rec["native_calls"] == 6 and rec["fallback_calls"] == 0, rec
    # After the first change, `dt` is read at each call rather than recompiled for.
    assert len(rec["signatures"]) <= 2, rec


def test_a_global_that_changes_type(heron_python, tmp_path):
    records = compare(heron_python, tmp_path, """
        K = 2

        # heron: jit
        def scale(x):
            return x * K

        print(scale(3))
        K = 2.5
        print(scale(3))
        K = True
        print(scale(3))
        K = 7
        print(scale(3))
        K = "ab"
        print(scale(3))
    """)
    assert records["scale"]["native_calls"] >= 4


def test_a_redefined_marked_callee(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        # heron: jit
        def g(x):
            return x + 1

        # heron: jit
        def f(x):
            return g(x) * 1

        print(f(1))

        # heron: jit
        def g(x):
            return x + 500

        print(f(1))

        def g(x):
            return x - 1000

        print(f(1))
    """)


def test_a_builtin_shadowed_later_and_a_module_attribute_replaced(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import math

        # heron: jit
        def f(x):
            return abs(x) + math.sqrt(4.0) + math.pi

        print(f(-3))
        abs = lambda x: 42
        print(f(-3))
        del abs
        print(f(-3))
        math.pi = 3.0
        print(f(-3))
        math.sqrt = lambda x: -1.0
        print(f(-3))
    """)


def test_a_global_defined_after_the_first_call(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        # heron: jit
        def f(x):
            return x + LATER

        try:
            f(1)
        except NameError as e:
            print("NameError", e)
        LATER = 10
        print(f(1))
    """)


def test_global_numpy_arrays(heron_python, tmp_path):
    """A module-level NumPy array (a table of coefficients, as Cephes' polynomials in
    numba-examples' j0) is read by compiled code as CPython reads it: its current contents, its
    shape after an in-place `a.shape = ...`, another array after the name is rebound, a store
    through it seen by the caller, the very array when returned."""
    from test_ufuncs import PRELUDE, compare

    compare(heron_python, tmp_path, PRELUDE + """
    COEF = np.array([1.0, -2.0, 0.5, 3.0])
    GRID = np.arange(12.0).reshape(3, 4)
    COUNTS = np.zeros(4, dtype=np.int64)

    # heron: jit
    def polevl(x, coef):
        ans = coef[0]
        for i in range(1, len(coef)):
            ans = ans * x + coef[i]
        return ans

    # heron: jit
    def uses(x):
        COUNTS[int(x) % 4] += 1
        return polevl(x, COEF) + GRID[1, 2] + GRID.shape[1]

    # heron: jit
    def same():
        return COEF

    # heron: jit
    def row_sum(i):
        s = 0.0
        for j in range(GRID.shape[1]):
            s += GRID[i, j]
        return s

    for x in (0.5, 1.0, 2.0):
        show(uses(x))
    COEF[2] = 10.0
    show(uses(3.0))
    COEF = np.array([2.0, 1.0])
    show(uses(0.25))
    GRID.shape = (4, 3)
    show(row_sum(3))
    show(uses(1.5))
    print(same() is COEF)
    show(COUNTS)
    GRID = np.ones((2, 2), dtype=np.int64)
    show(row_sum(1))
    """, native=["uses", "row_sum", "same"])
