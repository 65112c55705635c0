"""The main script's marked functions: ``__main__`` (``python script.py``, ``heron run``) and
the ``__mp_main__`` of spawn and forkserver workers.

The script is not imported through ``sys.meta_path``, so the import hook never sees it: the
interpreter compiles it itself and runs it right after start-up. Heron only needs its code
object before the first instruction runs, to put trampolines in its constants in place
(``heron._trampoline.substitute_in_place``); then it stops watching, and the script runs at
full speed whatever it does (issue 9, item 8):

* Python 3.12+: ``sys.monitoring`` with a free tool id and only the ``PY_START`` event. Every
  code object that starts before the script's gets ``DISABLE`` (one callback each, during
  start-up); the script's ``<module>`` code is then patched and the tool id freed.
* Python 3.10 and 3.11: ``sys.settrace`` with a global trace function that returns None for
  every frame (so no line is ever traced), until the ``call`` event of the script's module
  frame, where it patches the code and calls ``sys.settrace(None)``.

Both also stop at the first ``<module>`` code that runs with no caller and is not the script
(the interactive prompt after a script that failed to compile), so nothing is left behind.

Spawn and forkserver workers run the main script with ``runpy.run_path(path,
run_name="__mp_main__")`` (``multiprocessing.spawn._fixup_main_from_path``). In those
processes only, ``runpy.run_path`` is wrapped: for ``__mp_main__`` it has runpy's own
``_get_code_from_file`` return the code with trampolines, and once the module ran it swaps
what is still pending, in the module's namespace and in the copy ``run_path`` returns.
"""

import os
import sys

from heron import _env, _hook

_watchers = []


def _script_site(path, data):
    """The site of the script ``path`` (bytes ``data``), or None (nothing to swap, or it does
    not parse: the interpreter reports that itself when it runs it)."""
    return _script_plan(path, data)[0]


def _script_plan(path, data, auto=False, module_name="__main__"):
    """``(site, auto)`` of the script ``path`` (bytes ``data``), see ``heron._hook.plan``:
    ``auto`` is True when profiling mode watches it (``auto`` given, or a ``# heron: auto``
    comment). A script that does not parse gets ``(None, False)``: the interpreter reports
    that itself when it runs it."""
    if b"heron:" not in data:
        if not auto:
            return None, False
        # Profiling mode: the script's decisions of its last run, if any (heron._profilecache)
        from heron import _profilecache
        full = os.path.abspath(path)
        _profilecache.note(full, data)
        if not (_profilecache.enabled() and _profilecache.exists(full)):
            return None, True
    try:
        site, marked_auto = _hook.plan(module_name, os.path.abspath(path), data, script=True)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return None, False
    return site, bool(auto or marked_auto)


def watch_main(path, data=None, auto=False):
    """Arrange for the marked functions of the script ``path`` to get trampolines before the
    script starts, and, in profiling mode, for its functions to be watched.

    Args:
        path: the script as given on the command line (``sys.argv[0]``).
        data: its bytes, if already read.
        auto: ``HERON_AUTO`` is on (a ``# heron: auto`` comment in the script does the same).

    Returns:
        The watcher, or None when the script has no function marker and profiling mode is off
        (refused markers are recorded in the report right away).

    Raises:
        OSError: if ``data`` is not given and ``path`` cannot be read.
    """
    if data is None:
        with open(path, "rb") as file:
            data = file.read()
    site, auto = _script_plan(path, data, auto)
    if site is None and not auto:
        return None
    # The interpreter names the script's code after the path as given, joined to the current
    # directory without normalising it ("/home/me/./run.py").
    full = os.path.abspath(path)
    names = {path, full, os.path.join(os.getcwd(), path)}
    watcher = MainWatcher(names, site, auto, full)
    _watchers.append(watcher)
    watcher.start()
    return watcher


class MainWatcher:
    """Finds the script's module code when it starts, and puts the trampolines in it."""

    def __init__(self, filenames, site, auto=False, filename=None):
        self.filenames = frozenset(filenames)
        self.site = site
        self.auto = auto
        self.filename = filename or (site.filename if site is not None else None)
        self.tool = None
        self.done = False

    def start(self):
        """Start watching with the mechanism this Python version offers."""
        if sys.version_info >= (3, 12):
            self._start_monitoring()
        else:
            sys.settrace(self._global_trace)

    def _found(self, code, frame):
        """``code`` starts running (``frame``): patch it if it is the script's; returns True
        when watching can stop."""
        if code.co_name != "<module>":
            return False
        if code.co_filename in self.filenames:
            self.done = True
            if self.site is not None:
                try:
                    self.site.set_namespace(frame.f_globals)
                    self.site.prepare(code, in_place=True)
                except Exception as exc:
                    _env.warn(f"Heron could not prepare the script's marked functions "
                              f"({type(exc).__name__}: {exc}); they run as plain Python")
            if self.auto and _hook.tracer_in_use() is None:
                _hook.watch_auto(code, "__main__", self.filename, self.site)
            return True
        return frame.f_back is None   # the prompt, `-c` ...: the script will not run

    # -- Python 3.12+: sys.monitoring --------------------------------------------------------

    def _start_monitoring(self):
        mon = sys.monitoring
        for tool in (mon.OPTIMIZER_ID, 3, 4):  # 5 is the optimizer's id; 3 and 4 are unnamed
            if mon.get_tool(tool) is None:
                break
        else:
            _env.warn("Heron found no free sys.monitoring tool id; the marked functions of "
                      "the script run as plain Python (modules it imports are not affected)")
            return
        mon.use_tool_id(tool, "heron")
        self.tool = tool
        mon.register_callback(tool, mon.events.PY_START, self._on_start)
        mon.set_events(tool, mon.events.PY_START)

    def _on_start(self, code, offset):
        try:
            if not self._found(code, sys._getframe(1)):
                return sys.monitoring.DISABLE
        except Exception:
            pass
        self._stop_monitoring()
        return None

    def _stop_monitoring(self):
        tool, self.tool = self.tool, None
        if tool is None:
            return
        mon = sys.monitoring
        try:
            mon.set_events(tool, 0)
            mon.register_callback(tool, mon.events.PY_START, None)
        finally:
            mon.free_tool_id(tool)

    # -- Python 3.10 and 3.11: sys.settrace --------------------------------------------------

    def _global_trace(self, frame, event, arg):
        try:
            if event == "call" and not self._found(frame.f_code, frame):
                return None
        except Exception:
            pass
        if sys.gettrace() == self._global_trace:
            sys.settrace(None)
        return None


# -- spawn and forkserver workers: __mp_main__ ------------------------------------------------

_mp_state = {"real_run_path": None}


def watch_mp_main():
    """In a spawn or forkserver worker, have the main script that multiprocessing runs as
    ``__mp_main__`` get trampolines (see the module docstring). Never raises."""
    try:
        import runpy
        if _mp_state["real_run_path"] is not None:
            return
        real = runpy.run_path
        _mp_state["real_run_path"] = real

        def run_path(path_name, init_globals=None, run_name=None):
            if run_name != "__mp_main__":
                return real(path_name, init_globals, run_name)
            return _run_mp_main(real, path_name, init_globals, run_name)

        run_path.__doc__ = real.__doc__
        run_path.__wrapped__ = real
        runpy.run_path = run_path
    except Exception as exc:
        _env.warn(f"Heron could not watch the worker's main module "
                  f"({type(exc).__name__}: {exc}); its marked functions run as plain Python")


def _run_mp_main(real, path_name, init_globals, run_name):
    import runpy
    site = None
    auto = False
    try:
        if isinstance(path_name, str) and path_name.endswith(".py"):
            with open(path_name, "rb") as file:
                data = file.read()
            site, auto = _script_plan(path_name, data, _hook.auto_requested(path_name, True),
                                      "__mp_main__")
    except OSError:
        site = None
    if (site is None and not auto) or _hook.tracer_in_use() is not None:
        return real(path_name, init_globals, run_name)
    if site is not None:
        site.name = "__mp_main__"
    get_code = runpy._get_code_from_file
    filename = os.path.abspath(path_name)

    def prepare(code):
        if site is not None:
            code = site.prepare(code)
        if auto:
            _hook.watch_auto(code, "__mp_main__", filename, site)
        return code

    def get_code_with_trampolines(*args, **kwargs):
        result = get_code(*args, **kwargs)
        try:
            if isinstance(result, tuple):      # 3.10-3.12: (code, fname)
                return (prepare(result[0]),) + tuple(result[1:])
            return prepare(result)             # 3.13+: code
        except Exception:
            return result

    runpy._get_code_from_file = get_code_with_trampolines
    try:
        content = real(path_name, init_globals, run_name)
    finally:
        if runpy._get_code_from_file is get_code_with_trampolines:
            runpy._get_code_from_file = get_code
    try:
        if site is not None:
            _finish_mp_main(site, content)
    except Exception as exc:
        _env.warn(f"Heron could not finish the worker's main module "
                  f"({type(exc).__name__}: {exc})")
    return content


def _finish_mp_main(site, content):
    """``run_path`` ran the module in a namespace of its own and returned a copy of it: swap
    what is pending in the namespace the functions see, then bring the copy up to date."""
    namespace = site.namespace
    if namespace is None:
        for entry in site.entries:
            fn = content.get(entry.marker.name)
            globals_ = getattr(fn, "__globals__", None)
            if isinstance(globals_, dict) and globals_.get("__name__") == "__mp_main__":
                namespace = globals_
                break
    if namespace is None:
        namespace = content
    site.module_ran(namespace)
    if namespace is not content:
        for entry in site.entries:
            name = entry.marker.name
            if name in namespace and content.get(name) is not namespace[name]:
                content[name] = namespace[name]

