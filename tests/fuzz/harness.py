"""Run one generated module under CPython and under Heron, and compare everything.

``check(source)`` writes the module to a file (Heron reads the source back through
``linecache``), imports it twice under two fresh names, and calls ``f(*args)`` for every
argument tuple of ``make_args()`` (each side builds its own arguments, so arrays are private):

- the CPython copy runs unchanged;
- in the Heron copy every top-level function (but ``make_args`` and ``_`` helpers) is replaced
  by a ``heron._native.Dispatcher`` before the first call, so calls between functions go
  through dispatchers too.

Compared: the return value (type and ``repr``; floats and both parts of complex numbers bit for bit, NumPy scalars by their bytes;
ints by ``hex``; arrays by dtype, shape, strides and bytes, and which arguments they share
memory with), the exception type and message, everything the call printed, every warning it
issued (category, message, file and line; NumPy's default error state, every occurrence
recorded), and every array argument afterwards (its bytes, and its base's bytes for a view).
There is no permitted difference: an integer overflow after prints and array stores continues
in the interpreter (deoptimization), so the output and the arrays are CPython's exactly.

A module may set ``_FP`` to run its calls under ``numpy.errstate(all="raise")`` (``"raise"``),
``all="ignore"`` (``"ignore"``), with warnings turned into errors (``"error"``), or under
``numpy.errstate(**_FP)`` (a dict).

The result is a dict: ``status`` is ``"ok"``, ``"mismatch"`` or ``"skip"`` (the CPython run timed out or could not build its arguments), plus
``native`` (the entry function ran native code at least once), ``deopts``, ``failures`` (the
compile-refusal reasons of every dispatcher), and for a mismatch ``key`` (a short description of
the kind of difference, kept while reducing) and ``detail`` (both outcomes).
"""
import gc
import importlib.util
import itertools
import linecache
import os
import signal
import struct
import sys
import tempfile
import warnings

import numpy as np


_counter = itertools.count()
_tmpdir = None


class FuzzTimeout(BaseException):
    """Raised by the alarm when a call runs too long."""


def _alarm(signum, frame):
    raise FuzzTimeout()


def _tmp():
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="heron-fuzz-")
    return _tmpdir


def type_label(v):
    t = type(v)
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def fingerprint(v):
    """A comparable, JSON-able description of a value: type and exact contents."""
    if isinstance(v, tuple):
        return ["tuple", [fingerprint(x) for x in v]]
    if isinstance(v, np.ndarray):
        return ["ndarray", v.dtype.str, list(v.shape), v.tobytes().hex(), list(v.strides)]
    label = type_label(v)
    if isinstance(v, float):  # float and numpy.float64
        return [label, repr(v), struct.pack("<d", v).hex()]
    if isinstance(v, complex):  # both parts bit for bit (repr hides the signs of NaNs)
        return [label, repr(v), struct.pack("<dd", v.real, v.imag).hex()]
    if isinstance(v, np.generic):
        return [label, repr(v), v.tobytes().hex()]
    if isinstance(v, int):  # int and bool
        return [label, hex(v)]
    try:
        r = repr(v)
    except Exception as exc:  # noqa: BLE001
        r = f"<repr failed: {exc!r}>"
    return [label, r[:300]]


def describe(fp):
    """Human-readable text of a fingerprint (for reports)."""
    kind = fp[0]
    if kind == "tuple":
        return "(" + ", ".join(describe(x) for x in fp[1]) + ("," if len(fp[1]) == 1 else "") + ")"
    if kind == "ndarray":
        dt = np.dtype(fp[1])
        arr = np.frombuffer(bytes.fromhex(fp[3]), dtype=dt).reshape(fp[2])
        return f"array({np.array2string(arr, separator=', ', floatmode='unique')}, dtype={dt}) strides {tuple(fp[4])}"
    if kind in ("int", "bool"):
        v = int(fp[1], 16)
        if kind == "bool":
            return repr(bool(v))
        return repr(v) if abs(v) < 10**60 else f"<int of {v.bit_length()} bits>"
    if kind == "complex" and len(fp) == 3:
        re_, im = struct.unpack("<dd", bytes.fromhex(fp[2]))
        return f"complex({re_.hex()}, {im.hex()})" + (f" (bits {fp[2]})" if "nan" in fp[1] else "")
    if "nan" in fp[1] and len(fp) == 3:
        return f"{fp[1]} (bits {fp[2]})"
    if kind == "float":
        return fp[1]
    return fp[1] if fp[1].startswith(kind.split(".")[-1]) or fp[0].startswith("numpy") else f"{kind}({fp[1]})"


def describe_outcome(o):
    if o is None:
        return "nothing"
    res = o["result"]
    if res[0] == "value":
        text = f"returns {describe(res[1])}  [{fp_type(res[1])}]"
    else:
        text = f"raises {res[1]}: {res[2]}"
    for w in o.get("warnings", ()):
        text += f"; warns {w[0]}: {w[1]} ({w[2]}:{w[3]})"
    if o.get("aliases"):
        text += f"; result shares memory with arguments {o['aliases']}"
    return text


def fp_type(fp):
    if fp[0] == "tuple":
        return "tuple(" + ", ".join(fp_type(x) for x in fp[1]) + ")"
    return fp[0]


def _array_fps(args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            item = fingerprint(a)
            if isinstance(a.base, np.ndarray):
                item = item + [fingerprint(a.base)]
            out.append(item)
    return out


def _aliases(value, args):
    """For each array in the result (a tuple's items too): the indices of the arguments it
    may share memory with."""
    items = value if isinstance(value, tuple) else (value,)
    return [[i for i, a in enumerate(args) if isinstance(a, np.ndarray) and np.may_share_memory(x, a)]
            for x in items if isinstance(x, np.ndarray)]


def _warning_fps(caught):
    return [[w.category.__name__, str(w.message), os.path.basename(w.filename), w.lineno] for w in caught]


def call_outcome(fn, args, timeout, fp_mode=None):
    """Call fn(*args) under an alarm; returns {"result", "arrays", "stdout", "warnings",
    "aliases"} or raises FuzzTimeout. ``fp_mode``: the module's ``_FP``."""
    import contextlib
    import io

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    printed = io.StringIO()
    aliases = []
    if isinstance(fp_mode, dict):
        errs = fp_mode
    else:
        errs = {"all": fp_mode} if fp_mode in ("raise", "ignore") else {"all": "warn", "under": "ignore"}
    try:
        try:
            with contextlib.redirect_stdout(printed), np.errstate(**errs), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("error" if fp_mode == "error" else "always")
                try:
                    value = fn(*args)
                finally:
                    caught = list(caught)
            result = ["value", fingerprint(value)]
            aliases = _aliases(value, args)
        except FuzzTimeout:
            raise
        except RecursionError as exc:
            result = ["raise", "RecursionError", str(exc)[:200]]
        except (Exception, BaseException) as exc:  # noqa: BLE001  (PanicException too)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            result = ["raise", type(exc).__name__, str(exc)]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return {"result": result, "arrays": _array_fps(args), "stdout": printed.getvalue(),
            "warnings": _warning_fps(caught), "aliases": aliases}


def _rebind(mod, k):
    """Before call ``k``, give the module's globals the values its ``_rebinds()`` lists (the
    generator's test of live globals: compiled code must see what CPython sees)."""
    rebinds = getattr(mod, "_rebinds", None)
    if rebinds is not None:
        table = rebinds()
        if table:
            vars(mod).update(table[k % len(table)])


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def compiled_names(mod):
    return [k for k, v in vars(mod).items()
            if callable(v) and getattr(v, "__module__", None) == mod.__name__
            and hasattr(v, "__code__") and k != "make_args" and not k.startswith("_")]


def _summary(o):
    r = o["result"]
    return fp_type(r[1]) if r[0] == "value" else r[1]


def canonical_nans(fp):
    """The fingerprint with every NaN's sign and payload erased."""
    if isinstance(fp, list):
        if len(fp) == 5 and fp[0] == "ndarray" and np.dtype(fp[1]).kind in "fc":
            arr = np.frombuffer(bytes.fromhex(fp[3]), dtype=np.dtype(fp[1])).copy()
            arr[np.isnan(arr)] = np.nan
            return ["ndarray", fp[1], fp[2], arr.tobytes().hex(), fp[4]]
        if len(fp) == 3 and fp[0] == "complex" and isinstance(fp[2], str) and "nan" in fp[1]:
            parts = struct.unpack("<dd", bytes.fromhex(fp[2]))
            return [fp[0], fp[1], struct.pack("<dd", *(float("nan") if x != x else x for x in parts)).hex()]
        if len(fp) == 3 and isinstance(fp[1], str) and fp[1].endswith(("nan", "nan)")) and \
                isinstance(fp[2], str):
            return [fp[0], fp[1], "nan"]
        return [canonical_nans(x) for x in fp]
    return fp


def _repeated(cp, hr):
    """Heron's warnings are CPython's, then some of them again: a statement (or call) handed to
    the interpreter after it warned warns a second time (known bug I, KNOWN_BUGS
    "raise-rerun-warning"/"npcall-rerun"); reported as its own kind."""
    return len(hr) > len(cp) and hr[:len(cp)] == cp and all(w in cp for w in hr[len(cp):])


_STALE_ERRNO = ["raise", "OverflowError", "absolute value too large"]

#: An error after which NumPy leaves the array undefined: `a **= -1` of an integer array
#: raises with the output buffer half written (uninitialized memory; seed 911952).
_UNDEFINED_AFTER = ["raise", "ValueError", "Integers to negative integer powers are not allowed."]


def compare(cp_outs, hr_outs):
    """None when equal, else (key, index of the first differing call). A difference only in
    the sign or payload of NaNs gets its own kind, ``nan-payload``."""
    for k, (a, b) in enumerate(zip(cp_outs, hr_outs)):
        for part in ("result", "arrays", "stdout", "warnings", "aliases"):
            kind = part
            if part == "arrays" and a["result"][:3] == b["result"][:3] == _UNDEFINED_AFTER:
                continue
            if a[part] != b[part]:
                if part == "result" and a[part] == _STALE_ERRNO and b[part][0] == "value":
                    # CPython's abs() of a complex with a NaN part returns NaN without setting
                    # errno, then raises when an earlier libm call left ERANGE in it
                    # (Objects/complexobject.c, `_Py_c_abs`): CPython's own bug, its own kind.
                    return ["cpython-stale-errno", "", ""], k
                if canonical_nans(a[part]) == canonical_nans(b[part]):
                    return [f"nan-payload-{kind}", "", ""], k
                if part == "warnings" and _repeated(a[part], b[part]):
                    return ["rerun-warning", "", ""], k
                return [kind, _summary(a), _summary(b)], k
    return None


#: The first line of a generated program whose functions compile as `parallel`.
PARALLEL_MARK = "# fuzz: parallel"


def _quiet():
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")


def check(source, entry="f", cp_timeout=2.0, hr_timeout=None, progress=None):
    """Run ``source`` under CPython and Heron; see the module docstring for the result."""
    from heron._native import Dispatcher

    _quiet()
    n = next(_counter)
    path = os.path.join(_tmp(), f"fz_{os.getpid()}_{n}.py")
    with open(path, "w") as fh:
        fh.write(source)
    names = []
    out = {"status": "ok", "native": False, "deopts": 0, "failures": []}
    try:
        # ---- CPython
        name = f"_fz_cp_{os.getpid()}_{n}"
        names.append(name)
        try:
            cp = _load(path, name)
            cp_args = cp.make_args()
        except Exception as exc:  # noqa: BLE001
            return {"status": "skip", "why": f"module or arguments fail: {type(exc).__name__}: {exc}"}
        cp_outs = []
        import time
        t0 = time.perf_counter()
        try:
            for k, args in enumerate(cp_args):
                _rebind(cp, k)
                cp_outs.append(call_outcome(getattr(cp, entry), args, cp_timeout, getattr(cp, "_FP", None)))
        except FuzzTimeout:
            return {"status": "skip", "why": "CPython run timed out"}
        except MemoryError:
            return {"status": "skip", "why": "CPython run out of memory"}
        cp_time = time.perf_counter() - t0
        # ---- Heron
        if progress:
            progress("heron")
        name = f"_fz_hr_{os.getpid()}_{n}"
        names.append(name)
        hr = _load(path, name)
        dispatchers = {}
        # Programs the generator marks parallel compile as `# heron: jit, parallel` (issue 14).
        options = {"parallel": True} if PARALLEL_MARK in source else None
        for fname in compiled_names(hr):
            fn = getattr(hr, fname)
            dispatchers[fname] = Dispatcher(fn, options) if options else Dispatcher(fn)
        for fname, d in dispatchers.items():
            setattr(hr, fname, d)
        hr_args = hr.make_args()
        hr_outs = []
        try:
            for k, args in enumerate(hr_args):
                _rebind(hr, k)
                hr_outs.append(call_outcome(getattr(hr, entry), args, hr_timeout or max(5.0, 20 * cp_time),
                                            getattr(hr, "_FP", None)))
        except FuzzTimeout:
            out.update(status="mismatch", key=["timeout", "", ""], detail={"cpython": cp_outs, "heron": hr_outs})
            return out
        # ---- stats
        fails = []
        for fname, d in dispatchers.items():
            st = d.stats()
            if fname == entry:
                out["native"] = st["native_calls"] > st["deopts"]
                out["native_calls"] = st["native_calls"]
                out["deopts"] = st["deopts"]
                out["calls"] = st["calls"]
            for fl in st["failures"]:
                fails.append({"function": fname, "reason": fl["reason"], "line": fl["line"],
                              "signature": fl["signature"]})
        out["failures"] = fails
        notes = [n for d in dispatchers.values() for n in d.stats().get("parallel_loops", [])]
        out["parallel_runs"] = sum(d.stats().get("parallel_runs", 0) for d in dispatchers.values())
        out["vector_loops"] = sum(len(d.stats().get("vector_loops", [])) for d in dispatchers.values())
        diff = compare(cp_outs, hr_outs)
        if diff is not None and any("reassociated" in n for n in notes) and diff[0][0] in ("result", "arrays", "stdout"):
            # A float reduction of a parallel loop sums in another order than CPython, by design.
            return {"status": "skip", "why": "a float reduction reassociated under parallel"}
        if diff is not None:
            key, k = diff
            out.update(status="mismatch", key=key, call=k,
                       detail={"cpython": cp_outs[k], "heron": hr_outs[k]})
        return out
    finally:
        for name in names:
            sys.modules.pop(name, None)
        try:
            os.unlink(path)
        except OSError:
            pass
        linecache.checkcache()
        if n % 50 == 49:
            gc.collect()
