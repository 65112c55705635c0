"""Replace the marked functions of the script being run (``__main__``) as soon as they exist.

The script is not imported through ``sys.meta_path``, so the import hook never sees it. The
interpreter runs its module code right after start-up; this module watches that code run and
swaps each marked function in as soon as its ``def`` has run, before anything can call it:

* Python 3.12+: ``sys.monitoring`` with a free tool id. A ``PY_START`` event finds the script's
  ``<module>`` code object (every other code object gets ``DISABLE`` and is never reported
  again); then ``LINE`` events on that code object only, until every marked name is swapped,
  when the tool id is freed. Other code runs at full speed.
* Python 3.10 and 3.11: ``sys.settrace`` with a trace function that traces only the script's
  module frame, removed (``sys.settrace(None)`` and ``frame.f_trace = None``) as soon as every
  marked name is swapped or the module frame returns. Tracing slows all Python code down while
  it is on, so it is suspended while a module-level ``import`` statement runs (the usual heavy
  part of a script's top): ``builtins.__import__`` is wrapped for the duration of that one
  statement, and turns tracing back on when the import returns.

Each check looks the marked names up in ``sys.modules["__main__"].__dict__`` and swaps a name
once it holds the function defined at the marked line of this file.
"""

import builtins
import os
import sys
from _thread import get_ident

from heron import _boot, _hook

_watchers = []


def watch_main(path, data=None):
    """Arrange for the marked functions of the script ``path`` to be replaced when defined.

    Args:
        path: the script as given on the command line (``sys.argv[0]``).
        data: its bytes, if already read.

    Returns:
        The watcher, or None when the script has no function marker to watch (refused
        markers are recorded in the report right away). Never raises for a script that does
        not parse: the interpreter reports that itself when it runs it.
    """
    if data is None:
        with open(path, "rb") as file:
            data = file.read()
    from heron._markers import find_markers
    try:
        text = _hook._decode(data)
        markers = find_markers(text, path)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return None
    filename = os.path.abspath(path)
    import_lines = _module_import_lines(text) if sys.version_info < (3, 12) else ()
    wanted = []
    for marker in markers:
        if marker.kind == "function":
            wanted.append(marker)
        else:
            _hook.refuse(marker, filename, "__main__")
    if not wanted:
        return None
    # The interpreter names the script's code after the path as given, joined to the current
    # directory without normalising it ("/home/me/./run.py").
    names = {path, filename, os.path.join(os.getcwd(), path)}
    watcher = MainWatcher(names, filename, wanted, import_lines)
    _watchers.append(watcher)
    watcher.start()
    return watcher


def _module_import_lines(text):
    """Lines where an ``import`` statement of the module's own code starts."""
    import ast
    lines = set()
    stack = list(ast.parse(text).body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.add(node.lineno)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(child for child in ast.iter_child_nodes(node)
                         if isinstance(child, ast.stmt))
    return frozenset(lines)


def finish():
    """Settle the report at exit: record what is still pending as left alone (the script may
    have raised before its marked functions were defined, and then no return event came), and
    a swapped function whose name the script bound again later as not replaced."""
    for watcher in _watchers:
        if watcher.pending:
            watcher.check(final=True)
        watcher.check_swapped()


class MainWatcher:
    """Watches the module code of one script and swaps its marked functions when defined."""

    def __init__(self, filenames, filename, markers, import_lines=()):
        self.filenames = frozenset(filenames)
        self.import_lines = frozenset(import_lines)
        self.import_depth = 0
        self.real_import = None
        self.filename = filename
        self.pending = sorted(markers, key=lambda m: m.first_lineno)
        self.tool = None
        self.code = None
        self.frame = None
        self.heron_import = None
        self.namespace = None
        self.swapped = []   # (marker, dispatcher)

    # -- shared -----------------------------------------------------------------------------

    def start(self):
        """Start watching with the mechanism this Python version offers."""
        if sys.version_info >= (3, 12):
            self._start_monitoring()
        else:
            sys.settrace(self._global_trace)

    def check(self, final=False):
        """Swap every pending marked function that is now defined in ``__main__``.

        Args:
            final: the module code has finished; record what is still missing as left alone.

        Returns:
            True when nothing is pending any more.
        """
        namespace = self.namespace
        if namespace is None:
            namespace = getattr(sys.modules.get("__main__"), "__dict__", None)
            if namespace is None:
                return not self.pending
            self.namespace = namespace
        still = []
        for marker in self.pending:
            try:
                done = _hook.try_swap(namespace, marker, self.filename, "__main__", final)
            except Exception as exc:
                _boot.warn(f"Heron could not replace {marker.qualname} "
                           f"({type(exc).__name__}: {exc}); it runs as plain Python")
                done = False
            if done is None:
                still.append(marker)
            elif done:
                self.swapped.append((marker, namespace.get(marker.name)))
        self.pending = still
        return not still

    def check_swapped(self):
        """Record as left alone each swapped function whose name now holds something else."""
        for marker, dispatcher in self.swapped:
            current = self.namespace.get(marker.name)
            if current is not dispatcher and not _stepped_aside(dispatcher, current):
                _hook.record_not_found(self.namespace, marker, self.filename, "__main__")
        self.swapped = []

    def _is_script(self, code):
        return code.co_name == "<module>" and code.co_filename in self.filenames

    # -- Python 3.12+: sys.monitoring --------------------------------------------------------

    def _start_monitoring(self):
        mon = sys.monitoring
        for tool in (mon.OPTIMIZER_ID, 3, 4):  # 5 is the optimizer's id; 3 and 4 are unnamed
            if mon.get_tool(tool) is None:
                break
        else:
            _boot.warn("Heron found no free sys.monitoring tool id; the marked functions of "
                       "the script run as plain Python (modules it imports are not affected)")
            return
        mon.use_tool_id(tool, "heron")
        self.tool = tool
        mon.register_callback(tool, mon.events.PY_START, self._on_start)
        mon.set_events(tool, mon.events.PY_START)

    def _on_start(self, code, offset):
        mon = sys.monitoring
        try:
            if not self._is_script(code):
                return mon.DISABLE
            self.code = code
            mon.set_events(self.tool, 0)
            mon.register_callback(self.tool, mon.events.PY_START, None)
            mon.register_callback(self.tool, mon.events.LINE, self._on_line)
            mon.register_callback(self.tool, mon.events.PY_RETURN, self._on_return)
            mon.set_local_events(self.tool, code, mon.events.LINE | mon.events.PY_RETURN)
        except Exception as exc:
            self._stop_monitoring()
            _boot.warn(f"Heron could not watch the script ({type(exc).__name__}: {exc})")
        return None

    def _on_line(self, code, line):
        try:
            if self.check():
                self._stop_monitoring()
                return None
            # Lines above every pending def can never be where one is swapped: stop hearing
            # about them (a loop over them then runs at full speed).
            if line < self.pending[0].first_lineno:
                return sys.monitoring.DISABLE
        except Exception:
            self._stop_monitoring()
        return None

    def _on_return(self, code, offset, retval):
        try:
            self.check(final=True)
        finally:
            self._stop_monitoring()

    def _stop_monitoring(self):
        tool, self.tool = self.tool, None
        if tool is None:
            return
        mon = sys.monitoring
        try:
            mon.set_events(tool, 0)
            if self.code is not None:
                mon.set_local_events(tool, self.code, 0)
            for event in (mon.events.PY_START, mon.events.LINE, mon.events.PY_RETURN):
                mon.register_callback(tool, event, None)
        finally:
            mon.free_tool_id(tool)

    # -- Python 3.10 and 3.11: sys.settrace --------------------------------------------------

    def _global_trace(self, frame, event, arg):
        try:
            if event != "call" or not self._is_script(frame.f_code):
                return None
            self.frame = frame
            return self._local_trace
        except Exception:
            self._stop_tracing()
            return None

    def _local_trace(self, frame, event, arg):
        try:
            if event == "line":
                if self.check():
                    self._stop_tracing()
                    return None
                if frame.f_lineno in self.import_lines and self.real_import is None:
                    self._suspend_for_import()
            elif event == "return":
                self.check(final=True)
                self._stop_tracing()
                return None
        except Exception:
            self._stop_tracing()
            return None
        return self._local_trace

    def _suspend_for_import(self):
        """Turn tracing off until the import statement about to run returns."""
        real_import = builtins.__import__
        watcher = self
        thread = get_ident()

        def heron_import(*args, **kwargs):
            if get_ident() != thread:
                return real_import(*args, **kwargs)
            watcher.import_depth += 1
            try:
                return real_import(*args, **kwargs)
            finally:
                watcher.import_depth -= 1
                if watcher.import_depth == 0:
                    watcher._resume_after_import()

        self.real_import = real_import
        self.heron_import = heron_import
        builtins.__import__ = heron_import
        sys.settrace(None)

    def _resume_after_import(self):
        # No import statement in here: it would call heron_import again.
        real_import, self.real_import = self.real_import, None
        if builtins.__import__ is self.heron_import:
            builtins.__import__ = real_import
        self.heron_import = None
        if self.frame is not None and sys.gettrace() is None:
            sys.settrace(self._global_trace)

    def _stop_tracing(self):
        if sys.gettrace() == self._global_trace:
            sys.settrace(None)
        frame, self.frame = self.frame, None
        if frame is not None:
            frame.f_trace = None


def _stepped_aside(dispatcher, current):
    """Did the dispatcher put its own function back (it could never run native code)?"""
    try:
        return current is dispatcher.__wrapped__ and dispatcher.stats().get("stepped_aside")
    except Exception:
        return False
