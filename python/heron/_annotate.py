"""The annotated source report (issue 13, item 7): ``HERON_REPORT=out.html`` and ``python -m heron
annotate script.py`` write one self-contained HTML page (no network) with every candidate
function's source, each line shaded by what happens there, and a click on a line telling it in
plain words.

Line kinds (``kind_of_lines``), from the run's report records and the functions' ASTs:

``native``
    The line runs as native code (a compiled function that ran, or a loop of one that ran native
    code on its own: loop lifting, on-stack replacement).
``callback``
    Native, but the line calls back into Python or NumPy: ``print``, a NumPy function run by
    NumPy itself (array constructors, reductions: about a microsecond a call), a call of a plain
    Python function; calls of other compiled functions, of ``math`` and of NumPy's ufuncs stay
    native and are named as such.
``fallback``
    The line that made the function (or its loop) run as Python, with the reason in plain words
    and a hint of what to change.
``python``
    The line runs in the interpreter (the function was not compiled, or not called again).
``ready``
    Compiled, but never called after that.

With profiling mode on, each line's share of the sampled run time is drawn beside it (the
sampling thread's counts; time in native code counts at the line that called it). For compiled
functions the page also tells what the compiler made of each line, from the Cranelift IR the
compiled code keeps when an HTML report is asked for (each instruction carries its statement's
line): the overflow-checked operations and other checks kept (branches to cold error or
deoptimization blocks), a subscript with no check left, the runtime helpers it calls, and the
IR itself (``ir_by_line``).
"""

import ast
import html
import linecache
import re
import sys
import types

KINDS = {
    "native": ("native code", "#dff3df"),
    "callback": ("native, calls back into Python or NumPy", "#fff1bf"),
    "fallback": ("why it runs as Python", "#ffd2d2"),
    "python": ("runs in the interpreter", "#efefef"),
    "ready": ("compiled, never called since", "#dde9fb"),
}

_HINTS = (
    ("str argument", "Pass numbers or NumPy arrays to this function, and keep the text "
                     "handling in another function."),
    ("list", "Use a NumPy array instead of a list (np.zeros(n), np.array(values))."),
    ("dict", "Dicts run as Python: keep them out of the hot function, or use arrays."),
    ("method of a class", "Move the numeric work into a function defined at module level and "
                          "call it from the method."),
    ("inside another function", "Define the function at module level."),
    ("plain Python function", "Mark the function it calls with '# heron: jit' too (profiling "
                              "mode may also find it)."),
    ("try", "Move the try/except around the call, outside the hot function."),
    ("unbound", "Give the variable a value before the loop."),
)
_DEFAULT_HINT = ("Rewrite this line with numbers and NumPy arrays, or move it out of the hot "
                 "function into one that is not hot.")
_WHERE = re.compile(r"\(([^():]+):(\d+)\)")
_NUMPY_NAMES = ("np", "numpy")


_INSTRUCTION = re.compile(r"^\s*@([0-9a-f]{4,})\s+(.*)$")
_BLOCK = re.compile(r"^(block\d+)(?:\([^)]*\))?(\s+cold)?:")
_FUNC_REF = re.compile(r"^\s*(fn\d+) = (?:colocated )?%?(\S+) ")
_CALL = re.compile(r"\bcall (fn\d+)\(")
#: Runtime helpers that call back into Python (the interpreter's print, NumPy, objects).
_CALLBACK_HELPERS = ("heron_print", "heron_np", "heron_ufunc", "heron_alloc", "heron_array",
                     "heron_obj", "heron_random", "heron_py")


def ir_by_line(text):
    """What the Cranelift IR of one specialization (its text, each instruction with
    ``@`` and its source line in hex) does at each line: ``{line: {"insts": [text],
    "checks": branches to a cold (error or deoptimization) block, "overflow":
    overflow-checked operations, "calls": runtime helpers called outside cold blocks}}``."""
    refs, cold = {}, set()
    for raw in text.splitlines():
        ref = _FUNC_REF.match(raw)
        if ref:
            refs[ref.group(1)] = ref.group(2)
        block = _BLOCK.match(raw.strip())
        if block and block.group(2):
            cold.add(block.group(1))
    lines, in_cold = {}, False
    for raw in text.splitlines():
        block = _BLOCK.match(raw.strip())
        if block:
            in_cold = block.group(1) in cold
            continue
        inst = _INSTRUCTION.match(raw)
        if not inst:
            continue
        line, body = int(inst.group(1), 16), inst.group(2)
        entry = lines.setdefault(line, {"insts": [], "checks": 0, "overflow": 0,
                                        "calls": []})
        entry["insts"].append(("cold  " if in_cold else "") + body)
        if in_cold:
            continue
        if "_overflow " in body:
            entry["overflow"] += 1
        if body.startswith("brif ") and any(t in cold for t in
                                            re.findall(r"block\d+", body)):
            entry["checks"] += 1
        call = _CALL.search(body)
        if call and refs.get(call.group(1)) not in entry["calls"]:
            entry["calls"].append(refs.get(call.group(1), call.group(1)))
    return lines


def _ir_notes(entry, has_subscript):
    """Plain-words notes for one line's IR entry."""
    notes = []
    if entry["overflow"]:
        notes.append(f"{entry['overflow']} integer operation(s) checked for overflow (an "
                     f"overflow continues in the interpreter, with Python's big integers)")
    others = entry["checks"] - entry["overflow"]
    if others > 0:
        notes.append(f"{others} other check(s) kept (bounds, division by zero, NumPy's "
                     f"floating-point reports...): a failed one raises Python's error or "
                     f"continues in the interpreter")
    elif has_subscript and not entry["checks"]:
        notes.append("no bounds check here: the index is known to be in range (checked once "
                     "before the loop, or proved)")
    for name in entry["calls"]:
        if name.startswith(_CALLBACK_HELPERS):
            notes.append(f"calls back into Python through Heron's runtime ({name})")
        elif name.startswith("heron_check_signals"):
            notes.append("polls for Ctrl-C (a back-edge)")
        elif not name.startswith("heron_"):
            notes.append(f"calls {name} directly")
    return notes


def hint(reason):
    """A plain-words suggestion for a reason of the report."""
    for key, text in _HINTS:
        if key in (reason or ""):
            return text
    return _DEFAULT_HINT


def _function_node(tree, rec):
    """The ``ast`` node of the record's function (the module for ``<module>``), or None."""
    if rec["qualname"] == "<module>":
        return tree
    name = rec["qualname"].split(".")[-1]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if rec["line"] in (node.lineno, start):
                return node
    return None


def _lines_of(node, rec):
    """The line numbers to show: the function's, or for module code the statements around its
    hot line and its loops."""
    if not isinstance(node, ast.Module):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        return range(start, (node.end_lineno or node.lineno) + 1)
    profile = rec.get("profile") or {}
    marks = {profile.get("hot_line")} | {loop["line"] for loop in
                                         profile.get("switched_loops") or ()}
    shown = set()
    for stmt in node.body:
        end = stmt.end_lineno or stmt.lineno
        if any(m and stmt.lineno <= m <= end for m in marks):
            shown.update(range(stmt.lineno, end + 1))
    return sorted(shown)


def _call_notes(node, module_globals):
    """``{line: [(kind, note)]}`` for the calls in ``node`` (kind ``"callback"`` or
    ``"native"``)."""
    numpy = sys.modules.get("numpy")
    notes = {}
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        line, func = call.lineno, call.func
        kind = note = None
        if isinstance(func, ast.Name):
            value = module_globals.get(func.id)
            if func.id == "print":
                kind, note = "callback", "print() goes through the interpreter's print"
            elif type(value).__module__ == "heron._native":
                kind, note = "native", f"calls the compiled function {func.id}() directly"
            elif isinstance(value, types.FunctionType):
                kind, note = "callback", f"calls the Python function {func.id}()"
            elif numpy is not None and isinstance(value, numpy.ufunc):
                kind, note = "native", f"{func.id}: NumPy's own inner loop, called directly"
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            base = module_globals.get(func.value.id)
            name = getattr(base, "__name__", "")
            full = f"{func.value.id}.{func.attr}"
            if name == "math":
                kind, note = "native", f"{full}: native (the C library's math)"
            elif name == "numpy" and numpy is not None:
                if isinstance(getattr(numpy, func.attr, None), numpy.ufunc):
                    kind, note = "native", f"{full}: NumPy's own inner loop, called directly"
                else:
                    kind, note = "callback", (f"{full}: run by NumPy itself (a call into NumPy, "
                                              f"about a microsecond)")
            elif name == "random":
                kind, note = "native", f"{full}: the random module's own generator, natively"
        if kind is not None:
            notes.setdefault(line, []).append((kind, note))
    return notes


def kind_of_lines(rec, node, module_globals, display=str, ir=None):
    """``({line: kind}, {line: [note, ...]})`` for one report record (see the module
    docstring); ``ir``: its ``first_ir`` lines, when the caller has them already."""
    lines = list(_lines_of(node, rec))
    profile = rec.get("profile") or {}
    ran_native = rec["status"] == "replaced" and rec["native_calls"] > 0
    if rec["status"] == "replaced" and not rec["native_calls"]:
        base = "ready"
    else:
        base = "native" if ran_native else "python"
    kinds = {line: base for line in lines}
    notes = {line: [] for line in lines}
    native_ranges = []
    if ran_native:
        native_ranges.append((lines[0], lines[-1]))
    for loop in list(profile.get("lifted_loops") or ()) + list(profile.get("switched_loops")
                                                                or ()):
        if loop.get("native_calls"):
            native_ranges.append((loop["line"], loop["end_line"]))
            what = ("switched to native code while it ran (on-stack replacement)"
                    if "switched" in loop else "compiled on its own (loop lifting)")
            if loop["line"] in notes:
                notes[loop["line"]].append(f"this loop was {what}")
        elif loop.get("reason") and loop["line"] in notes:
            notes[loop["line"]].append(f"this loop could not switch to native code: "
                                       f"{loop['reason']}")
    for start, end in native_ranges:
        for line in lines:
            if start <= line <= end:
                kinds[line] = "native"
    calls = _call_notes(node, module_globals) if native_ranges else {}
    for line, items in calls.items():
        if kinds.get(line) != "native":
            continue
        for kind, note in items:
            notes[line].append(note)
            if kind == "callback":
                kinds[line] = "callback"
    shown = display(rec["file"])
    reasons = [(f["line"], f["reason"]) for f in rec.get("failures") or ()]
    for match in _WHERE.finditer(rec.get("reason") or ""):
        if match.group(1).endswith(shown) or shown.endswith(match.group(1)):
            reasons.append((int(match.group(2)), rec["reason"]))
    seen = set()
    for line, reason in reasons:
        if line in seen:
            continue
        seen.add(line)
        if line in kinds and kinds[line] != "native":
            kinds[line] = "fallback"
            notes[line].append(f"why it runs as Python: {reason}")
            notes[line].append(f"hint: {hint(reason)}")
    if ir is None:
        ir = first_ir(rec)[1]
    subscripts = {n.lineno for n in ast.walk(node) if isinstance(n, ast.Subscript)}
    for line in lines:
        entry = ir.get(line)
        if entry is not None and kinds[line] in ("native", "callback"):
            notes[line].extend(_ir_notes(entry, line in subscripts))
            if any(c.startswith(_CALLBACK_HELPERS) for c in entry["calls"]):
                kinds[line] = "callback"
    shares = profile.get("line_samples") or {}
    total = profile.get("total_samples") or 0
    for line in lines:
        count = shares.get(str(line))
        if count and total:
            notes[line].append(f"{100.0 * count / total:.1f}% of the sampled run time")
        if not notes[line]:
            notes[line].append(KINDS[kinds[line]][0])
    return kinds, notes


def first_ir(rec):
    """``(signature, ir_by_line(text))`` of the record's first specialization whose IR was
    kept, or ``("", {})``."""
    for signature, text in (rec.get("ir") or ())[:1]:
        return signature, ir_by_line(text)
    return "", {}


def _ir_block(signature, entry):
    """The IR lines of one line's entry (``ir_by_line``), escaped, or "" for None."""
    if not entry:
        return ""
    shown = entry["insts"][:60]
    more = len(entry["insts"]) - len(shown)
    body = "\n".join(shown) + (f"\n... {more} more" if more > 0 else "")
    return (f'<details class="ir"><summary>Cranelift IR for {html.escape(signature)} '
            f'({len(entry["insts"])} instructions)</summary><pre>{html.escape(body)}'
            f'</pre></details>')


def format_annotated(recs, table, details, display):
    """The whole page: the report's table, then each candidate's annotated source.

    Args:
        recs: report records (``heron._report.records``), of this process.
        table: the report's own HTML page (``heron._report.format_html``), whose body comes
            first.
        details: ``details(rec)``: the plain-words sentence of a record.
        display: ``display(path)``: a file's name as the report shows it.

    Returns:
        The HTML text (UTF-8, self-contained: inline style and script, no network).
    """
    esc = html.escape
    body_start = table.index("<body>") + len("<body>")
    body_end = table.index("</body>")
    sections = []
    for index, rec in enumerate(recs):
        try:
            source = linecache.getlines(rec["file"])
            tree = ast.parse("".join(source), rec["file"])
        except (OSError, SyntaxError, ValueError):
            continue
        node = _function_node(tree, rec)
        if node is None:
            continue
        module = sys.modules.get(rec.get("module") or "")
        namespace = getattr(module, "__dict__", {}) or {}
        signature, ir = first_ir(rec)      # parsed once for the notes and the IR blocks
        kinds, notes = kind_of_lines(rec, node, namespace, display, ir)
        profile = rec.get("profile") or {}
        shares = profile.get("line_samples") or {}
        total = profile.get("total_samples") or 0
        rows = []
        for line in sorted(kinds):
            text = source[line - 1].rstrip("\n") if line <= len(source) else ""
            width = 0.0
            if total and shares.get(str(line)):
                width = min(100.0, 100.0 * shares[str(line)] / total)
            row_id = f"f{index}-L{line}"
            items = "".join(f"<li>{esc(n)}</li>" for n in notes[line]) + \
                _ir_block(signature, ir.get(line))
            rows.append(
                f'<tr class="line {kinds[line]}" id="{row_id}" data-line="{line}" '
                f'title="{esc(KINDS[kinds[line]][0])}"><td class="no">{line}</td>'
                f'<td class="share"><span style="width:{width:.1f}%"></span></td>'
                f'<td class="code"><code>{esc(text) or "&nbsp;"}</code></td></tr>\n'
                f'<tr class="detail" id="{row_id}-detail" hidden><td></td><td></td>'
                f'<td><ul>{items}</ul></td></tr>')
        status = "native" if rec["status"] == "replaced" else "python"
        where = f"{display(rec['file'])}:{rec['line']}"
        sections.append(
            f'<section class="fn" id="f{index}"><h2>{esc(rec["qualname"])} '
            f'<span class="status {status}">{status}</span> <small>{esc(where)}</small></h2>\n'
            f'<p>{esc(details(rec))}</p>\n'
            f'<table class="src"><tbody>\n' + "\n".join(rows) + "\n</tbody></table></section>")
    legend = "".join(f'<span class="key {k}">{esc(v[0])}</span>' for k, v in KINDS.items())
    style = ("".join(f"tr.{k} td.code{{background:{v[1]}}}.key.{k}{{background:{v[1]}}}"
                     for k, v in KINDS.items()) +
             "table.src{border-collapse:collapse;width:100%;margin-bottom:1em}"
             "table.src td{border:none;padding:0 6px}td.no{color:#888;text-align:right;"
             "width:3em}td.share{width:80px}td.share span{display:block;height:8px;"
             "background:#c33}tr.line{cursor:pointer}tr.line:hover td.code{outline:1px solid "
             "#999}tr.detail td{font-family:sans-serif;font-size:90%}tr.open td.code"
             "{outline:2px solid #333}.key{padding:2px 8px;margin-right:6px}"
             "span.status.native{color:#060}span.status.python{color:#a00}"
             "code{white-space:pre}table.src td.code{color:#111}")
    script = (
        "<script>\n"
        "function heronToggle(row, show){var d=document.getElementById(row.id+'-detail');"
        "if(!d)return;var open=show===undefined?d.hidden:show;d.hidden=!open;"
        "row.classList.toggle('open',open);}\n"
        "document.querySelectorAll('tr.line').forEach(function(r){r.addEventListener("
        "'click',function(){heronToggle(r);});});\n"
        "if(location.hash){var r=document.getElementById(location.hash.slice(1));"
        "if(r&&r.classList.contains('line')){heronToggle(r,true);r.scrollIntoView();}}\n"
        "var counts={};document.querySelectorAll('tr.line').forEach(function(r){"
        "var k=r.className.split(' ')[1];counts[k]=(counts[k]||0)+1;});"
        "document.getElementById('heron-counts').textContent=Object.keys(counts).sort()"
        ".map(function(k){return k+': '+counts[k];}).join(', ');"
        "document.body.setAttribute('data-ready','1');\n"
        "</script>\n")
    page = (
        table[:body_start] +
        f"\n<style>{style}</style>\n" + table[body_start:body_end] +
        f'<h2>Annotated source</h2>\n<p class="legend">{legend}</p>\n'
        '<p>Click a line to see what happens there. Lines: <span id="heron-counts"></span></p>\n'
        + "\n".join(sections) + "\n" + script + table[body_end:])
    return page
