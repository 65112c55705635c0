"""Profiling mode (issue 13, items 1-3 and 6): ``HERON_AUTO=1`` and ``# heron: auto``.

Real unmarked scripts run as ``python script.py`` with profiling mode on and with Heron off
(``HERON_DISABLE=1``): stdout, stderr and the exit status must be the same, and the JSON report
(``HERON_REPORT=out.json``) must say which hot functions were compiled and why the others were
not. The scripts do enough work for the hot functions to be found by either mechanism
(``sys.monitoring`` counts on 3.12+, the sampling thread on 3.10 and 3.11). No timing is
asserted (``benches/auto_mode.py`` measures).
"""

import json
import os
import re
import sys
import textwrap

import pytest

from conftest import without_report_line

PY312 = sys.version_info >= (3, 12)


def both(run_script, tmp_path, source, env=None, files=None, auto_env=True):
    """Run ``source`` in profiling mode and without Heron; check that they behave the same.

    Returns:
        ``(run in profiling mode, {qualname: record} of its JSON report)``.
    """
    extra = {"HERON_REPORT": "out.json", **(env or {})}
    if auto_env:
        extra["HERON_AUTO"] = "1"
    auto = run_script(tmp_path, source, env=extra, native="real", files=files)
    plain = run_script(tmp_path, source, env={"HERON_DISABLE": "1"}, native="real",
                       files=files)
    assert auto.returncode == plain.returncode, (auto.stderr, plain.stderr)
    assert auto.stdout == plain.stdout
    assert without_report_line(auto.stderr) == plain.stderr
    return auto, report(tmp_path)


def report(tmp_path):
    return {r["qualname"]: r for r in json.loads((tmp_path / "out.json").read_text())}


def line_of(source, text):
    """The line number of the first line of ``source`` (dedented) containing ``text``."""
    for number, line in enumerate(textwrap.dedent(source).splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(text)


def compiled(rec):
    return rec["status"] == "replaced" and rec["signatures"] and rec["native_calls"] > 0


# A numeric helper called from a driver loop, and a string helper called as often.
HOT_HELPER = """
    import math

    def kernel(x, n):
        s = 0.0
        for k in range(n):
            s += math.sin(x + k * 0.001) * 0.5
        return s

    def label(word):
        parts = word.strip().split(",")
        return "-".join(sorted(p.upper() for p in parts if p))

    def main():
        total = 0.0
        for i in range(3000):
            total += kernel(i * 0.01, 400)
        names = [label(" b,a,%d,c " % (i % 7)) for i in range(150000)]
        print(f"{total:.9f}", len(set(names)), names[:2])

    main()
"""


@pytest.mark.usefixtures("real_native")
def test_hot_numeric_helper_is_compiled_and_string_helper_is_not(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, HOT_HELPER)
    kernel, label = recs["kernel"], recs["label"]
    assert compiled(kernel), kernel
    assert kernel["profile"]["mode"] == "auto" and kernel["reason"] is None
    assert kernel["signatures"] == ["(float, int)"]
    assert label["status"] == "python" and not label["native_calls"]
    assert "str argument (word)" in label["reason"]
    assert f"script.py:{line_of(HOT_HELPER, 'def label')}" in label["reason"]
    assert label["profile"]["trigger"] in ("calls", "time")
    # main() is hot too (its loop), in its only call: no next call to run native code.
    if "main" in recs:
        assert recs["main"]["status"] == "python"
        assert "not called again" in recs["main"]["reason"]
    mechanism = "sys.monitoring" if PY312 else "sampling"
    assert {r["profile"]["mechanism"] for r in recs.values()} == {mechanism}
    assert all(r["profile"]["time_share"] is not None for r in recs.values())
    assert "hot function(s) compiled to native code" in out.stderr


@pytest.mark.usefixtures("real_native")
def test_heron_auto_comment_turns_it_on_for_one_module(run_script, tmp_path):
    """``# heron: auto`` (no ``HERON_AUTO``): the script's functions are watched; a module it
    imports, without the comment, is not; with the comment it is, and the script's name
    imported from it (``from m import f``) gets the dispatcher too."""
    helpers = """
        import math

        def far(x, n):
            s = 0.0
            for k in range(n):
                s += math.cos(x * k)
            return s
    """
    script = "# heron: auto\n" + textwrap.dedent(HOT_HELPER).replace(
        "import math\n", "import math\nfrom helpers import far\n").replace(
        "    print(", "    print(f\"{sum(far(0.5, 300) for _ in range(3000)):.9f}\")\n"
        "    TYPES.write_text(type(far).__name__)\n    print(").replace(
        "import math\n", "import math\nimport pathlib\nTYPES = pathlib.Path('types.txt')\n", 1)
    out, recs = both(run_script, tmp_path, script, files={"helpers.py": helpers},
                     auto_env=False)
    assert compiled(recs["kernel"]) and recs["label"]["status"] == "python"
    assert "far" not in recs

    out, recs = both(run_script, tmp_path, script,
                     files={"helpers.py": "# heron: auto\n" + textwrap.dedent(helpers)},
                     auto_env=False)
    assert compiled(recs["far"]) and recs["far"]["module"] == "helpers"
    run_script(tmp_path, script, native="real", files={
        "helpers.py": "# heron: auto\n" + textwrap.dedent(helpers)})
    assert (tmp_path / "types.txt").read_text() == "Dispatcher"   # the script's name too


@pytest.mark.usefixtures("real_native")
def test_imported_modules_are_watched_with_heron_auto(run_script, tmp_path):
    helpers = """
        def smooth(a, b, n):
            t = 0.0
            for i in range(n):
                t = t * 0.5 + a * i - b
            return t
    """
    script = """
        import helpers

        total = 0.0
        for i in range(2000):
            total += helpers.smooth(0.25, i * 0.5, 500)
        print(f"{total:.6f}")
    """
    out, recs = both(run_script, tmp_path, script, files={"helpers.py": helpers})
    assert compiled(recs["smooth"]) and recs["smooth"]["module"] == "helpers"


CANNOT_NEXT_TO_CAN = """
    def bad(x, n):
        seen = {}
        for i in range(n):
            seen[i % 5] = x * i
        return len(seen) + x

    def good(x, n):
        s = 0.0
        for i in range(n):
            s += x * i - (i % 3)
        return s

    def driver():
        a = b = 0.0
        for j in range(2500):
            a += bad(j * 0.5, 300)
            b += good(j * 0.5, 300)
        return a, b

    print(driver())
    print(driver())
"""


@pytest.mark.usefixtures("real_native")
def test_hot_function_that_cannot_compile_next_to_one_that_can(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, CANNOT_NEXT_TO_CAN)
    bad, good = recs["bad"], recs["good"]
    assert compiled(good), good
    assert bad["status"] == "python" and not bad["signatures"] and not bad["native_calls"]
    assert "dict" in bad["reason"]
    assert f"script.py:{line_of(CANNOT_NEXT_TO_CAN, 'seen = {}')}" in bad["reason"]
    assert bad["profile"]["compile_attempt_s"] > 0
    assert bad["profile"]["trigger"] in ("calls", "loop", "time")


TEXT = """
    import collections
    import re
    import sys

    WORDS = "the quick brown fox jumps over the lazy dog and runs away".split()

    def make_line(i):
        return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(10))

    def tokens(line):
        return [w.lower().strip(".,") for w in re.split(r"\\s+", line) if w]

    class Index:
        def __init__(self):
            self.where = collections.defaultdict(list)

        def add(self, word, line_no):
            self.where[word].append(line_no)

    def main():
        index = Index()
        counts = collections.Counter()
        for i in range(30000):
            for w in tokens(make_line(i)):
                counts[w] += 1
                index.add(w, i)
        print(counts.most_common(3))
        print(sorted((w, len(v)) for w, v in index.where.items())[:4])
        sys.stderr.write("done\\n")
        return 3

    sys.exit(main())
"""


@pytest.mark.usefixtures("real_native")
def test_text_processing_with_nothing_numeric(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, TEXT)
    assert out.returncode == 3 and out.stderr.startswith("done\n")
    assert recs, "the hot functions are reported"
    assert not any(r["status"] == "replaced" for r in recs.values()), recs
    assert "str argument (line)" in recs["tokens"]["reason"]
    if "Index.add" in recs:
        assert "method" in recs["Index.add"]["reason"]
    for rec in recs.values():
        assert rec["reason"] and "script.py:" in rec["reason"]
    assert "Heron report written to" in out.stderr and "0 of" in out.stderr


ONE_LONG_CALL_THEN_MORE = """
    def simulate(n, dt):
        x, v = 1.0, 0.0
        for i in range(n):
            a = -x
            v += a * dt
            x += v * dt
        return x

    print(f"{simulate(2_000_000, 1e-5):.12f}")
    print(f"{simulate(2_000_000, 1e-5):.12f}")
    print(f"{simulate(1000, 1e-3):.12f}")
"""


@pytest.mark.usefixtures("real_native")
def test_the_call_after_a_long_one_is_native(run_script, tmp_path):
    """A function that gets hot in its first, long call keeps running it as Python (no
    on-stack replacement): it is its next calls that run native code."""
    out, recs = both(run_script, tmp_path, ONE_LONG_CALL_THEN_MORE)
    rec = recs["simulate"]
    assert compiled(rec)
    assert rec["calls"] == rec["native_calls"] == 2    # the calls after the first one
    assert rec["profile"]["trigger"] == ("loop" if PY312 else "time")


ONLY_CALL = """
    import sys

    def main(n):
        s = 0
        for i in range(n):
            s += i * i % 7
        print(s)

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000)
"""


@pytest.mark.usefixtures("real_native")
def test_hot_in_its_only_call_is_reported(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, ONLY_CALL)
    rec = recs["main"]
    assert rec["status"] == "python" and not rec["native_calls"]
    assert "not called again" in rec["reason"] and "on-stack replacement" in rec["reason"]


MARKED_AND_AUTO = """
    # heron: jit
    def marked(x):
        return x * 2.0 + 1.0

    def unmarked(x, n):
        s = 0.0
        for i in range(n):
            s += marked(x) * i
        return s

    t = 0.0
    for j in range(3000):
        t += unmarked(j * 0.001, 300)
    print(f"{t:.6f}")
    open("types.txt", "w").write(type(marked).__name__ + " " + type(unmarked).__name__)
"""


@pytest.mark.usefixtures("real_native")
def test_markers_keep_working_beside_it(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, MARKED_AND_AUTO)
    assert recs["marked"]["status"] == "replaced" and recs["marked"]["profile"] is None
    assert compiled(recs["unmarked"]) and recs["unmarked"]["profile"]["mode"] == "auto"
    run_script(tmp_path, MARKED_AND_AUTO, native="real", env={"HERON_AUTO": "1"})
    assert (tmp_path / "types.txt").read_text() == "Dispatcher Dispatcher"


RAISES_LATER = """
    def ratio(a, b, n):
        s = 0.0
        for i in range(n):
            s += a / (b - i % 50)
        return s

    total = 0.0
    for j in range(1, 3000):
        total += ratio(j * 1.0, 50.5, 300)
    print(f"{total:.6f}")
    print(ratio(1.0, 49.0, 300))
"""


@pytest.mark.usefixtures("real_native")
def test_an_error_in_compiled_code_reads_the_same(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, RAISES_LATER)
    assert out.returncode == 1 and "ZeroDivisionError: float division by zero" in out.stderr
    assert compiled(recs["ratio"])


@pytest.mark.usefixtures("real_native")
def test_report_table_lists_hot_functions(run_script, tmp_path):
    out = run_script(tmp_path, CANNOT_NEXT_TO_CAN, native="real",
                     env={"HERON_AUTO": "1", "HERON_REPORT": "1"})
    assert out.returncode == 0, out.stderr
    table = out.stderr
    assert re.search(r"^Heron report: 1 of [234] hot function\(s\) compiled to native code",
                     table, re.M), table
    assert "Profiling mode (" in table and " became hot." in table
    head = next(line for line in table.splitlines() if line.startswith("Function"))
    assert head.split()[:4] == ["Function", "Where", "Result", "Hot"]
    assert "bad (hot" in table and "good (hot" in table


@pytest.mark.usefixtures("real_native")
def test_nothing_hot(run_script, tmp_path):
    out, recs = both(run_script, tmp_path, """
        def f(x):
            return x + 1
        print(f(1))
    """)
    assert recs == {}
    assert out.stderr.endswith("(no function became hot)\n")


@pytest.mark.usefixtures("real_native")
def test_heron_disable_wins(run_script, tmp_path):
    out = run_script(tmp_path, HOT_HELPER, native="real",
                     env={"HERON_AUTO": "1", "HERON_DISABLE": "1", "HERON_REPORT": "out.json"})
    assert out.returncode == 0 and out.stderr == ""
    assert not (tmp_path / "out.json").exists()


@pytest.mark.usefixtures("real_native")
def test_fork_after_hot_code(run_script, tmp_path):
    """A script that forks itself: the same output (no ``DeprecationWarning`` about forking a
    process with threads, from the report's sampling thread on 3.12+), and the child runs
    the compiled function."""
    source = textwrap.dedent(ONE_LONG_CALL_THEN_MORE) + textwrap.dedent("""
        import os
        import sys
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            print("child", f"{simulate(1000, 1e-3):.12f}", flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent")
    """)
    out, recs = both(run_script, tmp_path, source)
    assert out.stdout.endswith("parent\n") and "child" in out.stdout
    assert compiled(recs["simulate"])


@pytest.mark.usefixtures("real_native")
def test_heron_run_command(run_cmd, tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(CANNOT_NEXT_TO_CAN))
    out = run_cmd(tmp_path, ["-m", "heron", "run", "script.py"], native="real",
                  env={"HERON_AUTO": "1", "HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    recs = report(tmp_path)
    assert compiled(recs["good"]) and recs["bad"]["status"] == "python"


# -- in-process: what is watched, and the argument check ------------------------------------

def test_what_is_watched():
    from heron import _auto
    code = compile(textwrap.dedent("""
        def top(x):
            def inner(y):
                return y
            return [inner(v) for v in x]

        async def coro():
            pass

        def gen():
            yield 1

        class K:
            def method(self):
                return lambda: 1

        square = lambda v: v * v
        if True:
            def in_if(x):
                return x
    """), "m.py", "exec")
    found = [(qualname, kind) for _code, qualname, kind in _auto._functions(code, "", "function",
                                                                               [])]
    assert found == [("top", "function"), ("top.<locals>.inner", "nested function"),
                     ("K.method", "method"), ("in_if", "function")]


def test_heron_auto_covers_user_modules_only():
    from heron import _auto, _boot
    sep = os.sep
    assert _auto.eligible(f"{sep}home{sep}me{sep}proj{sep}m.py")
    assert not _auto.eligible(f"{sep}venv{sep}lib{sep}python3{sep}site-packages{sep}m.py")
    assert not _auto.eligible(f"{sep}usr{sep}lib{sep}python3{sep}dist-packages{sep}m.py")
    assert _boot._auto_wants(f"{sep}home{sep}me{sep}my-packages{sep}m.py")
    assert not _boot._auto_wants(f"{sep}venv{sep}site-packages{sep}np{sep}m.py")


def test_argument_check():
    from heron import _auto, _autoreasons
    import numpy

    def f(a, b, *rest):
        return a

    w = _auto.Watched(f.__code__, "f", "function", "m.py", "m")
    assert _autoreasons.argument_reason(w, (1, 2.5), {}) is None
    assert _autoreasons.argument_reason(w, (numpy.zeros(3), numpy.float32(1)), {}) is None
    assert "str argument (b)" in _autoreasons.argument_reason(w, (1, "x"), {})
    assert "list argument (*args)" in _autoreasons.argument_reason(w, (1, 2, []), {})
    assert "64 bits" in _autoreasons.argument_reason(w, (2 ** 70, 1), {})
    assert "keyword arguments (b=)" in _autoreasons.argument_reason(w, (1,), {"b": 2})


@pytest.mark.usefixtures("real_native")
def test_copied_by_value_while_armed(run_script, tmp_path):
    """cloudpickle (Dask, joblib) copies a function of ``__main__`` by value, its code
    included: a function Heron has armed (hot in its only call) copies as plain Python."""
    pytest.importorskip("cloudpickle")
    out, recs = both(run_script, tmp_path, """
        import cloudpickle

        def work(n):
            s = 0
            for i in range(n):
                s += i % 7
            return s

        print(work(2_000_000))
        copy = cloudpickle.loads(cloudpickle.dumps(work))
        print(copy(10), type(copy).__name__)
    """)
    assert out.stdout.endswith("\n24 function\n")
    assert recs["work"]["status"] == "python"


MODULE_LOOP = """
    def step(x, k):
        return x * 0.5 + k

    t = 0.0
    for i in range(1_500_000):
        t = step(t, i % 3)
    print(t)
"""


@pytest.mark.usefixtures("real_native")
def test_hot_loop_at_module_level(run_script, tmp_path):
    """A loop at module level is not compiled as a whole: the helper it calls is, and the loop
    itself switches to native code while it runs (on-stack replacement, tests/test_osr.py);
    the report says where the loop is."""
    out, recs = both(run_script, tmp_path, MODULE_LOOP)
    assert compiled(recs["step"]), recs["step"]
    module = recs["<module>"]
    assert module["status"] == "python" and "module-level code is hot" in module["reason"]
    assert f"script.py:{line_of(MODULE_LOOP, 'for i in')}" in module["reason"]


RECURSIVE = """
    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)

    print(fib(30))
"""


@pytest.mark.usefixtures("real_native")
def test_recursive_function_called_once_is_found(run_script, tmp_path):
    """A recursive function called once from module level has no loop and one outer call:
    its recursive calls make it hot (3.12+: at the probe of ``CALL_PROBE`` calls; 3.10, 3.11:
    the sampling thread), and the calls still to come run native code."""
    out, recs = both(run_script, tmp_path, RECURSIVE)
    assert compiled(recs["fib"]), recs["fib"]
    assert recs["fib"]["signatures"] == ["(int)"]
    if PY312:
        assert recs["fib"]["profile"]["trigger"] == "recursion"


@pytest.mark.usefixtures("real_native")
def test_many_functions_called_a_few_hundred_times_stay_cold(run_script, tmp_path):
    """Functions called fewer than ``HOT_CALLS`` times from a loop that is not hot are never
    hot (on 3.12+ their calls stop being counted after ``CALL_PROBE``), and one called more
    often from a loop that gets hot later is still found."""
    defs = "\n".join(f"def f{i}(x):\n    return x * {i} + 1\n" for i in range(40))
    calls = "\n".join(f"        t += f{i}(k)" for i in range(40))
    source = (defs + "\ndef main():\n    t = 0\n    for k in range(300):\n" + calls
              + "\n    print(t)\n\nmain()\n\n"
              + "def late(x):\n    return x * 0.5 + 1.0\n\n"
              + "s = 0.0\nfor k in range(150):\n    s = late(s)\n"
              + "for k in range(1_000_000):\n    s = late(s) - k * 1e-9\nprint(s)\n")
    out, recs = both(run_script, tmp_path, source)
    assert not [name for name in recs if name.startswith("f")], recs
    assert compiled(recs["late"]), recs["late"]
