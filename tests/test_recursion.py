"""Deep recursion never kills the process (issue 9, item 6).

Compiled recursion counts its depth against ``sys.getrecursionlimit()`` as CPython counts
frames (the same ``RecursionError`` at the same depth; a call without side effects that reaches
the limit is run again by the interpreter, so its error is exactly CPython's), and never
overflows the native stack: it goes on in new stack segments (a recursive flood fill of a
300x300 grid, depth 400,000, and depth 20,000 in a thread with a 256 KiB stack).
"""

import sys
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")

SCRIPT = """
    import sys, threading
    import numpy as np

    # heron: jit
    def depth(n):
        if n == 0:
            return 0
        return 1 + depth(n - 1)

    # heron: jit
    def fill(grid, i, j):
        if i < 0 or j < 0 or i >= grid.shape[0] or j >= grid.shape[1]:
            return 0
        if grid[i, j] != 0:
            return 0
        grid[i, j] = 1
        return 1 + fill(grid, i + 1, j) + fill(grid, i - 1, j) + fill(grid, i, j + 1) + fill(grid, i, j - 1)

    # heron: jit
    def mark(a, n):
        if n == 0:
            return 0
        a[n % a.shape[0]] += 1
        return 1 + mark(a, n - 1)

    print(depth(500))
    for n in (990, 995, 996, 997, 998, 999, 1000, 5000):
        try:
            print(n, depth(n))
        except RecursionError as e:
            print(n, "RecursionError", e)
    a = np.zeros(3)
    for n in (990, 996, 997, 998):
        try:
            print(n, mark(a, n), a.tolist())
        except RecursionError as e:
            print(n, "RecursionError", a.tolist())
    sys.setrecursionlimit(10**7)
    # CPython 3.10 itself overflows its C stack on these (Heron must not, see below).
    if sys.version_info >= (3, 11) or len(sys.argv) > 1:
        g = np.zeros((300, 300))
        print(fill(g, 0, 0), g.sum())
        print(depth(400000))
        res = []
        threading.stack_size(256 * 1024)
        t = threading.Thread(target=lambda: res.append(depth(20000)))
        t.start()
        t.join()
        print(res)
"""


def test_deep_recursion_matches_cpython_and_never_crashes(heron_python, tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real", timeout=300)
    plain = run_python(heron_python, tmp_path, ["script.py"], native="real",
                       env={"HERON_DISABLE": "1"}, timeout=300)
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout, f"\n{heron.stdout}\n---\n{plain.stdout}"


def test_deep_recursion_on_every_version(heron_python, tmp_path):
    """Where CPython's own C stack would overflow (3.10), compiled code still does not."""
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    heron = run_python(heron_python, tmp_path, ["script.py", "deep"], native="real", timeout=300)
    assert heron.returncode == 0, heron.stderr
    assert "90000 90000.0\n400000\n[20000]\n" in heron.stdout, heron.stdout


def test_recursion_on_views_of_a_contiguous_array(heron_python, tmp_path):
    # numba-examples' in-place mergesort: called from Python with a C-contiguous array, it
    # calls itself on views (`arr[:mid]`, strided); the function is then compiled for arrays
    # of any layout, and still sorts the caller's memory in place.
    from test_ufuncs import compare
    compare(heron_python, tmp_path, """
    import numpy as np

    # heron: jit
    def sort_inplace(arr):
        if arr.size > 2:
            mid = arr.size // 2
            sort_inplace(arr[:mid])
            sort_inplace(arr[mid:])
            left, right = 0, mid
            while left < mid and right < arr.size:
                if arr[left] <= arr[right]:
                    left += 1
                else:
                    temp = arr[right]
                    right += 1
                    for i in range(mid, left, -1):
                        arr[i] = arr[i - 1]
                    arr[left] = temp
                    left += 1
                    mid += 1
        elif arr.size == 2:
            if arr[1] < arr[0]:
                arr[0], arr[1] = arr[1], arr[0]
        return arr

    a = np.random.RandomState(0).random_sample(37)
    print(sort_inplace(a) is a, a)
    b = np.arange(40)[::-1].copy()
    print(sort_inplace(b[::3]), b)
    """, native=["sort_inplace"])
