"""NumPy ufuncs and whole-array expressions in compiled code (issue 11, items 1 and 2).

``numpy.exp(x)`` and the other ufuncs on scalars and arrays, operators with an array operand
(``a * 2 + b``, comparisons, ``-a``, ``abs(a)``), in-place operators on arrays and views
(``a += b``, ``a[1:] *= 2``) and copies into views (``a[1:-1] = (a[2:] + a[:-2]) / 2``,
``m[0, :] = v``) run NumPy's own inner loops from native code: the same bits as NumPy (its
SIMD ``exp``/``sin``/``log`` where the CPU has them, not libm), the same dtypes (NEP 50), the
same result layout (NumPy's iterator order for transposed operands), the same broadcasting
errors and the same floating-point warnings ("overflow encountered in exp").

Each program runs as ``python script.py`` with Heron and with ``HERON_DISABLE=1``; stdout
(values printed as their bytes), stderr (warnings, tracebacks) and the exit code must be
identical, and the functions named must have run natively.
"""

import pytest

from conftest import compare_with_cpython

pytestmark = pytest.mark.usefixtures("real_native")


def compare(heron_python, tmp_path, source, native=(), args=(), flags=()):
    heron, records = compare_with_cpython(heron_python, tmp_path, source, args=args, flags=flags)
    for name in native:
        rec = records[name]
        assert rec["native_calls"] > 0 and rec["fallback_calls"] == 0, rec
    return heron


PRELUDE = """
    import sys
    import numpy as np

    def show(x):
        if isinstance(x, np.ndarray):
            print(x.dtype, x.shape, x.strides, x.tobytes().hex()[:4000])
        else:
            print(type(x).__name__, repr(x), np.asarray(x).tobytes().hex())
"""


def test_scalar_ufuncs_in_a_loop_give_numpy_bits(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def kernel(x):
        s = 0.0
        for i in range(x.shape[0]):
            v = x[i]
            s += np.exp(v) + np.sin(v) * np.cos(v) - np.tan(v / 4.0) + np.arctan2(v, 1.5)
            s += np.sqrt(abs(v)) + np.log(abs(v) + 1.0) + np.log1p(abs(v)) + np.expm1(v / 8.0)
            s += np.hypot(v, 2.0) + np.power(abs(v), 0.3) + np.arcsinh(v) + np.tanh(v)
            s += np.floor(v) + np.rint(v) + np.sign(v) + np.maximum(v, 0.5) + np.fmin(v, -0.5)
        return s

    # heron: jit
    def each(x, out):
        for i in range(x.shape[0]):
            out[i] = np.exp(x[i])
            out[i + x.shape[0]] = np.sin(x[i]) + np.log10(abs(x[i]) + 2.0)
        return out[0]

    x = np.random.default_rng(5).standard_normal(2000) * 7
    show(kernel(x))
    out = np.zeros(4000)
    show(each(x, out))
    show(out)
    # On other scalar types: NumPy's loops and result types (float32 stays float32).
    # heron: jit
    def mixed(a, b, k):
        return np.exp(a), np.sqrt(b), np.sqrt(k), np.abs(k), np.sin(b), np.pi * 2, np.e
    for r in mixed(0.5, np.float32(2.0), 9):
        show(r)
    """, native=["kernel", "each", "mixed"])


def test_array_expressions_broadcasting_and_layout(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def expr(a, b):
        c = a * 2.0 + b
        d = np.exp(c) - np.log1p(np.abs(b))
        return d, c > 3.0

    # heron: jit
    def expr2(a, b):
        return -a, abs(a - b), (a >= 2) & (a < 9)

    # heron: jit
    def expr3(a, b):
        return a ** 2, a // 3, a % 3 + np.maximum(a, b)

    a = np.arange(12.0).reshape(3, 4)
    b = np.linspace(0.0, 1.0, 4)
    # Transposed and strided operands: NumPy's iterator picks the result's memory order.
    for x, y in [(a, b), (a.T, a.T[:, ::-1]), (a[:, ::2], b[::2]), (a.T, np.ones((4, 1)))]:
        for f in (expr, expr2, expr3):
            for r in f(x, y):
                show(r)

    # heron: jit
    def ints(u, i):
        return u + 250, u * u, i * 3, i // 2

    # heron: jit
    def ints2(u, i):
        return i + u, u - 7, i > 1, np.abs(i - 5)
    u = np.array([1, 7, 200, 255], dtype=np.uint8)
    i = np.arange(4, dtype=np.int32)
    for r in ints(u, i) + ints2(u, i):
        show(r)
    # A Python int outside the array's dtype: NumPy's OverflowError, from compiled code too.
    # heron: jit
    def too_big(u):
        return u + 300
    try:
        too_big(u)
    except OverflowError as e:
        print("OverflowError", e)
    # heron: jit
    def mismatch(a, b):
        return a + b
    try:
        mismatch(np.ones(3), np.ones(4))
    except ValueError as e:
        print("ValueError", e)
    try:
        mismatch(np.ones((2, 3)), np.ones((4, 1, 2)))
    except ValueError as e:
        print("ValueError", e)
    """, native=["expr", "expr2", "expr3", "ints", "ints2", "mismatch"])


def test_in_place_operators_and_slice_assignment(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def smooth(a, steps):
        for _ in range(steps):
            a[1:-1] = (a[2:] + a[:-2]) / 2
        a *= 3
        a += 1
        return a

    a = np.linspace(0.0, 1.0, 11)
    show(smooth(a, 5))
    show(a)

    # heron: jit
    def rows(m, v):
        m[0, :] = v
        m[1] = 7
        m[2:, 1:] += v[1:] * 2
        m[:, 0] = 0
        return m

    m = np.arange(20.0).reshape(4, 5)
    show(rows(m, np.linspace(1.0, 2.0, 5)))

    # Overlapping operands read first, as NumPy does.
    # heron: jit
    def shift(a):
        a[1:] += a[:-1]
        a[:-1] = a[1:]
        return a
    show(shift(np.arange(8.0)))

    # float32 targets: the result cast back ("same_kind"), Python floats cast as NumPy casts.
    # heron: jit
    def narrow(f, d):
        f += d
        f[:] = f * 1.5
        return f
    show(narrow(np.ones(4, np.float32), np.linspace(0.1, 0.4, 4)))

    # uint8 images: in-place arithmetic wraps (no warning for arrays, as in NumPy).
    # heron: jit
    def brighten(img, delta):
        img += delta
        return img
    show(brighten(np.array([10, 200, 250], np.uint8), 60))

    # `out=`: the result written there, cast under "same_kind", and returned.
    # heron: jit
    def into(a, b, out, out32):
        r = np.exp(a, out=out)
        np.add(a, b, out=out32)
        np.multiply(out, 2.0, out=out)
        return r[0] + out32[1]
    out = np.zeros(4)
    out32 = np.zeros(4, np.float32)
    show(into(np.linspace(0.0, 1.0, 4), 1.5, out, out32))
    show(out)
    show(out32)

    # heron: jit
    def bad_shape(a, b):
        a += b
    try:
        bad_shape(np.ones(3), np.ones((2, 3)))
    except ValueError as e:
        print("ValueError", e)
    # heron: jit
    def bad_copy(a, b):
        a[:] = b
    try:
        bad_copy(np.ones(3), np.ones(4))
    except ValueError as e:
        print("ValueError", e)
    """, native=["smooth", "rows", "shift", "narrow", "brighten", "into"])


WARN = PRELUDE + """
    if len(sys.argv) > 1:
        np.seterr(all=sys.argv[1])

    # heron: jit
    def logs(x, out):
        for i in range(x.shape[0]):
            out[i] = np.log(x[i])
        return np.sqrt(x - 1.0)

    # heron: jit
    def pure(x):
        return np.exp(x) * 2.0

    x = np.array([1.0, 0.0, 2.0, -1.0])
    out = np.zeros(4)
    try:
        show(logs(x, out))
        show(out)
        show(pure(np.array([1.0, 1000.0])))
        show(pure(710.0))
    except FloatingPointError as e:
        print("FloatingPointError", e)
"""


@pytest.mark.parametrize("mode", [None, "raise", "ignore"])
def test_ufunc_floating_point_reports(heron_python, tmp_path, mode):
    compare(heron_python, tmp_path, WARN, args=[mode] if mode else [])


def test_ufunc_warnings_under_w_error(heron_python, tmp_path):
    compare(heron_python, tmp_path, WARN, flags=["-W", "error"])


def test_comparisons_with_python_ints_outside_the_dtype(heron_python, tmp_path):
    # NEP 50: `uint8_array > 1000` compares by value (no OverflowError, unlike `+ 1000`).
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def cmp(u, k):
        return u > k, u == k, u < 300

    u = np.array([1, 200, 255], np.uint8)
    for k in (100, 1000, -1):
        for r in cmp(u, k):
            show(r)
    """)


def test_integer_powers_and_reports_kept_across_ufuncs(heron_python, tmp_path):
    # Integer loops raise ValueError from inside NumPy's loop; a NumPy loop that clears the
    # floating-point status must not erase an earlier deferred report.
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def negpow(a, k):
        return np.power(a, k)

    # heron: jit
    def kept(x, y):
        z = np.float64(x) / y
        w = np.maximum(z, 1.0)
        return w

    for args in [(np.arange(3), -1), (np.int64(2), -2), (np.arange(3), 2)]:
        try:
            show(negpow(*args))
        except ValueError as e:
            print("ValueError", e)
    show(kept(1.0, 0.0))
    """, flags=["-W", "always"])


def test_copy_into_a_view_drops_leading_unit_axes(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def put(a, m):
        a[:] = m[:1]
        return a

    show(put(np.zeros(2), np.arange(4.0).reshape(2, 2)))
    try:
        put(np.zeros(2), np.arange(4.0).reshape(1, 4))
    except ValueError as e:
        print("ValueError", e)
    """, native=["put"])


def test_float32_exp_overflow_warns_as_numpy_does(heron_python, tmp_path):
    # NumPy's float32 exp raises its overflow flag with feraiseexcept, which sets the x87 flag
    # only: Heron reads the x87 status word beside MXCSR, as fetestexcept does.
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def f(a):
        return np.exp(a)

    # heron: jit
    def g(a, out):
        # Side effects: the report is made in compiled code, not by a re-run.
        out[0] = 1.0
        out[1] = np.exp(a[0])
        return np.exp(a)

    show(f(np.array([1000.0, 1.0], dtype=np.float32)))
    show(f(np.float32(1000.0)))
    show(g(np.array([1000.0, 1.0], dtype=np.float32), np.zeros(2, dtype=np.float32)))
    with np.errstate(over="raise"):
        for call in (lambda: f(np.float32(1000.0)), lambda: g(np.array([1000.0], dtype=np.float32), np.zeros(2, dtype=np.float32))):
            try:
                show(call())
            except FloatingPointError as e:
                print("FloatingPointError:", e)
    """, native=["g"])


def test_warnings_of_weak_python_floats_and_unread_values(heron_python, tmp_path):
    # NEP 50: a Python float meeting a float32 is cast to float32, and NumPy warns
    # "overflow encountered in cast" when it does not fit; a NumPy value nothing reads still
    # warns (Cranelift must not delete the division whose flags are read after the call).
    compare(heron_python, tmp_path, PRELUDE + """
    import warnings
    warnings.simplefilter("always")

    # heron: jit
    def compare_big(x):
        return x > 1e308

    # heron: jit
    def mixed(x, out):
        out[0] = 1.0
        return x + 1e308, x * -1e300, x == 1e39, x - 2.5

    # heron: jit
    def unread(x, z):
        v = x / z
        x * 1e308
        return 1

    print(compare_big(np.float32(1.0)), compare_big(np.float32(2.0)))
    show(mixed(np.float32(1.0), np.zeros(1))[0])
    print(unread(np.float64(0.0), 0), unread(np.float64(1.0), 2))
    with np.errstate(over="raise", invalid="raise"):
        for call in (lambda: mixed(np.float32(1.0), np.zeros(1)), lambda: unread(np.float64(0.0), 0)):
            try:
                call()
            except FloatingPointError as e:
                print("FloatingPointError:", e)
    """, native=["mixed"])


def test_broadcast_errors_name_the_output_as_numpy_does(heron_python, tmp_path):
    compare(heron_python, tmp_path, PRELUDE + """
    # heron: jit
    def inplace(m):
        m[:] += m[1:]

    # heron: jit
    def into(a, b, out):
        np.add(a, b, out=out)
        return out

    # heron: jit
    def neg(a, out):
        np.negative(a, out=out)
        return out

    a = np.ones((4, 3))
    for call in (lambda: inplace(np.ones((4, 3))), lambda: into(a[:3], a[:3], np.ones((2, 3))),
                 lambda: into(a[:1], a[:3], np.ones((1, 3))), lambda: into(a, a[1:], np.ones((4, 3))),
                 lambda: neg(a, np.ones((3, 3)))):
        try:
            show(call())
        except ValueError as e:
            print("ValueError:", e)
    """)


def test_in_place_on_an_overlapping_operand_keeps_the_output_when_it_raises(heron_python, tmp_path):
    # NumPy computes an in-place ufunc whose input overlaps its output into a copy of the
    # output and writes it back only when the ufunc succeeds: under errstate(raise) the array
    # keeps its old values; without overlap the elements are written before the error
    # (fuzzer seed 1403280).
    compare(heron_python, tmp_path, PRELUDE + """
    import warnings
    warnings.simplefilter("always")

    # heron: jit
    def by_last_row(a):
        a /= a[-1, :]

    # heron: jit
    def divide(a, b):
        a /= b

    for mode in ("raise", "warn", "ignore"):
        a = np.array([[1.0, 2.0], [0.0, 1e-300]])
        c = np.array([[1.0, 2.0], [3.0, 0.0]])
        d = np.arange(6.0)
        with np.errstate(all=mode):
            for call in (lambda: by_last_row(a), lambda: divide(c, np.array([0.0, 1.0])),
                         lambda: divide(d[1:], d[:-1]), lambda: divide(d[:-1], d[1:])):
                try:
                    call()
                except FloatingPointError as e:
                    print("raised", e)
        show(a)
        show(c)
        show(d)
    """, native=("by_last_row", "divide"))
