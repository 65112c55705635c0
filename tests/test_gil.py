"""Threads that write shared arrays stay correct (issue 9, item 5).

A compiled function that writes memory its caller can see (an argument array) keeps the GIL
while it runs, so a program that was right under CPython's GIL stays right; with
``# heron: jit, nogil`` the user opts in to releasing it. Functions that write only arrays
they made, or nothing, release it (and so use every core). The report says which and why.
"""

import json
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

SHARED = """
    import sys
    import threading
    import numpy as np

    # heron: jit{option}
    def bump(h, n):
        for i in range(n):
            h[i % 4] += 1
        return 0

    # heron: jit
    def pure_count(n):
        s = 0
        for i in range(n):
            s += i % 3
        return s

    # heron: jit
    def local_work(n):
        tmp = np.zeros(4)
        for i in range(n):
            tmp[i % 4] += 1.0
        return tmp[0]

    h = np.zeros(4, dtype=np.int64)
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=bump, args=(h, 2_000_000)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(int(h.sum()) if "{option}" == "" else "done")
    print(pure_count(1000), local_work(1000))
"""


def run(heron_python, tmp_path, option, heron=True):
    (tmp_path / "script.py").write_text(textwrap.dedent(SHARED.replace("{option}", option)))
    report = tmp_path / "report.json"
    env = {"HERON_REPORT": str(report)} if heron else {"HERON_DISABLE": "1"}
    out = run_python(heron_python, tmp_path, ["script.py"], native="real", env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    records = {r["qualname"]: r for r in json.loads(report.read_text())} if heron else {}
    return out, records


def test_writes_to_a_shared_array_keep_the_gil(heron_python, tmp_path):
    out, records = run(heron_python, tmp_path, "")
    plain, _ = run(heron_python, tmp_path, "", heron=False)
    assert out.stdout == plain.stdout
    assert out.stdout.splitlines()[0] == "8000000"
    assert records["bump"]["native_calls"] == 4 and records["bump"]["fallback_calls"] == 0
    assert records["bump"]["gil"].startswith("held"), records["bump"]
    assert records["pure_count"]["gil"] == "released"
    assert records["local_work"]["gil"] == "released"


def test_nogil_releases_it(heron_python, tmp_path):
    out, records = run(heron_python, tmp_path, ", nogil")
    assert records["bump"]["gil"].startswith("released (nogil)"), records["bump"]
    assert records["bump"]["native_calls"] == 4
