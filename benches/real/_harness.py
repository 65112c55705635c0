"""Runs one kernel of the corpus and prints what it computed, exactly.

A corpus file ends with ``_harness.main(globals())``. ``main`` calls ``make_inputs()`` and then
``run(*inputs)`` twice (fresh inputs each time: the first call compiles, the second runs the
compiled specialization), and prints, for each call, a canonical description of the returned
value and of every input after the call (arrays may have been written): type, dtype, shape,
strides and SHA-256 of the bytes of arrays, ``repr`` and the bytes of NumPy scalars,
``float.hex`` of floats, element by element for tuples, lists and dicts. Two runs computed the
same thing exactly when they print the same lines. ``HERON_REAL_REPEAT`` changes the number of
calls. ``HERON_REAL_TIME=1`` then times ``run(*make_inputs())`` (``speed.py``): fresh inputs
for each call, made outside the timed region; the best of at least 3 calls, up to 1 s of calls
(at most 200), printed as ``time: SECONDS``.
"""

import hashlib
import os
import time

import numpy as np


def describe(x, depth=0):
    """A one-line canonical description of ``x`` (see the module docstring)."""
    if depth > 6:
        return f"{type(x).__name__} (nested too deep)"
    if isinstance(x, np.ndarray):
        kind = type(x).__name__
        if x.dtype.hasobject:
            items = [describe(v, depth + 1) for v in x.ravel(order="K").tolist()]
            return (f"{kind} dtype=object shape={x.shape} strides={x.strides} "
                    f"items=[{'; '.join(items)}]")
        data = np.ascontiguousarray(x).tobytes()
        digest = hashlib.sha256(data).hexdigest()[:24]
        flat = x.ravel()
        preview = ", ".join(repr(v) for v in flat[:3].tolist())
        return (f"{kind} dtype={x.dtype.str} shape={x.shape} strides={x.strides} "
                f"sha256={digest} first=[{preview}]")
    if isinstance(x, np.generic):
        return f"{type(x).__name__} {x!r} bytes={x.tobytes().hex()}"
    if isinstance(x, bool) or x is None:
        return repr(x)
    if isinstance(x, float):
        return f"float {x!r} {x.hex()}"
    if isinstance(x, complex):
        return f"complex {x!r} {x.real.hex()} {x.imag.hex()}"
    if isinstance(x, (int, str, bytes)):
        return f"{type(x).__name__} {x!r}"
    if isinstance(x, (tuple, list)):
        inner = "; ".join(describe(v, depth + 1) for v in x)
        return f"{type(x).__name__} [{inner}]"
    if isinstance(x, dict):
        inner = "; ".join(f"{describe(k, depth + 1)}: {describe(v, depth + 1)}"
                          for k, v in x.items())
        return f"dict {{{inner}}}"
    return f"{type(x).__name__} {x!r}"


def main(ns):
    repeat = int(os.environ.get("HERON_REAL_REPEAT", "2"))
    for call in range(1, repeat + 1):
        inputs = ns["make_inputs"]()
        result = ns["run"](*inputs)
        print(f"== call {call}")
        print("result: " + describe(result))
        for i, value in enumerate(inputs):
            print(f"input {i} after: " + describe(value))
    if os.environ.get("HERON_REAL_TIME") == "1":
        best, spent, calls = float("inf"), 0.0, 0
        while calls < 3 or (spent < 1.0 and calls < 200):
            inputs = ns["make_inputs"]()
            start = time.perf_counter()
            ns["run"](*inputs)
            took = time.perf_counter() - start
            best, spent, calls = min(best, took), spent + took, calls + 1
        print(f"time: {best!r}")
    if os.environ.get("HERON_REAL_EDGE") == "1" and "edge" in ns:
        print("== edge")
        print("result: " + describe(ns["edge"]()))
