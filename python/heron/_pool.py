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
    """The number of threads of Heron's pools (this one, and the one parallel loops run on):
    ``HERON_NUM_THREADS`` when set to a positive integer; in a Dask worker, the worker's own
    thread count (its share of the cores: a ``LocalCluster`` divides the cores among its
    workers, and one pool per worker of all the cores would oversubscribe them,
    dask/distributed#9075); else the cores this process may run on
    (``os.sched_getaffinity``, which a container may restrict), else ``os.cpu_count()``."""
    value = os.environ.get("HERON_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    share = _dask_worker_threads()
    if share:
        return share
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _dask_worker_threads():
    """The thread count of the Dask worker this process runs, or None outside one."""
    import sys
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed.worker import Worker, get_worker
        try:
            worker = get_worker()
        except ValueError:
            # Outside a task (a function unpickled for one): the process's one worker.
            workers = list(Worker._instances)
            if len(workers) != 1:
                return None
            worker = workers[0]
        n = int(worker.state.nthreads)
        return n if n > 0 else None
    except Exception:
        return None


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
