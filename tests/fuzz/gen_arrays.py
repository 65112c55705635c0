"""Whole-array NumPy for the fuzzer's generator (``gen.py``): ufuncs, array operators with
broadcasting, in-place operators and copies into views, and calls into NumPy.

``ArrayMixin`` is a base class of ``gen.ModuleGen``; its methods make decisions through the same
chooser (first option simplest). Array values are typed by *kind*, ``"A:<dtype>"`` (any shape);
scalar operands are the scalar types of ``gen`` (``"int"``, ``"np.float32"``, ...) and are built
by ``gen``'s scalar expressions. As in ``gen``, the kind of every form on every tuple of operand
kinds is found by evaluating it on sample arrays (``aprobe``): NumPy 2's promotion (NEP 50: a
Python scalar takes the array's dtype) is followed exactly, and forms that raise on every
sample (``bool_array - bool_array``) are generated rarely, to compare the errors.

Shapes are tracked by the generator (``self.shapes``, the parameters' shapes are fixed by
``make_args``). An array expression is built for a wanted shape: every array operand is a view
whose shape broadcasts to it (``p0``, ``p0.T``, ``p0[::2]``, ``p1[:, 1:]``, ``p1[0]``,
``p0[:, None]``, ...), so the expression's own shape is the broadcast of its operands'; an
operand that does not broadcast is chosen now and then, for NumPy's ValueError.
"""
import importlib
import itertools
import re
import warnings

import numpy as np

ARRAY_DTYPES = ("float64", "int64", "int32", "float32", "uint8", "bool")
KINDS = tuple("A:" + d for d in ARRAY_DTYPES)
PARAM_DTYPES = [(5, "float64"), (3, "int64"), (1, "int32"), (1, "float32"), (1, "bool"), (1, "uint8")]

# Sample arrays of each kind, of two lengths (results that depend on the length show up), one
# with a zero and a negative, one without (int ** int of a negative raises).
_ASAMPLES = {}
for _d in ARRAY_DTYPES:
    if _d == "bool":
        _ASAMPLES["A:bool"] = [np.array([True, False, True, True]), np.array([False, True, False])]
    elif _d == "uint8":
        _ASAMPLES["A:uint8"] = [np.array([3, 0, 2, 200], np.uint8), np.array([1, 7, 2], np.uint8)]
    else:
        _ASAMPLES["A:" + _d] = [np.array([3, 0, -2, 5], _d), np.array([1, 2, 4], _d)] if "int" in _d \
            else [np.array([1.5, 0.0, -2.5, 3.0], _d), np.array([0.5, 2.0, 4.25], _d)]

UFUNCS1 = ["exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "floor"]
UFUNCS2 = ["maximum", "minimum", "hypot", "arctan2", "power"]
# ufuncs on scalars, added to gen's scalar forms (np.exp(x) of a float is a numpy.float64); the
# guarded variants keep the argument in the domain most of the time.
UFUNC_FORMS = [("np.%s({0})" % u, 1, 1) for u in UFUNCS1] + \
    [("np.%s({0}, {1})" % u, 2, 1) for u in UFUNCS2] + \
    [("np.sqrt(abs({0}))", 1, 1), ("np.log(abs({0}) + 1.0)", 1, 1)]

# Forms with at least one array operand (the others may be scalars).
ARRAY_FORMS = [
    ("({0} + {1})", 2, 10), ("({0} - {1})", 2, 8), ("({0} * {1})", 2, 8), ("({0} / {1})", 2, 5),
    ("({0} // {1})", 2, 3), ("({0} % {1})", 2, 3), ("({0} ** {1})", 2, 2),
    ("({0} & {1})", 2, 2), ("({0} | {1})", 2, 2), ("({0} ^ {1})", 2, 1),
    ("(-{0})", 1, 4), ("abs({0})", 1, 3), ("(~{0})", 1, 2), ("({0} ** 2)", 1, 1), ("({0} ** 0.5)", 1, 1),
] + [("({0} %s {1})" % op, 2, 2) for op in ("<", "<=", ">", ">=", "==", "!=")] + \
    [(t, n, 2 * w) for t, n, w in UFUNC_FORMS]

# Calls into NumPy giving a scalar (reductions); their operand is any array expression.
REDUCTIONS = [("{0}.sum()", 4), ("{0}.mean()", 3), ("{0}.max()", 3), ("{0}.min()", 3),
              ("np.argmax({0})", 2), ("np.median({0})", 2), ("{0}.sum(axis=None)", 1)]
# ... giving an array of the operand's shape (its operand is any array expression) ...
SAME_SHAPE_CALLS = [("np.sort({0})", 2), ("{0}.copy()", 2)]
# ... or of a shape of their own (their operands are views, of shapes known exactly).
SHAPED_CALLS = [("{0}.cumsum()", 1, 2), ("{0}.sum(axis=0)", 1, 2), ("{0}.sum(axis=1)", 1, 1),
                ("{0}.mean(axis=0)", 1, 1), ("np.dot({0}, {1})", 2, 2)]
DOT_1D = ("np.dot({0}, {1})", 3)   # of two 1-d views of one length: a scalar

VIEWS_1D = [("", 10), ("[::2]", 2), ("[1:]", 2), ("[:-1]", 2), ("[::-1]", 1), ("[1:-1]", 1),
            ("[1::2]", 1), ("[:, None]", 1)]
# (a.T and a[:, None] are rare: Heron does not compile them yet, the function then runs as Python.)
VIEWS_2D = [("", 10), (".T", 1), ("[::2]", 1), ("[1:]", 1), ("[:, 1:]", 2), ("[:, ::2]", 1),
            ("[::-1]", 1), ("[0]", 2), ("[:, 0]", 2), ("[-1, :]", 1), ("[:1]", 1), ("[:, :1]", 1),
            ("[1:, ::-1]", 1)]
# Targets of in-place operators and of copies (`a[1:] += ...`, `m[0, :] = ...`).
TARGETS_1D = [("[:]", 4), ("[1:]", 3), ("[:-1]", 2), ("[::2]", 2), ("[1:-1]", 2), ("[::-1]", 1), ("[0:1]", 1)]
TARGETS_2D = [("[:]", 3), ("[0, :]", 3), ("[:, 1:]", 2), ("[1]", 2), ("[:, 0]", 2), ("[1:, :]", 1),
              ("[::2, ::2]", 1), ("[:, ::-1]", 1)]
INPLACE_OPS = [("+", 8), ("-", 5), ("*", 5), ("/", 2), ("//", 2), ("%", 2), ("**", 1), ("&", 1),
               ("|", 1), ("^", 1)]


# Known bugs found with these forms (merged into gen.KNOWN_BUGS), steered around when avoided:
# by ``excluded`` (forms), ``finish_lines`` (a print making reports inline, sinks for unused
# values), ``retypes`` and the argument layouts.
KNOWN_BUGS = {
    "npcall-rerun": "a NumPy call (a.sum(), np.dot) that warns, in a call re-run in the interpreter for a "
                    "deferred report: its warning comes twice, and before the earlier ones",
    "ufunc-warning-names": "inline warnings say 'scalar divide' where NumPy's mixed-type scalar ops go "
                           "through the ufunc ('divide'), 'power' for a ** 0.5 / 2 / -1 ('sqrt', ...)",
    "empty-view-strides": "an empty slice has strides step*itemsize (NumPy: the stride, or 0 of an empty array)",
    "inline-multi-flag": "where reports are inline, of np.float64(1.5e308) // 1e-308 (overflow and invalid) "
                         "only the first warning is issued",
    "inline-underflow": "where reports are inline, underflow is never reported (errstate under='raise')",
    "store-cast-raise": "m[i, j] = np.hypot(0, 1e308) into a float32 array under errstate(over='raise'): "
                        "NumPy stores inf, then raises; Heron raises and leaves the element",
    "unit-dim-strides": "views of an argument with a length-1 axis of another stride (a (4, 1) array "
                        "with strides (1, 4), a[::2] of 2 elements) get the item size where NumPy keeps it",
}

_ARITH = ("+ ", "- ", "* ", "/ ", "// ", "% ", "** ")


def _via_ufunc(template, kinds):
    """Is this arithmetic on two scalars one NumPy does not do in its scalar math but through
    the ufunc (scalarmath.c.src: promotion required), so that its warnings say "divide", not
    "scalar divide"? (Found by running every pair.)"""
    s = set(kinds)
    if "np.bool" in s:
        return True
    return bool(s & {"np.int32", "np.int64"} and s & {"float", "np.float32"})




def excluded(template, kinds, avoid):
    """Forms steered around for known bugs (``gen.KNOWN_BUGS``), scalar forms too; and ufuncs of
    Python and NumPy bools only (np.maximum(True, x) is a numpy.bool, whose arithmetic Heron
    does not compile: they would make many functions run as Python)."""
    if template.startswith("np.") and kinds and all(k in ("bool", "np.bool") for k in kinds):
        return True
    if not avoid:
        return False
    arith = any("{0} " + op in template for op in _ARITH)
    if "ufunc-warning-names" in avoid:
        if arith and len(kinds) == 2 and all(k not in KINDS for k in kinds) and _via_ufunc(template, kinds):
            return True
        if re.search(r"\*\* -?[0-9]+\.[0-9]", template) and kinds[0] in ("np.int32", "np.int64", "np.bool"):
            return True
        # a ** 0.5 is NumPy's sqrt, a ** 2 its square, a ** -1 its reciprocal.
        if "**" in template and kinds[0] in ("A:float64", "A:float32") and \
                ("{1}" not in template or kinds[1] not in KINDS):
            return True
    if "float32-cast" in avoid and "np.float32" in kinds and "float" in kinds:
        return True
    if "inline-multi-flag" in avoid and "{0} // " in template and all(k not in KINDS for k in kinds) \
            and any(k in ("np.float64", "np.float32") for k in kinds):
        return True
    if "float32-exp" in avoid and template.startswith("np.exp") and kinds[0] in ("np.float32", "A:float32"):
        return True
    return False


def _gen():
    """``gen`` (imported here lazily: it imports this module)."""
    return importlib.import_module(__package__ + ".gen" if __package__ else "gen")


def result_kind(v):
    if isinstance(v, np.ndarray):
        return "A:" + v.dtype.name if v.dtype.name in ARRAY_DTYPES else None
    return _gen().type_name(v)


_aprobe_cache = {}


def aprobe(template, kinds, ndim=1, inplace=False):
    """The kind of ``template`` with operands of ``kinds`` (array kinds and scalar types), or
    None (no single supported kind), or "raise" (raises on every sample). Array operands are
    ``ndim``-dimensional. ``inplace``: ``template`` is a statement (``{0} += {1}``), "ok" or
    "raise"."""
    key = (template, kinds, ndim, inplace)
    if key in _aprobe_cache:
        return _aprobe_cache[key]
    samples = _gen()._SAMPLES
    names = [f"_x{i}" for i in range(len(kinds))]
    code = compile(template.format(*names), "<aprobe>", "exec" if inplace else "eval")
    found, raised = set(), 0
    pools = [[s.reshape(1, -1) if ndim == 2 else s for s in _ASAMPLES[k]] if k in _ASAMPLES
             else samples[k] for k in kinds]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for values in itertools.product(*pools):
            env = {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in zip(names, values)}
            try:
                r = eval(code, {"np": np}, env)
            except Exception:  # noqa: BLE001
                raised += 1
                continue
            found.add("ok" if inplace else result_kind(r))
    if not found:
        out = "raise"
    else:
        out = found.pop() if len(found) == 1 else None
    _aprobe_cache[key] = out
    return out


_table_cache = {}


def array_table(form, avoid):
    """{result kind: [operand kind tuples]} of a form with an array operand; "raise" as in
    ``gen.form_table``."""
    if (form, avoid) in _table_cache:
        return _table_cache[form, avoid]
    template, arity, _ = form
    table = {}
    for kinds in itertools.product(KINDS + _gen().SCALARS, repeat=arity):
        if not any(k in KINDS for k in kinds) or excluded(template, kinds, avoid):
            continue
        r = aprobe(template, kinds)
        if r is not None:
            table.setdefault(r, []).append(kinds)
    _table_cache[form, avoid] = table
    return table


def broadcasts(shape, to):
    try:
        return np.broadcast_shapes(shape, to) == tuple(to)
    except ValueError:
        return False


def _strip_ones(shape):
    """The shape without its leading 1s (what a copy into a view needs to broadcast)."""
    shape = tuple(shape)
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def broadcast(*shapes):
    """The broadcast shape, or the first one when they do not broadcast (the expression
    raises; the generator goes on believing it)."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return shapes[0]


_shape_cache = {}


def shape_after(template, shapes):
    """The shape of ``template`` applied to arrays of ``shapes`` (None when it raises or is not
    an array)."""
    key = (template, tuple(shapes))
    if key not in _shape_cache:
        env = {f"_x{i}": np.ones(s) for i, s in enumerate(shapes)}
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                r = eval(template.format(*env), {"np": np, "None": None}, env)
            _shape_cache[key] = r.shape if isinstance(r, np.ndarray) else None
        except Exception:  # noqa: BLE001
            _shape_cache[key] = None
    return _shape_cache[key]


def kind_of(t):
    return "A:" + t[1]


def scalar_kind(t):
    """The array kind of a NumPy scalar type (np.float64 -> A:float64), or None."""
    return {"np.float64": "A:float64", "np.float32": "A:float32", "np.int64": "A:int64",
            "np.int32": "A:int32", "np.bool": "A:bool"}.get(t)


class ArrayMixin:
    """The array half of ``gen.ModuleGen``."""

    # ---- views and shapes ----------------------------------------------------------------

    def all_arrays(self, scope):
        return [(n, t) for n, t in scope.lookup_all().items() if isinstance(t, tuple)]

    def views(self, scope, table=None):
        """[(weight, (source, kind, shape, variable))] of the views of every array in scope
        (``table`` "targets": of the views assigned to)."""
        arrays = tuple((name, t, self.shape_of(name)) for name, t in self.all_arrays(scope))
        cache = self.__dict__.setdefault("_views", {})
        if (arrays, table) in cache:
            return cache[arrays, table]
        out = []
        for name, t, shape in arrays:
            if table == "targets":
                suffixes = TARGETS_1D if t[2] == 1 else TARGETS_2D
            else:
                suffixes = VIEWS_1D if t[2] == 1 else VIEWS_2D
            for suffix, w in suffixes:
                s = shape_after("{0}" + suffix, [shape])
                if s is not None and (suffix == "" or 0 not in s or table == "targets" or
                                      "empty-view-strides" not in self.avoid):
                    out.append((w, (name + suffix, kind_of(t), s, name)))
        cache[arrays, table] = out
        return out

    def anchor(self, scope):
        """A view, whose shape the next array expression is built for."""
        return self.wchoice(self.views(scope))

    def aproducible(self, scope, depth):
        """The array kinds that expressions of ``depth`` can have in ``scope``."""
        base = frozenset(kind_of(t) for _, t in self.all_arrays(scope))
        key = (base, self.leaf_types(scope), depth)
        cache = self.__dict__.setdefault("_aprod", {})
        if key in cache:
            return cache[key]
        if depth <= 0:
            out = base
        else:
            prev = self.aproducible(scope, depth - 1)
            sprev = self.producible(self.leaf_types(scope), 1)
            out = set(prev)
            for form in ARRAY_FORMS:
                for r, operands in array_table(form, self.avoid).items():
                    if r in KINDS and any(all(o in prev or o in sprev for o in ops) for ops in operands):
                        out.add(r)
            out = frozenset(out)
        cache[key] = out
        return out

    # ---- array expressions ---------------------------------------------------------------

    def aexpr(self, scope, kind, shape, depth):
        """(source, shape) of an array expression of ``kind`` whose shape broadcasts to
        ``shape``."""
        views = self.views(scope)
        fit = [(w * (2 if v[2] == tuple(shape) else 1), v) for w, v in views
               if v[1] == kind and broadcasts(v[2], shape)]
        options = [(6 if fit else 0, ("leaf",))]
        if depth > 0:
            prev = self.aproducible(scope, depth - 1)
            sprev = self.producible(self.leaf_types(scope), 1)
            for form in ARRAY_FORMS:
                ok = [ops for ops in array_table(form, self.avoid).get(kind, ()) if all(o in prev or o in sprev for o in ops)]
                if ok:
                    options.append((form[2], ("form", form, ok)))
            if self.chance(0.01):
                for form in ARRAY_FORMS:
                    ok = [ops for ops in array_table(form, self.avoid).get("raise", ()) if all(o in prev or o in sprev for o in ops)]
                    if ok:
                        options.append((1, ("form", form, ok)))
            if kind in prev:
                options.append((2, ("same-shape",)))
            shaped = self.shaped_calls(views, kind, shape)
            options.append((2 if shaped else 0, ("shaped", shaped)))
        options = [(w, x) for w, x in options if w > 0]
        if not options:
            # No view of this kind fits: a form of views that do (the astype() of one, rarely:
            # Heron does not compile a NumPy type as an argument).
            fits = {v[1] for _, v in views if broadcasts(v[2], shape)}
            sprev = self.producible(self.leaf_types(scope), 1)
            for form in ARRAY_FORMS:
                ok = [ops for ops in array_table(form, self.avoid).get(kind, ()) if all(o in fits or o in sprev for o in ops)]
                if ok:
                    options.append((form[2], ("form", form, ok)))
            if not options or self.chance(0.05):
                src, _, s, _ = self.choice([v for _, v in views if broadcasts(v[2], shape)] or [self.anchor(scope)])
                return f"{src}.astype(np.{kind[2:]})", s
            depth = 1
        pick = self.wchoice(options)
        if pick[0] == "leaf":
            if self.chance(0.02) and not self.__dict__.get("no_bad_shapes"):
                bad = [(w, v) for w, v in views if v[1] == kind and not broadcasts(v[2], shape)
                       and not (self.__dict__.get("copy_value") and broadcasts(_strip_ones(v[2]), shape))]
                if bad:
                    fit = bad   # NumPy's "operands could not be broadcast together"
            v = self.wchoice(fit)
            return v[0], v[2]
        if pick[0] in ("same-shape", "shaped"):
            self.npcall = True
        if pick[0] == "same-shape":
            template = self.wchoice([(w, t) for t, w in SAME_SHAPE_CALLS])
            src, s = self.aexpr(scope, kind, shape, depth - 1)
            return template.format(src), s
        if pick[0] == "shaped":
            template, srcs, s = self.wchoice(pick[1])
            return template.format(*srcs), s
        _, form, ok = pick
        ops = self.wchoice([(self.akind_weight(kind, o), o) for o in ok])
        self.note_form(form[0], ops)
        subs, shapes = [], []
        for o in ops:
            if o in KINDS:
                src, s = self.aexpr(scope, o, shape, depth - 1)
                subs.append(src)
                shapes.append(s)
            else:
                subs.append(self.expr(scope, o, self.rint(0, 1)))
        return form[0].format(*subs), broadcast(*shapes)

    @staticmethod
    def akind_weight(kind, ops):
        w = 1
        for o in ops:
            w *= 8 if o == kind else 3 if o in KINDS else 2 if o in ("int", "float", "bool") else 1
        return w

    def shaped_calls(self, views, kind, shape):
        """[(weight, (template, view sources, result shape))] of the calls of SHAPED_CALLS on
        views whose result is of ``kind`` and broadcasts to ``shape``."""
        key = (tuple(v for _, v in views), kind, tuple(shape))
        cache = self.__dict__.setdefault("_shaped", {})
        if key in cache:
            return cache[key]
        out = []
        for template, arity, w in SHAPED_CALLS:
            for combo in itertools.product([v for _, v in views], repeat=arity):
                kinds = tuple(v[1] for v in combo)
                if arity == 2:
                    if self.dot_kind(kinds) != kind:
                        continue
                elif aprobe(template, kinds, ndim=2 if "axis" in template else 1) != kind:
                    continue
                s = shape_after(template, [v[2] for v in combo])
                if s is not None and len(s) > 0 and broadcasts(s, shape):
                    out.append((w, (template, [v[0] for v in combo], s)))
        cache[key] = out
        return out

    @staticmethod
    def dot_kind(kinds):
        return scalar_kind(aprobe("np.dot({0}, {1})", kinds))

    # ---- calls into NumPy giving scalars (leaves of gen's scalar expressions) -------------

    def reductions(self, scope, t):
        """[(weight, (template, [operand kinds]))] of the reductions giving scalar type ``t``:
        one entry per template, kinds of arrays in scope preferred."""
        if not self.all_arrays(scope) or "numpy-calls" in self.avoid:
            return []
        kinds = sorted(self.aproducible(scope, 1))
        here = {kind_of(at) for _, at in self.all_arrays(scope)}
        out = []
        for template, w in REDUCTIONS:
            ks = [(4 if k in here else 1, (k,)) for k in kinds if aprobe(template, (k,)) == t]
            if ks:
                out.append((w, (template, ks)))
        if any(len(v[2]) == 1 for _, v in self.views(scope)):
            ks = [(1, (k1, k2)) for k1 in sorted(here) for k2 in sorted(here)
                  if aprobe(DOT_1D[0], (k1, k2)) == t]
            if ks:
                out.append((DOT_1D[1], (DOT_1D[0], ks)))
        return out

    def reduction(self, scope, t):
        self.npcall = True   # npcall-rerun: NumPy's own warnings come again when re-run
        template, ks = self.wchoice(self.reductions(scope, t))
        k = self.wchoice(ks)
        if len(k) == 2:
            # np.dot of two 1-d views, of one length mostly.
            one_d = [v for _, v in self.views(scope) if len(v[2]) == 1]
            a = self.choice([v for v in one_d if v[1] == k[0]] or one_d)
            same = [v for v in one_d if v[1] == k[1] and v[2] == a[2]]
            b = self.choice(same) if same and not self.chance(0.05) else self.choice(one_d)
            srcs = [v[0] if v[1] == kk else f"{v[0]}.astype(np.{kk[2:]})" for v, kk in zip((a, b), k)]
            return template.format(*srcs)
        src, _ = self.aexpr(scope, k[0], self.anchor(scope)[2], self.rint(0, 2))
        return template.format(src)

    # ---- statements ----------------------------------------------------------------------

    def array_statement(self, lines, scope, ind):
        kind = self.wchoice([(6, "new"), (4, "inplace"), (3, "copy"), (1, "sort")])
        if kind == "new":
            v = self.anchor(scope)
            kinds = sorted(self.aproducible(scope, 2))
            k = self.wchoice([(8 if x == v[1] else 1, x) for x in kinds])
            src, shape = self.aexpr(scope, k, v[2], self.rint(0, 3))
            name = self.new_var("a")
            lines.append((ind, f"{name} = {src}"))
            key = name if self.fn.name == "f" else f"{self.fn.name}.{name}"
            self.shapes[key] = tuple(shape)
            scope.vars[name] = ("arr", k[2:], len(shape))
            return
        tw = self.views(scope)
        targets = [x for x in self.views(scope, "targets")]
        if kind == "sort":
            self.npcall = True
            src = self.wchoice([(w, v) for w, v in targets if len(v[2]) == 1] or targets)[0]
            lines.append((ind, f"{src}.sort()"))
            return
        if kind == "inplace" and self.chance(0.3):
            targets = [(1, (name, kind_of(t), self.shape_of(name), name)) for name, t in self.all_arrays(scope)]
        target = self.wchoice(targets)
        if kind == "copy":
            self.copy_value = "copy-unit-dims" in self.avoid
            value = self.value_for(scope, target, None, tw)
            self.copy_value = False
            lines.append((ind, f"{target[0]} = {value}"))
            return
        ops = []
        for op, w in INPLACE_OPS:
            for k in sorted(self.aproducible(scope, 1) | self.producible(self.leaf_types(scope), 1)):
                if excluded("{0} %s= {1}" % op, (target[1], k), self.avoid):
                    continue
                ok = aprobe("{0} %s= {1}" % op, (target[1], k), inplace=True)
                ops.append((w * (20 if ok == "ok" else 1) * (4 if k == target[1] else 1), (op, k)))
        op, k = self.wchoice(ops)
        self.no_bad_shapes = "inplace-bcast-message" in self.avoid
        lines.append((ind, f"{target[0]} {op}= {self.value_for(scope, target, k, tw)}"))
        self.no_bad_shapes = False

    def value_for(self, scope, target, k, views):
        """A value for an in-place operator (of kind or type ``k``) or a copy (``k`` None: any)
        into ``target``: an array expression that broadcasts to it, often a view of the same
        array (overlapping), or a scalar expression."""
        shape = target[2]
        if k is None:
            kinds = sorted(self.aproducible(scope, 2))
            k = self.wchoice([(3, "scalar"), (1, "zero")] + [(4 if x == target[1] else 1, x) for x in kinds])
            if k == "zero":
                return "0"
            if k == "scalar":
                k = self.pick_type(self.producible(self.leaf_types(scope), 1), complex_weight=0.1)
        if k in KINDS and not any(broadcasts(v[2], shape) for _, v in views):
            # No array in scope fits the target (m[::2, ::2] of a (4, 2) m): a scalar then.
            k = self.choice(sorted(t for t in self.producible(self.leaf_types(scope), 1) if t.startswith("np.")) or ["float"])
        if k not in KINDS:
            return self.expr(scope, k, self.rint(0, 2))
        same = [(w, v) for w, v in views if v[3] == target[3] and v[1] == k and v[2] == tuple(shape)]
        if same and self.chance(0.3):
            return self.wchoice(same)[0]
        return self.aexpr(scope, k, shape, self.rint(0, 2))[0]

    # ---- arguments -----------------------------------------------------------------------

    def param_shape(self, ndim):
        """The shape of a new array parameter: a last dimension shared with an earlier
        parameter often, so that they broadcast."""
        lasts = sorted({s[-1] for s in self.shapes.values() if s})
        if ndim == 1:
            shape = (self.wchoice([(1, 3), (2, 4), (1, 5), (1, 1), (1, 6), (1, 2)]),)
            if lasts and self.chance(0.3):
                shape = (self.choice(lasts),)
            return (0,) if self.chance(0.03) else shape
        shape = (self.rint(1, 4), self.choice(lasts) if lasts and self.chance(0.4) else self.rint(1, 4))
        return (0, 3) if self.chance(0.03) else shape

    def arg_value(self, p, t, k):
        if not isinstance(t, tuple):
            if k > 0 and self.chance(0.15):
                t = self.choice(self.retypes(t))  # another specialization
            return self.scalar_src(t)
        _, dtype, ndim = t
        shape = self.shapes[p]
        size = int(np.prod(shape))
        vals = [self.elem_src(dtype) for _ in range(size)]
        src = f"np.array([{', '.join(vals)}], dtype=np.{dtype})"
        if ndim == 2 or size == 0:
            src += f".reshape({shape[0]}, {shape[1]})" if ndim == 2 else ""
        # unit-dim-strides: Heron's views of a (4, 1) array with strides (1, 4) have stride 1.
        other = 1 not in shape or "unit-dim-strides" not in self.avoid
        layout = self.wchoice([(10, "C"), (1 if ndim == 2 and other else 0, "F"), (1 if other else 0, "strided"),
                               (1, "ro"), (1 if ndim == 2 and other else 0, "T"), (1, "offset")])
        if layout == "F":
            src = f"np.asfortranarray({src})"
        elif layout == "T":
            # A transposed array of the same shape (F-ordered, not its own base).
            src = src.replace(f".reshape({shape[0]}, {shape[1]})", f".reshape({shape[1]}, {shape[0]}).T")
        elif layout == "strided":
            # A non-contiguous view with the same shape: every other element of a bigger array.
            bigger = [self.elem_src(dtype) for _ in range(size)]
            inter = [x for pair in zip(vals, bigger) for x in pair]
            base = f"np.array([{', '.join(inter)}], dtype=np.{dtype})"
            src = f"{base}[::2]" if ndim == 1 else f"{base}.reshape({shape[0]}, {2 * shape[1]})[:, ::2]"
        elif layout == "offset":
            # A view that starts one element (one column) into a bigger array.
            rows = [vals[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])] if ndim == 2 else [vals]
            wide = [[self.elem_src(dtype)] + r for r in rows]
            base = f"np.array([{', '.join(x for r in wide for x in r)}], dtype=np.{dtype})"
            src = f"{base}[1:]" if ndim == 1 else f"{base}.reshape({shape[0]}, {shape[1] + 1})[:, 1:]"
        elif layout == "ro":
            src = f"_readonly({src})"
        return src

    def elem_src(self, dtype):
        if dtype == "bool":
            return self.choice(["True", "False"])
        if dtype == "uint8":
            return str(self.choice([self.rint(0, 20), self.rint(0, 255), 255, 128]))
        if dtype in ("int64", "int32"):
            kind = self.wchoice([(8, "small"), (2, "big")])
            if kind == "small":
                return str(self.rint(-20, 20))
            lim = 2**63 if dtype == "int64" else 2**31
            return str(self.choice([lim - 1, -lim, lim // 2, -(lim // 2) + 1, 2**31 - 1]))
        if self.chance(0.3):
            # In most ufuncs' domains: small, positive, not special.
            return repr(self.rint(1, 400) / self.choice([4, 8, 100]))
        return _gen().float_src(self.float_value())

    def fp_mode(self):
        """``_FP``: how the harness runs the calls: NumPy's default error state (warnings),
        ``numpy.errstate(all="raise")``, ``all="ignore"``, or warnings as errors."""
        mode = self.wchoice([(16, None), (2, "raise"), (1, "ignore"), (1, "error")])
        if mode == "raise" and "inline-underflow" in self.avoid:
            mode = {"all": "raise", "under": "ignore"}
        float32 = any("float32" in t for fn in self.funcs for _, t in fn.lines) or \
            any(isinstance(t, tuple) and t[1] == "float32" for fn in self.funcs for _, t in fn.params)
        if isinstance(mode, dict) and "store-cast-raise" in self.avoid and float32:
            mode["over"] = "warn"
        return [] if mode is None else [f"_FP = {mode!r}"]

    def note_form(self, template, kinds):
        """Called for every form generated: notes what computes with NumPy."""
        if "np." in template or any(k in KINDS or k.startswith("np.") for k in kinds):
            self.uses_numpy = True
        if template.startswith("np."):
            # npcall-rerun: a ufunc on scalars (np.power(-1, 2.5)) warns again when re-run too
            self.npcall = True


    def retypes(self, t):
        """The types a scalar argument or global of type ``t`` may change to between calls:
        none in a module computing with NumPy when "ufunc-warning-names" is avoided (a float
        becoming an int makes np.float32 * x go through the ufunc)."""
        if "ufunc-warning-names" in self.avoid and (self.shapes or self.__dict__.get("uses_numpy")):
            return [t]
        return sorted(self.py_types)

    def finish_lines(self, lines):
        """The function's lines, steered around known bugs: for "npcall-rerun", a print first in
        a function that calls NumPy (an effect: its reports are then checked where they happen,
        the call is never re-run); for
        "dead-np-warning", ``if v != v: pass`` after every assignment of a scalar variable that
        nothing reads afterwards, or that the next statement of its block overwrites (Heron
        drops the computation, and with it NumPy's warning)."""
        if self.__dict__.pop("npcall", False) and "npcall-rerun" in self.avoid:
            lines = [(0, f"print({self.fn.name!r})")] + lines
        if "dead-np-warning" not in self.avoid:
            return lines
        assign = re.compile(r"^(v\d+) (?:[-+*/%&|^<>]{0,2})=(?!=)")
        plain = re.compile(r"^(v\d+) = (.*)$")

        def reads(text, name):
            m = plain.match(text)
            n = len(re.findall(r"\b%s\b" % name, text))
            return n - 1 if m and m.group(1) == name else n

        out = []
        for i, (ind, t) in enumerate(lines):
            out.append((ind, t))
            m = assign.match(t)
            if not m:
                continue
            name = m.group(1)
            later = [(j, lines[j]) for j in range(i + 1, len(lines)) if re.search(r"\b%s\b" % name, lines[j][1])]
            overwritten = later and later[0][1][0] == ind and reads(later[0][1][1], name) == 0
            if overwritten or not any(reads(t2, name) for _, (_, t2) in later):
                out.extend([(ind, f"if {name} != {name}:"), (ind + 1, "pass")])
        return out
