"""Replace marked functions by dispatchers from ``heron._native``.

Used by the import hook (after a module ran), by the ``__main__`` watcher (as soon as a marked
function is defined) and by the ``heron.jit`` decorator. Every candidate, replaced or not, is
recorded in ``heron._report`` with the reason when it is left as plain Python.
"""

import sys
import types

from heron import _boot, _report

_native_failure = None   # the reason, once importing heron._native failed
_MISSING = object()


def native_dispatcher_class():
    """Import the Rust dispatcher class.

    Returns:
        ``heron._native.Dispatcher``.

    Raises:
        ImportError (or whatever the extension raises while loading) when it cannot be loaded.
    """
    from heron._native import Dispatcher
    return Dispatcher


def make_dispatcher(fn, options):
    """Wrap ``fn`` in a native dispatcher.

    Args:
        fn: a plain Python function.
        options: dict of options for the compiler, e.g. ``{"parallel": True}``.

    Returns:
        ``(dispatcher, None)``, or ``(None, reason)`` when Heron cannot wrap it; the first
        failure to load the native extension also issues one ``HeronWarning``.
    """
    global _native_failure
    if _native_failure is not None:
        return None, _native_failure
    try:
        dispatcher_class = native_dispatcher_class()
    except Exception as exc:
        _native_failure = ("Heron's native extension could not be loaded "
                           f"({type(exc).__name__}: {exc})")
        _boot.warn(_native_failure + "; marked functions run as plain Python", stacklevel=3)
        return None, _native_failure
    try:
        # Dispatcher.wrap also gives the dispatcher the function's __doc__.
        make = getattr(dispatcher_class, "wrap", dispatcher_class)
        return make(fn, dict(options)), None
    except Exception as exc:
        return None, f"Heron could not wrap it ({type(exc).__name__}: {exc})"


def is_dispatcher(obj):
    """Tell whether ``obj`` is one of Heron's dispatchers."""
    if _native_failure is not None or isinstance(obj, types.FunctionType):
        return False
    try:
        return type(obj) is native_dispatcher_class()
    except Exception:
        return False


def jit_function(fn, options):
    """Implementation of the ``heron.jit`` decorator; see ``heron.jit``.

    Raises:
        TypeError: if ``fn`` is not a Python function.
    """
    if is_dispatcher(fn):
        return fn
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"heron.jit expects a Python function defined with def, "
                        f"got {type(fn).__name__}")
    if _boot.disabled():
        return fn  # HERON_DISABLE=1: everything stays plain Python
    code = fn.__code__
    module = getattr(fn, "__module__", None) or "?"
    tracer = tracer_in_use()
    if tracer is not None:  # a debugger or coverage tool: leave it alone, silently
        where = f"{_report.display_path(code.co_filename)}:{code.co_firstlineno}"
        _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                    _option_names(options), "python", f"{_traced_reason(tracer)} ({where})")
        return fn
    refusal = _refusal(fn)
    if refusal is None:
        dispatcher, refusal = make_dispatcher(fn, options)
    if refusal is not None:
        where = f"{_report.display_path(code.co_filename)}:{code.co_firstlineno}"
        _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                    _option_names(options), "python", f"{refusal} ({where})")
        if _native_failure is None or refusal != _native_failure:
            _boot.warn(f"heron.jit: {fn.__qualname__} ({where}) runs as plain Python "
                       f"because {refusal}", stacklevel=3)
        return fn
    _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                _option_names(options), "replaced", None, dispatcher)
    return dispatcher


def _refusal(fn):
    """Why the decorator cannot take ``fn`` (a plain-words reason), or None."""
    flags = fn.__code__.co_flags
    if flags & (0x80 | 0x100 | 0x200):  # CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
        return "it is an async function, which Heron cannot compile"
    if flags & 0x20:  # CO_GENERATOR
        return "it is a generator (it uses yield), which Heron cannot compile"
    parts = fn.__qualname__.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>":
        return "it is a method of a class; only plain functions can be compiled"
    return None


def tracer_in_use():
    """Name the line tracer (a debugger, a coverage tool) running in this thread, if any.

    Code compiled by Heron runs no Python lines, so a debugger could not stop in it and a
    coverage tool would count its lines as never run: while such a tool traces the program,
    marked functions are left as plain Python. Profilers (``sys.setprofile``, the
    ``sys.monitoring`` profiler id) do not count, and neither does Heron's own ``__main__``
    watcher.

    Returns:
        A short description of the tracer (its module), or None.
    """
    trace = sys.gettrace()
    if trace is not None:
        owner = getattr(trace, "__self__", trace)
        where = getattr(type(owner), "__module__", None) or "?"
        if where != "heron._mainhook":
            return where
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for tool in (monitoring.DEBUGGER_ID, monitoring.COVERAGE_ID):
            name = monitoring.get_tool(tool)
            if name is not None:
                return name
    return None


def _traced_reason(tracer):
    return (f"a debugger or coverage tool ({tracer}) was tracing the program when it was "
            f"defined; compiled code would hide its lines from it")


def _option_names(options):
    return sorted(name for name, on in options.items() if on)


def _decode(source):
    if isinstance(source, str):
        return source
    from importlib.util import decode_source
    return decode_source(source)


def replace_marked(namespace, filename, source, module_name):
    """Replace the marked functions of a module that has just run.

    Args:
        namespace: the module's ``__dict__``; marked functions in it are replaced in place.
        filename: the module's source file (as in its functions' ``co_filename``).
        source: the module's source, ``str`` or ``bytes``.
        module_name: the module's ``__name__``.

    Returns:
        The number of functions replaced. Every marker is recorded in the report; refused ones
        keep the plain Python function. Never raises for a refused marker.

    Raises:
        SyntaxError: if ``source`` does not parse (it ran, so it should).
    """
    from heron._markers import find_markers
    markers = find_markers(_decode(source), filename)
    _report.forget_module(module_name, filename)
    replaced = 0
    for marker in markers:
        if marker.kind == "function":
            replaced += try_swap(namespace, marker, filename, module_name, final=True) is True
        else:
            refuse(marker, filename, module_name)
    return replaced


def refuse(marker, filename, module_name):
    """Record a marker that cannot be compiled (method, generator, bad option, ...).

    Mistakes in the marker itself (unknown option or directive, a marker attached to nothing)
    also issue a ``HeronWarning`` pointing at the marker's line.
    """
    from heron._markers import describe_kind
    text = describe_kind(marker.kind)
    where = f"{_report.display_path(filename)}:{marker.marker_lineno}"
    if marker.kind == "auto":
        _report.add(module_name, "<module>", filename, marker.lineno, [], "python",
                    f"{text} ({where})")
        return
    _report.add(module_name, marker.qualname, filename, marker.lineno, sorted(marker.options),
                "python", f"{text} ({where})")
    if marker.kind.startswith("unknown") or marker.kind == "not above a function":
        subject = f"{marker.qualname} is left as plain Python" if marker.name else "it is ignored"
        _warn_at(f"{text}; {subject}", filename, marker.marker_lineno, module_name)


def try_swap(namespace, marker, filename, module_name, final):
    """Replace the function a ``"function"`` marker points at, if it is in ``namespace`` now.

    Args:
        namespace: the module's ``__dict__``.
        marker: a ``heron._markers.Marker`` of kind ``"function"``.
        filename: the module's source file.
        module_name: the module's ``__name__``.
        final: True when the module has finished running (then a function that is not there,
            or not the marked one, is recorded as left alone); False while it is still running.

    Returns:
        True when handled (replaced, or already a dispatcher), False when recorded as left
        alone, None when not decided yet (only when ``final`` is False).
    """
    obj = namespace.get(marker.name, _MISSING)
    if _is_marked_function(obj, marker, filename):
        where = f"{_report.display_path(filename)}:{marker.lineno}"
        tracer = tracer_in_use()
        if tracer is not None:
            _report.add(module_name, marker.qualname, filename, marker.lineno,
                        sorted(marker.options), "python", f"{_traced_reason(tracer)} ({where})")
            return False
        dispatcher, reason = make_dispatcher(obj, {opt: True for opt in sorted(marker.options)})
        if dispatcher is None:
            _report.add(module_name, marker.qualname, filename, marker.lineno,
                        sorted(marker.options), "python", f"{reason} ({where})")
            return False
        namespace[marker.name] = dispatcher
        _report.add(module_name, marker.qualname, filename, marker.lineno,
                    sorted(marker.options), "replaced", None, dispatcher)
        return True
    if is_dispatcher(obj) and _is_marked_function(getattr(obj, "__wrapped__", None), marker,
                                                   filename):
        return True  # also decorated with @heron.jit: already recorded there
    if not final:
        return None
    record_not_found(namespace, marker, filename, module_name)
    return False


def record_not_found(namespace, marker, filename, module_name):
    """Record that ``marker``'s function is not (or no longer) what its name holds."""
    obj = namespace.get(marker.name, _MISSING)
    _report.add(module_name, marker.qualname, filename, marker.lineno, sorted(marker.options),
                "python", _not_found_reason(obj, marker, filename))


def _is_marked_function(obj, marker, filename):
    if not isinstance(obj, types.FunctionType):
        return False
    code = obj.__code__
    return code.co_firstlineno == marker.first_lineno and _same_file(code.co_filename, filename)


def _same_file(a, b):
    if a == b:
        return True
    import os
    try:
        return os.path.abspath(a) == os.path.abspath(b) or os.path.samefile(a, b)
    except OSError:
        return False


def _not_found_reason(obj, marker, filename):
    where = f"{_report.display_path(filename)}:{marker.lineno}"
    name = marker.name
    if obj is _MISSING:
        return (f"the def at {where} never ran, so there is no {name!r} at module level "
                f"(is it inside an if or try that did not run?)")
    wrapped = getattr(obj, "__wrapped__", None)
    if _is_marked_function(wrapped, marker, filename):
        return (f"a decorator replaced {name!r} with a {type(obj).__name__}; Heron only "
                f"compiles the plain function ({where})")
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        other = f"{_report.display_path(code.co_filename)}:{code.co_firstlineno}"
        return (f"{name!r} was defined again at {other} after the marked def at {where}; "
                f"the later one is not marked")
    return (f"after the module ran, {name!r} is a {type(obj).__name__}, not the marked "
            f"function (a decorator or a later assignment replaced it) ({where})")


def _warn_at(message, filename, lineno, module_name):
    try:
        import warnings
        from heron import HeronWarning
        warnings.warn_explicit(message, HeronWarning, filename, lineno, module=module_name)
    except Exception:
        pass
