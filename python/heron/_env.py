"""Heron's leaf helpers: the ``HeronWarning`` class, the ``HERON_DISABLE`` rule, warnings that
never raise, and whether a debugger or coverage tool is tracing. Imports nothing of Heron's;
every other module may import it."""

import os
import sys


class HeronWarning(UserWarning):
    """Heron could not do something it was asked to; the program runs on as plain Python."""


HeronWarning.__module__ = "heron"   # shown as heron.HeronWarning, where users find it


def disabled():
    """Tell whether ``HERON_DISABLE`` asks for Heron to stay off (DESIGN.md, "The user's path").

    Returns:
        True when the variable is set to anything but ``""``, ``"0"``, ``"false"``, ``"no"``.
    """
    value = os.environ.get("HERON_DISABLE", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def warn(message, stacklevel=2):
    """Issue a ``HeronWarning`` from the caller's caller; never raises (``-W error`` turns a
    warning into an exception, which must not break the program)."""
    try:
        import warnings
        warnings.warn(message, HeronWarning, stacklevel=stacklevel + 1)
    except Exception:
        pass


def warn_at(message, filename, lineno, module_name):
    """Issue a ``HeronWarning`` pointing at ``filename:lineno`` (a marker's line); never raises."""
    try:
        import warnings
        warnings.warn_explicit(message, HeronWarning, filename, lineno, module=module_name)
    except Exception:
        pass


def write_stderr(text):
    """Write ``text`` to ``sys.stderr`` (if there is one) and flush; never raises."""
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(text)
            stream.flush()
    except Exception:
        pass


def tracer_in_use():
    """Name the line tracer (a debugger, a coverage tool) running in this thread, if any.

    Code compiled by Heron runs no Python lines, so a debugger could not stop in it and a
    coverage tool would count its lines as never run: while such a tool traces the program,
    marked functions are left as plain Python (DESIGN.md: the program never changes
    behaviour). Profilers (``sys.setprofile``, the ``sys.monitoring`` profiler id) do not
    count, and neither do Heron's own ``__main__`` watcher and its on-stack replacement
    (``heron._osr``: a trace function on one frame while a running loop waits to switch).

    Returns:
        A short description of the tracer (its module), or None.
    """
    trace = sys.gettrace()
    if trace is not None:
        owner = getattr(trace, "__self__", trace)
        where = getattr(type(owner), "__module__", None) or "?"
        if getattr(trace, "__module__", None) == "heron._osr":
            where = "heron._osr"
        if where not in ("heron._mainhook", "heron._osr"):
            return where
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for tool in (monitoring.DEBUGGER_ID, monitoring.COVERAGE_ID):
            name = monitoring.get_tool(tool)
            if name is not None:
                return name
    return None


def traced_reason(tracer):
    """Why a function is left alone while ``tracer`` (``tracer_in_use``) traces."""
    return (f"a debugger or coverage tool ({tracer}) was tracing the program when it was "
            f"defined; compiled code would hide its lines from it")
