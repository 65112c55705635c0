"""Loop lifting in profiling mode (issue 13, item 4; ``heron._lift``): a hot function that cannot
be compiled as a whole gets its loops compiled on their own, for its next calls.

Each script runs as ``python script.py`` with ``HERON_AUTO=1`` and with Heron off; stdout,
stderr and the exit status must be the same, and the JSON report must say which loops were
lifted and ran native code. The AST analysis (live-in and live-out variables) is also checked
on its own, against what the interpreter computes when the lifted code runs.
"""

import ast
import textwrap

import pytest

from test_auto import both, line_of


def lifted(rec):
    """``{line: record}`` of the lifted loops in a report record."""
    return {loop["line"]: loop for loop in rec["profile"]["lifted_loops"]}


STR_ARGUMENT = """
    import math

    def work(tag, n):
        total = 0.0
        for i in range(n):
            x = i * 0.001
            total += math.sin(x) * math.cos(x)
        count = 0
        k = 0
        while k < n:
            if k % 3 == 0:
                count += 1
            k += 1
        label = tag + ":" + str(n)
        return label, total, count, k, x

    for r in range(60):
        out = work("run%d" % r, 20000 + r)
    print(out)
"""


@pytest.mark.usefixtures("real_native")
def test_loops_of_a_function_with_a_str_argument(run_script, tmp_path):
    """The function takes a string (it cannot compile whole); its while loop compiles alone;
    its for loop, whose temporary (x) is read after it, is lifted but runs as written."""
    out, recs = both(run_script, tmp_path, STR_ARGUMENT)
    rec = recs["work"]
    assert rec["status"] == "python" and "str argument (tag)" in rec["reason"]
    loops = lifted(rec)
    first, second = line_of(STR_ARGUMENT, "for i in"), line_of(STR_ARGUMENT, "while k")
    assert set(loops) == {first, second}, loops
    assert loops[second]["native_calls"] > 0, loops
    assert loops[second]["inputs"] == ["count", "k", "n"]
    assert loops[second]["outputs"] == ["count", "k"]
    # x is read after the loop: it is passed in and comes back, so it must be bound when the
    # loop starts; it never is (a local of each call): that loop always runs as written.
    assert "x" in loops[first]["inputs"] and "x" in loops[first]["outputs"]
    assert loops[first]["native_calls"] == 0, loops
    assert f"its loop at script.py:{first} was taken out" in rec["reason"]
    assert "unbound, and ran as written" in rec["reason"]
    assert f"its loop at script.py:{second} was compiled on its own" in rec["reason"]


NESTED = """
    def table(rows, n):
        acc = 0.0
        lines = []
        for r in range(rows):
            for j in range(n):
                acc += (r * n + j) % 7 * 0.25
            lines.append("%d:%.3f" % (r, acc))
        return ",".join(lines[-3:]), acc

    for t in range(40):
        out = table(50, 2000 + t)
    print(out)
"""


@pytest.mark.usefixtures("real_native")
def test_inner_loop_of_a_loop_that_cannot_compile(run_script, tmp_path):
    """The outer loop builds strings in a list (it does not compile); the inner loop does,
    and its accumulator, carried from one run of it to the next, comes back each time."""
    out, recs = both(run_script, tmp_path, NESTED)
    rec = recs["table"]
    outer, inner = line_of(NESTED, "for r in"), line_of(NESTED, "for j in")
    assert f"its loop at script.py:{outer} could not be compiled on its own" in rec["reason"]
    assert f"its loop at script.py:{inner} was compiled on its own" in rec["reason"]
    assert lifted(rec)[outer]["native_calls"] == 0


UNBOUND = """
    def scan(words, n):
        for w in words:
            pass
        for i in range(n):
            last = i * 2
        found = len(words)
        while found > 0 and found % 7:
            found -= 1
        try:
            return last, found, w
        except NameError as exc:
            return str(exc), found

    for r in range(1600):
        res = scan("ab"[: r % 3], (r % 4) * 3000)
        if r % 200 == 0:
            print(res)
"""


@pytest.mark.usefixtures("real_native")
def test_variables_unbound_before_the_loop(run_script, tmp_path):
    """Loops whose variables are not all bound when they start (a zero-length loop leaves its
    target unbound) run as written: the program sees the same NameErrors."""
    out, recs = both(run_script, tmp_path, UNBOUND)
    loops = lifted(recs["scan"])
    assert loops[line_of(UNBOUND, "for i in")]["native_calls"] == 0     # `last` read after
    assert loops[line_of(UNBOUND, "while found")]["native_calls"] > 0, loops


def analysis(source):
    from heron import _lift
    fn = ast.parse(textwrap.dedent(source)).body[0]
    loop = next(n for n in fn.body if isinstance(n, (ast.For, ast.While)))
    local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)} | {a.arg for a in fn.args.args}
    return _lift._live_in(loop, local), _lift.liftable(loop)


def test_live_in_analysis():
    (inputs, assigned), why = analysis("""
        def f(a, n):
            s = 0.0
            for i in range(n):
                t = a[i] * 2
                s += t
                if t > 3:
                    u = t
                a[i] = u
    """)
    assert why is None
    assert inputs == ["a", "n", "s", "u"]      # u: assigned only on one path before its read
    assert assigned == {"i", "t", "s", "u"}


def test_loops_that_are_not_lifted():
    for body, word in [("return i", "return"), ("yield i", "yield"), ("del x", "delete"),
                       ("print(locals())", "locals()"), ("g = lambda: i", "lambda"),
                       ("s = s.strip()", ".strip()")]:
        _, why = analysis(f"""
            def f(n, x, s):
                for i in range(n):
                    {body}
        """)
        assert why is not None and word in why, (body, why)


GUARDED = """
    def partial(xs, tag):
        total = 0.0
        try:
            for x in xs:
                total += 1.0 / x
        except ZeroDivisionError:
            pass
        return tag + "%.6f" % total

    for r in range(20000):
        res = partial([1.0 + (r + i) % 5 for i in range(60)] + [0.0], "t")
    print(res)
"""


@pytest.mark.usefixtures("real_native")
def test_loop_in_a_try_block_is_not_lifted(run_script, tmp_path):
    """A loop that raises inside ``try``: the handler must see what the loop summed before
    the error, so the loop is left as written."""
    out, recs = both(run_script, tmp_path, GUARDED)
    assert not recs["partial"]["profile"]["lifted_loops"], recs["partial"]


GLOBAL_STORE = """
    hits = 0

    def count(tag, n):
        global hits
        k = 0
        while k < n:
            if k % 3 == 0:
                hits += 1
            k += 1
        return tag + str(k)

    for r in range(12000):
        res = count("c", 300)
    print(res, hits)
"""


@pytest.mark.usefixtures("real_native")
def test_loop_assigning_a_global_is_not_lifted(run_script, tmp_path):
    """A loop that assigns a name the function declares ``global`` stays as written (in a
    function of its own the name would be a local)."""
    out, recs = both(run_script, tmp_path, GLOBAL_STORE)
    assert out.stdout == "c300 1200000\n"
    assert not recs["count"]["profile"]["lifted_loops"], recs["count"]


COPIED = """
    import cloudpickle

    def work(tag, n):
        count = 0
        k = 0
        while k < n:
            if k % 3 == 0:
                count += 1
            k += 1
        return tag + str(count)

    for r in range(12000):
        res = work("w", 300 + r % 5)
    copy = cloudpickle.loads(cloudpickle.dumps(work))
    print(res, copy("c", 1000), copy is work)
"""


@pytest.mark.usefixtures("real_native")
def test_function_with_a_lifted_loop_copied_by_value(run_script, tmp_path):
    """cloudpickle copies a function of ``__main__`` by value, constants of its code included:
    the copy of a lifted loop is the loop as written."""
    pytest.importorskip("cloudpickle")
    out, recs = both(run_script, tmp_path, COPIED)
    assert out.stdout == "w102 c334 False\n"
    assert lifted(recs["work"]), recs["work"]
