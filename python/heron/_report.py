"""The registry of candidate functions, and the report Heron writes at exit.

Every marked (or ``heron.jit``-decorated) function is recorded here, replaced or not. At exit,
``HERON_REPORT`` chooses the output:

* ``HERON_REPORT=1`` (or any value that is not a path below): a table on stderr;
* ``HERON_REPORT=path.json``: a JSON list of objects (see ``records``);
* ``HERON_REPORT=path.html``: a small HTML page with the same table;
* ``HERON_REPORT=path`` with another extension: the text table in that file.

``HERON_REPORT=0`` (or empty) writes nothing.
"""

import os
import sys
import threading

_lock = threading.Lock()
_candidates = []

#: Keys of each record, in order (the JSON schema).
FIELDS = ("module", "qualname", "file", "line", "options", "status", "reason", "signatures",
          "compile_time_s", "calls", "native_calls", "fallback_calls", "native_time_s",
          "failures", "deopts", "called_from_native", "gil")


class Candidate:
    """One candidate function: where it is, what Heron did with it, and its dispatcher."""

    __slots__ = ("module", "qualname", "file", "line", "options", "status", "reason",
                 "dispatcher")

    def __init__(self, module, qualname, file, line, options, status, reason, dispatcher):
        self.module = module
        self.qualname = qualname
        self.file = file
        self.line = line
        self.options = list(options)
        self.status = status
        self.reason = reason
        self.dispatcher = dispatcher


def add(module, qualname, file, line, options, status, reason=None, dispatcher=None):
    """Record a candidate function.

    Args:
        module: the module's ``__name__``.
        qualname: the function's ``__qualname__``.
        file: its source file.
        line: the line of its ``def``.
        options: list of marker options (e.g. ``["parallel"]``).
        status: ``"replaced"`` (a dispatcher stands in its place) or ``"python"``.
        reason: why it runs as plain Python (with file:line), when ``status`` is ``"python"``.
        dispatcher: the dispatcher, when replaced; its ``stats()`` are read for the report.

    A record for the same module, qualname and line replaces the older one (``reload``).
    """
    candidate = Candidate(module, qualname, file, line, options, status, reason, dispatcher)
    with _lock:
        for i, old in enumerate(_candidates):
            if (old.module, old.qualname, old.file, old.line) == (module, qualname, file, line):
                _candidates[i] = candidate
                break
        else:
            _candidates.append(candidate)
    if os.environ.get("HERON_REPORT"):
        from heron import _boot
        _boot.register_report()


def forget_module(module, file):
    """Drop the records of ``module`` loaded from ``file`` (before it is recorded again)."""
    with _lock:
        _candidates[:] = [c for c in _candidates if (c.module, c.file) != (module, file)]


def clear():
    """Forget every candidate (for tests)."""
    with _lock:
        del _candidates[:]


def display_path(path):
    """``path`` relative to the current directory when it is below it, else unchanged."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


def _stats(dispatcher):
    if dispatcher is None:
        return {}
    try:
        stats = dispatcher.stats()
        return stats if isinstance(stats, dict) else {}
    except Exception:
        return {}


def _record(candidate):
    stats = _stats(candidate.dispatcher)
    signatures = [str(s) for s in stats.get("signatures", ()) or ()]
    failures = []
    for failure in stats.get("failures", ()) or ():
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
    return {
        "module": candidate.module,
        "qualname": candidate.qualname,
        "file": candidate.file,
        "line": candidate.line,
        "options": list(candidate.options),
        "status": status,
        "reason": reason,
        "signatures": signatures,
        "compile_time_s": float(stats.get("compile_time_s", 0.0) or 0.0),
        "calls": int(stats.get("calls", 0) or 0),
        "native_calls": int(stats.get("native_calls", 0) or 0),
        "fallback_calls": int(stats.get("fallback_calls", 0) or 0),
        "native_time_s": float(stats.get("native_time_s", 0.0) or 0.0),
        "failures": failures,
        "deopts": int(stats.get("deopts", 0) or 0),
        "called_from_native": int(stats.get("called_from_native", 0) or 0),
        "gil": str(stats.get("gil", "") or ""),
    }


def _failure_text(failures):
    seen = []
    for f in failures:
        text = f"{f['reason']} ({display_path(f['file'])}:{f['line']})"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def records():
    """Every candidate as a dict with the keys in ``FIELDS``, with live dispatcher stats,
    sorted by file and line.

    A replaced function whose every compilation failed has status ``"python"`` and the
    failures as its reason.
    """
    with _lock:
        candidates = sorted(_candidates, key=lambda c: (c.file, c.line))
    return [_record(c) for c in candidates]


def _ms(seconds):
    if not seconds:
        return "-"
    if seconds < 1e-4:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1000:.1f} ms"


def _details(rec):
    """One plain-words sentence about what happened to a candidate."""
    name = rec["qualname"]
    if rec["status"] != "replaced":
        return f"{name}: ran as plain Python because: {rec['reason'] or 'unknown'}"
    if not rec["calls"] and not rec.get("called_from_native"):
        return f"{name}: ready to be compiled to native code, but it was never called."
    text = f"{name}: compiled to native code"
    if rec["signatures"]:
        text += " for " + ", ".join(rec["signatures"])
    text += "."
    if rec.get("called_from_native"):
        text += " Other compiled functions call it directly, without going through Python."
    if rec.get("deopts"):
        text += (f" {rec['deopts']} call(s) met a value native code does not handle (for instance"
                 " an integer beyond 64 bits) and went on as plain Python from there, with the"
                 " same result.")
    if rec["fallback_calls"] or rec["failures"]:
        text += f" {rec['fallback_calls']} call(s) ran as plain Python"
        if rec["failures"]:
            text += " because: " + _failure_text(rec["failures"])
        text += "."
    return text


_COLUMNS = ("Function", "Where", "Result", "Calls", "Native", "Python", "Compile",
            "Native time")


def _row(rec):
    where = f"{display_path(rec['file'])}:{rec['line']}"
    native = rec["status"] == "replaced"
    result = "native" if native else "python"
    if not native and not rec["calls"]:
        return (rec["qualname"], where, result, "-", "-", "-", "-", "-")
    return (rec["qualname"], where, result, str(rec["calls"]), str(rec["native_calls"]),
            str(rec["fallback_calls"]), _ms(rec["compile_time_s"]), _ms(rec["native_time_s"]))


def _summary(recs):
    native = sum(r["status"] == "replaced" for r in recs)
    if not recs:
        return "Heron report: no function was marked for compilation."
    return (f"Heron report: {native} of {len(recs)} marked function(s) compiled to native "
            f"code.")


def format_table(recs):
    """Render records (as from ``records()``) as a plain-text table with one line of detail
    per function.

    Returns:
        The text, ending with a newline.
    """
    lines = [_summary(recs)]
    if recs:
        rows = [_COLUMNS] + [_row(r) for r in recs]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        lines.append("")
        for row in rows:
            cells = [cell.ljust(w) if i < 3 else cell.rjust(w)
                     for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
        lines.append("")
        lines.extend(_details(r) for r in recs)
    return "\n".join(lines) + "\n"


def format_html(recs):
    """Render records as a small standalone HTML page.

    Returns:
        The HTML text.
    """
    import html
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in _COLUMNS + ("Details",))
    body = []
    for rec in recs:
        cells = "".join(f"<td>{esc(c)}</td>" for c in _row(rec))
        css = "native" if rec["status"] == "replaced" else "python"
        body.append(f'<tr class="{css}">{cells}<td>{esc(_details(rec))}</td></tr>')
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Heron report</title>\n"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}"
        "tr.native td:nth-child(3){color:#060}tr.python td:nth-child(3){color:#a00}</style>"
        "</head><body>\n"
        f"<h1>Heron report</h1>\n<p>{esc(_summary(recs))}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) +
        "\n</tbody></table>\n</body></html>\n"
    )


def write_report(destination):
    """Write the report where ``destination`` (the value of ``HERON_REPORT``) says.

    Args:
        destination: ``"1"`` (or any word) for stderr; a path ending in ``.json``,
            ``.html``/``.htm``, or another path for a text table; ``"0"`` or ``""`` for nothing.

    Raises:
        OSError: if the file cannot be written.
    """
    destination = destination.strip()
    if destination.lower() in ("", "0", "false", "no", "off"):
        return
    watcher_module = sys.modules.get("heron._mainhook")
    if watcher_module is not None:
        watcher_module.finish()
    recs = records()
    lower = destination.lower()
    if lower.endswith(".json"):
        import json
        text = json.dumps(recs, indent=2) + "\n"
    elif lower.endswith((".html", ".htm")):
        text = format_html(recs)
    elif os.sep in destination or "." in destination:
        text = format_table(recs)
    else:
        sys.stderr.write(format_table(recs))
        sys.stderr.flush()
        return
    with open(destination, "w", encoding="utf-8") as file:
        file.write(text)
