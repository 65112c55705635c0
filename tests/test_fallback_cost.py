"""A marked function that Heron cannot compile costs what a plain function costs (issue 9,
item 9), and falling back never imports NumPy into a program that does not use it.

A function that can never compile (a construct outside the subset) has its dispatcher step
aside after the first call: the module's name holds the plain function again. One whose calls
have all run as Python (argument types Heron does not take) steps aside after 1,000 such calls.
Until then a fallback is a vectorcall of the original function with the caller's arguments.
The report still lists both, with the reason. (Speed itself is measured in benches/.)
"""

import json
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

SCRIPT = """
    import sys

    # heron: jit
    def never(x):
        with open(__file__) as fh:      # `with` is not compiled
            pass
        return x + 1

    # heron: jit
    def strings(x):
        return x * 2

    print(never(1), type(never).__name__)
    for i in range(998):
        strings("ab")
    print(strings("ab"), type(strings).__name__)
    for i in range(10):
        strings("ab")
    print(type(strings).__name__, "numpy" in sys.modules)
"""


def test_uncompilable_functions_step_aside_and_numpy_stays_out(heron_python, tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    report = tmp_path / "report.json"
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real",
                       env={"HERON_REPORT": str(report)})
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout.splitlines() == ["2 function", "abab Dispatcher", "function False"], heron.stdout
    records = {r["qualname"]: r for r in json.loads(report.read_text())}
    assert records["never"]["status"] == "python" and records["never"]["reason"], records["never"]
    assert records["strings"]["calls"] == 1000 and records["strings"]["native_calls"] == 0
