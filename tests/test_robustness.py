"""The start-up hook never breaks a program (issue 5, item 2).

Every test runs the same program twice as a real subprocess with the hook installed: once
with Heron on (and the real ``heron._native``) and once with ``HERON_DISABLE=1``. Both runs
must print the same stdout and exit with the same code; Heron's stderr may differ from the
plain one only by ``HeronWarning``s. The Heron run also writes a JSON report, so that a test
can check that Heron did its part (replaced what it should) and not only that it stayed out of
the way. Byte-code caching is off in both runs, so that both compile from source alike.

tests/test_hook.py already has the basic ``-c``, ``-``, ``-m``, ``pdb``, ``coverage`` and
``pytest`` runs; the ones here compare against plain Python and cover what those leave out.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import threading

import pytest

from conftest import PYTHON_DIR, run_python

pytestmark = pytest.mark.usefixtures("real_native")

PY312 = sys.version_info >= (3, 12)


def strip_heron_warnings(stderr):
    """``stderr`` without ``HeronWarning`` blocks (the warning line and its source line) and
    without the line saying where the report was written."""
    out = []
    lines = stderr.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].startswith("Heron report written to "):
            i += 1
            continue
        if ": HeronWarning: " in lines[i]:
            i += 1
            if i < len(lines) and lines[i].startswith("  "):
                i += 1  # the source line the warning module prints under it
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


class Runs:
    """The two runs of one program: ``heron`` and ``plain`` (CompletedProcess each)."""

    def __init__(self, heron, plain, report_path):
        self.heron = heron
        self.plain = plain
        self._report_path = report_path

    @property
    def report(self):
        """``{qualname: record}`` from Heron's JSON report (empty when none was written)."""
        if not self._report_path.exists():
            return {}
        return {r["qualname"]: r for r in json.loads(self._report_path.read_text())}

    def status(self, qualname):
        record = self.report.get(qualname)
        return record and record["status"]

    def assert_same(self, stderr="same", stdout_filter=None):
        """Same stdout and exit code; ``stderr="same"``: equal once Heron's warnings are
        taken out; ``"no-warning"``: also no ``HeronWarning`` at all; None: not compared."""
        heron, plain = self.heron, self.plain
        out_h, out_p = heron.stdout, plain.stdout
        if stdout_filter is not None:
            out_h, out_p = stdout_filter(out_h), stdout_filter(out_p)
        detail = (f"\n--- with Heron (rc {heron.returncode}):\n{heron.stdout}{heron.stderr}"
                  f"\n--- plain (rc {plain.returncode}):\n{plain.stdout}{plain.stderr}")
        assert out_h == out_p, "stdout differs" + detail
        assert heron.returncode == plain.returncode, "exit code differs" + detail
        if stderr is not None:
            assert strip_heron_warnings(heron.stderr) == plain.stderr, "stderr differs" + detail
        if stderr == "no-warning":
            assert "HeronWarning" not in heron.stderr, detail


@pytest.fixture
def both(heron_python, tmp_path):
    """``both(argv, files={}, stdin=None, env=None, timeout=60)`` -> ``Runs``.

    ``files`` maps paths relative to ``tmp_path`` to text (dedented) or bytes.
    """
    def run(argv, files=None, stdin=None, env=None, timeout=60):
        for rel, content in (files or {}).items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(textwrap.dedent(content))
        report = tmp_path / "heron-report.json"
        if report.exists():
            report.unlink()
        common = {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        heron = run_python(heron_python, tmp_path, argv, native="real", stdin=stdin,
                           env={**common, "HERON_REPORT": str(report)}, timeout=timeout)
        plain = run_python(heron_python, tmp_path, argv, native="real", stdin=stdin,
                           env={**common, "HERON_DISABLE": "1"}, timeout=timeout)
        return Runs(heron, plain, report)
    return run


MARKED_MODULE = """
    # heron: jit
    def f(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
"""

SCRIPT = """
    import sys
    import marked

    # heron: jit
    def g(x):
        return 2 * x + 1

    print("f:", marked.f(10), "g:", g(20), "argv:", sys.argv[1:])
"""


# -- ways of running Python -------------------------------------------------------------------

def test_pdb_continue(both):
    runs = both(["-m", "pdb", "script.py", "arg"], files={"marked.py": MARKED_MODULE,
                                                          "script.py": SCRIPT},
                stdin="c\nq\n")
    runs.assert_same()
    assert "f: 285 g: 41 argv: ['arg']" in runs.heron.stdout
    # pdb stops tracing on `c` (no breakpoints): the imported module is compiled as usual.
    assert runs.status("f") == "replaced"


def test_pdb_breakpoint_in_marked_module_is_hit(both):
    """With a debugger tracing, marked functions stay Python so that breakpoints and
    stepping inside them work."""
    runs = both(["-m", "pdb", "script.py"], files={"marked.py": MARKED_MODULE,
                                                   "script.py": SCRIPT},
                stdin="b marked.py:6\nc\np s, i\nclear\ny\nc\nq\n")
    runs.assert_same()
    assert "(285, 9)" not in runs.heron.stdout  # the breakpoint is hit on the first pass
    assert "(0, 0)" in runs.heron.stdout
    assert runs.status("f") == "python"
    assert "trac" in runs.report["f"]["reason"]


@pytest.mark.parametrize("core", ["ctrace", pytest.param("sysmon", marks=pytest.mark.skipif(
    not PY312, reason="sys.monitoring is new in 3.12"))])
def test_coverage_run_measures_marked_functions(both, heron_python, tmp_path, core):
    """Under a coverage tool, marked functions stay Python so that their lines are counted."""
    probe = run_python(heron_python, tmp_path, ["-c", "import coverage"], native=None)
    if probe.returncode != 0:
        pytest.skip("coverage is not installed")
    files = {"marked.py": MARKED_MODULE, "script.py": textwrap.dedent(SCRIPT) + "import deco\n",
             "deco.py": """
                 import heron

                 @heron.jit
                 def h(x):
                     if x > 0:
                         return x + 1
                     return 0

                 print("h:", h(1))
             """}
    env = {"COVERAGE_CORE": core}
    runs = both(["-m", "coverage", "run", "script.py", "a"], files=files, env=env)
    runs.assert_same()
    assert runs.heron.stdout == "f: 285 g: 41 argv: ['a']\nh: 2\n"
    assert runs.status("f") == runs.status("h") == "python"
    # The report of what ran: compiled lines would show as never executed.
    reports = []
    for disable in ({}, {"HERON_DISABLE": "1"}):
        run_python(heron_python, tmp_path, ["-m", "coverage", "run", "script.py"],
                   native="real", env={**env, **disable})
        # Heron's own files are measured too when it runs from a checkout (PYTHONPATH):
        # only the program's files are compared.
        out = run_python(heron_python, tmp_path, ["-m", "coverage", "report", "-m",
                                                  f"--omit={PYTHON_DIR}/*"],
                         native="real", env={**env, **disable})
        assert out.returncode == 0, out.stderr
        reports.append(out.stdout)
    assert reports[0] == reports[1]
    lines = {line.split()[0]: line for line in reports[0].splitlines() if line.strip()}
    assert "100%" in lines["marked.py"] and "100%" in lines["script.py"], reports[0]


def test_x_importtime(both):
    runs = both(["-X", "importtime", "script.py"], files={"marked.py": MARKED_MODULE,
                                                          "script.py": SCRIPT})
    runs.assert_same(stderr=None)  # the timings differ from run to run
    for line in strip_heron_warnings(runs.heron.stderr).splitlines():
        assert line.startswith("import time:"), runs.heron.stderr
    assert runs.status("f") == runs.status("g") == "replaced"


def test_python_m_pytest_on_a_file_with_marked_functions(both):
    test_file = """
        import marked

        # heron: jit
        def helper(x):
            return x * 3

        def test_passes():
            assert marked.f(4) == 14
            assert helper(2) == 6

        def test_fails():
            got, want = marked.f(3), helper(2)
            assert got == want, "compiled values"
    """
    runs = both(["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_marked.py"],
                files={"marked.py": MARKED_MODULE, "test_marked.py": test_file})
    timing = re.compile(r" in [0-9.]+s")
    runs.assert_same(stdout_filter=lambda s: timing.sub(" in Ns", s))
    assert runs.heron.returncode == 1
    assert "1 failed, 1 passed" in runs.heron.stdout
    assert "assert 5 == 6" in runs.heron.stdout  # pytest's assertion rewriting still works
    assert runs.status("f") == "replaced"


def test_python_c_with_a_py_argument(both):
    code = ("import sys, marked\n"
            "# heron: jit\n"
            "def g(x):\n"
            "    return x - 1\n"
            "print(marked.f(5), g(5), sys.argv)\n")
    runs = both(["-c", code, "script.py"], files={"marked.py": MARKED_MODULE,
                                                  "script.py": "raise SystemExit('no!')\n"})
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "30 4 ['-c', 'script.py']\n"
    assert runs.status("f") == "replaced"


def test_python_stdin_with_a_py_argument(both):
    runs = both(["-", "script.py"], files={"marked.py": MARKED_MODULE,
                                           "script.py": "raise SystemExit('no!')\n"},
                stdin=textwrap.dedent(SCRIPT))
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "f: 285 g: 41 argv: ['script.py']\n"
    assert runs.status("f") == "replaced"


def test_python_m_package_with_exit_code(both):
    files = {
        "pkg/__init__.py": "",
        "pkg/helpers.py": MARKED_MODULE,
        "pkg/__main__.py": """
            import sys
            from pkg import helpers

            # heron: jit
            def g(x):
                return x + 0.5

            print(helpers.f(6), g(1), sys.argv[1:])
            sys.exit(3)
        """,
    }
    runs = both(["-m", "pkg", "x.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert (runs.heron.returncode, runs.heron.stdout) == (3, "55 1.5 ['x.py']\n")
    assert runs.status("f") == "replaced"


def test_python_i_then_interactive_lines(both):
    runs = both(["-i", "script.py"], files={"marked.py": MARKED_MODULE, "script.py": SCRIPT},
                stdin="print(g(100), marked.f(3))\n")
    runs.assert_same()
    assert runs.heron.stdout.splitlines()[-1] == "201 5"
    assert runs.status("g") == "replaced"


def test_warnings_as_errors(both):
    """``-W error`` turns a HeronWarning into an exception: Heron must swallow it."""
    files = {"marked.py": """
        # heron: jit, fastmath
        def f(x):
            return x + 1

        # heron: jit
        def g(x):
            return x * 2
    """, "script.py": "import marked\nprint(marked.f(1), marked.g(2))\n"}
    runs = both(["-W", "error", "script.py"], files=files)
    runs.assert_same(stderr="same")
    assert runs.heron.stdout == "2 4\n"
    assert runs.status("g") == "replaced"


def test_optimize_flags(both):
    files = {"script.py": """
        # heron: jit
        def f(x):
            "Docstring."
            if __debug__:
                x = x + 100
            return x + 1

        print(f(-5), getattr(f, "__wrapped__", f).__doc__)
    """}
    for flag in ["-O", "-OO"]:
        runs = both([flag, "script.py"], files=files)
        runs.assert_same(stderr="no-warning")
        assert runs.heron.stdout.split()[0] == "-4"


def test_optimize_flag_drops_asserts(both):
    files = {"script.py": """
        # heron: jit
        def f(x):
            assert x > 0, "x must be positive"
            return x + 1

        try:
            print(f(-5))
        except AssertionError as exc:
            print("AssertionError:", exc)
    """}
    runs = both(["script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "AssertionError: x must be positive\n"
    assert runs.report["f"]["native_calls"] == 1
    runs = both(["-O", "script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "-4\n"


# -- what marked source can look like ---------------------------------------------------------

def test_syntax_error_in_marked_module_caught_by_the_program(both):
    files = {
        "bad.py": "# heron: jit\ndef f(x)\n    return x\n",
        "script.py": """
            try:
                import bad
            except SyntaxError as exc:
                print("caught", type(exc).__name__, exc.lineno, exc.filename.endswith("bad.py"))
            import marked
            print(marked.f(4))
        """,
        "marked.py": MARKED_MODULE,
    }
    runs = both(["script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "caught SyntaxError 2 True\n14\n"


INVALID_ESCAPE = r'''
import re

# heron: jit
def f(x):
    return x + 1

PATTERN = re.compile("\d+")
'''


def test_compiler_warnings_of_a_marked_module_are_not_repeated(both):
    """A ``SyntaxWarning`` (3.12+) is printed once when the module is compiled; Heron's
    own parse for markers must not print it again."""
    files = {"warns.py": INVALID_ESCAPE,
             "script.py": "import warns\nprint(warns.PATTERN.pattern)\n",
             "main_warns.py": INVALID_ESCAPE + "print(PATTERN.pattern, f.__name__)\n"}
    runs = both(["script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.status("f") == "replaced"
    runs = both(["main_warns.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.status("f") == "replaced"


def test_compiler_warnings_not_repeated_when_compiling(both):
    files = {"warns.py": INVALID_ESCAPE,
             "script.py": "import warns\nprint(warns.f(1))\n"}
    runs = both(["script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.report["f"]["native_calls"] == 1


def test_latin1_source_with_coding_cookie(both):
    module = ("# -*- coding: latin-1 -*-\n"
              "NAME = 'caf\xe9 \xb5'  # heron: not a marker in a string? no, a comment\n"
              "# heron: jit\n"
              "def f(x):  # \xe9t\xe9\n"
              "    return x * 2.5\n").encode("latin-1")
    script = ("# -*- coding: latin-1 -*-\n"
              "import latin\n"
              "# heron: jit\n"
              "def g(x):\n"
              "    s = 0.0  # \xb5s\n"
              "    for i in range(x):\n"
              "        s += i\n"
              "    return s\n"
              "print(latin.NAME, latin.f(2), g(4), '\xe0')\n").encode("latin-1")
    runs = both(["script.py"], files={"latin.py": module, "script.py": script},
                env={"PYTHONIOENCODING": "utf-8"})
    runs.assert_same()
    assert runs.heron.stdout == "caf\xe9 \xb5 5.0 6.0 \xe0\n"
    assert runs.status("f") == runs.status("g") == "replaced"
    # The misplaced marker on the assignment line is reported, like any marker on no def.
    assert "HeronWarning" in runs.heron.stderr


def test_utf8_bom_script(both):
    script = "\ufeff# heron: jit\ndef g(x):\n    return x + 1\nprint(g(1), '\u00e9')\n"
    runs = both(["script.py"], files={"script.py": script.encode("utf-8")},
                env={"PYTHONIOENCODING": "utf-8"})
    runs.assert_same(stderr="no-warning")
    assert runs.status("g") == "replaced"


def test_invalid_utf8_without_cookie(both):
    files = {"bad.py": b"# heron: jit\ndef f(x):\n    return '\xff\xfe'\n",
             "script.py": """
                 try:
                     import bad
                 except SyntaxError as exc:
                     print("caught", type(exc).__name__)
             """,
             "main_bad.py": b"# heron: jit\ndef f(x):\n    return '\xff'\nprint(f(1))\n"}
    runs = both(["script.py"], files=files)
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "caught SyntaxError\n"
    runs = both(["main_bad.py"], files=files)
    runs.assert_same(stderr="same")
    assert runs.heron.returncode == 1


def test_markers_only_inside_strings_and_docstrings(both):
    source = '''
        """Module docstring.

        # heron: jit
        """
        TEXT = """
        # heron: jit
        def fake(x):
            return x
        """

        def f(x):
            """Docstring.
            # heron: jit
            """
            return x + len("# heron: jit, parallel")

        def g(x):
            s = f"{x}  # heron: jit"
            return s

        print(f(1), g(2), TEXT.count("heron"))
    '''
    runs = both(["script.py"], files={"script.py": source, "mod.py": source,
                                      "run_mod.py": "import mod\n"})
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "23 2  # heron: jit 1\n"
    assert runs.report == {}
    runs = both(["run_mod.py"])
    runs.assert_same(stderr="no-warning")
    assert runs.report == {}


def test_form_feed_lines_do_not_shift_markers(both):
    """A form feed (page break) is whitespace to Python, not a line end."""
    source = ("import sys\n"
              "\x0c\n"
              "# heron: jit\n"
              "def f(x):\n"
              "    return x + 1\n"
              "\x0c\n"
              "def h(x): return x - 1\n"
              "def g(x):\n"
              "    return x * 2\n"
              "print(f(1), g(2), h(3))\n")
    runs = both(["script.py"], files={"script.py": source, "ffmod.py": source,
                                      "run_ff.py": "import ffmod\n"})
    runs.assert_same(stderr="no-warning")
    assert runs.status("f") == "replaced" and set(runs.report) == {"f"}
    runs = both(["run_ff.py"])
    runs.assert_same(stderr="no-warning")
    assert runs.status("f") == "replaced" and set(runs.report) == {"f"}


def test_functions_redefined_after_marking(both):
    source = """
        # heron: jit
        def f(x):
            return x + 1
        first = f(1)

        def f(x):
            return x - 1
        print(first, f(1))

        # heron: jit
        def g(x):
            return x * 10
        g = lambda x: x * 20
        print(g(1))

        made = []
        for k in range(3):
            # heron: jit
            def h(x):
                return x + 7
            made.append(h(k))
        print(made)

        def keep(x):
            return -x
        # heron: jit
        def keep(x):
            return x * 3
        print(keep(2))
    """
    runs = both(["script.py"], files={"script.py": source, "redef.py": source,
                                      "run_redef.py": "import redef\n"})
    runs.assert_same()
    assert runs.heron.stdout == "2 0\n20\n[7, 8, 9]\n6\n"
    assert runs.status("keep") == "replaced"
    runs = both(["run_redef.py"])
    runs.assert_same()
    assert runs.heron.stdout == "2 0\n20\n[7, 8, 9]\n6\n"
    assert runs.status("f") == runs.status("g") == "python"
    assert runs.status("keep") == "replaced"


REFUSED_KINDS = """
    import asyncio, functools

    class C:
        # heron: jit
        def method(self, x):
            return x + 1

        # heron: jit
        @staticmethod
        def static(x):
            return x + 2

        @classmethod
        def klass(cls, x):  # heron: jit
            return x + 3

    # heron: jit
    class Marked:
        pass

    # heron: jit
    square = lambda x: x * x

    # heron: jit
    def gen(n):
        for i in range(n):
            yield i * i

    # heron: jit
    async def coro(x):
        await asyncio.sleep(0)
        return x * 4

    # heron: jit
    async def agen(n):
        for i in range(n):
            yield i

    def outer(x):
        # heron: jit
        def inner(y):
            return y + x
        return inner(1)

    # heron: jit
    def uses_gen(n):
        return sum(i for i in range(n))

    async def collect():
        return [i async for i in agen(3)]

    c = C()
    print(c.method(1), C.static(1), C.klass(1), Marked.__name__, square(5), list(gen(4)))
    print(asyncio.run(coro(2)), asyncio.run(collect()), outer(10), uses_gen(5))
    print(C.method.__name__, gen.__name__, coro.__qualname__)
"""


def test_marked_methods_lambdas_generators_async(both):
    expected = ("2 3 4 Marked 25 [0, 1, 4, 9]\n8 [0, 1, 2] 11 10\n"
                "method gen coro\n")
    runs = both(["script.py"], files={"script.py": REFUSED_KINDS, "kinds.py": REFUSED_KINDS,
                                      "run_kinds.py": "import kinds\n"})
    runs.assert_same()
    assert runs.heron.stdout == expected
    for name in ["C.method", "C.static", "C.klass", "gen", "coro", "agen",
                 "outer.<locals>.inner"]:
        assert runs.status(name) == "python", name
    runs = both(["run_kinds.py"])
    runs.assert_same()
    assert runs.heron.stdout == expected


def test_unknown_options_and_directives(both):
    source = """
        # heron: jit, fastmath
        def a(x):
            return x + 1

        # heron: jitt
        def b(x):
            return x + 2

        # heron:
        def c(x):
            return x + 3

        # heron: jit,, parallel ,
        def d(x):
            return x + 4

        #heron:JIT
        def e(x):
            return x + 5

        # heron: jit
        x = 1

        # heron: jit, parallel, nogil=True
        def f(x):
            return x + 6

        print(a(0), b(0), c(0), d(0), e(0), f(0), x)
    """
    runs = both(["script.py"], files={"script.py": source, "opts.py": source,
                                      "run_opts.py": "import opts\n"})
    runs.assert_same()
    assert runs.heron.stdout == "1 2 3 4 5 6 1\n"
    assert "HeronWarning" in runs.heron.stderr
    assert runs.status("d") == runs.status("e") == "replaced"
    runs = both(["run_opts.py"])
    runs.assert_same()
    assert runs.heron.stdout == "1 2 3 4 5 6 1\n"


# -- unusual script paths ---------------------------------------------------------------------

def _run_reading_a_pipe(python, tmp_path, argv, pipe, data, env):
    """Run ``python ARGV`` while ``data`` is written once to the named pipe ``pipe`` (when
    a reader opens it). Returns the CompletedProcess, or None when it timed out."""
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            try:
                fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet
                stop.wait(0.005)
                continue
            try:
                os.set_blocking(fd, True)
                os.write(fd, data)
            except OSError:
                pass
            finally:
                os.close(fd)
            return

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        return run_python(python, tmp_path, argv, native="real", env=env, timeout=20)
    except subprocess.TimeoutExpired:
        return None
    finally:
        stop.set()
        feeder.join(5)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_script_that_is_a_named_pipe(heron_python, tmp_path):
    """A script that is a pipe can be read once: Heron must not read it first (the
    interpreter would then wait for ever). Modules cannot be pipes: imports skip them."""
    code = b"# heron: jit\ndef f(x):\n    return x + 1\nprint('from the pipe', f(1))\n"
    pipe = tmp_path / "piped.py"
    os.mkfifo(pipe)
    outs = [_run_reading_a_pipe(heron_python, tmp_path, ["piped.py"], pipe, code,
                                {"PYTHONDONTWRITEBYTECODE": "1", **env})
            for env in ({}, {"HERON_DISABLE": "1"})]
    assert outs[1] is not None and outs[1].stdout == "from the pipe 2\n", outs[1]
    assert outs[0] is not None, "python piped.py hangs with Heron"
    assert (outs[0].returncode, outs[0].stdout, outs[0].stderr) == (
        outs[1].returncode, outs[1].stdout, outs[1].stderr)


def test_missing_script_and_directory_named_py(both, tmp_path):
    runs = both(["missing.py"])
    runs.assert_same(stderr="no-warning")
    assert runs.heron.returncode == 2
    runs = both(["app.py"], files={"app.py/__main__.py": """
        # heron: jit
        def f(x):
            return x + 1
        print(f(1))
    """})
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == "2\n"


def test_gettrace_is_none_before_marked_defs(both):
    """Nothing traces or monitors the script while it runs, on any version."""
    runs = both(["script.py"], files={"script.py": """
        import sys
        print("tracing:", sys.gettrace() is not None,
              [sys.monitoring.get_tool(i) for i in range(6)] if hasattr(sys, "monitoring")
              else [])
        # heron: jit
        def f(x):
            return x + 1
        print(f(1))
    """})
    runs.assert_same(stderr="no-warning")


def test_dispatcher_keeps_the_docstring(both):
    runs = both(["script.py"], files={"script.py": """
        # heron: jit
        def f(x):
            "Add one."
            return x + 1

        # heron: jit
        def g(x):
            return x + 1
        print(repr(f.__doc__), repr(g.__doc__), f(1), g(1))
    """})
    runs.assert_same(stderr="no-warning")
    assert runs.status("f") == "replaced"


def test_marker_lines_count_like_the_tokenizer():
    """Characters that ``str.splitlines`` treats as line ends but Python does not."""
    from heron._markers import find_markers
    for char in ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"]:
        source = (f"TEXT = 'a{char}b'\n"
                  f"#{char}\n"
                  "# heron: jit\n"
                  "def f(x):\n"
                  "    return x\n"
                  "def g(x): return x  # heron: jit, parallel\n")
        markers = find_markers(source, "<test>")
        assert [(m.name, m.lineno, m.kind, sorted(m.options)) for m in markers] == [
            ("f", 4, "function", []), ("g", 6, "function", ["parallel"])], repr(char)
    crlf = "x = 1\r\n# heron: jit\r\ndef f(x):\r\n    return x\r\n"
    assert [(m.name, m.lineno) for m in find_markers(crlf)] == [("f", 3)]


def test_loaders_keep_their_exact_type(both, heron_python, tmp_path):
    """Code that looks loaders up by exact type (pip's distlib does) must still find them."""
    registry_check = textwrap.dedent("""
        import importlib.machinery
        KNOWN = {importlib.machinery.SourceFileLoader: "source file"}
        print(__name__, KNOWN.get(type(__loader__), "unknown loader"),
              __spec__.loader is __loader__)
    """)
    runs = both(["-c", "import plainmod, markedmod; print(markedmod.f(2))"], files={
        "plainmod.py": registry_check,
        "markedmod.py": registry_check + "\n# heron: jit\ndef f(x):\n    return x + 1\n",
    })
    runs.assert_same(stderr="no-warning")
    assert runs.heron.stdout == ("plainmod source file True\n"
                                 "markedmod source file True\n3\n")
    assert runs.status("f") == "replaced"
    probe = run_python(heron_python, tmp_path, ["-c", "import pip._vendor.distlib"],
                       native=None)
    if probe.returncode == 0:
        runs = both(["-c", "import pip._vendor.distlib as d\n"
                           "from pip._vendor.distlib.resources import finder\n"
                           "print(type(finder(d)).__name__)"])
        runs.assert_same(stderr="no-warning")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read a file without read permission")
def test_unreadable_marked_module_and_script(both, tmp_path):
    files = {"locked.py": "# heron: jit\ndef f(x):\n    return x\n",
             "locked_main.py": "# heron: jit\ndef f(x):\n    return x\nprint(f(1))\n",
             "script.py": """
                 try:
                     import locked
                 except OSError as exc:
                     print("caught", type(exc).__name__)
             """}
    runs = both(["script.py"], files=files)
    for name in ["locked.py", "locked_main.py"]:
        os.chmod(tmp_path / name, 0)
    try:
        runs = both(["script.py"])
        runs.assert_same(stderr="no-warning")
        assert runs.heron.stdout == "caught PermissionError\n"
        runs = both(["locked_main.py"])
        runs.assert_same(stderr="no-warning")
        assert runs.heron.returncode == 2
    finally:
        for name in ["locked.py", "locked_main.py"]:
            os.chmod(tmp_path / name, 0o644)
