"""Heron's process-wide thread pool: ``heron.submit``, ``heron.map`` and ``heron.prange``.

Compiled functions that write only memory they made release the GIL while they run, so calls
submitted here run on every core; a function that needs the GIL (it writes its caller's
arrays, or it runs as Python) still runs correctly in a worker thread, one at a time. The pool
is made on first use, sized to the cores this process may use, or to ``HERON_NUM_THREADS``.
All of it works with ``HERON_DISABLE=1`` too (the functions then run as Python), so a program
written for Heron runs either way.
"""

import os
import threading

_lock = threading.Lock()
_executor = None


def pool_size():
    """The number of worker threads: ``HERON_NUM_THREADS`` when set to a positive integer,
    else the cores this process may run on (``os.sched_getaffinity``, which a container or a
    Dask worker may restrict), else ``os.cpu_count()``."""
    value = os.environ.get("HERON_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def executor():
    """The process-wide ``concurrent.futures.ThreadPoolExecutor`` (made on first use; a forked
    child makes its own)."""
    global _executor
    with _lock:
        if _executor is None or getattr(_executor, "_heron_pid", None) != os.getpid():
            from concurrent.futures import ThreadPoolExecutor
            _executor = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="heron")
            _executor._heron_pid = os.getpid()
        return _executor


def submit(fn, /, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` on Heron's thread pool.

    Args:
        fn: any callable; a compiled function (a dispatcher) runs native code, without the GIL
            when it writes no array its caller can see.

    Returns:
        A ``concurrent.futures.Future`` whose result is the call's result (or whose
        ``exception()`` is what it raised).
    """
    return executor().submit(fn, *args, **kwargs)


def map(fn, *iterables, timeout=None):
    """``fn`` applied to the items of ``iterables`` (as the builtin ``map``), the calls run on
    Heron's thread pool, at most ``pool_size()`` at a time.

    Returns:
        An iterator of the results, in the order of the items (``Executor.map``); it raises
        the first exception a call raised, when it reaches that item.

    Raises:
        TimeoutError: when ``timeout`` (seconds) passes before a result is ready.
    """
    return executor().map(fn, *iterables, timeout=timeout)


def prange(*args):
    """``range(*args)``, spelled for loops whose iterations may run in parallel (Numba's name).
    In Python it is ``range`` itself; in a function marked ``# heron: jit, parallel`` Heron may
    split such a loop over its threads."""
    return range(*args)
