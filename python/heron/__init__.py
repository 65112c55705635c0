"""Heron: a JIT compiler that makes plain numeric Python faster.

Mark a function with a ``# heron: jit`` comment directly above its ``def`` (or use the
``heron.jit`` decorator) and run the script as usual; Heron swaps in native code.

This module is imported at every interpreter start-up (through ``heron._boot``), so it must
stay cheap: it imports nothing at its top, not even Heron's own modules (``HeronWarning``
comes from ``heron._env`` when first asked for). The Rust extension ``heron._native``, NumPy,
``ast`` and ``inspect`` are imported only when a function is actually marked.
"""

__all__ = ["jit", "cfunc", "carray", "HeronWarning", "report", "submit", "map", "prange",
           "get_num_threads", "__version__", "load_ipython_extension",
           "unload_ipython_extension"]


def jit(fn=None, *, parallel=False, nogil=False):
    """Compile ``fn`` to native code on its first calls (one specialization per argument types).

    Usable as ``@heron.jit`` and as ``@heron.jit(parallel=True)``.

    Args:
        fn: a plain Python function defined with ``def``. Omit it to get a decorator.
        parallel: let the outer loops run on all cores (reductions may then be reordered).
        nogil: release the GIL while it runs even though it writes arrays its caller can see
            (Numba's name); without it such a function keeps the GIL, so that threads sharing
            those arrays stay correct (issue 9).

    Returns:
        A dispatcher that stands where ``fn`` stood (same ``__name__``, ``__qualname__``,
        ``__doc__``, ``__module__``, ``__wrapped__``), or ``fn`` itself, unchanged, when Heron
        cannot take it (a method, a generator, an async function, or Heron's native extension is
        missing); a ``HeronWarning`` then says why, and ``heron.report()`` lists it. With
        ``HERON_DISABLE=1`` in the environment, ``fn`` itself, silently.

    Raises:
        TypeError: if ``fn`` is not a Python function.
    """
    if fn is None:
        def decorator(func):
            return jit(func, parallel=parallel, nogil=nogil)
        return decorator
    from heron import _hook
    return _hook.jit_function(fn, {"parallel": bool(parallel), "nogil": bool(nogil)})


def cfunc(signature, *argtypes):
    """Compile a function to a C function pointer, for C libraries that take callbacks
    (``qsort``, ODE solvers, ``scipy.LowLevelCallable``), as Numba's ``cfunc`` does.

    Usable as ``@heron.cfunc("float64(float64)")``, ``@heron.cfunc("intc(CPointer(float64),
    CPointer(float64))")``, ``@heron.cfunc(ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double))``
    or ``@heron.cfunc(ctypes.c_double, ctypes.c_double)`` (result type first).

    Returns:
        A decorator making a ``heron._cnative.CFunc``: ``.address`` (an int), ``.ctypes`` (a
        ctypes function pointer), ``.native``, and callable from Python. With
        ``HERON_DISABLE=1`` (or when the function cannot be compiled) the address is a ctypes
        callback of the Python function, so the program runs either way.

    Raises:
        TypeError: for a signature it cannot read.
    """
    from heron import _cnative
    return _cnative.cfunc(signature, *argtypes)


def carray(ptr, shape, dtype=None):
    """An array over the memory a C pointer points to (Numba's ``carray``): in a
    ``heron.cfunc`` callback, ``carray(p, n)`` for a ``CPointer(float64)`` argument, or
    ``carray(address, (rows, cols), np.float64)`` for a ``voidptr``. Compiled code makes it
    without Python; in Python it is ``heron._cnative.carray`` (see there for the rules).

    Raises:
        TypeError: no dtype for an address, or a dtype other than the pointer's.
        ValueError: a negative dimension.
    """
    from heron import _cnative
    return _cnative.carray(ptr, shape, dtype)


def report():
    """Describe every candidate function Heron has seen in this process.

    Returns:
        A list of dicts, one per marked or decorated function, with the keys ``module``,
        ``qualname``, ``file``, ``line``, ``options``, ``status`` (``"replaced"`` or
        ``"python"``), ``reason`` (why it runs as plain Python, or None), ``signatures``,
        ``compile_time_s``, ``calls``, ``native_calls``, ``fallback_calls``,
        ``native_time_s``, ``failures``, ``deopts``, ``called_from_native``,
        ``reruns``, ``gil``, ``native_functions`` (the C functions it calls directly, issue 16)
        and ``profile`` (``heron._report.FIELDS``). A call is counted once in ``calls``:
        ``calls == native_calls + fallback_calls - deopts``. A marked function not called
        yet is ``"replaced"`` with no calls. Only this process's functions: the report
        written at exit also has those of its worker processes.
    """
    from heron import _report
    return _report.records()


def submit(fn, /, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` on Heron's thread pool; returns a
    ``concurrent.futures.Future``. See ``heron._pool.submit``."""
    from heron import _pool
    return _pool.submit(fn, *args, **kwargs)


def map(fn, *iterables, timeout=None):  # noqa: A001 - the name users expect (as Executor.map)
    """``fn`` over ``iterables`` on Heron's thread pool; an iterator of the results in order.
    See ``heron._pool.map``."""
    from heron import _pool
    return _pool.map(fn, *iterables, timeout=timeout)


def get_num_threads():
    """The number of threads Heron's parallel loops and ``heron.submit`` use in this process
    (Numba's ``numba.get_num_threads``): ``HERON_NUM_THREADS`` when set, in a Dask worker the
    worker's thread count, else the cores this process may run on (``heron._pool.pool_size``).

    Returns:
        A positive int.
    """
    from heron import _env, _pool
    if not _env.disabled():
        try:
            from heron import _native
            return _native.parallel_threads()
        except Exception:
            pass
    return _pool.pool_size()


def prange(*args):
    """``range(*args)`` for loops whose iterations may run in parallel (Numba's name). See
    ``heron._pool.prange``."""
    return range(*args)


def __getattr__(name):
    """Lazy attributes: ``HeronWarning`` (defined in ``heron._env``) and ``__version__`` (read
    from the installed metadata)."""
    if name == "HeronWarning":
        from heron._env import HeronWarning
        globals()["HeronWarning"] = HeronWarning
        return HeronWarning
    if name == "__version__":
        try:
            from importlib.metadata import version
            value = version("heron")
        except Exception:
            value = "0.1.0"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'heron' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext heron`` in IPython or Jupyter: ``# heron: jit`` markers and profiling mode
    (``HERON_AUTO=1``, ``# heron: auto`` or ``%heron_auto``) work for functions defined in
    cells, and ``%heron_report`` shows the annotated report inline (``heron._notebook``).

    Args:
        ipython: the ``InteractiveShell`` IPython passes.
    """
    from heron import _notebook
    _notebook.load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext heron``: the cells run after it are left alone."""
    from heron import _notebook
    _notebook.unload(ipython)
