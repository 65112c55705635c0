"""The candidate registry and report formats, and the ``heron.jit`` decorator (in-process,
against a stand-in ``heron._native``), plus the exit report of real scripts."""

import json
import sys
import types
import warnings

import pytest

import heron
from heron import _hook, _report, _runs


class FakeDispatcher:
    """Stand-in for heron._native.Dispatcher with settable stats."""

    next_stats = None

    def __init__(self, fn, options):
        self.__wrapped__ = fn
        self.options = options
        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(self, attr, getattr(fn, attr))
        self._stats = FakeDispatcher.next_stats or {
            "calls": 0, "native_calls": 0, "fallback_calls": 0, "signatures": [],
            "compile_time_s": 0.0, "native_time_s": 0.0, "failures": []}

    def __call__(self, *args):
        return self.__wrapped__(*args)

    def __reduce__(self):
        return self.__qualname__

    def stats(self):
        return dict(self._stats)


@pytest.fixture
def fake_native(monkeypatch):
    module = types.ModuleType("heron._native")
    module.Dispatcher = FakeDispatcher
    monkeypatch.setitem(sys.modules, "heron._native", module)
    monkeypatch.setattr(_hook, "_native_failure", None)
    monkeypatch.setattr(FakeDispatcher, "next_stats", None)
    _report.clear()
    yield module
    _report.clear()


@pytest.fixture
def no_native(monkeypatch):
    monkeypatch.setitem(sys.modules, "heron._native", None)  # import raises ImportError
    monkeypatch.setattr(_hook, "_native_failure", None)
    _report.clear()
    yield
    _report.clear()


def plain(x):
    """Docstring of plain."""
    return x + 1


def test_jit_decorator_forms(fake_native):
    d = heron.jit(plain)
    assert isinstance(d, FakeDispatcher)
    assert d.options == {"parallel": False, "nogil": False}
    assert (d.__name__, d.__qualname__, d.__doc__, d.__wrapped__) == (
        "plain", "plain", "Docstring of plain.", plain)
    assert d(1) == 2
    d2 = heron.jit(parallel=True)(plain)
    assert d2.options == {"parallel": True, "nogil": False}
    assert heron.jit(d) is d  # already a dispatcher
    recs = heron.report()
    assert [(r["qualname"], r["status"], r["options"]) for r in recs] == [
        ("plain", "replaced", ["parallel"])]  # one record per function (same file and line)


def test_jit_is_off_with_heron_disable(fake_native, monkeypatch):
    monkeypatch.setenv("HERON_DISABLE", "1")
    assert heron.jit(plain) is plain
    assert heron.jit(parallel=True)(plain) is plain
    assert heron.report() == []


def test_jit_refuses_non_functions(fake_native):
    with pytest.raises(TypeError):
        heron.jit(len)
    with pytest.raises(TypeError):
        heron.jit(int)


def test_jit_leaves_methods_and_generators_alone(fake_native):
    class K:
        def m(self):
            return 1

    def gen():
        yield 1

    async def coro():
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert heron.jit(K.m) is K.m
        assert heron.jit(gen) is gen
        assert heron.jit(coro) is coro
    assert len(caught) == 3
    assert all(issubclass(w.category, heron.HeronWarning) for w in caught)
    reasons = [r["reason"] for r in heron.report()]
    assert any("method" in r for r in reasons)
    assert any("generator" in r for r in reasons)
    assert any("async" in r for r in reasons)
    assert all("test_report.py:" in r for r in reasons)


def test_jit_without_native_warns_once_and_returns_the_function(no_native):
    def f(x):
        return x

    def g(x):
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert heron.jit(f) is f
        assert heron.jit(g) is g
    assert len(caught) == 1
    assert "native extension" in str(caught[0].message)
    recs = heron.report()
    assert [r["status"] for r in recs] == ["python", "python"]
    assert all("native extension could not be loaded" in r["reason"] for r in recs)


def test_record_schema_and_failed_compile_is_python(fake_native):
    FakeDispatcher.next_stats = {
        "calls": 3, "native_calls": 0, "fallback_calls": 3, "signatures": [],
        "compile_time_s": 0.002, "native_time_s": 0.0,
        "failures": [{"signature": "(str)", "reason": "cannot compile string ops",
                      "file": __file__, "line": 7}]}
    heron.jit(plain)
    (rec,) = heron.report()
    assert list(rec) == list(_report.FIELDS)
    assert rec["status"] == "python"
    assert "cannot compile string ops" in rec["reason"] and "test_report.py:7" in rec["reason"]
    assert rec["calls"] == 3 and rec["fallback_calls"] == 3
    json.dumps(rec)  # serialisable


def test_partial_failure_stays_replaced(fake_native):
    FakeDispatcher.next_stats = {
        "calls": 5, "native_calls": 4, "fallback_calls": 1, "signatures": ["(int64)"],
        "compile_time_s": 0.002, "native_time_s": 0.01,
        "failures": [{"signature": "(str)", "reason": "strings are not supported",
                      "file": __file__, "line": 9}]}
    heron.jit(plain)
    (rec,) = heron.report()
    assert rec["status"] == "replaced"
    table = _report.format_table([rec])
    assert "compiled to native code for (int64)" in table
    assert "1 call(s) ran as plain Python because: strings are not supported" in table


def test_table_and_html_formats(fake_native):
    FakeDispatcher.next_stats = {
        "calls": 10, "native_calls": 10, "fallback_calls": 0,
        "signatures": ["(array(float64, 1d, C))"], "compile_time_s": 0.0123,
        "native_time_s": 0.5, "failures": []}
    heron.jit(plain)
    _report.add("m", "K.<locals>.m", "/x/m.py", 3, [], "python", "it is a <method> (m.py:2)")
    recs = heron.report()
    table = _report.format_table(recs)
    assert "1 of 2 marked function(s) compiled to native code" in table
    assert "12.3 ms" in table and "500.0 ms" in table
    assert "ran as plain Python because: it is a <method> (m.py:2)" in table
    page = _report.format_html(recs)
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "K.&lt;locals&gt;.m" in page and "&lt;method&gt;" in page
    assert "<method>" not in page


def test_write_report_destinations(fake_native, tmp_path, capsys):
    heron.jit(plain)
    _report.write_report("1")
    assert "Heron report" in capsys.readouterr().err
    _report.write_report("0")
    assert capsys.readouterr().err == ""
    _report.write_report(str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())[0]["qualname"] == "plain"
    _report.write_report(str(tmp_path / "r.html"))
    assert "<table>" in (tmp_path / "r.html").read_text()
    _report.write_report(str(tmp_path / "r.txt"))
    assert "Heron report" in (tmp_path / "r.txt").read_text()


# -- the exit report of a real script ----------------------------------------------------------

SCRIPT = """
    import os
    # heron: jit
    def add(a, b):
        return a + b

    class K:
        def m(self):  # heron: jit
            return 1

    def unknown(x):  # heron: jit, fastmath
        return x

    print(add(1, 2), add(3, 4))
"""


def test_exit_report_on_stderr(run_script, tmp_path):
    out = run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "3 7\n"
    err = out.stderr
    assert "Heron report: 1 of 3 marked function(s) compiled to native code." in err
    assert "add: compiled to native code for (int64)." in err
    assert "K.m: ran as plain Python because: it is a method of a class" in err
    assert "(script.py:8)" in err
    assert "unknown: ran as plain Python because: the marker has an unknown option 'fastmath'" in err
    assert "HeronWarning" in err  # the bad option is also warned about


def test_exit_report_json(run_script, tmp_path):
    out = run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    recs = json.loads((tmp_path / "out.json").read_text())
    assert [r["qualname"] for r in recs] == ["add", "K.m", "unknown"]
    for rec in recs:
        assert list(rec) == list(_report.FIELDS)
        assert rec["module"] == "__main__"
        assert rec["file"].endswith("script.py")
        assert isinstance(rec["line"], int)
        assert rec["status"] in ("replaced", "python")
        assert isinstance(rec["signatures"], list) and isinstance(rec["failures"], list)
        assert isinstance(rec["compile_time_s"], float)
        assert isinstance(rec["native_time_s"], float)
        for key in ("calls", "native_calls", "fallback_calls"):
            assert isinstance(rec[key], int)
    add, method, unknown = recs
    assert (add["status"], add["reason"], add["calls"], add["line"]) == ("replaced", None, 2, 4)
    assert method["status"] == "python" and "script.py:8" in method["reason"]
    assert unknown["status"] == "python" and "fastmath" in unknown["reason"]



def test_report_cli_prints_a_saved_report(run_script, run_cmd, tmp_path):
    assert run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "out.json"}).returncode == 0
    cli = run_cmd(tmp_path, ["-m", "heron", "report", "out.json"])
    assert cli.returncode == 0, cli.stderr
    assert "Heron report: 1 of 3" in cli.stdout
    assert "add: compiled to native code for (int64)." in cli.stdout
    bad = run_cmd(tmp_path, ["-m", "heron", "report", "missing.json"])
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    # With HERON_REPORT still set, reading the report does not write over it.
    saved = (tmp_path / "out.json").read_text()
    cli = run_cmd(tmp_path, ["-m", "heron", "report", "out.json"],
                  env={"HERON_REPORT": "out.json"})
    assert cli.returncode == 0 and "Heron report: 1 of 3" in cli.stdout, cli.stderr
    assert (tmp_path / "out.json").read_text() == saved


def test_exit_report_html(run_script, tmp_path):
    out = run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "out.html"})
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "out.html").read_text()
    assert "<table>" in page and "add" in page and "K.m" in page


def test_all_signatures_failing_shows_python(run_script, tmp_path):
    out = run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "out.json", "HERON_FAKE_FAIL": "1"})
    assert out.returncode == 0, out.stderr
    add = json.loads((tmp_path / "out.json").read_text())[0]
    assert add["status"] == "python"
    assert "cannot compile <str> & co (script.py:5)" in add["reason"]


def test_report_when_nothing_marked(run_script, tmp_path):
    out = run_script(tmp_path, "print('hi')\n", env={"HERON_REPORT": "1"})
    assert out.returncode == 0
    assert "no function was marked" in out.stderr


def test_script_failing_before_def_still_reports(run_script, tmp_path):
    out = run_script(tmp_path, """
        raise SystemExit(3)
        # heron: jit
        def f(x):
            return x
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 3
    (rec,) = json.loads((tmp_path / "out.json").read_text())
    assert rec["status"] == "python" and "never ran" in rec["reason"]


def test_exit_report_with_real_native(run_script, tmp_path, real_native):
    out = run_script(tmp_path, """
        # heron: jit
        def add(a, b):
            return a + b

        def greet(name):  # heron: jit
            return "hi " + name

        print(add(1, 2), add(1.5, 2), greet("x"))
    """, native="real", env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "3 3.5 hi x\n"
    add, greet = json.loads((tmp_path / "out.json").read_text())
    assert add["status"] == "replaced" and add["native_calls"] == 2
    assert len(add["signatures"]) == 2 and add["compile_time_s"] > 0
    assert greet["status"] == "python" and greet["fallback_calls"] == 1
    assert "script.py:6" in greet["reason"]


def test_auto_marker_turns_profiling_mode_on(run_script, tmp_path):
    """``# heron: auto`` is not a candidate of its own: it has the module's functions watched
    (tests/test_auto.py); one called once never gets hot, and the report says so."""
    out = run_script(tmp_path, """
        # heron: auto
        def f(x):
            return x
        print(type(f).__name__, f(1))
    """, env={"HERON_REPORT": "out.json"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "function 1\n"
    assert out.stderr == (f"Heron report written to {tmp_path / 'out.json'} "
                          "(no function became hot)\n")
    assert json.loads((tmp_path / "out.json").read_text()) == []


# -- the report tells the truth (issue 9, item 12) ---------------------------------------------

def _row_of(table, name):
    return next(line.split() for line in table.splitlines() if line.startswith(name + " "))


def test_a_deoptimized_call_is_one_call(fake_native):
    """The native side counts a call re-run whole by the interpreter (``reruns``) as native and
    as a fallback; its ``calls`` counts it once. In the table, Native + Python = Calls."""
    FakeDispatcher.next_stats = {
        "calls": 5, "native_calls": 4, "fallback_calls": 2, "deopts": 1, "reruns": 1,
        "signatures": ["(int64)"], "compile_time_s": 0.001, "native_time_s": 0.002,
        "failures": []}
    heron.jit(plain)
    (rec,) = heron.report()
    assert rec["calls"] == rec["native_calls"] + rec["fallback_calls"] - rec["deopts"] == 5
    table = _report.format_table([rec])
    cells = _row_of(table, "plain")
    calls, native, python = int(cells[3]), int(cells[4]), int(cells[5])
    assert (calls, native, python) == (5, 3, 2) and native + python == calls
    assert "1 call(s) started in native code and finished as plain Python" in table
    assert "1 call(s) ran as plain Python" in table


def test_functions_never_called_are_not_counted_as_compiled(fake_native):
    heron.jit(plain)
    _report.add("m", "other", "/x/m.py", 3, [], "replaced")   # ready, never called
    recs = heron.report()
    table = _report.format_table(recs)
    assert table.splitlines()[0] == ("Heron report: 0 of 2 marked function(s) compiled to "
                                     "native code. 2 of them were never called.")
    assert _row_of(table, "plain")[2:4] == ["not", "called"]
    assert "plain: ready to be compiled to native code, but it was never called." in table
    assert "compiled to native code for" not in table


def test_signatures_in_plain_words():
    assert _report.plain_signature("(int, array(float64, 1d, C))") == (
        "(int, 1-D float64 array)")
    assert _report.plain_signature("(array(int8, 2d, A, readonly), numpy.float64)") == (
        "(2-D int8 array (strided, read-only), numpy.float64)")
    assert _report.plain_signature("((int, float), bool)") == "(tuple (int, float), bool)"
    assert _report.plain_signature("()") == "()"


def test_workers_records_merge_into_one(fake_native):
    _report.add("__main__", "f", "/x/s.py", 3, [], "replaced")
    _report.add("__main__", "g", "/x/s.py", 9, [], "python", "it is a generator (s.py:9)")
    mine = heron.report()
    worker = {key: 0 for key in _report.FIELDS}
    worker.update(module="__mp_main__", qualname="f", file="/x/s.py", line=3, options=[],
                  status="replaced", reason=None, signatures=["(int64)"], failures=[],
                  frozen_globals=[], calls=7, native_calls=7, compile_time_s=0.5,
                  native_time_s=0.25)
    other = dict(worker, qualname="h", line=20, calls=2, native_calls=2)
    merged = _runs.merge(mine, [worker, other, {"not": "a record"}])
    by_name = {r["qualname"]: r for r in merged}
    assert set(by_name) == {"f", "g", "h"}
    assert all(r["module"] == "__main__" for r in merged)
    assert (by_name["f"]["calls"], by_name["f"]["signatures"]) == (7, ["(int64)"])
    assert by_name["g"]["status"] == "python"
    assert [r["line"] for r in merged] == [3, 9, 20]


def test_writing_a_file_says_where_it_went(fake_native, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    heron.jit(plain)
    assert _report.write_report("r.json") == str(tmp_path / "r.json")
    assert capsys.readouterr().err == (
        f"Heron report written to {tmp_path / 'r.json'} (0 of 1 marked function(s) compiled "
        "to native code)\n")
    assert _report.write_report("1") is None
    assert "Written" not in capsys.readouterr().err
