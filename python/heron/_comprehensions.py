"""Front end helper: comprehensions inside ``sum``, ``any``, ``all``, ``min`` and ``max``
rewritten as the loops the builtin would run (issue 12, item 4).

The Rust front end (``frontend::Lowerer::stmt``) hands each statement of a function that has a
comprehension to ``rewrite``. A call such as ``sum(x * x for x in a if x > 0)`` is replaced by
a hidden name, and statements computing that name are put before the statement::

    $builtin_sum()                 # the name `sum` must be the builtin (guarded by inference)
    $g0_r = 0
    for $g0_x in a:
        if $g0_x > 0:
            $g0_v = $g0_x * $g0_x
            $g0_r = $g0_r + $g0_v
    <the statement, with $g0_r where the call was>

Every hidden statement has the original statement's position: a deoptimization anywhere in them
hands the interpreter the whole original statement to run again, which is exact because the
element expressions have no side effects (codegen refuses a call with side effects in them).

What each builtin does is CPython's (Python/bltinmodule.c):

* ``sum``: ``0 + x1 + x2 + ...`` (``PyNumber_Add``), except that from 3.12 on a sum that has
  become a Python ``float`` adds further Python ``float`` items with Neumaier's compensated
  summation and adds the compensation at the end when it is finite and nonzero
  (``$sum_comp``, ``$sum_fixed``: see ``builtins::python``).
* ``any``/``all``: ``bool()`` of each item until one decides; a list comprehension computes
  every item first, a generator stops there.
* ``min``/``max``: the first item, replaced by each later item that is strictly smaller
  (``<``) or larger (``>``); ``ValueError`` when there is none, with the message of the
  running version.

Name scoping follows Python's: the comprehension's loop variables are its own (renamed to
hidden names), its first iterable is evaluated in the enclosing scope, the rest in its own.
"""

import ast
import copy

_REDUCERS = ("sum", "any", "all", "min", "max")
_COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)


class Refused(Exception):
    """A comprehension Heron does not compile; the message says why."""


def has_comprehension(node):
    """Does the AST ``node`` contain a comprehension anywhere?"""
    return any(isinstance(n, _COMPREHENSIONS) for n in ast.walk(node))


def rewrite(stmt, counter, minor):
    """Rewrite one statement's comprehensions.

    Args:
        stmt: an ``ast.stmt`` of the function being compiled.
        counter: the first number free for hidden names (``$g<counter>_...``).
        minor: the running CPython's minor version (3.<minor>).

    Returns:
        ``None`` when the statement's own expressions (for ``if``/``for``/``while``: the test
        or iterable only, not the body) have no comprehension; else ``(hoisted, new_stmt,
        counter)``: the statements to run first, the statement with each call replaced by its
        hidden result, and the next free number. A string instead: why it cannot be compiled.
    """
    try:
        return _Rewriter(counter, minor).statement(stmt)
    except Refused as e:
        return str(e)


def _name(id, store=False):
    return ast.Name(id=id, ctx=ast.Store() if store else ast.Load())


class _Rename(ast.NodeTransformer):
    """Rename the names of ``mapping`` (stores and loads) in an expression."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=node.ctx), node)
        return node


class _Rewriter:
    def __init__(self, counter, minor):
        self.counter = counter
        self.minor = minor

    def fresh(self):
        n = self.counter
        self.counter += 1
        return f"$g{n}_"

    def statement(self, stmt):
        if isinstance(stmt, (ast.If, ast.While)):
            parts = ["test"]
        elif isinstance(stmt, ast.For):
            parts = ["iter"]
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)):
            parts = ["value"]
        else:
            parts = []
        own = [getattr(stmt, p) for p in parts if getattr(stmt, p, None) is not None]
        if not any(has_comprehension(e) for e in own):
            if parts or not has_comprehension(stmt):
                return None
            raise Refused("comprehensions are only compiled in assignments, expressions, "
                          "`return`, and the test of `if` or the iterable of `for` so far")
        if isinstance(stmt, ast.While):
            raise Refused("a comprehension in a `while` test is not compiled yet")
        if isinstance(stmt, ast.AugAssign) and not isinstance(stmt.target, ast.Name):
            raise Refused("a comprehension in an augmented assignment to a subscript is not compiled yet")
        new = copy.copy(stmt)
        hoisted = []
        for p in parts:
            e = getattr(stmt, p, None)
            if e is not None:
                setattr(new, p, self.expression(e, hoisted))
        for s in hoisted:
            _locate(s, stmt)
        return hoisted, new, self.counter

    def expression(self, expr, hoisted):
        """``expr`` with each reduction of a comprehension replaced by its hidden result; the
        statements computing them appended to ``hoisted``."""
        self._check_order(expr)
        return _Replace(self, hoisted).visit(copy.deepcopy(expr))

    def _check_order(self, expr):
        """Refuse a reduction evaluated conditionally (in `x if c else ...`, after the first
        operand of `and`/`or`, a later link of a chained comparison) or after anything that
        could raise or act (its statements run before the whole statement)."""
        def visit(node, safe_before):
            if _is_reduction(node):
                if not safe_before:
                    raise Refused("a comprehension evaluated after other calls or subscripts "
                                  "in the same statement, or only on some paths, is not "
                                  "compiled yet")
                return True
            if isinstance(node, _COMPREHENSIONS):
                raise Refused("comprehensions are only compiled as the argument of sum(), any(), "
                              "all(), min() or max() so far")
            if isinstance(node, ast.IfExp):
                ok = visit(node.test, safe_before)
                visit(node.body, False)
                visit(node.orelse, False)
                return ok and _trivial(node)
            if isinstance(node, ast.BoolOp):
                ok = visit(node.values[0], safe_before)
                for v in node.values[1:]:
                    visit(v, False)
                return ok and _trivial(node)
            if isinstance(node, ast.Compare):
                ok = visit(node.left, safe_before)
                ok = visit(node.comparators[0], ok)
                for v in node.comparators[1:]:
                    visit(v, False)
                return ok and _trivial(node)
            ok = safe_before
            for child in ast.iter_child_nodes(node):
                ok = visit(child, ok)
            return ok and _trivial(node)
        visit(expr, True)

    def reduce(self, call, hoisted):
        """The statements of one reduction (appended to ``hoisted``) and its result's name."""
        fn = call.func.id
        comp = call.args[0]
        lazy = isinstance(comp, ast.GeneratorExp)
        p = self.fresh()
        r, v = p + "r", p + "v"
        hoisted.append(ast.Expr(value=ast.Call(func=_name("$builtin_" + fn), args=[], keywords=[])))
        mapping = {}
        gens = []
        for i, g in enumerate(comp.generators):
            if g.is_async:
                raise Refused("asynchronous comprehensions are not compiled")
            # Earlier loop variables are in scope in later iterables and conditions.
            it = g.iter if i == 0 else _Rename(dict(mapping)).visit(copy.deepcopy(g.iter))
            for n in ast.walk(g.target):
                if isinstance(n, ast.Name):
                    mapping[n.id] = p + "t" + n.id
                elif not isinstance(n, (ast.Tuple, ast.List, ast.expr_context)):
                    raise Refused("a comprehension's loop target must be names")
            target = _Rename(mapping).visit(copy.deepcopy(g.target))
            ifs = [_Rename(dict(mapping)).visit(copy.deepcopy(c)) for c in g.ifs]
            gens.append((target, it, ifs))
        elt = _Rename(mapping).visit(copy.deepcopy(comp.elt))
        for n in ast.walk(elt):
            if isinstance(n, (ast.NamedExpr, ast.Lambda, ast.Yield, ast.YieldFrom, ast.Await)):
                raise Refused("an assignment expression, lambda, yield or await in a comprehension is not compiled")
        # The innermost body, by builtin.
        value = [ast.Assign(targets=[_name(v, True)], value=elt)]
        after = []
        if fn == "sum":
            start = _sum_start(call)
            if start is not None and not _pure_leaf(start):
                raise Refused("sum() with a start that is not a name or a constant is not compiled yet")
            zero = start is None or (isinstance(start, ast.Constant) and type(start.value) in (int, float))
            start = ast.Constant(0) if start is None else copy.deepcopy(start)
            hoisted.append(ast.Assign(targets=[_name(r, True)], value=start))
            if not lazy:
                # A list is made whole before it is summed: the items' NumPy warnings (and
                # errors) all come before the additions', which NumPy scalars could make.
                value.append(ast.Expr(value=_call("$eager_items", [_name(v)])))
            neumaier = self.minor >= 12
            if neumaier:
                c = p + "c"
                hoisted.append(ast.Assign(targets=[_name(c, True)], value=ast.Constant(0.0)))
                # (A start that may be an int other than 0 comes along: CPython adds the first
                # float to it without compensation, which `$sum_comp` refuses to follow.)
                extra = [] if zero and (start.value == 0 or isinstance(start.value, float)) else [copy.deepcopy(start)]
                value.append(ast.Assign(targets=[_name(c, True)], value=_call("$sum_comp", [_name(c), _name(r), _name(v)] + extra)))
            value.append(ast.Assign(targets=[_name(r, True)], value=ast.BinOp(left=_name(r), op=ast.Add(), right=_name(v))))
            if neumaier:
                # `if c and isfinite(c): r += c` (c - c is 0.0 exactly when c is finite).
                nonzero = ast.Compare(left=_name(c), ops=[ast.NotEq()], comparators=[ast.Constant(0.0)])
                finite = ast.Compare(left=ast.BinOp(left=_name(c), op=ast.Sub(), right=_name(c)), ops=[ast.Eq()], comparators=[ast.Constant(0.0)])
                test = ast.BoolOp(op=ast.And(), values=[nonzero, finite])
                fix = ast.Assign(targets=[_name(r, True)], value=_call("$sum_fixed", [_name(r), _name(c)]))
                after.append(ast.If(test=test, body=[fix], orelse=[]))
            decided = None
        elif fn in ("any", "all"):
            found = fn == "any"
            hoisted.append(ast.Assign(targets=[_name(r, True)], value=ast.Constant(not found)))
            test = _name(v) if found else ast.UnaryOp(op=ast.Not(), operand=_name(v))
            body = [ast.Assign(targets=[_name(r, True)], value=ast.Constant(found))]
            if lazy:
                body.append(ast.Break())
            value.append(ast.If(test=test, body=body, orelse=[]))
            # A generator stops at the item that decides, out of every loop.
            decided = (_name(r) if found else ast.UnaryOp(op=ast.Not(), operand=_name(r))) if lazy else None
        else:
            seen = p + "n"
            hoisted.append(ast.Assign(targets=[_name(seen, True)], value=ast.Constant(False)))
            op = ast.Gt() if fn == "max" else ast.Lt()
            better = ast.Compare(left=_name(v), ops=[op], comparators=[_name(r)])
            first = [ast.Assign(targets=[_name(r, True)], value=_name(v)), ast.Assign(targets=[_name(seen, True)], value=ast.Constant(True))]
            replace = ast.If(test=better, body=[ast.Assign(targets=[_name(r, True)], value=_name(v))], orelse=[])
            value.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_name(seen)), body=first, orelse=[replace]))
            if self.minor >= 12:
                msg = f"{fn}() iterable argument is empty"
            else:
                msg = f"{fn}() arg is an empty sequence"
            exc = ast.Call(func=_name("ValueError"), args=[ast.Constant(msg)], keywords=[])
            after.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_name(seen)), body=[ast.Raise(exc=exc, cause=None)], orelse=[]))
            decided = None
        # The element statements may hold reductions of their own.
        body = []
        for s in value:
            _locate(s, comp)
            self._hoist_into(s, body)
        # Nest the loops, innermost first.
        for k, (target, it, ifs) in reversed(list(enumerate(gens))):
            for c in reversed(ifs):
                body = [ast.If(test=c, body=body, orelse=[])]
            loop = [ast.For(target=target, iter=it, body=body, orelse=[], type_comment=None)]
            if decided is not None and k > 0:
                loop.append(ast.If(test=copy.deepcopy(decided), body=[ast.Break()], orelse=[]))
            body = loop
        # The first iterable is evaluated in the enclosing scope; a reduction in it first.
        first = body[0]
        first.iter = self.expression(first.iter, hoisted)
        hoisted.extend(body)
        hoisted.extend(after)
        return r

    def _hoist_into(self, stmt, out):
        """Append ``stmt`` to ``out``, with the reductions in its own expressions hoisted."""
        if isinstance(stmt, (ast.Assign, ast.If)) and has_comprehension(stmt):
            r = self.statement(stmt)
            if isinstance(r, tuple):
                hoisted, new, _ = r
                out.extend(hoisted)
                out.append(new)
                return
        out.append(stmt)


class _Replace(ast.NodeTransformer):
    """Replace each reduction of a comprehension by its result (outermost first)."""

    def __init__(self, rw, hoisted):
        self.rw = rw
        self.hoisted = hoisted

    def visit_Call(self, node):
        if _is_reduction(node):
            return ast.copy_location(_name(self.rw.reduce(node, self.hoisted)), node)
        return self.generic_visit(node)


def _is_reduction(node):
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _REDUCERS
            and node.args and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp))):
        return False
    if node.func.id == "sum":
        # sum(items, start) and sum(items, start=start)
        keywords = [k.arg for k in node.keywords]
        return (len(node.args) == 1 and keywords in ([], ["start"])) or (len(node.args) == 2 and not keywords)
    return len(node.args) == 1 and not node.keywords


def _sum_start(call):
    """The ``start`` of ``sum(items, start)``, or None."""
    if len(call.args) == 2:
        return call.args[1]
    return call.keywords[0].value if call.keywords else None


def _pure_leaf(node):
    """A name, a constant (a signed one too) or `module.attr`: evaluating it cannot act or raise
    (so it may be evaluated before the comprehension's iterable, which Python evaluates first)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant)) or (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name))


def _trivial(node):
    """Evaluating ``node`` itself (not its operands) cannot act or raise before a reduction
    that follows it: names, constants, `module.attr`, containers of them."""
    if isinstance(node, (ast.Name, ast.Constant, ast.expr_context, ast.Tuple, ast.List, ast.operator,
                         ast.unaryop, ast.cmpop, ast.boolop)):
        return True
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name)
    return False


def _call(name, args):
    return ast.Call(func=_name(name), args=args, keywords=[])


def _locate(tree, where):
    """Give every node of ``tree`` without a position the position of ``where``."""
    for n in ast.walk(tree):
        if "lineno" in n._attributes:
            if not hasattr(n, "lineno") or n.lineno is None:
                n.lineno = where.lineno
                n.col_offset = where.col_offset
            if getattr(n, "end_lineno", None) is None:
                n.end_lineno = getattr(where, "end_lineno", n.lineno)
                n.end_col_offset = getattr(where, "end_col_offset", n.col_offset)
