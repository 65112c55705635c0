"""Helpers shared by the benchmark kernels (not a kernel itself: it carries no marker).

Every kernel module in this folder has:

* one or more functions marked ``# heron: jit`` (the comment on the line above the ``def``);
* ``setup(quick=False)`` returning the arguments (a tuple), built with NumPy outside any
  compiled code;
* ``run(args)`` calling the kernel and returning its result (scalars, arrays or tuples);
* an ``if __name__ == "__main__"`` block calling ``main(setup, run)``, so that
  ``python kernels/NAME.py`` is the whole program whose wall time the harness measures.

``HERON_BENCH_QUICK=1`` in the environment selects the small problem sizes (``--quick``).
"""

import hashlib
import os
import sys


def quick_from_env():
    """True when ``HERON_BENCH_QUICK`` asks for the small problem sizes."""
    return os.environ.get("HERON_BENCH_QUICK", "") not in ("", "0")


def fingerprint(value):
    """An exact text for a kernel's result: ``repr`` for scalars (so ``np.float64(1.0)`` and
    ``1.0`` differ), dtype, shape and a SHA-256 of the bytes for arrays (bit-identical or not),
    element by element for tuples and lists."""
    if isinstance(value, tuple):
        return "(" + ", ".join(fingerprint(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(fingerprint(v) for v in value) + "]"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value).tobytes()
        digest = hashlib.sha256(data).hexdigest()[:20]
        return f"ndarray({value.dtype}, shape={value.shape}, sha256={digest})"
    return repr(value)


def value_fingerprint(value):
    """Like ``fingerprint`` but NumPy scalars become the Python scalar of the same value, so a
    result that differs only by its type (``np.float64`` against ``float``) compares equal."""
    np = sys.modules.get("numpy")
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(value_fingerprint(v) for v in value) + ")"
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value.hex()
    return fingerprint(value)


def main(setup, run):
    """Run the kernel once as a whole program and print its result's fingerprint last."""
    result = run(setup(quick_from_env()))
    print(fingerprint(result))
