"""Native functions from compiled code and compiled C callbacks (issue 16): ctypes and cffi
functions called directly (no Python in between), with ctypes' and cffi's own argument
conversions; `a.ctypes.data_as(POINTER(...))`, `ndpointer` and row pointers into a user's
library built with `cc`; cffi's `from_buffer`, `cast` and `NULL`; `heron.cfunc` callbacks for `qsort`, called from Python and from
compiled code. Every program's output (values, warnings, errors) is compared with CPython
running it with `HERON_DISABLE=1`, and the functions named must have run natively.
"""

import re
import shutil
import subprocess
import textwrap

import pytest

from conftest import run_python, without_report_line
from test_ufuncs import compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_libm_and_libc_through_ctypes(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import ctypes, ctypes.util
    import numpy as np
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.j0.argtypes = [ctypes.c_double]
    libm.j0.restype = ctypes.c_double
    libm.cbrtf.argtypes = [ctypes.c_float]
    libm.cbrtf.restype = ctypes.c_float
    libm.ilogb.argtypes = [ctypes.c_double]
    libm.ilogb.restype = ctypes.c_int
    libc = ctypes.CDLL(None)
    libc.abs.argtypes = [ctypes.c_int]
    libc.abs.restype = ctypes.c_int
    labs = libc.labs
    labs.argtypes = [ctypes.c_long]
    labs.restype = ctypes.c_long
    libc.toupper.argtypes = [ctypes.c_uint8]
    libc.toupper.restype = ctypes.c_int

    # heron: jit
    def bessel(n):
        s = 0.0
        for i in range(n):
            s += libm.j0(i * 0.01) + libm.j0(i)
        return s

    # heron: jit
    def truncating(n):
        # ctypes keeps the low 32 bits of an int passed as a c_int (and 8 of a c_uint8).
        t = 0
        for i in range(-n, n):
            t += libc.abs(i * 3000000007) + labs(i * 3000000007) + libc.toupper(i + 353)
        return t

    # heron: jit
    def mixed(a):
        out = np.empty_like(a)
        for i in range(a.shape[0]):
            out[i] = libm.cbrtf(a[i]) + libm.ilogb(a[i] + 1.0) + libm.j0(np.float32(a[i])) + libm.j0(True)
        return out

    print(bessel(2000))
    print(truncating(500))
    r = mixed(np.linspace(0.0, 1e3, 11))
    print(r.dtype, r.tobytes().hex())
    """, native=["bessel", "truncating", "mixed"])


def test_what_ctypes_refuses_runs_as_python_with_its_error(heron_python, tmp_path):
    heron = compare(heron_python, tmp_path, """
    import ctypes
    libc = ctypes.CDLL(None)
    libc.abs.argtypes = [ctypes.c_int]
    libc.abs.restype = ctypes.c_int
    cos = ctypes.CDLL(None).cos   # no argtypes: ctypes cannot pass a float

    # heron: jit
    def wrong_type(x):
        return libc.abs(x)

    # heron: jit
    def no_argtypes(x):
        return cos(x)

    print(wrong_type(-3))
    try:
        wrong_type(2.5)
    except ctypes.ArgumentError as e:
        print("ArgumentError", e)
    try:
        no_argtypes(1.0)
    except ctypes.ArgumentError as e:
        print("ArgumentError", e)
    """, native=[])
    assert "ArgumentError argument 1" in heron.stdout


def test_a_users_library_with_pointers(heron_python, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "user.c").write_text("""
    double row_sum(const double *row, long n) { double s = 0; for (long i = 0; i < n; i++) s += row[i]; return s; }
    void scale(double *row, long n, double f) { for (long i = 0; i < n; i++) row[i] *= f; }
    int clamp(int i, int lo, int hi) { return i < lo ? lo : (i > hi ? hi : i); }
    double vsum(const void *p, long n) { const double *d = p; double s = 0; for (long i = 0; i < n; i++) s += d[i]; return s; }
    int count_true(const _Bool *b, int n) { int k = 0; for (int i = 0; i < n; i++) k += b[i]; return k; }
    """)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp_path / "libuser.so"), str(tmp_path / "user.c")], check=True)
    compare(heron_python, tmp_path, """
    import ctypes, os
    import numpy as np
    from ctypes import POINTER, c_double, c_long, c_int
    from numpy.ctypeslib import ndpointer
    lib = ctypes.CDLL(os.path.abspath("libuser.so"))
    lib.row_sum.argtypes = [POINTER(c_double), c_long]
    lib.row_sum.restype = c_double
    lib.scale.argtypes = [ndpointer(np.float64, ndim=1, flags="C_CONTIGUOUS"), c_long, c_double]
    lib.scale.restype = None
    lib.clamp.argtypes = [c_int, c_int, c_int]
    lib.clamp.restype = c_int
    lib.vsum.argtypes = [ctypes.c_void_p, c_long]
    lib.vsum.restype = c_double
    lib.count_true.argtypes = [POINTER(ctypes.c_bool), c_int]
    lib.count_true.restype = c_int
    DP = POINTER(c_double)

    # heron: jit
    def rows(m):
        out = np.empty(m.shape[0])
        for i in range(m.shape[0]):
            out[i] = lib.row_sum(m[i].ctypes.data_as(DP), m.shape[1]) + lib.row_sum(m[i, 1:].ctypes.data_as(POINTER(c_double)), 1)
        return out

    # heron: jit
    def scale_rows(m, f):
        for i in range(m.shape[0]):
            lib.scale(m[i], m.shape[1], f * i)

    # heron: jit
    def smooth(a):
        n = a.shape[0]
        out = np.zeros(n)
        for i in range(n):
            s = 0.0
            for k in range(-2, 3):
                s += a[lib.clamp(i + k, 0, n - 1)]
            out[i] = s / 5
        return out

    # heron: jit
    def total(a, mask):
        return lib.vsum(a.ctypes.data, a.size) + lib.vsum(a.ctypes, a.size) + lib.vsum(None, 0) + lib.count_true(mask.ctypes.data_as(POINTER(ctypes.c_bool)), mask.size)

    m = np.arange(12.0).reshape(3, 4)
    print(rows(m))
    scale_rows(m, 0.5)
    print(m)
    print(smooth(np.arange(10.0) ** 2))
    print(total(np.arange(5.0), np.arange(7) % 3 == 0))
    # heron: jit
    def scale_wrong(m):
        lib.scale(m[0], m.shape[1], 2.0)

    try:
        scale_wrong(np.ones((2, 3), dtype=np.float32))   # ndpointer refuses float32: NumPy's TypeError
    except TypeError as e:
        print("TypeError", e)
    """, native=["rows", "scale_rows", "smooth", "total"])


def test_argtypes_changed_after_a_compile(heron_python, tmp_path):
    # A ctypes function's argtypes, restype and errcheck are read when compiled code is made
    # to call it; setting them later must be seen by the next call (a recompile), as ctypes
    # sees it: c_int keeps the low 32 bits, an errcheck runs as Python.
    compare(heron_python, tmp_path, """
    import ctypes
    libc = ctypes.CDLL(None)
    labs = libc.labs
    labs.argtypes = [ctypes.c_long]
    labs.restype = ctypes.c_long

    # heron: jit
    def by_global(x):
        return labs(x)

    # heron: jit
    def by_library(x):
        return libc.labs(x)

    print(by_global(-2**40), by_library(-2**40))
    labs.argtypes = [ctypes.c_int]
    labs.restype = ctypes.c_int
    print(by_global(-2**40 - 5), by_library(-2**40 - 5))
    labs.argtypes = [ctypes.c_long]
    labs.restype = ctypes.c_long
    print(by_global(-2**40 - 5), by_library(-2**40 - 5))

    # heron: jit
    def checked(x):
        return libc.labs(x)

    print(checked(-7))
    labs.errcheck = lambda r, f, a: r + 1   # from now on the call runs as Python
    print(checked(-7))
    """, native=["by_global", "by_library"])


def test_cffi_functions(heron_python, tmp_path):
    pytest.importorskip("cffi")
    compare(heron_python, tmp_path, """
    from cffi import FFI
    import numpy as np
    ffi = FFI()
    ffi.cdef("double erf(double); double cbrt(double); int abs(int); unsigned char toupper_u(int);")
    C = ffi.dlopen(None)
    m = ffi.dlopen("libm.so.6")

    # heron: jit
    def table(n):
        out = np.empty(n)
        for i in range(n):
            out[i] = C.erf(i / n * 3) + m.cbrt(i) + C.abs(i - n // 2)
        return out

    # heron: jit
    def big(x):
        return C.abs(x)

    print(table(50).tobytes().hex())
    print(big(-7))
    try:
        print(big(2 ** 40))   # cffi checks the range: OverflowError
    except OverflowError as e:
        print("OverflowError", e)
    """, native=["table", "big"])


def test_cffi_pointers_into_arrays(heron_python, tmp_path):
    """`ffi.from_buffer`, `ffi.cast("T *", a.ctypes.data)` and `ffi.NULL` into a user's
    library through cffi: cffi's own type rule (a `T *` takes only a pointer to the same C
    spelling: `int32_t[]` for `int *` is its TypeError, run as Python), a typedef resolved by
    the program's FFI, a pointer kept in a variable and read `p[i]`, and a deoptimization
    (an int overflow) with a cast pointer live, handed to the interpreter as cffi's pointer."""
    pytest.importorskip("cffi")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "cf.c").write_text("""
    double dsum(const double *p, long n) { double s = 0; for (long i = 0; i < n; i++) s += p[i]; return s; }
    void scale(double *p, long n, double k) { for (long i = 0; i < n; i++) p[i] *= k; }
    long isum(const int *p, long n) { long s = 0; for (long i = 0; i < n; i++) s += p[i]; return s; }
    long csum(const char *p, long n) { long s = 0; for (long i = 0; i < n; i++) s += (unsigned char)p[i]; return s; }
    long vbytes(const void *p, long n) { return p ? n : -1; }
    """)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp_path / "libcf.so"), str(tmp_path / "cf.c")], check=True)
    compare(heron_python, tmp_path, """
    import os
    from cffi import FFI
    import numpy as np
    ffi = FFI()
    ffi.cdef("typedef double real; double dsum(const real *, long); void scale(double *, long, double);"
             "long isum(const int *, long); long csum(const char *, long); long vbytes(const void *, long);")
    L = ffi.dlopen(os.path.abspath("libcf.so"))

    # heron: jit
    def rows(m):
        out = np.empty(m.shape[0])
        for i in range(m.shape[0]):
            p = ffi.cast("double *", m[i].ctypes.data)
            out[i] = L.dsum(p, m.shape[1]) + p[0] + p[m.shape[1] - 1]
        return out

    # heron: jit
    def buffers(a, b):
        L.scale(ffi.from_buffer("double[]", a), a.size, 2.0)
        s = L.dsum(ffi.from_buffer("real[]", a), a.size)
        t = L.isum(ffi.from_buffer("int[]", b), b.size)
        u = L.csum(ffi.from_buffer(b), b.nbytes)
        v = L.vbytes(ffi.from_buffer(b), 3) + L.vbytes(ffi.NULL, 3) + L.vbytes(ffi.cast("void *", a.ctypes.data), 4)
        return s, t, u, v

    # heron: jit
    def wrong_type(b):
        return L.isum(ffi.from_buffer("int32_t[]", b), b.size)

    # heron: jit
    def overflows(a, n):
        p = ffi.cast("double *", a.ctypes.data)
        k = 1
        for i in range(n):
            k *= 1000   # past 2**63 at i == 7: the loop goes on in the interpreter
        return L.dsum(p, a.size) + p[1], k

    m = np.arange(12.0).reshape(3, 4)
    print(rows(m))
    a = np.arange(5.0)
    b = np.arange(6, dtype=np.int32)
    print(buffers(a, b), a)
    try:
        print(wrong_type(b))
    except TypeError as e:
        print("TypeError", e)
    print(overflows(a, 3), overflows(a, 9))
    """, native=["rows", "buffers", "overflows"])


def test_cffi_struct_pointers_as_arguments(heron_python, tmp_path):
    """A cffi pointer passed to a compiled function (`ffi.new("struct vec *")`, a typedef'd
    struct, `ffi.cast("double *", ...)`), handed on to C functions that read and write the
    struct; a deoptimization (an int overflow) and a return hand back the very object that
    came in (an `ffi.new` pointer owns its memory), and a cffi array (`double[]`, indexed
    with cffi's bounds check) runs as Python."""
    pytest.importorskip("cffi")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "s.c").write_text("""
    struct vec { double x, y; };
    typedef struct { long n; double total; } acc_t;
    double vnorm2(const struct vec *v) { return v->x * v->x + v->y * v->y; }
    void vscale(struct vec *v, double k) { v->x *= k; v->y *= k; }
    void acc_add(acc_t *a, double x) { a->n++; a->total += x; }
    """)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp_path / "libs.so"), str(tmp_path / "s.c")], check=True)
    compare(heron_python, tmp_path, """
    import gc, os
    import cffi
    import numpy as np
    ffi = cffi.FFI()
    ffi.cdef("struct vec { double x, y; }; typedef struct { long n; double total; } acc_t;"
             "double vnorm2(const struct vec *); void vscale(struct vec *, double); void acc_add(acc_t *, double);")
    L = ffi.dlopen(os.path.abspath("libs.so"))

    # heron: jit
    def norms(v, k, n):
        s = 0.0
        for i in range(n):
            L.vscale(v, k)
            s += L.vnorm2(v)
        return s

    # heron: jit
    def accumulate(acc, xs):
        for i in range(xs.shape[0]):
            L.acc_add(acc, xs[i])

    # heron: jit
    def grows(acc, n):
        k = 1
        for i in range(n):
            L.acc_add(acc, 1.0)
            k *= 1000   # past 2**63 at i == 7: the loop goes on in the interpreter
        return k, acc

    # heron: jit
    def reads(p, n):
        s = 0.0
        for i in range(n):
            s += p[i]
        return s

    # heron: jit
    def same(p):
        return p

    v = ffi.new("struct vec *", [3.0, 4.0])
    print(norms(v, 0.5, 3), v.x, v.y, same(v) is v)
    acc = ffi.new("acc_t *")
    accumulate(acc, np.arange(10.0))
    print(acc.n, acc.total)
    k, back = grows(acc, 9)
    print(k, back is acc, acc.n, acc.total)
    k, fresh = grows(ffi.new("acc_t *"), 9)
    gc.collect()
    junk = [ffi.new("acc_t *", [7, 7.0]) for _ in range(100)]
    print(fresh.n, fresh.total)
    buf = np.arange(6.0)
    print(reads(ffi.cast("double *", buf.ctypes.data), 6), reads(ffi.new("double[]", [1.0, 2.0]), 2))
    """, native=["norms", "accumulate", "grows", "same"])


def test_constant_strings_and_size_t_results(heron_python, tmp_path):
    """`c_char_p` (ctypes) and `const char *` (cffi) take bytes constants, as both pass a
    bytes' buffer; an int there is ctypes' ArgumentError (run as Python); a `size_t` /
    `c_uint64` result is an int, and one past 2**63 - 1 continues in the interpreter with
    the Python int ctypes returns."""
    pytest.importorskip("cffi")
    compare(heron_python, tmp_path, """
    import ctypes
    import cffi
    libc = ctypes.CDLL(None)
    libc.strlen.argtypes = [ctypes.c_char_p]
    libc.strlen.restype = ctypes.c_size_t
    libc.atof.argtypes = [ctypes.c_char_p]
    libc.atof.restype = ctypes.c_double
    libc.strtoull.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    libc.strtoull.restype = ctypes.c_uint64
    ffi = cffi.FFI()
    ffi.cdef("size_t strlen(const char *); double atof(const char *); int atoi(const char *); long vbytes(const void *, long);")
    C = ffi.dlopen(None)

    # heron: jit
    def parse(n):
        s = 0.0
        for i in range(n):
            s += libc.strlen(b"hello") + libc.atof(b"2.5") + C.strlen(b"ab\\x00cd") + C.atoi(b"-17") + C.atof(b"1e3")
        return s

    # heron: jit
    def unsigned(k):
        return libc.strtoull(b"18446744073709551615", None, 10) - k, libc.strtoull(b"12", None, 10) + k

    # heron: jit
    def not_bytes(x):
        return libc.strlen(x)

    print(parse(3))
    print(unsigned(1), unsigned(-5))
    try:
        print(not_bytes(5))
    except ctypes.ArgumentError as e:
        print("ArgumentError", e)
    """, native=["parse", "unsigned"])


def test_pointer_results(heron_python, tmp_path):
    """A foreign function's pointer result: ctypes' `POINTER(c_double)` (a pointer, read
    `p[i]`, viewed with `heron.carray`, returned to Python as ctypes' own), ctypes'
    `c_void_p` (an int, or None for NULL: that call's statement goes on in the interpreter,
    given None, and the C function is not called again), cffi's `double *`."""
    pytest.importorskip("cffi")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "p.c").write_text("""
    static double table[4] = {1.5, 2.5, -3.0, 8.0};
    static int counter = 0;
    double *data(void) { counter++; return table; }
    void *maybe(int k) { counter++; return k ? (void *)table : (void *)0; }
    int calls(void) { return counter; }
    """)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp_path / "libp.so"), str(tmp_path / "p.c")], check=True)
    compare(heron_python, tmp_path, """
    import ctypes, os
    import cffi
    import heron
    lib = ctypes.CDLL(os.path.abspath("libp.so"))
    lib.data.argtypes = []
    lib.data.restype = ctypes.POINTER(ctypes.c_double)
    lib.maybe.argtypes = [ctypes.c_int]
    lib.maybe.restype = ctypes.c_void_p
    lib.calls.argtypes = []
    lib.calls.restype = ctypes.c_int
    ffi = cffi.FFI()
    ffi.cdef("double *data(void); void *maybe(int);")
    L = ffi.dlopen(os.path.abspath("libp.so"))

    # heron: jit
    def total():
        p = lib.data()
        q = L.data()
        s = 0.0
        for i in range(4):
            s += p[i] * q[i]
        return s, heron.carray(p, 4).sum()

    # heron: jit
    def is_null(k):
        a = lib.maybe(k)
        return a is None, lib.calls()

    # heron: jit
    def pointer():
        return lib.data()

    # heron: jit
    def cdata():
        return L.data()

    print(total(), is_null(1), is_null(0), lib.calls())
    r = pointer()
    print(type(r).__name__, r[1])
    c = cdata()
    print(ffi.typeof(c), c[2], lib.calls())
    """, native=["total", "is_null", "pointer", "cdata"])


def test_cfunc_qsort_comparator(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import ctypes
    import numpy as np
    import heron
    libc = ctypes.CDLL(None)
    libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    libc.qsort.restype = None

    @heron.cfunc("intc(CPointer(float64), CPointer(float64))")
    def cmp(a, b):
        return (a[0] > b[0]) - (a[0] < b[0])

    @heron.cfunc(ctypes.c_double, ctypes.c_double, ctypes.c_int)
    def poly(x, n):
        return x ** n + 0.5 * x

    CMP = cmp.address

    # heron: jit
    def sort_in_place(a):
        libc.qsort(a.ctypes.data, a.size, 8, CMP)

    a = np.random.default_rng(7).normal(size=1000)
    b = a.copy()
    libc.qsort(a.ctypes.data, a.size, 8, cmp.address)
    print(np.array_equal(a, np.sort(b)))
    c = b.copy()
    sort_in_place(c)
    print(np.array_equal(c, a), c[:3])
    print(poly(1.5, 3), poly.ctypes(2.0, 5), poly.ctypes(-1.25, 2))
    print(cmp.restype is ctypes.c_int, [t.__name__ for t in cmp.argtypes])
    """, native=["sort_in_place", "cmp", "poly"])


def test_cfunc_as_scipy_low_level_callable(heron_python, tmp_path):
    """`heron.cfunc` callbacks as `scipy.LowLevelCallable` for `scipy.integrate.quad`, in
    the three signatures quad takes (`double(double)`, `double(int, double *)` with `args`,
    `double(int, double *, void *)` with user data viewed by `heron.carray`): quad calls
    native code, and the integrals equal CPython's with ctypes callbacks."""
    pytest.importorskip("scipy")
    compare(heron_python, tmp_path, """
    import ctypes, math
    import numpy as np
    import heron
    from scipy import integrate, LowLevelCallable

    @heron.cfunc("float64(float64)")
    def gauss(x):
        return math.exp(-x * x / 2.0)

    @heron.cfunc("float64(intc, CPointer(float64))")
    def shifted(n, xx):
        return math.exp(-(xx[0] - xx[1]) ** 2)

    @heron.cfunc(ctypes.c_double, ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_void_p)
    def scaled(n, xx, data):
        k = heron.carray(data, 1, np.float64)[0]
        return math.sin(k * xx[0])

    print(integrate.quad(LowLevelCallable(gauss.ctypes), -np.inf, np.inf))
    print(integrate.quad(LowLevelCallable(shifted.ctypes), -5, 5, args=(0.5,)))
    k = np.array([3.0])
    print(integrate.quad(LowLevelCallable(scaled.ctypes, ctypes.cast(k.ctypes.data, ctypes.c_void_p)), 0, 1))
    """, native=["gauss", "shifted", "scaled"])


def test_cfunc_that_raises_reports_as_ctypes_does(heron_python, tmp_path):
    # Nothing visible was done before the error: the call runs again as ctypes' callback of the
    # Python function, so the report of the exception is ctypes' own (its C result is
    # undefined: not printed).
    source = textwrap.dedent("""
    import ctypes
    import heron

    LIMIT = 10.0

    @heron.cfunc("float64(float64)")
    def inv(x):
        if x > LIMIT:
            raise ValueError("too big")
        return 1.0 / x

    print(inv.ctypes(4.0))
    inv.ctypes(0.0)
    inv.ctypes(11.0)
    LIMIT = 20.0   # a global the compiled code read changed: it is read again
    print(inv.ctypes(11.0), inv.native)
    """)
    (tmp_path / "script.py").write_text(source)
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real")
    plain = run_python(heron_python, tmp_path, ["script.py"], native="real", env={"HERON_DISABLE": "1"})
    mask = lambda text: re.sub(r"0x[0-9a-f]+", "0x?", without_report_line(text))
    assert heron.stdout == plain.stdout.replace("False", "True")
    assert "ZeroDivisionError" in heron.stderr and "ValueError: too big" in heron.stderr
    assert mask(heron.stderr) == mask(plain.stderr)


def test_carray_in_callbacks(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import ctypes
    import numpy as np
    import heron
    libc = ctypes.CDLL(None)
    libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    libc.qsort.restype = None

    @heron.cfunc("intc(voidptr, voidptr)")
    def by_norm(pa, pb):
        a = heron.carray(pa, 2, np.float64)
        b = heron.carray(pb, (2,), dtype=np.float64)
        na = a[0] * a[0] + a[1] * a[1]
        nb = b[0] * b[0] + b[1] * b[1]
        return int(na > nb) - int(na < nb)

    @heron.cfunc("float64(CPointer(float64), intc)")
    def total_and_double(p, n):
        x = heron.carray(p, n)
        s = 0.0
        for i in range(n):
            s += x[i]
            x[i] = 2 * x[i]
        return s

    pts = np.random.default_rng(3).normal(size=(200, 2))
    libc.qsort(pts.ctypes.data, 200, 16, by_norm.address)
    print(np.all(np.diff((pts ** 2).sum(1)) >= 0), pts[:2])
    v = np.arange(5.0)
    print(total_and_double.ctypes(v.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 5), v)
    m = heron.carray(v.ctypes.data, (5,), np.float64)
    m[0] = 7.5
    print(v, heron.carray(v.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 2))
    try:
        heron.carray(v.ctypes.data, 3)
    except TypeError as e:
        print("TypeError", e)
    """, native=["by_norm", "total_and_double"])


def test_deoptimization_after_a_call_made_under_a_condition(heron_python, tmp_path):
    # A call with side effects made in one branch of `x if c else y` (or a later operand of
    # `and`), then an integer that outgrows 64 bits in the same statement: the statement goes
    # on in the interpreter with the call's result, not calling it twice (found by the fuzzer:
    # "cannot hand the call to the interpreter").
    compare(heron_python, tmp_path, """
    import ctypes
    libc = ctypes.CDLL(None)
    libc.toupper.argtypes = [ctypes.c_uint8]
    libc.toupper.restype = ctypes.c_int

    # heron: jit
    def g0():
        print('g0')
        return False

    # heron: jit
    def f(p0):
        print('f')
        if min(False if p0 > 0 else g0(), 2 >= 3 ** p0):
            pass
        return 1

    # heron: jit
    def g(x, n):
        t = 0
        for i in range(n):
            t += (libc.toupper(i + 90) + 2**62 * 3 if i % 2 else 5) if x else 0
            t += libc.toupper(i) * 2**62 if x and i > 3 else 0
        return t

    print(f(-6), f(50))
    print(g(True, 10))
    """, native=["f", "g"])
