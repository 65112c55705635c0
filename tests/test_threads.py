"""Threads (issue 5, item 4): compile once, right answers, no deadlock.

Every scenario runs as a real ``python script.py`` subprocess with a timeout, so that a
deadlock fails the test instead of hanging the suite. The scripts compare each compiled
result with the plain Python function (``dispatcher.__wrapped__``) and print a JSON summary.
"""

import json
import re
import subprocess
import textwrap

import pytest

from conftest import run_python

pytestmark = pytest.mark.usefixtures("real_native")


def run_json(python, tmp_path, source, timeout=60):
    """Run ``HELPERS`` and ``source`` as a script; return the JSON object it prints on its
    last line (``summary``), and the CompletedProcess."""
    source = (textwrap.dedent(HELPERS) + textwrap.dedent(source)
              + "\nprint(json.dumps(summary))\n")
    (tmp_path / "script.py").write_text(source)
    try:
        out = run_python(python, tmp_path, ["script.py"], native="real", timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the script did not finish within {timeout} s (deadlock?)")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out


HELPERS = """
    import json, sys, threading
    import numpy as np
    from heron._native import Dispatcher

    def together(n, target):
        \"\"\"Run target(k) in n threads released at once; return their results.\"\"\"
        barrier = threading.Barrier(n)
        results = [None] * n

        def run(k):
            try:
                barrier.wait()
                results[k] = ("value", target(k))
            except BaseException as exc:  # noqa: BLE001
                results[k] = ("raise", type(exc).__name__, str(exc))

        threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def plain(fn, *args):
        try:
            return ("value", fn.__wrapped__(*args))
        except BaseException as exc:  # noqa: BLE001
            return ("raise", type(exc).__name__, str(exc))
"""


def test_sixteen_threads_compile_a_fresh_function_once(heron_python, tmp_path):
    summary, _ = run_json(heron_python, tmp_path, """
        # heron: jit
        def work(x, n):
            s = 0.0
            for i in range(n):
                t = (x * i) % 7.0
                if t > 3.0:
                    s += t * 0.5
                elif t > 1.0:
                    s -= t
                else:
                    s += 1.0
            return s

        # heron: jit
        def total(a):
            s = 0
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    s += a[i, j] * (i - j)
            return s

        sys.setswitchinterval(1e-5)  # switch threads often: compilations interleave
        arrays = [np.arange(12, dtype=np.int64).reshape(3, 4) * k for k in range(16)]
        cases = {"work": (work, lambda k: (k + 0.5, 50 + k)),
                 "total": (total, lambda k: (arrays[k],))}
        summary = {}
        for rnd in range(25):
            for name, (marked, args) in cases.items():
                # Round 0: the 16 threads make the first calls of the function the def made
                # (the hook's trampoline swaps it in); later rounds use fresh dispatchers.
                fn = marked if rnd == 0 else Dispatcher(globals()[name].__wrapped__)
                got = together(16, lambda k: fn(*args(k)))
                if rnd == 0:
                    fn = globals()[name]  # the dispatcher the first calls put in its place
                want = [plain(fn, *args(k)) for k in range(16)]
                s = fn.stats()
                key = f"{name} round {rnd}"
                summary[key] = {"same": got == want, "signatures": s["signatures"],
                                "failures": s["failures"], "native": s["native_calls"],
                                "hooked": hasattr(globals()[name], "stats")}
    """)
    for key, s in summary.items():
        assert s["hooked"], key
        assert s["same"], key
        assert s["failures"] == [], (key, s["failures"])
        assert len(s["signatures"]) == 1, (key, s["signatures"])  # one compilation
        assert s["native"] == 16, key


def test_threads_asking_for_different_signatures_at_once(heron_python, tmp_path):
    summary, _ = run_json(heron_python, tmp_path, """
        # heron: jit
        def mix(x, y):
            r = x
            for i in range(20):
                r = r * 0.5 + y
            return r

        sys.setswitchinterval(1e-5)  # switch threads often: compilations interleave
        kinds = [lambda k: (k, 3), lambda k: (k + 0.25, 3), lambda k: (np.float64(k), 3),
                 lambda k: (np.int32(k), 3), lambda k: (k, 2.5), lambda k: (True, k)]
        summary = {}
        for rnd in range(20):
            fn = mix if rnd == 0 else Dispatcher(mix.__wrapped__)
            args = lambda k: kinds[k % len(kinds)](k)
            got = together(18, lambda k: fn(*args(k)))
            if rnd == 0:
                fn = mix  # the first calls put the dispatcher in the function's place
            want = [plain(fn, *args(k)) for k in range(18)]
            s = fn.stats()
            summary[rnd] = {"same": got == want, "signatures": s["signatures"],
                            "failures": s["failures"]}
    """, timeout=10)
    for rnd, s in summary.items():
        assert s["same"], rnd
        assert s["failures"] == [], s["failures"]
        assert len(s["signatures"]) == len(set(s["signatures"])) == 6, s["signatures"]


def test_compiled_functions_from_many_threads_give_right_answers(heron_python, tmp_path):
    summary, _ = run_json(heron_python, tmp_path, """
        import random

        # heron: jit
        def norm2(a):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i] * a[i]
            return s

        # heron: jit
        def scale(a, k):
            for i in range(a.shape[0]):
                a[i] = a[i] * k
            return a.shape[0]

        # heron: jit
        def collatz(n):
            steps = 0
            while n != 1:
                n = n // 2 if n % 2 == 0 else 3 * n + 1
                steps += 1
            return steps

        # heron: jit
        def get(a, i):
            return a[i]

        # heron: jit
        def checked(x):
            if x < 0:
                raise ValueError("negative input")
            return x // (x % 5)

        def worker(k):
            rng = random.Random(k)
            mismatches = []
            for it in range(150):
                a = np.array([rng.uniform(-9, 9) for _ in range(rng.randrange(1, 40))])
                b = a.copy()
                n = rng.randrange(1, 10**6)
                i = rng.randrange(-50, 50)
                x = rng.randrange(-3, 30)
                for name, got, want in [
                    ("norm2", lambda: norm2(a), lambda: norm2.__wrapped__(a)),
                    ("collatz", lambda: collatz(n), lambda: collatz.__wrapped__(n)),
                    ("get", lambda: get(a, i), lambda: get.__wrapped__(a, i)),
                    ("checked", lambda: checked(x), lambda: checked.__wrapped__(x)),
                ]:
                    r1, r2 = outcome(got), outcome(want)
                    if r1 != r2:
                        mismatches.append((name, r1, r2))
                if scale(a, 3) != scale.__wrapped__(b, 3) or not np.array_equal(a, b):
                    mismatches.append(("scale", a.tolist(), b.tolist()))
            return mismatches

        def outcome(thunk):
            try:
                v = thunk()
                return ("value", type(v).__name__, repr(v))
            except Exception as exc:  # noqa: BLE001
                return ("raise", type(exc).__name__, str(exc))

        results = together(8, worker)
        summary = {"results": [r[0] if r[0] == "raise" else r[1][:3] for r in results],
                   "native": {f.__name__: f.stats()["native_calls"]
                              for f in (norm2, scale, collatz, get, checked)},
                   "fallback": {f.__name__: f.stats()["fallback_calls"]
                                for f in (norm2, scale, collatz, get, checked)}}
    """, timeout=120)
    assert summary["results"] == [[]] * 8, summary["results"]
    for name, calls in summary["native"].items():
        assert calls == 8 * 150, (name, summary)
        assert summary["fallback"][name] == 0, (name, summary)


def test_print_from_native_code_while_other_threads_hold_the_gil(heron_python, tmp_path):
    """Native code (GIL released) calls back into Python to print, taking the GIL for the
    call only, while busy Python threads compete for the GIL and the main thread waits."""
    summary, out = run_json(heron_python, tmp_path, """
        import time

        # heron: jit
        def chatty(t, n):
            s = 0
            for i in range(n):
                for j in range(2000):
                    s += (i * j + t) % 7
                print(f"t{t}:{i}:{s}")
            return s

        stop = threading.Event()

        def busy():
            x = 0
            while not stop.is_set():
                x += 1
            return x

        spinners = [threading.Thread(target=busy) for _ in range(4)]
        for t in spinners:
            t.start()
        try:
            got = together(6, lambda k: chatty(k, 150))
        finally:
            stop.set()
            for t in spinners:
                t.join()
        summary = {"got": got, "want": [plain(chatty, k, 150) for k in range(6)],
                   "native": chatty.stats()["native_calls"],
                   "fallback": chatty.stats()["fallback_calls"]}
    """, timeout=60)
    assert summary["got"] == summary["want"]
    assert summary["native"] == 6 and summary["fallback"] == 0, summary
    # Each thread's lines (printed twice: compiled, then by the Python reference run). Lines
    # of different threads may run together, as in plain Python: print writes the text and
    # the line end separately.
    printed = re.findall(r"t(\d+):(\d+):", out.stdout)
    for k in range(6):
        assert sorted(int(i) for t, i in printed if t == str(k)) == sorted(list(range(150)) * 2)


def test_mutually_recursive_functions_first_called_from_two_threads(heron_python, tmp_path):
    (tmp_path / "parity.py").write_text(textwrap.dedent("""
        def is_even(n):
            if n == 0:
                return True
            return is_odd(n - 1)

        def is_odd(n):
            if n == 0:
                return False
            return is_even(n - 1)
    """))
    summary, _ = run_json(heron_python, tmp_path, """
        import os
        sys.setswitchinterval(1e-5)  # switch threads often: compilations interleave
        path = os.path.abspath("parity.py")
        code = compile(open(path).read(), path, "exec")
        summary = {}
        for rnd in range(30):
            ns = {"__name__": "parity"}
            exec(code, ns)  # fresh functions, fresh dispatchers calling each other
            ns["is_even"] = Dispatcher(ns["is_even"])
            ns["is_odd"] = Dispatcher(ns["is_odd"])
            got = together(2, lambda k: (ns["is_even"], ns["is_odd"])[k](10 + k))
            summary[rnd] = got
    """, timeout=10)
    for rnd, got in summary.items():
        assert got == [["value", True], ["value", True]], (rnd, got)
