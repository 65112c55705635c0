"""Async calls (issue 14, item 2): ``heron.submit`` returns a ``concurrent.futures.Future``,
``heron.map`` gives results in order, and both (and ``heron.prange``) work with
``HERON_DISABLE=1`` too. Each program runs as a real ``python script.py`` with and without Heron.
"""

import json
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

SCRIPT = """
    import concurrent.futures
    import numpy as np
    import heron

    # heron: jit
    def total(n):
        s = 0
        for i in range(n):
            s += i * i
        return s

    # heron: jit
    def fill(a, v):
        for i in range(a.shape[0]):
            a[i] = v
        return a[0]

    # heron: jit
    def div(a, b):
        return a // b

    futures = [heron.submit(total, n) for n in (10, 1000, 100000)]
    print([type(f) is concurrent.futures.Future for f in futures], [f.result() for f in futures])
    print(list(heron.map(total, range(8))))
    arrays = [np.zeros(1000) for _ in range(4)]
    print(list(heron.map(fill, arrays, [1.0, 2.0, 3.0, 4.0])), [a.sum() for a in arrays])
    bad = heron.submit(div, 1, 0)
    print(type(bad.exception()).__name__, bad.exception())
    print(list(heron.prange(2, 10, 3)), heron.prange(5) == range(5))
"""


def test_submit_and_map(heron_python, tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    report = tmp_path / "report.json"
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real", env={"HERON_REPORT": str(report)})
    plain = run_python(heron_python, tmp_path, ["script.py"], native="real", env={"HERON_DISABLE": "1"})
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout
    assert heron.stdout.splitlines()[0] == "[True, True, True] [285, 332833500, 333328333350000]"
    records = {r["qualname"]: r for r in json.loads(report.read_text())}
    assert records["total"]["native_calls"] >= 11 and records["total"]["fallback_calls"] == 0
