"""NumPy fixed-width integers wrap as NumPy wraps, and narrowing float stores report as NumPy
does (issue 9, items 2 and 3).

CPython with NumPy wraps `uint8` image arithmetic and histogram counts, and reports each
overflow with ``RuntimeWarning: overflow encountered in scalar add`` (or raises under
``numpy.seterr(over="raise")``, or under ``-W error``); a float64 that does not fit a float32
array is stored as ``inf`` with "overflow encountered in cast". Compiled code must give the
same values, warnings (same lines) and errors, and run natively (no deoptimization).

Each program runs as a real ``python script.py`` with Heron and with ``HERON_DISABLE=1``.
"""

import pytest

from conftest import compare_with_cpython

pytestmark = pytest.mark.usefixtures("real_native")


def compare(heron_python, tmp_path, source, native=(), args=(), flags=()):
    heron, records = compare_with_cpython(heron_python, tmp_path, source, args=args, flags=flags)
    for name in native:
        rec = records[name]
        assert rec["native_calls"] > 0 and rec["fallback_calls"] == 0 and rec["deopts"] == 0, rec
    return heron


IMAGE = """
    import sys
    import numpy as np

    if len(sys.argv) > 1:
        np.seterr(over=sys.argv[1])

    # heron: jit
    def brighten(img, delta):
        for i in range(img.shape[0]):
            img[i] = img[i] + delta
        return img[0]

    # heron: jit
    def histogram(values, counts):
        for k in range(values.shape[0]):
            counts[values[k]] += 1
        return counts[3]

    img = np.array([10, 200, 250, 30], dtype=np.uint8)
    print(brighten(img, 60), img.tolist())
    counts = np.zeros(8, dtype=np.uint8)
    values = np.array([3] * 300 + [1, 2], dtype=np.int64)
    print(histogram(values, counts), counts.tolist())
"""


def test_uint8_image_and_histogram_wrap_with_warnings(heron_python, tmp_path):
    compare(heron_python, tmp_path, IMAGE, native=["brighten", "histogram"])


@pytest.mark.parametrize("mode", ["raise", "ignore", "warn"])
def test_uint8_overflow_under_seterr(heron_python, tmp_path, mode):
    compare(heron_python, tmp_path, IMAGE, args=[mode])


def test_uint8_overflow_under_w_error(heron_python, tmp_path):
    compare(heron_python, tmp_path, IMAGE, flags=["-W", "error"])


def test_products_and_divisions_of_every_width(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def ops(a, b, out):
            # Writes an array: NumPy's reports come from native code where they happen.
            out[0] = a * b
            out[1] = a + b
            out[2] = a - b
            out[3] = a // b
            out[4] = a % b
            out[5] = -a
            out[6] = abs(a)
            out[7] = a ** 3
            return a * b, a + b, a - b, a // b, a % b, -a, abs(a), a ** 3

        # heron: jit
        def pure_ops(a, b):
            # No side effects: reports are deferred, and a call that has one is re-run.
            return a * b + a

        for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32):
            info = np.iinfo(t)
            out = np.zeros(8, dtype=t)
            for a, b in ((info.max, 2), (info.min, -1 if info.min else 1), (7, 0), (info.max // 3, 3)):
                print(t.__name__, ops(t(a), t(b), out), out.tolist(), pure_ops(t(a), t(b)))
    """, native=["ops"])


def test_narrowing_float_stores(heron_python, tmp_path):
    source = """
        import sys
        import numpy as np

        if len(sys.argv) > 1:
            np.seterr(all=sys.argv[1])

        # heron: jit
        def store(a, x):
            for i in range(a.shape[0]):
                a[i] = x * (i + 1)
            return a[0]

        a = np.zeros(3, dtype=np.float32)
        print(store(a, 1e300), a.tolist())
        print(store(a, 1.5), a.tolist())
        print(store(a, float("inf")), a.tolist())
    """
    compare(heron_python, tmp_path, source, native=["store"])
    compare(heron_python, tmp_path, source, args=["raise"])
    compare(heron_python, tmp_path, source, flags=["-W", "error"])


def test_floats_stored_into_integer_arrays(heron_python, tmp_path):
    # NumPy truncates; NaN, infinities and values outside the dtype behave as NumPy makes them
    # (a wrap for uint8, OverflowError for int8, a warning and INT_MIN for int64): there the
    # interpreter takes over.
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def quantize(x, out):
        for i in range(x.shape[0]):
            out[i] = x[i] * 100.0
        return out

    x = np.array([0.123, -0.456, 2.5, 1.999])
    for dt in (np.int64, np.int32, np.uint8, np.int16, np.uint64):
        print(dt.__name__, quantize(x, np.zeros(4, dt)))
    print(quantize(np.array([1.0, np.nan, 3.0]), np.zeros(3, np.int64)))
    print(quantize(np.array([1.0, 1e30]), np.zeros(2, np.int64)))
    try:
        quantize(x, np.zeros(4, np.int8))
    except OverflowError as e:
        print("OverflowError", e)
    """, flags=["-W", "always"])


def test_numpy_floats_stored_into_unsigned_arrays_wrap_natively(heron_python, tmp_path):
    # A numpy.float64 or numpy.float32 stored into an unsigned array is NumPy's C cast: it
    # wraps (-1.5 -> 255 in uint8; harris' stencils store negative sums into uint8 images),
    # natively; beyond the cast's range NumPy warns and the interpreter takes over.
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def store(x, out, scale):
        for i in range(x.shape[0]):
            out[i] = x[i] * scale
        return out

    vals = [-1.5, 300.7, -200.2, 70000.5, -70000.5, 2.0**31 - 256, -2.0**31, 2.0**31 + 5,
            2.0**32 + 7, 1e10, 2.0**63, 1.8e19, -0.5, 255.9]
    # The values each dtype's cast takes without a warning (int32's range for uint8 and
    # uint16, int64's for uint32, up to 2**64 for uint64).
    within = {np.uint8: vals[:7] + vals[-2:], np.uint16: vals[:7] + vals[-2:],
              np.uint32: vals[:10] + vals[-2:], np.uint64: vals}
    for dt, xs in within.items():
        for src in (np.float64, np.float32):
            x = np.array(xs, dtype=src)
            print(dt.__name__, src.__name__, store(x, np.zeros(x.shape[0], dt), src(1.0)).tolist())

    # heron: jit
    def store_warns(x, out, scale):
        for i in range(x.shape[0]):
            out[i] = x[i] * scale
        return out

    for dt, bad in ((np.uint8, 2.0**40), (np.uint32, 2.0**63), (np.uint64, 1e20)):
        x = np.array([1.0, bad, np.nan, -3.0])
        print(store_warns(x, np.zeros(4, dt), np.float64(1.0)).tolist())
    """, native=("store",), flags=["-W", "always"])


def test_shifts_of_numpy_integers(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def sh(a, k):
        return a << k, a >> k

    # heron: jit
    def crc16(data):
        c = np.uint16(0xFFFF)
        for i in range(data.shape[0]):
            c ^= np.uint16(data[i]) << np.uint16(8)
            for j in range(8):
                if c & np.uint16(0x8000):
                    c = (c << np.uint16(1)) ^ np.uint16(0x1021)
                else:
                    c = c << np.uint16(1)
        return c

    for t in (np.uint8, np.int8, np.int32, np.int64, np.uint64):
        for v in ((5, 200) if t in (np.uint8, np.uint64) else (5, 100, -3)):
            for k in (0, 3, 7, 8, 31, 63, 64, 100):
                try:
                    print(t.__name__, v, k, sh(t(v), k))
                except OverflowError as e:
                    print("OverflowError", e)
    print(crc16(np.frombuffer(b"123456789", np.uint8)))
    """, flags=["-W", "always"], native=["crc16"])


def test_uint64_indices(heron_python, tmp_path):
    # A numpy.uint64 index (labels of a grouped sum); beyond int64 it continues in the
    # interpreter, which raises what NumPy raises (OverflowError).
    from test_ufuncs import compare
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def grouped_sum(values, labels, target):
        for i in range(len(values)):
            idx = labels[i]
            target[idx] += values[i]
        return target

    v = np.arange(10.0)
    labels = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 3], dtype=np.uint64)
    print(grouped_sum(v, labels, np.zeros(4)))
    for bad in (2**64 - 1, 4):
        labels[5] = bad
        try:
            grouped_sum(v, labels, np.zeros(4))
        except (IndexError, OverflowError) as e:
            print(type(e).__name__, e)
    """, native=["grouped_sum"])


def test_operations_numpy_runs_through_its_ufunc(heron_python, tmp_path):
    # NumPy's scalar math defers to the ufunc when no operand has the result's type
    # (numpy.bool // int is int64, numpy.int32 * float is float64): the reports then name the
    # ufunc ("divide by zero encountered in floor_divide"), and integer results wrap silently.
    from test_ufuncs import compare
    compare(heron_python, tmp_path, """
    import warnings
    import numpy as np
    warnings.simplefilter("always")

    # heron: jit
    def f(a, b, out):
        out[0] = 1.0
        r1 = a[0] // 0
        r2 = a[1] - (-9223372036854775807)
        r3 = b[1] * 1e300
        r4 = 0 / a[0]
        r5 = b[0] // 0
        r6 = b[1] * 3
        return r1, r2, r3, r4, r5, r6

    print(f(np.array([True, True]), np.array([5, -2**31], np.int32), np.zeros(1)))
    print(f(np.array([False, True]), np.array([5, 7], np.int32), np.zeros(1)))
    """, native=["f"])
