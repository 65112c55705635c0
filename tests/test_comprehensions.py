"""Comprehensions inside ``sum``, ``any``, ``all``, ``min`` and ``max`` (issue 12, item 4):
compiled natively as the loops the builtin runs, with CPython's results on each version
(from 3.12 on, ``sum`` of Python floats is compensated, gh-100425), Python's scoping (the loop
variable is the comprehension's own), a deoptimization in the loop handing the whole statement
to the interpreter (side effects and warnings once), and the cases Heron does not compile
running as Python with the reason.
"""

import json

import pytest

from conftest import run_python
from test_ufuncs import PRELUDE, compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_reductions_of_comprehensions(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    import math

    # heron: jit
    def sums(a, n):
        return (sum(x * x for x in a), sum(i * 0.1 for i in range(n) if i % 3),
                sum(i for i in range(n)), sum([i / 7.0 for i in range(n)]),
                sum(i * j for i in range(n) for j in range(i, n + 2) if j % 2))

    # heron: jit
    def dot(a, b):
        return sum(a[i] * b[i] for i in range(len(a)))

    # heron: jit
    def started(a, s, k):
        # A float start compensates from the start on 3.12+; an int start of int items adds.
        return (sum((x * 0.1 for x in a), s), sum((x for x in a), -0.0), sum((i for i in range(k)), 10),
                sum((i for i in range(k)), start=k), sum((x / 3 for x in a), 0))

    # heron: jit
    def compensated(n):
        # 3.12+: 0.1 * (n - 2), 3.10/3.11: the rounding of 1e16 swallows them.
        return sum(1e16 if i == 0 else (-1e16 if i == n - 1 else 0.1) for i in range(n))

    # heron: jit
    def tests(a, t):
        return (any(x > t for x in a), all(x > t for x in a), any([x > t for x in a]),
                any(i * j == 12 for i in range(5) for j in range(5)))

    # heron: jit
    def extremes(a):
        return max(abs(x) for x in a), min(x for x in a), max(i % 7 for i in range(len(a) + 3))

    # heron: jit
    def row_max(m):
        return max(sum(m[i, j] for j in range(m.shape[1])) for i in range(m.shape[0]))

    # heron: jit
    def norms(xs):
        s = 0.0
        for k in range(3):
            s += math.sqrt(sum(x * x for x in xs)) * k
        if sum(x for x in xs) > 0:
            s += 1
        return s

    a = np.linspace(-2.0, 3.0, 11)
    b = np.arange(11.0)
    for x in (a, a[:0], np.arange(5), np.array([np.nan, 1.0, 2.0]), np.array([1.0, np.nan, -np.inf])):
        show(sums(x, len(x)))
        show(tests(x, 0.5))
        if len(x):
            show(extremes(x))
    show(dot(a, b))
    show(started(a, 1e16, 5))
    show(started(a[:0], 0.5, 0))
    show(started(-a, -1e16, 3))
    for n in (0, 1, 2, 5, 12):
        show(compensated(n))
    show(row_max(np.arange(12.0).reshape(3, 4)))
    show(norms(a))
    show(norms(-a))
    for bad in (a[:0],):
        try:
            extremes(bad)
        except ValueError as e:
            print("ValueError", e)
    """, native=["sums", "dot", "started", "compensated", "tests", "extremes", "row_max", "norms"])


def test_comprehension_scoping_and_shadowed_builtins(heron_python, tmp_path):
    heron = compare(heron_python, tmp_path, PRELUDE + """
    x = 1000

    # heron: jit
    def own_variable(a):
        i = 7
        t = sum(i * 2 for i in range(len(a)))
        # x is the global: the comprehension's x is its own.
        u = max(x for x in a) + x
        v = sum(sum(i for i in range(i)) for i in range(5))
        return t, i, u, v

    def any(values):
        return "mine"

    # heron: jit
    def shadowed(a):
        return any(x > 0 for x in a)

    show(own_variable(np.arange(6.0)))
    show(shadowed(np.arange(3.0)))
    """, native=["own_variable"])
    report = {r["qualname"]: r for r in json.loads((tmp_path / "report.json").read_text())}
    assert report["shadowed"]["native_calls"] == 0


def test_deoptimization_in_a_comprehension_runs_the_statement_once(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    import warnings
    warnings.simplefilter("always")

    # heron: jit
    def big(a, k):
        print("before")
        s = sum(x * k for x in a)
        print("after", s)
        return s

    # heron: jit
    def warns(a, k):
        print("start")
        r = sum(np.float64(1.0) / x + k * k for x in a)
        print("end")
        return r

    show(big(np.arange(5), 3))
    show(big(np.arange(5), 2 ** 62))
    show(warns(np.array([1.0, 0.0, 2.0]), 3))
    show(warns(np.array([1.0, 0.0, 2.0]), 2 ** 32))
    """, native=[])


def test_comprehensions_heron_leaves_to_python(heron_python, tmp_path):
    source = PRELUDE + """
    # heron: jit
    def effects(a):
        return sum(noisy(x) for x in a)

    # heron: jit
    def listed(a):
        return [x for x in a]

    # heron: jit
    def conditional(a, c):
        return a[0] + sum(x for x in a) if c else 0.0

    # heron: jit
    def noisy(x):
        print("item", x)
        return x

    show(effects(np.arange(3.0)))
    show(listed(np.arange(3.0)))
    show(conditional(np.arange(3.0), True))
    """
    compare(heron_python, tmp_path, source)
    report = {r["qualname"]: r for r in json.loads((tmp_path / "report.json").read_text())}
    for name in ("effects", "listed", "conditional"):
        assert report[name]["native_calls"] == 0, report[name]
        assert "comprehension" in json.dumps(report[name]), report[name]


def test_numpy_array_of_numbers_written_out(heron_python, tmp_path):
    """``numpy.array``/``asarray`` of a list or tuple display of numbers (issue 11, item 4):
    NumPy's dtype discovery (bool, int64, float64) and shape, a new array each call."""
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def kde(X):
        b = 0.5
        points = np.array([-1.0, 2.0, 5.0])
        s = 0.0
        for i in range(X.shape[0]):
            d = (-(X[i] - points) ** 2) / (2 * b ** 2)
            s += np.log(np.sum(np.exp(d - np.min(d))))
        return s

    # heron: jit
    def kinds(x, n, flag):
        return np.array([1, 2, n]), np.array([1, 2.5, n]), np.array((True, flag))

    # heron: jit
    def more(x, n, flag):
        return np.asarray([[x, 1], [n, flag]]), np.array([]), np.array([flag, n])

    # heron: jit
    def rows(x):
        return np.array([[1, 2, 3]]), np.asarray((x, x * 2))

    show(kde(np.linspace(-3, 6, 7)))
    for r in kinds(0.25, 2 ** 60 + 1, False) + more(0.25, 2 ** 60 + 1, False) + rows(0.1):
        show(r)
    a = kinds(1.0, 3, True)[0]
    a[0] = 99
    show(kinds(1.0, 3, True)[0])
    """, native=["kde", "kinds", "more", "rows"])


def test_random_draws_in_a_comprehension(heron_python, tmp_path):
    """A comprehension that draws from `random` compiles where nothing in its statement can
    hand the call to the interpreter (which would draw again): a float sum does; an int count
    (whose overflow would) runs as Python. Both continue the interpreter's one stream."""
    compare(heron_python, tmp_path, PRELUDE + """
    import random

    # heron: jit
    def total_draw(n):
        return sum(random.uniform(-1.0, 1.0) for _ in range(n))

    # heron: jit
    def any_small(n, p):
        return any(random.random() < p for _ in range(n))

    # heron: jit
    def inside(n):
        return sum(1 for _ in range(n) if random.random() ** 2 + random.random() ** 2 < 1.0)

    random.seed(12)
    print(total_draw(1000), total_draw(0), any_small(50, 0.01), any_small(50, 0.5))
    print(4.0 * inside(2000) / 2000)
    print(random.random())
    """, native=["total_draw", "any_small"])
