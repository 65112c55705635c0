"""Differential helpers: run the same source under CPython and under Heron, compare everything.

A module's source is written to a file (Heron's front end reads it back through ``linecache``),
imported twice under two names; in the Heron copy every top-level function is replaced by a
``heron._native.Dispatcher`` before any call, so calls between functions are compiled too.
"""
import importlib.util
import itertools
import math
import struct
import sys

import numpy as np

_counter = itertools.count()


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def modules(tmp_path, source):
    """Return ``(plain, compiled)`` modules made from ``source``."""
    from heron._native import Dispatcher

    n = next(_counter)
    path = tmp_path / f"heron_case_{n}.py"
    path.write_text(source)
    plain = load(path, f"heron_case_plain_{n}")
    compiled = load(path, f"heron_case_jit_{n}")
    for key, value in list(vars(compiled).items()):
        if callable(value) and getattr(value, "__module__", None) == compiled.__name__ and hasattr(value, "__code__"):
            setattr(compiled, key, Dispatcher(value))
    return plain, compiled


def fingerprint(value):
    """A comparable description of a value: its type and exact contents (floats bit for bit)."""
    if isinstance(value, tuple):
        return ("tuple", tuple(fingerprint(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (float, np.floating)):
        return (type(value).__name__, struct.pack("<d", float(value)) if not isinstance(value, np.float32)
                else value.tobytes())
    return (type(value).__name__, repr(value))


def outcome(fn, args):
    """Call ``fn(*args)`` on private copies of the array arguments; return what happened."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = ("value", fingerprint(fn(*args)))
    except Exception as exc:  # noqa: BLE001
        result = ("raise", type(exc).__name__, str(exc))
    arrays = [fingerprint(a) for a in args if isinstance(a, np.ndarray)]
    return result, arrays


def assert_same(plain, compiled, name, *args, native=True):
    """Assert ``name(*args)`` behaves identically in both modules.

    With ``native=True`` also assert that the Heron call ran native code (no fallback).
    """
    expected = outcome(getattr(plain, name), args)
    dispatcher = getattr(compiled, name)
    before = dispatcher.stats()
    got = outcome(dispatcher, args)
    assert got == expected, f"{name}{args!r}: CPython gave {expected}, Heron gave {got}"
    if native:
        after = dispatcher.stats()
        assert after["native_calls"] > before["native_calls"], (
            f"{name} did not run natively: {after['failures']}")
        assert after["fallback_calls"] == before["fallback_calls"] or after["deopts"] > before["deopts"], (
            f"{name} fell back to Python: {after['failures']}")
    return got


__all__ = ["modules", "assert_same", "outcome", "fingerprint", "math"]
