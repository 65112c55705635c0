"""Find ``# heron: ...`` marker comments in Python source.

A marker is a real comment (never text inside a string or docstring) of the form
``# heron: DIRECTIVE[, OPTION, ...]``. The ``jit`` directive marks a function:

* on its own line directly above a ``def`` (above its decorators too); only other comment
  lines may stand between the marker and the function, not blank lines or code;
* or at the end of the ``def`` line (any line of a ``def`` header that spans several lines).

``# heron: auto`` (anywhere in a module, usually at its top) turns profiling mode on for the
module (see ``heron._auto``): every function of the module is watched, and the hot ones are
compiled.

Only functions defined at module level (possibly inside a module-level ``if``/``try``/``with``)
can be compiled. Every other marked thing is still returned, with the reason it is refused in
``Marker.kind``.
"""

import ast
import re
import sys
from _thread import allocate_lock

__all__ = ["Marker", "find_markers", "KNOWN_OPTIONS", "describe_kind"]

#: Options understood after ``# heron: jit``.
KNOWN_OPTIONS = frozenset({"parallel", "nogil"})

# `# heron: jit, parallel` -> directive "jit", rest "parallel". Anything else after `heron:`
# is still a marker (with an unknown directive), so that a typo is reported, not ignored.
_COMMENT_RE = re.compile(r"#\s*heron:([^,]*)(?:,(.*))?$")

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class Marker:
    """One ``# heron:`` marker and the thing it is attached to.

    Attributes:
        name: the function's name ("" when the marker is not attached to a function).
        qualname: the function's qualified name, as Python computes ``__qualname__``
            (``"<module>"`` for ``auto``, ``"<marker at line N>"`` when unattached).
        lineno: line of the ``def`` keyword (the marker's line when unattached).
        options: frozenset of the option names written after the directive.
        kind: ``"function"`` when the function can be compiled, ``"auto"`` for a module-level
            ``# heron: auto``, and otherwise a short reason: ``"method"``,
            ``"nested function"``, ``"generator"``, ``"async function"``, ``"lambda"``,
            ``"class"``, ``"not above a function"``, ``"unknown option 'x'"``,
            ``"unknown directive 'x'"``.
        first_lineno: first line of the definition, its first decorator if any; this is what
            ``fn.__code__.co_firstlineno`` holds.
        marker_lineno: line of the marker comment.
    """

    __slots__ = ("name", "qualname", "lineno", "options", "kind", "first_lineno", "marker_lineno")

    def __init__(self, name, qualname, lineno, options, kind, first_lineno=None,
                 marker_lineno=None):
        self.name = name
        self.qualname = qualname
        self.lineno = lineno
        self.options = frozenset(options)
        self.kind = kind
        self.first_lineno = lineno if first_lineno is None else first_lineno
        self.marker_lineno = lineno if marker_lineno is None else marker_lineno

    def __repr__(self):
        return (f"Marker(name={self.name!r}, qualname={self.qualname!r}, lineno={self.lineno}, "
                f"options={sorted(self.options)!r}, kind={self.kind!r})")

    def __eq__(self, other):
        if not isinstance(other, Marker):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    __hash__ = None


def describe_kind(kind):
    """Say in plain words why a marked function is not compiled.

    Args:
        kind: a ``Marker.kind`` other than ``"function"``.

    Returns:
        A short sentence for reports and warnings.
    """
    plain = {
        "method": "it is a method of a class; only functions defined at module level "
                  "can be compiled",
        "nested function": "it is defined inside another function; only functions defined "
                           "at module level can be compiled",
        "generator": "it is a generator (it uses yield), which Heron cannot compile",
        "async function": "it is an async function, which Heron cannot compile",
        "lambda": "it is a lambda; write it as a def at module level to compile it",
        "class": "the marker is on a class; mark the functions instead",
        "not above a function": "the marker comment is not directly above a def "
                                "(only comment lines may stand between them)",
    }
    if kind in plain:
        return plain[kind]
    if kind.startswith("unknown option"):
        return (f"the marker has an {kind}; known options: "
                + ", ".join(sorted(KNOWN_OPTIONS)))
    if kind.startswith("unknown directive"):
        return f"the marker has an {kind}; write '# heron: jit'"
    return kind


def find_markers(source, filename="<unknown>"):
    """Find every ``# heron:`` marker comment in ``source``.

    Args:
        source: the module's source text (``str``).
        filename: used in the ``SyntaxError`` raised for source that does not parse.

    Returns:
        A list of ``Marker``, in source order, at most one per marked definition (options of
        several markers above the same ``def`` are merged).

    Raises:
        SyntaxError: if ``source`` contains a marker-like comment and does not parse.
    """
    if "heron:" not in source:
        return []
    lines = _source_lines(source)
    hits = [i + 1 for i, line in enumerate(lines) if "heron:" in line and "#" in line]
    if not hits:
        return []
    tree = _parse_quietly(source, filename)
    info = _TreeInfo(tree, set(hits))

    comments = []  # (lineno, own_line, directive, options)
    for lineno in hits:
        found = _real_comment(lines[lineno - 1], info.string_spans.get(lineno, ()))
        if found is not None:
            comments.append((lineno,) + found)

    by_node = {}   # id(node) -> Marker, to merge several markers on one definition
    markers = []
    for lineno, own_line, directive, options in comments:
        if directive == "auto":
            markers.append(Marker("", "<module>", lineno, options, "auto"))
            continue
        node = info.node_below(lineno, lines) if own_line else info.node_on_header(lineno)
        marker = _classify(node, lineno, directive, options, info)
        key = id(node) if node is not None else None
        if key is not None and key in by_node:
            old = by_node[key]
            merged = old.options | marker.options
            if old.kind == "function" and marker.kind != "function":
                old.kind = marker.kind
            old.options = merged
            old.marker_lineno = min(old.marker_lineno, lineno)
            continue
        if key is not None:
            by_node[key] = marker
        markers.append(marker)
    markers.sort(key=lambda m: (m.lineno, m.marker_lineno))
    return markers


def _source_lines(source):
    """The lines of ``source`` as the tokenizer counts them.

    ``str.splitlines`` also ends a line at a form feed, a vertical tab, ``\\x1c``-``\\x1e``,
    ``\\x85``, ``\\u2028`` and ``\\u2029``, which Python's tokenizer does not: line numbers
    after one of those would not match the AST's.
    """
    return source.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_quiet_lock = allocate_lock()


def _ignore_warning(message):
    pass


def _parse_quietly(source, filename):
    """``ast.parse`` without printing the compiler's warnings (``SyntaxWarning`` for an
    invalid escape, ...) a second time: the interpreter prints them when it compiles the
    module itself, or did when it wrote the cached byte code.

    ``warnings.catch_warnings`` is not used: it would reset the "already shown" registries of
    every module, and warnings the program had seen once would be shown again. Replacing the
    function that shows a warning for the duration of the parse leaves them alone. A warning
    filter of ``error`` still raises (as a ``SyntaxError``).
    """
    # The compiler shows a warning through the warnings module only once that is imported
    # (before, it prints it itself): import it, so that its display can be silenced.
    import warnings
    if not hasattr(warnings, "_showwarnmsg"):
        return ast.parse(source, filename)
    with _quiet_lock:
        saved = warnings._showwarnmsg
        warnings._showwarnmsg = _ignore_warning
        try:
            return ast.parse(source, filename)
        finally:
            warnings._showwarnmsg = saved


def _real_comment(line, spans):
    """Return (own_line, directive, options) if ``line`` has a real heron comment, else None.

    ``spans`` are the byte ranges of this line covered by string literals; a ``#`` inside one
    does not start a comment. AST column offsets count UTF-8 bytes, hence the encoding.
    """
    data = line.encode("utf-8")
    pos = data.find(b"#")
    while pos != -1:
        if not any(start <= pos < end for start, end in spans):
            break
        pos = data.find(b"#", pos + 1)
    if pos == -1:
        return None
    text = data[pos:].decode("utf-8", "replace")
    text = ("#" + text[1:].split("#", 1)[0]).rstrip()  # `# heron: jit  # note` is fine
    match = _COMMENT_RE.match(text)
    if match is None:
        return None
    directive = " ".join((match.group(1) or "").split()).lower()
    options = frozenset(
        opt.strip().lower() for opt in (match.group(2) or "").split(",") if opt.strip()
    )
    own_line = not data[:pos].strip()
    return own_line, directive, options


def _classify(node, lineno, directive, options, info):
    """Build the Marker for a marker comment at ``lineno`` attached to ``node`` (or None)."""
    if node is None or not isinstance(node, (_FUNCTIONS + (ast.ClassDef,))):
        kind = "lambda" if node is not None and _is_lambda_binding(node) else \
            "not above a function"
        name = _lambda_name(node) if kind == "lambda" else ""
        qualname = name or f"<marker at line {lineno}>"
        line = node.lineno if node is not None and kind == "lambda" else lineno
        return Marker(name, qualname, line, options, kind, line, lineno)

    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    qualname = info.qualnames.get(id(node), node.name)
    if directive != "jit":
        kind = f"unknown directive '{directive or '(none)'}'"
    elif options - KNOWN_OPTIONS:
        kind = f"unknown option '{sorted(options - KNOWN_OPTIONS)[0]}'"
    elif isinstance(node, ast.ClassDef):
        kind = "class"
    else:
        scope = info.enclosing_scope.get(id(node))
        if isinstance(scope, ast.ClassDef):
            kind = "method"
        elif scope is not None:
            kind = "nested function"
        elif isinstance(node, ast.AsyncFunctionDef):
            kind = "async function"
        elif _is_generator(node):
            kind = "generator"
        else:
            kind = "function"
    return Marker(node.name, qualname, node.lineno, options, kind, first, lineno)


def _is_lambda_binding(node):
    value = getattr(node, "value", None)
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Lambda)


def _lambda_name(node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return targets[0].id if targets and isinstance(targets[0], ast.Name) else ""


def _is_generator(func):
    """True if ``func``'s own body (not nested scopes) contains ``yield``."""
    stack = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class _TreeInfo:
    """What the marker search needs to know about the AST, gathered in one walk."""

    def __init__(self, tree, hit_lines):
        self.string_spans = {}      # lineno -> [(start_byte, end_byte)] for hit lines only
        self.stmt_at_line = {}      # first line of a statement (decorators included) -> stmt
        self.headers = []           # (first_line, last_header_line, node) for defs and classes
        self.enclosing_scope = {}   # id(def) -> nearest enclosing def/class/lambda, or None
        self.qualnames = {}         # id(def or class) -> __qualname__
        self._hit_lines = hit_lines
        self._walk(tree, None, "")

    def _walk(self, node, scope, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                first = child.lineno
                if isinstance(child, (_FUNCTIONS + (ast.ClassDef,))):
                    if child.decorator_list:
                        first = child.decorator_list[0].lineno
                    body_line = child.body[0].lineno if child.body else child.lineno
                    header_end = max(child.lineno, body_line - 1)
                    self.headers.append((child.lineno, header_end, child))
                self.stmt_at_line.setdefault(first, child)
            if isinstance(child, (ast.Constant, ast.JoinedStr)):
                self._add_string(child)
                if isinstance(child, ast.JoinedStr):
                    continue  # inner positions are unreliable before 3.12, and not needed
            if isinstance(child, _SCOPES):
                if not isinstance(child, ast.Lambda):
                    self.enclosing_scope[id(child)] = scope
                    qualname = prefix + child.name
                    self.qualnames[id(child)] = qualname
                    inner = qualname + ("." if isinstance(child, ast.ClassDef) else ".<locals>.")
                else:
                    inner = prefix + "<lambda>.<locals>."
                self._walk(child, child, inner)
            else:
                self._walk(child, scope, prefix)

    def _add_string(self, node):
        if isinstance(node, ast.Constant) and not isinstance(node.value, (str, bytes)):
            return
        end_line = node.end_lineno or node.lineno
        for lineno in range(node.lineno, end_line + 1):
            if lineno not in self._hit_lines:
                continue
            start = node.col_offset if lineno == node.lineno else 0
            end = node.end_col_offset if lineno == end_line else 1 << 60
            self.string_spans.setdefault(lineno, []).append((start, end))

    def node_below(self, lineno, lines):
        """The statement that an own-line marker at ``lineno`` sits directly above, or None."""
        nxt = lineno + 1
        while nxt <= len(lines) and lines[nxt - 1].lstrip().startswith("#"):
            nxt += 1
        return self.stmt_at_line.get(nxt)

    def node_on_header(self, lineno):
        """The def or class whose header (``def`` line to the line before its body) holds
        ``lineno``, or the statement starting on that line (for ``f = lambda ...``)."""
        for start, end, node in self.headers:
            if start <= lineno <= end:
                best = node  # the innermost one wins: headers are listed outer first
                for start2, end2, node2 in self.headers:
                    if start2 <= lineno <= end2 and start2 >= start:
                        best = node2
                return best
        return self.stmt_at_line.get(lineno)
