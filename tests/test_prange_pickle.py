"""``prange`` loops compile (issue 14, item 1: the spelling; tests/test_parallel.py runs them),
with ``range`` itself guarded like any global; and a compiled function of the main script
pickles by value where cloudpickle is used (issue 14, item 3: Dask, joblib and loky workers do
not run the script), compiling once per worker process.
"""

import json
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

PRANGE = """
    import numpy as np
    import heron
    from heron import prange

    # heron: jit, parallel
    def squares(a, out):
        for i in prange(a.shape[0]):
            out[i] = a[i] * a[i]
        s = 0
        for j in heron.prange(2, 20, 3):
            s += j
        return s

    # heron: jit
    def total(n):
        t = 0
        for i in range(n):
            t += i
        return t

    a = np.arange(6.0)
    out = np.zeros(6)
    print(squares(a, out), out.tolist(), total(5))
    range = lambda n: [100]       # the loop's `range` is a global like any other
    print(total(5))
"""


def test_prange_loops_compile_and_range_is_guarded(heron_python, tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(PRANGE))
    report = tmp_path / "report.json"
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real", env={"HERON_REPORT": str(report)})
    plain = run_python(heron_python, tmp_path, ["script.py"], native="real", env={"HERON_DISABLE": "1"})
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout
    records = {r["qualname"]: r for r in json.loads(report.read_text())}
    assert records["squares"]["native_calls"] == 1 and records["squares"]["fallback_calls"] == 0
    assert records["total"]["native_calls"] == 1 and records["total"]["fallback_calls"] == 1


PICKLE = """
    import pickle, sys
    import numpy as np
    import cloudpickle

    # heron: jit
    def norm2(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * a[i]
        return s

    a = np.arange(4.0)
    print(norm2(a), type(norm2).__name__)
    payload = cloudpickle.dumps(norm2)
    # As in a worker process that does not have this script: rebuilt and compiled.
    del sys.modules["__main__"].norm2
    again = pickle.loads(payload)
    again2 = pickle.loads(payload)
    print(again(a), type(again).__name__, again is again2, again.stats()["native_calls"])
"""


def test_a_main_function_pickles_by_value_with_cloudpickle(heron_python, tmp_path):
    probe = run_python(heron_python, tmp_path, ["-c", "import cloudpickle"], native=None)
    if probe.returncode != 0:
        pytest.skip("cloudpickle is not installed")
    (tmp_path / "script.py").write_text(textwrap.dedent(PICKLE))
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real")
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout.splitlines() == ["14.0 Dispatcher", "14.0 Dispatcher True 1"], heron.stdout
