"""Deoptimization anywhere (issue 9, item 4): a compiled call whose Python int outgrows 64 bits
after it printed or wrote arrays continues in the interpreter from the statement that
overflowed, with the live variables and the loops' state: output appears once, arrays are
written once, and the result is CPython's exact big int.

Each program runs twice as a real ``python script.py``: with Heron, and with
``HERON_DISABLE=1``. stdout, stderr and the exit status must be the same, and the report must
show that the function ran natively and deoptimized (so the test exercises what it claims).
"""

import pytest

from conftest import compare_with_cpython

pytestmark = pytest.mark.usefixtures("real_native")


def compare(heron_python, tmp_path, source, deopted=(), native=()):
    """Run ``source`` with and without Heron; assert identical output, and that each name in
    ``deopted`` ran natively and continued in the interpreter, each in ``native`` natively."""
    heron, records = compare_with_cpython(heron_python, tmp_path, source)
    for name in deopted:
        rec = records[name]
        ran = rec["native_calls"] > 0 or rec["called_from_native"] > 0
        assert ran and rec["deopts"] > 0, rec
    for name in native:
        rec = records[name]
        assert rec["native_calls"] > 0 and rec["fallback_calls"] == 0, rec
    return heron


def test_factorials_into_a_float_array_with_prints(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def fill(a):
            f = 1
            for i in range(1, a.shape[0]):
                f = f * i
                a[i] = f
                if i % 7 == 0:
                    print("at", i, f)
            return f

        a = np.zeros(40)
        print(fill(a))
        print(a.tolist())
    """, deopted=["fill"])


def test_nested_loops_break_continue_and_else(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        # heron: jit
        def grid(n, m, big):
            total = 0
            count = 0
            for i in range(n):
                for j in range(2, m, 3):
                    if j == 11:
                        continue
                    total = total + big * (i + j)
                    print(i, j, total)
                    if total > big * big * 4:
                        break
                    count += 1
                else:
                    print("inner done", i)
                    continue
                print("broke at", i, j)
            else:
                print("outer else", count)
            return total, count

        print(grid(3, 20, 2**40))
        print(grid(4, 30, 2**62))
    """, deopted=["grid"])


def test_while_condition_overflows(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        # heron: jit
        def climb(x):
            steps = 0
            while x * x < 10**30:
                x = x * 3 + 1
                steps += 1
                print(steps, x)
            else:
                print("done")
            return steps, x

        print(climb(5))
    """, deopted=["climb"])


def test_for_each_over_an_array(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def prod(a, out):
            p = 1
            k = 0
            for x in a:
                p = p * int(x)
                out[k] = p % 1000
                k += 1
                if k == 30:
                    break
            else:
                print("all", k)
            return p

        a = np.arange(1, 40, dtype=np.int64)
        out = np.zeros(40)
        print(prod(a, out))
        print(out.tolist())
    """, deopted=["prod"])


def test_callee_overflows_inside_and_returns_a_small_result(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def mod_pow(b, e, m, log):
            r = 1
            for k in range(e):
                r = r * b
            log[0] += 1
            return r % m

        # heron: jit
        def table(n, log):
            s = 0
            for i in range(2, n):
                s += mod_pow(i, 40, 1000, log)
            return s

        log = np.zeros(1)
        print(table(12, log), log[0])
    """, deopted=["mod_pow"], native=["table"])


def test_callee_returns_a_big_int_to_a_compiled_caller(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def big(i, log):
            log[i] = 1.0
            return (2**40) * (2**30) * i

        # heron: jit
        def caller(n, log):
            total = 0
            for i in range(n):
                total = total + big(i, log) + 1
                print("step", i)
            return total

        log = np.zeros(5)
        print(caller(5, log), log.tolist())
    """, deopted=["big"])


def test_a_call_with_effects_is_not_made_twice(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def record(a, i):
            a[i] = a[i] + 1
            return i + 1

        # heron: jit
        def run(a, big):
            s = 0
            for i in range(a.shape[0]):
                s = s + record(a, i) * big
            return s

        a = np.zeros(6)
        print(run(a, 2**61))
        print(a.tolist())
    """, deopted=["run"])


def test_errors_after_a_deoptimization_have_python_tracebacks(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def fail(a, d):
            f = 1
            for i in range(1, 30):
                f = f * i
                a[0] = i
            return f // d

        a = np.zeros(1)
        print(fail(a, 7))
        print(fail(a, 0))
    """, deopted=["fail"])


def test_local_arrays_and_tuples_after_a_deoptimization(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import numpy as np

        # heron: jit
        def work(n, out):
            tmp = np.zeros(n)
            f = 1
            for i in range(1, n):
                tmp[i] = i * 0.5
                f = f * (i + 10)
                out[i] = tmp[i] + tmp[i - 1]
            return f, tmp[n - 1], out[n - 1]

        out = np.zeros(30)
        print(work(30, out))
        print(out.tolist())
    """, deopted=["work"])


def test_compiled_errors_show_the_interpreters_traceback(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
        import math

        # heron: jit
        def inner(a, b):
            return a // b

        # heron: jit
        def outer(a, b):
            x = a + 1
            return inner(x, b) + math.sqrt(a)

        # heron: jit
        def root(x):
            return math.sqrt(x) + 1

        # heron: jit
        def index(a, i):
            return a[i] * 2

        import numpy as np
        print(outer(3, 2))
        for f, args in ((outer, (3, 0)), (root, (-1.0,)), (index, (np.zeros(3), 5))):
            try:
                f(*args)
            except Exception as e:
                import traceback
                traceback.print_exc()
        outer(3, 0)
    """, native=["root"])


def test_a_result_the_native_type_cannot_hold_exactly(heron_python, tmp_path):
    """An int beyond 2**53 where the function's result is held as a float (it returns an int
    on one path and a float on another) comes back as CPython's exact int (fuzzer seed 22046)."""
    compare(heron_python, tmp_path, """
        # heron: jit
        def f(x):
            if x > 0:
                return 1000000000000000000 + 1
            return x

        # heron: jit
        def g(x, n):
            r = 1
            for i in range(n):
                r = r * 3
            if x > 0:
                return r + 1
            return x

        print(f(1.0), f(-1.0), g(1.0, 40), g(1.0, 3), g(-2.0, 3))
    """)
