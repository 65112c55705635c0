"""Swap marked functions for native dispatchers: per-module sites, and the ``heron.jit`` decorator.

A *site* is one run of one module's code that has marked functions (DESIGN.md, "The user's
path", items 3-5). Before that code runs, each marked function's code constant is replaced by
a trampoline (``heron._trampoline``), so nothing watches the module while it runs:

* the first call of a marked function (at import time too) enters Heron: every marked function
  the module has defined by then is swapped in at once (so that compiled code sees compiled
  callees), the module-level name gets the dispatcher, and the call goes on in it;
* an imported module's marked functions still pending when the module has run are swapped
  then, so importers see dispatchers (``module_ran``);
* other module-level names bound to the function (``step = rk4``) get the dispatcher too; the
  function object keeps a trampoline that forwards to the dispatcher, so references taken
  before the swap (``map(f, xs)``, a callback given to a solver) run native code too;
* a marked ``def`` with decorators gets no trampoline: a decorator may read the function's code
  (Numba does). It is swapped with the others when the module's name holds the plain function
  (an identity decorator such as a registry), at the next swap of the module: another marked
  function's first call, or the end of an imported module;
* when, at its first call, the function's module-level name no longer holds it (a decorator
  applied by assignment, ``f = cache(f)``, or a rebinding), or a debugger or coverage tool is
  tracing, or the native extension is missing, the function gets its own code back and runs as
  the original plain Python from then on; the report says why.

Every candidate, replaced or not, is recorded in ``heron._report``.
"""

import os
import sys
import types
from _thread import RLock

from heron import _env, _report, _runs, _trampoline

_native_failure = None   # the reason, once importing heron._native failed
_MISSING = object()
_sites = []
_sites_lock = RLock()


def _ensure_report():
    """When ``HERON_REPORT`` is set, have the run's report written at exit (``heron._runs``)."""
    if os.environ.get("HERON_REPORT"):
        _runs.ensure_exit_hook()


def native_dispatcher_class():
    """Import the Rust dispatcher class.

    Returns:
        ``heron._native.Dispatcher``.

    Raises:
        ImportError (or whatever the extension raises while loading) when it cannot be loaded.
    """
    from heron._native import Dispatcher
    return Dispatcher


def make_dispatcher(fn, options):
    """Wrap ``fn`` in a native dispatcher.

    Args:
        fn: a plain Python function.
        options: dict of options for the compiler, e.g. ``{"parallel": True}``.

    Returns:
        ``(dispatcher, None)``, or ``(None, reason)`` when Heron cannot wrap it; the first
        failure to load the native extension also issues one ``HeronWarning``.
    """
    global _native_failure
    if _native_failure is not None:
        return None, _native_failure
    try:
        dispatcher_class = native_dispatcher_class()
    except Exception as exc:
        _native_failure = ("Heron's native extension could not be loaded "
                           f"({type(exc).__name__}: {exc})")
        _env.warn(_native_failure + "; marked functions run as plain Python", stacklevel=3)
        return None, _native_failure
    try:
        # Dispatcher.wrap also gives the dispatcher the function's __doc__.
        make = getattr(dispatcher_class, "wrap", dispatcher_class)
        return make(fn, dict(options)), None
    except Exception as exc:
        return None, f"Heron could not wrap it ({type(exc).__name__}: {exc})"


def is_dispatcher(obj):
    """Tell whether ``obj`` is one of Heron's dispatchers."""
    if _native_failure is not None or isinstance(obj, types.FunctionType):
        return False
    try:
        return type(obj) is native_dispatcher_class()
    except Exception:
        return False


def jit_function(fn, options):
    """Implementation of the ``heron.jit`` decorator; see ``heron.jit``.

    Raises:
        TypeError: if ``fn`` is not a Python function.
    """
    if is_dispatcher(fn):
        return fn
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"heron.jit expects a Python function defined with def, "
                        f"got {type(fn).__name__}")
    if _env.disabled():
        return fn  # HERON_DISABLE=1: everything stays plain Python
    _ensure_report()
    code = fn.__code__
    module = getattr(fn, "__module__", None) or "?"
    where = f"{_report.display_path(code.co_filename)}:{code.co_firstlineno}"
    tracer = tracer_in_use()
    if tracer is not None:  # a debugger or coverage tool: leave it alone, silently
        _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                    _option_names(options), "python", f"{_traced_reason(tracer)} ({where})")
        return fn
    refusal = _refusal(fn)
    if refusal is None:
        dispatcher, refusal = make_dispatcher(fn, options)
    if refusal is not None:
        _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                    _option_names(options), "python", f"{refusal} ({where})")
        if _native_failure is None or refusal != _native_failure:
            _env.warn(f"heron.jit: {fn.__qualname__} ({where}) runs as plain Python "
                      f"because {refusal}", stacklevel=3)
        return fn
    _report.add(module, fn.__qualname__, code.co_filename, code.co_firstlineno,
                _option_names(options), "replaced", None, dispatcher)
    return dispatcher


def _refusal(fn):
    """Why the decorator cannot take ``fn`` (a plain-words reason), or None."""
    flags = fn.__code__.co_flags
    if flags & (0x80 | 0x100 | 0x200):  # CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
        return "it is an async function, which Heron cannot compile"
    if flags & 0x20:  # CO_GENERATOR
        return "it is a generator (it uses yield), which Heron cannot compile"
    parts = fn.__qualname__.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>":
        return "it is a method of a class; only plain functions can be compiled"
    return None


# Where a debugger or coverage tool is found (``heron._env``), and how a function is made again
# from its own code (``heron._trampoline``): shared with profiling mode (``heron._auto``).
tracer_in_use = _env.tracer_in_use
_traced_reason = _env.traced_reason
_rebuilt = _trampoline.rebuilt


def _option_names(options):
    return sorted(name for name, on in options.items() if on)


def decode(source):
    """The text of module source given as ``str`` or ``bytes``, decoded as the interpreter
    decodes it (PEP 263: UTF-8 unless a coding cookie on one of the first two lines says
    otherwise; a UTF-8 byte-order mark is dropped).

    Raises:
        SyntaxError, UnicodeDecodeError, LookupError: as ``importlib.util.decode_source``.
    """
    if isinstance(source, str):
        return source
    head = source[:source.find(b"\n", source.find(b"\n") + 1) + 1 or None]
    if b"coding" not in head:     # the usual case, without importing tokenize (~5 ms)
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if text.startswith("\ufeff"):
                text = text[1:]
            if "\r" in text:     # universal newlines, as decode_source
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            return text
    from importlib.util import decode_source
    return decode_source(source)


def _where(filename, line):
    return f"{_report.display_path(filename)}:{line}"


def refuse(marker, filename, module_name):
    """Record a marker that cannot be compiled (method, generator, bad option, ...).

    Mistakes in the marker itself (unknown option or directive, a marker attached to nothing)
    also issue a ``HeronWarning`` pointing at the marker's line.
    """
    _record_refusal(marker, filename, module_name)
    warn_about_marker(marker, filename, module_name)


def _record_refusal(marker, filename, module_name):
    from heron._markers import describe_kind
    text = describe_kind(marker.kind)
    where = _where(filename, marker.marker_lineno)
    if marker.kind == "auto":
        _report.add(module_name, "<module>", filename, marker.lineno, [], "python",
                    f"{text} ({where})")
        return
    _report.add(module_name, marker.qualname, filename, marker.lineno, sorted(marker.options),
                "python", f"{text} ({where})")


def warn_about_marker(marker, filename, module_name):
    """Warn about a mistake in a marker itself (unknown option or directive, or a marker
    attached to nothing), pointing at its line; other refusals are only reported."""
    if marker.kind.startswith("unknown") or marker.kind == "not above a function":
        from heron._markers import describe_kind
        subject = f"{marker.qualname} is left as plain Python" if marker.name else "it is ignored"
        _env.warn_at(f"{describe_kind(marker.kind)}; {subject}", filename,
                     marker.marker_lineno, module_name)


def _is_marked_function(obj, marker, filename):
    if not isinstance(obj, types.FunctionType):
        return False
    code = obj.__code__
    return code.co_firstlineno == marker.first_lineno and _same_file(code.co_filename, filename)


def _same_file(a, b):
    if a == b:
        return True
    try:
        return os.path.abspath(a) == os.path.abspath(b) or os.path.samefile(a, b)
    except OSError:
        return False


def _not_found_reason(obj, marker, filename, called=False):
    """Why the name of ``marker``'s function does not hold it (plain words, with file:line).

    Args:
        obj: what the module-level name holds (``_MISSING`` when nothing).
        called: the function was called (so its ``def`` did run) when this was found.
    """
    where = _where(filename, marker.lineno)
    name = marker.name
    if obj is _MISSING:
        if called:
            return (f"when it was first called, there was no {name!r} at module level any "
                    f"more (it was deleted); Heron compiles a function only while its name "
                    f"holds it ({where})")
        return (f"the def at {where} never ran, so there is no {name!r} at module level "
                f"(is it inside an if or try that did not run?)")
    wrapped = getattr(obj, "__wrapped__", None)
    if _is_marked_function(wrapped, marker, filename) or (
            called and isinstance(wrapped, types.FunctionType)
            and getattr(wrapped, "__name__", None) == name):
        return (f"a decorator replaced {name!r} with a {type(obj).__name__}; Heron only "
                f"compiles the plain function ({where})")
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        other = _where(code.co_filename, code.co_firstlineno)
        return (f"{name!r} was defined again at {other} after the marked def at {where}; "
                f"the later one is not marked")
    when = "when it was first called" if called else "after the module ran"
    return (f"{when}, {name!r} is a {type(obj).__name__}, not the marked function (a "
            f"decorator or a later assignment replaced it) ({where})")


class Entry:
    """One marked function of a site. Its enter object (the trampoline calls ``entry()``)."""

    def __init__(self, site, marker):
        self.site = site
        self.marker = marker
        self.options = {"parallel": "parallel" in marker.options, "nogil": "nogil" in marker.options}
        self.original = None      # the function's own code object, once found
        self.trampoline = None    # the enter-form trampoline standing in the module's code
        self.dispatchers = []     # one per function object swapped (a def in a loop: several)
        self.forwarders = []      # the direct-form trampolines made for those
        self.state = "pending"    # "pending", "swapped", "python" (given up)
        self.recorded = False
        self._plain = {}

    @property
    def decorated(self):
        return self.marker.first_lineno != self.marker.lineno

    def __call__(self):
        """Enter Heron from the trampoline: returns what the call goes on in (the dispatcher,
        or the plain function). Never raises."""
        frame = sys._getframe(1)
        namespace = frame.f_globals
        del frame
        try:
            if self.state == "python":
                return self.plain(namespace)
            if self.state == "swapped" and namespace is self.site.namespace:
                obj = namespace.get(self.marker.name)
                if type(obj) is not types.FunctionType or obj.__code__ is not self.trampoline:
                    return self.dispatchers[-1]
            return self.site.enter(self, namespace)
        except Exception as exc:
            try:
                self.state = "python"
                _env.warn(f"Heron could not replace {self.marker.qualname} "
                          f"({type(exc).__name__}: {exc}); it runs as plain Python")
            except Exception:
                pass
            return self.plain(namespace)

    def __reduce__(self):
        """Pickled by value with the trampoline (cloudpickle does that for a function of
        ``__main__``): the copy is a ``Detached`` enter object, with the script's file name
        and text (cloudpickle 3.1 names every code object ``<dynamic-code>``, and the worker
        compiles from source)."""
        filename = self.original.co_filename
        return (Detached, (self.original, self.options, self.marker.qualname,
                           self.marker.lineno, sorted(self.marker.options), filename,
                           _source_text(filename)))

    def plain(self, namespace):
        """The original plain function in ``namespace`` (the trampoline passes every argument
        explicitly, so defaults are not needed)."""
        made = self._plain.get(id(namespace))
        if made is not None and made[0] is namespace:
            return made[1]
        fn = types.FunctionType(self.original, namespace, self.original.co_name)
        fn.__qualname__ = self.marker.qualname
        self._plain[id(namespace)] = (namespace, fn)
        return fn

    def is_ours(self, obj):
        """Tell whether ``obj`` is a dispatcher of this entry or a function forwarding to one."""
        if isinstance(obj, types.FunctionType):
            # a forwarder, or a later run of the def not called yet
            code = obj.__code__
            return code is self.trampoline or any(code is f for f in self.forwarders)
        return any(obj is d for d in self.dispatchers)

    # -- swapping ---------------------------------------------------------------------------

    def try_swap(self, namespace):
        """Swap the function the module-level name holds, if it is this marker's plain
        function (with the trampoline, or its own code for a decorated ``def``).

        Returns:
            True when swapped now.
        """
        if self.state == "python":
            return False
        obj = namespace.get(self.marker.name, _MISSING)
        if not isinstance(obj, types.FunctionType):
            return False
        code = obj.__code__
        if self.trampoline is not None and code is self.trampoline:
            return self._swap(namespace, obj, trampolined=True)
        if code is self.original or (self.trampoline is None and _is_marked_function(
                obj, self.marker, self.site.filename)):
            return self._swap(namespace, obj, trampolined=False)
        return False

    def _swap(self, namespace, fn, trampolined):
        site = self.site
        tracer = tracer_in_use()
        if tracer is not None:
            self.give_up(f"{_traced_reason(tracer)} ({_where(site.filename, self.marker.lineno)})")
            return False
        original = self.original if self.original is not None else fn.__code__
        target = _rebuilt(fn, original) if trampolined else fn
        dispatcher, reason = make_dispatcher(target, self.options)
        if dispatcher is None:
            self.give_up(f"{reason} ({_where(site.filename, self.marker.lineno)})")
            return False
        namespace[self.marker.name] = dispatcher
        for name, value in list(namespace.items()):
            if value is fn:     # another module-level name for it (`step = rk4`): the same
                namespace[name] = dispatcher
        if trampolined:
            forwarder = _trampoline.build(original, dispatcher, enter=False)
            self.forwarders.append(forwarder)
            fn.__code__ = forwarder      # references taken before the swap go native too
        more = bool(self.dispatchers)
        self.dispatchers.append(dispatcher)
        self.state = "swapped"
        self.recorded = True
        _report.add(site.module_name(), self.marker.qualname, site.filename, self.marker.lineno,
                    sorted(self.marker.options), "replaced", None, dispatcher, more=more)
        return True

    def give_up(self, reason):
        """Leave the function as plain Python for good, with ``reason`` in the report: every
        function object still holding the trampoline gets its own code back."""
        self.state = "python"
        self.record("python", reason)
        if self.trampoline is not None and self.original is not None:
            import gc
            for obj in gc.get_referrers(self.trampoline):
                if isinstance(obj, types.FunctionType) and obj.__code__ is self.trampoline:
                    obj.__code__ = self.original

    def record(self, status, reason=None):
        """Record this function in the report (replacing what was recorded before), with the
        calls its dispatchers made (a function swapped, then bound again, ran native code
        until then)."""
        self.recorded = True
        site = self.site
        _report.add(site.module_name(), self.marker.qualname, site.filename, self.marker.lineno,
                    sorted(self.marker.options), status, reason, dispatchers=self.dispatchers)

    # -- the report -------------------------------------------------------------------------

    def settle(self, namespace, final):
        """Bring this function's record up to date (see ``Site.settle``)."""
        marker, filename = self.marker, self.site.filename
        obj = namespace.get(marker.name, _MISSING)
        if self.state == "swapped":
            # A dispatcher that stepped aside put the original function back: its own record
            # (the compile failure and its line) stands.
            stepped_aside = any(obj is getattr(d, "__wrapped__", None) for d in self.dispatchers)
            if final and not self.is_ours(obj) and not stepped_aside:
                self.record("python", _not_found_reason(obj, marker, filename))
            return
        if self.state == "python":
            return
        if self.site.aside:
            self.record("python", f"{self.site.aside} ({_where(filename, marker.lineno)})")
            return
        if isinstance(obj, types.FunctionType) and (
                (self.trampoline is not None and obj.__code__ is self.trampoline)):
            if _native_failure is not None:   # it could not have been compiled
                self.record("python", f"{_native_failure} ({_where(filename, marker.lineno)})")
            else:
                self.record("replaced")       # ready, never called
            return
        if is_dispatcher(obj) and _is_marked_function(getattr(obj, "__wrapped__", None),
                                                       marker, filename):
            return  # also decorated with @heron.jit: recorded there
        if not final:
            return
        if _is_marked_function(obj, marker, filename):
            self.record("python", (
                f"it has a decorator, and in a script Heron replaces a decorated function only "
                f"when another marked function of the script is first called after its def "
                f"ran; none was. Remove the decorator, or move the function into a module the "
                f"script imports ({_where(filename, marker.lineno)})"))
            return
        self.record("python", _not_found_reason(obj, marker, filename))


class Detached:
    """The enter object of a trampoline copied into another process by value (cloudpickle,
    as used by joblib, loky and Dask, pickles a function of ``__main__`` that way): the copy
    has no module to swap names in, so each namespace it is called from gets its own
    dispatcher of the original code (or the plain function, when Heron cannot take it)."""

    def __init__(self, code, options, qualname, line, option_names, filename=None,
                 source=None):
        self.code = _with_source(code, filename, source)
        self.filename, self.source = filename, source
        self.options = dict(options)
        self.qualname = qualname
        self.line = line
        self.option_names = list(option_names)
        self._made = {}     # id(namespace) -> (namespace, what the calls go on in)
        self._lock = RLock()

    def __reduce__(self):
        return (Detached, (self.code, self.options, self.qualname, self.line,
                           self.option_names, self.filename, self.source))

    def __call__(self):
        """What a call goes on in (see ``Entry.__call__``); never raises."""
        namespace = sys._getframe(1).f_globals
        made = self._made.get(id(namespace))
        if made is not None and made[0] is namespace:
            return made[1]
        with self._lock:
            plain = types.FunctionType(self.code, namespace, self.code.co_name)
            plain.__qualname__ = self.qualname
            target = plain
            try:
                if tracer_in_use() is None and not _env.disabled():
                    dispatcher, reason = make_dispatcher(plain, self.options)
                    module = namespace.get("__name__") or "?"
                    if dispatcher is not None:
                        target = dispatcher
                        _ensure_report()
                        _report.add(module, self.qualname, self.code.co_filename, self.line,
                                    self.option_names, "replaced", None, dispatcher,
                                    more=True)
            except Exception:
                target = plain
            self._made[id(namespace)] = (namespace, target)
        return target


class Site:
    """The marked functions of one run of one module's code (see the module docstring)."""

    def __init__(self, module_name, filename, markers, refused=(), namespace=None):
        """
        Args:
            module_name: the module's name until its namespace is known (then its
                ``__name__``: ``__main__`` for ``python -m``).
            filename: the module's source file (its functions' ``co_filename``).
            markers: its ``heron._markers.Marker`` of kind ``"function"``.
            refused: its other markers, recorded (once the module's name is known) as left
                alone.
            namespace: the module's ``__dict__``, when already known.
        """
        self.name = module_name
        self.filename = filename
        self.entries = [Entry(self, m) for m in markers]
        self.refused = list(refused)
        self.refused_all = tuple(refused)
        self.namespace = None
        self.lock = RLock()
        self.finished = False
        if namespace is not None:
            self.set_namespace(namespace)
        self.run_as_main = False   # set for the code runpy runs as __main__ (python -m)
        self.aside = None          # why Heron stands aside for the whole module, if it does
        with _sites_lock:
            _sites.append(self)
            _report.on_settle(_settle_sites)
        _ensure_report()

    def keys(self):
        """The report's keys of this site's markers (see ``heron._report.Candidate.key``)."""
        name = self.module_name()
        markers = [e.marker for e in self.entries] + list(self.refused_all)
        return [(name, "<module>" if m.kind == "auto" else m.qualname, self.filename, m.lineno)
                for m in markers]

    def module_name(self):
        """The module's ``__name__`` (once its namespace is known), for the report."""
        namespace = self.namespace
        if namespace is not None:
            name = namespace.get("__name__")
            if isinstance(name, str):
                return name
        return self.name

    def set_namespace(self, namespace):
        """The module's ``__dict__`` is known: record the refused markers under its name."""
        with self.lock:
            if self.namespace is not None:
                return
            self.namespace = namespace
            refused, self.refused = self.refused, []
        # The module runs: what an earlier run of it recorded (importlib.reload) is done.
        with _sites_lock:
            old = [s for s in _sites if s is not self and s.namespace is namespace]
            _sites[:] = [s for s in _sites if all(s is not o for o in old)]
        for site in old:
            _report.forget(site.keys())
        for marker in refused:
            _record_refusal(marker, self.filename, self.module_name())

    def prepare(self, code, in_place=False):
        """Put a trampoline in ``code`` for each undecorated marked function.

        Args:
            code: the module's code object, before it runs.
            in_place: change ``code``'s constants themselves (the script, compiled by the
                interpreter), instead of making a new code object.

        Returns:
            The code to run (``code`` itself when ``in_place``).
        """
        wanted = {(e.marker.name, e.marker.first_lineno): e for e in self.entries
                  if not e.decorated}
        found = _trampoline.find(code, set(wanted))
        replacements = {}
        for key, (owner, index, function_code) in found.items():
            entry = wanted[key]
            entry.original = function_code
            try:
                trampoline = _trampoline.build(function_code, entry, enter=True)
            except ValueError:
                continue
            if in_place:
                _trampoline.substitute_in_place(owner, index, trampoline)
            else:
                replacements[id(function_code)] = trampoline
            entry.trampoline = trampoline
        if in_place or not replacements:
            return code
        return _trampoline.substitute(code, replacements)

    def enter(self, entry, namespace):
        """The first call of ``entry``'s function (from its trampoline, in ``namespace``):
        swap every marked function defined by now, and say what the call goes on in."""
        if self.namespace is None:
            self.set_namespace(namespace)
        if namespace is not self.namespace:
            return entry.plain(namespace)   # the same code run in another namespace
        with self.lock:
            self.swap_all()
            if entry.dispatchers:
                return entry.dispatchers[-1]
            if entry.state == "pending":
                obj = namespace.get(entry.marker.name, _MISSING)
                entry.give_up(_not_found_reason(obj, entry.marker, self.filename, called=True))
        return entry.plain(namespace)

    def swap_all(self):
        """Swap every marked function whose module-level name holds it now."""
        with self.lock:
            for entry in self.entries:
                if entry.state != "python":
                    entry.try_swap(self.namespace)

    def module_ran(self, namespace):
        """The module's code has finished: swap what is still pending, and record the rest."""
        self.set_namespace(namespace)
        with self.lock:
            self.swap_all()
            self.finished = True
        self.settle(final=True)

    def settle(self, final):
        """Bring the report's records of this module up to date.

        Args:
            final: the module (or the program) has finished: a function still missing is
                recorded as such, and a swapped function whose name now holds something
                else as not replaced.
        """
        namespace = self.namespace
        if namespace is None:
            namespace = self._find_namespace()
            if namespace is None:
                return
            self.set_namespace(namespace)
        with self.lock:
            for entry in self.entries:
                try:
                    entry.settle(namespace, final)
                except Exception:
                    pass

    def _find_namespace(self):
        """The namespace of a module whose code ran without calling a marked function and
        without Heron seeing its end: the ``__main__`` of ``python -m``, or a module whose
        functions hold this site's trampolines. None for code that was never run (a tool
        that only asked the loader for the code)."""
        main = sys.modules.get("__main__")
        if self.run_as_main and _same_file(getattr(main, "__file__", None) or "", self.filename):
            return main.__dict__
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for entry in self.entries:
                obj = namespace.get(entry.marker.name)
                if isinstance(obj, types.FunctionType) and entry.trampoline is not None and \
                        obj.__code__ is entry.trampoline:
                    return namespace
        return None


def _after_fork_in_child():
    """A child made by ``os.fork`` gets fresh locks: another thread of the parent may have
    held one at the fork, and would never release it here."""
    global _sites_lock
    _sites_lock = RLock()
    for site in _sites:
        site.lock = RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _settle_sites(final):
    with _sites_lock:
        sites = list(_sites)
    for site in sites:
        try:
            site.settle(final)
        except Exception:
            pass


def new_site(module_name, filename, source):
    """Make the site of a module about to run, from its source (see ``plan``).

    Returns:
        The site, or None when the module has no function marker.
    """
    return plan(module_name, filename, source)[0]


def plan(module_name, filename, source, script=False):
    """What Heron does with a module about to run: its site, and whether profiling mode
    watches it.

    Args:
        module_name: the module's name (as imported; ``__main__`` for the script).
        filename: its source file.
        source: its source, ``str`` or ``bytes``.
        script: it is the program's main script (``HERON_AUTO`` always covers it).

    Returns:
        ``(site, auto)``: the site, or None when the module has no function marker (its other
        markers are then recorded right away, under ``module_name``); ``auto`` is True when
        the module has a ``# heron: auto`` comment, or ``HERON_AUTO`` covers it (see
        ``heron._auto``). Markers with mistakes are warned about.

    Raises:
        SyntaxError, ValueError, UnicodeDecodeError: if the source does not decode or parse.
    """
    text = decode(source)
    markers = []
    if "heron:" in text:
        from heron._markers import find_markers
        markers = find_markers(text, filename)
    wanted = [m for m in markers if m.kind == "function"]
    refused = [m for m in markers if m.kind not in ("function", "auto")]
    auto = any(m.kind == "auto" for m in markers) or auto_requested(filename, script)
    if auto:
        wanted += _cached_markers(filename, source, wanted)
    for marker in refused:
        warn_about_marker(marker, filename, module_name)
    if not wanted:
        if markers:
            _report.forget_module(module_name, filename)
        for marker in refused:
            _record_refusal(marker, filename, module_name)
        return None, auto
    return Site(module_name, filename, wanted, refused), auto


def _cached_markers(filename, source, marked):
    """Markers for the functions profiling mode compiled in the module's last run (the profile
    cache, ``heron._profilecache``; option ``profile-cache``), but for those marked already."""
    from heron import _profilecache
    if not _profilecache.enabled():
        return []
    entries = _profilecache.load(os.path.abspath(filename), source)
    if not entries:
        return []
    from heron._markers import Marker
    lines = {m.lineno for m in marked} | {m.first_lineno for m in marked}
    return [Marker(e["name"], e.get("qualname") or e["name"], e["line"],
                   frozenset({"profile-cache"}), "function", e["line"], e["line"])
            for e in entries if e["line"] not in lines]


def auto_requested(filename, script=False):
    """Tell whether ``HERON_AUTO`` puts the module in ``filename`` in profiling mode (every
    module outside the standard library and site-packages, and the script)."""
    if not os.environ.get("HERON_AUTO"):
        return False
    from heron import _auto
    return _auto.env_enabled() and (script or _auto.eligible(filename))


def watch_auto(code, module_name, filename, site=None):
    """Have profiling mode watch the functions of the module code ``code`` (before it runs),
    but for those ``site`` (its markers) handles."""
    from heron import _auto
    skip = [(e.marker.name, e.marker.first_lineno) for e in site.entries] if site else ()
    _auto.watch_code(code, module_name, filename, skip)


def module_code(fullname, filename, code, source, run_as_main=False):
    """The code an imported module (or ``python -m``) runs, with trampolines in it.

    Args:
        fullname: the module's name.
        filename: its source file.
        code: the code object the loader made (from source or the byte-code cache; never
            written back: the cache keeps the original).
        source: the module's source bytes (it contains a marker).

    Returns:
        ``(code, site)``: ``site`` is None when there is no marked function to swap (then
        ``code`` is the loader's). While a debugger or coverage tool traces the program, no
        trampoline is put in (the functions are recorded as left alone once the module ran),
        and profiling mode does not watch it. Otherwise, in profiling mode (``# heron: auto``,
        ``HERON_AUTO``), its functions are watched (``heron._auto``).
        run_as_main: ``runpy`` asked for the code, to run it as ``__main__`` (``python -m``).
    """
    site, auto = plan(fullname, filename, source)
    if site is None and not auto:
        return code, None
    tool, traces = _report.runner()
    if site is not None:
        site.run_as_main = run_as_main
    if run_as_main and traces:    # pdb -m, coverage run -m: the main module stays plain
        if site is not None:
            site.aside = (f"Heron stood aside: the program ran under {tool}, and compiled "
                          f"code would hide the module's lines from it")
            _report.note(site.aside + ".")
        return code, site
    if tracer_in_use() is None:
        if site is not None:
            code = site.prepare(code)
        if auto:
            watch_auto(code, fullname, filename, site)
    return code, site


def module_ran(site, namespace):
    """An imported module's code has finished: see ``Site.module_ran``. Never raises for a
    marker Heron cannot take (it is recorded)."""
    site.module_ran(namespace)



# -- pickling a dispatcher ------------------------------------------------------------------

_unpickled = {}     # digest of a pickled function -> the dispatcher (or function) made of it
_unpickled_lock = RLock()


def reduce_dispatcher(dispatcher):
    """What ``pickle`` stores for ``dispatcher`` (its ``__reduce__``).

    By reference (its qualified name, as a plain function pickles) when its module can be
    imported where it is unpickled; for a function of the main script while cloudpickle is
    loaded (Dask, joblib and loky use it, and their workers do not run the script), by value:
    the function pickled by cloudpickle, rebuilt and compiled in the worker
    (``rebuild_dispatcher``), as Numba pickles a ``__main__`` function by value.
    """
    fn = dispatcher.py_func
    module = getattr(fn, "__module__", None)
    if module in ("__main__", "__mp_main__") and "cloudpickle" in sys.modules:
        import cloudpickle
        # The worker compiles from source, which it may not have: the script's text goes along
        # (cloudpickle itself keeps no file name).
        filename = fn.__code__.co_filename
        return (rebuild_dispatcher, (cloudpickle.dumps(fn), dict(dispatcher.options), filename,
                                     _source_text(filename)))
    return dispatcher.__qualname__


def _source_text(filename):
    """The text of the file ``filename`` as ``linecache`` has it ('' when it has none)."""
    import linecache
    return "".join(linecache.getlines(filename))


def _with_source(code, filename, source):
    """``code`` unpickled in another process, named again after ``filename`` (cloudpickle 3.1
    names it ``<dynamic-code>``), with ``source``, that file's text, put in ``linecache`` when
    this process cannot read the file (the compiler reads the function's source, and
    tracebacks show its lines)."""
    if not filename:
        return code
    import linecache
    if code.co_filename != filename:
        code = code.replace(co_filename=filename)
    if source and not linecache.getlines(filename):
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
    return code


def rebuild_dispatcher(payload, options, filename=None, source=None):
    """The dispatcher of the function pickled in ``payload`` (made once per payload in this
    process, so that a worker compiles each function once, not once per task); the plain
    function when Heron cannot take it. ``filename`` and ``source``: where the function was
    defined and that file's text (put in ``linecache`` when this process cannot read it)."""
    import hashlib
    import pickle
    key = hashlib.sha1(payload).hexdigest()
    with _unpickled_lock:
        done = _unpickled.get(key)
        if done is not None:
            return done
        fn = pickle.loads(payload)
        if isinstance(fn, types.FunctionType):
            fn.__code__ = _with_source(fn.__code__, filename, source)
        target = fn
        if not _env.disabled() and tracer_in_use() is None:
            dispatcher, _reason = make_dispatcher(fn, options)
            if dispatcher is not None:
                target = dispatcher
                code = fn.__code__
                _ensure_report()
                _report.add(getattr(fn, "__module__", "?") or "?", fn.__qualname__,
                            code.co_filename, code.co_firstlineno,
                            sorted(k for k, v in options.items() if v), "replaced", None,
                            dispatcher, more=True)
        _unpickled[key] = target
        return target
