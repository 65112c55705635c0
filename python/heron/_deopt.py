"""Deoptimization: continue a compiled call in the interpreter from the statement where native
code stopped (an integer that outgrew 64 bits, a value native code does not handle).

Native code stops at a *deoptimization point*: a statement, named by its path in the function's
AST (``((field, index), ...)`` from the function body, ``field`` 0 for ``body`` and 1 for
``orelse``). It hands over the variables definitely assigned there and, for each loop it is
inside, the loop's hidden state (a ``range`` loop's current value, stop and step; a
``for x in array`` loop's array and index). ``continuation`` builds, from the function's own
AST, a plain Python function of those values that runs the rest of the call: the statement and
those after it in its block, the rest of each enclosing loop's current iteration, the loop's
remaining iterations (and its ``else``), and so on out to the function's end. Every statement
keeps its source position, so tracebacks and warnings show the user's lines. Output already
printed and arrays already written are not repeated: the call goes on, it does not start again.

Calls whose results native code had already computed in the statement (a call to a compiled
function with side effects) are replaced by those results (``substitutions``).
"""

import ast
import copy
import types
import weakref

_FIELDS = ("body", "orelse")
# Continuations per function object (weakly: a function that goes away takes its own). Not by
# code object: equal code objects of two functions (the same source in two modules, which code
# equality does not tell apart by file) have different globals.
_cache = weakref.WeakKeyDictionary()


def continuation(func, path, loops, params, substitutions=()):
    """Return (built once, then cached) the continuation of ``func`` at ``path``.

    Args:
        func: the original Python function (``__code__``, ``__globals__``).
        path: tuple of ``(field, index)`` pairs naming the statement to continue from.
        loops: dict ``level -> ("range", cur, stop, step)``, ``("each", iter, index)``,
            ``("flat", iter, index)``, ``("ndindex", shape, index)`` or ``("ndenumerate", iter,
            index)`` (and zip, enumerate, as
            ``_resume_loop`` reads them): the
            names of the hidden loop state for the loop at ``path[:level + 1]`` (when the
            statement is in that loop's body). ``while`` loops need none.
        params: tuple of parameter names of the continuation, in the order the values come.
        substitutions: tuple of ``((line, col, end_line, end_col), name)``: a call expression
            at that position is replaced by the parameter ``name``.

    Returns:
        A function taking the values of ``params`` positionally, whose result is the result of
        the call.

    Raises:
        LookupError, OSError: the function's source cannot be found (it was compiled, so it
        could be found before).
    """
    key = (path, tuple(sorted(loops.items())), params, substitutions)
    mine = _cache.get(func)
    if mine is None or mine[0] is not func.__code__:
        mine = (func.__code__, {})
        _cache[func] = mine
    fn = mine[1].get(key)
    if fn is None:
        fn = _build(func, path, loops, params, dict(substitutions))
        mine[1][key] = fn
    return fn


def _build(func, path, loops, params, substitutions):
    from heron._source import function_ast

    node, filename, qualname = function_ast(func)
    body = _rest(node, list(path), 0, loops, substitutions, "$skip" in params)
    if not body:
        body = [ast.Pass()]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    fields = {"name": node.name, "args": args, "body": body, "decorator_list": [],
              "returns": None, "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    fdef = ast.FunctionDef(**fields)
    ast.copy_location(fdef, node)
    module = ast.Module(body=[fdef], type_ignores=[])
    _locate(module, node.lineno)
    code = compile(module, filename, "exec", dont_inherit=True)
    fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    if hasattr(fcode, "co_qualname"):
        fcode = fcode.replace(co_qualname=qualname)
    fn = types.FunctionType(fcode, func.__globals__, node.name)
    fn.__qualname__ = qualname
    return fn


def _locate(tree, line):
    """Give the nodes made here (no position yet) the position ``line``."""
    for n in ast.walk(tree):
        if "lineno" in n._attributes and not hasattr(n, "lineno"):
            n.lineno = line
            n.col_offset = 0
        if "end_lineno" in n._attributes and getattr(n, "end_lineno", None) is None:
            n.end_lineno = n.lineno
            n.end_col_offset = n.col_offset


def _name(id, store=False):
    return ast.Name(id=id, ctx=ast.Store() if store else ast.Load())


def _rest(node, path, level, loops, substitutions, skip=False):
    """The statements that run from the statement at ``path`` to the end of ``node``'s block
    ``path[level]`` names (``node`` the statement that owns the block). With ``skip``, the
    first statement runs under ``with $skip:`` (a ``skip_warnings``)."""
    field, index = path[level]
    block = getattr(node, _FIELDS[field])
    after = [copy.deepcopy(s) for s in block[index + 1:]]
    target = block[index]
    if level == len(path) - 1:
        first = copy.deepcopy(target)
        if substitutions:
            first = _Substitute(substitutions).visit(first)
        if skip:
            first = ast.With(items=[ast.withitem(context_expr=_name("$skip"))], body=[first])
        return [first] + after
    inner = _rest(target, path, level + 1, loops, substitutions, skip)
    inner_field = path[level + 1][0]
    if isinstance(target, (ast.For, ast.While)) and inner_field == 0:
        return _resume_loop(target, level, inner, loops) + after
    return inner + after  # an `if` branch, or a loop's `else` (the loop is over)


def _resume_loop(loop, level, inner, loops):
    """The rest of a loop's current iteration (``inner``), then its remaining iterations:

        $brk = False
        while True:            # once: `break` of the loop sets $brk, `continue` ends it
            <inner>
            break
        if not $brk:
            <the loop, over its remaining iterations, with its else>
    """
    flag = f"$brk{level}"
    once = ast.While(test=ast.Constant(True), body=_retarget(inner, flag) + [ast.Break()], orelse=[])
    rest = copy.deepcopy(loop)
    state = loops.get(level)
    if isinstance(loop, ast.For):
        if state is None:
            raise LookupError(f"no loop state for the loop at line {loop.lineno}")
        if state[0] == "range":
            _, cur, stop, step = state
            start = ast.BinOp(left=_name(cur), op=ast.Add(), right=_name(step))
            rest.iter = ast.Call(func=_name("$range"), args=[start, _name(stop), _name(step)],
                                 keywords=[])
        elif state[0] == "each":
            _, it, idx = state
            rest.iter = _rest_of(it, idx)
        elif state[0] == "flat":
            # `for x in a.flat` over a strided array: the rest of the live flat iterator.
            _, it, idx = state
            start = ast.BinOp(left=_name(idx), op=ast.Add(), right=ast.Constant(1))
            flat = ast.Attribute(value=_name(it), attr="flat", ctx=ast.Load())
            rest.iter = ast.Call(func=_name("$islice"), args=[flat, start, ast.Constant(None)],
                                 keywords=[])
        elif state[0] in ("ndindex", "ndenumerate"):
            # `for ind in np.ndindex(shape)`, `for idx, x in np.ndenumerate(a)`: the rest of
            # the items of a new iterator over the same shape (array).
            kind, it, idx = state
            start = ast.BinOp(left=_name(idx), op=ast.Add(), right=ast.Constant(1))
            tuples = ast.Call(func=_name("$" + kind), args=[_name(it)], keywords=[])
            rest.iter = ast.Call(func=_name("$islice"), args=[tuples, start, ast.Constant(None)],
                                 keywords=[])
        elif state[0] == "zip":
            _, idx, *its = state
            rest.iter = ast.Call(func=_name("$zip"), args=[_rest_of(it, idx) for it in its],
                                 keywords=[])
        else:  # enumerate
            _, it, idx, first = state
            count = ast.BinOp(left=ast.BinOp(left=_name(idx), op=ast.Add(), right=ast.Constant(1)),
                              op=ast.Add(), right=_name(first))
            rest.iter = ast.Call(func=_name("$enumerate"), args=[_rest_of(it, idx), count],
                                 keywords=[])
    resume = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_name(flag)), body=[rest], orelse=[])
    set_flag = ast.Assign(targets=[_name(flag, store=True)], value=ast.Constant(False))
    return [set_flag, once, resume]


def _rest_of(it, idx):
    """``it[idx + 1:]``: the items of array ``it`` after index ``idx``."""
    start = ast.BinOp(left=_name(idx), op=ast.Add(), right=ast.Constant(1))
    return ast.Subscript(value=_name(it), slice=ast.Slice(lower=start, upper=None, step=None),
                         ctx=ast.Load())


def _retarget(stmts, flag):
    """Rewrite the ``break``/``continue`` statements that belong to the loop enclosing
    ``stmts`` (not to loops inside them) for the run-once loop of ``_resume_loop``."""
    out = []
    for s in stmts:
        if isinstance(s, ast.Break):
            out.append(ast.copy_location(ast.Assign(targets=[_name(flag, store=True)],
                                                    value=ast.Constant(True)), s))
            out.append(s)
        elif isinstance(s, ast.Continue):
            out.append(ast.copy_location(ast.Break(), s))
        elif isinstance(s, (ast.For, ast.While, ast.AsyncFor)):
            s.orelse = _retarget(s.orelse, flag)  # a loop's else belongs to the outer loop
            out.append(s)
        else:
            for field in ("body", "orelse", "finalbody"):
                part = getattr(s, field, None)
                if isinstance(part, list) and part and isinstance(part[0], ast.stmt):
                    setattr(s, field, _retarget(part, flag))
            for handler in getattr(s, "handlers", ()) or ():
                handler.body = _retarget(handler.body, flag)
            out.append(s)
    return out


class _Substitute(ast.NodeTransformer):
    """Replace the call expressions at given positions by names."""

    def __init__(self, substitutions):
        self.subs = substitutions

    def visit_Call(self, node):
        key = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        name = self.subs.get(key)
        if name is not None:
            return ast.copy_location(_name(name), node)
        return self.generic_visit(node)


class skip_warnings:
    """Context manager for the statement a deoptimization re-runs in the interpreter: native
    code already issued the first ``count`` warnings of that statement (NumPy float reports,
    counted in ``Env::warned``), and the re-run, which makes the same operations on the same
    values, issues them again. Records the statement's warnings, then issues all but the first
    ``count`` as the statement would have, through ``warnings.warn_explicit`` with the module's
    registry (its filters, "once per location" included, then apply).

    Args:
        count: int, how many warnings to leave out (>= 1).
        globals: the function's globals (``__name__``, ``__warningregistry__``).

    Known limits: a warning of another thread issued during the statement is recorded too;
    a warning turned into an error by a filter is raised at the end of the statement, not
    in its middle.
    """

    def __init__(self, count, globals):
        import warnings
        self._count = count
        self._globals = globals
        self._catch = warnings.catch_warnings(record=True)

    def __enter__(self):
        import warnings
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        import warnings
        self._catch.__exit__(*exc)
        module = self._globals.get("__name__", "__main__")
        registry = self._globals.setdefault("__warningregistry__", {})
        for w in self._caught[self._count:]:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, module=module,
                                   registry=registry, source=w.source)
        return False
