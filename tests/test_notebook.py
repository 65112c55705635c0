"""IPython and Jupyter (issue 13, item 8; ``heron._notebook``): ``%load_ext heron`` makes markers and
profiling mode work for functions defined in cells, and ``%heron_report`` shows the annotated
report.

A real IPython shell (``InteractiveShell``, what a Jupyter kernel runs) runs the cells in a
fresh process, with Heron and with ``HERON_DISABLE=1``: the cells print the same values, and the
functions are Heron's dispatchers only with Heron.
"""

import pytest

pytest.importorskip("IPython")

DRIVER = '''
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()


def cell(source):
    result = shell.run_cell(source)
    if not result.success:
        print("cell failed:", repr(result.error_in_exec or result.error_before_exec))


cell("%load_ext heron")
cell("""
import numpy as np

# heron: jit
def total(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

print(total(100000), type(total).__name__)
""")
cell("""
# heron: jit, nogil
def scale(a, k):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * k
    return out

print(scale(np.arange(5.0), 2.5).tolist(), type(scale).__name__)
""")
cell("""
def helper(x, n):
    t = 0.0
    for k in range(n):
        t += x * k
    return t
""")
cell("""
acc = 0.0
for j in range(20000):
    acc += helper(j * 0.5, 200)
print(acc)
_ = open("types.txt", "w").write(type(helper).__name__)
""")
cell("page = %heron_report")
cell("print(type(page).__name__, 'total' in page.data)")
'''


def run(run_script, tmp_path, env):
    out = run_script(tmp_path, DRIVER, env=env, native="real")
    assert out.returncode == 0, out.stderr
    assert "cell failed" not in out.stdout, out.stdout
    return out.stdout.splitlines(), (tmp_path / "types.txt").read_text()


@pytest.mark.usefixtures("real_native")
def test_markers_in_cells(run_script, tmp_path):
    """Marked functions of cells are Heron's dispatchers, with options; the values are
    CPython's; an unmarked function stays a function without profiling mode."""
    heron, helper = run(run_script, tmp_path, {})
    plain, plain_helper = run(run_script, tmp_path, {"HERON_DISABLE": "1"})
    assert [line.rsplit(" ", 1)[0] for line in heron[:3]] == \
        [line.rsplit(" ", 1)[0] for line in plain[:3]]
    assert heron[0].endswith(" Dispatcher") and heron[1].endswith(" Dispatcher")
    assert plain[0].endswith(" function") and plain[1].endswith(" function")
    assert helper == plain_helper == "function"
    assert heron[3] == "HTML True"


@pytest.mark.usefixtures("real_native")
def test_profiling_mode_in_cells(run_script, tmp_path):
    """With ``HERON_AUTO=1`` the hot function of a cell is compiled and swapped in."""
    heron, helper = run(run_script, tmp_path, {"HERON_AUTO": "1"})
    plain, _ = run(run_script, tmp_path, {"HERON_DISABLE": "1"})
    assert heron[2] == plain[2]
    assert helper == "Dispatcher"
