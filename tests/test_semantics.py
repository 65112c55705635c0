"""Compiled functions against CPython: same value, same type, same exception, same arrays.

Each case is a small module; every function runs under CPython and under Heron, and the test
fails on any difference (see ``_compare``). Most cases also assert that Heron really ran native
code, so a silent fallback to the interpreter cannot hide a missing feature.
"""
import math

import numpy as np
import pytest

pytest.importorskip("heron._native")

from _compare import assert_same, modules  # noqa: E402

INTS = [0, 1, -1, 7, -7, 3, -3, 2**40 + 5, -(2**40) - 3]
FLOATS = [0.0, -0.0, 1.5, -2.25, 7.0, -7.0, 1e300, -1e-300, math.inf, -math.inf, math.nan, 0.1]

ARITH = """
def add(a, b):
    return a + b
def sub(a, b):
    return a - b
def mul(a, b):
    return a * b
def div(a, b):
    return a / b
def floordiv(a, b):
    return a // b
def mod(a, b):
    return a % b
def power(a, b):
    return a ** b
def neg(a):
    return -a
def lt(a, b):
    return a < b
def le(a, b):
    return a <= b
def eq(a, b):
    return a == b
def ne(a, b):
    return a != b
def chain(a, b):
    return a < b <= 10
def logic(a, b):
    return (a and b) or a
def ternary(a, b):
    return a if a > b else b
"""


@pytest.fixture(scope="module")
def arith(tmp_path_factory):
    return modules(tmp_path_factory.mktemp("arith"), ARITH)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "floordiv", "mod", "lt", "le", "eq", "ne", "chain", "logic", "ternary"])
def test_int_operators(arith, name):
    plain, jit = arith
    for a in INTS:
        for b in INTS:
            assert_same(plain, jit, name, a, b)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "floordiv", "mod", "lt", "le", "eq", "ne", "chain", "ternary"])
def test_float_operators(arith, name):
    plain, jit = arith
    for a in FLOATS:
        for b in FLOATS:
            assert_same(plain, jit, name, a, b)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "floordiv", "mod", "lt", "eq", "chain"])
def test_mixed_int_float(arith, name):
    plain, jit = arith
    for a in INTS:
        for b in FLOATS:
            assert_same(plain, jit, name, a, b)
            assert_same(plain, jit, name, b, a)


def test_int_float_comparison_is_exact(arith):
    plain, jit = arith
    big = 2**53 + 1
    for op in ["lt", "le", "eq", "ne"]:
        assert_same(plain, jit, op, big, float(2**53))
        assert_same(plain, jit, op, float(2**53), big)


def test_true_division_of_ints(arith):
    plain, jit = arith
    for a in [7, -7, 1, 10**15, 3]:
        for b in [2, -3, 7, 1]:
            assert_same(plain, jit, "div", a, b)


def test_division_by_zero_raises_like_python(arith):
    plain, jit = arith
    for name in ["floordiv", "mod"]:
        assert_same(plain, jit, name, 5, 0)
    for name in ["div", "floordiv", "mod"]:
        assert_same(plain, jit, name, 5.0, 0.0)
        assert_same(plain, jit, name, 5, 0.0)
    assert_same(plain, jit, "div", 5, 0)


def test_integer_overflow_gives_python_big_ints(arith):
    """Overflow deoptimizes: the interpreter re-runs the call and returns the exact big int."""
    plain, jit = arith
    for a, b in [(2**62, 2**62), (-(2**63) + 1, -5), (2**40, 2**40)]:
        assert_same(plain, jit, "add", a, b, native=False)
        assert_same(plain, jit, "mul", a, b, native=False)
    assert_same(plain, jit, "neg", -(2**63), native=False)
    assert_same(plain, jit, "floordiv", -(2**63), -1, native=False)


def test_int_power(arith):
    plain, jit = arith
    for a in [0, 1, -1, 2, -3, 10]:
        for b in [0, 1, 2, 5, 13]:
            assert_same(plain, jit, "power", a, b)
    assert_same(plain, jit, "power", 2, 64, native=False)
    assert_same(plain, jit, "power", 2, -1, native=False)


def test_float_power(arith):
    plain, jit = arith
    for a in FLOATS + [-8.0, 2.0]:
        for b in [0.0, 0.5, 2.0, 3.0, -1.0, -0.5, math.inf, math.nan, 1e10]:
            assert_same(plain, jit, "power", a, b, native=False)


POW = """
def p2(x):
    return x ** 2
def p3(x):
    return x ** 3
def p5(x):
    return x ** 5
def p8(x):
    return x ** 8
def poly(x):
    return 10 * x**5 + 4 * x**4 + x**3 - 20 * x**2 + 3
"""


def test_float_to_small_int_powers_are_bit_identical(tmp_path):
    plain, jit = modules(tmp_path, POW)
    rng = np.random.default_rng(1)
    xs = list(rng.normal(size=400) * 10) + list(rng.uniform(-2, 2, size=400)) + [0.0, -0.0, 1e-100, 1e100, 1e-320, math.inf, math.nan, -1.0]
    for name in ["p2", "p3", "p5", "p8", "poly"]:
        for x in xs:
            assert_same(plain, jit, name, float(x), native=False)
            assert_same(plain, jit, name, np.float64(x), native=False)


MATH = """
import math
def m_sqrt(x):
    return math.sqrt(x)
def m_log(x):
    return math.log(x)
def m_exp(x):
    return math.exp(x)
def m_sin(x):
    return math.sin(x) + math.cos(x) * math.tan(x)
def m_floor(x):
    return math.floor(x)
def m_ceil(x):
    return math.ceil(x)
def m_atan2(x):
    return math.atan2(x, 2.0)
def m_fmod(x):
    return math.fmod(x, 3.0)
def m_preds(x):
    return math.isnan(x) or math.isinf(x)
def m_erf(x):
    return math.erf(x) + 2.0 * math.erfc(x)
def m_pow(x):
    return math.pow(x, 2.5), math.pow(x, -3), math.pow(-2.0, x), math.pow(x, 0.0), math.pow(1.0, x)
def m_ieee(x):
    return math.remainder(x, 3.0), math.nextafter(x, 0.0), math.ulp(x), math.isclose(x, x * (1 + 1e-10)), math.isclose(x, 1.5)
def m_ldexp(x):
    return math.ldexp(x, 3), math.ldexp(x, -1080), math.ldexp(x, 2000)
def m_const():
    return math.pi * 2 + math.e
def to_int(x):
    return int(x)
def to_float(x):
    return float(x)
def rnd(x):
    return round(x)
def absval(x):
    return abs(x)
def mn(a, b):
    return min(a, b)
def mx(a, b):
    return max(a, b, 0.5)
"""


@pytest.mark.parametrize("name", ["m_sqrt", "m_log", "m_exp", "m_sin", "m_floor", "m_ceil", "m_atan2", "m_fmod", "m_preds", "m_erf", "m_pow", "m_ieee", "m_ldexp", "to_int", "to_float", "rnd", "absval"])
def test_math_and_builtins_on_floats(tmp_path, name):
    plain, jit = modules(tmp_path, MATH)
    for x in FLOATS + [-1.0, 2.5, 3.5, -2.5, 1e20]:
        assert_same(plain, jit, name, x)


def test_math_on_ints(tmp_path):
    plain, jit = modules(tmp_path, MATH)
    for name in ["m_sqrt", "m_floor", "to_int", "to_float", "rnd", "absval", "m_log"]:
        for x in [0, 1, -1, 10, 2**60]:
            assert_same(plain, jit, name, x)
    assert_same(plain, jit, "absval", -(2**63), native=False)
    assert_same(plain, jit, "m_const")


def test_min_max_keep_the_first_extreme(tmp_path):
    plain, jit = modules(tmp_path, MATH)
    for a in FLOATS:
        for b in FLOATS:
            assert_same(plain, jit, "mn", a, b)
            assert_same(plain, jit, "mx", a, b)


LOOPS = """
def count(n):
    total = 0
    for i in range(n):
        total += i
    return total
def count_step(a, b, s):
    total = 0
    for i in range(a, b, s):
        total += i * i
    return total
def last(n):
    k = -1
    for i in range(n):
        k = i
    return k
def collatz(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps
def find(n, target):
    for i in range(n):
        if i * i >= target:
            break
    else:
        return -1
    return i
def skip(n):
    s = 0
    i = 0
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        s += i
    return s
def nested(n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s += i / (j + 1)
    return s
def mixed_total(n):
    total = 0
    for i in range(n):
        total += 0.5
    return total
"""


def test_loops(tmp_path):
    plain, jit = modules(tmp_path, LOOPS)
    for n in [0, 1, 5, 100]:
        assert_same(plain, jit, "count", n)
        assert_same(plain, jit, "nested", n)
        assert_same(plain, jit, "skip", n)
        assert_same(plain, jit, "mixed_total", n)
        assert_same(plain, jit, "find", n, 50)
    for a, b, s in [(0, 10, 1), (10, 0, -1), (0, 10, 3), (5, -5, -2), (0, 10, -1), (3, 3, 1)]:
        assert_same(plain, jit, "count_step", a, b, s)
    assert_same(plain, jit, "count_step", 0, 10, 0)
    for n in [1, 7, 27, 97]:
        assert_same(plain, jit, "collatz", n)


ARRAYS = """
def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s
def total2d(a):
    M, N = a.shape
    result = 0.0
    for i in range(M):
        for j in range(N):
            result += a[i, j]
    return result
def get(a, i):
    return a[i]
def get2(a, i, j):
    return a[i, j]
def put(a, i, v):
    a[i] = v
def scale(a, k):
    for i in range(len(a)):
        a[i] *= k
def row_sum(a, r):
    row = a[r]
    s = 0
    for j in range(row.shape[0]):
        s += row[j]
    return s
def size_ndim(a):
    return a.size, a.ndim, len(a)
def int_sum(a):
    s = 0
    for i in range(a.shape[0]):
        s += a[i]
    return s
def compare_elems(a):
    return a[0] > a[1]
"""

DTYPES = ["float64", "float32", "int64", "int32", "int16", "uint8", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_reads(tmp_path, dtype):
    plain, jit = modules(tmp_path, ARRAYS)
    a = (np.arange(12) * 3 - 7).astype(dtype)
    a2 = a.reshape(3, 4)
    if dtype != "bool":
        assert_same(plain, jit, "total", a)
        assert_same(plain, jit, "total2d", a2)
        assert_same(plain, jit, "total2d", a2.T)
        assert_same(plain, jit, "total2d", a2[:, ::2])
        assert_same(plain, jit, "int_sum", a)
        assert_same(plain, jit, "row_sum", a2, 1)
    for i in [0, 5, 11, -1, -12, 12, -13]:
        assert_same(plain, jit, "get", a, i)
    for i, j in [(0, 0), (2, 3), (-1, -1), (3, 0), (0, 4), (0, -5)]:
        assert_same(plain, jit, "get2", a2, i, j)
    assert_same(plain, jit, "size_ndim", a2)
    assert_same(plain, jit, "compare_elems", a)


def test_empty_arrays(tmp_path):
    plain, jit = modules(tmp_path, ARRAYS)
    assert_same(plain, jit, "total", np.zeros(0))
    assert_same(plain, jit, "total2d", np.zeros((0, 3)))
    assert_same(plain, jit, "get", np.zeros(0), 0)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8"])
def test_array_stores(tmp_path, dtype):
    plain, jit = modules(tmp_path, ARRAYS)
    a = np.arange(6).astype(dtype)
    for i, v in [(0, 5), (-1, 7), (6, 1), (2, 2.5), (3, True), (1, 300), (1, -1)]:
        if isinstance(v, float) and dtype.startswith(("int", "uint")):
            continue
        assert_same(plain, jit, "put", a, i, v)
    assert_same(plain, jit, "scale", a, 2)


def test_numpy_scalar_results_keep_numpy_types(tmp_path):
    plain, jit = modules(tmp_path, ARRAYS)
    got = jit.get(np.array([1.5, 2.5]), 0)
    assert type(got) is np.float64
    assert type(jit.compare_elems(np.array([3, 1]))) is np.bool_
    assert type(jit.total(np.array([1.0, 2.0]))) is np.float64
    assert type(jit.total(np.array([], dtype=float))) is float


MISC = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
def sq(x):
    return x * x
def use_sq(n):
    s = 0
    for i in range(n):
        s += sq(i)
    return s
def pair(a, b):
    return a + b, a - b
def unpack(a, b):
    x, y = pair(a, b)
    return x * y
def check(x):
    if x < 0:
        raise ValueError("negative input")
    assert x != 3, "three is not allowed"
    return x
def maybe(n):
    if n > 0:
        return n
    return -1.5
def flag(x):
    return not x
LIMIT = 10
def glob(x):
    return x + LIMIT
"""


def test_calls_recursion_tuples_errors(tmp_path):
    plain, jit = modules(tmp_path, MISC)
    for n in [0, 1, 2, 10, 20]:
        assert_same(plain, jit, "fib", n)
    assert_same(plain, jit, "use_sq", 10)
    assert_same(plain, jit, "pair", 3, 4.5)
    assert_same(plain, jit, "unpack", 3, 4)
    for x in [-1, 0, 3, 5]:
        assert_same(plain, jit, "check", x)
    for n in [5, -5]:
        assert_same(plain, jit, "maybe", n)
    for x in [0, 1, 0.0, 2.5, True]:
        assert_same(plain, jit, "flag", x)
    assert_same(plain, jit, "glob", 5)


def test_exception_traceback_names_the_line(tmp_path):
    plain, jit = modules(tmp_path, MISC)
    import traceback
    try:
        jit.check(-1)
    except ValueError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        assert frames[-1].filename.endswith(".py") and "heron_case" in frames[-1].filename
        assert frames[-1].lineno == MISC.splitlines().index('        raise ValueError("negative input")') + 1
        assert frames[-1].name == "check"
    else:
        raise AssertionError("no exception")


def test_unsupported_arguments_run_as_python(tmp_path):
    plain, jit = modules(tmp_path, MISC)
    assert_same(plain, jit, "sq", 2**70, native=False)
    assert_same(plain, jit, "sq", "ab" if False else 3 + 4j, native=False)
    assert jit.sq.stats()["failures"]


MORE = """
def dm(a, b):
    return divmod(a, b)
def rn(x, n):
    return round(x, n)
def inv(a):
    return a ** -1
def inv2(a):
    return a ** -2 + 1
"""


def test_divmod_round_ndigits_negative_int_powers(tmp_path):
    plain, jit = modules(tmp_path, MORE)
    for a in INTS[:7] + FLOATS[:8]:
        for b in [3, -3, 2.5, 0, 0.0, -0.0]:
            assert_same(plain, jit, "dm", a, b)
    for x in FLOATS + [2.675, 0.125, 1234.5678, -0.5, 1e-7]:
        for n in [0, 1, 2, 5, 400]:
            assert_same(plain, jit, "rn", x, n)
        assert_same(plain, jit, "rn", x, -1, native=False)
    for a in [1, 2, -4, 0, 10**6]:
        assert_same(plain, jit, "inv", a)
        assert_same(plain, jit, "inv2", a)


POW_LOOP = """
def powers(xs, out):
    for i in range(xs.shape[0]):
        x = xs[i]
        out[0, i] = x ** 2
        out[1, i] = x ** 3
        out[2, i] = x ** 4
        out[3, i] = x ** 5
        out[4, i] = x ** 6
        out[5, i] = x ** 7
        out[6, i] = x ** 8
"""


def test_powers_match_libm_pow_on_many_values(tmp_path):
    """The double-double fast path of `x ** n` agrees with libm's pow (CPython's `**`) bit for bit."""
    plain, jit = modules(tmp_path, POW_LOOP)
    rng = np.random.default_rng(7)
    n = 20_000
    xs = np.concatenate([rng.uniform(-2, 2, n), rng.normal(size=n) * 1e3, np.exp(rng.uniform(-80, 80, n)),
                         rng.integers(-2**20, 2**20, n) / 1024.0])
    out = np.zeros((7, xs.size))
    jit.powers(xs, out)
    for k in range(7):
        ref = np.array([math.pow(x, float(k + 2)) for x in xs.tolist()])
        bad = np.flatnonzero(ref.view(np.int64) != out[k].view(np.int64))
        assert bad.size == 0, f"x**{k + 2} differs from pow for {xs[bad[:5]]}"


SPECULATE = """
def mean(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    return s / len(a) if len(a) > 0 else 0.0
def mean2(a):
    s = 0
    for i in range(len(a)):
        s += a[i]
    m = s / max(len(a), 1)
    return m * 2
def norm(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * a[i]
    return s ** 0.5
def impure(a, out):
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    out[0] = 1.0
    return s / 2
def branches(x, c):
    return x ** 3 if c else x ** 2
"""


def test_variables_that_change_type_are_speculated_in_pure_functions(tmp_path):
    """`s = 0.0; s += a[i]`: s is a float for an empty array, else a numpy.float64; later uses
    are compiled for numpy.float64 and deoptimize (re-run as Python) in the other case."""
    plain, jit = modules(tmp_path, SPECULATE)
    for a in [np.arange(5.0), np.array([1.5, -2.0, 7.25])]:
        assert_same(plain, jit, "mean2", a)
        assert_same(plain, jit, "norm", a)
    assert_same(plain, jit, "mean2", np.zeros(0), native=False)
    assert_same(plain, jit, "norm", np.zeros(0), native=False)
    assert_same(plain, jit, "impure", np.arange(3.0), np.zeros(2), native=False)
    for x in [1.5, -2.0, 3]:
        for c in [True, False]:
            assert_same(plain, jit, "branches", x, c)


BOUNDS = """
def stencil(a, out):
    n = a.shape[0]
    for i in range(1, n - 1):
        out[i] = a[i - 1] + a[i] + a[i + 1]
def too_far(a):
    s = 0.0
    for i in range(0, len(a) - 1):
        s += a[i + 2]
    return s
def too_low(a):
    s = 0.0
    for i in range(1, len(a)):
        s += a[i - 2]
    return s
def grid(a):
    M, N = a.shape
    s = 0.0
    for i in range(1, M - 1):
        for j in range(1, N - 1):
            s += a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]
    return s
def consts():
    return 2 ** 31 + (7 // -2) + (-7 % 3) + (1 << 40) + (2 ** 62 - 1 + 2 ** 62)
"""


def test_bounds_checks_removed_only_where_proven(tmp_path):
    plain, jit = modules(tmp_path, BOUNDS)
    for n in [0, 1, 2, 3, 8]:
        a = np.arange(float(n))
        assert_same(plain, jit, "stencil", a, np.zeros(n))
        assert_same(plain, jit, "too_far", a)
        assert_same(plain, jit, "too_low", a)
    for shape in [(0, 0), (1, 5), (3, 3), (6, 4)]:
        assert_same(plain, jit, "grid", np.arange(float(np.prod(shape))).reshape(shape))
    assert_same(plain, jit, "consts")


ALLOC = """
import numpy as np
def squares(n):
    out = np.empty(n)
    for i in range(n):
        out[i] = i * i
    return out
def grid(m, n):
    g = np.zeros((m, n), dtype=np.int32)
    for i in range(m):
        for j in range(n):
            g[i, j] = i - j
    return g
def like(a):
    b = np.zeros_like(a)
    for i in range(len(a)):
        b[i] = a[i] * 2
    return b, len(b)
def ones_sum(n):
    t = np.ones(n, dtype=float)
    s = 0.0
    for i in range(n):
        s += t[i]
    return s
def in_loop(n):
    total = 0
    for k in range(n):
        tmp = np.empty(3, np.int64)
        tmp[0] = k
        total += tmp[0]
    return total
def passthrough(a):
    return a
def row(a):
    return a[1]
"""


def test_arrays_made_in_compiled_code(tmp_path):
    plain, jit = modules(tmp_path, ALLOC)
    for n in [0, 1, 5]:
        assert_same(plain, jit, "squares", n)
        assert_same(plain, jit, "ones_sum", n)
        assert_same(plain, jit, "in_loop", n)
    assert_same(plain, jit, "squares", -1)
    assert_same(plain, jit, "grid", 3, 4)
    assert_same(plain, jit, "like", np.arange(4.0))
    assert_same(plain, jit, "like", np.arange(4, dtype=np.int16))
    a = np.arange(6.0)
    assert jit.passthrough(a) is a
    assert_same(plain, jit, "row", np.arange(6.0).reshape(2, 3), native=False)
    out = jit.squares(4)
    assert out.flags.owndata and out.flags.c_contiguous and out.dtype == np.float64


FOREACH = """
def total(a):
    s = 0.0
    for x in a:
        s += x
    return s
def rows(a):
    best = -1.0
    for r in a:
        t = 0.0
        for x in r:
            t += x
        if t > best:
            best = t
    return best
def first_negative(a):
    k = 0
    for x in a:
        if x < 0:
            break
        k += 1
    else:
        return -1
    return k
"""


def test_for_loops_over_arrays(tmp_path):
    plain, jit = modules(tmp_path, FOREACH)
    for a in [np.arange(5.0), np.zeros(0), np.array([1, -2, 3], dtype=np.int32)]:
        assert_same(plain, jit, "total", a)
        assert_same(plain, jit, "first_negative", a)
    assert_same(plain, jit, "rows", np.arange(12.0).reshape(3, 4))
    assert_same(plain, jit, "rows", np.arange(12.0).reshape(3, 4).T)


SLICES = """
def total(v):
    s = 0.0
    for i in range(v.shape[0]):
        s += float(v[i]) * (i + 1)
    return s
def sl(a, lo, hi, st):
    return total(a[lo:hi:st])
def sl_default(a, lo):
    return total(a[lo:]) + total(a[:lo]) * 3 + total(a[::-1]) * 7
def col(m, j):
    return total(m[:, j])
def sub(m):
    s = 0.0
    v = m[1:, ::2]
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            s += v[i, j] * (i + 2 * j)
    return s
def zero_step(a):
    return total(a[::0])
"""


def test_slices_are_views(tmp_path):
    plain, jit = modules(tmp_path, SLICES)
    a = np.arange(10.0) ** 2
    for lo, hi, st in [(0, 10, 1), (2, 8, 2), (8, 2, -1), (-3, -1, 1), (-20, 20, 3), (9, -20, -2), (5, 5, 1), (20, 30, 1), (-1, -11, -1)]:
        assert_same(plain, jit, "sl", a, lo, hi, st)
    for lo in [0, 3, -2, 50, -50]:
        assert_same(plain, jit, "sl_default", a, lo)
    m = np.arange(12.0).reshape(3, 4)
    for j in [0, 3, -1, 4]:
        assert_same(plain, jit, "col", m, j)
    assert_same(plain, jit, "sub", m)
    assert_same(plain, jit, "sub", m.T)
    assert_same(plain, jit, "zero_step", a)


UNION_CALLEE = """
def total(v):
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i]
    return s
def both(a, b):
    return total(a) + total(b)
def store_both(a, b, out):
    out[0] = total(a) + total(b)
"""


def test_callee_returning_different_types(tmp_path):
    """total() returns 0.0 (float) for an empty array and a numpy.float64 otherwise; a pure
    caller speculates on numpy.float64 and re-runs as Python in the other case."""
    plain, jit = modules(tmp_path, UNION_CALLEE)
    assert_same(plain, jit, "both", np.arange(3.0), np.arange(4.0))
    assert_same(plain, jit, "both", np.zeros(0), np.arange(4.0), native=False)
    assert_same(plain, jit, "store_both", np.arange(3.0), np.arange(4.0), np.zeros(1), native=False)


UNION_STORE_SOURCE = """
import numpy as np


def running(a, out):
    t = 0.0
    for i in range(len(a)):
        t += a[i]
        out[i] = t
    return t


def mixed(n, out):
    t = 0
    for i in range(n):
        if i % 3 == 2:
            t = 0.5 * i
        else:
            t = i * 2
        out[i] = t
    return out[0]


def into_ints(a, out):
    t = 0.0
    for i in range(len(a)):
        t += a[i]
        out[i] = t
"""


def test_variable_that_changes_type_stored_into_float_arrays(tmp_path):
    # `t = 0.0; t += a[i]` makes t a numpy.float64 after the first step; stored into a float
    # array either member converts the same way. An int/float variable as well.
    plain, jit = modules(tmp_path, UNION_STORE_SOURCE)
    a = np.array([1.5, -2.25, 1e300, 1e300])
    for dt in (np.float64, np.float32):
        assert_same(plain, jit, "running", a, np.zeros(4, dtype=dt))
        assert_same(plain, jit, "running", a[:0].copy(), np.zeros(4, dtype=dt))
        assert_same(plain, jit, "mixed", 7, np.zeros(7, dtype=dt))
    # Into an int array NumPy casts a float and a numpy.float64 alike, but Heron leaves it to
    # the interpreter (the reason is reported).
    assert_same(plain, jit, "into_ints", np.array([1.5, 2.5]), np.zeros(2, dtype=np.int64), native=False)


CONST_CMP = """
def c(x):
    return (x < 4, x <= 4, x > 4, x >= 4, x == 4, x != 4, 4 < x, 4 <= x, 4 > x, 4 >= x, 4 == x,
            4 != x, x > -9007199254740992, x < 9007199254740993, x == 9007199254740993)
"""


def test_float_compared_with_an_int_constant(tmp_path):
    # A constant int a float holds exactly is compared as a float; beyond 2**53 exactly.
    plain, jit = modules(tmp_path, CONST_CMP)
    for x in FLOATS + [3.9, 4.0, 4.1, 9007199254740992.0, 9007199254740994.0, -9007199254740992.0]:
        assert_same(plain, jit, "c", x)
