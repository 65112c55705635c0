"""Start-up hook: what runs at every interpreter start through ``heron_hook.pth``.

``start()`` must cost well under a millisecond when nothing is marked and must never raise
(DESIGN.md, "The user's path", item 2). It imports nothing of Heron's, and nothing beyond
``sys`` and ``os`` (both already loaded by ``site``), unless a marker is found. It:

1. puts ``HeronFinder`` first on ``sys.meta_path``: a module loaded from ``.py`` source, and
   the module ``python -m`` runs, gets trampolines for its marked functions in the code the
   loader returns, before it runs (see ``heron._hook``);
2. if the script being run (``sys.argv[0]``, a ``.py`` file) carries a marker, has its
   ``__main__`` code get the same trampolines before it starts (see ``heron._mainhook``);
   with ``HERON_AUTO=1`` (profiling mode, ``heron._auto``), every module outside the standard
   library and site-packages, and the script, is handed to Heron even without a marker;
3. in a multiprocessing worker started with spawn or forkserver (``sys.orig_argv`` names
   ``multiprocessing.spawn`` or ``multiprocessing.forkserver``), does the same for the main
   script the worker runs as ``__mp_main__``;
4. when ``HERON_REPORT`` is set, arranges for the run's one report at exit (see
   ``heron._runs`` and ``heron._report``).

``HERON_DISABLE=1`` turns all of it off. The modules it calls (``heron._mainhook``,
``heron._hook``, ``heron._runs``, ``heron._report``, in that order of layers) never import it.
"""

import os
import sys

from _frozen_importlib_external import SourceFileLoader  # already loaded: a dict look-up

_MARK = b"heron:"
_started = False
_report_registered = False
_finder = None
_auto = False        # HERON_AUTO: profiling mode for every user module (read by start())

# The standard library never carries markers: its modules are not even looked at. Its
# site-packages (where a system Python keeps installed packages) still is.
_STDLIB = os.path.dirname(getattr(os, "__file__", None) or "")
_STDLIB = _STDLIB + os.sep if _STDLIB else None

_MP_WORKER_COMMANDS = ("from multiprocessing.spawn import spawn_main",
                       "from multiprocessing.forkserver import main")


def disabled():
    """Tell whether ``HERON_DISABLE`` asks for Heron to stay off (see ``heron._env.disabled``;
    the variable is only read here unless it is set)."""
    if not os.environ.get("HERON_DISABLE"):
        return False
    from heron import _env
    return _env.disabled()


def auto_enabled():
    """Tell whether ``HERON_AUTO`` asks for profiling mode in every user module."""
    value = os.environ.get("HERON_AUTO")
    return bool(value) and value.strip().lower() not in ("0", "false", "no", "off", "")


def start():
    """Install Heron's start-up hooks; called once by ``heron_hook.pth``.

    Returns at once when ``HERON_DISABLE`` is set. Safe to call more than once (some
    interpreters process a site directory, and so its ``.pth`` files, twice). Never raises: a
    failure becomes a ``HeronWarning``.
    """
    global _started, _auto
    if _started:
        return
    _started = True
    try:
        if disabled():
            return
        _auto = auto_enabled()
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
    """Arrange for the report to be written at exit, as ``HERON_REPORT`` asks (once).

    The first process of a run marks itself as the run's root in ``HERON_REPORT_RUN`` (unless
    it is a worker of a run with the same ``HERON_REPORT``), so that the processes it starts
    leave their records for it instead of writing the report (``heron._runs``).
    """
    global _report_registered
    if _report_registered:
        return
    _report_registered = True
    destination = os.environ.get("HERON_REPORT", "")
    run = os.environ.get("HERON_REPORT_RUN", "")
    pid, sep, run_destination = run.partition(":")
    if not sep or run_destination != destination or not pid.isdigit():
        os.environ["HERON_REPORT_RUN"] = f"{os.getpid()}:{destination}"
    import atexit  # built into the interpreter: no file is read
    atexit.register(_report_at_exit)


def _report_at_exit():
    try:
        from heron import _runs
        _runs.exit_report(os.environ.get("HERON_REPORT", ""))
    except Exception as exc:
        try:
            sys.stderr.write(f"heron: could not write the report ({type(exc).__name__}: {exc})\n")
        except Exception:
            pass


def warn(message, stacklevel=2):
    """Issue a ``HeronWarning`` (see ``heron._env.warn``); imports it only now; never raises."""
    try:
        from heron import _env
        _env.warn(message, stacklevel=stacklevel + 1)
    except Exception:
        pass


def _watch_main_script():
    """Watch ``__main__`` if ``sys.argv[0]`` is a ``.py`` script with a marker; in a spawn or
    forkserver worker, watch the main script it will run as ``__mp_main__``."""
    argv = getattr(sys, "argv", None)
    if not argv or not isinstance(argv[0], str) or not argv[0].endswith(".py"):
        # `-c`, `-m`, `-` (stdin), an interactive session, a console script
        if argv and argv[0] == "-c" and is_multiprocessing_worker():
            from heron import _mainhook
            _mainhook.watch_mp_main()
            if os.environ.get("HERON_REPORT"):
                from heron import _runs   # before the worker waits for its first task
                _runs.ensure_exit_hook()
        return
    try:
        if not is_regular_file(argv[0]):
            return  # a named pipe can be read only once: by the interpreter
        with open(argv[0], "rb") as file:
            data = file.read()
    except OSError:
        return
    if _MARK in data or _auto:
        from heron import _mainhook
        _mainhook.watch_main(argv[0], data, auto=_auto)


def is_multiprocessing_worker():
    """Tell whether this interpreter was started by multiprocessing to be a spawn worker or
    the forkserver (its command line is ``python -c 'from multiprocessing.spawn import
    spawn_main; ...' --multiprocessing-fork`` or ``... 'from multiprocessing.forkserver import
    main; ...'``, in ``sys.orig_argv``, 3.10+)."""
    for arg in getattr(sys, "orig_argv", ()):
        if arg.startswith(_MP_WORKER_COMMANDS):
            return True
    return False


def is_regular_file(path):
    """Tell whether ``path`` is a regular file (not a named pipe, a device or a directory),
    one that Heron can read without taking its content away from the interpreter.

    Raises:
        OSError: if ``path`` cannot be examined.
    """
    return (os.stat(path).st_mode & 0o170000) == 0o100000  # stat.S_ISREG, without `stat`


def _auto_wants(origin):
    """Does ``HERON_AUTO`` cover the module loaded from ``origin`` (one not in a
    ``site-packages`` or ``dist-packages`` directory; see ``heron._auto.eligible``)?"""
    if "-packages" not in origin:
        return True
    parts = origin.split(os.sep)
    return "site-packages" not in parts and "dist-packages" not in parts


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
    their exact type): only that one loader object's ``get_code`` and ``exec_module`` are
    replaced (``_get_code``, ``_exec_module``). ``runpy`` (``python -m``) finds the module
    through this finder and runs ``get_code``'s code, so it is covered too.
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
            method = type(self.find_spec)    # a bound method
            loader.get_code = method(_get_code, loader)
            loader.exec_module = method(_exec_module, loader)
        return spec

    def invalidate_caches(self):
        """Nothing cached here; present for ``importlib.invalidate_caches``."""


def _get_code(loader, fullname):
    """``get_code`` of a module's ``SourceFileLoader``: the loader's code (from source or the
    byte-code cache, which keeps the original), with trampolines for its marked functions
    (``heron._hook.module_code``). A failure of Heron's own part never breaks the import: it
    becomes a ``HeronWarning`` and the module runs as plain Python."""
    code = SourceFileLoader.get_code(loader, fullname)
    try:
        data = loader.get_data(loader.path)
        if _MARK in data or (_auto and _auto_wants(loader.path)):
            from heron import _hook
            by_runpy = sys._getframe(1).f_globals.get("__name__") == "runpy"
            code, site = _hook.module_code(fullname, loader.path, code, data, by_runpy)
            if site is not None:
                loader._heron_site = site
    except Exception as exc:
        warn(f"Heron could not look at module {fullname!r} "
             f"({type(exc).__name__}: {exc}); it runs as plain Python")
    return code


def _exec_module(loader, module):
    """``exec_module`` of a module's ``SourceFileLoader``: run the module as usual (its errors
    propagate unchanged), then swap what is still pending (``heron._hook.module_ran``)."""
    try:
        SourceFileLoader.exec_module(loader, module)
    except BaseException:
        loader.__dict__.pop("_heron_site", None)
        raise
    site = loader.__dict__.pop("_heron_site", None)
    if site is None:
        return
    try:
        from heron import _hook
        _hook.module_ran(site, module.__dict__)
    except Exception as exc:
        warn(f"Heron could not look at module {module.__name__!r} "
             f"({type(exc).__name__}: {exc}); it runs as plain Python")


# The import system hides its own frames from the traceback of an error raised while a module
# runs (or compiles). Giving these functions importlib's file name hides them with them, so
# that such a traceback is the same with Heron as without.
_get_code.__code__ = _get_code.__code__.replace(
    co_filename="<frozen importlib._bootstrap_external>")
_exec_module.__code__ = _exec_module.__code__.replace(
    co_filename="<frozen importlib._bootstrap_external>")
