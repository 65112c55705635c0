"""The command line: ``python -m heron report FILE.json``, ``python -m heron run SCRIPT [ARGS]`` and
``python -m heron annotate SCRIPT [ARGS]``."""

import argparse
import json
import os
import sys


def _report(args):
    # Reading a report is not a run to report on: with HERON_REPORT still set, this process
    # would write its own empty report at exit, over the file being read.
    os.environ.pop("HERON_REPORT", None)
    from heron import _report
    try:
        with open(args.file, encoding="utf-8") as file:
            recs = json.load(file)
    except (OSError, ValueError) as exc:
        print(f"heron: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(recs, list):
        print(f"heron: {args.file} is not a Heron report (expected a JSON list)", file=sys.stderr)
        return 2
    full = []
    for rec in recs:
        row = {key: None for key in _report.FIELDS}
        row.update({"options": [], "signatures": [], "failures": [], "calls": 0,
                    "native_calls": 0, "fallback_calls": 0, "compile_time_s": 0.0,
                    "native_time_s": 0.0})
        row.update(rec)
        full.append(row)
    sys.stdout.write(_report.format_table(full, _report.notes()))
    return 0


def _run(args):
    """Run a script as ``__main__`` with Heron's hooks on, as ``python SCRIPT ARGS`` would."""
    import runpy
    from heron import _boot
    script = args.script
    try:
        with open(script, "rb") as file:
            data = file.read()
    except OSError as exc:
        print(f"heron: cannot open {script}: {exc}", file=sys.stderr)
        return 2
    sys.argv = [script] + list(args.args)
    # As `python SCRIPT` since 3.9: the main module's file (and so its tracebacks and
    # warnings) is the absolute path, argv[0] as typed.
    script = os.path.abspath(script)
    sys.path.insert(0, os.path.dirname(script))
    if not _boot.disabled():
        _boot._auto = _boot.auto_enabled()
        _boot.install_finder()
        if os.environ.get("HERON_REPORT"):
            _boot.register_report()
        auto = _boot._auto
        if b"heron:" in data or auto:
            from heron import _mainhook
            _mainhook.watch_main(script, data, auto=auto)
    runpy.run_path(script, run_name="__main__")
    return 0


def _annotate(args):
    """Run a script with profiling mode on (unless ``HERON_AUTO`` says otherwise) and write the
    annotated source report (``heron._annotate``) to ``--output`` (default: the script's name
    with ``.heron.html``, in the current directory)."""
    output = args.output or os.path.splitext(os.path.basename(args.script))[0] + ".heron.html"
    os.environ["HERON_REPORT"] = output
    os.environ.setdefault("HERON_AUTO", "1")
    return _run(args)


def main(argv=None):
    """Entry point of ``python -m heron``.

    Args:
        argv: the arguments after ``-m heron`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m heron",
        description="Heron: a JIT compiler for numeric Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report", help="print a report saved with HERON_REPORT=path.json")
    report.add_argument("file", help="the JSON report")
    report.set_defaults(func=_report)
    run = commands.add_parser(
        "run", help="run a Python script with Heron on (as 'python SCRIPT ARGS' would)")
    run.add_argument("script", help="the script to run")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(func=_run)
    annotate = commands.add_parser(
        "annotate", help="run a Python script with profiling mode on and write its annotated "
                         "source report (HTML)")
    annotate.add_argument("-o", "--output", help="the HTML file (default: SCRIPT.heron.html)")
    annotate.add_argument("script", help="the script to run")
    annotate.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    annotate.set_defaults(func=_annotate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
