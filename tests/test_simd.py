"""Vector loops (issue 15 item 1): an innermost ``range`` loop whose body stores one float64
expression along the loop runs two iterations at a time in 128-bit lanes, with CPython's and
NumPy's results bit for bit: the same values, the same warnings and errors at the same
iteration, the same partial results when one raises, the same loop variable afterwards. Loops
that read what an earlier iteration wrote (a recurrence, overlapping views), non-contiguous
rows, negative indices and non-finite values run in the scalar loop, and must still agree.

Each program runs as a real ``python script.py`` with Heron and with ``HERON_DISABLE=1``.
"""

import textwrap

import pytest

from conftest import compare_with_cpython

pytestmark = pytest.mark.usefixtures("real_native")

PRELUDE = """
import hashlib, warnings
import numpy as np

def show(name, *arrays):
    for a in arrays:
        print(name, a.dtype, a.shape, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16],
              repr(a.ravel()[:3].tolist()), repr(a.ravel()[-2:].tolist()))
"""


def compare(heron_python, tmp_path, source):
    return compare_with_cpython(heron_python, tmp_path, textwrap.dedent(PRELUDE) + textwrap.dedent(source))[1]


def vectorized(rec):
    return any("two iterations at a time" in n for n in rec["vector_loops"])


def test_stencil_and_elementwise_loops(heron_python, tmp_path):
    records = compare(heron_python, tmp_path, """
        # heron: jit
        def sweep(src, dst):
            M, N = src.shape
            for i in range(1, M - 1):
                for j in range(1, N - 1):
                    dst[i, j] = 0.25 * (src[i - 1, j] + src[i + 1, j] + src[i, j - 1] + src[i, j + 1])

        # heron: jit
        def axpy(a, x, y, out):
            n = x.shape[0]
            j = -1
            for j in range(n):
                out[j] = a * x[j] + y[j] - 2 * x[j] / 3.0
            return j

        # heron: jit
        def scale_rows(w, m, out):
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    out[i, j] += -w[i] * m[i, j]
            return out

        # heron: jit
        def with_scalar(a, out):
            c = a[0]
            j = -1
            for j in range(2, a.shape[0] - 1):
                out[j] = c * a[j + 1] - a[j - 2]
            return j

        rng = np.random.default_rng(7)
        for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 160):
            src = rng.random((n + 2, n + 3))
            dst = np.zeros_like(src)
            sweep(src, dst)
            show("sweep", dst)
            x, y = rng.standard_normal(n), rng.standard_normal(n)
            out = np.full(n, -1.0)
            print("axpy", axpy(1.5, x, y, out))
            show("axpy", out)
            m = rng.random((3, n))
            show("rows", scale_rows(rng.random(3), m, np.ones((3, n))))
            out = np.zeros(n + 4)
            print("scalar", with_scalar(rng.random(n + 4), out))
            show("scalar", out)
    """)
    for name in ("sweep", "axpy", "scale_rows", "with_scalar"):
        assert records[name]["native_calls"] >= 12 and records[name]["fallback_calls"] == 0, records[name]
        assert vectorized(records[name]), records[name]


def test_loops_that_must_stay_in_order(heron_python, tmp_path):
    # Recurrences, overlapping views, strided rows, negative indices: the run-time tests send
    # them to the scalar loop; the results must be the interpreter's.
    records = compare(heron_python, tmp_path, """
        # heron: jit
        def recurrence(a):
            for j in range(1, a.shape[0]):
                a[j] = a[j - 1] * 0.5 + a[j]

        # heron: jit
        def shift(src, dst):
            for j in range(src.shape[0]):
                dst[j] = src[j] * 2.0 + 1.0

        # heron: jit
        def rows(m, out):
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    out[i, j] = m[i, j] * 3.0

        # heron: jit
        def from_below(a, k):
            j = 0
            for j in range(-3, a.shape[0] - 3):
                a[j] = a[j + k] * 0.5
            return j

        # heron: jit
        def last_row(m):
            for j in range(m.shape[1]):
                m[-1, j] = m[0, j] + 1.0

        base = np.arange(12.0)
        recurrence(base)
        show("recurrence", base)
        buf = np.arange(20.0)
        shift(buf[:-1], buf[1:])          # dst overlaps src one element ahead
        show("ahead", buf)
        buf = np.arange(20.0)
        shift(buf[1:], buf[:-1])          # dst one element behind src
        show("behind", buf)
        buf = np.arange(20.0)
        shift(buf, buf)                   # in place, element by element
        show("same", buf)
        m = np.arange(30.0).reshape(5, 6)
        out = np.zeros((6, 5)).T          # F-ordered rows: not contiguous along j
        rows(m, out)
        show("fortran", out)
        out = np.zeros((5, 12))
        rows(m, out[:, ::2])              # strided view
        show("strided", out)
        a = np.arange(10.0)
        print("below", from_below(a, 2))
        show("below", a)
        m = np.arange(12.0).reshape(3, 4)
        last_row(m)
        show("last", m)
    """)
    for name in ("recurrence", "shift", "rows", "from_below", "last_row"):
        assert records[name]["fallback_calls"] == 0, records[name]
    assert vectorized(records["shift"]) and vectorized(records["rows"]), records


def test_warnings_and_errors_at_the_same_iteration(heron_python, tmp_path):
    # A pair with an overflow, a NaN, a division by zero or by an infinity goes to the scalar
    # loop, which reports as NumPy does; under errstate(raise) the elements before it are
    # stored and those after are not.
    records = compare(heron_python, tmp_path, """
        # heron: jit
        def scale(a, out, c):
            for j in range(a.shape[0]):
                out[j] = a[j] * c + 1.0

        # heron: jit
        def ratio(a, b, out):
            for j in range(a.shape[0]):
                out[j] = a[j] / b[j]

        # heron: jit
        def hidden(a, out):
            for j in range(a.shape[0]):
                out[j] = 1.0 / (a[j] * 1e300)

        # heron: jit
        def python_floats(out, x, y):
            for j in range(out.shape[0]):
                out[j] = x / y

        # heron: jit
        def local(n):
            t = np.empty(n)
            for j in range(n):
                t[j] = 0.0
            for j in range(n):
                t[j] = (j * 1e200) * 1e200 if j == 7 else 1.0
            out = np.empty(n)
            for j in range(n):
                out[j] = t[j] * 2.0
            return out

        warnings.simplefilter("always")
        for bad_at in (0, 1, 2, 5, 8):
            a = np.linspace(1.0, 2.0, 9)
            a[bad_at] = 1e308
            out = np.zeros(9)
            scale(a, out, 10.0)
            show("over", out)
            a[bad_at] = np.nan
            scale(a, out, 10.0)
            show("nan", out)
            b = np.ones(9)
            b[bad_at] = 0.0
            ratio(a, b, out)
            show("ratio", out)
            a = np.full(9, 1e10)
            hidden(a, out)
            show("hidden", out)
            out = np.zeros(9)
            a = np.linspace(1.0, 2.0, 9)
            a[bad_at] = 1e308
            with np.errstate(over="raise"):
                try:
                    scale(a, out, 10.0)
                except FloatingPointError as e:
                    print("raised", e)
            show("partial", out)
        out = np.zeros(6)
        python_floats(out, 1.0, 4.0)
        show("py", out)
        try:
            python_floats(out, 1.0, 0.0)
        except ZeroDivisionError as e:
            print("ZeroDivisionError", e)
        show("local", local(12))
    """)
    for name in ("scale", "ratio", "hidden", "python_floats"):
        assert vectorized(records[name]), records[name]


def test_temporaries_of_an_iteration(heron_python, tmp_path):
    # Float64 temporaries assigned before the store run in the lanes too; each is checked (one
    # that overflows warns even when the store does not use it), and after the loop they hold
    # the last iteration's values. A variable read before it is assigned in the body carries
    # a value from the previous iteration: the loop stays scalar.
    records = compare(heron_python, tmp_path, """
        # heron: jit
        def squares(a, b, out):
            d = np.float64(0.0)
            for j in range(a.shape[0]):
                d = a[j] - b[j]
                e = d * 0.5
                out[j] = d * d + e
            return d

        # heron: jit
        def unused(a, out):
            for j in range(a.shape[0]):
                t = a[j] * 1e300
                out[j] = a[j] + 1.0

        # heron: jit
        def carried(a, out):
            prev = 0.0
            for j in range(a.shape[0]):
                out[j] = a[j] + prev
                prev = a[j] * 0.5
            return prev

        warnings.simplefilter("always")
        rng = np.random.default_rng(3)
        for n in (1, 2, 3, 4, 7, 10):
            a, b = rng.standard_normal(n), rng.standard_normal(n)
            out = np.zeros(n)
            print("d", squares(a, b, out))
            show("squares", out)
            a[n // 2] = 1e10
            unused(a, out)
            show("unused", out)
            print("prev", carried(a, out))
            show("carried", out)
    """)
    assert vectorized(records["squares"]) and vectorized(records["unused"]), records
    assert not vectorized(records["carried"]), records["carried"]
