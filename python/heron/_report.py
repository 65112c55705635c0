"""The registry of candidate functions, and the report made from it (table, JSON, HTML).

Every marked (or ``heron.jit``-decorated) function is recorded here, replaced or not, and so is
every function profiling mode found hot (``heron._auto``; its record has a ``profile``). At exit,
``HERON_REPORT`` chooses the output (DESIGN.md, "The user's path", item 6):

* ``HERON_REPORT=1`` (or any value that is not a path below): a table on stderr;
* ``HERON_REPORT=path.json``: a JSON list of objects (see ``records``);
* ``HERON_REPORT=path.html``: a small HTML page with the same table;
* ``HERON_REPORT=path`` with another extension: the text table in that file.

``HERON_REPORT=0`` (or empty) writes nothing. Writing a file prints one line on stderr saying
where it went.

One run of several processes makes one report: see ``heron._runs``.

This module imports nothing of Heron's but ``heron._markers`` (to name the marked functions
of a script another tool ran): the layers above it (``heron._hook``, ``heron._runs``) register,
with ``on_settle``, what must be brought up to date before a report is made.
"""

import os
import sys
from _thread import RLock

_lock = RLock()
_candidates = []
_settlers = []
_notes = []          # run-level sentences (why Heron stood aside), shown above the table
_summaries = []      # callables giving profiling mode's figures for the run (see on_summary)

#: Keys of each record, in order (the JSON schema). ``calls`` counts each call once:
#: ``calls == native_calls + fallback_calls - deopts`` (a deoptimized call started in native
#: code and finished as plain Python).
FIELDS = ("module", "qualname", "file", "line", "options", "status", "reason", "signatures",
          "compile_time_s", "calls", "native_calls", "fallback_calls", "native_time_s",
          "failures", "deopts", "called_from_native", "reruns", "gil", "native_functions",
          "parallel_loops", "parallel_runs", "vector_loops", "profile")

_COUNTERS = ("calls", "native_calls", "fallback_calls", "deopts", "called_from_native", "reruns",
             "parallel_runs")
_TIMES = ("compile_time_s", "native_time_s")


class Candidate:
    """One candidate function: where it is, what Heron did with it, and its dispatchers (more
    than one when its ``def`` ran several times, each making its own function)."""

    __slots__ = ("module", "qualname", "file", "line", "options", "status", "reason",
                 "dispatchers", "baseline", "profile")

    def __init__(self, module, qualname, file, line, options, status, reason, dispatchers,
                 profile=None):
        self.module = module
        self.qualname = qualname
        self.file = file
        self.line = line
        self.options = list(options)
        self.status = status
        self.reason = reason
        self.dispatchers = list(dispatchers)
        self.baseline = None     # stats inherited from the parent process (after a fork)
        self.profile = profile   # profiling mode's object (its ``profile()``), or None

    @property
    def key(self):
        """What identifies the function: module, qualified name, file and line."""
        return (self.module, self.qualname, self.file, self.line)


def add(module, qualname, file, line, options, status, reason=None, dispatcher=None,
        more=False, dispatchers=(), profile=None):
    """Record a candidate function.

    Args:
        module: the module's ``__name__``.
        qualname: the function's ``__qualname__``.
        file: its source file.
        line: the line of its ``def``.
        options: list of marker options (e.g. ``["parallel"]``).
        status: ``"replaced"`` (Heron stands in its place: a dispatcher, or a trampoline
            waiting for the first call) or ``"python"``.
        reason: why it runs as plain Python (with file:line), when ``status`` is ``"python"``.
        dispatcher: the dispatcher, when replaced; its ``stats()`` are read for the report.
        more: add ``dispatcher`` to the record already there (the same ``def`` ran again and
            made another function), keeping the dispatchers it has.
        dispatchers: more dispatchers whose calls count for this function (a function that
            ran native code, then was bound again, keeps its figures with status python).
        profile: for a function profiling mode found hot, an object whose ``profile()`` gives
            what it saw (``heron._auto.Watched``); the record's ``profile`` field.

    A record for the same module, qualname, file and line replaces the older one (``reload``).
    """
    dispatchers = list(dispatchers) + ([] if dispatcher is None else [dispatcher])
    candidate = Candidate(module, qualname, file, line, options, status, reason, dispatchers,
                          profile)
    with _lock:
        for i, old in enumerate(_candidates):
            if old.key == candidate.key:
                if more:
                    candidate.dispatchers = old.dispatchers + [
                        d for d in dispatchers if all(d is not o for o in old.dispatchers)]
                candidate.baseline = old.baseline
                _candidates[i] = candidate
                break
        else:
            _candidates.append(candidate)


def forget_module(module, file):
    """Drop the records of ``module`` loaded from ``file`` (before it is recorded again)."""
    with _lock:
        _candidates[:] = [c for c in _candidates if (c.module, c.file) != (module, file)]


def forget(keys):
    """Drop the records with these keys (``Candidate.key``): a module's earlier run."""
    keys = set(keys)
    with _lock:
        _candidates[:] = [c for c in _candidates if c.key not in keys]


def clear():
    """Forget every candidate and note (for tests)."""
    with _lock:
        del _candidates[:]
        del _notes[:]


def on_settle(callback):
    """Have ``callback(final)`` called before every report is made.

    Args:
        callback: brings the records of a layer above up to date; ``final`` is True at exit
            (the program has finished: what is still pending can be recorded as such). Its
            exceptions are ignored.
    """
    with _lock:
        if callback not in _settlers:
            _settlers.append(callback)


def on_summary(callback):
    """Have ``callback()`` give the run's profiling-mode figures for the summary: a dict with
    ``watched``, ``modules``, ``hot``, ``how``, ``run_time_s`` (or None)."""
    with _lock:
        if callback not in _summaries:
            _summaries.append(callback)


def profiling():
    """Profiling mode's figures for this run (see ``on_summary``), or None when it was off."""
    with _lock:
        callbacks = list(_summaries)
    for callback in callbacks:
        try:
            figures = callback()
        except Exception:
            figures = None
        if figures:
            return figures
    return None


def note(text):
    """Add a run-level sentence shown above the table (once), e.g. why Heron stood aside."""
    with _lock:
        if text not in _notes:
            _notes.append(text)


def notes():
    """The run-level sentences added with ``note``."""
    with _lock:
        return list(_notes)


def settle(final=False):
    """Run the callbacks given to ``on_settle``; never raises."""
    with _lock:
        settlers = list(_settlers)
    for callback in settlers:
        try:
            callback(final)
        except Exception:
            pass


def display_path(path):
    """``path`` relative to the current directory when it is below it, else unchanged."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


def _stats_of(dispatcher):
    try:
        stats = dispatcher.stats()
        return stats if isinstance(stats, dict) else {}
    except Exception:
        return {}


def _stats(candidate):
    """The stats of all of ``candidate``'s dispatchers, added up, less its fork baseline."""
    total = {key: 0 for key in _COUNTERS}
    total.update({key: 0.0 for key in _TIMES})
    total.update(signatures=[], failures=[], gil="", native_functions=[], parallel_loops=[],
                 vector_loops=[], ir=[])
    for dispatcher in candidate.dispatchers:
        stats = _stats_of(dispatcher)
        for key in _COUNTERS:
            total[key] += int(stats.get(key, 0) or 0)
        for key in _TIMES:
            total[key] += float(stats.get(key, 0.0) or 0.0)
        for key in ("signatures", "failures", "native_functions", "parallel_loops", "vector_loops",
                    "ir"):
            for item in stats.get(key, ()) or ():
                if item not in total[key]:
                    total[key].append(item)
        if stats.get("gil") and (not total["gil"] or stats["gil"].startswith("held")):
            total["gil"] = str(stats["gil"])
    base = candidate.baseline
    if base:
        for key in _COUNTERS + _TIMES:
            total[key] = max(total[key] - base.get(key, 0), 0)
    return total


def _record(candidate):
    stats = _stats(candidate)
    signatures = [str(s) for s in stats["signatures"]]
    failures = []
    for failure in stats["failures"]:
        failure = dict(failure)
        failures.append({"signature": str(failure.get("signature", "")),
                         "reason": str(failure.get("reason", "")),
                         "file": str(failure.get("file", candidate.file)),
                         # line 0: the failure is about the whole call (its argument types)
                         "line": int(failure.get("line") or candidate.line)})
    status, reason = candidate.status, candidate.reason
    if status == "replaced" and failures and not signatures:
        status = "python"
        reason = _failure_text(failures)
    profile = None
    if candidate.profile is not None:
        try:
            profile = dict(candidate.profile.profile())
        except Exception:
            profile = {"mode": "auto"}
        run = profiling()
        if run and run.get("run_time_s"):
            profile["run_time_s"] = round(run["run_time_s"], 6)
            profile["native_time_share"] = round(
                min(float(stats["native_time_s"]) / run["run_time_s"], 1.0), 4)
    record = {
        "module": candidate.module,
        "qualname": candidate.qualname,
        "file": candidate.file,
        "line": candidate.line,
        "options": list(candidate.options),
        "status": status,
        "reason": reason,
        "signatures": signatures,
        "compile_time_s": float(stats["compile_time_s"]),
        "calls": int(stats["calls"]),
        "native_calls": int(stats["native_calls"]),
        "fallback_calls": int(stats["fallback_calls"]),
        "native_time_s": float(stats["native_time_s"]),
        "failures": failures,
        "deopts": int(stats["deopts"]),
        "called_from_native": int(stats["called_from_native"]),
        "reruns": int(stats["reruns"]),
        "gil": stats["gil"],
        "native_functions": [str(n) for n in stats["native_functions"]],
        "parallel_loops": [str(n) for n in stats["parallel_loops"]],
        "parallel_runs": int(stats["parallel_runs"]),
        "vector_loops": [str(n) for n in stats.get("vector_loops", ())],
        "profile": profile,
    }
    if stats["ir"]:     # kept for the annotated report only (HERON_REPORT=*.html)
        record["ir"] = [[str(sig), str(text)] for sig, text in stats["ir"]]
    return record


def _failure_text(failures):
    seen = []
    for f in failures:
        text = f"{f['reason']} ({display_path(f['file'])}:{f['line']})"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def records(final=False):
    """Every candidate of this process as a dict with the keys in ``FIELDS``, with live
    dispatcher stats, sorted by file and line.

    Args:
        final: the program has finished (passed to the ``on_settle`` callbacks).

    A replaced function whose every compilation failed has status ``"python"`` and the
    failures as its reason.
    """
    settle(final)
    if final:
        try:
            _record_unwatched_main()
        except Exception:
            pass
    with _lock:
        candidates = sorted(_candidates, key=lambda c: (c.file, c.line))
    return [_record(c) for c in candidates]


# -- a script Heron never looked at (pdb, coverage, profilers) --------------------------------

_TRACING_RUNNERS = {"pdb": "pdb (Python's debugger)", "coverage": "coverage"}
_OTHER_RUNNERS = {"cProfile": "cProfile (a profiler)", "profile": "profile (a profiler)",
                  "trace": "trace", "runpy": "runpy"}


def runner():
    """``(name, traces)``: the tool that ran the script (``python -m pdb script.py``,
    ``coverage run script.py``), read from ``sys.orig_argv``, and whether it traces lines
    (a debugger or a coverage tool, for which Heron stands aside)."""
    args = list(getattr(sys, "orig_argv", None) or sys.argv)
    tool = ""
    for i, arg in enumerate(args[1:], 1):
        if arg == "-m" and i + 1 < len(args):
            tool = args[i + 1]
            break
        if arg.startswith("-m") and len(arg) > 2:
            tool = arg[2:]
            break
        if not arg.startswith("-"):
            tool = os.path.basename(arg)
            break
    if not tool and args:
        tool = os.path.basename(args[0])
    base = tool.split(".")[0]
    if base.startswith("coverage"):
        base = "coverage"
    if base in _TRACING_RUNNERS:
        return _TRACING_RUNNERS[base], True
    return _OTHER_RUNNERS.get(base, tool or "another program"), False


def _record_unwatched_main():
    """When the program's main script carries markers but Heron never looked at it (another
    tool ran it: ``python -m pdb script.py``, ``coverage run script.py``, ``python -m
    cProfile script.py``), record its marked functions as plain Python, saying why, and add a
    note for the summary, so that the report does not say that nothing was marked."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return
    full = os.path.abspath(path)
    with _lock:
        if any(os.path.abspath(c.file) == full for c in _candidates):
            return
    try:
        with open(full, "rb") as file:
            data = file.read()
    except OSError:
        return
    if b"heron:" not in data:
        return
    from importlib.util import decode_source
    from heron._markers import describe_kind, find_markers
    try:
        markers = find_markers(decode_source(data), full)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return
    if not markers:
        return
    tool, traces = runner()
    if traces:
        why = (f"Heron stood aside: the program ran under {tool}, and compiled code would "
               f"hide the script's lines from it")
    else:
        why = (f"Heron did not look at the script: {tool} ran it, and Heron replaces the "
               f"functions of a script run as 'python script.py', 'python -m module' or "
               f"'python -m heron run script.py'")
    for marker in markers:
        where = f"{display_path(full)}:{marker.lineno}"
        if marker.kind == "function":
            add("__main__", marker.qualname, full, marker.lineno, sorted(marker.options),
                "python", f"{why} ({where})")
        elif marker.kind != "auto":
            add("__main__", marker.qualname, full, marker.lineno, sorted(marker.options),
                "python", f"{describe_kind(marker.kind)} ({where})")
    note(why + ".")


# -- reading and writing the report -----------------------------------------------------------

def _ms(seconds):
    if not seconds:
        return "-"
    if seconds < 1e-4:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1000:.1f} ms"


def _ran_native(rec):
    return rec["status"] == "replaced" and bool(rec["signatures"])


def _reruns(rec):
    """Calls that ran in native code and then again, whole, as Python (they count once, as
    Python). Records from before the distinction was made count every deopt so."""
    return rec.get("reruns", rec.get("deopts", 0))


def _never_called(rec):
    return (rec["status"] == "replaced" and not rec["calls"]
            and not rec.get("called_from_native") and not rec["signatures"])


def plain_type(text):
    """Say a type of Heron's signatures in plain words.

    Args:
        text: one type as the native side writes it: ``int``, ``numpy.float64``,
            ``array(float64, 2d, A, readonly)``, ``(int, float)``.

    Returns:
        ``"int"``, ``"numpy.float64"``, ``"2-D float64 array (strided, read-only)"``,
        ``"tuple (int, float)"``; text it does not know, unchanged.
    """
    text = text.strip()
    if text.startswith("array(") and text.endswith(")"):
        parts = [p.strip() for p in text[6:-1].split(",")]
        if len(parts) >= 3 and parts[1].endswith("d") and parts[1][:-1].isdigit():
            extras = []
            if parts[2] != "C":
                extras.append("strided")
            if "readonly" in parts[3:]:
                extras.append("read-only")
            words = f"{parts[1][:-1]}-D {parts[0]} array"
            return words + (f" ({', '.join(extras)})" if extras else "")
        return text
    if text.startswith("(") and text.endswith(")"):
        return "tuple (" + ", ".join(plain_type(p) for p in _split_top(text[1:-1])) + ")"
    return text


def _split_top(text):
    """Split ``text`` at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def plain_signature(text):
    """``"(int, array(float64, 1d, C))"`` as ``"(int, 1-D float64 array)"`` (see ``plain_type``)."""
    text = str(text).strip()
    if not (text.startswith("(") and text.endswith(")")):
        return text
    return "(" + ", ".join(plain_type(p) for p in _split_top(text[1:-1])) + ")"


def _details(rec):
    """One plain-words sentence about what happened to a candidate (for a function profiling
    mode found hot, with how it was found and its share of the run)."""
    text = _plain_details(rec)
    profile = rec.get("profile")
    if not profile:
        return text
    name = rec["qualname"]
    hot = _hot_phrase(profile)
    if _never_called(rec):
        return (f"{name} ({hot}): to be compiled at its next call, which has not come yet.")
    if text.startswith(name + ": "):
        text = f"{name} ({hot}): " + text[len(name) + 2:]
    share = profile.get("native_time_share")
    if rec.get("native_time_s") and share is not None:
        text += f" Its native code took {_percent(share)} of the run time."
    return text


def _percent(share):
    if share and share < 0.005:
        return "under 1%"
    return f"{share * 100:.0f}%"


def _hot_phrase(profile):
    """How profiling mode found a function hot, in plain words."""
    trigger = profile.get("trigger")
    when = profile.get("hot_after_s")
    if trigger == "calls":
        text = f"hot after {profile.get('calls_seen')} calls"
    elif trigger == "loop":
        text = f"hot after its loops ran {profile.get('loop_iterations_seen')} iterations"
    elif trigger == "time":
        text = f"hot after {profile.get('samples_at_hot') or 'a few'} samples"
    elif trigger == "recursion":
        text = "hot: it calls itself"
    else:
        text = "hot"
    if when is not None:
        text += f", {when:.2f} s into the run"
    share = profile.get("time_share")
    if share is not None:
        text += f"; {_percent(share)} of the sampled run time in it"
    return text


def _hot_cell(rec):
    """The table's "Hot" cell: the share of the run time, or what made it hot."""
    profile = rec.get("profile")
    if not profile:
        return "marked"
    share = profile.get("time_share")
    if share is not None:
        return f"{_percent(share)} time"
    if profile.get("trigger") == "calls":
        return f"{profile.get('calls_seen')} calls"
    if profile.get("trigger") == "loop":
        return f"{profile.get('loop_iterations_seen')} iters"
    return "yes"


def _plain_details(rec):
    """One plain-words sentence about what happened to a candidate."""
    name = rec["qualname"]
    if rec["status"] != "replaced":
        text = f"{name}: ran as plain Python because: {rec['reason'] or 'unknown'}"
        native = rec["native_calls"] - _reruns(rec)
        if native > 0:
            text += (f". Before that, its compiled version ran {native} call(s) as native "
                     f"code")
        return text
    if _never_called(rec):
        return f"{name}: ready to be compiled to native code, but it was never called."
    text = f"{name}: compiled to native code"
    if rec["signatures"]:
        text += " for " + ", ".join(plain_signature(s) for s in rec["signatures"])
    text += "."
    if rec.get("called_from_native"):
        text += " Other compiled functions call it directly, without going through Python."
    if rec.get("deopts"):
        text += (f" {rec['deopts']} call(s) started in native code and finished as plain Python"
                 " (for instance an integer grew beyond 64 bits); the results are the same.")
    if rec.get("native_functions"):
        text += (" It calls these native functions directly, with no Python in between: "
                 + ", ".join(rec["native_functions"]) + ".")
    for note in rec.get("parallel_loops") or ():
        text += f" Parallel loop at {note}."
    if rec.get("parallel_runs"):
        text += f" Its parallel loops ran {rec['parallel_runs']} time(s) on Heron's threads."
    for note in rec.get("vector_loops") or ():
        text += f" Vector loop at {note}."
    if rec.get("gil", "").startswith("held"):
        text += f" The GIL is {rec['gil']}."
    plain_calls = rec["fallback_calls"] - _reruns(rec)
    if plain_calls > 0 or rec["failures"]:
        text += f" {max(plain_calls, 0)} call(s) ran as plain Python"
        if rec["failures"]:
            text += " because: " + _failure_text(rec["failures"])
        text += "."
    return text


_COLUMNS = ("Function", "Where", "Result", "Calls", "Native", "Python", "Compile",
            "Native time")


def _row(rec):
    """A table row; Native + Python = Calls (a deoptimized call counts as Python)."""
    where = f"{display_path(rec['file'])}:{rec['line']}"
    if _never_called(rec):
        return (rec["qualname"], where, "not called", "0", "-", "-", "-", "-")
    native = rec["status"] == "replaced"
    result = "native" if native else "python"
    if not native and not rec["calls"]:
        return (rec["qualname"], where, result, "-", "-", "-", "-", "-")
    finished_native = max(rec["native_calls"] - _reruns(rec), 0)
    return (rec["qualname"], where, result, str(rec["calls"]), str(finished_native),
            str(rec["fallback_calls"]), _ms(rec["compile_time_s"]), _ms(rec["native_time_s"]))


def _counts(recs):
    """"1 of 2 marked function(s)", "1 of 3 hot function(s)", or both, "compiled to native
    code"."""
    marked = [r for r in recs if not r.get("profile")]
    hot = [r for r in recs if r.get("profile")]
    parts = []
    if marked or not hot:
        parts.append(f"{sum(_ran_native(r) for r in marked)} of {len(marked)} marked "
                     f"function(s)")
    if hot:
        parts.append(f"{sum(_ran_native(r) for r in hot)} of {len(hot)} hot function(s)")
    return " and ".join(parts) + " compiled to native code"


def _profiling_line(run):
    """The sentence about what profiling mode did in the run (``profiling()``)."""
    return (f"Profiling mode ({run['how']}) watched {run['watched']} function(s) in "
            f"{run['modules']} module(s) for {run['run_time_s']:.2f} s; {run['hot']} became "
            f"hot.")


def _summary(recs, run_notes=(), run=None):
    if not recs:
        if run is not None:
            return "Heron report: no function became hot (profiling mode). " + \
                _profiling_line(run)
        if run_notes:
            return "Heron report: no function was compiled. " + " ".join(run_notes)
        return "Heron report: no function was marked for compilation."
    text = f"Heron report: {_counts(recs)}."
    idle = sum(_never_called(r) for r in recs if not r.get("profile"))
    if idle:
        text += f" {idle} of them {'was' if idle == 1 else 'were'} never called."
    return text


def format_table(recs, run_notes=()):
    """Render records (as from ``records()``) as a plain-text table with one line of detail
    per function.

    Args:
        recs: the records.
        run_notes: run-level sentences (``notes()``), shown after the summary line.

    Returns:
        The text, ending with a newline.
    """
    run = profiling()
    lines = [_summary(recs, run_notes, run)]
    if recs and run is not None:
        lines.append(_profiling_line(run))
    if recs and run_notes:
        lines.extend(run_notes)
    if recs:
        recs, columns, rows = _table(recs)
        rows = [columns] + rows
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        lines.append("")
        for row in rows:
            cells = [cell.ljust(w) if i < 3 else cell.rjust(w)
                     for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
        lines.append("")
        lines.extend(_details(r) for r in recs)
    return "\n".join(lines) + "\n"


def _hot_order(rec):
    """Hot functions by share of the run: sampled time, then native time, then counts."""
    profile = rec.get("profile") or {}
    return (-(profile.get("time_share") or 0.0), -(rec.get("native_time_s") or 0.0),
            -((profile.get("calls_seen") or 0) + (profile.get("loop_iterations_seen") or 0)))


def _table(recs):
    """``(recs, columns, rows)`` of the table: marked functions in source order, then the
    hot ones by share of the run, with a "Hot" column when there are hot ones."""
    marked = [r for r in recs if not r.get("profile")]
    hot = sorted((r for r in recs if r.get("profile")), key=_hot_order)
    if not hot:
        return marked, _COLUMNS, [_row(r) for r in marked]
    ordered = marked + hot
    columns = _COLUMNS[:3] + ("Hot",) + _COLUMNS[3:]
    rows = [r[:3] + (_hot_cell(rec),) + r[3:] for rec, r in
            ((rec, _row(rec)) for rec in ordered)]
    return ordered, columns, rows


def format_html(recs, run_notes=()):
    """Render records as a small standalone HTML page (arguments as ``format_table``).

    Returns:
        The HTML text.
    """
    import html
    esc = html.escape
    run = profiling()
    ordered, columns, rows = _table(recs)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns + ("Details",))
    body = []
    for rec, row in zip(ordered, rows):
        cells = "".join(f"<td>{esc(c)}</td>" for c in row)
        css = "native" if rec["status"] == "replaced" else "python"
        body.append(f'<tr class="{css}">{cells}<td>{esc(_details(rec))}</td></tr>')
    lines = ([_profiling_line(run)] if recs and run is not None else []) + \
        list(run_notes if recs else ())
    extra = "".join(f"<p>{esc(n)}</p>\n" for n in lines)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Heron report</title>\n"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}"
        "tr.native td:nth-child(3){color:#060}tr.python td:nth-child(3){color:#a00}</style>"
        "</head><body>\n"
        f"<h1>Heron report</h1>\n<p>{esc(_summary(recs, run_notes, run))}</p>\n{extra}"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) +
        "\n</tbody></table>\n</body></html>\n"
    )


def html_page(recs, run_notes=()):
    """The HTML report: the table, then the annotated source (``heron._annotate``)."""
    from heron import _annotate
    return _annotate.format_annotated(recs, format_html(recs, run_notes), _plain_details,
                                      display_path)


def _off(destination):
    return destination.strip().lower() in ("", "0", "false", "no", "off")


def write_report(destination, recs=None, run_notes=None, announce=True):
    """Write the report where ``destination`` (the value of ``HERON_REPORT``) says.

    Args:
        destination: ``"1"`` (or any word) for stderr; a path ending in ``.json``,
            ``.html``/``.htm``, or another path for a text table; ``"0"`` or ``""`` for nothing.
        recs: the records to write (default: ``records(final=True)`` of this process).
        run_notes: run-level sentences (default: ``notes()``).
        announce: when writing a file, say on stderr where it went (one line).

    Returns:
        The path written, or None (stderr, or nothing).

    Raises:
        OSError: if the file cannot be written.
    """
    destination = destination.strip()
    if _off(destination):
        return None
    if recs is None:
        recs = records(final=True)
    if run_notes is None:
        run_notes = notes()
    lower = destination.lower()
    if lower.endswith(".json"):
        import json
        text = json.dumps(recs, indent=2) + "\n"
    elif lower.endswith((".html", ".htm")):
        text = html_page(recs, run_notes)
    elif os.sep in destination or "." in destination:
        text = format_table(recs, run_notes)
    else:
        sys.stderr.write(format_table(recs, run_notes))
        sys.stderr.flush()
        return None
    with open(destination, "w", encoding="utf-8") as file:
        file.write(text)
    path = os.path.abspath(destination)
    if announce:
        what = _counts(recs)
        if not recs and profiling() is not None:
            what = "no function became hot"
        sys.stderr.write(f"Heron report written to {path} ({what})\n")
        sys.stderr.flush()
    return path


# -- after os.fork (used by heron._runs) ------------------------------------------------------

def activity():
    """A cheap summary of what the candidates' dispatchers did: it changes whenever one is
    called, compiles or fails, or a candidate is recorded (``heron._runs`` writes a worker's
    records only when it changed)."""
    total = [len(_candidates)]
    for candidate in list(_candidates):
        total.append(len(candidate.status))
        for dispatcher in candidate.dispatchers:
            stats = _stats_of(dispatcher)
            total.append(int(stats.get("calls", 0) or 0))
            total.append(len(stats.get("signatures", ()) or ()))
            total.append(len(stats.get("failures", ()) or ()))
    return tuple(total)


def stats_snapshot():
    """What every candidate's dispatchers did so far, as ``{id(candidate): figures}`` (just
    before a fork: the child subtracts it, that is the parent's to report)."""
    snapshot = {}
    for candidate in list(_candidates):
        if candidate.dispatchers:
            stats = _stats(Candidate(*candidate.key, candidate.options, "", None,
                                     candidate.dispatchers))
            snapshot[id(candidate)] = {k: stats[k] for k in _COUNTERS + _TIMES}
    return snapshot


def after_fork(snapshot):
    """In a child just made by ``os.fork``: a fresh lock (another thread of the parent may
    have held it), and ``snapshot`` (``stats_snapshot`` of the parent) as the baseline."""
    global _lock
    _lock = RLock()
    for candidate in _candidates:
        base = snapshot.get(id(candidate))
        if base is not None:
            candidate.baseline = base
