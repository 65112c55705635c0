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


def test_loops_over_flat(heron_python, tmp_path):
    # `for x in a.flat`: the elements in C order, read from the array's memory as the loop
    # goes (a store into `a` during the loop is seen, as NumPy's flatiter sees it).
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def total(a):
        s = 0.0
        for x in a.flat:
            s += x
            if x > 5:
                a[2, 3] = 100.0
        return s

    # heron: jit
    def plain(a):
        s = 0.0
        for x in a.flat:
            s += x * 0.5
        return s

    # heron: jit
    def big(a, n):
        t = 0
        for x in a.flat:
            t += int(x) * n
        return t

    m = np.arange(12.0).reshape(3, 4)
    print(total(m), m[2, 3])
    print(plain(np.arange(24.0).reshape(2, 3, 4)), plain(np.arange(5.0)[::2]))
    print(big(np.arange(6).reshape(2, 3), 2**61))
    """, native=["total", "plain", "big"])


def test_loops_over_flat_of_strided_arrays(heron_python, tmp_path):
    # `for x in a.flat` over an N-d array that is not C-contiguous (a transpose, a reversed or
    # stepped slice): the elements still come in C order of the logical array, as NumPy's
    # flatiter gives them. A deoptimization inside the loop resumes the rest of the same
    # flat iterator (`itertools.islice(a.flat, k + 1, None)`).
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def walk(a):
        s = 0.0
        k = 0
        for x in a.flat:
            k += 1
            if x < 0:
                continue
            if x > 1000:
                break
            s = s * 0.5 + x * k
        return s, k

    # heron: jit
    def digits(a):
        t = 0
        for x in a.flat:
            t = t * 1000 + int(x)    # past int64 after a few elements: deoptimizes in the loop
        return t

    m = np.arange(24.0).reshape(4, 6)
    print(walk(m.T), walk(m[::-1]), walk(m[::2, ::-3]), walk(m[:, 1:4]))
    c = np.arange(60.0).reshape(3, 4, 5) - 7.0
    print(walk(c.transpose(2, 0, 1)), walk(c[:, ::2, 1:]), walk(c[:0]))
    b = np.arange(60.0).reshape(3, 4, 5)
    b[2, 1, 1] = 5000.0
    print(walk(b[:, :, ::2]), walk(b.T))
    print(digits(np.arange(30).reshape(5, 6).T), digits(np.arange(4).reshape(2, 2).T))
    """, native=["walk", "digits"])


def test_loops_over_ndindex_and_tuple_indices(heron_python, tmp_path):
    # `for ind in np.ndindex(shape)`: the index tuples in C order (numba-examples' Lennard-Jones
    # kernel); `a[ind]` indexes with a tuple as `a[ind[0], ind[1]]` does (an element, or a
    # view with fewer items than axes); `a.shape[:2]` slices a tuple with constant bounds. A
    # deoptimization in the loop resumes the rest of the same index tuples.
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def row_sums(a):
        out = np.empty(a.shape[:2], dtype=a.dtype)
        for i in np.ndindex(out.shape):
            out[i] = a[i].sum()
        return out

    # heron: jit
    def walk(a):
        s = 0.0
        for ind in np.ndindex(a.shape):
            s = s * 0.5 + a[ind]
            a[ind] += 1.0
        return s

    # heron: jit
    def pairs(n, m):
        t = 0
        for i, j in np.ndindex(n, m):
            t = t * 7 + i * 3 + j     # past int64 for big n, m: deoptimizes in the loop
        return t

    # heron: jit
    def shapes(a):
        s = a.shape
        return s[:2], s[1:], s[-2:], s[::-1], s[::2], s[5:], s[-10:1]

    # heron: jit
    def pick(a, i, j):
        t = (i, j)
        return a[t], a[t] * 2

    c = np.arange(24.0).reshape(2, 3, 4)
    print(row_sums(c), row_sums(c.transpose(2, 1, 0)), row_sums(np.zeros((0, 3, 2))))
    m = np.arange(12.0).reshape(3, 4).T
    print(walk(m), m)
    print(pairs(3, 4), pairs(0, 5), pairs(25, 25))
    try:
        pairs(-1, 3)
    except ValueError as e:
        print("ValueError", e)
    print(shapes(c), shapes(np.zeros((5, 6))))
    print(pick(np.arange(6).reshape(2, 3), 1, -1))
    try:
        pick(np.arange(6).reshape(2, 3), 2, 0)
    except IndexError as e:
        print("IndexError", e)
    """, native=["row_sums", "walk", "pairs", "shapes", "pick"])


def test_loops_over_ndenumerate(heron_python, tmp_path):
    # `for idx, x in np.ndenumerate(a)` (the FAO-56 radiation kernel of numba-examples): the
    # index tuples and elements in C order, of any layout; the index unpacked too; a
    # deoptimization in the loop resumes the rest of a new ndenumerate.
    compare(heron_python, tmp_path, """
    import math
    import numpy as np

    # heron: jit
    def radiation(doy, lat):
        ra = np.zeros_like(lat)
        dr = 1 + 0.033 * math.cos(2 * math.pi / 365 * doy)
        for idx, latval in np.ndenumerate(lat):
            ws = math.acos(-math.tan(latval) * 0.25)
            ra[idx] = 24 * 60 / math.pi * dr * (ws * math.sin(latval) + math.sin(ws))
        return ra

    # heron: jit
    def weigh(a):
        t = 0.0
        for (i, j), x in np.ndenumerate(a):
            t = t * 0.5 + x * (i + 1) - j
        return t

    # heron: jit
    def digits(a):
        t = 0
        for idx, x in np.ndenumerate(a):
            t = t * 1000 + int(x) + idx[-1]    # past int64: deoptimizes in the loop
        return t

    lat = np.deg2rad(np.ones((4, 5), dtype=np.float32) * 45.0)
    lat[1, :] = np.deg2rad(np.float32(10.0))
    print(radiation(120, lat), radiation(30, np.linspace(0.1, 1.2, 7)))
    m = np.arange(12.0).reshape(3, 4)
    print(weigh(m), weigh(m.T), weigh(m[::-1, 1:]), weigh(np.zeros((0, 3))))
    print(digits(np.arange(30).reshape(5, 6)[::2]), digits(np.arange(4).reshape(2, 2)))
    """, native=["radiation", "weigh", "digits"])


def test_unpacking_arrays(heron_python, tmp_path):
    # `a, b = arr` (numba-examples' mergesort): the items of the first axis, elements of a
    # 1-d array or rows (views) of an N-d one; another length is the interpreter's
    # ValueError, with its message.
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def order2(arr):
        a, b = arr
        arr[0], arr[1] = ((a, b) if a <= b else (b, a))
        return arr

    # heron: jit
    def rows(m):
        top, bottom = m
        bottom[0] = -1.0
        return top.sum() - bottom.sum(), top[::-1]

    # heron: jit
    def three(v):
        x, y, z = v
        return x * y + z

    print(order2(np.array([3.0, 1.0])), order2(np.array([1, 2]))[::-1], order2(np.arange(4.0)[::-2]))
    m = np.arange(6.0).reshape(2, 3)
    print(rows(m), m, rows(np.arange(6.0).reshape(3, 2).T))
    print(three(np.array([2, 3, 4], dtype=np.int32)))
    for bad in (np.ones(2), np.ones(4)):
        try:
            three(bad)
        except ValueError as e:
            print("ValueError", e)
    """, native=["order2", "rows", "three"])
