"""Operator sweep: every expression form of the generator, for every combination of operand
types, on edge values; CPython against Heron.

    python -m tests.fuzz.sweep [--forms SUBSTRING] [--with-type complex] [--max-combos 200] [--out FILE.json]

For each (form, operand types) a one-line function ``def f(x0, x1, ...): return FORM`` is
compiled (NumPy scalar operands arrive in 1-element arrays and are read with ``x[0]``) and called
on combinations of edge values (0, -0.0, NaN, infinities, extremes of each integer type, ...).
A difference is printed with its smallest reproducer.
"""
import argparse
import itertools
import json
import math
import os
import random
import sys

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fuzz import gen, harness  # noqa: E402
else:
    from . import gen, harness

EDGE = {
    "int": [0, 1, -1, 2, -7, 3, 2**31 - 1, -(2**31), 2**62, -(2**62), 2**63 - 1, -(2**63), 2**53 + 1, 64],
    "float": [0.0, -0.0, 1.5, -2.5, 0.5, math.inf, -math.inf, math.nan, 1e308, 5e-324, 2.5, 3.0, -7.0,
              1e16, 9.2e18, -1e-300],
    "bool": [True, False],
    "complex": [0j, complex(-0.0, 0.0), complex(0.0, -0.0), 1.5 - 2j, complex(math.inf, 0.0),
                complex(0.0, math.inf), complex(math.nan, 1.0), complex(math.inf, math.nan), 1e308 + 1e308j,
                complex(5e-324, -5e-324), 3j, -2 + 0j],
    "np.bool": [True, False],
    "np.int32": [0, 1, -1, 7, -7, 2**31 - 1, -(2**31), 3, 64],
    "np.int64": [0, 1, -1, 7, -7, 2**63 - 1, -(2**63), 2**62, 3, 2**53 + 1, 64],
    "np.float32": [0.0, -0.0, 1.5, -2.5, math.inf, math.nan, 3.4e38, 1e-45, 2.5, 16777217.0],
    "np.float64": [0.0, -0.0, 1.5, -2.5, math.inf, -math.inf, math.nan, 1e308, 5e-324, 2.5, 1e16, -7.0],
}
NP_DTYPE = {"np.bool": "bool", "np.int32": "int32", "np.int64": "int64", "np.float32": "float32",
            "np.float64": "float64"}


def make_source(template, types):
    params = [f"x{i}" for i in range(len(types))]
    lines = ["import math", "import numpy as np", "", "", f"def f({', '.join(params)}):"]
    names = []
    for p, t in zip(params, types):
        if t in NP_DTYPE:
            lines.append(f"    {p}v = {p}[0]")
            names.append(f"{p}v")
        else:
            names.append(p)
    lines.append(f"    return {template.format(*names)}")
    return "\n".join(lines) + "\n"


def arg(t, v):
    if t in NP_DTYPE:
        return np.array([v], dtype=NP_DTYPE[t])
    return v


def literal(t, v):
    if t in NP_DTYPE:
        text = gen.float_src(v) if isinstance(v, float) else repr(v)
        return f"np.array([{text}], dtype=np.{NP_DTYPE[t]})"
    if isinstance(v, complex):
        return f"complex({gen.float_src(v.real)}, {gen.float_src(v.imag)})"
    return gen.float_src(v) if isinstance(v, float) else repr(v)


def sweep(forms, max_combos, rng, report, with_type=None):
    from heron._native import Dispatcher

    harness._quiet()
    results = []
    n_native = n_total = 0
    for template, arity, _ in forms:
        for types in itertools.product(gen.SCALARS, repeat=arity):
            if template == gen.COND_FORM[0] and types[0] != types[1]:
                continue
            if with_type and with_type not in types:
                continue
            src = make_source(template, types)
            path = os.path.join(harness._tmp(), f"sweep_{os.getpid()}_{len(results)}_{n_total}.py")
            with open(path, "w") as fh:
                fh.write(src)
            cp = harness._load(path, f"_sw_cp_{n_total}")
            hr = harness._load(path, f"_sw_hr_{n_total}")
            d = Dispatcher(hr.f)
            combos = list(itertools.product(*(EDGE[t] for t in types)))
            if len(combos) > max_combos:
                combos = rng.sample(combos, max_combos)
            bad = []
            for values in combos:
                try:
                    a = harness.call_outcome(cp.f, [arg(t, v) for t, v in zip(types, values)], 2)
                except (harness.FuzzTimeout, MemoryError):
                    continue  # a huge int power in CPython
                b = harness.call_outcome(d, [arg(t, v) for t, v in zip(types, values)], 20)
                if a != b:
                    bad.append((values, a, b))
            st = d.stats()
            n_total += 1
            if st["native_calls"]:
                n_native += 1
            if bad:
                kinds = {}
                for values, a, b in bad:
                    diff = harness.compare([a], [b])
                    kinds.setdefault(diff[0][0], []).append((values, a, b))
                for kind, items in kinds.items():
                    values, a, b = items[0]
                    item = {"form": template, "types": types, "kind": kind, "count": len(items),
                            "of": len(combos), "args": [literal(t, v) for t, v in zip(types, values)],
                            "cpython": harness.describe_outcome(a), "heron": harness.describe_outcome(b),
                            "source": src}
                    results.append(item)
                    report(item)
            os.unlink(path)
            sys.modules.pop(f"_sw_cp_{n_total - 1}", None)
            sys.modules.pop(f"_sw_hr_{n_total - 1}", None)
    return results, n_native, n_total


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--forms", default="", help="only forms whose template contains this")
    ap.add_argument("--max-combos", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-type", default=None, help="only operand types that include this one (complex)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    sys.set_int_max_str_digits(0)
    forms = [f for f in gen.ALL_FORMS if args.forms in f[0]]

    def report(item):
        print(f"{item['kind']:<20} {item['form']:<28} {','.join(item['types']):<34} "
              f"{item['count']}/{item['of']}  f({', '.join(item['args'])}): "
              f"CPython {item['cpython']} | Heron {item['heron']}", flush=True)

    results, n_native, n_total = sweep(forms, args.max_combos, random.Random(args.seed), report,
                                       args.with_type)
    print(f"{n_total} (form, types) compiled-or-refused, {n_native} ran natively, "
          f"{len(results)} with differences")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
