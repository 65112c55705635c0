"""Bad input (issue 5, item 5): compiled functions called with what they do not expect.

Wrong types, wrong dtypes, odd array layouts, read-only, zero-size and 0-d arrays, huge ints,
``None``, bools and NumPy scalars of every dtype: the compiled function must behave exactly
like the Python one (same result of the same type, or the same exception type and message,
and the same effect on the arrays passed in), and never crash.

Arguments are made afresh by a factory for each of the two calls, so that an array keeps its
layout and flags (``ndarray.copy()`` would make a C-contiguous, writeable copy).
"""

import math

import numpy as np
import pytest

from _compare import fingerprint, modules

pytestmark = [pytest.mark.usefixtures("real_native"),
              pytest.mark.filterwarnings("ignore:Casting complex values to real"),
              pytest.mark.filterwarnings("ignore:In future, it will be an error for 'np.bool'")]

SOURCE = '''
def add1(x):
    return x + 1

def fdiv(a, b):
    return a / b

def mod(a, b):
    return a % b

def loop(n):
    s = 0
    for i in range(n):
        s += i
    return s

def loop3(a, b, c):
    s = 0
    for i in range(a, b, c):
        s += i
    return s

def conv(x):
    return int(x) + float(x)

def truth(x):
    if x:
        return 1
    return 0

def neg(x):
    return -x

def absv(x):
    return abs(x)

def shift(x, n):
    return x << n

def power(x, n):
    return x ** n

def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s

def total2d(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j]
    return s

def first(a):
    return a[0]

def idx(a, i):
    return a[i]

def get2(a, i, j):
    return a[i, j]

def row0(a, i):
    r = a[i]
    return r[0]

def sizes(a):
    return a.ndim * 1000 + a.size * 10 + len(a)

def put(a, i, v):
    a[i] = v
    return a[i]

def fill(a, v):
    for i in range(a.shape[0]):
        a[i] = v
    return a.shape[0]

def pair(x, y=2):
    return x * y

def kwonly(x, *, y=3):
    return x + y

def posonly(x, /, y):
    return x - y
'''


def describe(value):
    """A comparable description of a value; arrays by dtype, shape, flags and contents."""
    if isinstance(value, np.ndarray):
        return ("ndarray", type(value).__name__, value.dtype.str, value.shape,
                value.flags.writeable, repr(value.tolist()))
    if isinstance(value, tuple):
        return ("tuple", tuple(describe(v) for v in value))
    return fingerprint(value)


def outcome(fn, args):
    try:
        result = ("value", describe(fn(*args)))
    except Exception as exc:  # noqa: BLE001
        result = ("raise", type(exc).__name__, str(exc))
    return result, [describe(a) for a in args if isinstance(a, np.ndarray)]


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("bad_input"), SOURCE)


def same(mods, name, make_args, native=None):
    """Assert ``name(*make_args())`` behaves alike in plain Python and compiled.

    ``native``: True to require that the compiled call ran native code, False that it ran
    as Python (a fallback or a deoptimized re-run), None for either.
    """
    plain, jit = mods
    with np.errstate(all="ignore"):  # NumPy's RuntimeWarnings are a documented gap
        expected = outcome(getattr(plain, name), make_args())
        dispatcher = getattr(jit, name)
        before = dispatcher.stats()
        got = outcome(dispatcher, make_args())
    after = dispatcher.stats()
    shown = ", ".join(type(a).__name__ + (f"[{a.dtype}]" if hasattr(a, "dtype") else "")
                      for a in make_args())
    assert got == expected, f"{name}({shown}): Python gave {expected}, Heron gave {got}"
    ran_native = (after["native_calls"] > before["native_calls"]
                  and after["fallback_calls"] == before["fallback_calls"])
    if native is True:
        assert ran_native, f"{name}({shown}) did not run natively: {after['failures']}"
    elif native is False:
        assert (after["fallback_calls"] > before["fallback_calls"]
                or after["deopts"] > before["deopts"]), f"{name}({shown}) ran natively"


WRONG_TYPES = ["text", b"bytes", [1, 2], (1, 2), {"a": 1}, None, 1 + 2j, object(),
               math.inf, -math.inf, math.nan, -0.0, 2**70, -2**64, 2**63, 2**63 - 1, -2**63]


@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
def test_wrong_python_types(mods, value):
    for name in ["add1", "neg", "absv", "conv", "truth"]:
        same(mods, name, lambda: (value,))
    same(mods, "fdiv", lambda: (1, value))
    same(mods, "fdiv", lambda: (value, 3))
    same(mods, "mod", lambda: (7, value))
    same(mods, "shift", lambda: (value, 3))
    same(mods, "shift", lambda: (1, value))
    same(mods, "power", lambda: (value, 2))
    for name in ["first", "total", "sizes"]:
        same(mods, name, lambda: (value,))
    same(mods, "idx", lambda: (np.arange(5.0), value))
    same(mods, "put", lambda: (np.arange(5.0), 1, value))
    if not isinstance(value, int) or abs(value) < 10**6:
        same(mods, "loop", lambda: (value,))


@pytest.mark.parametrize("args", [
    (0, 10, 0), (0, 10, -1), (10, 0, -3), (0, 10, 2**62), (-2**63, -2**63 + 5, 1),
    (2**63 - 3, 2**63 - 1, 1), (0, 5, np.int64(2)), (0, 5, 1.0), (0, 5, True),
    (0, 2**64, 2**63), (None, 5, 1)], ids=repr)
def test_range_arguments(mods, args):
    same(mods, "loop3", lambda: args)


def test_int_edges_are_python_ints(mods):
    """64-bit edges: results that do not fit re-run as Python (exact big ints)."""
    for x in [2**63 - 1, -2**63, 2**62, -2**62 - 1, 3037000500, -3037000500]:
        for name in ["add1", "neg", "absv", "conv"]:
            same(mods, name, lambda: (x,))
        same(mods, "power", lambda: (x, 2))
        same(mods, "shift", lambda: (x, 1))
        same(mods, "mod", lambda: (x, -7))
        same(mods, "fdiv", lambda: (x, 3))
    same(mods, "add1", lambda: (2**63 - 1,), native=False)  # the overflow re-runs as Python
    same(mods, "shift", lambda: (1, 63))
    same(mods, "shift", lambda: (1, 64))
    same(mods, "shift", lambda: (1, -1))


def test_bools_where_ints_are_expected(mods):
    for b in [True, False]:
        for name in ["add1", "neg", "absv", "conv", "truth", "loop"]:
            same(mods, name, lambda: (b,), native=True)
        same(mods, "shift", lambda: (b, 3))
        same(mods, "power", lambda: (2, b))
        same(mods, "fdiv", lambda: (1, b))
        same(mods, "mod", lambda: (7, b))
        same(mods, "idx", lambda: (np.arange(5.0), b))  # a bool index: Python
        same(mods, "put", lambda: (np.arange(5), 1, b), native=True)
        same(mods, "pair", lambda: (b, b))


SCALAR_TYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                np.uint32, np.uint64, np.float16, np.float32, np.float64, np.longdouble,
                np.complex64, np.complex128, np.clongdouble]


@pytest.mark.parametrize("scalar_type", SCALAR_TYPES, ids=lambda t: t.__name__)
def test_numpy_scalars_of_every_dtype(mods, scalar_type):
    for v in [0, 1, 100]:
        x = scalar_type(v)
        for name in ["add1", "neg", "absv", "conv", "truth"]:
            same(mods, name, lambda: (x,))
        same(mods, "shift", lambda: (x, 3))
        same(mods, "power", lambda: (x, 2))
        same(mods, "power", lambda: (2, x))
        same(mods, "power", lambda: (x, -1))
        same(mods, "fdiv", lambda: (x, 2))
        same(mods, "fdiv", lambda: (7, x))
        same(mods, "mod", lambda: (7, x))
        same(mods, "pair", lambda: (x, x))
        same(mods, "idx", lambda: (np.arange(200.0), x))
        if scalar_type not in (np.complex64, np.complex128, np.clongdouble):
            same(mods, "put", lambda: (np.arange(5.0), 1, x))
        if np.issubdtype(scalar_type, np.integer) or scalar_type is np.bool_:
            same(mods, "loop", lambda: (x,))
    info = np.iinfo(scalar_type) if np.issubdtype(scalar_type, np.integer) else None
    if info is not None:
        for v in [info.min, info.max]:
            x = scalar_type(v)
            for name in ["add1", "neg", "absv", "conv"]:
                same(mods, name, lambda: (x,))
            same(mods, "power", lambda: (x, 2))


def _readonly(a):
    a.flags.writeable = False
    return a


def _unaligned():
    buf = np.zeros(8 * 5 + 1, dtype=np.uint8)
    a = buf[1:].view(np.float64)
    a[:] = np.arange(5.0)
    return a


UNSUPPORTED_ARRAYS = {
    "complex128": lambda: np.arange(4, dtype=np.complex128) * (1 + 1j),
    "object": lambda: np.array([1, 2.5, 3], dtype=object),
    "object of big ints": lambda: np.array([2**70, 1], dtype=object),
    "datetime64": lambda: np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
    "timedelta64": lambda: np.array([1, 2], dtype="timedelta64[s]"),
    "str": lambda: np.array(["a", "bc"]),
    "bytes": lambda: np.array([b"a", b"bc"]),
    "structured": lambda: np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
    "float16": lambda: np.arange(4, dtype=np.float16),
    "longdouble": lambda: np.arange(4, dtype=np.longdouble),
    "big-endian float64": lambda: np.arange(4, dtype=">f8"),
    "big-endian int32": lambda: np.arange(4, dtype=">i4"),
    "unaligned float64": _unaligned,
    "5-d": lambda: np.arange(32.0).reshape(2, 2, 2, 2, 2),
}


@pytest.mark.parametrize("make", UNSUPPORTED_ARRAYS.values(), ids=UNSUPPORTED_ARRAYS.keys())
def test_arrays_of_dtypes_heron_does_not_compile(mods, make):
    for name in ["total", "first", "sizes"]:
        same(mods, name, lambda: (make(),))
    for i in [0, -1, 3, 9]:
        same(mods, "idx", lambda: (make(), i))
    same(mods, "row0", lambda: (make(), 0))
    same(mods, "put", lambda: (make(), 0, 1))
    same(mods, "fill", lambda: (make(), 2))


LAYOUTS = {
    "every third": lambda: np.arange(10.0)[::3],
    "reversed": lambda: np.arange(10.0)[::-1],
    "column of 2-d": lambda: np.arange(12.0).reshape(3, 4)[:, 1],
    "Fortran 2-d": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "transposed": lambda: np.arange(12.0).reshape(3, 4).T,
    "stride 0 (broadcast)": lambda: np.broadcast_to(np.arange(3.0), (4, 3)),
    "as_strided overlap": lambda: np.lib.stride_tricks.as_strided(
        np.arange(6.0), shape=(4, 3), strides=(8, 8)),
    "int8 every other": lambda: np.arange(10, dtype=np.int8)[::2],
}


@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_non_contiguous_arrays(mods, make):
    a = make()
    name = "total2d" if a.ndim == 2 else "total"
    same(mods, name, lambda: (make(),), native=True)
    same(mods, "sizes", lambda: (make(),), native=True)
    for i in [0, 1, -1, len(a) - 1, len(a), -len(a) - 1]:
        same(mods, "idx", lambda: (make(), i), native=a.ndim == 1 or None)
    if a.ndim == 2:
        same(mods, "get2", lambda: (make(), 1, -1), native=True)
        same(mods, "row0", lambda: (make(), -1), native=True)
    else:
        same(mods, "fill", lambda: (make(), 7))
        same(mods, "put", lambda: (make(), -1, 5))


def test_read_only_arrays(mods):
    make = lambda: _readonly(np.arange(5.0))  # noqa: E731
    same(mods, "total", lambda: (make(),), native=True)
    same(mods, "idx", lambda: (make(), -2), native=True)
    same(mods, "put", lambda: (make(), 0, 1.0))
    same(mods, "put", lambda: (make(), 9, 1.0))
    same(mods, "fill", lambda: (make(), 2.0))
    same(mods, "fill", lambda: (_readonly(np.zeros(0)), 2.0))  # nothing is written
    view = lambda: _readonly(np.arange(12.0).reshape(3, 4))[::2]  # noqa: E731
    same(mods, "row0", lambda: (view(), 1), native=True)


def test_zero_size_arrays(mods):
    for make in [lambda: np.zeros(0), lambda: np.zeros(0, dtype=np.int32),
                 lambda: np.zeros((0, 3)), lambda: np.zeros((3, 0)), lambda: np.zeros((0, 0))]:
        a = make()
        same(mods, "total2d" if a.ndim == 2 else "total", lambda: (make(),), native=True)
        same(mods, "sizes", lambda: (make(),), native=True)
        same(mods, "first", lambda: (make(),))
        same(mods, "idx", lambda: (make(), -1))
        same(mods, "row0", lambda: (make(), 0))
        same(mods, "put", lambda: (make(), 0, 1))
        same(mods, "fill", lambda: (make(), 1))


def test_zero_dimensional_arrays(mods):
    for make in [lambda: np.array(3.5), lambda: np.array(7), lambda: np.array(True),
                 lambda: _readonly(np.array(1.0))]:
        for name in ["add1", "neg", "absv", "conv", "truth", "total", "first", "sizes"]:
            same(mods, name, lambda: (make(),))
        same(mods, "idx", lambda: (make(), 0))
        same(mods, "idx", lambda: (np.arange(5.0), make()))
        same(mods, "put", lambda: (make(), 0, 1))
        same(mods, "put", lambda: (np.arange(5.0), 1, make()))
        same(mods, "fdiv", lambda: (make(), 2))
        same(mods, "loop", lambda: (make(),))


STORES = [
    ("float64", 1 + 2j), ("float64", 2**70), ("float64", "x"), ("float64", None),
    ("float64", np.float32(1.1)), ("float64", math.nan), ("float32", 1.1), ("float32", 1e300),
    ("int64", 1e300), ("int64", math.nan), ("int64", math.inf), ("int64", 2.5),
    ("int64", np.float64(2.5)), ("int64", True), ("int64", 2**63), ("int64", -2**63),
    ("uint64", -1), ("uint64", np.int64(-1)), ("uint64", 2**64 - 1), ("uint32", np.int64(-1)),
    ("uint8", 300), ("uint8", -1), ("uint8", np.int64(1000)), ("uint8", np.float64(-1.0)),
    ("int8", 1000), ("int8", -129), ("int16", np.float64(1e10)), ("int32", 2**31),
    ("bool", 5), ("bool", 0.0), ("bool", np.int64(2)), ("bool", None),
    ("int8", np.int64(1000)), ("int16", np.int64(100000)), ("int32", np.uint32(2**32 - 1)),
    ("int64", np.uint64(2**63 - 1)), ("uint8", np.uint64(2**64 - 1)),
]


@pytest.mark.parametrize("dtype, value", STORES, ids=lambda x: repr(x))
def test_stores_of_values_that_do_not_fit(mods, dtype, value):
    make = lambda: np.array([1, 0, 1, 0], dtype=dtype)  # noqa: E731
    same(mods, "put", lambda: (make(), 0, value))
    same(mods, "fill", lambda: (make(), value))


def test_uint64_scalar_stored_into_int64_array(mods):
    same(mods, "put", lambda: (np.zeros(3, dtype=np.int64), 0, np.uint64(2**64 - 1)))


def test_wrong_number_of_arguments_and_keywords(mods):
    same(mods, "pair", lambda: (3,))
    same(mods, "pair", lambda: (3, 4))
    same(mods, "pair", lambda: ())
    same(mods, "pair", lambda: (1, 2, 3))
    same(mods, "pair", lambda: tuple(range(9)))
    same(mods, "pair", lambda: tuple(range(12)))
    same(mods, "kwonly", lambda: (1,))
    same(mods, "kwonly", lambda: (1, 2))
    same(mods, "posonly", lambda: (5, 2))
    same(mods, "posonly", lambda: (5,))
    plain, jit = mods
    for call in [lambda f: f(3, y=5), lambda f: f(x=3), lambda f: f(3, z=1),
                 lambda f: f(3, 4, y=5)]:
        for name in ["pair", "kwonly", "posonly"]:
            results = []
            for fn in (getattr(plain, name), getattr(jit, name)):
                try:
                    results.append(("value", call(fn)))
                except TypeError as exc:
                    results.append(("raise", str(exc)))
            assert results[0] == results[1], (name, results)


class Zeroes(np.ndarray):
    """An ndarray subclass whose items all read as 0 and whose length is 99."""

    def __getitem__(self, index):
        return np.float64(0.0)

    def __len__(self):
        return 99


class OneLong(np.ndarray):
    @property
    def shape(self):
        return (1,)


def test_ndarray_subclasses(mods):
    same(mods, "total", lambda: (np.arange(4.0).view(Zeroes),))
    same(mods, "sizes", lambda: (np.arange(4.0).view(Zeroes),))
    same(mods, "total", lambda: (np.arange(4.0).view(OneLong),))
    same(mods, "first", lambda: (np.ma.array([1.0, 2.0], mask=[1, 0]),))
