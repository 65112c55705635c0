"""Marker parsing: ``heron._markers.find_markers`` (in-process, no subprocess)."""

import textwrap

import pytest

from heron._markers import Marker, describe_kind, find_markers


def markers(source):
    return find_markers(textwrap.dedent(source), "mod.py")


def only(source):
    found = markers(source)
    assert len(found) == 1, found
    return found[0]


def test_no_marker_is_cheap_and_empty():
    assert find_markers("def f(): pass\n", "m.py") == []
    # No parse happens without a hit: invalid source without a marker is fine.
    assert find_markers("def f(:\n", "m.py") == []


def test_own_line_above_def():
    m = only("""
        import math

        # heron: jit
        def f(x):
            return x
    """)
    assert (m.name, m.qualname, m.kind, m.lineno, m.first_lineno) == ("f", "f", "function", 5, 5)
    assert m.options == frozenset()
    assert m.marker_lineno == 4


def test_trailing_on_def_line():
    m = only("""
        def g(x, y):  # heron: jit
            return x + y
    """)
    assert (m.name, m.kind, m.lineno) == ("g", "function", 2)


def test_trailing_on_multiline_header():
    m = only("""
        def g(
            x,
            y,
        ):  # heron: jit
            return x + y
    """)
    assert (m.name, m.kind, m.lineno) == ("g", "function", 2)


def test_above_decorators_and_comment_lines_between():
    m = only("""
        import functools
        # heron: jit
        # a note about f
        @functools.lru_cache
        @staticmethod
        def f(x):
            return x
    """)
    assert (m.name, m.kind, m.lineno, m.first_lineno) == ("f", "function", 7, 5)


def test_options():
    m = only("""
        # heron: jit, parallel
        def f(a):
            return a
    """)
    assert m.options == frozenset({"parallel"})
    assert m.kind == "function"
    m = only("""
        def f(a):  #heron:jit,parallel   # and a note
            return a
    """)
    assert m.options == frozenset({"parallel"})


def test_unknown_option_and_directive():
    m = only("""
        # heron: jit, parallel, fastmath
        def f(a):
            return a
    """)
    assert m.kind == "unknown option 'fastmath'"
    assert "fastmath" in describe_kind(m.kind)
    m = only("""
        # heron: jti
        def f(a):
            return a
    """)
    assert m.kind == "unknown directive 'jti'"
    m = only("""
        def f(a):  # heron: jit (the hot loop)
            return a
    """)
    assert m.kind == "unknown directive 'jit (the hot loop)'"


def test_blank_line_between_is_not_attached():
    m = only("""
        # heron: jit

        def f(a):
            return a
    """)
    assert m.kind == "not above a function"
    assert m.name == ""


def test_markers_inside_strings_and_docstrings_do_not_count():
    assert markers('''
        """Module docstring.

        # heron: jit
        """
        def f(x):
            """Docstring mentioning
            # heron: jit
            """
            s = "# heron: jit"
            t = f"{x} # heron: jit"
            b = b"# heron: jit"
            return s + '#' + '# heron: jit'
        # heron: jit
    ''') == [Marker("", "<marker at line 14>", 14, (), "not above a function")]


def test_string_then_real_comment_on_same_line():
    m = only("""
        def f(x="#"):  # heron: jit
            return x
    """)
    assert (m.name, m.kind) == ("f", "function")


def test_refused_kinds():
    found = markers("""
        class K:
            # heron: jit
            def method(self):
                pass

        def outer():
            def inner():  # heron: jit
                pass
            return inner

        # heron: jit
        def gen():
            yield 1

        async def coro():  # heron: jit
            pass

        square = lambda x: x * x  # heron: jit

        # heron: jit
        class C:
            pass

        # heron: jit
        def gen_in_nested_only():
            def g():
                yield 1
            return g
    """)
    kinds = {m.qualname: m.kind for m in found}
    assert kinds == {
        "K.method": "method",
        "outer.<locals>.inner": "nested function",
        "gen": "generator",
        "coro": "async function",
        "square": "lambda",
        "C": "class",
        "gen_in_nested_only": "function",
    }
    for m in found:
        if m.kind != "function":
            assert describe_kind(m.kind)  # a plain-words reason exists


def test_module_level_blocks_still_count_as_top_level():
    found = markers("""
        import sys
        if sys.platform:
            # heron: jit
            def f(x):
                return x
        try:
            def g(x):  # heron: jit
                return x
        except ImportError:
            pass
    """)
    assert [(m.name, m.kind) for m in found] == [("f", "function"), ("g", "function")]


def test_two_markers_on_one_def_merge():
    m = only("""
        # heron: jit
        # heron: jit, parallel
        def f(x):  # heron: jit
            return x
    """)
    assert (m.kind, m.options, m.marker_lineno) == ("function", frozenset({"parallel"}), 2)


def test_auto_is_recognised():
    found = markers("""
        # heron: auto
        import math
        def f(x):
            return x
    """)
    assert [(m.kind, m.qualname) for m in found] == [("auto", "<module>")]


def test_non_ascii_source_columns():
    m = only("""
        s = "héron ü#"; t = "# heron: jit"
        def é(x):  # heron: jit
            return "ü#ü"
    """)
    assert (m.name, m.kind) == ("é", "function")


def test_syntax_error_with_marker_raises():
    with pytest.raises(SyntaxError):
        find_markers("# heron: jit\ndef f(:\n", "bad.py")
