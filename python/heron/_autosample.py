"""The sampling thread of profiling mode (``heron._auto``): every ``SAMPLE_INTERVAL`` seconds it
looks at the innermost watched function on each other thread's stack, counts it, and (on 3.10
and 3.11) tells ``heron._auto`` which ones became hot; it is stopped around ``os.fork``."""

import sys
from _thread import allocate_lock, get_ident, start_new_thread

_PY312 = sys.version_info >= (3, 12)

#: Seconds between two samples of the sampling thread.
SAMPLE_INTERVAL = 0.01
#: Samples after which a function is hot (3.10, 3.11: about 30 ms of the run in it).
HOT_SAMPLES = 3


class Sampler:
    """A thread that looks at every other thread's innermost watched function every
    ``SAMPLE_INTERVAL`` seconds (``detect``: and makes hot those seen ``HOT_SAMPLES`` times).

    It is made with ``_thread`` (not ``threading``: it is not in ``threading.enumerate()``,
    and the interpreter does not wait for it at exit), holds no frame between two samples, and
    is stopped at exit and around ``os.fork`` (then started again in both processes).
    """

    def __init__(self, detect, by_code, on_hot):
        self.detect = detect
        self.by_code = by_code       # id(code) -> heron._auto.Watched
        self.on_hot = on_hot         # on_hot(watched, frame): it has just become hot
        self.total = 0         # thread samples taken
        self.running = False
        self.stopping = False
        self.was_running = False
        self.wake = allocate_lock()
        self.alive = allocate_lock()

    def start(self):
        if self.running:
            return
        self.stopping = False
        self.wake = allocate_lock()
        self.wake.acquire()
        self.alive = allocate_lock()
        self.alive.acquire()
        self.running = True
        try:
            start_new_thread(self._run, ())
        except Exception:
            self.running = False
            self.alive.release()

    def stop(self, wait=False):
        if not self.running:
            return
        self.stopping = True
        try:
            self.wake.release()
        except RuntimeError:
            pass
        if wait:
            if self.alive.acquire(timeout=1.0):
                self.alive.release()
        self.running = False

    def _run(self):
        try:
            me = get_ident()
            wake, current_frames, by_code = self.wake, sys._current_frames, self.by_code
            while not self.stopping:
                if wake.acquire(timeout=SAMPLE_INTERVAL) or self.stopping:
                    break
                frames = current_frames()
                try:
                    for ident, frame in frames.items():
                        if ident == me:
                            continue
                        self.total += 1
                        top = True
                        while frame is not None:
                            w = by_code.get(id(frame.f_code))
                            if w is not None:
                                if w.kind == "module" and not top:
                                    break     # imports, library code called at module level
                                w.samples += 1
                                lines = w.line_samples
                                line = frame.f_lineno
                                lines[line] = lines.get(line, 0) + 1
                                if self.detect and w.samples >= HOT_SAMPLES and \
                                        w.state in ("watching", "counting"):
                                    self.on_hot(w, frame)
                                elif w.retry_samples and w.samples >= w.retry_samples:
                                    self.on_hot(w, frame)     # on-stack replacement again
                                break
                            frame = frame.f_back
                            top = False
                finally:
                    frames = frame = None     # hold no frame while asleep
        except Exception:
            pass
        finally:
            self.alive.release()

    # -- os.fork ------------------------------------------------------------------------------

    def before_fork(self):
        if self.running:
            self.was_running = True
            threads = _thread_count()
            self.stop(wait=True)
            _wait_thread_count_below(threads)

    def after_fork(self):
        if self.was_running:
            self.was_running = False
            self.start()


def _thread_count():
    """The process's thread count from ``/proc`` (Linux), or 0."""
    try:
        with open("/proc/self/stat", "rb") as file:
            stat = file.read()
        return int(stat[stat.rindex(b")") + 2:].split()[17])
    except Exception:
        return 0


def _wait_thread_count_below(count):
    """Wait (at most 20 ms) until the sampling thread has really ended: a fork with more
    than one thread gets a ``DeprecationWarning`` on 3.12+ (the count is read from ``/proc``)."""
    if not count or not _PY312:
        return
    import time
    for _ in range(40):
        if _thread_count() < count:
            return
        time.sleep(0.0005)


# -- on-stack replacement from the sampling thread (3.10, 3.11) ---------------------------------

_queue = []          # callbacks waiting for the main thread
_queue_lock = allocate_lock()
_scheduled = []     # the one pending call asked for and not yet run (its ctypes callback)


def in_main_thread(callback):
    """Run ``callback()`` in the main thread at its next check of pending work (between two
    bytecodes), through ``Py_AddPendingCall`` (``heron._osr`` sets its trace function there,
    in the thread of the frame it switches); returns False when it cannot be asked. Imports
    ``ctypes`` the first time (in the sampling thread: only once something is hot).

    At most one pending call is asked for at a time; it runs every callback queued until it
    has run (CPython does not run pending calls inside one, and a second one asked for
    meanwhile would keep the main thread's eval breaker set: on 3.11 it then spins)."""
    with _queue_lock:
        _queue.append(callback)
        if _scheduled:
            return True
        holder = _pending_call()
        if holder is None:
            _queue.remove(callback)
            return False
        _scheduled.append(holder)
    try:
        import ctypes
        add = ctypes.pythonapi.Py_AddPendingCall
        add.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        add.restype = ctypes.c_int
        if add(ctypes.cast(holder, ctypes.c_void_p), None) == 0:
            return True
    except Exception:
        pass
    with _queue_lock:
        del _scheduled[:]
        del _queue[:]
    return False


def _run_queued(_arg):
    """The pending call: run the queued callbacks (in the main thread) until none is left."""
    while True:
        with _queue_lock:
            if not _queue:
                del _scheduled[:]
                return 0
            callback = _queue.pop(0)
        try:
            callback()
        except Exception:
            pass


def _pending_call():
    """The ctypes callback of ``_run_queued`` (made once), or None."""
    global _holder
    if _holder is None:
        try:
            ctypes = sys.modules.get("ctypes")
            if ctypes is None:
                # The main thread is busy in a hot loop and hands the GIL over only every
                # switch interval (5 ms): an import, which lets go of the GIL at each file it
                # reads, would take a few hundred milliseconds. Hand-overs are made frequent.
                interval = sys.getswitchinterval()
                sys.setswitchinterval(min(interval, 0.0001))
                try:
                    import ctypes
                finally:
                    sys.setswitchinterval(interval)
            _holder = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(_run_queued)
        except Exception:
            return None
    return _holder


_holder = None
