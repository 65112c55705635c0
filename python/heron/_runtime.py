"""Runtime support for native code: exceptions raised by compiled functions.

Native code reports an error as a code and a few integers; the dispatcher asks this module for
the exception. Messages come from CPython itself (the failing operation is performed here), so
they match the running interpreter's wording on every version; NumPy's come from NumPy.
"""
import builtins
import math
import types

_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64"]


def _caught(thunk):
    try:
        thunk()
    except BaseException as exc:  # noqa: BLE001 - we want the exception object itself
        return exc
    return RuntimeError("heron: expected an exception")


def _store_out_of_bounds(value, dtype_index):
    import numpy as np

    def store():
        a = np.zeros(1, dtype=_DTYPES[dtype_index])
        a[0] = value
    return _caught(store)


_OPS = {
    "int_floordiv_zero": lambda a: _caught(lambda: 1 // 0),
    "int_mod_zero": lambda a: _caught(lambda: 1 % 0),
    "int_truediv_zero": lambda a: _caught(lambda: 1 / 0),
    "float_div_zero": lambda a: _caught(lambda: 1.0 / 0.0),
    "complex_div_zero": lambda a: _caught(lambda: 1j / 0j),
    "complex_pow_zero": lambda a: _caught(lambda: 0j ** -1),
    "complex_pow_overflow": lambda a: _caught(lambda: (1e200 + 1j) ** 2),
    "complex_abs_overflow": lambda a: _caught(lambda: abs(complex(1e308, 1e308))),
    "float_floordiv_zero": lambda a: _caught(lambda: 1.0 // 0.0),
    "float_mod_zero": lambda a: _caught(lambda: 1.0 % 0.0),
    "math_domain": lambda a: _caught(lambda: math.sqrt(-1.0)),
    "math_range": lambda a: _caught(lambda: math.exp(1000.0)),
    "int_from_nan": lambda a: _caught(lambda: int(float("nan"))),
    "int_from_inf": lambda a: _caught(lambda: int(float("inf"))),
    "pow_zero_neg": lambda a: _caught(lambda: 0.0 ** -1.0),
    "pow_overflow": lambda a: _caught(lambda: 10.0 ** 400.0),
    "index_out_of_bounds": lambda a: IndexError(
        f"index {a[0]} is out of bounds for axis {a[1]} with size {a[2]}"),
    "negative_shift": lambda a: _caught(lambda: 1 << -1),
    "range_step_zero": lambda a: _caught(lambda: range(0, 1, 0)),
    "int_store_out_of_bounds": lambda a: _store_out_of_bounds(a[0], a[1]),
    "float_divmod_zero": lambda a: _caught(lambda: divmod(1.0, 0.0)),
    "round_overflow": lambda a: _caught(lambda: round(1.7976931348623157e308, -308)),
    "slice_step_zero": lambda a: _caught(lambda: __import__("numpy").zeros(1)[::0]),
    "recursion": lambda a: RecursionError("maximum recursion depth exceeded"),
}


def native_error(code, a0, a1, a2, exc_name, msg):
    """Return the exception for native error ``code`` (a name from ``runtime::ErrCode``).

    ``a0..a2`` are the integer details; for ``user_raise`` ``exc_name`` and ``msg`` name the
    built-in exception type and its constant message (or None).
    """
    if code == "user_raise":
        cls = getattr(builtins, exc_name, RuntimeError)
        return cls(msg) if msg is not None else cls()
    op = _OPS.get(code)
    if op is None:
        return RuntimeError(f"heron: unknown native error {code!r}")
    return op((a0, a1, a2))


_FP_LABELS = {"over": "overflow", "invalid": "invalid value", "divide": "divide by zero",
              "under": "underflow"}


def np_float_error(kind, opname, filename, lineno, module):
    """Report a NumPy scalar floating-point error from compiled code as NumPy would.

    ``kind`` is ``"over"``, ``"invalid"`` or ``"divide"`` (keys of ``numpy.geterr()``),
    ``opname`` the ufunc name (``"multiply"``). With NumPy's default error state this issues
    ``RuntimeWarning("overflow encountered in scalar multiply")`` attributed to
    ``filename:lineno`` in ``module`` (shown once per location, as the interpreter would);
    ``"raise"`` raises ``FloatingPointError``; ``"ignore"`` does nothing; ``"print"``,
    ``"log"`` and ``"call"`` are reported as warnings. Returns True when it issued a warning
    (compiled code counts them: a statement handed to the interpreter after it warned must not
    warn twice, see ``heron._deopt.skip_warnings``).
    """
    import sys
    import warnings

    import numpy as np

    mode = np.geterr().get(kind, "warn")
    if opname == "cast":  # a value stored into a narrower array (NumPy's casting loop)
        message = f"{_FP_LABELS[kind]} encountered in cast"
    else:
        message = f"{_FP_LABELS[kind]} encountered in scalar {opname}"
    if mode == "ignore":
        return
    if mode == "raise":
        raise FloatingPointError(message)
    mod = sys.modules.get(module)
    namespace = vars(mod) if mod is not None else {}
    registry = namespace.setdefault("__warningregistry__", {}) if mod is not None else None
    warnings.warn_explicit(message, RuntimeWarning, filename, int(lineno), module=module,
                           registry=registry)
    return True


def np_ufunc_error(kind, ufunc_name, filename, lineno, module):
    """Report a floating-point error of a NumPy ufunc called from compiled code as NumPy's
    ufunc machinery does after its loop (numpy/_core/src/umath/extobj.c): ``kind`` a key of
    ``numpy.geterr()`` (``"divide"``, ``"over"``, ``"under"``, ``"invalid"``), the message
    "overflow encountered in exp" (``ufunc_name`` "cast" for a copy into an array view).
    Warns (``RuntimeWarning``, attributed to ``filename:lineno``), raises
    ``FloatingPointError``, or does nothing, as the error state says. Returns True when it
    issued a warning (as ``np_float_error``).
    """
    import sys
    import warnings

    import numpy as np

    mode = np.geterr().get(kind, "warn")
    if mode == "ignore":
        return
    message = f"{_FP_LABELS[kind]} encountered in {ufunc_name}"
    if mode == "raise":
        raise FloatingPointError(message)
    mod = sys.modules.get(module)
    registry = vars(mod).setdefault("__warningregistry__", {}) if mod is not None else None
    warnings.warn_explicit(message, RuntimeWarning, filename, int(lineno), module=module,
                           registry=registry)
    return True


def np_caller(filename, module, name, qualname, span):
    """A function ``caller(f, args, kwargs)`` that calls ``f(*args, **kwargs)`` from a frame
    of function ``qualname`` of ``module`` at source range ``span`` (line, col, end_line,
    end_col) of ``filename``, with the module's globals: NumPy called from compiled code
    (``heron_np_call``) then warns and raises exactly as when called from the interpreted
    function (a warning's ``stacklevel`` lands on that line; a traceback shows it)."""
    import ast
    import sys

    line, col, end_line, end_col = (int(x) for x in span)
    line = max(line, 1)
    end_line = max(end_line, line)
    if end_line == line and end_col < col:
        end_col = col
    pos = {"lineno": line, "col_offset": col, "end_lineno": end_line, "end_col_offset": end_col}
    call = ast.Call(func=ast.Name(id="f", ctx=ast.Load(), **pos),
                    args=[ast.Starred(value=ast.Name(id="a", ctx=ast.Load(), **pos),
                                      ctx=ast.Load(), **pos)],
                    keywords=[ast.keyword(arg=None, value=ast.Name(id="k", ctx=ast.Load(), **pos),
                                          **pos)], **pos)
    body = [ast.Return(value=call, **pos)]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=n, **pos) for n in "fak"],
                         vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    fields = {"name": name, "args": args, "body": body, "decorator_list": [], "returns": None,
              "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    fdef = ast.FunctionDef(**fields, lineno=line, col_offset=0, end_lineno=end_line,
                           end_col_offset=end_col)
    code = compile(ast.Module(body=[fdef], type_ignores=[]), filename, "exec", dont_inherit=True)
    fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    if hasattr(fcode, "co_qualname"):
        fcode = fcode.replace(co_qualname=qualname)
    mod = sys.modules.get(module)
    namespace = vars(mod) if mod is not None else {"__name__": module}
    _caller_codes.add(fcode)
    return types.FunctionType(fcode, namespace, name)


_caller_codes = set()


_frame_makers = {}


def _frame_maker(filename, name, qualname, line, col, end_line, end_col):
    """A function whose frame, once it returned, points at ``line:col-end_line:end_col`` of
    ``filename`` in function ``qualname``: its only statement, ``return $getframe()``, has that
    source range (cached per range)."""
    key = (filename, name, qualname, line, col, end_line, end_col)
    fn = _frame_makers.get(key)
    if fn is not None:
        return fn
    import ast
    import sys

    line = max(int(line), 1)
    end_line = max(int(end_line), line)
    pos = {"lineno": line, "col_offset": int(col), "end_lineno": end_line,
           "end_col_offset": int(end_col)}
    if end_line == line and pos["end_col_offset"] < pos["col_offset"]:
        pos["end_col_offset"] = pos["col_offset"]
    call = ast.Call(func=ast.Name(id="$getframe", ctx=ast.Load(), **pos), args=[], keywords=[],
                    **pos)
    body = [ast.Return(value=call, **pos)]
    args = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                         kwarg=None, defaults=[])
    fields = {"name": name, "args": args, "body": body, "decorator_list": [], "returns": None,
              "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    fdef = ast.FunctionDef(**fields, lineno=line, col_offset=0, end_lineno=end_line,
                           end_col_offset=pos["end_col_offset"])
    module = ast.Module(body=[fdef], type_ignores=[])
    code = compile(module, filename, "exec", dont_inherit=True)
    fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    if hasattr(fcode, "co_qualname"):
        fcode = fcode.replace(co_qualname=qualname)
    fn = types.FunctionType(fcode, {"$getframe": sys._getframe}, name)
    _frame_makers[key] = fn
    return fn


_HERE = __file__.rsplit("/", 1)[0] + "/" if "/" in __file__ else None


def _without_heron(tb):
    """The traceback ``tb`` without the entries of Heron's own modules (a callback raising
    ``FloatingPointError`` under ``numpy.seterr``, say), as the interpreter would show it."""
    entries = []
    while tb is not None:
        if _HERE is None or not tb.tb_frame.f_code.co_filename.startswith(_HERE):
            entries.append(tb)
        tb = tb.tb_next
    out = None
    for entry in reversed(entries):
        out = types.TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out


def with_frames(exc, frames, fresh):
    """Give ``exc`` one traceback entry per compiled frame and return it.

    Args:
        exc: the exception raised in compiled code.
        frames: list of ``(filename, name, qualname, line, col, end_line, end_col)``, the
            outermost frame first; each entry points at that source range, as the
            interpreter's entry for the same frame would (its line, and on 3.11+ its column
            marks).
        fresh: the exception was just made by ``native_error`` (its own traceback, from
            this module, is dropped); otherwise the entries go above its traceback (an
            exception raised by the interpreter after a deoptimization, or by a callback).
    """
    tb = None if fresh else _without_heron(exc.__traceback__)
    if tb is not None and tb.tb_frame.f_code in _caller_codes and frames:
        # Raised by NumPy called from compiled code: its caller's frame is already there.
        frames = frames[:-1]
    for frame in reversed(frames):
        made = _frame_maker(*frame)()
        tb = types.TracebackType(tb, made, made.f_lasti, made.f_lineno)
    return exc.with_traceback(tb)


def _raiser(exc):
    raise exc


def raise_at(exc, filename, name, line):
    """Raise ``exc`` from a frame that shows ``filename:line`` in function ``name``.

    The traceback then points at the user's line in the compiled function, as it would under
    the interpreter. The frame's code is a copy of ``_raiser``'s, relocated.
    """
    code = _raiser.__code__
    lineno = max(int(line) - 1, 1)
    fields = {"co_filename": filename, "co_name": name.rsplit(".", 1)[-1], "co_firstlineno": lineno}
    if hasattr(code, "co_qualname"):
        fields["co_qualname"] = name
    relocated = types.FunctionType(code.replace(**fields), {})
    try:
        relocated(exc)
    finally:
        exc = None


def watch_signals(chain):
    """Have compiled loops see signals (``heron._native`` calls this once when it loads).

    ``chain(signum)`` puts Heron's C handler in front of CPython's for that signal (see
    ``src/runtime/signals.rs``). It is done for SIGINT now, and again after each
    ``signal.signal`` call, which installs CPython's handler anew: ``signal.signal`` is wrapped
    (same name, signature and behaviour).
    """
    import functools
    import signal

    chain(int(signal.SIGINT))
    real = signal.signal
    if getattr(real, "__heron_chained__", False):
        return

    @functools.wraps(real)
    def chained_signal(signalnum, handler):
        old = real(signalnum, handler)
        try:
            chain(int(signalnum))
        except Exception:  # never break the program's own call
            pass
        return old

    chained_signal.__heron_chained__ = True
    signal.signal = chained_signal
