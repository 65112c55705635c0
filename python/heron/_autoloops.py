"""What profiling mode (``heron._auto``) does with the loops of hot code: whether a code object
has loop statements, the report's records of its lifted loops (``heron._lift``) and of the loop
switched by on-stack replacement (``heron._osr``), and the start of that switch (in the frame's
own thread, or from the sampling thread through the main thread's pending calls)."""

import os
import sys

from heron import _autoreasons as _reasons, _autosample, _env, _report


#: What a variable of a loop that compiles never holds (a cheap test before ``ast`` is used).
CONTAINERS = (list, dict, set, frozenset, tuple)


def has_loop_statement(code):
    """Whether a line of ``code``'s source starts a ``for`` or ``while`` statement (read from
    the file: no ``linecache``, ``tokenize`` or ``ast``)."""
    lines = [line for _start, _end, line in code.co_lines() if line]
    if not lines:
        return False
    try:
        with open(code.co_filename, "rb") as file:
            text = file.read().split(b"\n")[min(lines) - 1:max(lines)]
    except OSError:
        # A cell of IPython (heron._notebook) has no file; IPython keeps its lines in
        # linecache, imported already there.
        cache = sys.modules.get("linecache")
        source = cache.getlines(code.co_filename) if cache is not None else []
        text = [line.encode() for line in source[min(lines) - 1:max(lines)]]
    return any(line.lstrip().startswith((b"for ", b"while ", b"for(", b"while("))
               for line in text)


def lifted_record(item):
    """A lifted loop (``heron._lift.Lifted``) for the report's ``profile.lifted_loops``."""
    stats = item.stats()
    return {"line": item.line, "end_line": item.end_line, "inputs": list(item.inputs),
            "outputs": list(item.outputs), "calls": int(stats.get("calls") or 0),
            "native_calls": int(stats.get("native_calls") or 0),
            "signatures": [str(x) for x in stats.get("signatures") or []]}


def switched_records(switch):
    """The loops on-stack replacement tried (``profile.switched_loops``)."""
    if switch is None or isinstance(switch, str):
        return []
    records = []
    for c in switch.candidates:
        stats = {}
        for made in c.made.values():
            try:
                stats = dict(made[1].stats())
            except Exception:
                pass
        records.append({"line": c.line, "end_line": c.end_line, "switched": c.switched,
                        "native_calls": int(stats.get("native_calls") or 0),
                        "signatures": [str(x) for x in stats.get("signatures") or []],
                        "reason": None if c.switched else c.why})
    return records


def switch_text(w):
    """What on-stack replacement did with the loops running in the hot code ``w``
    (``heron._auto.Watched``), for its report record (or None)."""
    texts = [_switch_text(w, s) for s in w.switches if s is not w.switch]
    texts.append(_switch_text(w, w.switch))
    return "; ".join(t for t in texts if t) or None


def all_switched_records(w):
    """``profile.switched_loops`` of ``w``: the loops of every switch asked for."""
    records = []
    for s in w.switches + ([w.switch] if w.switch not in w.switches else []):
        records += switched_records(s)
    return records


def _switch_text(w, switch):
    if switch is None:
        return None
    if isinstance(switch, str):
        return (f"the loop running when it became hot could not switch to native code "
                f"(on-stack replacement): {switch} ({w.where(w.hot_line)})")
    display = _report.display_path(w.filename)
    done = [c for c in switch.candidates if c.switched]
    if done:
        return "; ".join(
            f"its loop at {display}:{c.line} switched to native code while it ran "
            f"(on-stack replacement)" + (f", {c.switched} times" if c.switched > 1 else "")
            for c in done)
    first = switch.candidates[0]
    if switch.done:
        return (f"the loop running when it became hot ({display}:{first.line}) could not "
                f"switch to native code (on-stack replacement): "
                f"{first.why or 'it ended first'}")
    return None


def switch_running_loop(w, frame, same_thread, main_thread, dispatcher_class, on_done):
    """On-stack replacement (``heron._osr``): the loop running in ``frame`` when ``w`` got
    hot switches to native code at one of its back-edges. With ``sys.monitoring`` this runs
    in the frame's own thread; from the sampling thread (3.10, 3.11), only a frame of the
    main thread can be switched, through a pending call the main thread runs next.

    Args:
        w: the ``heron._auto.Watched`` that got hot (its ``switch`` is set here).
        frame: the frame running its code.
        same_thread: True when called in ``frame``'s thread (``sys.monitoring``).
        main_thread: the main thread's ident.
        dispatcher_class: a callable returning ``heron._native.Dispatcher`` (or None).
        on_done: ``on_done(switch)`` when the switch's trace function is removed.
    """
    if w.kind not in ("function", "module") or not _switching_wanted():
        return
    if same_thread:
        _start_switch(w, frame, dispatcher_class, on_done)
        return
    stack = sys._current_frames().get(main_thread) if main_thread is not None else None
    while stack is not None and stack is not frame:
        stack = stack.f_back
    if stack is None or not _worth_switching(w, frame):
        return
    stack = frame = None
    code = w.code

    def in_main():
        found = sys._getframe(1)
        while found is not None and found.f_code is not code:
            found = found.f_back
        if found is not None:
            _start_switch(w, found, dispatcher_class, on_done)

    _autosample.in_main_thread(in_main)


def _switching_wanted():
    """On-stack replacement is on unless ``HERON_OSR=0``."""
    return os.environ.get("HERON_OSR", "1").strip().lower() not in ("0", "false", "no", "off")


def _start_switch(w, frame, dispatcher_class, on_done):
    """Ask ``heron._osr`` to switch the loop running in ``frame`` (in this thread). Cheap
    checks first, so that a program with nothing numeric pays little: the code must have a
    ``for`` or ``while`` statement, and unless ``ast`` is imported already (NumPy imports it),
    a function's variables must hold no lists, dicts, sets, tuples or objects of the
    program's own classes (text processing; loops over those do not compile)."""
    if (w.switch is not None and not w.retry_due) or _env.tracer_in_use() is not None:
        return
    w.retry_due = False
    if not _worth_switching(w, frame):
        return
    if dispatcher_class() is None:
        return
    try:
        from heron import _osr, _source
        node = _source.code_ast(frame.f_code)
        w.switch = _osr.request(frame, node, w.kind == "module", dispatcher_class,
                                w.qualname, on_done)
    except Exception as exc:
        w.switch = f"Heron could not look at its loops ({type(exc).__name__}: {exc})"
    if isinstance(w.switch, str):
        if w.switch.startswith(_osr_quiet):
            w.switch = None           # nothing to tell: no loop runs there
            return
        w.record()


def _worth_switching(w, frame):
    """The cheap checks of ``_start_switch`` (also made by the sampling thread before it asks
    the main thread, so that text processing imports nothing for it); False, and the reason
    recorded when there is one, when the loop cannot switch."""
    if not has_loop_statement(w.code):
        return False
    if w.kind == "function" and "ast" not in sys.modules:
        module = frame.f_globals.get("__name__")
        for name, value in list(frame.f_locals.items()):
            if type(value) in CONTAINERS or type(value).__module__ == module:
                w.switch = (f"its variable {name} holds "
                            f"{_reasons.article(type(value).__name__)}")
                w.record()
                return False
    return True


#: ``heron._osr.request``'s answers that the report does not repeat.
_osr_quiet = ("no loop around the running line", "a tracer is in use")


def with_switch(w, reason, not_called_again):
    """The reason of a hot ``w`` that runs as Python, with what on-stack replacement did
    (``not_called_again``: it got hot in a call still running and was not called again)."""
    switched = switch_text(w)
    if not switched:
        return reason
    if w.kind == "module":
        return f"module-level code is hot and is not compiled as a whole; {switched}"
    if not_called_again and w.trigger in ("loop", "time"):
        return (f"it became hot in a call that was still running and was not called again; "
                f"{switched}")
    return f"{reason}; {switched}" if reason else switched


def switch_done(w, switch, monitor, hot_loop, hot_samples):
    """A switch's trace function was removed: record it, and when no loop switched for a
    reason that may pass (a function the loop calls was not compiled yet), ask again after
    a longer wait (up to ``heron._osr.RETRIES`` times), without tracing meanwhile: after
    4**k ``hot_loop`` more back-edges (3.12+: ``monitor`` watches the code's jumps again),
    or 2**k ``hot_samples`` more samples (the sampling thread)."""
    from heron import _osr
    if any(c.switched for c in switch.candidates):
        # A later loop of the same frame (the next phase of a script) may get hot too.
        if switch not in w.switches and len(w.switches) < _osr.SWITCHES:
            w.switches.append(switch)
            if monitor is not None:
                w.retry_loops = w.loops + hot_loop
                try:
                    monitor.watch(w.code, calls=False)
                except Exception:
                    pass
            else:
                w.retry_samples = w.samples + hot_samples
    elif switch.may_retry and w.retries < _osr.RETRIES:
        w.retries += 1
        if monitor is not None:
            w.retry_loops = w.loops + hot_loop * 4 ** w.retries
            try:
                monitor.watch(w.code, calls=False)
            except Exception:
                pass
        else:
            w.retry_samples = w.samples + hot_samples * 2 ** w.retries
    w.record()
