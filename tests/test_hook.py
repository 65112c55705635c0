"""The start-up hook end to end: real ``python script.py`` subprocesses (see conftest.py)."""

import glob
import os
import sys

import pytest

from conftest import make_hook_env, run_python

MAIN_SWAP = """
    import sys

    def kind(f):
        return "dispatcher" if hasattr(f, "stats") else type(f).__name__

    def early_caller():
        return double(21)

    # heron: jit
    def double(x):
        return 2 * x
    held = [double]   # a reference taken before the first call
    print("after def:", kind(double), double.__name__, double.__qualname__)

    def triple(x):  # heron: jit, parallel
        return 3 * x

    print("first calls:", double(2), early_caller(), kind(double), kind(triple))
    print("results:", triple(2), held[0](5), kind(held[0]), double.stats()["calls"])
    print("options:", getattr(triple, "options", None))
    print("names:", double.__name__, double.__qualname__, double.__module__,
          triple.__wrapped__.__name__)
    print("trace:", sys.gettrace())
    if hasattr(sys, "monitoring"):
        print("tools:", [sys.monitoring.get_tool(i) for i in range(6)])
"""


def check_main_swap(out):
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # Until its first call, a marked function is the function its def made (with a trampoline
    # for code); its first call swaps every marked function defined by then.
    assert lines[0] == "after def: function double double"
    assert lines[1] == "first calls: 4 42 dispatcher dispatcher"
    # `held` still forwards to the dispatcher: 3 calls of double, all through it
    assert lines[2] == "results: 6 10 function 3"
    assert lines[3] == "options: {'parallel': True, 'nogil': False}"
    assert lines[4] == "names: double double __main__ triple"
    assert lines[5] == "trace: None"  # nothing watches the script while it runs
    if len(lines) > 6:
        assert lines[6] == "tools: [None, None, None, None, None, None]"  # tool id freed
    assert out.stderr == ""


def test_main_functions_swapped_before_first_call(run_script, tmp_path):
    check_main_swap(run_script(tmp_path, MAIN_SWAP))


def test_main_swap_with_real_native(run_script, tmp_path, real_native):
    out = run_script(tmp_path, """
        # heron: jit
        def f(x):
            return x + 1
        print(f(1), hasattr(f, "stats"), f.__wrapped__(1))
    """, native="real")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "True", "2"]


def _other_pythons():
    found = []
    for exe in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[0-9]*/bin/python"))):
        version = os.path.basename(os.path.dirname(os.path.dirname(exe)))
        if version.split(".")[:2] != [str(v) for v in sys.version_info[:2]]:
            found.append(pytest.param(exe, id=version))
    return found or [pytest.param(None, marks=pytest.mark.skip("no other Python installed"))]


@pytest.mark.parametrize("python", _other_pythons())
def test_main_swap_on_other_python_versions(python, tmp_path, run_script):
    """The __main__ mechanism differs by version (sys.monitoring on 3.12+, settrace before)."""
    exe = make_hook_env(python, tmp_path / "env")
    check_main_swap(run_script(tmp_path, MAIN_SWAP, python=exe))


def test_main_heavy_imports_before_defs(run_script, tmp_path):
    out = run_script(tmp_path, """
        import json, decimal
        from fractions import Fraction
        x = [Fraction(i, 3) for i in range(10)]
        # heron: jit
        def f(x):
            return x
        import sys, builtins
        print(f(1), hasattr(f, "stats"), sys.gettrace(), type(builtins.__import__).__name__)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True", "None", "builtin_function_or_method"]


def test_imported_module_swapped_and_reload(run_script, tmp_path):
    out = run_script(tmp_path, """
        import importlib, pickle
        import marked, pkg.sub
        print(hasattr(marked.f, "stats"), hasattr(marked.g, "stats"), hasattr(pkg.sub.h, "stats"))
        print(marked.f(1), marked.g(1), pkg.sub.h())
        print(pickle.loads(pickle.dumps(marked.f)) is marked.f)
        importlib.reload(marked)
        print(hasattr(marked.f, "stats"), type(marked.__loader__).__name__)
        import inspect
        print(inspect.getsource(marked.f.__wrapped__).splitlines()[0].strip())
    """, files={
        "marked.py": """
            # heron: jit
            def f(x):
                return x + 1

            def g(x):
                return x + 2
        """,
        "pkg/__init__.py": "",
        "pkg/sub.py": """
            def h():  # heron: jit
                return 3
        """,
    })
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "True False True", "2 3 3", "True", "True SourceFileLoader", "def f(x):"]


def test_pickle_main_function_by_reference(run_script, tmp_path):
    out = run_script(tmp_path, """
        import pickle
        # heron: jit
        def f(x):
            return x
        data = pickle.dumps(f)
        print(pickle.loads(data) is f, b"__main__" in data)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_disable_leaves_everything_plain(run_script, tmp_path):
    out = run_script(tmp_path, """
        import sys, marked
        # heron: jit
        def f(x):
            return x
        print(type(f).__name__, type(marked.f).__name__,
              any(type(x).__name__ == "HeronFinder" for x in sys.meta_path),
              "heron._markers" in sys.modules)
    """, files={"marked.py": "def f(x):  # heron: jit\n    return x\n"},
        env={"HERON_DISABLE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["function", "function", "False", "False"]


def test_python_c_pass(run_cmd, tmp_path):
    out = run_cmd(tmp_path, ["-c", "pass"], native=None)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def test_startup_loads_only_the_boot_module(run_script, tmp_path):
    out = run_script(tmp_path, """
        import sys
        loaded = set(sys.modules)
        print("heron._boot" in loaded, "heron._native" in loaded, "numpy" in loaded,
              "heron._markers" in loaded, "ast" in loaded, "inspect" in loaded)
        print(type(sys.meta_path[0]).__name__, sorted(m for m in loaded if "heron" in m),
              "ctypes" in loaded, "runpy" in loaded)
    """, native=None)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["True False False False False False",
                                       "HeronFinder ['heron', 'heron._boot'] False False"]


def test_syntax_error_in_script_is_unchanged(run_script, tmp_path):
    source = """
        # heron: jit
        def f(x)
            return x
    """
    with_heron = run_script(tmp_path, source)
    without = run_script(tmp_path, source, env={"HERON_DISABLE": "1"})
    assert with_heron.returncode == without.returncode == 1
    assert "SyntaxError" in with_heron.stderr
    assert with_heron.stderr == without.stderr


def test_syntax_error_in_module_is_unchanged(run_script, tmp_path):
    files = {"bad.py": "# heron: jit\ndef f(x)\n    return x\n"}
    source = "import bad\n"
    with_heron = run_script(tmp_path, source, files=files)
    without = run_script(tmp_path, source, files=files, env={"HERON_DISABLE": "1"})
    assert with_heron.returncode == without.returncode == 1
    assert "SyntaxError" in with_heron.stderr
    assert with_heron.stderr == without.stderr


def test_exception_in_module_propagates_unchanged(run_script, tmp_path):
    files = {"boom.py": "# heron: jit\ndef f(x):\n    return x\nraise ValueError('boom')\n"}
    with_heron = run_script(tmp_path, "import boom\n", files=files)
    without = run_script(tmp_path, "import boom\n", files=files, env={"HERON_DISABLE": "1"})
    assert with_heron.returncode == 1
    assert with_heron.stderr == without.stderr
    assert "ValueError: boom" in with_heron.stderr


def test_python_m_module_runs(run_cmd, run_script, tmp_path):
    # Under -m the module runs as __main__ through runpy: it works, as plain Python.
    run_script(tmp_path, "", files={"mod.py": """
        # heron: jit
        def f(x):
            return x * 2
        print(f(21))
    """})
    out = run_cmd(tmp_path, ["-m", "mod"])
    assert (out.returncode, out.stdout, out.stderr) == (0, "42\n", "")


def test_python_stdin_and_c(run_cmd, tmp_path):
    code = "# heron: jit\ndef f(x):\n    return x + 1\nprint(f(1))\n"
    out = run_cmd(tmp_path, ["-"], stdin=code)
    assert (out.returncode, out.stdout, out.stderr) == (0, "2\n", "")
    out = run_cmd(tmp_path, ["-c", code])
    assert (out.returncode, out.stdout, out.stderr) == (0, "2\n", "")


def test_pdb_runs_marked_script(run_script, run_cmd, tmp_path):
    run_script(tmp_path, "print('warm')\n", name="warm.py")
    (tmp_path / "script.py").write_text(
        "# heron: jit\ndef f(x):\n    return x + 1\nprint('value', f(1))\n")
    out = run_cmd(tmp_path, ["-m", "pdb", "script.py"], stdin="continue\nquit\n")
    assert out.returncode == 0, out.stderr
    assert "value 2" in out.stdout


def test_heron_run_command(run_cmd, tmp_path):
    (tmp_path / "script.py").write_text(
        "import sys\n"
        "# heron: jit\n"
        "def f(x):\n"
        "    return x + 1\n"
        "print(f(1), hasattr(f, 'stats'), sys.argv[1:])\n")
    out = run_cmd(tmp_path, ["-m", "heron", "run", "script.py", "a", "--b"])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2 True ['a', '--b']\n"
    out = run_cmd(tmp_path, ["-m", "heron", "run", "missing.py"])
    assert out.returncode == 2 and "cannot open missing.py" in out.stderr


def test_unknown_option_warns_and_leaves_function(run_script, tmp_path):
    out = run_script(tmp_path, """
        # heron: jit, fastmath
        def f(x):
            return x
        print(type(f).__name__)
    """)
    assert out.returncode == 0
    assert out.stdout == "function\n"
    assert "HeronWarning" in out.stderr and "unknown option 'fastmath'" in out.stderr
    assert "script.py:2" in out.stderr


def test_native_extension_missing(run_script, tmp_path):
    out = run_script(tmp_path, """
        import marked
        # heron: jit
        def f(x):
            return x
        def g(x):  # heron: jit
            return x
        print(type(f).__name__, type(g).__name__, type(marked.f).__name__)
    """, files={"marked.py": "def f(x):  # heron: jit\n    return x\n"},
        native="broken", env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "function function function\n"
    assert out.stderr.count("HeronWarning") == 1
    assert "native extension could not be loaded" in out.stderr
    import json
    recs = json.loads((tmp_path / "out.json").read_text())
    assert len(recs) == 3
    assert all(r["status"] == "python" and "native extension" in r["reason"] for r in recs)


def test_redefined_and_decorated_functions_left_alone(run_script, tmp_path):
    out = run_script(tmp_path, """
        import functools
        # heron: jit
        def f(x):
            return x
        def f(x):
            return -x

        # heron: jit
        @functools.lru_cache
        def g(x):
            return x

        def keep(fn):
            return fn
        # heron: jit
        @keep
        def h(x):
            return x

        # heron: jit
        def go():
            return 0
        go()  # the first call of a marked function swaps the others defined by then
        print(type(f).__name__, type(g).__name__, hasattr(h, "stats"), g(1), h(2))
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["function", "_lru_cache_wrapper", "True", "1", "2"]
    import json
    recs = {r["qualname"]: r for r in json.loads((tmp_path / "out.json").read_text())}
    assert "defined again at script.py:6" in recs["f"]["reason"]
    assert "_lru_cache_wrapper" in recs["g"]["reason"]
    assert recs["h"]["status"] == "replaced" and recs["h"]["calls"] == 1


def test_decorated_function_alone_in_a_script_is_reported(run_script, tmp_path):
    """A decorated marked def gets no trampoline (a decorator may read its code): in a script
    where no other marked function is called after it, it stays plain, and the report says
    why."""
    out = run_script(tmp_path, """
        def keep(fn):
            return fn
        # heron: jit
        @keep
        def h(x):
            return x
        print(h(2), type(h).__name__)
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2 function\n"
    import json
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert rec["status"] == "python" and "decorator" in rec["reason"]


def test_namespace_package_and_sourceless_module(run_script, tmp_path):
    import py_compile
    src = tmp_path / "compiled_only.py"
    src.write_text("# heron: jit\ndef f(x):\n    return x\n")
    py_compile.compile(str(src), cfile=str(tmp_path / "compiled_only.pyc"))
    src.unlink()
    out = run_script(tmp_path, """
        import ns.leaf, compiled_only
        print(hasattr(ns.leaf.f, "stats"), type(compiled_only.f).__name__)
    """, files={"ns/leaf.py": "def f(x):  # heron: jit\n    return x\n"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "function"]


def test_pytest_assertion_rewriting_still_works(run_cmd, run_script, tmp_path):
    run_script(tmp_path, "", files={
        "marked.py": "def f(x):  # heron: jit\n    return x + 1\n",
        "test_it.py": """
            import marked

            def test_marked():
                assert hasattr(marked.f, "stats")
                assert marked.f(1) == 2

            def test_rewriting():
                try:
                    assert [1, 2] == [1, 3]
                except AssertionError as exc:
                    assert "At index 1 diff" in str(exc)
        """,
    })
    out = run_cmd(tmp_path, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout


def test_multiprocessing_child_imports_through_hook(run_script, tmp_path):
    out = run_script(tmp_path, """
        import multiprocessing as mp
        import marked

        def probe(_):
            return hasattr(marked.f, "stats"), marked.f(1)

        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(1) as pool:
                print(pool.map(probe, [0]), pool.map(marked.f, [1]))
    """, files={"marked.py": "def f(x):  # heron: jit\n    return x + 1\n"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[(True, 2)] [2]\n"


def test_boot_start_is_idempotent_and_never_raises(tmp_path, heron_python):
    out = run_python(heron_python, tmp_path, ["-c", (
        "import sys, heron._boot as b\n"
        "b.start(); b.start()\n"
        "print(sum(type(f).__name__ == 'HeronFinder' for f in sys.meta_path))\n"
        "b._started = False; sys.argv = [12]\n"
        "b.start()\n"
        "print('ok')\n")], native=None)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "ok"]


def test_script_given_by_unnormalised_path(run_script, heron_python, tmp_path):
    run_script(tmp_path, MAIN_SWAP)
    (tmp_path / "sub").mkdir()
    out = run_python(heron_python, tmp_path, ["../script.py"], cwd=tmp_path / "sub")
    check_main_swap(out)


def test_coverage_run_is_not_disturbed(run_cmd, run_script, heron_python, tmp_path):
    probe = run_python(heron_python, tmp_path, ["-c", "import coverage"], native=None)
    if probe.returncode != 0:
        pytest.skip("coverage is not installed")
    run_script(tmp_path, "", name="warm.py")
    (tmp_path / "script.py").write_text(
        "# heron: jit\ndef f(x):\n    return x + 1\nprint('value', f(1))\n")
    out = run_cmd(tmp_path, ["-m", "coverage", "run", "script.py"])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "value 2\n"
