"""Shrink a mismatching module to a minimal reproducer (greedy, AST based).

``reduce_source(source, keep, budget_s, max_checks)`` tries smaller variants of the module —
drop functions, statements, parameters and calls; replace compound statements by their bodies,
expressions by their operands or by small constants; shorten array arguments — and keeps a
variant whenever ``keep(variant_source)`` says it still shows the same mismatch. It stops at a
fixed point or when the budget runs out.
"""
import ast
import copy
import time

SMALL_CONSTS = [0, 1, 0.0, 1.0, True, -1, 2]


def _get(node, path):
    for field, idx in path:
        node = getattr(node, field)
        if idx is not None:
            node = node[idx]
    return node


def _walk_paths(node, path=()):
    """Yield (path, node) for every AST node, parents first."""
    yield path, node
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk_paths(item, path + ((field, i),))
        elif isinstance(value, ast.AST):
            yield from _walk_paths(value, path + ((field, None),))


def _unparse(tree):
    try:
        return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    except Exception:  # noqa: BLE001
        return None


def _funcs(tree):
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _is_args_path(tree, path):
    return path and path[0][0] == "body" and isinstance(tree.body[path[0][1]], ast.FunctionDef) and \
        tree.body[path[0][1]].name == "make_args"


def candidates(source):
    """Smaller variants of ``source``, the biggest cuts first."""
    tree = ast.parse(source)
    funcs = _funcs(tree)

    def variant(mutate):
        t = copy.deepcopy(tree)
        try:
            if mutate(t) is False:
                return None
        except Exception:  # noqa: BLE001
            return None
        return _unparse(t)

    # 1. drop whole helper functions
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name not in ("f", "make_args"):
            yield variant(lambda t, i=i: t.body.pop(i))
    # 2. fewer calls in make_args
    margs = funcs.get("make_args")
    if margs is not None:
        ret = margs.body[-1]
        if isinstance(ret, ast.Return) and isinstance(ret.value, ast.List) and len(ret.value.elts) > 1:
            mi = tree.body.index(margs)
            for k in range(len(ret.value.elts)):
                yield variant(lambda t, k=k, mi=mi: t.body[mi].body[-1].value.elts.pop(k))
    # 3. statement lists: halves, then single statements (last first)
    lists = []
    for path, node in _walk_paths(tree):
        if _is_args_path(tree, path):
            continue
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt) and not isinstance(node, ast.Module):
                lists.append((path, field, len(stmts)))
    for path, field, n in lists:
        if n >= 4:
            for lo, hi in ((0, n // 2), (n // 2, n)):
                yield variant(lambda t, p=path, f=field, lo=lo, hi=hi: _cut(_get(t, p), f, lo, hi))
    for path, field, n in lists:
        for k in reversed(range(n)):
            yield variant(lambda t, p=path, f=field, k=k: _cut(_get(t, p), f, k, k + 1))
    # 4. compound statements -> their bodies
    for path, node in _walk_paths(tree):
        if isinstance(node, (ast.If, ast.For, ast.While)) and path and path[-1][1] is not None:
            parent_path, (field, idx) = path[:-1], path[-1]
            for part in ("body", "orelse"):
                if getattr(node, part):
                    yield variant(lambda t, pp=parent_path, f=field, i=idx, part=part: _splice(_get(t, pp), f, i, part))
        if isinstance(node, ast.If) and node.orelse:
            yield variant(lambda t, p=path: setattr(_get(t, p), "orelse", []))
    # 5. parameters of the functions (and the matching arguments)
    for name, fn in funcs.items():
        if name == "make_args":
            continue
        for k in range(len(fn.args.args)):
            yield variant(lambda t, name=name, k=k: _drop_param(t, name, k))
    # 6. expressions -> operands, then -> small constants
    exprs = [(p, n) for p, n in _walk_paths(tree) if isinstance(n, ast.expr) and p and
             not isinstance(n, (ast.Constant, ast.Name)) and not isinstance(n, ast.Tuple) and
             not (isinstance(n, ast.Attribute)) and p[-1][0] not in ("func", "target", "targets")]
    for path, node in exprs:
        if _is_args_path(tree, path):
            continue
        for sub_path, sub in _walk_paths(node):
            if sub_path and isinstance(sub, ast.expr) and sub_path[-1][0] not in ("func",) \
                    and not isinstance(sub, (ast.Attribute,)) and len(sub_path) <= 2:
                yield variant(lambda t, p=path, sp=sub_path: _replace(t, p, copy.deepcopy(_get(_get(t, p), sp))))
    names = [(p, n) for p, n in _walk_paths(tree) if isinstance(n, (ast.Name, ast.Call, ast.BinOp, ast.UnaryOp,
                                                                    ast.Subscript, ast.Compare, ast.BoolOp, ast.IfExp))
             and p and isinstance(getattr(n, "ctx", ast.Load()), ast.Load) and p[-1][0] not in ("func",)]
    for path, node in names:
        if _is_args_path(tree, path) or isinstance(node, ast.Name) and node.id in ("math", "np"):
            continue
        for c in SMALL_CONSTS:
            yield variant(lambda t, p=path, c=c: _replace(t, p, ast.Constant(c)))
    # 7. arguments: shorter arrays and simpler values
    if margs is not None:
        mi = tree.body.index(margs)
        for path, node in _walk_paths(margs):
            full = (("body", mi),) + path
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "array" \
                    and node.args and isinstance(node.args[0], ast.List) and len(node.args[0].elts) > 1:
                for k in reversed(range(len(node.args[0].elts))):
                    yield variant(lambda t, p=full, k=k: _get(t, p).args[0].elts.pop(k))
            value = _literal(node)
            if value is not None and path and path[-1][0] != "operand":
                if isinstance(value, bool):
                    continue
                simpler = (0, 1) if isinstance(value, int) else (0.0, 1.0)
                for c in simpler:
                    if repr(c) != repr(value):
                        yield variant(lambda t, p=full, c=c: _replace(t, p, ast.Constant(c)))


def _literal(node):
    """The number a literal argument node stands for (None if it is not one)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _literal(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math" \
            and node.attr in ("inf", "nan", "pi"):
        return float("nan") if node.attr == "nan" else 1e300
    return None


def _is_call_list(margs, path):
    return len(path) == 2 and path[-1][0] == "value"


def _cut(node, field, lo, hi):
    stmts = getattr(node, field)
    del stmts[lo:hi]
    if not stmts and field == "body":
        stmts.append(ast.Pass())


def _splice(parent, field, idx, part):
    stmts = getattr(parent, field)
    node = stmts[idx]
    body = getattr(node, part)
    if isinstance(node, ast.For) and part == "body":
        body = [ast.Assign(targets=[copy.deepcopy(node.target)], value=ast.Constant(0), lineno=0)] + body
    stmts[idx:idx + 1] = body
    if not stmts:
        stmts.append(ast.Pass())


def _replace(tree, path, new):
    parent = _get(tree, path[:-1])
    field, idx = path[-1]
    if idx is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[idx] = new


def _drop_param(tree, name, k):
    funcs = _funcs(tree)
    fn = funcs[name]
    pname = fn.args.args[k].arg
    del fn.args.args[k]
    # The parameter becomes unknown; the candidate is rejected if it was still used.
    if name == "f":
        margs = funcs["make_args"]
        for call in margs.body[-1].value.elts:
            if isinstance(call, ast.Tuple) and len(call.elts) > k:
                del call.elts[k]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name \
                and len(node.args) > k:
            del node.args[k]
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id == pname:
            return False
    return True


def reduce_source(source, keep, budget_s=120.0, max_checks=1500):
    """Greedy reduction; returns (smallest source, number of checks)."""
    current = _unparse(ast.parse(source)) or source
    if not keep(current):
        current = source
    start = time.monotonic()
    checks = 0
    seen = {current}
    progress = True
    while progress:
        progress = False
        for cand in candidates(current):
            if cand is None or cand in seen or len(cand) > len(current):
                continue
            if time.monotonic() - start > budget_s or checks >= max_checks:
                return current, checks
            seen.add(cand)
            checks += 1
            if keep(cand):
                current = cand
                progress = True
                break
    return current, checks


def with_markers(source):
    """The source with ``# heron: jit`` above every function but ``make_args`` and helpers."""
    out = []
    for line in source.splitlines():
        if line.startswith("def ") and not line.startswith(("def make_args", "def _")):
            out.append("# heron: jit")
        out.append(line)
    return "\n".join(out) + "\n"
