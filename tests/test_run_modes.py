"""Every way of running a module gets its marked functions swapped at their first call, and
nothing watches a script while it runs (issue 9, items 8 and 10): real subprocesses (see
conftest.py), most against the stand-in ``heron._native``."""

import json
import marshal
import re
import sys
import textwrap

import pytest

PY312 = sys.version_info >= (3, 12)


def both(run_script, tmp_path, source, **kwargs):
    """Run ``source`` with Heron and with ``HERON_DISABLE=1``; returns the two runs."""
    env = kwargs.pop("env", {})
    heron = run_script(tmp_path, source, env=env, **kwargs)
    plain = run_script(tmp_path, source, env={**env, "HERON_DISABLE": "1"}, **kwargs)
    return heron, plain


def report(tmp_path, name="out.json"):
    return {r["qualname"]: r for r in json.loads((tmp_path / name).read_text())}


# -- __main__: nothing watches the script ----------------------------------------------------

WATCH_PROBE = """
    import sys

    def watchers():
        tools = [sys.monitoring.get_tool(i) for i in range(6)] if hasattr(sys, "monitoring") \\
            else []
        return sys.gettrace(), sys.getprofile(), [t for t in tools if t]

    print("first line:", watchers())
    if len(sys.argv) > 5:
        # heron: jit
        def never(x):
            return x
    print("after an untaken marked def:", watchers())

    # heron: jit
    def f(x):
        return x + 1
    print("after the marked def:", watchers(), f(1), watchers())
"""


def test_nothing_watches_the_script_while_it_runs(run_script, tmp_path):
    """Item 8: the script's top-level code runs with no trace function and no monitoring
    tool, before, between and after marked defs, also when one never runs."""
    out = run_script(tmp_path, WATCH_PROBE, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "first line: (None, None, [])",
        "after an untaken marked def: (None, None, [])",
        "after the marked def: (None, None, []) 2 (None, None, [])"]
    recs = report(tmp_path)
    assert recs["f"]["status"] == "replaced" and recs["f"]["calls"] == 1
    assert recs["never"]["status"] == "python" and "never ran" in recs["never"]["reason"]


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_nothing_watches_the_script_on_every_version(version, tmp_path, run_script):
    import glob
    import os
    from conftest import make_hook_env
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    if not found:
        pytest.skip(f"no Python {version} installed")
    exe = make_hook_env(found[-1], tmp_path / "env")
    out = run_script(tmp_path, WATCH_PROBE, python=exe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("(None, None, [])") == 4, out.stdout


def test_marked_defs_inside_module_level_blocks(run_script, tmp_path):
    out = run_script(tmp_path, """
        import contextlib

        def kind(f):
            return "dispatcher" if hasattr(f, "stats") else type(f).__name__

        if True:
            # heron: jit
            def a(x):
                return x + 1
        try:
            # heron: jit
            def b(x):
                return x + 2
        finally:
            pass
        with contextlib.nullcontext():
            def c(x):  # heron: jit
                return x + 3
        made = []
        for k in range(3):
            # heron: jit
            def d(x, k=k):
                return x + k
            made.append((d(10), kind(d)))
        while not made:
            pass
        print(a(1), b(1), c(1), kind(a), kind(b), kind(c), made)
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("2 3 4 dispatcher dispatcher dispatcher "
                          "[(10, 'dispatcher'), (11, 'dispatcher'), (12, 'dispatcher')]\n")
    recs = report(tmp_path)
    assert all(r["status"] == "replaced" for r in recs.values()), recs
    assert recs["d"]["calls"] == 3   # each run of the def made its own function


@pytest.mark.skipif(not PY312, reason="generic functions are new in 3.12")
def test_generic_function(run_script, tmp_path):
    out = run_script(tmp_path, """
        # heron: jit
        def first[T](x: T, y: T) -> T:
            return x
        print(first(1, 2), type(first).__name__, first.__wrapped__.__type_params__)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1 Dispatcher (T,)\n"


def test_function_looks_the_same_before_its_first_call(run_script, tmp_path):
    """The trampoline keeps the parameters, defaults, docstring and error messages."""
    heron, plain = both(run_script, tmp_path, """
        import inspect

        # heron: jit
        def f(a, b=2, /, c=3, *args, d, e=5, **kw):
            "Doc of f."
            return (a, b, c, args, d, e, kw)

        print(inspect.signature(f), repr(f.__doc__), f.__defaults__, f.__kwdefaults__,
              f.__name__, f.__qualname__, f.__module__, f.__code__.co_varnames[:7])
        for call in ("f()", "f(1)", "f(1, d=4, a=0)", "f(1, 2, 3, 4, 5, d=6, z=7)",
                     "f(1, d=1, c=9)", "f(1, 2, 3, c=3, d=0)"):
            try:
                print(call, "->", eval(call))
            except TypeError as exc:
                print(call, "-> TypeError:", exc)
        print(inspect.signature(f), repr(f.__doc__))
    """)
    assert heron.returncode == plain.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout
    assert "-> (1, 2, 3, (4, 5), 6, 5, {'z': 7})" in heron.stdout


def test_references_taken_before_the_first_call_run_native(run_script, tmp_path):
    out = run_script(tmp_path, """
        # heron: jit
        def f(x):
            return x * 2

        callbacks = {"double": f}      # taken before any call
        mapped = map(f, range(3))
        print(list(mapped), callbacks["double"](5), f(1), type(callbacks["double"]).__name__)
        print(f.stats()["calls"], callbacks["double"](6), f.stats()["calls"])
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[0, 2, 4] 10 2 function\n5 12 6\n"
    assert report(tmp_path)["f"]["calls"] == 6


def test_a_compiled_caller_sees_compiled_callees(run_script, tmp_path):
    """The first call of any marked function swaps every marked function defined by then."""
    out = run_script(tmp_path, """
        # heron: jit
        def inner(x):
            return x + 1

        # heron: jit
        def outer(x):
            return inner(x) * 2

        print(type(inner).__name__, outer(1), type(inner).__name__, type(outer).__name__)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "function 4 Dispatcher Dispatcher\n"


def test_rebound_or_wrapped_before_the_first_call_runs_plain(run_script, tmp_path):
    heron, plain = both(run_script, tmp_path, """
        import functools

        # heron: jit
        def f(x):
            return x + 1
        f = functools.lru_cache(f)

        # heron: jit
        def g(x):
            return x * 3
        keep = g
        del g

        print(f(1), f(1), f.cache_info().hits, keep(2), keep(3), type(keep).__name__,
              keep.__code__.co_name, "x" in keep.__code__.co_varnames)
    """, env={"HERON_REPORT": "out.json"})
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout == "2 2 1 6 9 function g True\n"
    recs = report(tmp_path)
    assert recs["f"]["status"] == "python" and "decorator" in recs["f"]["reason"]
    assert recs["g"]["status"] == "python" and "deleted" in recs["g"]["reason"]


def test_first_call_traceback_is_the_plain_one(heron_python, tmp_path, real_native):
    """An exception out of a marked function's first call: the traceback is CPython's, line
    for line (on 3.10 the trampoline's frame is left out where the traceback is printed)."""
    from conftest import run_python
    (tmp_path / "script.py").write_text(textwrap.dedent("""
        # heron: jit
        def f(x):
            table = {"a": 1}
            return table[x]

        f("b")
    """))
    heron = run_python(heron_python, tmp_path, ["script.py"], native="real")
    plain = run_python(heron_python, tmp_path, ["script.py"], native="real",
                       env={"HERON_DISABLE": "1"})
    assert heron.returncode == plain.returncode == 1
    assert "KeyError: 'b'" in heron.stderr
    assert heron.stderr == plain.stderr


# -- python -m, imported modules, byte-code cache ---------------------------------------------

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/helpers.py": """
        # heron: jit
        def sq(x):
            return x * x

        TABLE = [sq(i) for i in range(4)]    # work done at import time
        KIND = type(sq).__name__             # after the first call
    """,
    "pkg/mod.py": """
        from pkg import helpers

        # heron: jit
        def g(x):
            return x + 0.5

        print(g(1), type(g).__name__, __name__, helpers.TABLE, helpers.KIND,
              type(helpers.sq).__name__)
    """,
    "pkg/__main__.py": """
        # heron: jit
        def h(x):
            return -x
        print(h(2), type(h).__name__, __name__)
    """,
}


def test_python_m_module_and_import_time_calls_run_native(run_cmd, run_script, tmp_path):
    run_script(tmp_path, "", files=PACKAGE)
    out = run_cmd(tmp_path, ["-m", "pkg.mod"], env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1.5 Dispatcher __main__ [0, 1, 4, 9] Dispatcher Dispatcher\n"
    recs = report(tmp_path)
    assert (recs["g"]["module"], recs["g"]["native_calls"]) == ("__main__", 1)
    assert (recs["sq"]["module"], recs["sq"]["native_calls"]) == ("pkg.helpers", 4)
    out = run_cmd(tmp_path, ["-m", "pkg"], env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "-2 Dispatcher __main__\n"
    assert report(tmp_path)["h"]["native_calls"] == 1


def test_byte_code_cache_keeps_the_original_code(run_cmd, run_script, tmp_path):
    run_script(tmp_path, "", files=PACKAGE)
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    for _ in range(2):   # writes the cache, then runs from it
        out = run_cmd(tmp_path, ["-c", "import pkg.helpers as h; print(h.KIND, h.TABLE)"],
                      env=env)
        assert (out.returncode, out.stdout) == (0, "Dispatcher [0, 1, 4, 9]\n"), out.stderr
    (cached,) = (tmp_path / "pkg" / "__pycache__").glob("helpers.*.pyc")
    code = marshal.loads(cached.read_bytes()[16:])
    (sq,) = [c for c in code.co_consts if getattr(c, "co_name", None) == "sq"]
    assert sq.co_varnames == ("x",) and "heron" not in repr(sq.co_consts)
    out = run_cmd(tmp_path, ["-c", "import pkg.helpers as h; print(h.KIND, h.sq(3))"],
                  env={**env, "HERON_DISABLE": "1"})
    assert (out.returncode, out.stdout) == (0, "function 9\n"), out.stderr


# -- multiprocessing workers: __mp_main__, and one report for the run ------------------------

POOL_SCRIPT = """
    import multiprocessing as mp
    import sys
    from concurrent.futures import ProcessPoolExecutor

    # heron: jit
    def f(x):
        return x * 2 + 1

    def kind(_):
        return f(1), type(f).__name__

    if __name__ == "__main__":
        method, executor = sys.argv[1:3]
        ctx = mp.get_context(method)
        if executor == "pool":
            with ctx.Pool(2) as pool:
                print(pool.map(f, range(10)), pool.map(kind, [0, 1], chunksize=1))
        else:
            with ProcessPoolExecutor(2, mp_context=ctx) as ex:
                print(list(ex.map(f, range(10))), list(ex.map(kind, [0, 1])))
"""


@pytest.mark.parametrize("executor", ["pool", "executor"])
@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_workers_compile_the_main_script_and_report_once(run_script, tmp_path, method,
                                                          executor):
    """Spawn and forkserver workers run the script as __mp_main__: its marked functions are
    swapped there too. The run writes one report, with the workers' calls."""
    import glob
    import os
    import tempfile
    out = run_script(tmp_path, POOL_SCRIPT, args=[method, executor],
                     env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("[1, 3, 5, 7, 9, 11, 13, 15, 17, 19] "
                          "[(3, 'Dispatcher'), (3, 'Dispatcher')]\n")
    written = [line for line in out.stderr.splitlines() if line.startswith("Heron report")]
    assert written == [f"Heron report written to {tmp_path / 'out.json'} (1 of 1 marked "
                       f"function(s) compiled to native code)"], out.stderr
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert (rec["module"], rec["status"], rec["calls"], rec["native_calls"]) == (
        "__main__", "replaced", 12, 12)
    assert rec["signatures"] == ["(int64)"]
    leftovers = [path for path in glob.glob(os.path.join(tempfile.gettempdir(),
                                                       "heron-report-*", "*"))
                 if str(tmp_path) in open(path, errors="replace").read()]
    assert not leftovers, leftovers   # the root removed the workers' files


def test_workers_report_to_stderr_once(run_script, tmp_path):
    out = run_script(tmp_path, POOL_SCRIPT, args=["spawn", "pool"], env={"HERON_REPORT": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Heron report:") == 1, out.stderr
    assert re.search(r"^f +script\.py:\d+ +native +12 +12 +0 ", out.stderr, re.M), out.stderr


def test_a_separate_run_in_a_subprocess_writes_its_own_report(run_script, tmp_path):
    out = run_script(tmp_path, """
        import os, subprocess, sys
        # heron: jit
        def f(x):
            return x
        f(1)
        env = dict(os.environ, HERON_REPORT="inner.json")
        subprocess.run([sys.executable, "inner.py"], env=env, check=True)
    """, files={"inner.py": "# heron: jit\ndef g(x):\n    return x\ng(1)\ng(2)\n"},
        env={"HERON_REPORT": "outer.json"})
    assert out.returncode == 0, out.stderr
    assert [r["qualname"] for r in json.loads((tmp_path / "outer.json").read_text())] == ["f"]
    (inner,) = json.loads((tmp_path / "inner.json").read_text())
    assert (inner["qualname"], inner["calls"]) == ("g", 2)


# -- tools that run the script themselves ----------------------------------------------------

def test_pdb_report_says_heron_stood_aside(run_cmd, run_script, tmp_path):
    run_script(tmp_path, "", name="warm.py", files={"script.py": """
        # heron: jit
        def f(x):
            return x + 1
        print("value", f(1))
    """})
    out = run_cmd(tmp_path, ["-m", "pdb", "script.py"], stdin="continue\nquit\n",
                  env={"HERON_REPORT": "1"})
    assert out.returncode == 0, out.stderr
    assert "value 2" in out.stdout
    assert "no function was marked" not in out.stderr
    assert "Heron stood aside: the program ran under pdb" in out.stderr
    assert "f: ran as plain Python because: Heron stood aside" in out.stderr


def test_coverage_report_says_heron_stood_aside(run_cmd, run_script, heron_python, tmp_path):
    from conftest import run_python
    if run_python(heron_python, tmp_path, ["-c", "import coverage"], native=None).returncode:
        pytest.skip("coverage is not installed")
    run_script(tmp_path, "", name="warm.py", files={"script.py": """
        # heron: jit
        def f(x):
            return x + 1
        print("value", f(1))
    """})
    out = run_cmd(tmp_path, ["-m", "coverage", "run", "script.py"],
                  env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "value 2\n"
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert rec["status"] == "python"
    assert "Heron stood aside: the program ran under coverage" in rec["reason"]


def test_pickled_by_value_before_its_first_call(run_script, tmp_path):
    """cloudpickle (joblib, loky, Dask) copies a function of ``__main__`` by value, code
    object and all: the copy of a trampoline works in the other process."""
    pytest.importorskip("cloudpickle")
    out = run_script(tmp_path, """
        import cloudpickle, subprocess, sys
        # heron: jit
        def f(x):
            return x * 3
        data = cloudpickle.dumps(f)
        child = ("import pickle, sys, heron; g = pickle.loads(sys.stdin.buffer.read()); "
                 "print(g(5), g(6), type(g).__name__, "
                 "[(r['status'], r['native_calls']) for r in heron.report()])")
        print(subprocess.run([sys.executable, "-c", child], input=data,
                             capture_output=True).stdout.decode().strip(), f(1))
    """, native="real")
    assert out.returncode == 0, out.stderr
    # The copy compiles in the child (cloudpickle 3.1 renames its code <dynamic-code>: the
    # script's name and text go along).
    assert out.stdout == "15 18 function [('replaced', 2)] 3\n"


def test_forked_workers_do_not_count_the_parents_calls_again(run_script, tmp_path):
    out = run_script(tmp_path, """
        import multiprocessing as mp
        # heron: jit
        def f(x):
            return x + 1
        print([f(i) for i in range(3)])          # 3 calls in the parent, before the fork
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:
                print(pool.map(f, range(10)))
            print(f(0))
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert rec["calls"] == 3 + 10 + 1


def test_reload_and_a_tool_asking_for_the_code_keep_the_report_right(run_script, tmp_path):
    out = run_script(tmp_path, """
        import importlib, importlib.util
        import marked
        print(marked.f(1))
        importlib.reload(marked)
        print(marked.f(2), type(marked.f).__name__)
        spec = importlib.util.find_spec("marked")
        spec.loader.get_code("marked")     # a tool reading the code without running it
    """, files={"marked.py": "# heron: jit\ndef f(x):\n    return x + 1\n"},
        env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2\n3 Dispatcher\n"
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert (rec["status"], rec["calls"]) == ("replaced", 1)   # the reloaded module's function


def test_pdb_m_module_stands_aside(run_cmd, run_script, tmp_path):
    run_script(tmp_path, "", name="warm.py", files=PACKAGE)
    out = run_cmd(tmp_path, ["-m", "pdb", "-m", "pkg.mod"], stdin="continue\nquit\n",
                  env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert "1.5 function __main__" in out.stdout
    recs = report(tmp_path)
    assert recs["g"]["status"] == "python" and "ran under pdb" in recs["g"]["reason"]


def test_marker_and_decorator_in_one_module_are_both_reported(run_script, tmp_path):
    out = run_script(tmp_path, "import both\nprint(both.f(1), both.g(2))\n", files={
        "both.py": """
            import heron

            @heron.jit
            def g(x):
                return x * 2

            # heron: jit
            def f(x):
                return x + 1
        """}, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2 4\n"
    recs = report(tmp_path)
    assert recs["f"]["calls"] == recs["g"]["calls"] == 1


def test_other_module_level_names_for_a_marked_function_follow_it(run_script, tmp_path):
    heron, plain = both(run_script, tmp_path, """
        # heron: jit
        def rk4(x):
            return x / 2
        step = rk4
        print(step(1.0), step is rk4, type(step) is type(rk4))
    """)
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout == "0.5 True True\n"


def test_warnings_already_shown_are_not_shown_again(run_script, tmp_path):
    """Making trampolines issues no warning and touches no warning registry."""
    heron, plain = both(run_script, tmp_path, """
        import warnings

        def warn():
            warnings.warn("shown once")

        warn()
        # heron: jit
        def f(x):
            return x
        print(f(1))
        warn()
    """, env={"PYTHONWARNINGS": "default"})
    assert heron.returncode == 0, heron.stderr
    assert heron.stdout == plain.stdout == "1\n"
    assert heron.stderr == plain.stderr and heron.stderr.count("UserWarning") == 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_terminated_pools_never_hang_and_lose_no_calls(run_script, tmp_path, method):
    """``with Pool()`` ends idle workers with SIGTERM: they must die as without Heron (a
    Python SIGTERM handler can miss the signal and hang), with their calls already saved."""
    for _ in range(6):
        out = run_script(tmp_path, POOL_SCRIPT, args=[method, "pool"],
                         env={"HERON_REPORT": "out.json"})
        assert out.returncode == 0, out.stderr
        (rec,) = json.loads((tmp_path / "out.json").read_text())
        assert rec["calls"] == 12
