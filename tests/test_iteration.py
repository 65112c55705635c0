"""Loops over arrays with ``zip`` and ``enumerate`` (issue 11 item 5, issue 12 item 5), and
accumulators that start as a Python float and become ``numpy.float64`` (issue 12 item 7):
compiled natively, with CPython's results; a deoptimization inside such a loop goes on in the
interpreter with the same ``zip``/``enumerate`` state, and a speculation on the
accumulator's type that fails (an empty array leaves it a Python float) hands the call to the
interpreter at that statement, side effects and all.
"""

import pytest

from test_ufuncs import PRELUDE, compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_zip_and_enumerate(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def dot(a, b):
        s = 0.0
        for x, y in zip(a, b):
            s += x * y
        return s

    # heron: jit
    def weighted(a, out):
        s = 0.0
        for i, x in enumerate(a):
            s += i * x
        for i, x in enumerate(a, 10):
            s -= i * x
        for i, x in enumerate(a, start=-1):
            s += i
            out[i + 1] = s
        return s / len(a)

    # heron: jit
    def rows(m, w):
        out = np.zeros(m.shape[0])
        for k, r in enumerate(m):
            out[k] = np.dot(r, w)
        return out

    # heron: jit
    def three(a, b, c, out):
        n = 0
        for x, y, z in zip(a, b, c):
            if x + y + z > 1.0:
                n += 1
            else:
                n += 2 ** 70   # too big for 64 bits: the interpreter goes on with the zip
            out[0] += 1
        return n

    a = np.linspace(0.0, 1.0, 7)
    b = np.arange(5.0)
    show(dot(a, b))
    out = np.zeros(7)
    show(weighted(a, out))
    show(out)
    show(rows(np.arange(6.0).reshape(3, 2), np.ones(2)))
    out = np.zeros(1)
    print(three(a, b, a[::-1], out))
    show(out)
    # An empty array: the accumulator stays a Python float; `s / len(a)` raises as in CPython.
    try:
        weighted(np.zeros(0), np.zeros(1))
    except ZeroDivisionError as e:
        print("ZeroDivisionError", e)
    """, native=["dot", "weighted", "rows", "three"])


def test_accumulator_speculation_in_a_function_with_effects(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def mean_into(a, out):
        s = 0.0
        for x in a:
            s += x
        out[0] = 1.0
        s /= 2
        out[1] = s
        return s

    out = np.zeros(2)
    show(mean_into(np.arange(4.0), out))
    show(out)
    out = np.zeros(2)
    show(mean_into(np.zeros(0), out))   # the guess (numpy.float64) fails after a store
    show(out)
    """, native=["mean_into"])


def test_loops_over_tuples_of_one_type(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def life(g):
        n = g.shape[0]
        out = np.zeros_like(g)
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                s = 0
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        if di != 0 or dj != 0:
                            s += g[i + di, j + dj]
                out[i, j] = 1 if s == 3 or (s == 2 and g[i, j] == 1) else 0
        return out

    # heron: jit
    def weights(x):
        t = (0.25, 0.5, 0.25)
        s = 0.0
        for k in range(3):
            s += t[k] * x[k]
        return s + t[-1]

    g = (np.random.default_rng(0).random((8, 8)) > 0.5).astype(np.int64)
    show(life(g))
    show(weights(np.arange(3.0)))
    """, native=["life", "weights"])


def test_max_of_a_float_and_a_numpy_float(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def maxerr(a, b):
        err = 0.0
        for i in range(a.shape[0]):
            err = max(err, abs(a[i] - b[i]))
        return err

    # heron: jit
    def relax(u, tol):
        err = 0.0
        low = 1e300
        for i in range(1, u.shape[0] - 1):
            v = 0.5 * (u[i - 1] + u[i + 1])
            err = max(err, abs(v - u[i]))
            low = min(v, low)
            u[i] = v
        return err > tol, err, low

    a = np.linspace(0.0, 1.0, 5)
    for x, y in [(a, a[::-1].copy()), (a, a), (np.zeros(0), np.zeros(0)), (np.array([np.nan, 1.0]), np.zeros(2))]:
        show(maxerr(x, y))
    u = np.random.default_rng(0).random(10)
    for r in relax(u, 0.1):
        show(r)
    show(u)
    # Nothing changes err: it stays a Python float, and the tuple's guess deoptimizes.
    for r in relax(np.ones(2), 0.1):
        show(r)
    """, native=["maxerr", "relax"])
