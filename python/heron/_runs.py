"""One report for a run of several processes (issue 9, item 12): who writes it, and how the
other processes' figures reach it.

The first process of a run (the *root*) puts ``HERON_REPORT_RUN=<its pid>:<HERON_REPORT>`` in
its environment (``heron._boot.register_report``); processes started from it
(multiprocessing and ``concurrent.futures`` workers with fork, spawn or forkserver, and other
subprocesses with the same ``HERON_REPORT``) are its *workers*. A worker never writes the
report: at its exit (normal exit, ``os._exit`` after a fork, or ``SIGTERM`` from
``Pool.terminate``) it writes its records, less what it inherited by forking, to
``<tmp>/heron-report-<uid>-<root pid>/<pid>.json``; the root merges those files into its own
records when it writes the report at exit, and removes them.
"""

import os
import sys
import threading

from heron import _report

RUN_VARIABLE = "HERON_REPORT_RUN"
_exit_hook = False
_exit_done = False
_worker_hooks = False
_lock = threading.Lock()


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


def _worker_records():
    """This worker's records that say something its root does not know: calls made here,
    compilations, failures, functions left as plain Python."""
    recs = _report.records(final=True)
    return [r for r in recs if r["status"] != "replaced" or r["calls"] or r["signatures"]
            or r["called_from_native"] or r["compile_time_s"] or r["failures"]]


_writing = []          # non-empty while this process writes its records
_terminate_after = []  # a SIGTERM came during the write: end the process after it


def write_worker_records():
    """Leave this worker's records for the root (see the module docstring); never raises.

    Called at the worker's exit, however it exits; a later call overwrites what an earlier
    one wrote, and a call during a write (a ``SIGTERM`` while the worker writes at exit) does
    nothing.
    """
    if _writing:
        return
    _writing.append(True)
    try:
        _write_worker_records()
    finally:
        _writing.clear()
    if _terminate_after:
        _die_of_sigterm()


def _write_worker_records():
    try:
        run = _run()
        if run is None:
            return
        recs = _worker_records()
        if not recs:
            return
        if os.name == "posix":      # (on Windows, os.kill would end the process)
            try:
                os.kill(run[0], 0)  # the root is gone: nobody would read the file
            except ProcessLookupError:
                return
            except OSError:
                pass
        import json
        directory = run_directory(run[0])
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{os.getpid()}.json")
        temporary = os.path.join(directory, f".{os.getpid()}.{len(recs)}.tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(recs, file)
        os.replace(temporary, path)
    except Exception:
        pass


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
        for field in ("signatures", "failures", "frozen_globals"):
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
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
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
    """In a worker of a run, make sure its records are left for the root however it ends.

    A worker made by ``fork`` leaves through ``os._exit`` (multiprocessing's fork and
    forkserver workers, ``ProcessPoolExecutor`` workers): ``os._exit`` is wrapped in this
    process so that it writes the records first. ``Pool.terminate`` (and leaving a ``with
    Pool()`` block) ends workers with ``SIGTERM``: in a process that uses multiprocessing, a
    ``SIGTERM`` handler writes the records, then ends the process as ``SIGTERM`` would. A
    handler the program installs itself replaces Heron's. Never raises.
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
    if "multiprocessing" in sys.modules and threading.current_thread() is threading.main_thread():
        try:
            import _signal
            if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
                _signal.signal(_signal.SIGTERM, _on_sigterm)
        except Exception:
            pass


def _on_sigterm(signum, frame):
    if _writing:                 # the worker is writing its records at exit: finish first
        _terminate_after.append(True)
        return
    write_worker_records()
    _die_of_sigterm()


def _die_of_sigterm():
    """End this process as the default ``SIGTERM`` action would."""
    import _signal
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGTERM)


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
        _lock = threading.Lock()
        _exit_done = False
        _worker_hooks = False
        _writing.clear()
        _terminate_after.clear()
        _report.after_fork(dict(_fork_snapshot))
        _fork_snapshot.clear()
        if os.environ.get("HERON_REPORT") and is_worker():
            ensure_exit_hook()
    except Exception:
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child,
                        after_in_parent=_fork_snapshot.clear)
