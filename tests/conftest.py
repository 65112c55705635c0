"""Shared helpers: run real ``python script.py`` subprocesses with Heron's start-up hook on.

If the interpreter running pytest already loads Heron at start-up (Heron installed with its
``heron_hook.pth``), scripts run with it. Otherwise a throw-away virtual environment is made
once per session whose site-packages holds ``heron.pth`` (pointing at this checkout's
``python/``), the hook's ``.pth``, and a path file to the running interpreter's own
site-packages (for NumPy and friends).

Until the Rust ``Dispatcher`` exists, most tests run against a small pure-Python stand-in
(``native="fake"``), installed in the child as ``heron._native`` by a ``sitecustomize`` module;
``native="real"`` uses the real extension, and those tests skip while it lacks ``Dispatcher``.
"""

import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
HOOK_PTH = REPO / "sitecustomize" / "purelib" / "heron_hook.pth"

try:
    import heron  # noqa: F401
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(PYTHON_DIR))

# A pure-Python stand-in for heron._native, with the interface the Rust side provides.
FAKE_NATIVE = '''
"""Stand-in for heron._native (tests only): runs the Python function, counts calls."""
import functools
import os
import sys
import types


class Dispatcher:
    def __init__(self, fn, options):
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self.options = dict(options)
        self._calls = 0

    def __call__(self, *args, **kwargs):
        self._calls += 1
        return self.__wrapped__(*args, **kwargs)

    def __reduce__(self):
        return self.__qualname__

    def stats(self):
        calls = self._calls
        if os.environ.get("HERON_FAKE_FAIL"):
            code = self.__wrapped__.__code__
            return {"calls": calls, "native_calls": 0, "fallback_calls": calls,
                    "signatures": [], "compile_time_s": 0.0, "native_time_s": 0.0,
                    "failures": [{"signature": "(str)", "reason": "cannot compile <str> & co",
                                  "file": code.co_filename, "line": code.co_firstlineno + 1}]}
        return {"calls": calls, "native_calls": calls, "fallback_calls": 0,
                "signatures": ["(int64)"] if calls else [],
                "compile_time_s": 0.0012 if calls else 0.0, "native_time_s": 0.0005 * calls,
                "failures": []}


module = types.ModuleType("heron._native")
module.Dispatcher = Dispatcher
module.FAKE = True
sys.modules["heron._native"] = module
'''

SITECUSTOMIZE = {
    "fake": "import _heron_fake_native\n",
    # Importing heron._native fails, as when the extension is missing or broken.
    "broken": "import sys\nsys.modules['heron._native'] = None\n",
}


def _hook_is_active(python):
    env = child_env()
    out = subprocess.run([python, "-c", "import sys; print('heron._boot' in sys.modules)"],
                         env=env, capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


def child_env(extra=None):
    """The environment for child interpreters: ours, without HERON_* and PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERON_") and k != "PYTHONPATH"}
    env.update(extra or {})
    return env


def make_hook_env(python, dest, outer_site_packages=()):
    """Make a virtual environment at ``dest`` for ``python`` where Heron's hook is on.

    Returns:
        The path of the environment's interpreter.
    """
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True,
                   capture_output=True, timeout=120)
    exe = dest / "bin" / "python"
    purelib = subprocess.run(
        [str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    purelib = Path(purelib)
    (purelib / "heron.pth").write_text(str(PYTHON_DIR) + "\n")
    (purelib / HOOK_PTH.name).write_text(HOOK_PTH.read_text())
    if outer_site_packages:
        (purelib / "outer_site.pth").write_text("\n".join(outer_site_packages) + "\n")
    return str(exe)


@pytest.fixture(scope="session")
def heron_python(tmp_path_factory):
    """An interpreter that runs Heron's start-up hook (see the module docstring)."""
    if _hook_is_active(sys.executable):
        return sys.executable
    outer = [p for p in site.getsitepackages() + [site.getusersitepackages()]
             if os.path.isdir(p)]
    return make_hook_env(sys.executable, tmp_path_factory.mktemp("heron-env"), outer)


def _has_real_dispatcher(python):
    out = subprocess.run(
        [python, "-c", "import heron._native as n; print(hasattr(n, 'Dispatcher'))"],
        env=child_env({"HERON_DISABLE": "1"}), capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


@pytest.fixture(scope="session")
def real_native(heron_python):
    """Skip unless the Rust extension with its Dispatcher is built."""
    if not _has_real_dispatcher(heron_python):
        pytest.skip("heron._native with Dispatcher is not built yet")
    return True


def _native_dir(tmp_path, native):
    """A directory to put on PYTHONPATH that installs the requested heron._native."""
    if native not in SITECUSTOMIZE:
        return None
    path = tmp_path / f"_native_{native}"
    path.mkdir(exist_ok=True)
    (path / "_heron_fake_native.py").write_text(FAKE_NATIVE)
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE[native])
    return path


def run_python(python, tmp_path, argv, env=None, native="fake", stdin=None, cwd=None,
               timeout=120):
    """Run ``python ARGV`` in ``tmp_path`` (or ``cwd``); see ``run_script``."""
    extra = dict(env or {})
    native_dir = _native_dir(tmp_path, native)
    if native_dir is not None:
        extra["PYTHONPATH"] = str(native_dir)
    return subprocess.run([python] + list(argv), cwd=str(cwd or tmp_path),
                          env=child_env(extra), input=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def run_script(heron_python):
    """Run a script as ``python script.py ARGS`` in a fresh interpreter with Heron's hook.

    Call as ``run_script(tmp_path, source, env=None, args=())``; more keywords:
    ``files`` (dict of other files to write, relative to ``tmp_path``), ``native``
    (``"fake"`` stand-in, the default; ``"real"``; ``"broken"``: importing it fails),
    ``name`` (the script's file name), ``python`` (another interpreter), ``stdin``.

    Returns:
        The ``subprocess.CompletedProcess`` (text stdout and stderr).
    """
    def run(tmp_path, source, env=None, args=(), files=None, native="fake", name="script.py",
            python=None, stdin=None):
        for rel, text in (files or {}).items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text))
        (tmp_path / name).write_text(textwrap.dedent(source))
        return run_python(python or heron_python, tmp_path, [name] + [str(a) for a in args],
                          env=env, native=native, stdin=stdin)
    return run


@pytest.fixture
def run_cmd(heron_python):
    """Run ``python ARGV`` (a list) in ``tmp_path`` with Heron's hook; keywords as
    ``run_script``."""
    def run(tmp_path, argv, env=None, native="fake", stdin=None, python=None):
        return run_python(python or heron_python, tmp_path, argv, env=env, native=native,
                          stdin=stdin)
    return run


def without_report_line(stderr):
    """``stderr`` without the line Heron prints when it writes a report file ("Heron report
    written to ..."): the only output a Heron run adds, by design."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("Heron report written to "))


def compare_with_cpython(heron_python, tmp_path, source, args=(), flags=()):
    """Run ``source`` as ``python FLAGS script.py ARGS`` with the real extension, once with
    Heron (its report to a file) and once with ``HERON_DISABLE=1``; assert the same stdout,
    stderr (less the report line) and exit status.

    Returns:
        ``(heron run, {qualname: report record})``.
    """
    import json

    (tmp_path / "script.py").write_text(textwrap.dedent(source))
    report = tmp_path / "report.json"
    argv = list(flags) + ["script.py"] + list(args)
    heron = run_python(heron_python, tmp_path, argv, native="real", env={"HERON_REPORT": str(report)})
    plain = run_python(heron_python, tmp_path, argv, native="real", env={"HERON_DISABLE": "1"})
    detail = (f"\n--- Heron (rc {heron.returncode}):\n{heron.stdout}{heron.stderr}"
              f"\n--- Python (rc {plain.returncode}):\n{plain.stdout}{plain.stderr}")
    assert heron.stdout == plain.stdout, "stdout differs" + detail
    assert without_report_line(heron.stderr) == plain.stderr, "stderr differs" + detail
    assert heron.returncode == plain.returncode, detail
    return heron, {r["qualname"]: r for r in json.loads(report.read_text())}


# Profiling mode finds hot code on CPython 3.10 and 3.11 by sampling the running program (a
# thread looks every 10 ms; sys.monitoring counts exactly on 3.12+): whether a function is seen
# hot within a short test program depends on the machine's timing, and a loaded 2-core machine
# misses one about 1 run in 6 (and runs in a row when the machine is busy: a second apart, they
# are less alike). Those tests run again, up to 5 times a second apart, when they fail there
# (pytest-rerunfailures, when installed): a real failure fails all 6 runs.
_SAMPLING_TESTS = ("test_auto.py", "test_lift.py", "test_osr.py", "test_profile_cache.py",
                   "test_annotate.py", "test_notebook.py")


def pytest_collection_modifyitems(config, items):
    if sys.version_info >= (3, 12) or not config.pluginmanager.hasplugin("rerunfailures"):
        return
    for item in items:
        if item.fspath.basename in _SAMPLING_TESTS:
            item.add_marker(pytest.mark.flaky(reruns=5, reruns_delay=1))
