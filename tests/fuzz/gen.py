"""A generator of random modules of functions in Heron's compiled subset.

``generate(chooser)`` returns the source text of a module::

    import math
    import numpy as np

    def g0(p0, p1):      # optional callees, called from f
        ...

    def f(p0, p1, p2):   # the entry point
        ...

    def make_args():     # the argument tuples of the calls to make, fresh objects each time
        return [(...), ...]

Every random decision goes through a *chooser*: ``RandomChooser(seed)`` (the long-running
command line) or ``HypothesisChooser(draw)`` (the pytest test, where Hypothesis shrinks the
decisions). The first option of every choice is the simplest one, so shrinking toward 0 gives
smaller programs.

The generator is typed: every expression is built for a wanted Python type (``int``, ``float``,
``bool``, or a NumPy scalar type read from an array), and the result type of each operator on
each pair of operand types is found by evaluating it on sample values (``probe``), so that the
typing follows CPython and NumPy 2 exactly, value-dependent result types (``int ** int``,
``min(int, float)``, ``x and y`` of two types) included: those are left out where a single type
is needed. Variables keep one type, so most generated functions are in the compiled subset.
"""
import itertools
import math
import random
import warnings

import numpy as np

# ---- choosers --------------------------------------------------------------------------------


class RandomChooser:
    """Decisions from a seeded ``random.Random``."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def rint(self, lo, hi):
        return self.rng.randint(lo, hi)


class HypothesisChooser:
    """Decisions drawn from Hypothesis (inside an ``@st.composite`` strategy), so it shrinks."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw = draw
        self.st = st

    def rint(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))


class Gen:
    """Helpers over a chooser."""

    def __init__(self, chooser):
        self.c = chooser

    def rint(self, lo, hi):
        return self.c.rint(lo, hi)

    def choice(self, seq):
        seq = list(seq)
        return seq[self.rint(0, len(seq) - 1)]

    def chance(self, p):
        """True with probability p (shrinks toward False)."""
        return self.rint(0, 999) >= 1000 - int(p * 1000)

    def wchoice(self, pairs):
        """``pairs`` of (weight, item); the first item is what shrinking moves toward."""
        pairs = [(w, x) for w, x in pairs if w > 0]
        total = sum(w for w, _ in pairs)
        r = self.rint(0, total - 1)
        for w, x in pairs:
            if r < w:
                return x
            r -= w
        return pairs[-1][1]


# ---- types -----------------------------------------------------------------------------------

PY_TYPES = ("int", "float", "bool")
NP_TYPES = ("np.bool", "np.int32", "np.int64", "np.float32", "np.float64")
SCALARS = PY_TYPES + NP_TYPES
DTYPES = ("float64", "int64", "int32", "float32", "bool")
DTYPE_SCALAR = {"float64": "np.float64", "int64": "np.int64", "int32": "np.int32",
                "float32": "np.float32", "bool": "np.bool"}

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", np.bool_: "np.bool", np.int32: "np.int32",
               np.int64: "np.int64", np.float32: "np.float32", np.float64: "np.float64"}


def type_name(value):
    return _TYPE_NAMES.get(type(value))


_SAMPLES = {
    "bool": [True, False],
    "int": [3, 0, -2],
    "float": [1.5, 0.0, -2.5],
    "np.bool": [np.True_, np.False_],
    "np.int32": [np.int32(3), np.int32(0), np.int32(-2)],
    "np.int64": [np.int64(3), np.int64(0), np.int64(-2)],
    "np.float32": [np.float32(1.5), np.float32(0.0), np.float32(-2.5)],
    "np.float64": [np.float64(1.5), np.float64(0.0), np.float64(-2.5)],
}

# Operator and call forms: (template, arity, weight). Operands are substituted already wrapped.
BINARY_FORMS = [
    ("({0} + {1})", 2, 10), ("({0} - {1})", 2, 8), ("({0} * {1})", 2, 8), ("({0} / {1})", 2, 5),
    ("({0} // {1})", 2, 4), ("({0} % {1})", 2, 4),
    ("({0} & {1})", 2, 1), ("({0} | {1})", 2, 1), ("({0} ^ {1})", 2, 1),
    ("({0} << ({1} % 64))", 2, 1), ("({0} >> ({1} % 64))", 2, 1),
    ("({0} ** ({1} % 5))", 2, 1), ("({0} ** {1})", 2, 1),
    ("min({0}, {1})", 2, 3), ("max({0}, {1})", 2, 3),
    ("math.atan2({0}, {1})", 2, 1), ("math.fmod({0}, {1})", 2, 2), ("math.copysign({0}, {1})", 2, 1),
    ("({0} and {1})", 2, 1), ("({0} or {1})", 2, 1),
]
POW_EXPONENTS = ["0", "1", "2", "3", "4", "5", "8", "-1", "-2", "-3", "0.5", "2.0", "-0.5", "3.0"]
UNARY_FORMS = [
    ("(-{0})", 1, 6), ("abs({0})", 1, 4), ("int({0})", 1, 4), ("float({0})", 1, 4),
    ("bool({0})", 1, 1), ("round({0})", 1, 3), ("(~{0})", 1, 1),
    ("math.sqrt({0})", 1, 3), ("math.exp({0})", 1, 1), ("math.log({0})", 1, 2),
    ("math.sin({0})", 1, 1), ("math.cos({0})", 1, 1), ("math.floor({0})", 1, 2),
    ("math.ceil({0})", 1, 2), ("math.fabs({0})", 1, 1), ("math.trunc({0})", 1, 1),
] + [("({0} ** %s)" % e, 1, 1) for e in POW_EXPONENTS]
COMPARE_OPS = ["<", "<=", ">", ">=", "==", "!="]
BOOL_FORMS = [("({0} %s {1})" % op, 2, 4) for op in COMPARE_OPS] + [
    ("({0} < {1} <= {2})", 3, 1), ("({0} == {1} != {2})", 3, 1), ("({0} >= {1} > {2})", 3, 1),
    ("(not {0})", 1, 3), ("math.isnan({0})", 1, 2), ("math.isinf({0})", 1, 1),
    ("math.isfinite({0})", 1, 1),
]
COND_FORM = ("({0} if {2} else {1})", 3, 3)
ALL_FORMS = BINARY_FORMS + UNARY_FORMS + BOOL_FORMS + [COND_FORM]

_probe_cache = {}
_always_raises = set()   # (template, types) raising on every sample, e.g. math.trunc(np.int64)

# Known bugs the generator can steer around (``avoid``), so that long runs find new ones.
KNOWN_BUGS = {
    "index2d-order": "a[i, j]: Heron bounds-checks i before evaluating j",
    "floor-npint": "math.floor/ceil/trunc of a NumPy integer (CPython goes through float / raises)",
    "npint32-pyint": "numpy.int32 op a Python int out of int32 range (CPython raises OverflowError)",
    "ufunc-pow": "a mixed-type ** on NumPy scalars goes through np.power's SIMD loop, not libm pow",
}


def excluded(template, types, avoid):
    if not avoid:
        return False
    if "floor-npint" in avoid and template.startswith(("math.floor", "math.ceil", "math.trunc")) \
            and types[0] in ("np.int32", "np.int64", "np.bool"):
        return True
    if "floor-npint" in avoid and template.startswith("math.trunc") and types[0] == "np.float32":
        return True
    if "ufunc-pow" in avoid and "**" in template and any(t.startswith("np.") for t in types) \
            and len(set(types)) > 1:
        return True
    if "npint32-pyint" in avoid and len(types) >= 2 and "np.int32" in types and "int" in types:
        return True
    return False


def probe(template, types):
    """The type of ``template`` with operands of ``types``, or None (raises on every sample,
    gives an unsupported type, or a type that depends on the values)."""
    key = (template, types)
    if key in _probe_cache:
        return _probe_cache[key]
    names = [f"_x{i}" for i in range(len(types))]
    code = compile(template.format(*names), "<probe>", "eval")
    found = set()
    raised = 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for values in itertools.product(*(_SAMPLES[t] for t in types)):
            try:
                r = eval(code, {"math": math, "np": np}, dict(zip(names, values)))
            except Exception:  # noqa: BLE001
                raised += 1
                continue
            found.add(type_name(r))
    if not found and raised:
        _always_raises.add(key)
    result = found.pop() if len(found) == 1 else None
    _probe_cache[key] = result
    return result


_table_cache = {}


def form_table(form, avoid=frozenset()):
    """{result type: [operand type tuples]} for a form; operand types that always raise are
    under the result type "raise"."""
    key = (form, avoid)
    if key in _table_cache:
        return _table_cache[key]
    template, arity, _ = form
    table = {}
    for types in itertools.product(SCALARS, repeat=arity):
        if form is COND_FORM and types[0] != types[1]:
            continue
        if excluded(template, types, avoid):
            continue
        r = probe(template, types)
        if r is not None:
            table.setdefault(r, []).append(types)
        elif (template, types) in _always_raises:
            table.setdefault("raise", []).append(types)
    _table_cache[key] = table
    return table


# ---- values ----------------------------------------------------------------------------------

INT_CONSTS_SMALL = list(range(0, 11)) + [-1, -2, -3, -5, -7, 16, 100, 1000]
INT_CONSTS_BIG = [2**31 - 1, -(2**31), 2**31, 2**32, 2**53 + 1, 2**62, -(2**62), 2**62 - 1,
                  2**63 - 1, -(2**63) + 1, 10**18, 3 * 2**61, -(3 * 2**61)]
INT_ARGS_HUGE = [2**63, -(2**63) - 1, 2**64 + 7, 10**30]
FLOAT_CONSTS = [0.0, -0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -3.5, 0.1, -1.0, 3.0, 7.25, 1e308, -1e308,
                1e-308, 5e-324, 2.2250738585072014e-308, 1e16, 9007199254740993.0, 4503599627370497.5,
                1e300, -1e300, 1e-300, 123456789.125, 0.49999999999999994, -2.5]
FLOAT_SPECIAL = ["math.inf", "-math.inf", "math.nan", "math.pi"]


def float_src(x):
    """Source text of a float value (exact)."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(x)


class Func:
    def __init__(self, name, params, ret):
        self.name = name
        self.params = params      # [(name, type)]; array types are ("arr", dtype, ndim)
        self.ret = ret            # scalar type name, tuple of them, or "None"
        self.lines = []


class Scope:
    def __init__(self, parent=None):
        self.parent = parent
        self.vars = {}            # name -> type
        self.readonly = set()     # loop variables and while counters
        self.safe_index = {}      # loop var -> set of (array, axis) it is a valid index of

    def lookup_all(self):
        out = {}
        s = self
        chain = []
        while s is not None:
            chain.append(s)
            s = s.parent
        for s in reversed(chain):
            out.update(s.vars)
        return out

    def is_readonly(self, name):
        s = self
        while s is not None:
            if name in s.readonly:
                return True
            s = s.parent
        return False

    def safe(self, name):
        s = self
        out = set()
        while s is not None:
            out |= s.safe_index.get(name, set())
            s = s.parent
        return out


class ModuleGen(Gen):
    def __init__(self, chooser, size=1.0, avoid=frozenset()):
        super().__init__(chooser)
        self.size = size
        self.avoid = frozenset(avoid)
        self.funcs = []
        self.counter = itertools.count()
        self.msg = itertools.count()
        self.shapes = {}          # array param name (in f) -> shape
        self.calls_left = 0
        self.globals = {}         # module-level scalar globals read by the functions: name -> type

    # ---- module --------------------------------------------------------------------------

    def module(self):
        nparams = self.rint(1, 4)
        params = []
        for k in range(nparams):
            t = self.wchoice([(4, "int"), (4, "float"), (1, "bool"), (5, "arr")])
            if t == "arr":
                dtype = self.wchoice([(5, "float64"), (3, "int64"), (1, "int32"), (1, "float32"),
                                      (1, "bool")])
                ndim = self.wchoice([(3, 1), (1, 2)])
                t = ("arr", dtype, ndim)
                if ndim == 1:
                    shape = (self.wchoice([(1, 3), (2, 4), (1, 5), (1, 1), (1, 6), (1, 2)]),)
                    if self.chance(0.03):
                        shape = (0,)
                else:
                    shape = (self.rint(1, 4), self.rint(1, 4))
                    if self.chance(0.03):
                        shape = (0, 3)
                self.shapes[f"p{k}"] = shape
            params.append((f"p{k}", t))
        f = Func("f", params, None)
        ncallees = self.wchoice([(6, 0), (3, 1), (1, 2)])
        callees = []
        for n in range(ncallees):
            # A callee takes some scalars and some of f's arrays (passed through).
            gparams = []
            arrays = [(p, t) for p, t in params if isinstance(t, tuple)]
            for k in range(self.rint(1, 3)):
                if arrays and self.chance(0.4):
                    src, t = self.choice(arrays)
                    self.shapes.setdefault(f"g{n}.p{k}", self.shapes[src])
                    gparams.append((f"p{k}", t, src))
                else:
                    np_types = sorted({DTYPE_SCALAR[t[1]] for _, t in arrays})
                    gparams.append((f"p{k}", self.wchoice([(4, "int"), (4, "float"), (1, "bool")] +
                                                          [(2, t) for t in np_types]), None))
            g = Func(f"g{n}", [(p, t) for p, t, _ in gparams], None)
            g.array_sources = {p: src for p, _, src in gparams if src}
            for p, src in g.array_sources.items():
                self.shapes[f"{g.name}.{p}"] = self.shapes[src]
            g.ret = self.ret_type(g)
            self.gen_function(g, callees=list(callees))
            callees.append(g)
        f.ret = self.ret_type(f)
        self.gen_function(f, callees=callees)
        self.funcs = callees + [f]
        out = ["import math", "import numpy as np", ""]
        for name, t in self.globals.items():
            out.append(f"{name} = {self.const(t)}")
        out.append("")
        out.append("")
        for fn in self.funcs:
            out.append(f"def {fn.name}({', '.join(p for p, _ in fn.params)}):")
            out.extend("    " * (ind + 1) + text for ind, text in fn.lines)
            out.append("")
            out.append("")
        out.extend(self.make_args(f))
        out.extend(self.rebinds())
        return "\n".join(out) + "\n"

    def ret_type(self, fn):
        avail = list(PY_TYPES) + sorted({DTYPE_SCALAR[t[1]] for _, t in fn.params if isinstance(t, tuple)})
        kind = self.wchoice([(8, "scalar"), (2, "tuple"), (1, "None")])
        if kind == "scalar":
            return self.choice(avail)
        if kind == "tuple":
            return tuple(self.choice(avail) for _ in range(self.rint(2, 3)))
        return "None"

    # ---- functions -----------------------------------------------------------------------

    def gen_function(self, fn, callees):
        self.fn = fn
        self.callees = callees
        self.calls_left = 2 if callees else 0
        scope = Scope()
        for p, t in fn.params:
            scope.vars[p] = t
        self.budget = max(2, int(self.rint(3, 22) * self.size))
        lines = []
        self.block(lines, scope, 0, loop=None)
        lines.append((0, self.return_stmt(scope, 0)))
        fn.lines = lines

    def shape_of(self, arr):
        key = arr if self.fn.name == "f" else f"{self.fn.name}.{arr}"
        return self.shapes[key]

    def arrays(self, scope):
        return [(n, t) for n, t in scope.lookup_all().items() if isinstance(t, tuple)]

    def leaf_types(self, scope):
        types = set(PY_TYPES)
        for n, t in scope.lookup_all().items():
            if isinstance(t, tuple):
                types.add(DTYPE_SCALAR[t[1]])
            elif t in SCALARS:
                types.add(t)
        return frozenset(types)

    _producible_cache = {}

    def producible(self, leaves, depth):
        key = (leaves, depth, self.avoid)
        if key in self._producible_cache:
            return self._producible_cache[key]
        if depth <= 0:
            out = leaves
        else:
            prev = self.producible(leaves, depth - 1)
            out = set(prev)
            for form in ALL_FORMS:
                for r, operands in form_table(form, self.avoid).items():
                    if r != "raise" and r not in out and any(all(o in prev for o in ops) for ops in operands):
                        out.add(r)
            out = frozenset(out)
        self._producible_cache[key] = out
        return out

    # ---- statements ----------------------------------------------------------------------

    def block(self, lines, scope, ind, loop):
        n = self.rint(1, 4) if ind else self.rint(1, 6)
        for _ in range(n):
            if self.budget <= 0:
                break
            self.budget -= 1
            self.statement(lines, scope, ind, loop)
        if not lines or lines[-1][0] < ind:
            lines.append((ind, "pass"))

    def new_var(self, prefix="v"):
        return f"{prefix}{next(self.counter)}"

    def assignable(self, scope):
        return [(n, t) for n, t in scope.lookup_all().items()
                if not isinstance(t, tuple) and not scope.is_readonly(n) and t in SCALARS
                and not n.startswith("p")]

    def statement(self, lines, scope, ind, loop):
        depth_ok = ind < 3
        arrays = self.arrays(scope)
        kind = self.wchoice([
            (10, "assign"), (5, "reassign"), (5, "aug"), (5 if depth_ok else 0, "if"),
            (4 if depth_ok else 0, "for"), (2 if depth_ok else 0, "while"),
            (5 if arrays else 0, "store"), (2 if arrays else 0, "augstore"),
            (2, "return"), (1, "raise"), (2, "assert"), (3 if loop else 0, "break"),
            (3 if loop else 0, "continue"), (1, "retype"),
            (2 if self.callees and self.calls_left else 0, "callstmt"),
            (3 if arrays and depth_ok else 0, "kernel"),
            (2 if depth_ok and "local-array" not in self.avoid else 0, "local"),
            (1 if any(isinstance(g.ret, tuple) for g in self.callees) and self.calls_left else 0, "unpack"),
            (2 if "print" not in self.avoid else 0, "print"),
        ])
        leaves = self.leaf_types(scope)
        if kind == "assign" or (kind in ("reassign", "aug", "retype") and not self.assignable(scope)):
            t = self.choice(sorted(self.producible(leaves, 1)))
            name = self.new_var()
            lines.append((ind, f"{name} = {self.expr(scope, t, self.rint(0, 3))}"))
            scope.vars[name] = t
        elif kind == "reassign":
            name, t = self.choice(self.assignable(scope))
            lines.append((ind, f"{name} = {self.expr(scope, t, self.rint(0, 3))}"))
        elif kind == "retype":
            name, t = self.choice(self.assignable(scope))
            t2 = self.choice(sorted(self.producible(leaves, 1)))
            lines.append((ind, f"{name} = {self.expr(scope, t2, self.rint(0, 2))}"))
            if name in scope.vars:
                scope.vars[name] = t2
            else:
                scope.vars[name] = t2  # shadows the outer type inside this block only
        elif kind == "aug":
            name, t = self.choice(self.assignable(scope))
            stmt = self.aug(scope, name, t, loop)
            if stmt is None:
                lines.append((ind, f"{name} = {self.expr(scope, t, 1)}"))
            else:
                lines.append((ind, stmt))
        elif kind == "if":
            lines.append((ind, f"if {self.cond(scope, self.rint(0, 2))}:"))
            self.block(lines, Scope(scope), ind + 1, loop)
            while self.chance(0.25):
                lines.append((ind, f"elif {self.cond(scope, self.rint(0, 2))}:"))
                self.block(lines, Scope(scope), ind + 1, loop)
            if self.chance(0.4):
                lines.append((ind, "else:"))
                self.block(lines, Scope(scope), ind + 1, loop)
        elif kind == "for":
            self.for_loop(lines, scope, ind)
        elif kind == "while":
            w = self.new_var("w")
            bound = self.rint(0, 8)
            lines.append((ind, f"{w} = 0"))
            if self.chance(0.3):
                lines.append((ind, f"while {w} < {bound} and {self.cond(scope, 1)}:"))
            else:
                lines.append((ind, f"while {w} < {bound}:"))
            inner = Scope(scope)
            inner.vars[w] = "int"
            inner.readonly.add(w)
            lines.append((ind + 1, f"{w} += 1"))
            self.block(lines, inner, ind + 1, loop="while")
        elif kind in ("store", "augstore"):
            arr, t = self.choice(arrays)
            target = f"{arr}[{self.index(scope, arr, t)}]"
            vtypes = sorted(self.producible(leaves, 1))
            if "npint32-pyint" in self.avoid and t[1] == "int32" and kind == "augstore":
                vtypes = [x for x in vtypes if x != "int"]
            vt = self.choice(vtypes)
            value = self.expr(scope, vt, self.rint(0, 2))
            if kind == "store":
                lines.append((ind, f"{target} = {value}"))
            else:
                op = self.wchoice([(5, "+"), (3, "-"), (3, "*"), (1, "/"), (1, "//"), (1, "%")])
                lines.append((ind, f"{target} {op}= {value}"))
        elif kind == "return":
            lines.append((ind, f"if {self.cond(scope, self.rint(0, 2))}:"))
            lines.append((ind + 1, self.return_stmt(scope, 1)))
        elif kind == "raise":
            lines.append((ind, f"if {self.cond(scope, self.rint(0, 2))}:"))
            lines.append((ind + 1, f"raise ValueError(\"bad value {next(self.msg)}\")"))
        elif kind == "assert":
            if self.chance(0.8):
                lines.append((ind, f"assert {self.cond(scope, self.rint(0, 2))}, \"check {next(self.msg)}\""))
            else:
                lines.append((ind, f"assert {self.cond(scope, self.rint(0, 2))}"))
        elif kind in ("break", "continue"):
            if self.chance(0.85):
                lines.append((ind, f"if {self.cond(scope, self.rint(0, 2))}:"))
                lines.append((ind + 1, kind))
            else:
                lines.append((ind, kind))
        elif kind == "callstmt":
            g = self.choice(self.callees)
            call = self.call(scope, g)
            if g.ret in SCALARS and self.chance(0.7):
                name = self.new_var()
                lines.append((ind, f"{name} = {call}"))
                scope.vars[name] = g.ret
            else:
                lines.append((ind, call))
        elif kind == "kernel":
            self.kernel(lines, scope, ind, arrays)
        elif kind == "local":
            self.local_array(lines, scope, ind)
        elif kind == "print":
            # Output before a later overflow must appear once (deoptimization continues).
            t = self.choice(sorted(self.producible(leaves, 1)))
            items = [f"\"p{next(self.msg)}\"", self.expr(scope, t, self.rint(0, 2))]
            if self.chance(0.3):
                t2 = self.choice(sorted(self.producible(leaves, 1)))
                items.append(self.expr(scope, t2, self.rint(0, 1)))
            lines.append((ind, f"print({', '.join(items)})"))
        elif kind == "unpack":
            g = self.choice([g for g in self.callees if isinstance(g.ret, tuple)])
            names = [self.new_var() for _ in g.ret]
            lines.append((ind, f"{', '.join(names)} = {self.call(scope, g)}"))
            for n_, t_ in zip(names, g.ret):
                scope.vars[n_] = t_

    def aug(self, scope, name, t, loop):
        leaves = self.leaf_types(scope)
        prod = self.producible(leaves, 1)
        ops = [("+", 6), ("-", 4), ("*", 4), ("/", 2), ("//", 2), ("%", 2), ("&", 1), ("|", 1),
               ("^", 1), ("**", 1), ("<<", 1), (">>", 1)]
        options = []
        for op, w in ops:
            for ut in prod:
                if op == "**" and t == "int":
                    continue
                tmpl = "({0} %s {1})" % op
                if excluded(tmpl, (t, ut), self.avoid):
                    continue
                if probe(tmpl, (t, ut)) == t:
                    options.append((w, (op, ut)))
        if not options:
            return None
        op, ut = self.wchoice(options)
        value = self.expr(scope, ut, self.rint(0, 2))
        if op in ("<<", ">>"):
            value = f"({value}) % 64" if ut in ("int", "np.int64", "np.int32") else value
            if probe("({0} %s ({1} %% 64))" % op, (t, ut)) != t:
                return None
        if op == "*" and t == "int" and loop and value == name:
            return None
        return f"{name} {op}= {value}"

    def kernel(self, lines, scope, ind, arrays):
        """An accumulation over an array: ``acc = init; for i ...: acc op= a[i] ...``."""
        arr, t = self.choice(arrays)
        shape = self.shape_of(arr)
        r = DTYPE_SCALAR[t[1]]
        leaves = self.leaf_types(scope)
        prod = sorted(self.producible(leaves, 1))
        ops = [(o, w) for o, w in (("+", 6), ("*", 2), ("-", 2), ("/", 1), ("%", 1), ("//", 1), ("**", 0))]
        stable = [(w, (o, acc)) for o, w in ops for acc in prod
                  if probe("({0} %s {1})" % o, (acc, r)) == acc]
        acc_name = self.new_var()
        python_init = not stable or self.chance(0.15)
        if python_init:
            # The everyday pattern `s = 0.0; s += a[i]`: s changes type after the first step.
            op, acc_t = self.choice(["+", "+", "*", "-"]), None
            init = "0.0" if r in ("np.float64", "np.float32") else "0"
        else:
            op, acc_t = self.wchoice(stable)
            init = self.expr(scope, acc_t, self.rint(0, 1))
        lines.append((ind, f"{acc_name} = {init}"))
        idx = []
        inner = scope
        for axis in range(t[2]):
            i = self.new_var("i")
            bound = f"len({arr})" if axis == 0 else f"{arr}.shape[{axis}]"
            if self.chance(0.2):
                lines.append((ind + axis, f"for {i} in range({bound} - 1, -1, -1):"))
            else:
                lines.append((ind + axis, f"for {i} in range({bound}):"))
            inner = Scope(inner)
            inner.vars[i] = "int"
            inner.readonly.add(i)
            safe = set()
            for a2, t2 in arrays:
                s2 = self.shape_of(a2)
                for ax2 in range(t2[2]):
                    if s2[ax2] >= shape[axis]:
                        safe.add((a2, ax2))
            inner.safe_index[i] = safe
            idx.append(i)
        read = f"{arr}[{', '.join(idx)}]"
        body_ind = ind + t[2]
        if self.chance(0.3):
            self.block(lines, Scope(inner), body_ind, loop="for")
        if python_init or self.chance(0.6):
            lines.append((body_ind, f"{acc_name} {op}= {read}"))
        else:
            other = self.choice([o for o in prod])
            if probe("({0} * {1})" % (), (r, other)) is not None and \
                    probe("({0} %s ({1} * {2}))" % op, (acc_t, r, other)) == acc_t:
                lines.append((body_ind, f"{acc_name} {op}= {read} * {self.expr(inner, other, 1)}"))
            else:
                lines.append((body_ind, f"{acc_name} {op}= {read}"))
        if acc_t is not None:
            scope.vars[acc_name] = acc_t

    def local_array(self, lines, scope, ind):
        """``t = np.zeros/ones/empty(shape, dtype=...)`` made in the function (an array that
        may never leave it: Heron then allocates it natively and frees it on reassignment),
        filled in a loop when ``empty``, and from then on an array like the parameters."""
        name = self.new_var("t")
        dtype = self.wchoice([(5, "float64"), (3, "int64"), (1, "int32"), (1, "float32"), (1, "bool")])
        ndim = self.wchoice([(3, 1), (1, 2)])
        shape = (self.rint(1, 5),) if ndim == 1 else (self.rint(1, 3), self.rint(1, 3))
        fn = self.wchoice([(3, "zeros"), (2, "ones"), (2, "empty")])
        dims = str(shape[0]) if ndim == 1 else f"({shape[0]}, {shape[1]})"
        lines.append((ind, f"{name} = np.{fn}({dims}, dtype=np.{dtype})"))
        if fn == "empty":
            i = self.new_var("i")
            lines.append((ind, f"for {i} in range({shape[0]}):"))
            if ndim == 1:
                lines.append((ind + 1, f"{name}[{i}] = 1"))
            else:
                lines.append((ind + 1, f"for {i}b in range({shape[1]}):"))
                lines.append((ind + 2, f"{name}[{i}, {i}b] = 1"))
        key = name if self.fn.name == "f" else f"{self.fn.name}.{name}"
        self.shapes[key] = shape
        scope.vars[name] = ("arr", dtype, ndim)

    def for_loop(self, lines, scope, ind):
        i = self.new_var("i")
        arrays = self.arrays(scope)
        safe = set()
        kind = self.wchoice([(4, "const"), (5 if arrays else 0, "len"), (2, "expr"),
                             (2, "start"), (1, "step"), (1 if arrays else 0, "reversed")])
        if kind == "const":
            n = self.rint(0, 6)
            header = f"range({n})"
            limit = n
        elif kind in ("len", "reversed"):
            arr, t = self.choice(arrays)
            axis = self.rint(0, t[2] - 1)
            text = f"len({arr})" if axis == 0 and self.chance(0.6) else f"{arr}.shape[{axis}]"
            limit = self.shape_of(arr)[axis]
            header = f"range({text})" if kind == "len" else f"range({text} - 1, -1, -1)"
        elif kind == "expr":
            e = self.expr(scope, "int", self.rint(0, 2))
            header = self.choice([f"range(min({e}, 6))", f"range({e} % 7)"])
            limit = None
        elif kind == "start":
            a = self.rint(-3, 4)
            b = self.rint(a, 8)
            header = f"range({a}, {b})"
            limit = None if a < 0 else b
        else:
            a = self.rint(-2, 8)
            b = self.rint(-3, 9)
            s = self.wchoice([(4, 2), (3, -1), (2, 3), (2, -2), (1, 1), (1, 0)])
            header = f"range({a}, {b}, {s})"
            limit = None if min(a, b) < -1 else max(a, b)
        if limit is not None:
            for arr, t in arrays:
                shape = self.shape_of(arr)
                for axis in range(t[2]):
                    if shape[axis] >= limit:
                        safe.add((arr, axis))
        lines.append((ind, f"for {i} in {header}:"))
        inner = Scope(scope)
        inner.vars[i] = "int"
        inner.readonly.add(i)
        inner.safe_index[i] = safe
        self.block(lines, inner, ind + 1, loop="for")

    def return_stmt(self, scope, depth):
        ret = self.fn.ret
        if ret == "None":
            return self.choice(["return", "return None"])
        if isinstance(ret, tuple):
            return "return " + ", ".join(self.expr(scope, t, self.rint(0, depth + 1)) for t in ret)
        return f"return {self.expr(scope, ret, self.rint(0, depth + 2))}"

    def call(self, scope, g):
        self.calls_left -= 1
        args = []
        for p, t in g.params:
            if isinstance(t, tuple):
                args.append(g.array_sources[p])
            else:
                args.append(self.expr(scope, t, self.rint(0, 1)))
        return f"{g.name}({', '.join(args)})"

    # ---- expressions ---------------------------------------------------------------------

    def cond(self, scope, depth):
        leaves = self.leaf_types(scope)
        prod = sorted(self.producible(leaves, max(depth, 0)))
        t = self.wchoice([(6, "bool"), (1, "any")])
        if t == "bool":
            return self.expr(scope, "bool", depth + 1)
        return self.expr(scope, self.choice(prod), depth)

    def index(self, scope, arr, t):
        shape = self.shape_of(arr)
        parts = [self.index1(scope, arr, axis, shape[axis]) for axis in range(t[2])]
        return ", ".join(parts)

    def index1(self, scope, arr, axis, n):
        safe_vars = [v for v in scope.lookup_all() if (arr, axis) in scope.safe(v)]
        simple = "index2d-order" in self.avoid and len(self.shape_of(arr)) == 2
        kind = self.wchoice([(6 if n else 0, "const"), (9 if safe_vars else 0, "loop"),
                             (3 if n and not simple else 0, "mod"), (0 if simple else 1, "wild"),
                             (0 if simple else 1, "oob"), (1 if simple and not n else 0, "zero")])
        if kind == "zero":
            return "0"
        if kind == "const":
            return str(self.rint(-n, n - 1))
        if kind == "loop":
            v = self.choice(safe_vars)
            return self.choice([v, v, f"{v} - 1", f"-1 - {v}"]) if self.chance(0.3) else v
        if kind == "mod":
            e = self.expr(scope, self.choice(["int", "int", "np.int64"]) if self.has_leaf(scope, "np.int64") else "int", self.rint(0, 1))
            return f"{e} % {self.choice(['len(' + arr + ')', str(n)])}" if axis == 0 else f"{e} % {n}"
        if kind == "wild":
            return self.expr(scope, "int", self.rint(0, 1))
        return str(self.choice([n, n + 1, -n - 1, 7, -9]))

    def has_leaf(self, scope, t):
        return t in self.leaf_types(scope)

    def leaf(self, scope, t):
        vars_ = [n for n, vt in scope.lookup_all().items() if vt == t]
        arrays = [(n, at) for n, at in self.arrays(scope) if DTYPE_SCALAR[at[1]] == t]
        options = [(5 if vars_ else 0, "var"), (4 if arrays else 0, "read")]
        if t in PY_TYPES:
            options.append((3, "const"))
            if "globals" not in self.avoid:
                options.append((1, "global"))
        if t == "int" and self.arrays(scope):
            options.append((2, "len"))
        if self.callees and self.calls_left and any(g.ret == t for g in self.callees):
            options.append((1, "call"))
        kind = self.wchoice(options)
        if kind == "var":
            return self.choice(vars_)
        if kind == "read":
            arr, at = self.choice(arrays)
            return f"{arr}[{self.index(scope, arr, at)}]"
        if kind == "len":
            arr, at = self.choice(self.arrays(scope))
            if at[2] == 1 or self.chance(0.5):
                return f"len({arr})"
            return f"{arr}.shape[{self.rint(0, at[2] - 1)}]"
        if kind == "call":
            return self.call(scope, self.choice([g for g in self.callees if g.ret == t]))
        if kind == "global":
            # A module global, rebound between calls (`_rebinds`): compiled code must see it.
            same = [n for n, gt in self.globals.items() if gt == t]
            if same and self.chance(0.5):
                return self.choice(same)
            name = f"K{len(self.globals)}"
            self.globals[name] = t
            return name
        return self.const(t)

    def const(self, t):
        if t == "bool":
            return self.choice(["True", "False"])
        if t == "int":
            v = self.wchoice([(8, "small"), (2, "big")])
            v = self.choice(INT_CONSTS_SMALL) if v == "small" else self.choice(INT_CONSTS_BIG)
            return str(v) if v >= 0 else f"({v})"
        v = self.wchoice([(8, "plain"), (1, "special")])
        if v == "special":
            return self.choice(FLOAT_SPECIAL)
        x = self.choice(FLOAT_CONSTS)
        return repr(x) if not math.copysign(1, x) < 0 else f"({x!r})"

    def expr(self, scope, t, depth):
        leaves = self.leaf_types(scope)
        if depth <= 0 and t in leaves:
            return self.leaf(scope, t)
        prev = self.producible(leaves, max(depth - 1, 0))
        options = []
        if t in leaves:
            options.append((6, ("leaf",)))
        for form in ALL_FORMS:
            table = form_table(form, self.avoid)
            ok = [ops for ops in table.get(t, ()) if all(o in prev for o in ops)]
            if ok:
                options.append((form[2], ("form", form, ok)))
        if depth > 0 and self.chance(0.01):
            for form in ALL_FORMS:
                ok = [ops for ops in form_table(form, self.avoid).get("raise", ()) if all(o in prev for o in ops)]
                if ok:
                    options.append((1, ("form", form, ok)))
        if not options:
            # Cannot happen when t is producible; fall back to a conversion.
            return self.expr(scope, "int", depth) if t == "int" else self.leaf(scope, "int")
        pick = self.wchoice(options)
        if pick[0] == "leaf":
            return self.leaf(scope, t)
        _, form, ok = pick
        ops = self.wchoice([(self.operand_weight(t, o), o) for o in ok])
        subs = [self.expr(scope, o, depth - 1) for o in ops]
        return form[0].format(*subs)

    _TYPE_WEIGHT = {"int": 4, "float": 4, "bool": 1, "np.bool": 1, "np.int32": 3, "np.int64": 3,
                    "np.float32": 3, "np.float64": 3}

    def operand_weight(self, t, ops):
        w = 1
        for o in ops:
            w *= 8 if o == t and t != "bool" else self._TYPE_WEIGHT[o]
        return w

    # ---- globals rebound between calls ----------------------------------------------------

    def rebinds(self):
        """``_rebinds()``: for each call of ``make_args()``, the values the module's globals get
        before it (the harness applies them to both copies): the same type mostly, another type
        sometimes (a guard then recompiles)."""
        if not self.globals:
            return []
        out = ["", "", "def _rebinds():", "    return ["]
        for _ in range(3):
            items = []
            for name, t in self.globals.items():
                if self.chance(0.3):
                    continue
                t2 = t if self.chance(0.8) else self.choice(sorted(PY_TYPES))
                items.append(f"{name!r}: {self.const(t2)}")
            out.append("        {" + ", ".join(items) + "},")
        out.append("    ]")
        return out

    # ---- arguments -----------------------------------------------------------------------

    def make_args(self, f):
        ncalls = self.wchoice([(7, 1), (2, 2), (1, 3)])
        calls = []
        for k in range(ncalls):
            vals = []
            for p, t in f.params:
                vals.append(self.arg_value(p, t, k))
            calls.append("(" + ", ".join(vals) + ("," if len(vals) == 1 else "") + ")")
        out = ["def make_args():", "    return ["]
        out.extend(f"        {c}," for c in calls)
        out.append("    ]")
        return out

    def int_value(self):
        kind = self.wchoice([(16, "small"), (6, "big"), (1, "huge")])
        if kind == "small":
            return self.choice(INT_CONSTS_SMALL + [self.rint(-50, 50)])
        if kind == "big":
            v = self.choice(INT_CONSTS_BIG) + self.rint(-3, 3)
            return v if -2**63 <= v < 2**63 or self.chance(0.2) else v // 2
        return self.choice(INT_ARGS_HUGE)

    def float_value(self):
        kind = self.wchoice([(6, "const"), (2, "special"), (2, "random")])
        if kind == "const":
            return self.choice(FLOAT_CONSTS)
        if kind == "special":
            return self.choice([math.inf, -math.inf, math.nan, -0.0, 0.0])
        return self.rint(-10**6, 10**6) / self.choice([1, 4, 7, 1000, 3])

    def scalar_src(self, t):
        if t == "bool":
            return self.choice(["True", "False"])
        if t == "int":
            return str(self.int_value())
        return float_src(self.float_value())

    def arg_value(self, p, t, k):
        if not isinstance(t, tuple):
            if k > 0 and self.chance(0.15):
                t = self.choice(PY_TYPES)  # another specialization
            return self.scalar_src(t)
        _, dtype, ndim = t
        shape = self.shapes[p]
        size = int(np.prod(shape))
        vals = [self.elem_src(dtype) for _ in range(size)]
        src = f"np.array([{', '.join(vals)}], dtype=np.{dtype})"
        if ndim == 2 or size == 0:
            src += f".reshape({shape[0]}, {shape[1]})" if ndim == 2 else ""
        layout = self.wchoice([(10, "C"), (1 if ndim == 2 else 0, "F"), (1, "strided"), (1, "ro")])
        if layout == "F":
            src = f"np.asfortranarray({src})"
        elif layout == "strided":
            # A non-contiguous view with the same shape: every other element of a bigger array.
            bigger = [self.elem_src(dtype) for _ in range(size)]
            inter = [x for pair in zip(vals, bigger) for x in pair]
            base = f"np.array([{', '.join(inter)}], dtype=np.{dtype})"
            src = f"{base}[::2]" if ndim == 1 else f"{base}.reshape({shape[0]}, {2 * shape[1]})[:, ::2]"
        elif layout == "ro":
            src = f"_readonly({src})"
        return src

    def elem_src(self, dtype):
        if dtype == "bool":
            return self.choice(["True", "False"])
        if dtype in ("int64", "int32"):
            kind = self.wchoice([(8, "small"), (2, "big")])
            if kind == "small":
                return str(self.rint(-20, 20))
            lim = 2**63 if dtype == "int64" else 2**31
            return str(self.choice([lim - 1, -lim, lim // 2, -(lim // 2) + 1, 2**31 - 1]))
        return float_src(self.float_value())


READONLY_HELPER = '''

def _readonly(a):
    a.flags.writeable = False
    return a
'''


def generate(chooser, size=1.0, avoid=frozenset()):
    """Source text of one random module (see the module docstring). ``avoid``: names of
    ``KNOWN_BUGS`` to steer around."""
    g = ModuleGen(chooser, size, avoid)
    src = g.module()
    if "_readonly(" in src:
        src += READONLY_HELPER
    return src


def generate_seed(seed, size=1.0, avoid=frozenset()):
    return generate(RandomChooser(seed), size, avoid)


if __name__ == "__main__":
    import sys
    for s in sys.argv[1:] or ["0"]:
        print(f"# ---- seed {s}")
        print(generate_seed(int(s)))
