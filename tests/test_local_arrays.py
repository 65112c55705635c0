"""Arrays made and used only inside a compiled function (`types::infer::local_arrays`): they
are allocated without NumPy, freed when their variable is reassigned or the function returns,
and stores into them are not side effects (the call can still be re-run by the interpreter).
Everything is compared with CPython; arrays that do leave the function stay NumPy arrays."""
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, modules  # noqa: E402

SOURCE = """
import numpy as np


def fill_sum(n, rounds):
    total = 0.0
    for r in range(rounds):
        a = np.empty(n)
        for j in range(n):
            a[j] = (j + r) * 0.5
        total += a[n - 1] - a[0]
    return total


def kinds(n):
    z = np.zeros((n, 3), dtype=np.int32)
    o = np.ones(n, dtype=np.uint8)
    f = np.ones((2, n))
    b = np.zeros(n, dtype=np.bool_)
    g = np.ones(n, dtype=np.float32)
    s = 0
    for i in range(n):
        s += int(z[i, 2]) + int(o[i]) + int(b[i])
    return s, f[1, n - 1], f.shape[0], len(o), z.size, z.ndim, g[0]


def negative(n):
    a = np.zeros(n)
    return a.size


def empty_size(n):
    a = np.zeros((n, 0))
    return a.shape[0], a.size


def out_of_bounds(n):
    a = np.zeros(n)
    return a[n]


def overflow_after_stores(n):
    a = np.zeros(n, dtype=np.int64)
    for i in range(n):
        a[i] = i
    x = 2**62
    return x * 4 + a[n - 1]


def float_overflow_after_stores(n, big):
    a = np.zeros(n)
    for i in range(n):
        a[i] = big
    return a[0] * a[n - 1]


def escapes_by_return(n):
    a = np.zeros(n)
    a[0] = 5.0
    return a


def escapes_by_alias(n):
    a = np.ones(n)
    b = a
    b[0] = 7.0
    return a[0] + b[0]


def escapes_by_view(n):
    a = np.ones((n, n))
    row = a[1]
    row[0] = 3.0
    return a[1, 0]


def helper(a):
    a[0] = 9.0


def escapes_by_call(n):
    a = np.zeros(n)
    helper(a)
    return a[0]
"""


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("local"), SOURCE)


def test_local_arrays_compute_as_numpy(mods):
    assert_same(*mods, "fill_sum", 100, 7)
    assert_same(*mods, "kinds", 5)
    assert_same(*mods, "empty_size", 4)


def test_local_array_errors_are_numpys(mods):
    assert_same(*mods, "negative", -3)        # ValueError: negative dimensions are not allowed
    assert_same(*mods, "negative", 2**62)     # NumPy: array is too big / MemoryError
    assert_same(*mods, "out_of_bounds", 4)


def test_stores_into_local_arrays_are_not_effects(mods):
    # The int overflow deoptimizes: the interpreter re-runs the call (a Python int result)
    # instead of refusing because data already changed.
    plain, jit = mods
    assert_same(plain, jit, "overflow_after_stores", 10)
    assert jit.overflow_after_stores.stats()["deopts"] >= 1


def test_numpy_float_errors_after_local_stores(mods):
    plain, jit = mods
    with np.errstate(over="raise"):
        assert_same(plain, jit, "float_overflow_after_stores", 4, 1e200, native=False)
    with np.errstate(over="ignore"):
        assert_same(plain, jit, "float_overflow_after_stores", 4, 1e200, native=False)
    assert_same(plain, jit, "float_overflow_after_stores", 4, 3.0)


def test_escaping_arrays_stay_numpy_arrays(mods):
    assert_same(*mods, "escapes_by_return", 3)
    assert_same(*mods, "escapes_by_alias", 3)
    assert_same(*mods, "escapes_by_view", 3, native=False)
    assert_same(*mods, "escapes_by_call", 3)


def test_local_arrays_are_freed_on_reassignment(tmp_path):
    # 5,000 arrays of 80 kB, every page written: 400 MB if none were freed before the call
    # returns.
    script = tmp_path / "churn.py"
    script.write_text(textwrap.dedent("""
        import resource, sys
        import numpy as np
        from heron._native import Dispatcher

        def churn(rounds):
            s = 0.0
            for r in range(rounds):
                a = np.ones(10000)
                a[r % 10000] = 2.0
                s += a[0]
            return s

        f = Dispatcher(churn)
        f(10)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert f(5000) == churn(5000)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert f.stats()["native_calls"] == 2, f.stats()
        print(grown)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 100_000, f"resident memory grew by {out.stdout.strip()} kB"
