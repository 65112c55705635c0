"""NumPy functions and array methods that compiled code calls through NumPy itself (issue 11,
items 3, 4 and 6): reductions and statistics with ``axis``, sorting, ``linalg``, constructors
and the legacy random state, whose stream is the interpreter's own (seed in Python, draw in
compiled code, continue in Python: one stream, as CPython gives it; Numba's differs).

Each program runs as ``python script.py`` with Heron and with ``HERON_DISABLE=1``; stdout,
stderr and the exit code must be identical, and the functions named must run natively.
"""

import pytest

from test_ufuncs import PRELUDE, compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_reductions_and_methods(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def whole(a):
        return a.sum(), a.mean(), np.std(a), a.max(), np.argmin(a)

    # heron: jit
    def along(m):
        return m.sum(axis=0), np.mean(m, axis=1), m.cumsum()

    # heron: jit
    def more(m, v):
        return np.dot(m, v), np.linalg.norm(v), np.sort(v), v.copy(), np.median(v)

    # heron: jit
    def inplace(v):
        v.sort()
        return v[0] + np.percentile(v, 25.0)

    rng = np.random.default_rng(3)
    a = rng.standard_normal(5000) * 1e3
    for r in whole(a) + whole(a.astype(np.float32)) + whole(np.arange(7, dtype=np.int32)):
        show(r)
    m = a[:12].reshape(3, 4)
    for x in (m, m.T, a[:24].reshape(2, 3, 4)[:, 1]):
        for r in along(x):
            show(r)
    for r in more(m, a[:4]):
        show(r)
    v = a[:9].copy()
    show(inplace(v))
    show(v)

    # NumPy's own errors and warnings, from compiled code.
    # heron: jit
    def empty_max(a):
        return a.max()
    try:
        empty_max(np.zeros(0))
    except ValueError as e:
        print("ValueError", e)
    # heron: jit
    def empty_mean(a):
        return a.mean()
    show(empty_mean(np.zeros(0)))
    """, native=["whole", "along", "more", "inplace"])


def test_legacy_random_stream_is_shared_with_the_interpreter(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def pi(n):
        inside = 0
        for i in range(n):
            x = np.random.random()
            y = np.random.random()
            if x * x + y * y < 1.0:
                inside += 1
        return 4.0 * inside / n

    # heron: jit
    def draws(n):
        return np.random.rand(n), np.random.randn(2, 3), np.random.randint(0, 10), np.random.uniform(1.0, 2.0)

    np.random.seed(2024)
    print(np.random.random())
    print(pi(20000))
    print(np.random.random())
    for r in draws(4):
        show(r)
    print(np.random.random())
    """, native=["pi", "draws"])


def test_numpy_errors_have_the_interpreters_traceback(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def invert(m):
        total = 0.0
        r = np.linalg.inv(m)
        return r

    show(invert(np.eye(2) * 2.0))
    invert(np.ones((2, 2)))
    """)


def test_boolean_masks_and_integer_array_indexing(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def clip_negative(a):
        a[a < 0] = 0.0
        return a[a > 0.5], a[a > 0.5].sum()

    # heron: jit
    def gather(a, idx, m):
        a[idx] = -1.0
        return a[idx] * 2, m[idx], m[m > 3]

    rng = np.random.default_rng(1)
    a = rng.standard_normal(10)
    for r in clip_negative(a):
        show(r)
    show(a)
    m = np.arange(12.0).reshape(3, 4)
    for r in gather(np.arange(6.0), np.array([4, 0, 4]), m):
        show(r)
    try:
        gather(np.arange(6.0), np.array([9]), m)
    except IndexError as e:
        print("IndexError", e)
    """, native=["clip_negative", "gather"])


def test_matmul_names_imported_from_numpy_and_truth_tests(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import numpy as np
    from numpy import zeros, sqrt, exp
    from numpy.random import rand, ranf
    import numpy.random as npr

    # heron: jit
    def mm(a, b, v):
        return a @ b, a @ v

    # heron: jit
    def imported(n):
        out = zeros(n)
        for i in range(n):
            out[i] = sqrt(i) + exp(-i)
        return out

    # heron: jit
    def spins(s, flag):
        n = 0
        for i in range(s.shape[0]):
            if s[i] > 0 and flag:
                n += 1
            elif not flag or s[i] < -1:
                n -= 1
        return n

    # heron: jit
    def draws():
        np.random.seed(3)
        return rand(2), ranf(), npr.random()

    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    print(mm(a, b, np.ones(3)))
    print(imported(4))
    print(spins(np.array([1.0, -2.0, 3.0, 0.5]), True), spins(np.array([1.0, -2.0]), np.True_))
    print(draws())
    try:
        mm(a, a, np.ones(2))
    except ValueError as e:
        print("ValueError", e)
    """, native=["imported", "spins", "draws"])


def test_numpy_scalar_globals_are_live(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import numpy as np
    zero = np.float32(0)
    big = np.int32(2**31 - 1)
    flag = np.True_

    # heron: jit
    def acc(a):
        s = zero
        for i in range(a.shape[0]):
            s += a[i]
        return s, big + np.int32(1), flag

    a = np.arange(5, dtype=np.float32)
    print(acc(a))
    zero = np.float32(10.5)     # the same type: read again at the next call
    flag = np.False_
    print(acc(a))
    zero = np.float64(1.0)      # another type: compiled again
    print(acc(a))
    """, flags=["-W", "always"], native=[])
