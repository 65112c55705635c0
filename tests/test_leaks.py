"""No leaks (issue 5, item 3): resident memory stays flat in a subprocess.

Each test runs a script in a fresh interpreter that warms up, reads its resident set size from
``/proc/self/statm``, does the work many times, and reads it again; the growth must stay under
5 MB. The scripts create their dispatchers explicitly (``heron._native.Dispatcher``), so the
start-up hook plays no part.
"""

import json
import sys
import textwrap

import pytest

from conftest import run_python

pytestmark = [
    pytest.mark.usefixtures("real_native"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm"),
]

LIMIT = 5 * 2**20

PRELUDE = '''
import gc, json, os, sys
import numpy as np
from heron._native import Dispatcher

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def load(source, name="leakcase"):
    """Exec ``source`` from a real file (Heron reads function source through linecache)."""
    path = os.path.join(os.getcwd(), name + ".py")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(source)
    namespace = {"__name__": name}
    exec(compile(source, path, "exec"), namespace)
    return namespace


def jit(namespace, *names):
    for name in names:
        namespace[name] = Dispatcher(namespace[name])
    return [namespace[name] for name in names]


results = {}
'''


def run_leak_script(heron_python, tmp_path, body, timeout=120):
    script = tmp_path / "leak_script.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n")
    out = run_python(heron_python, tmp_path, [script.name], native="real", timeout=timeout,
                     env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_flat(results):
    print({k: round(v / 2**20, 2) if k.startswith("grew:") else v for k, v in results.items()})
    for name, growth in results.items():
        if name.startswith("grew:"):
            assert growth < LIMIT, f"{name[5:]}: resident memory grew by {growth / 2**20:.1f} MB"


def test_million_calls_of_compiled_functions(heron_python, tmp_path):
    results = run_leak_script(heron_python, tmp_path, '''
        ns = load("""
        def scalar(x, y):
            return x * y + 1.5

        def total(a):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i]
            return s

        def pair(a, i):
            return a[i], i + 1

        def element(a, i, j):
            return a[i, j]
        """)
        scalar, total, pair, element = jit(ns, "scalar", "total", "pair", "element")
        a = np.arange(8.0)
        b = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]
        N = 10**6
        cases = {
            "float scalar": (scalar, (3, 2.0)),
            "array sum (numpy scalar result)": (total, (a,)),
            "tuple result": (pair, (a, 3)),
            "strided 2-d element": (element, (b, 1, 1)),
        }
        for name, (fn, args) in cases.items():
            def work(n):
                for i in range(n):
                    fn(*args)
            work(20000)  # warm up: compile, fill caches and free lists
            before = rss()
            work(N)
            results["grew:" + name] = rss() - before
        for d in (scalar, total, pair, element):
            s = d.stats()
            assert s["fallback_calls"] == 0 and s["native_calls"] == N + 20000, (d, s)
    ''')
    assert_flat(results)


def test_compile_and_discard_fresh_functions(heron_python, tmp_path):
    """10^4 cycles of: fresh function, fresh dispatcher stored in the function's globals (a
    reference cycle only the GC can break), compile, call, drop."""
    results = run_leak_script(heron_python, tmp_path, '''
        import weakref
        SOURCE = """
        def poly(x, n):
            s = 0.0
            for i in range(n):
                s = s * x + i
            return s
        """

        class Sentinel:
            pass

        alive = []

        def cycle(k):
            ns = load(SOURCE, "fresh")
            ns["sentinel"] = Sentinel()
            d, = jit(ns, "poly")          # ns["poly"] is the dispatcher: a cycle
            assert d(0.5, k % 7 + 1) == ns["poly"].__wrapped__(0.5, k % 7 + 1)
            assert d.stats()["native_calls"] == 1, d.stats()
            alive.append(weakref.ref(ns["sentinel"]))

        for k in range(1000):
            cycle(k)
        before = rss()
        N = 10**4
        for k in range(N):
            cycle(k)
            if k % 500 == 0:
                gc.collect()
        gc.collect()
        results["grew:compile-and-discard"] = rss() - before
        results["alive"] = sum(r() is not None for r in alive)
    ''', timeout=180)
    assert_flat(results)
    assert results["alive"] == 0, "dispatcher/function/globals cycles were not collected"


def test_calls_that_raise_from_native_code(heron_python, tmp_path):
    results = run_leak_script(heron_python, tmp_path, '''
        ns = load("""
        def div(a, b):
            return a // b

        def get(a, i):
            return a[i]

        def check(x):
            if x < 0:
                raise ValueError("negative input")
            return x

        def square(x):
            return x * x
        """)
        div, get, check, square = jit(ns, "div", "get", "check", "square")
        a = np.arange(5.0)
        N = 10**5
        cases = {
            "ZeroDivisionError": (div, (1, 0), ZeroDivisionError),
            "IndexError": (get, (a, 10), IndexError),
            "ValueError (raise statement)": (check, (-1,), ValueError),
        }
        for name, (fn, args, exc_type) in cases.items():
            def work(n):
                for i in range(n):
                    try:
                        fn(*args)
                    except exc_type:
                        pass
            work(5000)
            before = rss()
            work(N)
            results["grew:" + name] = rss() - before
            s = fn.stats()
            assert s["fallback_calls"] == 0 and s["native_calls"] == N + 5000, s
        # Integer overflow: the native call gives up and the interpreter re-runs it.
        big = 2**40
        [square(big) for i in range(5000)]
        before = rss()
        for i in range(N):
            square(big)
        results["grew:overflow re-run (deopt)"] = rss() - before
        assert square.stats()["deopts"] == N + 5000, square.stats()
    ''')
    assert_flat(results)


def test_arrays_made_in_a_loop_are_freed_during_the_call(heron_python, tmp_path):
    """`c = a * 2.0 + b` in a loop: each temporary is let go at a later back-edge (as
    reference counting frees it in the interpreter), not kept to the end of the call; also
    inside a compiled callee, whose trims never touch its caller's arrays."""
    results = run_leak_script(heron_python, tmp_path, '''
        SOURCE = """
        def inner(a, b, n):
            s = 0.0
            for i in range(n):
                c = a * 2.0 + b
                s += c[0]
            return s

        def outer(a, b, n):
            keep = a * 3.0
            t = inner(a, b, n)
            return t + keep[1]
        """
        ns = load(SOURCE)
        inner, outer = jit(ns, "inner", "outer")
        a = np.random.rand(10000)
        b = np.random.rand(10000)
        outer(a, b, 10)
        before = rss()
        r = outer(a, b, 3000)        # 6000 arrays of 80 kB: 480 MB if all were kept
        results["grew:loop-temporaries"] = rss() - before
        expected = ns["outer"].__wrapped__(a, b, 3000)
        assert r == expected, (r, expected)
        assert outer.stats()["native_calls"] == 2, outer.stats()
    ''')
    assert_flat(results)
