"""NumPy's floating-point error reports (RuntimeWarning, or FloatingPointError under
``numpy.seterr``) from compiled code match the interpreter's, line for line on stderr."""
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import without_report_line

SCRIPT = textwrap.dedent('''
    import numpy as np


    # heron: jit
    def f(a, k):
        s = a[0]
        for i in range(k):
            s = s * 1e300
        return s / a[1]


    # heron: jit
    def g(a):
        return (a[0] - a[0]) / (a[1] - a[1]) + a[0] ** 5000.0


    # heron: jit
    def h(a, out):
        out[0] = 1.0
        out[1] = a[0] * 1e300 * 1e300


    # heron: jit
    def dead(n, a):
        # Values nothing reads still warn: `v` is overwritten by itself and then never read,
        # `w` is overwritten by a later store (CI's fuzzer, 2026-12-02).
        v = n / a[0]
        v = v
        w = a[0] / a[0]
        w = 1.0
        t = a[1]
        t += n / a[0]
        return n + w


    out = np.zeros(2)
    x = np.array([0, 3], dtype=np.int64)
    print(dead(0, x), dead(1, x))
    h(np.array([5.0]), out)
    print(out)
    print(f(np.array([1.0, 0.0]), 3))
    print(f(np.array([1.0, 2.0]), 1))
    print(f(np.array([1.0, 2.0]), 5))
    print(g(np.array([1.0, 2.0])))
    np.seterr(over="raise")
    try:
        print(f(np.array([1.0, 0.0]), 3))
    except FloatingPointError as e:
        print("raised", e)
''')

# A caller with side effects (stores into `out`) calling functions without side effects: the
# callees must report where they overflow, since the caller cannot be re-run.
CALLEE_SCRIPT = textwrap.dedent('''
    import numpy as np


    # heron: jit
    def square(x):
        return x * x


    # heron: jit
    def halve(x):
        return square(x) / 2.0


    # heron: jit
    def fill(a, out):
        for i in range(len(a)):
            out[i] = halve(a[i])


    out = np.zeros(3)
    fill(np.array([1.0, 1e200, 2.0]), out)
    print(out)
    print(halve(np.float64(3e200)))
    np.seterr(over="raise")
    try:
        fill(np.array([1.0, 1e300]), out)
    except FloatingPointError as e:
        print("raised", e)
    print(out)
''')

# Functions with side effects whose NumPy float expressions are checked once per expression
# (codegen::num::fp_batched): every operation must still be reported, in order, with its
# own line, and under `raise` the first one must stop the call after the earlier stores.
BATCH_SCRIPT = textwrap.dedent('''
    import numpy as np


    # heron: jit
    def exprs(a, out):
        n = len(a)
        for i in range(n):
            out[i] = a[i] * a[i] - a[i] * a[i] + 0.5 * (a[i] +
                                                          a[i])
        for i in range(n):
            out[i] += a[i] * 1e300 / a[0]
        s = out[0]
        s += a[0] * a[0] * a[0]
        return s


    # heron: jit
    def accumulate(a, out):
        t = 0.0
        for i in range(len(a)):
            t += a[i] * a[i] * 1e300
            out[i] = a[i] * 2.0
        return t


    # heron: jit
    def powers(a, out):
        for i in range(len(a)):
            out[i] = 10 * a[i]**5 + a[i]**2 - 3.0 * a[i]**3


    # heron: jit
    def quotient(a, out):
        for i in range(len(a)):
            out[i] = (a[i] - a[i]) / a[0] + a[i] / a[0]
        return out[0]


    out = np.zeros(3)
    print(exprs(np.array([1.0, 2.0, 3.0]), out), out)
    print(exprs(np.array([1e200, -2.0, 3.0]), out), out)
    print(exprs(np.array([0.0, 5.0, np.inf]), out), out)
    print(quotient(np.array([0.0, 1.0, 2.0]), out), out)
    print(accumulate(np.array([1e-200, 2.0, 3.0]), out), out)
    print(accumulate(np.array([], dtype=np.float64), out), out)
    print(powers(np.array([1.5, 1e100, 1e62]), out), out)
    print(powers(np.array([np.inf, -1e70, np.nan]), out), out)
    print(quotient(np.array([1e-320, 1e300, 2.0]), out), out)
    for mode in ["raise", "ignore"]:
        np.seterr(over=mode, invalid=mode, divide=mode)
        out[:] = 7.0
        try:
            print(exprs(np.array([2.0, 1e200, 3.0]), out))
        except FloatingPointError as e:
            print("raised", e)
        print(out)
        try:
            print(accumulate(np.array([1e-200, 2.0, 3.0]), out))
        except FloatingPointError as e:
            print("raised", e)
        print(out)
''')


RERUN_SCRIPT = textwrap.dedent('''
    import warnings

    import numpy as np

    warnings.simplefilter("always")


    # heron: jit
    def rem_store(p0, z):
        # remainder by 0.0 warns "invalid value", then the NaN stored into an int64 array is
        # left to the interpreter, which re-runs the statement (and raises ValueError).
        print("rem_store")
        p0[0] %= z


    # heron: jit
    def then_big(x, n):
        # The float multiply warns "overflow", then n * n grows past int64: the statement
        # continues in the interpreter, which must not warn a second time.
        print("then_big")
        v = x * 1e300 * 1e300 + n * n
        w = np.sqrt(x - 10.0) - (9223372036854775807 - -1)
        return v, w


    # heron: jit
    def loop(a, n):
        print("loop")
        s = 0
        for i in range(n):
            s = a[i % 2] * 1e300 * 1e300 * i + 3 ** (i * 8)
        return s


    # heron: jit
    def f32_cast(p1):
        # A Python float too big for a float32 operand: NumPy warns "overflow encountered in
        # cast" once (not again through the batched check of the result).
        print("f32_cast")
        v0 = p1[1]
        v0 -= 1e+300
        return v0


    try:
        rem_store(np.array([-1, 13, 3]), 0.0)
    except ValueError as e:
        print("raised", e)
    print(then_big(np.float64(2.0), 2**40))
    print(loop(np.array([1.0, 2.0]), 30))
    print(f32_cast(np.zeros(2, dtype=np.float32)))
    x = np.float64(3.0)
    print(x * 1e300 * 1e300, "overflow encountered in scalar multiply" and 1)
''')


def _hook_installed():
    out = subprocess.run([sys.executable, "-c", "import sys; print('heron._boot' in sys.modules)"],
                         capture_output=True, text=True)
    return out.stdout.strip() == "True"


@pytest.mark.skipif(not _hook_installed(), reason="Heron is not installed with its start-up hook")
@pytest.mark.parametrize("source", [SCRIPT, CALLEE_SCRIPT, BATCH_SCRIPT, RERUN_SCRIPT],
                         ids=["functions", "callees", "batched", "rerun"])
def test_numpy_float_warnings_match_the_interpreter(tmp_path, source):
    script = tmp_path / "warn.py"
    script.write_text(source)

    def run(**env):
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              cwd=tmp_path, env=dict(os.environ, **env), timeout=120)

    report = tmp_path / "r.json"
    heron = run(HERON_REPORT=str(report))
    plain = run(HERON_DISABLE="1")
    assert heron.returncode == plain.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout
    assert without_report_line(heron.stderr) == without_report_line(plain.stderr)
    assert "overflow encountered in scalar multiply" in plain.stderr
    import json
    recs = json.loads(report.read_text())
    assert all(r["status"] == "replaced" and (r["native_calls"] > 0 or r["called_from_native"]) for r in recs), recs


UNDERFLOW_SCRIPT = textwrap.dedent('''
    import numpy as np


    # heron: jit
    def tiny(a):
        return a[0] * a[1]


    # heron: jit
    def tiny_store(a, out):
        out[0] = a[0] * a[1]


    a = np.array([1e-200, 1e-200])
    out = np.zeros(1)
    print(tiny(a))
    np.seterr(under="warn")
    print(tiny(a))
    np.seterr(under="raise")
    for f, args in ((tiny, (a,)), (tiny_store, (a, out))):
        try:
            print(f(*args))
        except FloatingPointError as e:
            print("raised", e)
''')


@pytest.mark.skipif(not _hook_installed(), reason="Heron is not installed with its start-up hook")
@pytest.mark.xfail(strict=True, reason="known gap: underflow under numpy.seterr(under=...) is "
                   "reported only by functions without side effects (re-run by the interpreter)")
def test_numpy_underflow_reports(tmp_path):
    script = tmp_path / "under.py"
    script.write_text(UNDERFLOW_SCRIPT)

    def run(**env):
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              cwd=tmp_path, env=dict(os.environ, **env), timeout=120)

    heron, plain = run(), run(HERON_DISABLE="1")
    assert "underflow encountered in scalar multiply" in plain.stderr + plain.stdout
    # Functions without side effects match the interpreter.
    assert heron.stdout.splitlines()[:3] == plain.stdout.splitlines()[:3]
    assert without_report_line(heron.stderr) == without_report_line(plain.stderr)
    # A function with side effects does not report underflow yet.
    assert heron.stdout == plain.stdout
