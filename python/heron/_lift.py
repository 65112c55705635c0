"""Loop lifting for profiling mode (issue 13, item 4): a hot function that cannot be compiled as a
whole gets its loops compiled on their own, for its next calls.

For each outermost loop (``for`` or ``while``) of the function's body that can be taken out
(``liftable``), a function is *synthesized* from the loop's own AST nodes (their file and line
numbers kept, so that Heron's reasons and the interpreter's tracebacks point at the real
source): its parameters are the loop's *live-in* variables (local variables the loop reads
before it assigns them, and those it assigns that the rest of the function uses), its body is
the loop, and it returns the *live-out* variables (those of the parameters the loop assigns)::

    def f(path, xs):                          def <loop at line 4>(n, s, xs):
        n = len(xs)                               for i in range(n):
        s = 0.0                                       s += xs[i] * xs[i]
        for i in range(n):            ->          return (s,)
            s += xs[i] * xs[i]
        with open(path, "w") as out:
            print(s, file=out)

The function's code is then rewritten (the same file, lines and names) with the loop replaced
by a call of Heron's dispatcher for the synthesized function, kept in the code's constants::

        try:
            args = (n, s, xs)
        except NameError:                 # a variable still unbound: the loop as written
            args = None
        if args is None:
            for i in range(n): ...
        else:
            (s,) = DISPATCHER(*args)

The dispatcher compiles the loop for the types its variables have when it first runs, and
runs it in the interpreter (the synthesized function, the same statements) when it cannot:
the program behaves the same either way. A loop whose own code cannot be compiled is searched
for inner loops that can.

A loop is not taken out when it contains ``return``, ``yield``, ``await``, ``global``,
``nonlocal``, ``del``, ``import``, a ``def``, ``class`` or ``lambda``, or calls ``locals``,
``vars``, ``eval``, ``exec`` or ``super``, or when the function has closure cells; nor at module
level (module-level code cannot be replaced while it runs; a loop running when it gets hot is
switched mid-loop by ``heron._osr``, on-stack replacement, which uses this module's analysis),
nor inside a ``try`` or ``with``
block (an ``except``, ``finally`` or ``__exit__`` would see the variables as the loop left them
when it raised; a lifted loop's would be lost).

An exception raised in a lifted loop and not caught in it leaves the function's variables as
they were before the loop (the function's frame ends with it, so the program cannot see them),
and its traceback has one more entry than the interpreter's: the function at the loop's first
line, then the function again at the line that raised.
"""

import ast
import sys
import types

from heron import _source
from heron import _autoreasons as _reasons
from heron._autoreasons import TEXT_METHODS as _TEXT_METHODS

_PLACEHOLDER = "__heron_lifted_loop_{}__"
_ARGS = "__heron_loop_args"
_FORBIDDEN = (ast.Return, ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal,
              ast.Delete, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
              ast.ClassDef, ast.Lambda, ast.AsyncFor, ast.AsyncWith)
_SCOPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_MAGIC_CALLS = frozenset(("locals", "vars", "eval", "exec", "super", "dir"))
_LOOPS = (ast.For, ast.While)
_GUARDED = (ast.Try, ast.With) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
_STRIP_OWN_FRAME = sys.version_info >= (3, 11)    # a bare raise adds no traceback entry


class Lifted:
    """One loop taken out of a hot function: the object its rewritten function calls in the
    loop's place (``Lifted(*live_in) -> live_out``). At its first run it compiles the loop for
    the types of its variables; the runs after go to the compiled code (the dispatcher, which
    compiles again for other types), or, when it did not compile, to ``fallback``: the loop in
    the interpreter, with the loops inside it lifted in turn (``inner``)."""

    __slots__ = ("line", "end_line", "inputs", "outputs", "function", "dispatcher",
                 "fallback", "inner", "state", "why", "host")

    def __init__(self, line, end_line, inputs, outputs, function, dispatcher_class):
        self.line = line
        self.end_line = end_line
        self.inputs = inputs
        self.outputs = outputs
        self.function = function          # the synthesized function (the loop as written)
        self.dispatcher = dispatcher_class    # a callable giving the class, until first run
        self.fallback = function
        self.inner = []
        self.state = None                 # None (not run yet), "native" or "python"
        self.why = None                   # the compiler's reason, when it did not compile
        self.host = None                  # the _Host it belongs to (top-level loops only)

    def __call__(self, *args):
        """Run the loop with its live-in values; returns its live-out values (a tuple)."""
        state = self.state
        if state is None:
            failure = _argument_failure(self.inputs, args)
            if failure is None:
                try:
                    self.dispatcher = self.dispatcher().wrap(self.function, {})
                    failure = self.dispatcher.compile_for(*args)
                except Exception as exc:
                    failure = f"{type(exc).__name__}: {exc}"
            if failure is not None:
                self.why = str(failure)
            state = self.state = "native" if failure is None else "python"
            if state == "python" and not self.inner and self.host is not None:
                self.host.failed()
        try:
            if state == "native":
                return self.dispatcher(*args)
            return self.fallback(*args)
        except BaseException as exc:
            if _STRIP_OWN_FRAME and exc.__traceback__ is not None:
                exc.__traceback__ = exc.__traceback__.tb_next     # this frame
            raise

    def __reduce__(self):
        """A function copied by value (cloudpickle, as Dask and joblib do for functions of
        ``__main__``) gets the loop as written in its copy."""
        return (_as_written, (self.function,))

    def stats(self):
        """The dispatcher's statistics (``{}`` when there is none)."""
        try:
            return dict(self.dispatcher.stats()) if self.state is not None else {}
        except Exception:
            return {}

    def describe(self, display):
        """One sentence for the report: where the loop is and what became of it."""
        stats = self.stats()
        where = f"{display}:{self.line}"
        native = int(stats.get("native_calls") or 0)
        calls = int(stats.get("calls") or 0)
        if native:
            return (f"its loop at {where} was compiled on its own (loop lifting) and ran as "
                    f"native code in {native} of {calls} runs")
        names = ", ".join(self.inputs)
        text = (f"its loop at {where} was taken out to be compiled on its own, but each run "
                f"since started with one of its variables ({names}) unbound, and ran as "
                f"written (a variable the loop assigns and the code after it reads must be "
                f"bound before the loop)")
        if self.state == "python":
            text = f"its loop at {where} could not be compiled on its own"
            reason, line = self.why, self.line
            for item in reversed(stats.get("failures") or []):
                if item.get("reason"):
                    reason, line = str(item["reason"]), int(item.get("line") or 0) or line
                    break
            if reason:
                text += f": {reason} ({display}:{line})"
        inner = "; ".join(item.describe(display) for item in self.inner)
        return f"{text}; {inner}" if inner else text


def _as_written(function):
    """The loop of a copied ``Lifted``: its synthesized function, run by the interpreter."""
    return function


class _Host:
    """A function whose loops were lifted: it gets its own code back when none of them
    compiled at its first run (nothing is gained, and each run would pay a call more)."""

    __slots__ = ("fn", "code", "new", "loops")

    def __init__(self, fn, code, new, loops):
        self.fn, self.code, self.new, self.loops = fn, code, new, loops

    def failed(self):
        """One of the loops did not compile: restore the code if none did."""
        if all(item.state == "python" and not item.inner for item in self.loops):
            try:
                if self.fn.__code__ is self.new:
                    self.fn.__code__ = self.code
            except Exception:
                pass


def _argument_failure(names, values):
    """Why compiled code cannot take these loop variables (checked before the native extension
    is loaded), or None."""
    numpy = sys.modules.get("numpy")
    numeric = (numpy.ndarray, numpy.generic) if numpy is not None else ()
    for name, value in zip(names, values):
        kind = type(value)
        if kind is float or kind is bool or (kind is int and -(1 << 63) <= value < 1 << 63):
            continue
        if numeric and isinstance(value, numeric):
            continue
        return f"its variable {name} holds {_reasons.article(kind.__name__)}"
    return None


def lift(fn, dispatcher_class):
    """Rewrite ``fn`` (a plain module-level function) so that its liftable loops run through
    Heron's dispatchers; returns the list of ``Lifted`` loops (empty: ``fn`` is unchanged).
    ``dispatcher_class`` is called (with no arguments) for ``heron._native.Dispatcher`` when a
    loop first runs with variables compiled code takes. Never raises."""
    try:
        return _lift(fn, dispatcher_class)
    except Exception:
        return []


def _lift(fn, dispatcher_class):
    code = fn.__code__
    if code.co_cellvars or code.co_freevars:
        return []
    node, filename, _qualname = _source.function_ast(fn)
    if not any(isinstance(n, _LOOPS) for n in ast.walk(node)):
        return []
    host = _copy(node)
    host.decorator_list = []
    lifted = []
    _rewrite_body(host, host.body, set(code.co_varnames), fn, filename, dispatcher_class,
                  lifted)
    if not lifted:
        return []
    new = _compiled(host, filename, lifted)
    if sys.version_info >= (3, 11):
        new = new.replace(co_qualname=code.co_qualname)
    if new.co_freevars or new.co_argcount != code.co_argcount:
        return []
    host = _Host(fn, code, new, lifted)
    for item in lifted:
        item.host = host
    fn.__code__ = new
    return lifted


def _compiled(defnode, filename, lifted):
    """The code of the function ``defnode`` with the placeholders of its lifted loops
    replaced by their ``Lifted`` objects."""
    module = ast.Module(body=[defnode], type_ignores=[])
    ast.fix_missing_locations(module)
    compiled = compile(module, filename, "exec", dont_inherit=True)
    new = next(c for c in compiled.co_consts if isinstance(c, types.CodeType))
    places = {_PLACEHOLDER.format(i): item for i, item in enumerate(lifted)}
    consts = tuple(places.get(c, c) if isinstance(c, str) else c for c in new.co_consts)
    return new.replace(co_consts=consts)


def _copy(node):
    import copy
    return copy.deepcopy(node)


def _rewrite_body(host, body, local, fn, filename, dispatcher_class, lifted):
    """Replace, in the statement list ``body``, each outermost liftable loop by its call;
    looks into the loops (and ``if`` blocks) that cannot be lifted, never into ``try`` or
    ``with`` blocks."""
    for index, stmt in enumerate(list(body)):
        if isinstance(stmt, _GUARDED):
            # What a loop assigned before it raised is seen by an except, finally or __exit__
            # (which may swallow the exception): a lifted loop's variables would be lost.
            continue
        if isinstance(stmt, _LOOPS):
            replacement = _try_lift(host, stmt, local, fn, filename, dispatcher_class, lifted)
            if replacement is not None:
                body[index] = replacement
                continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                _rewrite_body(host, inner, local, fn, filename, dispatcher_class, lifted)
        for handler in getattr(stmt, "handlers", ()) or ():
            _rewrite_body(host, handler.body, local, fn, filename, dispatcher_class, lifted)


def liftable(loop):
    """Why the loop node cannot be taken out of its function (plain words), or None."""
    for node in ast.walk(loop):
        if isinstance(node, _FORBIDDEN):
            return f"it contains {type(node).__name__.lower()}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in _MAGIC_CALLS:
            return f"it calls {node.func.id}()"
        if isinstance(node, ast.Name) and node.id.startswith("__heron"):
            return "it uses Heron's own names"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in _TEXT_METHODS:
            return f"it calls .{node.func.attr}(), a method of strings"
    return None


def _try_lift(host, loop, local, fn, filename, dispatcher_class, lifted):
    if liftable(loop) is not None:
        return None
    if _names(loop, ast.Store) - local:
        return None          # it assigns a global (``global`` in the function)
    inputs, assigned = _live_in(loop, local)
    after = _used_outside(host, loop) & assigned
    # What the loop assigns and the rest of the function uses, or the loop itself reads from
    # an earlier run (an inner loop run again by an outer one), goes back.
    outputs = sorted(assigned & (after | set(inputs)))
    params = sorted(set(inputs) | after)
    index = len(lifted)
    name = fn.__name__        # a traceback through the loop names its function
    synth, code = synthesize(loop, _copy(loop), params, outputs, name, filename)
    if code.co_freevars or code.co_cellvars:
        return None
    function = _function(code, fn, loop.lineno, name)
    _source.register(function, synth, filename)
    item = Lifted(loop.lineno, loop.end_lineno, params, outputs, function, dispatcher_class)
    # The loop in the interpreter, should it not compile: its own inner loops lifted.
    fallback = _copy(synth)
    inner_loop = fallback.body[0]
    inner_local = set(code.co_varnames)
    _rewrite_body(fallback, inner_loop.body, inner_local, fn, filename, dispatcher_class,
                  item.inner)
    _rewrite_body(fallback, inner_loop.orelse, inner_local, fn, filename, dispatcher_class,
                  item.inner)
    if item.inner:
        item.fallback = _function(_compiled(fallback, filename, item.inner), fn, loop.lineno,
                                  name)
    lifted.append(item)
    return _call_site(loop, params, outputs, _PLACEHOLDER.format(index))


def synthesize(loop, body, params, outputs, name, filename):
    """``(FunctionDef, code)`` of a function named ``name`` taking ``params`` that runs
    ``body`` (a loop statement made from ``loop``, whose file and lines it keeps) and returns
    the tuple of ``outputs`` (its ``return`` on the loop's last line). Shared with on-stack
    replacement (``heron._osr``)."""
    synth = ast.FunctionDef(
        name=name,
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None,
                           kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[body, ast.Return(value=_tuple(outputs, ast.Load()))],
        decorator_list=[], returns=None, type_comment=None)
    if sys.version_info >= (3, 12):
        synth.type_params = []
    ast.copy_location(synth, loop)
    for stmt in synth.body[1:]:
        _locate(stmt, loop.end_lineno or loop.lineno)
    module = ast.Module(body=[synth], type_ignores=[])
    ast.fix_missing_locations(module)
    compiled = compile(module, filename, "exec", dont_inherit=True)
    return synth, next(c for c in compiled.co_consts if isinstance(c, types.CodeType))


def _function(code, fn, line, name):
    function = types.FunctionType(code, fn.__globals__, name)
    function.__qualname__ = f"{fn.__qualname__}.<loop at line {line}>"
    function.__module__ = fn.__module__
    return function


def _tuple(names, ctx):
    return ast.Tuple(elts=[ast.Name(id=n, ctx=ctx) for n in names], ctx=ctx)


def _locate(node, line):
    for n in ast.walk(node):
        if "lineno" in n._attributes:
            n.lineno = n.end_lineno = line
            n.col_offset = n.end_col_offset = 0


def _call_site(loop, params, outputs, placeholder):
    """The statements that stand where ``loop`` stood (see the module docstring)."""
    args = ast.Name(id=_ARGS, ctx=ast.Store())
    guard = ast.Try(
        body=[ast.Assign(targets=[args], value=_tuple(params, ast.Load()))],
        handlers=[ast.ExceptHandler(type=ast.Name(id="NameError", ctx=ast.Load()), name=None,
                                    body=[ast.Assign(targets=[ast.Name(id=_ARGS,
                                                                       ctx=ast.Store())],
                                                     value=ast.Constant(value=None))])],
        orelse=[], finalbody=[])
    # `("..." if 1 else 0)` compiles to one LOAD_CONST of the string, replaced afterwards by
    # the dispatcher (as heron._trampoline does), without the compiler's warning about calling
    # a constant.
    callee = ast.IfExp(test=ast.Constant(value=1), body=ast.Constant(value=placeholder),
                       orelse=ast.Constant(value=0))
    call = ast.Call(func=callee, args=[ast.Starred(value=ast.Name(id=_ARGS, ctx=ast.Load()),
                                                   ctx=ast.Load())], keywords=[])
    run = ast.Assign(targets=[_tuple(outputs, ast.Store())], value=call) if outputs \
        else ast.Expr(value=call)
    test = ast.Compare(left=ast.Name(id=_ARGS, ctx=ast.Load()), ops=[ast.Is()],
                       comparators=[ast.Constant(value=None)])
    branch = ast.If(test=test, body=[loop], orelse=[run])
    for node in (guard, branch):
        for n in ast.walk(node):
            if n is not loop and "lineno" in n._attributes and not _inside(n, loop):
                ast.copy_location(n, loop)
    wrapper = ast.If(test=ast.Constant(value=1), body=[guard, branch], orelse=[])
    ast.copy_location(wrapper, loop)
    return wrapper


def _inside(node, loop):
    return any(node is n for n in ast.walk(loop))


def _names(node, ctx):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _live_in(loop, local):
    """``(live-in names, assigned names)`` of the loop, among the function's locals: a name is
    live-in when some read of it may come before any assignment in the same iteration (or it
    is read by the loop's header or after the loop body, in ``else``)."""
    assigned = _names(loop, ast.Store) & local
    reads = set()
    if isinstance(loop, ast.For):
        reads |= _names(loop.iter, ast.Load)
        defined = _names(loop.target, ast.Store)
    else:
        reads |= _names(loop.test, ast.Load)
        defined = set()
    _reads_before(loop.body, set(defined), reads)
    _reads_before(loop.orelse, set(), reads)
    if isinstance(loop, ast.While):
        reads |= _names(loop.test, ast.Load)
    return sorted(reads & local), assigned


def _reads_before(stmts, defined, reads):
    """Add to ``reads`` the names some statement of ``stmts`` reads while not yet assigned by
    an earlier unconditional statement of the same list (``defined``, updated)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Assign):
            reads |= _names(stmt.value, ast.Load) - defined
            for target in stmt.targets:
                reads |= _names(target, ast.Load) - defined     # a[i] = ...: a is read
            for target in stmt.targets:
                defined |= _names(target, ast.Store)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                reads |= _names(stmt.value, ast.Load) - defined
                defined |= _names(stmt.target, ast.Store)
        elif isinstance(stmt, ast.AugAssign):
            reads |= (_names(stmt.value, ast.Load) | _names(stmt.target, ast.Load)
                      | _names(stmt.target, ast.Store)) - defined
        elif isinstance(stmt, ast.For):
            reads |= _names(stmt.iter, ast.Load) - defined
            inner = defined | _names(stmt.target, ast.Store)
            _reads_before(stmt.body, set(inner), reads)
            _reads_before(stmt.orelse, set(defined), reads)
        elif isinstance(stmt, ast.While):
            reads |= _names(stmt.test, ast.Load) - defined
            _reads_before(stmt.body, set(defined), reads)
            _reads_before(stmt.orelse, set(defined), reads)
        elif isinstance(stmt, ast.If):
            reads |= _names(stmt.test, ast.Load) - defined
            _reads_before(stmt.body, set(defined), reads)
            _reads_before(stmt.orelse, set(defined), reads)
        else:
            # Anything else (with, try, match, expressions, walrus): every read counts.
            reads |= _names(stmt, ast.Load) - defined
            for n in ast.walk(stmt):
                if isinstance(n, ast.NamedExpr):
                    reads.add(n.target.id)
            if isinstance(stmt, ast.Expr):
                continue
            if not isinstance(stmt, (ast.Pass, ast.Break, ast.Continue)):
                reads |= _names(stmt, ast.Store) - defined
    # Names whose assignment is conditional (inside if/for/while) but read after: counted as
    # reads above through the nested lists only when read there; a read after the nested
    # block of a conditionally assigned name is a read of its value from before: it is in
    # `reads` since it is not in `defined`.
    return reads


def _used_outside(host, loop):
    """The names the function uses (reads or assigns) outside ``loop``."""
    inside = {id(n) for n in ast.walk(loop)}
    return {n.id for n in ast.walk(host) if isinstance(n, ast.Name) and id(n) not in inside}
