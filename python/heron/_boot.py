"""Start-up hook: runs at every interpreter start through ``heron_hook.pth``.

``start()`` must cost well under a millisecond when nothing is marked and must never raise. It
imports nothing beyond ``sys`` and ``os`` (both already loaded by ``site``) unless a marker is
found. It does three things:

1. puts ``HeronFinder`` first on ``sys.meta_path``; modules loaded from ``.py`` source then,
   after they ran, get their marked functions replaced (see ``heron._hook``);
2. if the script being run (``sys.argv[0]``, a ``.py`` file) carries a marker, arranges for the
   marked functions of ``__main__`` to be replaced as soon as they are defined
   (see ``heron._mainhook``);
3. registers the exit report when ``HERON_REPORT`` is set.

``HERON_DISABLE=1`` turns all of it off.
"""

import os
import sys

from _frozen_importlib_external import SourceFileLoader  # already loaded: a dict look-up

_MARK = b"heron:"
_started = False
_report_registered = False
_finder = None

# The standard library never carries markers: its modules are not even looked at. Its
# site-packages (where a system Python keeps installed packages) still is.
_STDLIB = os.path.dirname(getattr(os, "__file__", None) or "")
_STDLIB = _STDLIB + os.sep if _STDLIB else None


def disabled():
    """Tell whether ``HERON_DISABLE`` asks for Heron to stay off.

    Returns:
        True when the variable is set to anything but ``""``, ``"0"``, ``"false"`` or ``"no"``.
    """
    value = os.environ.get("HERON_DISABLE", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def start():
    """Install Heron's start-up hooks; called once by ``heron_hook.pth``.

    Returns at once when ``HERON_DISABLE`` is set. Safe to call more than once (some
    interpreters process a site directory, and so its ``.pth`` files, twice). Never raises: a
    failure becomes a ``HeronWarning``.
    """
    global _started
    if _started:
        return
    _started = True
    try:
        if disabled():
            return
        install_finder()
        if os.environ.get("HERON_REPORT"):
            register_report()
        _watch_main_script()
    except Exception as exc:  # never break start-up
        warn(f"Heron's start-up hook failed ({type(exc).__name__}: {exc}); the script's marked "
             "functions run as plain Python")


def install_finder():
    """Put ``HeronFinder`` first on ``sys.meta_path`` (once).

    Returns:
        The installed finder.
    """
    global _finder
    if _finder is None:
        _finder = HeronFinder()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    return _finder


def register_report():
    """Arrange for the report to be written at exit, as ``HERON_REPORT`` asks (once)."""
    global _report_registered
    if _report_registered:
        return
    _report_registered = True
    import atexit  # built into the interpreter: no file is read
    atexit.register(_report_at_exit)


def _report_at_exit():
    destination = os.environ.get("HERON_REPORT", "")
    if not destination:
        return
    try:
        from heron import _report
        _report.write_report(destination)
    except Exception as exc:
        try:
            sys.stderr.write(f"heron: could not write the report ({type(exc).__name__}: {exc})\n")
        except Exception:
            pass


def warn(message, stacklevel=2):
    """Issue a ``HeronWarning``; imports ``warnings`` only now, and never raises."""
    try:
        import warnings
        from heron import HeronWarning
        warnings.warn(message, HeronWarning, stacklevel=stacklevel + 1)
    except Exception:
        pass


def _watch_main_script():
    """If ``sys.argv[0]`` is a ``.py`` script with a marker, watch ``__main__`` for it."""
    argv = getattr(sys, "argv", None)
    if not argv or not isinstance(argv[0], str) or not argv[0].endswith(".py"):
        return  # `-c`, `-m`, `-` (stdin), an interactive session, a console script
    try:
        if not is_regular_file(argv[0]):
            return  # a named pipe can be read only once: by the interpreter
        with open(argv[0], "rb") as file:
            data = file.read()
    except OSError:
        return
    if _MARK in data:
        from heron import _mainhook
        _mainhook.watch_main(argv[0], data)


def is_regular_file(path):
    """Tell whether ``path`` is a regular file (not a named pipe, a device or a directory),
    one that Heron can read without taking its content away from the interpreter.

    Raises:
        OSError: if ``path`` cannot be examined.
    """
    return (os.stat(path).st_mode & 0o170000) == 0o100000  # stat.S_ISREG, without `stat`


def _wants(fullname, origin):
    """Should Heron look for markers in the module ``fullname`` loaded from ``origin``?"""
    if fullname == "heron" or fullname.startswith("heron."):
        return False
    if _STDLIB and origin.startswith(_STDLIB) and "-packages" not in origin:
        return False
    return True


class HeronFinder:
    """Meta-path finder that has plain ``.py`` modules replace their marked functions.

    It asks the finders after it on ``sys.meta_path`` for the module's spec, as the import
    system would, and only touches specs whose loader is exactly ``SourceFileLoader``:
    Extension modules, namespace packages, modules without source, frozen and zip-imported
    modules, and those found by finders ahead of it (pytest's assertion rewriter) are left as
    they are. The loader keeps its class (code such as pip's ``distlib`` looks loaders up by
    their exact type): only that one loader object's ``exec_module`` is replaced, by one that
    runs the module as usual and then replaces its marked functions (``_exec_module``).
    """

    def find_spec(self, fullname, path=None, target=None):
        """Find ``fullname``'s spec through the following finders; see ``importlib.abc``."""
        meta_path = sys.meta_path
        try:
            after = meta_path[meta_path.index(self) + 1:]
        except ValueError:
            return None
        for finder in after:
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None  # a legacy finder: let the import system handle the rest
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if type(loader) is SourceFileLoader and _wants(fullname, loader.path):
            loader.exec_module = type(self.find_spec)(_exec_module, loader)  # a bound method
        return spec

    def invalidate_caches(self):
        """Nothing cached here; present for ``importlib.invalidate_caches``."""


def _exec_module(loader, module):
    """``exec_module`` of a module's ``SourceFileLoader``: run the module as usual (its errors
    propagate unchanged), then swap its marked functions. A failure of Heron's own part never
    breaks the import: it becomes a ``HeronWarning``."""
    SourceFileLoader.exec_module(loader, module)
    try:
        data = loader.get_data(loader.path)
        if _MARK in data:
            from heron import _hook
            _hook.replace_marked(module.__dict__, loader.path, data, module.__name__)
    except Exception as exc:
        warn(f"Heron could not look at module {module.__name__!r} "
             f"({type(exc).__name__}: {exc}); it runs as plain Python")


# The import system hides its own frames from the traceback of an error raised while a module
# runs (or compiles). Giving this function importlib's file name hides it with them, so that
# such a traceback is the same with Heron as without.
_exec_module.__code__ = _exec_module.__code__.replace(
    co_filename="<frozen importlib._bootstrap_external>")
