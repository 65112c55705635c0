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
