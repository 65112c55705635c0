"""Profiling mode (issue 13): find the hot functions of a program without markers, and compile
those that can be compiled.

Turned on for one module by a ``# heron: auto`` comment (at module level), and for every module
outside the standard library and site-packages, and for the script itself, by ``HERON_AUTO=1``.
Every function defined in such a module is *watched*; markers keep working beside it (a marked
function is Heron's already and is not watched).

A watched function goes through these states, once each (``Watched.state``):

``watching``
    Something counts what it does, cheaply and for a bounded time:

    * Python 3.12+: ``sys.monitoring``, with a tool id of Heron's own and *local* events on the
      watched code objects only (nothing else in the program is instrumented): ``PY_START``
      counts calls, ``JUMP`` counts loop back-edges (a jump to an earlier instruction; a
      forward jump gets ``DISABLE`` at once, for good). It is hot after ``HOT_CALLS`` calls or
      ``HOT_LOOP`` back-edges, so that a function called once with a long loop is found too.
      Calls are counted only up to ``CALL_PROBE`` unless the function calls itself (then it is
      hot), is called from code that is not watched, or hot code names it (its calls are
      counted again then): many lukewarm functions cost ``CALL_PROBE`` callbacks each.
      Only functions defined at module level and module code are monitored: methods and
      nested functions are never compiled, and 3.12 runs code that was monitored a little
      slower for good; with a report asked for, the sampling thread finds them hot.
      Once it is hot its events are switched off: it costs nothing from then on. A function
      that never gets hot costs at most that many callbacks (about 2,000 machine instructions,
      0.5 us, each).
    * Python 3.10 and 3.11 (and 3.12+ when no tool id is free): a sampling thread wakes every
      ``SAMPLE_INTERVAL`` seconds and looks at the innermost watched function on each thread's
      stack (``sys._current_frames()``); a function seen in ``HOT_SAMPLES`` samples is hot
      (it took about that many intervals of the run, its calls to C functions, native code
      and I/O included). Watched functions themselves run untouched: the cost is the
      thread's, a few microseconds per sample and a switch of the GIL. The thread can only
      look when the program lets go of the GIL: in a loop that calls compiled code (which
      runs without the GIL), it always finds the loop's own frame, never the Python functions
      the loop also calls. So when a function gets hot, the watched functions it names are
      *counted* from then on (``counting``: an inspect trampoline counts their calls, for at
      most ``HOT_CALLS`` calls each, or until a recursive call), and get hot after
      ``HOT_CALLS`` calls.

``armed``
    It is hot, is a function defined at module level, and its module-level name holds it: its
    ``__code__`` becomes an *inspect* trampoline (``heron._trampoline``), which hands the next
    call's arguments to Heron before the call goes on. A call already running (the long loop
    that made it hot) goes on in the interpreter, except the loop running in it, which
    switches to native code at one of its back-edges when it can (on-stack replacement,
    ``heron._osr``; module code too): a one-shot ``main()`` or a loop at module level is
    faster in its only run. ``HERON_OSR=0`` turns that off.

``compiled`` or ``python``
    At that next call, Heron checks the argument types (ints, floats, bools, NumPy scalars and
    arrays; anything else is refused before the native extension is even loaded), makes a
    dispatcher (``Dispatcher.wrap``) and compiles it for those arguments (``compile_for``).
    When it compiles, the module-level name (and every other name for the function in watched
    modules) gets the dispatcher, and the function object gets a *direct* trampoline to it, so
    that references taken earlier (callbacks, ``from m import f``) run native code too; this
    call runs in it. When it does not, the function gets its own code back, exactly as it
    was, and the report says why (file:line): hot but not compiled. Either way nothing watches
    it any more.

    Methods, nested functions, functions a decorator replaced, and calls with keyword
    arguments are not compiled; they are reported as hot with the reason.

    A hot function that does not compile as a whole gets its loops compiled on their own
    (loop lifting, ``heron._lift``) for its next calls: each liftable loop becomes a function
    of its live-in variables returning its live-out ones, compiled at the loop's first run for
    the types its variables have then; the report says what became of each loop.

The sampling thread also gives each function its share of the run time for the report; on
3.12+ it runs only when a report is asked for (``HERON_REPORT``), since its only use there is
the report. A process with threads that forks gets a ``DeprecationWarning`` on 3.12+: the
thread is stopped at the ``os.fork`` audit event (3.13 counts the threads before the at-fork
hooks run, and again after them), and started again at the next audit event after the fork.

This module is imported only when profiling mode is on. It never raises into the program.
"""

import os
import sys
from _thread import RLock, get_ident

from heron import _autoloops, _autoreasons as _reasons, _autosample, _env, _report, _trampoline

#: Calls after which a watched function is hot (3.12+, ``sys.monitoring``; on 3.10 and 3.11,
#: for the functions that are counted).
HOT_CALLS = 1000
#: 3.12+: calls after which a watched function's calls stop being counted, unless it calls
#: itself (then it is hot) or code that is hot names it (then it is counted up to
#: ``HOT_CALLS``): a program of many functions called a few hundred times each pays at most
#: this many callbacks for each.
CALL_PROBE = 16
#: Loop back-edges (iterations, over all its calls) after which it is hot (3.12+).
HOT_LOOP = 1000
SAMPLE_INTERVAL = _autosample.SAMPLE_INTERVAL     # seconds between two samples
HOT_SAMPLES = _autosample.HOT_SAMPLES             # samples after which it is hot (3.10, 3.11)

_PY312 = sys.version_info >= (3, 12)
_FRESH_CODE = sys.version_info[:2] == (3, 12)    # see Watched.clean_code

WATCHING, COUNTING, ARMED = "watching", "counting", "armed"
COMPILED, PYTHON, HERONS = "compiled", "python", "heron's"    # decided

_CO_OPTIMIZED = 0x0001
_CO_NOT_PLAIN = 0x0020 | 0x0080 | 0x0100 | 0x0200  # generator, coroutine, async generator

_lock = RLock()
_by_code = {}         # id(code) -> Watched (the Watched keeps its code alive: ids stay valid)
_by_name = {}         # co_name -> [Watched]
_watched = []         # every Watched, in the order their modules were seen
_files = set()        # absolute paths of the watched modules
_started = None       # time.perf_counter() when the first module was watched
_mechanism = None     # "sys.monitoring" or "sampling": what finds the hot functions
_monitor = None
_sampler = None
_native = [None, None]   # [Dispatcher class, or the reason it could not be loaded]
_main_thread = None   # the main thread's ident (on-stack replacement from the sampling thread)
_kept = []            # the fresh code objects of ``Watched.clean_code`` (their ids stay valid)


def env_enabled():
    """Tell whether ``HERON_AUTO`` asks for profiling mode in every user module."""
    value = os.environ.get("HERON_AUTO", "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def eligible(filename):
    """Tell whether ``HERON_AUTO`` covers the module in ``filename``: not in site-packages
    (the standard library and Heron itself are never looked at, see ``heron._boot``)."""
    parts = os.path.normpath(filename).split(os.sep)
    return "site-packages" not in parts and "dist-packages" not in parts


def _now():
    import time
    return time.perf_counter()


class Watched:
    """One watched function (or module code) and what profiling mode did with it.

    It is also the enter object of the inspect trampoline its function gets when it is
    counted or armed: the trampoline calls it with the call's arguments (``__call__``).
    """

    __slots__ = ("code", "qualname", "kind", "filename", "module", "calls", "loops",
                 "samples", "state", "trigger", "hot_at", "hot_counts", "hot_line", "fn",
                 "plain", "dispatcher", "reason", "compile_time", "lock", "_clean", "probed",
                 "lifted", "switch", "switches", "line_samples", "retry_due", "retries",
                 "retry_loops", "retry_samples")

    def __init__(self, code, qualname, kind, filename, module):
        self.code = code
        self.qualname = qualname
        self.kind = kind              # "function", "method", "nested function" or "module"
        self.filename = filename
        self.module = module          # the module's name (its __name__ once it is hot)
        self.calls = 0                # calls seen (PY_START on 3.12+, or counted)
        self.loops = 0                # back-edges seen (3.12+)
        self.samples = 0              # samples with it innermost (sampling thread)
        self.line_samples = {}        # line -> samples at that line (the annotated report)
        self.retry_due = False        # on-stack replacement may be asked for again now
        self.retries = 0              # how many times it was asked for again
        self.retry_loops = 0          # 3.12+: ask again at this many back-edges
        self.retry_samples = 0        # 3.10, 3.11: ask again at this many samples
        self.state = WATCHING
        self.trigger = None           # "calls", "loop", "time" or "recursion"
        self.hot_at = None            # seconds into the run when it became hot
        self.hot_counts = None        # (calls, loops, samples) when it became hot
        self.hot_line = None          # the line running when it became hot
        self.fn = None                # the function object, once counted or armed
        self.plain = None             # a copy with the original code, for counted calls
        self.dispatcher = None
        self.reason = None
        self.compile_time = 0.0
        self.lock = RLock()
        self._clean = None
        self.probed = False           # 3.12+: its calls were counted to CALL_PROBE, then not
        self.lifted = ()              # its loops compiled on their own (heron._lift.Lifted)
        self.switch = None            # on-stack replacement: a heron._osr.Switch, or why not
        self.switches = []            # the earlier switches that switched a loop

    @property
    def clean_code(self):
        """The function's code to run from now on: on 3.12, a fresh copy of it, never
        instrumented (CPython 3.12 makes a code object's superinstructions once, the first
        time it runs; a code object that ran while ``sys.monitoring`` watched it keeps
        running without them, a few per cent slower, after its events are gone; 3.13's
        compiler makes them itself). Elsewhere, the code itself."""
        if self._clean is None:
            clean = self.code
            if _monitor is not None and _FRESH_CODE:
                clean = self.code.replace()
                with _lock:
                    _by_code[id(clean)] = self        # the sampling thread's look-ups
                    _kept.append(clean)
            self._clean = clean
        return self._clean

    @property
    def line(self):
        return self.code.co_firstlineno

    def where(self, line=None):
        return f"{_report.display_path(self.filename)}:{line or self.line}"

    # -- the calls through its trampoline -----------------------------------------------------

    def __call__(self, *args, **kwargs):
        """What a call of the function goes on in: while counted, the plain function (until
        ``HOT_CALLS`` calls, or a recursive call); once hot, decide with these arguments
        whether it compiles, and go on in the dispatcher or in the function with its own code
        back. Never raises."""
        if self.state is COUNTING:
            n = self.calls = self.calls + 1
            if n < HOT_CALLS:
                caller = sys._getframe(1).f_back      # frame 1 is the trampoline's
                if caller is None or caller.f_code is not self.code:
                    return self.plain
            # Hot; a recursive call is decided at once (a counted call takes two frames).
            _became_hot(self, "calls" if n >= HOT_CALLS else "recursion", None)
        fn = self.fn
        try:
            with self.lock:
                if self.state is ARMED:
                    return self._decide(args, kwargs)
                if self.state is COMPILED and self.dispatcher is not None:
                    return self.dispatcher
                if self.state is COUNTING:
                    return self.plain
        except Exception as exc:
            try:
                self._finish(PYTHON, f"Heron could not compile it ({type(exc).__name__}: "
                                     f"{exc}) ({self.where()})")
            except Exception:
                pass
        try:
            if self.state is not COMPILED and not self.lifted and \
                    fn.__code__ is not self.clean_code:
                fn.__code__ = self.clean_code
        except Exception:
            pass
        return fn

    def __reduce__(self):
        """A function copied by value while Heron counts or arms it (cloudpickle, as Dask and
        joblib use for a function of ``__main__``) runs as plain Python in the copy."""
        return (_Plain, (self.code, self.qualname))

    def _decide(self, args, kwargs):
        fn = self.fn
        reason = (_reasons.argument_reason(self, args, kwargs) or _reasons.text_reason(self)
                  or _reasons.callee_reason(self, fn.__globals__))
        if reason is None:
            tracer = _env.tracer_in_use()
            if tracer is not None:
                reason = f"{_env.traced_reason(tracer)} ({self.where()})"
        dispatcher = None
        if reason is None:
            dispatcher, reason = self._compile(fn, args)
        if dispatcher is not None:
            self._swap(fn, dispatcher)
            return dispatcher
        fn.__code__ = self.clean_code
        self.plain = None
        self._lift_loops(fn, args)
        self._finish(PYTHON, reason)
        return fn

    def _lift_loops(self, fn, args):
        """The function does not compile as a whole (called with ``args``): compile its loops
        on their own for its next calls (``heron._lift``), unless a tracer is in use.

        Cheap checks first, so that a program with nothing numeric pays nothing: the function
        must have a ``for`` or ``while`` statement (its source lines), and unless ``ast`` is
        imported already (NumPy imports it), it must not take lists, dicts, sets or tuples,
        whose loops do not compile. When none of its loops compiles at its first run, the
        function gets its own code back (``heron._lift``)."""
        if self.kind != "function" or fn is None or _env.tracer_in_use() is not None:
            return
        if _native[1] is not None:       # the native extension could not be loaded
            return
        if not _autoloops.has_loop_statement(self.code):
            return
        if "ast" not in sys.modules and any(type(a) in _autoloops.CONTAINERS for a in args):
            return
        try:
            from heron import _lift
            self.lifted = tuple(_lift.lift(fn, _dispatcher_class))
        except Exception:
            self.lifted = ()

    def _compile(self, fn, args):
        """``(dispatcher, None)`` when ``fn`` compiles for ``args``, else ``(None, reason)``."""
        cls = _dispatcher_class()
        if cls is None:
            return None, f"{_native[1]} ({self.where()})"
        plain = _trampoline.rebuilt(fn, self.clean_code)
        # A recursive function reads its own name while it compiles: the name holds the
        # dispatcher then (as for a marked function), and gets the function back if it fails.
        namespace = fn.__globals__
        names = [name for name in (self.code.co_name,)
                 if name in self.code.co_names and namespace.get(name) is fn]
        start = _now()
        dispatcher = failure = None
        try:
            dispatcher = cls.wrap(plain, {})
            for name in names:
                namespace[name] = dispatcher
            failure = dispatcher.compile_for(*args)
        except Exception as exc:
            failure = exc
            return None, (f"Heron could not compile it ({type(exc).__name__}: {exc}) "
                          f"({self.where()})")
        finally:
            self.compile_time += _now() - start
            if failure is not None:
                for name in names:
                    if namespace.get(name) is dispatcher:
                        namespace[name] = fn
        if failure is None:
            return dispatcher, None
        return None, _reasons.failure_reason(self, dispatcher, failure, args)

    def _swap(self, fn, dispatcher):
        forwarder = _trampoline.build(self.code, dispatcher, enter=False)
        for namespace in _namespaces(fn):
            for name, value in list(namespace.items()):
                if value is fn:
                    namespace[name] = dispatcher
        fn.__code__ = forwarder      # references taken before (callbacks, imports) go native
        self.dispatcher = dispatcher
        self.plain = None
        self._finish(COMPILED, None)

    def _finish(self, state, reason):
        self.state = state
        self.reason = reason
        self.record()

    def start_counting(self, fn):
        """Count ``fn``'s calls through an inspect trampoline (3.10, 3.11: the callees of a
        hot function, which the sampling thread may not see; see ``_count_callees``)."""
        trampoline = _trampoline.build(self.code, self, inspect=True)
        self.plain = _trampoline.rebuilt(fn, self.code)
        self.fn = fn
        self.state = COUNTING
        fn.__code__ = trampoline

    # -- the report -------------------------------------------------------------------------

    def record(self, final=False):
        """Record this hot function in the report (replacing its earlier record)."""
        if self.state is COMPILED:
            status, reason, dispatchers = "replaced", None, [self.dispatcher]
            if self.reason:              # bound to something else afterwards
                status, reason = "python", self.reason
        elif self.state is ARMED:
            if final:
                status, reason, dispatchers = "python", self._not_called_again(), []
            else:
                status, reason, dispatchers = "replaced", None, []
        else:
            status, reason, dispatchers = "python", self.reason, []
            if self.lifted:
                display = _report.display_path(self.filename)
                loops = "; ".join(item.describe(display) for item in self.lifted)
                reason = f"{reason}; {loops}" if reason else loops
        if status == "python":
            reason = _autoloops.with_switch(self, reason, final and self.state is ARMED)
        _report.add(self.module, self.qualname, self.filename, self.line, [], status,
                    reason, dispatchers=dispatchers, profile=self)

    def _not_called_again(self):
        calls, loops, _samples = self.hot_counts or (0, 0, 0)
        if self.trigger == "loop":
            how = f"a loop in it ran {loops} iterations in a call that was still running"
        elif self.trigger == "time":
            how = "it took a large share of the run time in a call that was still running"
        else:
            how = f"it was called {calls} times"
        return (f"it became hot ({how}) but was not called again; Heron compiles a hot "
                f"function for its next call, and a call already running finishes in the "
                f"interpreter unless the loop running in it can switch to native code "
                f"(on-stack replacement) ({self.where()})")

    def profile(self):
        """What profiling mode saw of this function, for the report (``profile`` field)."""
        total = _sampler.total if _sampler is not None else 0
        calls, loops, samples = self.hot_counts or (self.calls, self.loops, self.samples)
        return {
            "mode": "auto",
            "mechanism": _mechanism,
            "kind": self.kind,
            "trigger": self.trigger,
            "hot_after_s": None if self.hot_at is None else round(self.hot_at, 6),
            "hot_line": self.hot_line,
            "calls_seen": calls if (calls or _mechanism == "sys.monitoring") else None,
            "loop_iterations_seen": loops if _mechanism == "sys.monitoring" else None,
            "samples": self.samples if _sampler is not None else None,
            "line_samples": {str(k): v for k, v in sorted((k, v) for k, v in
                                                             list(self.line_samples.items())
                                                             if k)},
            "total_samples": total if _sampler is not None else None,
            "samples_at_hot": samples if self.trigger == "time" else None,
            "time_share": round(self.samples / total, 4) if total else None,
            "compile_attempt_s": round(self.compile_time, 6),
            "lifted_loops": [_autoloops.lifted_record(item) for item in self.lifted],
            "switched_loops": _autoloops.all_switched_records(self),
        }


class _Plain:
    """The enter object of a trampoline copied into another process by value: every call goes
    on in the plain function (made once per namespace it is called from)."""

    def __init__(self, code, qualname):
        self.code = code
        self.qualname = qualname
        self._made = {}

    def __reduce__(self):
        return (_Plain, (self.code, self.qualname))

    def __call__(self, *args, **kwargs):
        namespace = sys._getframe(1).f_globals
        made = self._made.get(id(namespace))
        if made is None or made[0] is not namespace:
            fn = _FunctionType(self.code, namespace, self.code.co_name)
            fn.__qualname__ = self.qualname
            made = self._made[id(namespace)] = (namespace, fn)
        return made[1]


def _dispatcher_class():
    """``heron._native.Dispatcher``, or None (the reason in ``_native[1]``); silent: the
    reason goes to the report only."""
    if _native[0] is None and _native[1] is None:
        try:
            from heron._native import Dispatcher
            _native[0] = Dispatcher
        except Exception as exc:
            _native[1] = (f"Heron's native extension could not be loaded "
                          f"({type(exc).__name__}: {exc})")
    return _native[0]



def _namespaces(fn):
    """The namespaces where a name may hold ``fn``: its own module's, and those of the other
    watched modules (``from m import f``)."""
    found = [fn.__globals__]
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        path = namespace.get("__file__") if isinstance(namespace, dict) else None
        if isinstance(path, str) and namespace is not found[0]:
            try:
                if os.path.abspath(path) in _files:
                    found.append(namespace)
            except Exception:
                pass
    return found


# -- what is watched ----------------------------------------------------------------------------

def _functions(code, prefix, kind, found):
    """The function code objects under ``code`` (a module, class body or function), as
    ``(code, qualname, kind)``: ``kind`` is ``"function"`` for those defined at module
    level, ``"method"`` inside a class, ``"nested function"`` inside a function. Lambdas,
    comprehensions, generators and coroutines are left out."""
    code_type = type(code)
    for const in code.co_consts:
        if type(const) is not code_type:
            continue
        name = const.co_name
        if name.startswith("<"):
            if name.startswith("<generic parameters of "):   # def f[T](): 3.12+
                _functions(const, prefix, kind, found)
            continue
        if const.co_flags & _CO_OPTIMIZED:          # a function (a class body is not)
            qualname = getattr(const, "co_qualname", prefix + name)
            if not const.co_flags & _CO_NOT_PLAIN:
                found.append((const, qualname, kind))
            _functions(const, qualname + ".<locals>.", "nested function", found)
        else:
            qualname = getattr(const, "co_qualname", prefix + name)
            _functions(const, qualname + ".", "method", found)
    return found


def watch_code(code, module_name, filename, skip=(), found=None):
    """Watch every function defined in the module code ``code`` (before it runs), and the
    module-level code itself (for the report: a hot loop at module level is not compiled).

    Args:
        code: the module's code object (the one that will run).
        module_name: the module's name (``__main__`` for the script).
        filename: its source file.
        skip: ``(name, first line)`` of functions Heron handles otherwise (marked ones).
        found: instead of ``code``, the ``(code, qualname, kind)`` to watch.

    Never raises: a failure becomes one ``HeronWarning``, and the module runs as plain Python.
    """
    global _started
    try:
        skip = set(skip)
        if found is None:
            found = [(code, "<module>", "module")] + [
                f for f in _functions(code, "", "function", [])
                if (f[0].co_name, f[0].co_firstlineno) not in skip]
        with _lock:
            if _started is None:
                _started = _now()
                _start()
            if code is not None:
                _files.add(os.path.abspath(filename))
            for fcode, qualname, kind in found:
                if id(fcode) in _by_code:
                    continue
                w = Watched(fcode, qualname, kind, filename, module_name)
                _by_code[id(fcode)] = w
                _by_name.setdefault(fcode.co_name, []).append(w)
                _watched.append(w)
                if _monitor is not None and kind in _MONITORED:
                    _monitor.watch(fcode, calls=kind != "module")
    except Exception as exc:
        _env.warn(f"Heron's profiling mode could not watch module {module_name!r} "
                  f"({type(exc).__name__}: {exc}); it runs as plain Python")


def watch_functions(functions, module_name):
    """Watch functions that are already defined (the cells of IPython and Jupyter, which are not
    modules: ``heron._notebook``), as ``watch_code`` watches a module's. Never raises."""
    for fn in functions:
        code = fn.__code__
        if not code.co_flags & _CO_NOT_PLAIN:
            watch_code(None, module_name, code.co_filename, found=[(code, fn.__qualname__,
                                                                    "function")])


def _start():
    """Start what finds the hot functions (once), and the report's hooks."""
    global _mechanism, _monitor, _sampler, _main_thread
    threading = sys.modules.get("threading")
    _main_thread = threading.main_thread().ident if threading is not None else get_ident()
    report = not _report._off(os.environ.get("HERON_REPORT", ""))
    if _PY312:
        monitor = _Monitor()
        if monitor.start():
            _monitor, _mechanism = monitor, "sys.monitoring"
    if _monitor is None:
        _mechanism = "sampling"
        _sampler = _autosample.Sampler(True, _by_code, _sampler_hot)
    elif report:
        # The report's time shares, and the hot methods and nested functions (not compiled,
        # so not monitored: 3.12 runs code that was monitored a little slower for good).
        _sampler = _autosample.Sampler(True, _by_code, _sampler_hot)
    if _sampler is not None:
        _sampler.start()
        import atexit
        atexit.register(_sampler.stop)
        if _PY312:
            # 3.13 counts the threads before the at-fork hooks run: stop it at the audit
            # event, which comes first.
            sys.addaudithook(_audit)
    _report.on_settle(_settle)
    _report.on_summary(_summary)
    from heron import _profilecache
    if _profilecache.enabled():
        import atexit
        atexit.register(_save_profile_cache)


def _save_profile_cache():
    """At exit: remember the hot functions this run compiled (``heron._profilecache``)."""
    from heron import _profilecache
    _profilecache.save_compiled(list(_watched))


# -- finding the hot ones -----------------------------------------------------------------------

def _became_hot(w, trigger, frame):
    """``w`` has just become hot (``frame``: a frame running it, when known). Never raises.

    With ``sys.monitoring`` (3.12+), a function that got hot at the start of a call (its
    calls) is decided at once, with the arguments in ``frame`` (that call goes on as
    Python, the next ones run native code). A function defined at module level that its
    module's name holds, and that got hot otherwise (a loop in a call still running, or the
    sampling thread), is armed: an inspect trampoline in its ``__code__`` has its next call
    decide, before it runs. With the sampling thread, the watched functions it calls are
    counted from now on (``_count_callees``). Anything else is recorded as hot and not
    compiled, with the reason."""
    try:
        with _lock:
            if w.state is not WATCHING and w.state is not COUNTING:
                return
            counting = w.state is COUNTING
            w.state = PYTHON
            w.trigger = trigger
            w.hot_at = _now() - (_started or 0.0)
            w.hot_counts = (w.calls, w.loops, w.samples)
            namespace = frame.f_globals if frame is not None else w.fn.__globals__
            if frame is not None:
                w.hot_line = frame.f_lineno
            name = namespace.get("__name__")
            if isinstance(name, str):
                w.module = name
            if _monitor is not None:
                _monitor.unwatch(w.code)
                _count_callees_monitored(w)
                if w.kind == "function" and trigger in ("calls", "recursion"):
                    _decide_at_start(w, frame)
                    return
            if counting:
                w.state = ARMED              # it has its trampoline: the next call decides
                w.record()
            else:
                reason = _arm(w, namespace)
                if reason:
                    w.reason = reason
                    w.record()
            if _monitor is None:
                _count_callees(w, namespace)
            if frame is not None and trigger in ("loop", "time"):
                _switch_running_loop(w, frame)
    except Exception:
        pass


def _switch_running_loop(w, frame):
    """On-stack replacement of the loop running in ``frame`` (``heron._autoloops``)."""
    _autoloops.switch_running_loop(
        w, frame, _monitor is not None, _main_thread, _dispatcher_class,
        lambda switch: _autoloops.switch_done(w, switch, _monitor, HOT_LOOP, HOT_SAMPLES))


def _decide_at_start(w, frame):
    """3.12+: decide, at the start of a call (``frame``, its arguments bound), whether the
    hot function compiles. The call goes on as Python (it has started); the next calls run
    native code when it compiled. When it does not, nothing of it is changed (on 3.12 it
    gets a fresh copy of its code, see ``Watched.clean_code``): a function whose
    ``__code__`` is assigned is never specialized again by 3.13's interpreter."""
    w.state = PYTHON
    _monitor.unwatch(w.code)
    fn, reason = _function_of(w, frame.f_globals)
    if fn is None and not reason:
        w.state = HERONS
        return
    args = ()
    if reason is None:
        args, reason = _frame_arguments(w, frame)
    if reason is None:
        reason = (_reasons.argument_reason(w, args, {}) or _reasons.text_reason(w)
                  or _reasons.callee_reason(w, fn.__globals__))
    if reason is None:
        tracer = _env.tracer_in_use()
        if tracer is not None:
            reason = f"{_env.traced_reason(tracer)} ({w.where()})"
    dispatcher = None
    if reason is None:
        dispatcher, reason = w._compile(fn, args)
    w.fn = fn
    if dispatcher is not None:
        w._swap(fn, dispatcher)
        return
    if fn is not None and _FRESH_CODE and fn.__code__ is w.code:
        fn.__code__ = w.clean_code
    if fn is not None and fn.__code__ in (w.code, w.clean_code):
        w._lift_loops(fn, args)
    w._finish(PYTHON, reason)


def _frame_arguments(w, frame):
    """``(arguments, None)``: the positional arguments bound in ``frame`` (the start of a
    call of ``w``), or ``((), reason)``."""
    code = w.code
    if code.co_flags & 0x0C or code.co_kwonlyargcount:     # *args, **kwargs, keyword-only
        return (), (f"it takes *args, **kwargs or keyword-only arguments, which compiled "
                    f"code does not take yet ({w.where()})")
    names = code.co_varnames[:code.co_argcount]
    if not names:
        return (), None
    local = frame.f_locals
    try:
        return tuple(local[name] for name in names), None
    except KeyError:
        return (), f"Heron could not read its arguments when it became hot ({w.where()})"


def _function_of(w, namespace):
    """``(function, None)``: the module-level function running ``w``'s code; else
    ``(None, reason)``, or ``(None, "")`` when the name holds Heron's own dispatcher."""
    name = w.code.co_name
    obj = namespace.get(name, None)
    if type(obj) is _FunctionType and obj.__code__ is w.code:
        return obj, None
    if type(obj).__module__ == "heron._native":    # heron.jit: recorded there
        return None, ""
    if obj is None:
        return None, (f"when it became hot there was no {name!r} at module level any more; "
                      f"Heron compiles a function while its module-level name holds it "
                      f"({w.where()})")
    wrapped = getattr(obj, "__wrapped__", None)
    if isinstance(wrapped, _FunctionType) and wrapped.__code__ is w.code:
        what = _reasons.article(type(obj).__name__)
        return None, (f"a decorator replaced {name!r} with {what}; Heron only compiles the "
                      f"plain function ({w.where()})")
    what = _reasons.article(type(obj).__name__)
    return None, (f"its module-level name {name!r} holds {what}, not this function (it was "
                  f"rebound or decorated) ({w.where()})")


def _arm(w, namespace):
    """Put the inspect trampoline in the function's ``__code__``; returns None, or the reason
    it cannot be compiled, or ``""`` when it is Heron's already (not recorded)."""
    if w.kind == "module":
        what = "a loop" if w.trigger == "loop" else "its code"
        return f"{_KINDS['module']} ({what} at {w.where(w.hot_line)})"
    if w.kind != "function":
        return f"{_KINDS[w.kind]} ({w.where()})"
    obj, reason = _function_of(w, namespace)
    if obj is None:
        if not reason:
            w.state = HERONS
        return reason
    tracer = _env.tracer_in_use()
    if tracer is not None:
        return f"{_env.traced_reason(tracer)} ({w.where()})"
    trampoline = _trampoline.build(w.code, w, inspect=True)
    w.fn = obj
    w.state = ARMED
    obj.__code__ = trampoline
    w.record()
    return None


def _count_callees_monitored(w):
    """3.12+: count again the calls of the watched functions that ``w``'s code names, whose
    counting stopped at ``CALL_PROBE`` (they are called from hot code: they may be hot)."""
    _named_by_hot.update(w.code.co_names)
    for name in w.code.co_names:
        for callee in _by_name.get(name, ()):
            if callee.probed and callee.state is WATCHING and callee is not w:
                callee.probed = False
                try:
                    _monitor.watch(callee.code)
                except Exception:
                    pass


def _count_callees(w, namespace):
    """Count the calls of the watched functions that ``w``'s code names (3.10, 3.11).

    The sampling thread gets the GIL whenever the program lets go of it: a hot loop that
    calls compiled code (which runs without the GIL) is only ever seen at those calls, in
    the loop's own frame, never in the Python functions it also calls. Counting those
    callees' calls (for at most ``HOT_CALLS`` calls each, through an inspect trampoline)
    finds them all the same."""
    if _env.tracer_in_use() is not None:
        return
    for name in w.code.co_names:
        for callee in _by_name.get(name, ()):
            if callee.state is not WATCHING or callee.kind != "function" or callee is w:
                continue
            fn = namespace.get(name)
            if not (type(fn) is _FunctionType and fn.__code__ is callee.code):
                module = sys.modules.get(callee.module)
                fn = getattr(module, name, None)
                if not (type(fn) is _FunctionType and fn.__code__ is callee.code):
                    continue
            try:
                callee.start_counting(fn)
            except Exception:
                pass


def _sampler_hot(w, frame):
    """The sampling thread saw ``w`` in ``HOT_SAMPLES`` samples (with ``sys.monitoring``,
    only what it does not watch: methods and nested functions, for the report), or, with
    ``w.retry_samples`` set, the wait before on-stack replacement asks again is over."""
    if w.retry_samples and _monitor is None:
        w.retry_samples = 0
        w.retry_due = True
        _switch_running_loop(w, frame)
    elif _monitor is None or w.kind not in _MONITORED:
        _became_hot(w, "time", frame)


#: What ``sys.monitoring`` watches (3.12+): what can be compiled, and module code (its
#: loops, for the report). Code that ran while monitored runs slower afterwards on 3.12 (its
#: instructions are specialized again, but its superinstructions are not made again).
_MONITORED = ("function", "module")


_FunctionType = type(_now)

_KINDS = {
    "method": "it is a method of a class; only functions defined at module level can be "
              "compiled",
    "nested function": "it is defined inside another function; only functions defined at "
                       "module level can be compiled",
    "module": "module-level code is hot; Heron compiles functions, not module-level code "
              "(a loop at module level is not compiled on its own): move the loop "
              "into a function",
}


class _Monitor:
    """``sys.monitoring`` with a tool id of Heron's own and local events (3.12+)."""

    def __init__(self):
        self.tool = None

    def start(self):
        mon = sys.monitoring
        for tool in (4, 3, 5):     # unnamed ids, then the optimizer's; never 0-2
            if mon.get_tool(tool) is None:
                break
        else:
            return False
        mon.use_tool_id(tool, "heron-auto")
        self.tool = tool
        self.calls = mon.events.PY_START
        self.jumps = mon.events.JUMP
        mon.register_callback(tool, mon.events.PY_START, _on_start)
        mon.register_callback(tool, mon.events.JUMP, _on_jump)
        return True

    def watch(self, code, calls=True):
        events = (self.calls if calls else 0) | self.jumps
        sys.monitoring.set_local_events(self.tool, code, events)

    def unwatch(self, code):
        sys.monitoring.set_local_events(self.tool, code, 0)

    def uncount(self, code):
        """Stop counting the calls of ``code`` (its back-edges are still counted)."""
        sys.monitoring.set_local_events(self.tool, code, self.jumps)


_DISABLE = getattr(getattr(sys, "monitoring", None), "DISABLE", None)


# The two callbacks run at every call and back-edge of a watched function until it is hot:
# kept to a dictionary look-up and a count (events stop for a code object once it is hot, so
# ``state`` need not be looked at).

def _on_start(code, offset, _get=_by_code.get, _id=id):
    w = _get(_id(code))
    if w is None:
        return _DISABLE
    n = w.calls = w.calls + 1
    if n >= HOT_CALLS:
        _became_hot(w, "calls", sys._getframe(1))
        return _DISABLE
    if n == CALL_PROBE:
        _probe(w, sys._getframe(1))
    return None


def _probe(w, frame):
    """3.12+: ``w`` has been called ``CALL_PROBE`` times (``frame``: its call starting). A
    recursive call makes it hot; a call from code that is not watched (a library calling it
    back) goes on being counted; otherwise its calls stop being counted until hot code that
    names it is found (``_count_callees_monitored``). Never raises."""
    try:
        caller = frame.f_back
        if caller is not None and caller.f_code is w.code:
            _became_hot(w, "recursion", frame)
            return
        if caller is None or _by_code.get(id(caller.f_code)) is None:
            return                    # called from a library or C: counted to HOT_CALLS
        if w.calls < HOT_CALLS - 1 and not _counting_wanted(w):
            w.probed = True
            _monitor.uncount(w.code)
    except Exception:
        pass


_named_by_hot = set()   # 3.12+: the names hot watched code loads (its callees' names)


def _counting_wanted(w):
    """Whether hot watched code names ``w``: its calls go on being counted."""
    return w.code.co_name in _named_by_hot


def _on_jump(code, offset, destination, _get=_by_code.get, _id=id):
    if destination > offset:
        return _DISABLE           # a forward jump: never a loop's back-edge
    w = _get(_id(code))
    if w is None:
        return _DISABLE
    n = w.loops = w.loops + 1
    if n >= HOT_LOOP:
        # Not DISABLE: its events are switched off for the code (``unwatch``), and this
        # back-edge must fire again if on-stack replacement asks again (``_switch_done``).
        if w.retry_loops:
            if n < w.retry_loops:
                return None
            w.retry_loops = 0
            _monitor.unwatch(code)
            w.retry_due = True
            _switch_running_loop(w, sys._getframe(1))
            return None
        _became_hot(w, "loop", sys._getframe(1))
    return None


_restart = []     # non-empty: start the sampling thread again at the next audit event


def _audit(event, args):
    """The audit hook of 3.12+ (installed only while the sampling thread is used)."""
    if event == "os.fork" or event == "os.forkpty":
        _before_fork()
    elif _restart:
        del _restart[:]
        _after_fork_in_parent(now=True)


def _before_fork():
    if _sampler is not None:
        try:
            _sampler.before_fork()
        except Exception:
            pass


def _after_fork_in_parent(now=False):
    """Start the sampling thread again after a fork. On 3.12+ not before the next audit
    event: 3.13 counts the threads for its warning after the at-fork hooks, and a program
    that forks several workers in a row would get it for every fork but the first."""
    if _sampler is not None:
        if _PY312 and not now:
            _restart.append(True)
            return
        try:
            _sampler.after_fork()
        except Exception:
            pass


def _after_fork_in_child():
    global _lock
    _lock = RLock()
    for w in _watched:
        w.lock = RLock()
    _after_fork_in_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


# -- the report ---------------------------------------------------------------------------------

def _settle(final):
    """Bring the records of the hot functions up to date (``heron._report.on_settle``)."""
    for w in list(_watched):
        if w.state is ARMED or (w.state is PYTHON and (w.lifted or w.switch is not None)):
            w.record(final=final)
        elif w.state is COMPILED and final:
            obj = w.fn.__globals__.get(w.code.co_name) if w.fn is not None else None
            if obj is not w.dispatcher and w.dispatcher is not None and \
                    not _report_stepped_aside(w.dispatcher):
                w.reason = (f"the program bound {w.code.co_name!r} to something else after "
                            f"Heron compiled it ({w.where()})")
                w.record()


def _report_stepped_aside(dispatcher):
    try:
        return bool(dispatcher.stats().get("stepped_aside"))
    except Exception:
        return False


def _summary():
    """What profiling mode did in this run, for the report's summary (or None)."""
    if _started is None:
        return None
    hot = sum(1 for w in _watched if w.state not in (WATCHING, COUNTING, HERONS))
    modules = len(_files)
    if _mechanism == "sys.monitoring":
        how = (f"sys.monitoring: hot after {HOT_CALLS} calls or {HOT_LOOP} loop iterations")
    else:
        how = (f"sampling every {SAMPLE_INTERVAL * 1000:g} ms: hot after {HOT_SAMPLES} "
               f"samples")
    return {"watched": len(_watched), "modules": modules, "hot": hot, "mechanism": _mechanism,
            "how": how, "run_time_s": _now() - _started,
            "samples": _sampler.total if _sampler is not None else None}
