"""On-stack replacement for profiling mode (issue 13, item 4): a loop that is already running
when it gets hot switches to native code at one of its back-edges, so that a one-shot script (a
hot loop at module level, or in a ``main()`` called once) is faster in its only run.

How the switch is made (the same on CPython 3.10 to 3.13, tested on each):

1. When profiling mode finds a frame hot (``heron._auto``: a ``sys.monitoring`` ``JUMP``
   callback on 3.12+, in the frame's own thread; on 3.10 and 3.11 the sampling thread, which
   asks the main thread through ``Py_AddPendingCall`` to run ``request``), the loops of its
   code that contain the running line are *candidates*, outermost first (``_candidates``).
2. ``request`` sets a local trace function on the running frame, as ``pdb.set_trace`` does
   (``sys.settrace`` with a global function that traces nothing else, and ``frame.f_trace``).
3. At the next ``line`` event on a candidate's header line the trace function takes the rest of
   that loop out, as loop lifting does (``heron._lift``): a function of the loop's live-in
   variables that runs the loop and returns its live-out ones, compiled for the types the
   variables hold now. At a ``for`` loop's back-edge (the ``FOR_ITER`` instruction) the rest is
   ``for i in range(i + step, stop, step)``: ``stop`` and ``step`` are read again from the
   header's arguments, which the loop does not assign (a condition), and ``i`` is the loop
   variable, which the loop body does not assign either. A ``while`` loop's rest is the loop
   itself (its test is about to be evaluated).
4. The frame jumps past the loop (``frame.f_lineno``, allowed in a trace function; the
   interpreter pops the loop's iterator), then the compiled rest runs, and its live-out values
   are written into the frame (module globals; a function's locals through ``f_locals``, which
   the interpreter writes back after the trace function returns on 3.10-3.12 and which writes
   through on 3.13). The jump comes first: if the interpreter refuses it, nothing has run and
   the loop goes on in the interpreter.

Once a loop has switched, profiling mode watches the frame's code again, so that a later loop
of it (the next phase of a script) switches too when it gets hot in turn (``SWITCHES``).

A loop is a candidate when loop lifting could take it out (``heron._lift.liftable``), it is not
inside a ``try`` or ``with`` block, a statement follows it in the same block (or after the
``if`` blocks around it: the jump's target), and, at module level, no function of the module
names a variable the loop assigns (a function reading ``total`` while the loop runs would see
the value from before the switch). A ``for`` loop is switched at its back-edge only over
``range(...)``; any ``for`` or ``while`` loop can be switched when it starts again (an inner
loop run again by an outer one that did not compile).

An exception raised in the compiled rest (or by the interpreter running it after a
deoptimization) propagates from the loop's header line, with the rest's own frames under it
(one or two more traceback entries than the interpreter's); the frame's variables are those
before the switch. A tracer already in use (a debugger, coverage) turns the switch off.
"""

import ast
import dis
import sys
import types
import warnings
from _thread import get_ident

from heron import _lift, _source

_PY313 = sys.version_info >= (3, 13)
#: CPython 3.12+ binds every unbound local of a frame to None when it jumps (``f_lineno``).
_BINDS_NONE = sys.version_info >= (3, 12)
_FOR_ITER = dis.opmap["FOR_ITER"]
_START, _STOP, _STEP = "__heron_osr_start", "__heron_osr_stop", "__heron_osr_step"
#: How many times profiling mode asks again for a loop whose switch failed in a way that may
#: pass later (a function it calls was not compiled yet), each time after a longer wait.
RETRIES = 3
#: How many loops of one code object may switch (each later one after it gets hot in turn).
SWITCHES = 8
_SAFE_CALLS = frozenset(("len", "int", "min", "max", "abs"))


class Candidate:
    """One loop of the running code that may be switched: its AST node and what is known of
    it before it runs (the header line, where to jump, whether its back-edge can be taken)."""

    __slots__ = ("loop", "line", "end_line", "target_line", "back_edge", "made", "tried",
                 "why", "switched", "entry_offset", "after", "target_offset", "final")

    def __init__(self, loop, target_line, back_edge, entry_offset, target_offset, after=()):
        self.loop = loop
        self.target_offset = target_offset  # the first instruction of the target line
        self.after = after                # the statement lists that may run after it
        self.line = loop.lineno
        self.end_line = loop.end_lineno or loop.lineno
        self.target_line = target_line
        self.back_edge = back_edge        # a for loop over range(...) switchable mid-run
        self.entry_offset = entry_offset  # the header's first instruction
        self.made = {}                    # form ("rest"/"whole") -> (function, dispatcher, ...)
        self.tried = False                # this switch tried it (and it did not switch)
        self.final = False                # its failure will not pass (no use asking again)
        self.why = None
        self.switched = 0                 # how many times it was switched


class Switch:
    """The trace function of one frame waiting to switch a loop to native code.

    ``on_done(switch)`` is called once it is removed (``switch.done``: the candidates with
    ``switched`` counts, ``why`` for those that never switched)."""

    def __init__(self, frame, candidates, host, module_level, dispatcher_class, name,
                 qualname, on_done):
        self.frame = frame
        self.candidates = candidates
        self.by_line = {c.line: c for c in candidates}
        self.low = min(c.line for c in candidates)
        self.high = max(c.end_line for c in candidates)
        self.host = host
        self.module_level = module_level
        self.dispatcher_class = dispatcher_class
        self.name = name
        self.qualname = qualname
        self.on_done = on_done
        self.done = False

    # -- the trace function ------------------------------------------------------------------

    def trace(self, frame, event, arg):
        if frame is not self.frame:
            return None
        if event == "line":
            line = frame.f_lineno
            candidate = self.by_line.get(line)
            if candidate is not None:
                self._at_header(frame, candidate)
            elif not self.low <= line <= self.high:
                self.stop()               # the frame left the loops
                return None
        elif event == "return":
            self.stop()
            return None
        return self.trace if not self.done else None

    def stop(self):
        """Remove the trace function (once)."""
        if self.done:
            return
        self.done = True
        try:
            self.frame.f_trace = None
        except Exception:
            pass
        waiting = _active.get(get_ident(), set())
        waiting.discard(self)
        if not waiting and sys.gettrace() == _global:
            sys.settrace(None)        # (another switch waiting in this thread keeps it)
        self.frame = None
        try:
            self.on_done(self)
        except Exception:
            pass

    def _at_header(self, frame, candidate):
        """A line event on a candidate's header: switch it when the frame is at its back-edge
        (or its start). Each candidate is tried once per switch; the trace function is
        removed as soon as the outermost one switched, or none is left to try (it is not
        kept waiting: tracing every line costs the loop far more than it may gain)."""
        if candidate.tried or (candidate.switched and candidate is self.candidates[0]):
            return
        offset = frame.f_lasti
        if isinstance(candidate.loop, ast.For):
            if frame.f_code.co_code[offset] == _FOR_ITER:
                form = "rest" if candidate.back_edge else None
            elif offset == candidate.entry_offset:
                form = "whole"
            else:
                form = None
        else:
            form = "whole"
        if form is None:
            return
        try:
            ok = self._switch(frame, candidate, form)
        except _Raised as raised:
            self.stop()
            raise raised.exc.with_traceback(_strip(raised.exc.__traceback__)) from None
        except Exception as exc:
            candidate.why = f"Heron could not switch it ({type(exc).__name__}: {exc})"
            candidate.final = True
            ok = False
        if ok:
            candidate.switched += 1
            if candidate is self.candidates[0]:
                self.stop()
            return
        candidate.tried = True
        if all(c.tried for c in self.candidates):
            self.stop()           # (an inner loop that switched keeps it: it may run again)

    @property
    def may_retry(self):
        """Whether asking again later may switch a loop: none switched, and a failure may
        pass (a callee not compiled yet, types that may change)."""
        return not any(c.switched for c in self.candidates) and \
            any(c.tried and not c.final for c in self.candidates)

    # -- the switch --------------------------------------------------------------------------

    def _switch(self, frame, candidate, form):
        """Run the rest of ``candidate``'s loop as native code and jump past it; False (and
        ``candidate.why``) when it cannot be done now. Raises ``_Raised`` with the exception
        the loop raised."""
        loop = candidate.loop
        local = frame.f_globals if self.module_level else frame.f_locals
        made = candidate.made.get(form)
        if made is None:
            made = candidate.made[form] = self._make(candidate, form)
        function, dispatcher, params, outputs, range_args = made
        values = []
        for name in params:
            if name in (_START, _STOP, _STEP):
                continue
            if name not in local:
                candidate.why = (f"its variable {name} was unbound when the loop was to be "
                                 f"switched")
                return False
            values.append(local[name])
        if form == "rest":
            bounds = [eval(arg, frame.f_globals, local) for arg in range_args]
            span = range(*bounds)
            current = local[loop.target.id]
            if type(current) is not int or current not in span:
                candidate.why = "its loop variable does not follow its range"
                return False
            values += [current + span.step, span.stop, span.step]
        failure = _lift._argument_failure(params, values)
        if failure is not None:
            candidate.final = True                # the variable will not change its kind
        else:
            failure = _plain_callee(loop, frame.f_globals)
        if failure is None:
            failure = dispatcher.compile_for(*values)
        if failure is not None:
            candidate.why = str(failure)
            return False
        unbound = []
        if _BINDS_NONE and not self.module_level:
            unbound = [n for n in frame.f_code.co_varnames if n not in local]
            for name in unbound:
                if not _assigned_before_read(candidate.after, name):
                    candidate.why = (f"its variable {name} is unbound, and the code after the "
                                     f"loop may read it before it assigns it (CPython 3.12+ "
                                     f"binds it to None when a frame jumps)")
                    candidate.final = True
                    return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # "assigning None to ..."
                _jump(frame, candidate)
        except ValueError as exc:
            candidate.why = f"the interpreter would not jump past the loop ({exc})"
            return False
        if unbound and not _PY313:
            for name in unbound:      # None already: written back without a second warning
                local[name] = None
        try:
            results = dispatcher(*values)
        except BaseException as exc:
            try:
                frame.f_lineno = candidate.line     # the traceback's line: the loop's
            except ValueError:
                pass
            raise _Raised(exc)
        for name, value in zip(outputs, results):
            local[name] = value       # globals, 3.13's write-through proxy, or the dict
        return True                   # 3.10-3.12 write back when the trace function returns

    def _make(self, candidate, form):
        """``(function, dispatcher, params, outputs, range argument codes)`` for the rest of
        the loop (``form``: ``"rest"`` from a back-edge, ``"whole"`` from its start)."""
        loop = candidate.loop
        if self.module_level:
            local = _lift._names(loop, ast.Store)
        else:
            local = set(self.frame.f_code.co_varnames)
        inputs, assigned = _lift._live_in(loop, local)
        after = assigned if self.module_level else _lift._used_outside(self.host, loop) & assigned
        outputs = sorted(assigned & (set(after) | set(inputs)))
        params = set(inputs) | set(after)
        body = _lift._copy(loop)
        range_args = []
        if form == "rest":
            params.add(loop.target.id)
            range_args = [compile(ast.Expression(body=arg), "<heron osr>", "eval")
                          for arg in loop.iter.args]
            body.iter = ast.Call(func=ast.Name(id="range", ctx=ast.Load()),
                                 args=[ast.Name(id=n, ctx=ast.Load())
                                       for n in (_START, _STOP, _STEP)], keywords=[])
            ast.copy_location(body.iter, loop.iter)
            for n in ast.walk(body.iter):
                ast.copy_location(n, loop.iter)
        params = sorted(params) + ([_START, _STOP, _STEP] if form == "rest" else [])
        filename = self.frame.f_code.co_filename
        synth, code = _lift.synthesize(loop, body, params, outputs, self.name, filename)
        function = types.FunctionType(code, self.frame.f_globals, self.name)
        function.__qualname__ = f"{self.qualname}.<loop at line {candidate.line}>"
        function.__module__ = self.frame.f_globals.get("__name__")
        _source.register(function, synth, filename)
        dispatcher = self.dispatcher_class().wrap(function, {})
        return function, dispatcher, params, outputs, range_args


def _jump(frame, candidate):
    """Move ``frame`` to the first instruction of the statement after the loop.

    The interpreter's ``f_lineno`` setter picks, among the instructions that start a part of
    the target line, the one with the deepest value stack compatible with the current one:
    from a ``for`` loop's back-edge (its iterator on the stack) that can be the clean-up code
    of a ``with`` statement on that line, which would take the iterator for its ``__exit__``
    (seen on 3.11-3.13). So when the direct jump lands elsewhere than the line's first
    instruction, the frame jumps to the loop's header first (its first instruction, the
    iterator popped), and from there, with the stack of the code around the loop, to the
    line's first instruction. Raises ``ValueError`` when the interpreter refuses the first
    jump (nothing changed then)."""
    frame.f_lineno = candidate.target_line
    if frame.f_lasti == candidate.target_offset:
        return
    frame.f_lineno = candidate.line
    if frame.f_lasti == candidate.entry_offset:
        frame.f_lineno = candidate.target_line
        if frame.f_lasti == candidate.target_offset:
            return
    raise SystemError("Heron's on-stack replacement could not find the statement after the "
                      f"loop at line {candidate.line}; please report it")


def _plain_callee(loop, namespace):
    """Why the loop cannot compile yet: it calls a module-level Python function that is not
    compiled (profiling mode may compile it later); or None. Cheaper than compiling."""
    for node in ast.walk(loop):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            value = namespace.get(node.func.id)
            if type(value) is types.FunctionType:
                return f"it calls the Python function {node.func.id}(), not compiled (yet)"
    return None


class _Raised(Exception):
    def __init__(self, exc):
        self.exc = exc


def _strip(tb):
    """The traceback without this module's frames."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


_active = {}        # thread ident -> the switches waiting in that thread


def _global(frame, event, arg):
    """The global trace function while a switch waits: it traces no other frame."""
    return None


# -- planning ---------------------------------------------------------------------------------

def request(frame, code_node, module_level, dispatcher_class, qualname, on_done):
    """Ask for the loops running in ``frame`` (in this thread) to switch to native code.

    Args:
        frame: the running frame (module code, or a function without closure cells).
        code_node: the ``ast.Module`` or ``ast.FunctionDef`` of ``frame.f_code``.
        module_level: True for module code (its variables are the module's globals).
        dispatcher_class: a callable returning ``heron._native.Dispatcher``.
        qualname: the code's qualified name (``<module>`` for module code).
        on_done: called with the ``Switch`` when it is removed.

    Returns:
        The ``Switch`` waiting in the frame, or a reason (a string) why no loop can be switched.
    """
    if sys.gettrace() is not None:
        return "a tracer is in use"
    code = frame.f_code
    candidates, why = _candidates(code_node, _running_line(frame), code, module_level,
                                  frame.f_globals)
    if candidates and (code.co_cellvars or code.co_freevars):
        return "it has variables that nested functions use (closure cells)"
    if not candidates:
        return why or "no loop around the running line can be switched"
    name = code.co_name if not module_level else "<module>"
    switch = Switch(frame, candidates, code_node, module_level, dispatcher_class, name,
                    qualname, on_done)
    _active.setdefault(get_ident(), set()).add(switch)
    sys.settrace(_global)
    frame.f_trace = switch.trace
    frame.f_trace_lines = True
    return switch


def _candidates(node, line, code, module_level, namespace):
    """The loops of ``node`` that contain ``line`` and can be switched, outermost first, and
    the reason for the first that cannot (or None)."""
    found, why = [], [None]
    first_offsets = _first_offsets(code)

    def walk(body, tail, cont):
        # ``tail``: the line of the statement that follows this block (None: none does);
        # ``cont``: the statement lists that may run after this block.
        for index, stmt in enumerate(body):
            if not (stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno)):
                continue
            following = body[index + 1].lineno if index + 1 < len(body) else tail
            after = [body[index + 1:]] + cont
            if isinstance(stmt, _lift._GUARDED):
                why[0] = why[0] or "the loop is inside a try or with block"
                return
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                return
            if isinstance(stmt, _lift._LOOPS):
                reason = _static_reason(stmt, following, code, module_level, namespace,
                                        first_offsets)
                if reason is None:
                    back_edge = _back_edge(stmt)
                    found.append(Candidate(stmt, following, back_edge,
                                           first_offsets.get(stmt.lineno),
                                           first_offsets.get(following), after))
                else:
                    why[0] = why[0] or f"the loop at line {stmt.lineno}: {reason}"
                # After an inner loop: the rest of this one's body, then all of it again.
                walk(stmt.body, None, [[stmt]] + after)
                walk(stmt.orelse, None, after)
            elif isinstance(stmt, ast.If):
                walk(stmt.body, following, after)
                walk(stmt.orelse, following, after)
            return

    walk(node.body, None, [])
    return found, why[0]


def _running_line(frame):
    """The line ``frame`` runs (``f_lineno`` is None at instructions of no line: then the line
    of the nearest instruction before it)."""
    line = frame.f_lineno
    if line is not None:
        return line
    offset, best = frame.f_lasti, 0
    for start, _end, number in frame.f_code.co_lines():
        if number is not None and start <= offset:
            best = number
    return best


def _assigned_before_read(after, name):
    """Whether the statements that may run after a loop (``after``: lists of statements, in
    the order they may run) assign ``name`` before anything could read or delete it, or never
    use it. Conservative: a compound statement that uses the name anywhere counts as a read,
    except ``with ... as name``; a call of ``locals``, ``vars``, ``dir``, ``eval`` or ``exec``
    reads every name."""
    for stmts in after:
        for stmt in stmts:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and \
                        n.func.id in _lift._MAGIC_CALLS:
                    return False
            targets = ()
            if isinstance(stmt, ast.Assign):
                targets, reads = stmt.targets, [stmt.value]
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, reads = [stmt.target], [stmt.value]
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                targets = [item.optional_vars for item in stmt.items
                           if item.optional_vars is not None]
                reads = [item.context_expr for item in stmt.items]
            else:
                reads = [stmt]
            if any(_mentions(r, name) for r in reads):
                return False
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
            if any(_mentions(t, name) for t in targets):
                return False
            if isinstance(stmt, (ast.With, ast.AsyncWith)) and \
                    any(_mentions(b, name) for b in stmt.body):
                return False
    return True


def _mentions(node, name):
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _first_offsets(code):
    """``{line: first instruction offset}`` of ``code``."""
    first = {}
    for start, _end, line in code.co_lines():
        if line is not None and (line not in first or start < first[line]):
            first[line] = start
    return first


def _static_reason(loop, following, code, module_level, namespace, first_offsets):
    """Why ``loop`` cannot be switched, before anything runs (None: it may be)."""
    reason = _lift.liftable(loop)
    if reason is not None:
        return reason
    if following is None:
        return "no statement follows it in its block"
    if loop.body and loop.body[0].lineno == loop.lineno:
        return "its body is on its header's line"
    start = first_offsets.get(loop.lineno)
    target = first_offsets.get(following)
    if start is None or target is None or target <= start:
        return "the interpreter's code for the statement after it comes before it"
    if module_level:
        assigned = _lift._names(loop, ast.Store)
        used = _names_of_functions(code)
        shared = sorted(assigned & used)
        if shared:
            return (f"a function of the module uses {shared[0]}, which the loop assigns "
                    f"(it would see the value from before the switch)")
    elif _lift._names(loop, ast.Store) - set(code.co_varnames):
        return "it assigns a global"
    return None


def _back_edge(loop):
    """Whether the ``for`` loop can be switched at a back-edge: ``for name in range(...)``
    with arguments that the loop does not assign and that have no side effects, and a loop
    variable the body does not assign."""
    if not isinstance(loop, ast.For) or not isinstance(loop.target, ast.Name):
        return False
    it = loop.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and
            it.func.id == "range" and 1 <= len(it.args) <= 3 and not it.keywords):
        return False
    assigned = _lift._names(loop, ast.Store) - {loop.target.id}
    if loop.target.id in _names_in(loop.body, ast.Store):
        return False
    for arg in it.args:
        if not _pure(arg) or _lift._names(arg, ast.Load) & (assigned | {loop.target.id}):
            return False
    return True


def _names_in(stmts, ctx):
    names = set()
    for stmt in stmts:
        names |= _lift._names(stmt, ctx)
    return names


def _pure(node):
    """Whether evaluating the expression again gives the same value without side effects
    (names, constants, arithmetic, ``len``/``int``/``min``/``max``/``abs``, ``.shape``,
    ``.size``, subscripts of those)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.BinOp):
        return _pure(node.left) and _pure(node.right)
    if isinstance(node, ast.UnaryOp):
        return _pure(node.operand)
    if isinstance(node, ast.Attribute):
        return node.attr in ("shape", "size", "ndim") and _pure(node.value)
    if isinstance(node, ast.Subscript):
        return _pure(node.value) and _pure(node.slice)
    if isinstance(node, ast.Call):
        return (isinstance(node.func, ast.Name) and node.func.id in _SAFE_CALLS and
                not node.keywords and all(_pure(a) for a in node.args))
    return False


def _names_of_functions(code):
    """The names that the functions (and classes) defined in the module code ``code`` use."""
    names = set()
    todo = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    while todo:
        inner = todo.pop()
        names.update(inner.co_names)
        todo.extend(c for c in inner.co_consts if isinstance(c, types.CodeType))
    return names
