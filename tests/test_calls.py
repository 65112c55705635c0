"""Calls from Python with keyword arguments and default values (issue 12, item 6): bound as
CPython binds them, then run natively; a call CPython refuses (an unknown keyword, a missing
argument, a value given twice) runs as Python and raises its own TypeError.
"""

import pytest

from test_ufuncs import PRELUDE, compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_keywords_and_defaults(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def f(x, y=2.0, n=3):
        s = 0.0
        for i in range(n):
            s += x * y
        return s

    # heron: jit
    def h(x, y=2.0, n=3):
        return x * y * n

    # heron: jit
    def g(a, out=None, scale=1.5, /, *ignored_star_args_make_it_python, **kw):
        return a

    # heron: jit
    def centred(a, h=0.1):
        out = np.zeros(a.shape[0])
        for i in range(1, a.shape[0] - 1):
            out[i] = (a[i + 1] - a[i - 1]) / (2 * h)
        return out

    print(f(1.0), f(1.0, 3.0), f(1.0, n=5), f(x=2.0, y=1.0), f(1.0, 2.0, 4), f(n=2, x=1.0))
    for bad in ({"z": 3}, {"x": 1.0, "y": 1.0, "n": 1, "w": 0}):
        try:
            h(**bad)
        except TypeError as e:
            print("TypeError", e)
    try:
        h()
    except TypeError as e:
        print("TypeError", e)
    try:
        h(1.0, x=2.0)
    except TypeError as e:
        print("TypeError", e)
    show(centred(np.linspace(0.0, 1.0, 6) ** 2))
    show(centred(np.linspace(0.0, 1.0, 6) ** 2, h=0.5))
    print(g(3))
    """, native=["f", "centred"])


def test_none_results_and_is_none(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def find(a, x):
        for i in range(a.shape[0]):
            if a[i] == x:
                return i
        return None

    # heron: jit
    def first_negative(a):
        for v in a:
            if v < 0:
                return v
        return None

    # heron: jit
    def where_or_minus_one(a, x):
        r = find(a, x)
        if r is None:
            return -1
        return r

    # heron: jit
    def default_step(a, step=None):
        if step is not None:
            return a[0] * step
        return a[0]

    a = np.array([1.0, 3.0, -2.0])
    print(find(a, 3.0), find(a, 7.0), first_negative(a), first_negative(np.ones(2)))
    print(where_or_minus_one(a, 3.0), where_or_minus_one(a, 9.0))
    print(default_step(a), default_step(a, 2.0))
    """, native=["find", "first_negative", "where_or_minus_one", "default_step"])


def test_optional_result_called_from_a_function_with_side_effects(heron_python, tmp_path):
    # numba-examples' histogram: a caller that stores into an array calls a callee without
    # side effects that returns an int or None. Native code speculates the int; a None
    # hands the call to the interpreter at that statement (the callee is called again there,
    # harmlessly), which finishes the loop with the stores made so far kept.
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def compute_bin(x, lo, hi, n):
        if x == hi:
            return n - 1
        b = int(n * (x - lo) / (hi - lo))
        if b < 0 or b >= n:
            return None
        return b

    # heron: jit
    def histogram(a, lo, hi, n):
        hist = np.zeros(n, dtype=np.intp)
        for x in a.flat:
            b = compute_bin(x, lo, hi, n)
            if b is not None:
                hist[int(b)] += 1
        return hist

    a = np.random.RandomState(0).normal(0.0, 5.0, size=500)
    print(histogram(a, a.min(), a.max(), 10))
    print(histogram(a.reshape(20, 25).T, -3.0, 3.0, 6))
    """, native=["compute_bin", "histogram"])
