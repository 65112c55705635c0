"""One report for a run of several processes (issue 9, item 12): who writes it, and how the
other processes' figures reach it.

The first process of a run (the *root*) puts ``HERON_REPORT_RUN=<its pid>:<HERON_REPORT>`` in
its environment (``heron._boot.register_report``); processes started from it
(multiprocessing and ``concurrent.futures`` workers with fork, spawn or forkserver, and other
subprocesses with the same ``HERON_REPORT``) are its *workers*. A worker never writes the
report: it writes its records, less what it inherited by forking, to
``<tmp>/heron-report-<uid>-<root pid>/<pid>.json``; the root merges those files into its own
records when it writes the report at exit, and removes them. A worker writes its file at
exit and also each time it waits for a new task (see ``install_worker_hooks``).
"""

import os
import sys
from _thread import allocate_lock

from heron import _report

RUN_VARIABLE = "HERON_REPORT_RUN"
_exit_hook = False
_exit_done = False
_worker_hooks = False
_lock = allocate_lock()


def _run():
    """``(root_pid, destination)`` from ``HERON_REPORT_RUN``, or None."""
    value = os.environ.get(RUN_VARIABLE, "")
    pid, sep, destination = value.partition(":")
    if not sep or not pid.isdigit():
        return None
    return int(pid), destination


def is_worker():
    """Tell whether this process is a worker of a run whose root writes the report."""
    run = _run()
    return (run is not None and run[0] != os.getpid()
            and run[1] == os.environ.get("HERON_REPORT", ""))


def run_directory(root_pid):
    """The directory where the workers of the run rooted at ``root_pid`` leave their records."""
    import tempfile
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"heron-report-{uid}-{root_pid}")


def _worker_records(final=True):
    """This worker's records that say something its root does not know: calls made here,
    compilations, failures, functions left as plain Python."""
    recs = _report.records(final=final)
    return [r for r in recs if r["status"] != "replaced" or r["calls"] or r["signatures"]
            or r["called_from_native"] or r["compile_time_s"] or r["failures"]]


_writing = []          # non-empty while this process writes its records
_flushed = [None]      # heron._report.activity() when the records were last written


def write_worker_records(final=True, activity=None):
    """Leave this worker's records for the root (see the module docstring); never raises.

    Args:
        final: the worker is ending (what is still pending is recorded as such).
        activity: ``heron._report.activity()``, if the caller has it.

    A later call overwrites what an earlier one wrote; a call during a write does nothing.
    """
    if _writing:
        return
    _writing.append(True)
    try:
        _flushed[0] = _report.activity() if activity is None else activity
        _write_worker_records(final)
    except Exception:
        pass
    finally:
        _writing.clear()


def write_worker_records_if_changed():
    """``write_worker_records`` (not final), when this worker did something since the last
    write."""
    try:
        activity = _report.activity()
        if activity != _flushed[0]:
            write_worker_records(final=False, activity=activity)
    except Exception:
        pass


_file = [None]        # (pid, file descriptor) of this worker's records file


def _write_worker_records(final):
    """Write the records as one line of JSON at the start of ``<pid>.json`` (what follows the
    line, left from a longer earlier write, is ignored by the reader); a single ``pwrite``,
    so a worker killed at any moment leaves the last complete write, or this one."""
    run = _run()
    if run is None:
        return
    recs = _worker_records(final)
    if not recs:
        return
    pid = os.getpid()
    if _file[0] is None or _file[0][0] != pid:
        if os.name == "posix":      # (on Windows, os.kill would end the process)
            try:
                os.kill(run[0], 0)  # the root is gone: nobody would read the file
            except ProcessLookupError:
                return
            except OSError:
                pass
        directory = run_directory(run[0])
        os.makedirs(directory, exist_ok=True)
        fd = os.open(os.path.join(directory, f"{pid}.json"),
                     os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        _file[0] = (pid, fd)
    import json
    data = (json.dumps(recs) + "\n").encode("utf-8")
    if hasattr(os, "pwrite"):
        os.pwrite(_file[0][1], data, 0)
    else:
        os.lseek(_file[0][1], 0, 0)
        os.write(_file[0][1], data)


def _merge_key(rec):
    module = "__main__" if rec["module"] == "__mp_main__" else rec["module"]
    return (module, rec["qualname"], rec["file"], rec["line"])


def merge(recs, others):
    """Add the records of other processes of the run to ``recs`` (this process's).

    Args:
        recs: a list of records (changed in place and returned).
        others: records read from workers' files.

    Returns:
        ``recs``, with counts and times added up per function, signatures and failures
        joined; a function compiled in any process is ``"replaced"``; sorted by file and line.
    """
    index = {}
    for rec in recs:
        if rec["module"] == "__mp_main__":
            rec["module"] = "__main__"
        index[_merge_key(rec)] = rec
    for other in others:
        if not isinstance(other, dict) or not all(k in other for k in _report.FIELDS):
            continue
        key = _merge_key(other)
        mine = index.get(key)
        if mine is None:
            mine = dict(other, module=key[0])
            recs.append(mine)
            index[key] = mine
            continue
        for field in _report._COUNTERS:
            mine[field] = int(mine[field]) + int(other[field] or 0)
        for field in _report._TIMES:
            mine[field] = float(mine[field]) + float(other[field] or 0.0)
        for field in ("signatures", "failures"):
            for item in other[field] or ():
                if item not in mine[field]:
                    mine[field].append(item)
        if other["status"] == "replaced" and (
                mine["status"] != "replaced" or other["signatures"]):
            if mine["status"] != "replaced":
                mine["status"], mine["reason"] = "replaced", None
        elif mine["status"] != "replaced" and not mine["reason"]:
            mine["reason"] = other["reason"]
    recs.sort(key=lambda r: (r["file"], r["line"]))
    return recs


def _collect_worker_records(root_pid):
    """Read (and remove) the files the run's workers left; returns their records."""
    import glob
    import json
    directory = run_directory(root_pid)
    found = []
    for path in glob.glob(os.path.join(directory, ".*.tmp")):
        try:
            os.remove(path)     # a worker ended while it wrote
        except OSError:
            pass
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        try:
            with open(path, "rb") as file:
                line = file.read().split(b"\n", 1)[0]
            data = json.loads(line.decode("utf-8"))
            if isinstance(data, list):
                found.extend(data)
        except (OSError, ValueError):
            pass
        try:
            os.remove(path)
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass
    return found


def exit_report(destination):
    """What a process does about the report at exit (once, however often it is called).

    Args:
        destination: the value of ``HERON_REPORT``.

    A worker of a run leaves its records for the root; any other process merges its workers'
    records into its own and writes the report (``write_report``). Errors are written to
    stderr in one line; never raises.
    """
    global _exit_done
    with _lock:
        if _exit_done:
            return
        _exit_done = True
    try:
        if _report._off(destination):
            return
        if is_worker():
            write_worker_records()
            return
        recs = _report.records(final=True)
        run = _run()
        if run is not None and run[0] == os.getpid():
            merge(recs, _collect_worker_records(run[0]))
        _report.write_report(destination, recs)
    except Exception as exc:
        try:
            sys.stderr.write(f"heron: could not write the report ({type(exc).__name__}: {exc})\n")
        except Exception:
            pass


def _exit_report_from_environment():
    exit_report(os.environ.get("HERON_REPORT", ""))


def ensure_exit_hook():
    """Arrange for ``exit_report`` to run at exit (once), and, in a worker, on the other ways
    a worker ends (see ``install_worker_hooks``)."""
    global _exit_hook
    if not _exit_hook:
        _exit_hook = True
        import atexit
        atexit.register(_exit_report_from_environment)
    if is_worker():
        install_worker_hooks()


def install_worker_hooks():
    """In a worker of a run, make sure its records reach the root however it ends.

    * At a normal exit, ``exit_report`` (``atexit``) writes them (spawn workers).
    * A worker made by ``fork`` leaves through ``os._exit`` (multiprocessing's fork and
      forkserver workers, ``ProcessPoolExecutor`` workers): ``os._exit`` is wrapped in this
      process so that it writes them first.
    * ``Pool.terminate`` (and leaving a ``with Pool()`` block) kills idle workers with
      ``SIGTERM``. A Python ``SIGTERM`` handler would not do: one that arrives while the
      worker is about to block in a semaphore is never run, and the worker would hang.
      Instead, a worker writes its records (when they changed) each time it sends a result
      or waits for a task: the ``put`` and ``get`` of multiprocessing's queues are wrapped in
      this process to do so.

    Never raises.
    """
    global _worker_hooks
    if _worker_hooks:
        return
    _worker_hooks = True
    try:
        real_exit = os._exit
        if getattr(real_exit, "__module__", None) != __name__:
            def _exit(status):
                write_worker_records()
                real_exit(status)
            _exit.__qualname__ = _exit.__name__ = "_exit"
            _exit.__doc__ = real_exit.__doc__
            os._exit = _exit
    except Exception:
        pass
    try:
        import multiprocessing.queues as queues
        for cls in (queues.SimpleQueue, queues.Queue):
            _flush_before(cls)
    except Exception:
        pass


def _flush_before(cls):
    """Wrap ``cls.get`` and ``cls.put`` so that a worker writes its records (when they
    changed) before it waits for a task and before it sends a result: the root, which may end
    the worker as soon as it has the results, then has the figures too."""
    real = cls.get
    if getattr(real, "_heron_flush", False):
        return

    def get(self, *args, **kwargs):
        write_worker_records_if_changed()
        return real(self, *args, **kwargs)

    get.__name__, get.__qualname__, get.__doc__ = real.__name__, real.__qualname__, real.__doc__
    get.__wrapped__ = real
    get._heron_flush = True
    cls.get = get
    real_put = cls.put

    def put(self, *args, **kwargs):
        write_worker_records_if_changed()
        return real_put(self, *args, **kwargs)

    put.__name__, put.__qualname__, put.__doc__ = (real_put.__name__, real_put.__qualname__,
                                                   real_put.__doc__)
    put.__wrapped__ = real_put
    cls.put = put


_fork_snapshot = {}


def _before_fork():
    """Just before ``os.fork``, in the parent: take its figures (``heron._report
    .stats_snapshot``) for the child's baseline. Does nothing unless ``HERON_REPORT`` is
    set."""
    _fork_snapshot.clear()
    if not os.environ.get("HERON_REPORT"):
        return
    try:
        _fork_snapshot.update(_report.stats_snapshot())
    except Exception:
        _fork_snapshot.clear()


def _after_fork_in_child():
    """In a child just made by ``os.fork``: fresh locks (another thread of the parent may
    have held one), the parent's figures as this process's baseline, and the worker's exit
    hooks. Calls no native code; never raises."""
    global _lock, _exit_done, _worker_hooks
    try:
        _lock = allocate_lock()
        _exit_done = False
        _worker_hooks = False
        _writing.clear()
        _file[0] = None
        _report.after_fork(dict(_fork_snapshot))
        _fork_snapshot.clear()
        if os.environ.get("HERON_REPORT") and is_worker():
            ensure_exit_hook()
    except Exception:
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child,
                        after_in_parent=_fork_snapshot.clear)
