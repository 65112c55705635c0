"""On-stack replacement in profiling mode (issue 13, item 4; ``heron._osr``): a loop already
running when it gets hot switches to native code at a back-edge, in a function called once and
at module level.

Each script runs as ``python script.py`` with ``HERON_AUTO=1`` and with Heron off; stdout,
stderr and the exit status must be the same, and the JSON report must say which loop switched
and that its compiled rest ran native code (or why it could not switch). The loops run long
enough (a few hundred milliseconds in the interpreter) to be found hot by either mechanism.
"""

import sys
import textwrap

import pytest

from test_auto import both, line_of


def switched(rec):
    """``{line: record}`` of the loops on-stack replacement tried, from a report record."""
    return {loop["line"]: loop for loop in rec["profile"]["switched_loops"]}


def assert_switched(rec, source, header):
    loops = switched(rec)
    line = line_of(source, header)
    assert line in loops, (rec["reason"], loops)
    assert loops[line]["switched"] >= 1 and loops[line]["native_calls"] >= 1, loops
    assert f"script.py:{line} switched to native code while it ran" in rec["reason"]
    assert "on-stack replacement" in rec["reason"]


MAIN_ONCE = """
    import math
    import sys

    def main(n):
        total = 0.0
        count = 0
        for i in range(n):
            x = i * 0.25
            total += math.sqrt(x) * 0.5 - x * 1e-7
            if i % 7 == 3:
                count += 1
        print(f"{total:.6f} {count} {i} {x}")
        with open("result.txt", "w") as out:
            out.write(repr(total) + "\\n")
        print(open("result.txt").read().strip())

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000)
"""


@pytest.mark.usefixtures("real_native")
def test_loop_of_a_main_called_once_switches(run_script, tmp_path):
    """``main()`` is called once and does I/O (it cannot compile as a whole): its loop switches
    at a back-edge, and the variables it leaves (``total``, ``count``, ``i``, ``x``) are those
    the interpreter leaves."""
    out, recs = both(run_script, tmp_path, MAIN_ONCE)
    assert_switched(recs["main"], MAIN_ONCE, "for i in range(n)")
    assert (tmp_path / "result.txt").exists()


WITH_AFTER = """
    import math

    def main(path):
        total = 0.0
        for i in range(1, 3_000_000):
            x = i * 1e-3
            total += math.sin(x) / x
        with open(path, "w") as out:
            out.write(f"{total:.12f} {i}\\n")
        print(open(path).read().strip())

    main("result.txt")
"""


@pytest.mark.usefixtures("real_native")
def test_loop_followed_by_a_with_block(run_script, tmp_path):
    """The statement after the loop is a ``with`` block, whose line also starts its clean-up
    code: the frame lands on the block's first instruction, not on the clean-up (which would
    take the loop's iterator for the ``__exit__`` method)."""
    out, recs = both(run_script, tmp_path, WITH_AFTER)
    assert_switched(recs["main"], WITH_AFTER, "for i in range(1,")


MODULE_LOOP = """
    import math

    def step(x, k):
        return x * 0.5 + k

    t = 0.0
    acc = 0
    for i in range(1_500_000):
        t = step(t, i % 3)
        acc += (i * i) % 11
    print(t, acc, i)
    rest = [t * 2, acc // 3]
    print(rest)
"""


@pytest.mark.usefixtures("real_native")
def test_loop_at_module_level_switches(run_script, tmp_path):
    """A loop at module level (the script's globals) switches, calling the helper that profiling
    mode compiled meanwhile; the globals it assigns are written back."""
    out, recs = both(run_script, tmp_path, MODULE_LOOP)
    assert_switched(recs["<module>"], MODULE_LOOP, "for i in range(")
    assert recs["<module>"]["status"] == "python"


WHILE_BREAK_ELSE = """
    def search(limit, stop_at):
        k = 1
        best = 0
        found = -1
        while k < limit:
            v = (k * 2654435761) % 1000003
            if v > best:
                best = v
            if k * k > stop_at:
                found = k
                break
            k += 1
        else:
            found = -2
        print("while", k, best, found)
        print([found])

    def count(limit, cap):
        total = 0
        for j in range(1, limit):
            total += j % 13
            if total > cap:
                break
        else:
            total = -total
        print("for", j, total)
        print([total])

    search(2_000_000, 1_500_000 ** 2)
    search(2_000_000, 10 ** 15)
    count(2_000_000, 9_000_000)
    count(2_000_000, 10 ** 12)
"""


@pytest.mark.usefixtures("real_native")
def test_while_loop_and_break_and_else(run_script, tmp_path):
    """A ``while`` loop switches at its test; ``break`` and ``else`` behave as written (the
    frame jumps past the whole statement, ``else`` included)."""
    out, recs = both(run_script, tmp_path, WHILE_BREAK_ELSE)
    for name, header in (("search", "while k < limit"), ("count", "for j in range")):
        loops = switched(recs[name])
        assert loops[line_of(WHILE_BREAK_ELSE, header)]["switched"], (name, loops)


NESTED = """
    def grid(rows, cols):
        acc = 0.0
        for r in range(rows):
            for c in range(cols):
                acc += ((r * cols + c) % 17) * 0.125
            acc *= 0.999
        print(f"{acc:.9f}", r, c)
        print([round(acc, 3)])

    grid(1500, 1000)
"""


@pytest.mark.usefixtures("real_native")
def test_outer_loop_of_a_nest_switches(run_script, tmp_path):
    """The outermost loop around the running line switches at its own back-edge, with its
    inner loop in the compiled rest."""
    out, recs = both(run_script, tmp_path, NESTED)
    assert_switched(recs["grid"], NESTED, "for r in range")


UNCOMPILABLE = """
    def collect(n):
        words = []
        total = 0
        for i in range(n):
            total += i % 5
            if i % 100000 == 0:
                words.append("w%d" % i)
        print(total, words[:3], len(words))
        print("done")

    collect(2_000_000)
"""


@pytest.mark.usefixtures("real_native")
def test_loop_that_cannot_compile_stays_in_the_interpreter(run_script, tmp_path):
    """The running loop builds a list of strings: it does not switch, runs on in the
    interpreter with the same results, and the report says why."""
    out, recs = both(run_script, tmp_path, UNCOMPILABLE)
    rec = recs["collect"]
    assert not any(loop["switched"] for loop in switched(rec).values())
    assert "could not switch to native code" in rec["reason"], rec["reason"]


TWO_PHASES = """
    import math
    import random

    random.seed(1)
    inside = 0
    N = 1_500_000
    for _ in range(N):
        x = random.random()
        y = random.random()
        if x * x + y * y <= 1.0:
            inside += 1
    pi = 4 * inside / N
    print(pi, math.fabs(pi - math.pi) < 0.01)

    t, v, xpos = 0.0, 1.0, 0.0
    dt = 1e-6
    steps = 0
    while t < 1.5:
        a = -xpos - 0.1 * v
        v += a * dt
        xpos += v * dt
        t += dt
        steps += 1
    print(steps, f"{xpos:.12f}", f"{v:.12f}")
"""


@pytest.mark.usefixtures("real_native")
def test_two_phases_of_a_script_switch_one_after_the_other(run_script, tmp_path):
    """A script whose module code runs two long loops, one after the other (Monte Carlo with
    the random module's own stream, then an Euler integration): each switches when it gets
    hot, with CPython's exact values."""
    out, recs = both(run_script, tmp_path, TWO_PHASES)
    rec = recs["<module>"]
    assert_switched(rec, TWO_PHASES, "for _ in range(N)")
    assert_switched(rec, TWO_PHASES, "while t < 1.5")


SHARED_GLOBAL = """
    def scaled(x):
        return x * factor

    factor = 3
    s = 0
    for i in range(1_500_000):
        s += scaled(i % 4)
        factor = 3 + i % 2
    print(s)
    print("end")
"""


@pytest.mark.usefixtures("real_native")
def test_module_loop_assigning_a_global_a_function_reads(run_script, tmp_path):
    """A module-level loop that assigns a global a function reads is not switched (the function
    would read the value from before the switch)."""
    out, recs = both(run_script, tmp_path, SHARED_GLOBAL)
    rec = recs["<module>"]
    assert not any(loop["switched"] for loop in switched(rec).values())
    assert "factor" in rec["reason"], rec["reason"]


RAISES = """
    import numpy as np

    def fill(n):
        a = np.zeros(n // 2)
        s = 0.0
        for i in range(n):
            a[i] = i * 0.5
            s += a[i]
        print(s)
        print("unreached")

    try:
        fill(3_000_000)
    except IndexError as exc:
        print("IndexError:", exc)
"""


@pytest.mark.usefixtures("real_native")
def test_exception_in_the_switched_rest(run_script, tmp_path):
    """The compiled rest raises (an index past the end): the caller catches NumPy's IndexError,
    with the same message, after the same output."""
    out, recs = both(run_script, tmp_path, RAISES)
    assert "IndexError: index 1500000 is out of bounds" in out.stdout


UNBOUND_AFTER = """
    import sys

    def f(n, flag):
        s = 0
        for i in range(n):
            s += i % 9
        if flag:
            y = s
        try:
            print(s, y)
        except UnboundLocalError as exc:
            print(s, "unbound:", exc)

    f(3_000_000, len(sys.argv) > 5)
"""


@pytest.mark.usefixtures("real_native")
def test_variable_unbound_after_the_loop(run_script, tmp_path):
    """``y`` is unbound while the loop runs and may be read after it before it is assigned:
    CPython 3.12+ would bind it to None at the jump, so the loop does not switch there (it
    does on 3.10 and 3.11); the UnboundLocalError is the interpreter's either way."""
    out, recs = both(run_script, tmp_path, UNBOUND_AFTER)
    assert "unbound:" in out.stdout
    rec = recs["f"]
    if sys.version_info >= (3, 12):
        assert "binds it to None" in rec["reason"], rec["reason"]
    else:
        assert_switched(rec, UNBOUND_AFTER, "for i in range(n)")


OSR_OFF = MAIN_ONCE


@pytest.mark.usefixtures("real_native")
def test_heron_osr_off(run_script, tmp_path):
    """``HERON_OSR=0`` turns the switch off: the loop finishes in the interpreter."""
    out, recs = both(run_script, tmp_path, OSR_OFF, env={"HERON_OSR": "0"})
    assert not switched(recs["main"])


def test_candidates_and_back_edges():
    """The static part: which loops around a line may switch, and which ``for`` loops can be
    switched at a back-edge (their range read again)."""
    import ast
    from heron import _osr

    source = textwrap.dedent("""
        def f(n, a):
            s = 0
            for i in range(n):
                for j in range(len(a)):
                    s += a[j]
                s += 1
            k = 0
            while k < n:
                k += 1
            for m in range(n):
                m = m + 1
            try:
                for q in range(n):
                    s += q
            except ValueError:
                pass
            for i in range(n - s):
                s += 1
            for last in range(n):
                s += 1
        """)
    tree = ast.parse(source)
    code = compile(source, "<test>", "exec").co_consts[0]
    node = tree.body[0]

    def lines(line):
        found, why = _osr._candidates(node, line, code, False, {})
        return [c.line for c in found], [c.back_edge for c in found], why

    assert lines(6) == ([4, 5], [True, True], None)       # s += a[j]: both loops
    assert lines(7) == ([4], [True], None)
    assert lines(10)[0] == [9]
    assert lines(12) == ([11], [False], None)    # the body assigns m: no back-edge switch
    assert lines(15)[0] == [] and "try" in lines(15)[2]
    assert lines(19) == ([18], [False], None)    # range(n - s): the loop assigns s
    assert lines(21)[0] == [] and "no statement follows" in lines(21)[2]
