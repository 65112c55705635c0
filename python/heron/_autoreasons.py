"""Why a hot function of profiling mode (``heron._auto``) cannot be compiled, in plain words
with file:line: decided in Python from its arguments and byte code where possible, so that a
function of strings or lists never loads the native extension; and the compiler's own reason
otherwise."""

import sys

from heron import _report

_PY312 = sys.version_info >= (3, 12)
_INT64 = (-(1 << 63), 1 << 63)
_FunctionType = type(lambda: None)


def article(word):
    """``word`` with its indefinite article (``an int``, ``a str``)."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def argument_reason(w, args, kwargs):
    """Why compiled code cannot take this call's arguments (plain words), or None. Decided
    in Python, so that a function of strings or lists never loads the native extension."""
    where = w.where()
    if kwargs:
        names = ", ".join(f"{name}=" for name in kwargs)
        return (f"it is called with keyword arguments ({names}), which compiled code does not "
                f"take yet; pass them by position ({where})")
    names = w.code.co_varnames
    numpy = sys.modules.get("numpy")
    numeric = (numpy.ndarray, numpy.generic) if numpy is not None else ()
    for i, value in enumerate(args):
        kind = type(value)
        if kind is float or kind is bool:
            continue
        name = names[i] if i < w.code.co_argcount else "*args"
        if kind is int:
            if _INT64[0] <= value < _INT64[1]:
                continue
            return (f"it is called with an integer argument ({name}) that does not fit in 64 "
                    f"bits ({where})")
        if numeric and isinstance(value, numeric):
            continue
        return (f"it is called with {article(kind.__name__)} argument ({name}); compiled code "
                f"takes ints, floats, bools, and NumPy scalars and arrays ({where})")
    return None


# Methods of str that neither NumPy arrays nor numbers have: a function that calls one works
# on text, and compiled code runs no text methods (``"...".format`` in a print does compile,
# so ``format`` is not here). Found in the byte code, so that such a function is decided
# without loading the native extension and parsing its module (10-30 ms, once).
TEXT_METHODS = frozenset(
    "join split rsplit splitlines strip lstrip rstrip lower upper casefold capitalize title "
    "swapcase startswith endswith removeprefix removesuffix replace encode decode "
    "partition rpartition isdigit isalpha isalnum isspace isnumeric isdecimal isidentifier "
    "islower isupper istitle zfill ljust rjust center expandtabs translate maketrans".split())


def text_reason(w):
    """Why ``w`` is text code (it calls a str method, found in its byte code), or None."""
    try:
        method, line = text_method(w.code)
    except Exception:
        return None
    if method is None:
        return None
    return (f"it calls .{method}(), a method of strings; compiled code works on numbers and "
            f"arrays ({w.where(line)})")


def callee_reason(w, namespace):
    """Why ``w`` cannot compile because it calls a plain Python function (one Heron did not
    compile: compiled code calls only compiled functions), or None."""
    try:
        name, line = plain_global(w.code, namespace)
    except Exception:
        return None
    if name is None:
        return None
    return (f"it calls {name}(), a plain Python function: compiled code calls only compiled "
            f"functions, and {name} was not compiled ({w.where(line)})")


def plain_global(code, namespace):
    """``(name, line)`` of the first global ``code`` loads that holds a plain Python function
    (not Heron's dispatcher), or ``(None, None)``."""
    import opcode
    load = opcode.opmap["LOAD_GLOBAL"]
    extended = opcode.EXTENDED_ARG
    names = code.co_names
    raw = code.co_code
    arg = 0
    for i in range(0, len(raw), 2):
        op, value = raw[i], raw[i + 1] | arg
        if op == extended:
            arg = value << 8
            continue
        arg = 0
        if op == load:
            index = value >> 1 if sys.version_info >= (3, 11) else value
            value = namespace.get(names[index]) if index < len(names) else None
            if type(value) is _FunctionType and names[index] != code.co_name:   # not itself
                return names[index], line_at(code, i)
    return None, None


def text_method(code):
    """``(name, line)`` of the first str method ``code`` calls (``LOAD_ATTR``/``LOAD_METHOD``
    of a name in ``TEXT_METHODS``), or ``(None, None)``."""
    names = code.co_names
    if not TEXT_METHODS.intersection(names):
        for inner in code.co_consts:      # comprehensions, generator expressions (3.10, 3.11)
            if type(inner) is type(code) and inner.co_name.startswith("<"):
                found = text_method(inner)
                if found[0] is not None:
                    return found
        return None, None
    import opcode
    ops = {opcode.opmap[n] for n in ("LOAD_ATTR", "LOAD_METHOD") if n in opcode.opmap}
    extended = opcode.EXTENDED_ARG
    raw = code.co_code
    arg = 0
    for i in range(0, len(raw), 2):
        op, value = raw[i], raw[i + 1] | arg
        if op == extended:
            arg = value << 8
            continue
        arg = 0
        if op in ops:
            index = value >> 1 if _PY312 else value    # 3.12+: the low bit says "method"
            if index < len(names) and names[index] in TEXT_METHODS:
                return names[index], line_at(code, i)
    return None, None


def line_at(code, offset):
    """The source line of the instruction at ``offset`` in ``code``, or None."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def failure_reason(w, dispatcher, failure, args):
    """The compiler's reason, in plain words with file:line."""
    try:
        failures = dispatcher.stats().get("failures") or []
    except Exception:
        failures = []
    for item in reversed(failures):
        reason = str(item.get("reason") or "")
        if reason:
            line = int(item.get("line") or 0) or w.line
            return f"{reason} ({_report.display_path(str(item.get('file') or w.filename))}:{line})"
    text = str(failure)
    if text == "argument types not supported":
        kinds = ", ".join(type(a).__name__ for a in args)
        return (f"compiled code does not take its arguments ({kinds}): an array with a dtype, "
                f"byte order or number of dimensions Heron does not compile ({w.where()})")
    line = w.line
    if text.startswith("line ") and ":" in text:
        head, _, rest = text.partition(":")
        if head[5:].strip().isdigit():
            line, text = int(head[5:]), rest.strip()
    return f"{text} ({w.where(line)})"
