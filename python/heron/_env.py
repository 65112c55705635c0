"""Heron's leaf helpers: the ``HeronWarning`` class, the ``HERON_DISABLE`` rule, and warnings
that never raise. Imports nothing of Heron's; every other module may import it."""

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
