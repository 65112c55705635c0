"""Parallel loops (issue 14, item 1): the ``prange`` and outermost ``range`` loops of a
``# heron: jit, parallel`` function run on Heron's threads when Heron can see that their
iterations are independent, with CPython's results.

Each script runs with Heron on 1, 2 and 3 threads and as plain Python (``HERON_DISABLE=1``);
the outputs must be the same, the report must say which loops ran in parallel (and count the
runs), and why the others ran serially. A float reduction is reassociated under ``parallel``:
its bits may differ from CPython's, but not between thread counts.
"""

import json
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

EXACT = """
    import math, warnings
    import numpy as np
    import heron
    from heron import prange

    # heron: jit, parallel
    def elementwise(a, out):
        for i in prange(a.shape[0]):
            x = a[i]
            out[i] = math.sqrt(x * x + 1.0) * math.sin(x)
        return out

    # heron: jit, parallel
    def int_sum(n, k):
        s = 0
        for i in prange(n):
            s += i * k
        return s

    # heron: jit, parallel
    def reductions(a):
        lo = 10**9
        hi = -1
        bits = 0
        for i in range(a.shape[0]):
            v = int(a[i]) % 1000
            lo = min(lo, v)
            hi = max(hi, v)
            bits |= v
        return lo, hi, bits

    # heron: jit, parallel
    def product(a):
        prod = 1
        for i in range(a.shape[0]):
            if int(a[i]) % 1000 == 1:
                prod *= 3
        return prod

    # heron: jit, parallel
    def shifted(a, out):
        for i in prange(a.shape[0]):
            out[i] = a[i + 1] * 2.0

    # heron: jit, parallel
    def plus_one(a, out):
        for i in prange(a.shape[0]):
            out[i] = a[i] + 1.0

    # heron: jit, parallel
    def negative(out, n):
        for i in prange(-n, n):
            out[i] = i

    # heron: jit, parallel
    def carried(a):
        t = 0.0
        for i in prange(a.shape[0]):
            t = t * 0.5 + a[i]
            a[i] = t
        return t

    # heron: jit, parallel
    def squares(a, out):
        for i in prange(a.shape[0]):
            out[i] = a[i] * a[i]

    # heron: jit, parallel
    def rows(m, out):
        for i in prange(m.shape[0]):
            for j in range(m.shape[1]):
                out[i, j] = m[i, j] * 2 + j
        return out

    # heron: jit, parallel
    def scale(a):
        for i in prange(a.shape[0]):
            a[i] = a[i] * 2.0 + 1.0

    # heron: jit, parallel
    def accumulate_rows(m, b):
        for i in prange(m.shape[0]):
            m[i, 0] += b[i]
            for j in range(1, m.shape[1]):
                m[i, j] += m[i, j - 1]

    # heron: jit, parallel
    def in_place_fails(a, d):
        for i in prange(a.shape[0]):
            a[i] = a[i] * 3 + 1
            a[i] = a[i] + d[a[i] % 400]

    # heron: jit, parallel
    def minus(n):
        s = 10**18
        for i in prange(n):
            s -= i * 7
            s = s - 1
        return s

    # heron: jit, parallel
    def extremes(a, lo, hi):
        for i in prange(a.shape[0]):
            x = float(a[i])
            lo = min(lo, x)
            hi = max(hi, x)
        return lo, hi

    # heron: jit, parallel
    def neighbour(a):
        for i in prange(1, a.shape[0]):
            a[i] = a[i - 1] + 1.0

    a = np.linspace(-3, 3, 100_001)
    print(elementwise(a, np.zeros_like(a)).tolist()[::9999])
    # Overflow past 64 bits in a partial sum or in their combination: CPython's big ints.
    print(int_sum(10**6, 3), int_sum(10**6, 2**50), int_sum(3, 2**62), int_sum(1, 5), int_sum(0, 5))
    print(reductions(np.arange(0, 7_000_000, 7)), product(np.arange(0, 7_000_000, 7)) % 10**9)
    # An iteration fails: the same exception, and the same array after it, as CPython.
    a, out = np.arange(10.0), np.zeros(10)
    try:
        shifted(a, out)
    except IndexError as e:
        print("IndexError:", e)
    print(out.tolist())
    # Overlapping arrays, negative indices: serial.
    b = np.arange(20.0)
    plus_one(b[:10], b[5:15])
    print(b.tolist())
    o = np.zeros(10)
    negative(o, 5)
    print(o.tolist())
    c = np.arange(100.0)
    print(carried(c), c[:5].tolist())
    # NumPy's warnings, as NumPy gives them.
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        x = np.array([1.0, 1e200, 3.0, 1e300] * 10)
        y = np.zeros_like(x)
        squares(x, y)
        print(len(w), sorted({str(m.message) for m in w}), y[:4].tolist())
    m = np.arange(12.0).reshape(3, 4)
    print(rows(m, np.zeros((3, 4))).tolist())
    # Loops that rewrite arrays in place: each iteration reads only its own elements.
    s = np.arange(100_000.0)
    scale(s)
    scale(s[::-3])
    print(s.sum(), s[:7].tolist())
    m = np.arange(60.0).reshape(12, 5)
    accumulate_rows(m, np.arange(12.0))
    print(m.tolist())
    # An iteration fails after others rewrote their elements: the array CPython leaves.
    a, d = np.arange(300), np.full(300, 2)
    try:
        in_place_fails(a, d)
    except IndexError as e:
        print("IndexError:", e)
    print(a.tolist())
    n = np.zeros(10)
    neighbour(n)
    print(n.tolist())
    # `-=` is exact for ints (past 64 bits too); float max/min are exact, the builtins' choice
    # between equal zeros and their NaN rules included.
    print(minus(10**6), minus(10**7), minus(0))
    r = np.random.RandomState(1).standard_normal(10007)
    for x in (r, np.array([0.0, -0.0] * 50), np.array([-0.0, 0.0] * 50), np.where(r > 1, np.nan, r)):
        for lo, hi in ((math.inf, -math.inf), (0.0, -0.0), (-0.0, 0.0), (math.nan, math.nan)):
            got = extremes(x, lo, hi)
            print(repr(got), [math.copysign(1, v) for v in got])
"""


def run(heron_python, tmp_path, source, threads):
    (tmp_path / "script.py").write_text(textwrap.dedent(source))
    report = tmp_path / f"report{threads}.json"
    env = {"HERON_REPORT": str(report), "HERON_NUM_THREADS": str(threads)}
    if threads == 0:
        env = {"HERON_DISABLE": "1"}
    proc = run_python(heron_python, tmp_path, ["script.py"], native="real", env=env)
    assert proc.returncode == 0, proc.stderr
    records = {r["qualname"]: r for r in json.loads(report.read_text())} if threads else {}
    return proc.stdout, records


def test_parallel_loops_give_cpythons_results(heron_python, tmp_path):
    plain, _ = run(heron_python, tmp_path, EXACT, 0)
    for threads in (1, 2, 3):
        out, records = run(heron_python, tmp_path, EXACT, threads)
        assert out == plain, threads
        for name in ("elementwise", "int_sum", "reductions", "rows", "scale", "accumulate_rows",
                     "minus", "extremes"):
            rec = records[name]
            assert rec["fallback_calls"] == 0 and rec["failures"] == [], rec
            assert any("runs in parallel" in n for n in rec["parallel_loops"]), rec
            assert rec["parallel_runs"] >= 1, rec
        # Serial fallbacks: the failing iteration, the overlapping and the negative indices,
        # the product past 64 bits.
        for name in ("shifted", "plus_one", "negative", "product", "in_place_fails"):
            assert records[name]["parallel_runs"] == 0, records[name]
        assert any("runs in parallel" in n for n in records["in_place_fails"]["parallel_loops"])
        assert "reassociated" not in records["extremes"]["parallel_loops"][0]
        notes = records["neighbour"]["parallel_loops"]
        assert notes and "at an index other than the loop variable" in notes[0], notes
        notes = records["carried"]["parallel_loops"]
        assert notes and "runs serially: `t` is carried" in notes[0], notes
        # 40 overflows, each reported by the serial re-run.
        assert records["squares"]["parallel_runs"] == 0


FLOAT = """
    import numpy as np
    from heron import prange

    # heron: jit, parallel
    def total(a):
        s = 0.0
        for i in prange(a.shape[0]):
            s += a[i] * 0.1
        return s

    # heron: jit, parallel
    def plain_float(n):
        s = 0.0
        for i in prange(n):
            s += 1.0 / (i + 1.0)
        return s

    r = np.random.RandomState(0).rand(100_003)
    print(repr(total(r)), repr(total(r[:0])), repr(total(r[:1])), repr(plain_float(10**6)))
"""


def test_float_reductions_have_the_same_bits_on_any_thread_count(heron_python, tmp_path):
    plain, _ = run(heron_python, tmp_path, FLOAT, 0)
    outs = set()
    for threads in (1, 2, 3):
        out, records = run(heron_python, tmp_path, FLOAT, threads)
        outs.add(out)
        note = records["total"]["parallel_loops"][0]
        assert "float reduction `s` is reassociated" in note, note
        assert records["total"]["parallel_runs"] >= 1
    assert len(outs) == 1, outs
    # The types and the empty and one-iteration results are CPython's; the sums are close.
    got, want = outs.pop().split(), plain.split()
    assert [g.startswith("np.float64(") for g in got] == [w.startswith("np.float64(") for w in want]
    assert got[1:3] == want[1:3]
    for g, w in zip(got, want):
        gv, wv = float(g.strip("np.float64()")), float(w.strip("np.float64()"))
        assert abs(gv - wv) <= 1e-9 * abs(wv)


CALLS = """
    import math
    import numpy as np
    from heron import prange

    # heron: jit
    def kernel(x):
        return math.sqrt(x * x + 1.0) * math.sin(x)

    # heron: jit
    def steps(n):
        k = n
        s = 0
        while k != 1:
            k = k // 2 if k % 2 == 0 else 3 * k + 1
            s += 1
        return s

    # heron: jit
    def checked(x):
        if x > 90:
            raise ValueError("too big")
        return x * 2

    # heron: jit
    def noisy(x):
        print("x", x)
        return x

    # heron: jit
    def inner(a, i):
        return a[i] * 2.0

    # heron: jit, parallel
    def apply(a, out):
        for i in prange(a.shape[0]):
            out[i] = kernel(a[i]) + inner(a, i)

    # heron: jit, parallel
    def total_steps(n):
        t = 0
        for i in prange(1, n):
            t += steps(i)
        return t

    # heron: jit, parallel
    def apply_checked(a, out):
        for i in prange(a.shape[0]):
            out[i] = checked(a[i])

    # heron: jit, parallel
    def apply_noisy(a, out):
        for i in prange(a.shape[0]):
            out[i] = noisy(a[i])

    a = np.linspace(-3, 3, 10001); out = np.zeros_like(a)
    apply(a, out); print(out[::1000].tolist())
    print(total_steps(100000))
    b = np.arange(100.0); o = np.zeros(100)
    try:
        apply_checked(b, o)
    except ValueError as e:
        print("ValueError", e)
    print(o.tolist())
    apply_noisy(np.arange(3.0), np.zeros(3))
"""


def test_parallel_loops_call_compiled_functions_on_the_threads(heron_python, tmp_path):
    """A parallel loop's body calls the threaded specialization of a compiled callee (errors
    and reports leave the threads: the serial re-run raises them); a callee that prints keeps
    the loop serial."""
    plain, _ = run(heron_python, tmp_path, CALLS, 0)
    for threads in (1, 2):
        out, records = run(heron_python, tmp_path, CALLS, threads)
        assert out == plain, threads
        for name in ("apply", "total_steps"):
            assert records[name]["parallel_runs"] == 1, records[name]
        assert records["apply_checked"]["parallel_runs"] == 0
        assert "runs in parallel" in records["apply_checked"]["parallel_loops"][0]
        note = records["apply_noisy"]["parallel_loops"][0]
        assert "it calls `noisy`, which cannot run on Heron's threads: it prints" in note, note
        # The threaded specializations are not the callees' own signatures.
        assert records["kernel"]["signatures"] == ["(numpy.float64)"]
        assert records["checked"]["failures"] == []


FORK = """
    import multiprocessing as mp
    import numpy as np
    from heron import prange

    # heron: jit, parallel
    def count(n):
        s = 0
        for i in prange(n):
            s += i % 3
        return s

    def child(n):
        return count(n)

    if __name__ == "__main__":
        print(count(10**6))
        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map(child, [10**5, 10**6]))
"""


def test_a_forked_child_runs_parallel_loops(heron_python, tmp_path):
    """The pool's threads do not survive fork: a child that inherits a used pool makes its
    own (it would wait forever on the parent's)."""
    plain, _ = run(heron_python, tmp_path, FORK, 0)
    out, records = run(heron_python, tmp_path, FORK, 2)
    assert out == plain
    assert records["count"]["parallel_runs"] >= 1


REFUSED = """
    import ctypes
    import numpy as np
    from heron import prange

    # heron: jit, parallel
    def halves(out):
        for i in prange(out.shape[0]):
            i = i // 2
            out[i] += 1

    # heron: jit, parallel
    def through_pointer(a, n):
        p = a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        for i in prange(n):
            p[i] = i * 0.5

    a = np.zeros(10)
    halves(a)
    print(a.tolist())
    b = np.zeros(6)
    through_pointer(b, 6)
    print(b.tolist())
"""


def test_loops_heron_cannot_prove_independent_run_serially(heron_python, tmp_path):
    plain, _ = run(heron_python, tmp_path, REFUSED, 0)
    out, records = run(heron_python, tmp_path, REFUSED, 2)
    assert out == plain
    # `i = i // 2` is another variable than the loop's (frontend::webs): the store's index is
    # not the loop variable.
    for name, why in (("halves", "at an index that is not the loop variable"),
                      ("through_pointer", "it stores through `p`, which is not an array")):
        rec = records[name]
        assert rec["parallel_runs"] == 0
        if rec["fallback_calls"] == 0:  # compiled: the report says why the loop is serial
            assert any(why in n for n in rec["parallel_loops"]), rec["parallel_loops"]
