//! Type inference of expressions and calls (see `infer` for the algorithm): names resolved
//! at compile time, operators over every member of a variable that changes type, indexing,
//! and calls to builtins (their type rules come from the registry, through `BuiltinFn`), to
//! the function itself and to other compiled functions.

use std::sync::Arc;

use super::infer::{cerr, CallTarget, GlobalValue, Infer};
use super::ufunc;
use super::rules::*;
use crate::ir::*;
use crate::types::*;
use crate::types::cnative::{self, Foreign};

impl<'a> Infer<'a> {
    pub(super) fn global(&mut self, name: &str, line: u32) -> CResult<GlobalValue> {
        if let Some(g) = self.global_cache.get(name) {
            return Ok(g.clone());
        }
        let g = self.res.global(name, line)?;
        self.global_cache.insert(name.to_string(), g.clone());
        Ok(g)
    }

    /// Resolve an expression that names something (a global, or a module attribute).
    pub(super) fn resolve_name(&mut self, e: &Expr) -> CResult<Option<GlobalValue>> {
        let line = e.span.line;
        let g = match &e.kind {
            ExprKind::Global(name) => self.global(name, line)?,
            ExprKind::Attr(base, attr) => match self.resolve_name(base)? {
                Some(GlobalValue::Math) => self.res.module_attr("math", attr, line)?,
                Some(GlobalValue::Numpy) => self.res.module_attr("numpy", attr, line)?,
                Some(GlobalValue::NpModule(m)) => self.res.module_attr(&m, attr, line)?,
                Some(GlobalValue::RangeModule) if attr == "prange" => GlobalValue::Range,
                Some(GlobalValue::RangeModule) if attr == "carray" => GlobalValue::Foreign(Foreign::Carray),
                Some(GlobalValue::RangeModule) => GlobalValue::Unsupported(format!("`.{attr}` of this module is not supported in compiled code")),
                Some(GlobalValue::Foreign(Foreign::Lib(lib))) => self.res.foreign_attr(lib, attr, line)?,
                Some(GlobalValue::Foreign(Foreign::Module)) => self.res.module_attr("ctypes", attr, line)?,
                // `g.attr` of a global compiled code does not take: why not the global.
                Some(GlobalValue::Unsupported(why)) => GlobalValue::Unsupported(why),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.globals.insert(e.id, g.clone());
        Ok(Some(g))
    }

    pub(super) fn expr(&mut self, e: &Expr) -> CResult<Option<Type>> {
        let t = self.expr_inner(e)?;
        if t.is_none() && self.strict {
            let what = match &e.kind {
                ExprKind::Var(v) => format!("{} may be used before it is assigned", self.var_name(*v)),
                ExprKind::Call { .. } => "cannot infer the type this call returns (recursion without a base case?)".into(),
                _ => "cannot infer the type of this expression".into(),
            };
            return cerr(what, e.span.line);
        }
        Ok(self.record(e, t))
    }

    pub(super) fn expr_inner(&mut self, e: &Expr) -> CResult<Option<Type>> {
        let line = e.span.line;
        Ok(match &e.kind {
            ExprKind::Const(c) => Some(const_type(c)),
            ExprKind::Var(v) => self.vars[*v].ty.clone(),
            ExprKind::Global(_) | ExprKind::Attr(..) => {
                if let ExprKind::Attr(base, attr) = &e.kind {
                    // `$iter.shape` of an `np.ndindex` loop (its stop; codegen computes the
                    // number of index tuples itself).
                    if matches!(base.kind, ExprKind::Var(v) if self.ndindex_iters.contains(&v)) && attr == "shape" {
                        return Ok(Some(Type::Tuple(vec![Type::Int])));
                    }
                    // Attributes of values: `a.shape`, `a.size`, `a.ndim` (of a global array too).
                    if matches!(self.resolve_name(base)?, None | Some(GlobalValue::Cell { .. })) {
                        let Some(bt) = self.expr(base)? else { return Ok(None) };
                        return Ok(Some(attr_type(&bt, attr, line)?));
                    }
                }
                match self.resolve_name(e)? {
                    Some(GlobalValue::Const(c)) => Some(const_type(&c)),
                    Some(GlobalValue::Cell { ty, .. }) => Some(ty),
                    Some(GlobalValue::Unsupported(why)) => return cerr(why, line),
                    Some(GlobalValue::Builtin(b)) if matches!(b.form(), Form::Alloc { .. }) => {
                        return cerr("NumPy functions and types can only be called in compiled code", line)
                    }
                    Some(GlobalValue::Builtin(_)) | Some(GlobalValue::SelfRef) | Some(GlobalValue::Callee(_)) | Some(GlobalValue::Range) | Some(GlobalValue::Ufunc(_)) | Some(GlobalValue::NpFunc(_)) | Some(GlobalValue::LoopBuiltin(_)) => {
                        return cerr("functions can only be called in compiled code, not used as values", line)
                    }
                    Some(GlobalValue::Math) | Some(GlobalValue::Numpy) | Some(GlobalValue::RangeModule) | Some(GlobalValue::NpModule(_)) => {
                        return cerr("modules can only be used as `module.name` in compiled code", line)
                    }
                    Some(GlobalValue::NpDType(_)) => {
                        return cerr("NumPy functions and types can only be called in compiled code", line)
                    }
                    Some(GlobalValue::Foreign(Foreign::FfiNull)) => Some(Type::CData { prim: cnative::CPrim::VOID, buffer: false }),
                    Some(GlobalValue::Foreign(_)) => {
                        return cerr("foreign functions, libraries and C types can only be called in compiled code, not used as values", line)
                    }
                    None => return cerr("this name could not be resolved", line),
                }
            }
            ExprKind::BinOp(op, a, b) => {
                let ta = self.expr(a)?;
                let tb = self.expr(b)?;
                let (Some(ta), Some(tb)) = (ta, tb) else { return Ok(None) };
                let op = *op;
                if matches!(ta, Type::Array(_)) || matches!(tb, Type::Array(_)) {
                    if let (BinOp::Pow, Type::Array(at)) = (op, &ta) {
                        // NumPy's `fast_scalar_power` (numpy/_core/src/multiarray/number.c): a
                        // float array to the exact Python int 2 or -1, or the float 0.5, is
                        // `square`, `reciprocal` or `sqrt` (the same bits; their own warnings).
                        let fast = match &b.kind {
                            ExprKind::Const(Const::Int(2)) => Some("square"),
                            ExprKind::Const(Const::Float(x)) if *x == 0.5 => Some("sqrt"),
                            ExprKind::Unary(UnaryOp::Neg, inner) if matches!(inner.kind, ExprKind::Const(Const::Int(1))) => Some("reciprocal"),
                            _ => None,
                        };
                        if let (Some(name), true) = (fast, at.dtype.is_float()) {
                            return self.ufunc_apply(e, name, &[(a, &ta)], line);
                        }
                    }
                    return self.ufunc_apply(e, ufunc::binop_ufunc(op), &[(a, &ta), (b, &tb)], line);
                }
                // Division, modulo and power raise different errors for ints and floats, so an
                // operand that is an int on one path and a float on another must be decided
                // (speculated or refused) even when the result types agree: the rule's key
                // carries the operands' kinds.
                let keyed = |ts: &[Type]| -> CResult<Type> {
                    let r = binop_type(op, &ts[0], &ts[1], line)?;
                    if error_sensitive(op) {
                        let kind = |t: &Type| if t.is_floatlike() { Type::Float } else { Type::Int };
                        Ok(Type::Tuple(vec![r, kind(&ts[0]), kind(&ts[1])]))
                    } else {
                        Ok(r)
                    }
                };
                let r = self.over_members(&[(a, &ta), (b, &tb)], line, &keyed)?;
                let r = match r {
                    Type::Tuple(mut parts) if error_sensitive(op) => parts.swap_remove(0),
                    other => other,
                };
                // `int ** -k` with a constant negative exponent is a float (CPython's long_pow
                // hands it to float_pow).
                if op == BinOp::Pow && r == Type::Int && is_negative_const(b) {
                    Some(Type::Float)
                } else {
                    Some(r)
                }
            }
            ExprKind::Unary(op, a) => {
                let Some(ta) = self.expr(a)? else { return Ok(None) };
                let op = *op;
                if let (Type::Array(_), Some(name)) = (&ta, ufunc::unary_ufunc(op)) {
                    return self.ufunc_apply(e, name, &[(a, &ta)], line);
                }
                Some(self.over_members(&[(a, &ta)], line, &|ts| unary_type(op, &ts[0], line))?)
            }
            ExprKind::Compare(first, rest) if rest.len() == 1 && self.array_operand(first, &rest[0].1)? => {
                let (op, rhs) = (&rest[0].0, &rest[0].1);
                let (Some(ta), Some(tb)) = (self.expr(first)?, self.expr(rhs)?) else { return Ok(None) };
                let Some(name) = ufunc::compare_ufunc(*op) else {
                    return cerr("`in` and `is` with an array are not supported", line);
                };
                return self.ufunc_apply(e, name, &[(first, &ta), (rhs, &tb)], line);
            }
            ExprKind::Compare(first, rest) => {
                // A chain `a < b < c` is `a < b and b < c`; its value is one of the links, so
                // Heron needs every link to give the same type.
                let mut prev_e: &Expr = first;
                let mut prev = self.expr(first)?;
                let mut result: Option<Type> = None;
                let mut unknown = false;
                for (op, rhs) in rest {
                    let tr = self.expr(rhs)?;
                    match (&prev, &tr) {
                        (Some(tl), Some(trr)) => {
                            let op = *op;
                            let r = self.over_members(&[(prev_e, tl), (rhs, trr)], line, &|ts| compare_type(op, &ts[0], &ts[1], line))?;
                            if let Some(r0) = &result {
                                if *r0 != r {
                                    return cerr("a comparison chain mixing Python and NumPy booleans is not supported", line);
                                }
                            }
                            result = Some(r);
                        }
                        _ => unknown = true,
                    }
                    prev_e = rhs;
                    prev = tr;
                }
                if unknown {
                    None
                } else {
                    result
                }
            }
            ExprKind::BoolOp(_, values) => {
                // `a and b` yields one of its operands: they must share one type.
                let mut out: Option<Type> = None;
                let mut unknown = false;
                for v in values {
                    match self.expr(v)? {
                        Some(t) => {
                            truth_ok(&t, line)?;
                            if let Some(o) = &out {
                                if *o != t {
                                    return cerr(format!("`and`/`or` between a {o} and a {t} gives either type; Heron needs one"), line);
                                }
                            }
                            if let ExprKind::Var(v) = v.kind {
                                if self.vars[v].is_union() {
                                    return cerr(format!("{} changes type and is used with `and`/`or`", self.var_name(v)), line);
                                }
                            }
                            out = Some(t);
                        }
                        None => unknown = true,
                    }
                }
                if unknown {
                    None
                } else {
                    out
                }
            }
            ExprKind::IfExp(c, a, b) => {
                self.cond(c)?;
                let ta = self.expr(a)?;
                let tb = self.expr(b)?;
                match (ta, tb) {
                    (Some(ta), Some(tb)) => {
                        if ta != tb {
                            return cerr(format!("the two branches of `x if c else y` give a {ta} and a {tb}; Heron needs one type"), line);
                        }
                        for x in [a, b] {
                            if let ExprKind::Var(v) = x.kind {
                                if self.vars[v].is_union() {
                                    return cerr(format!("{} changes type and is used in `x if c else y`", self.var_name(v)), line);
                                }
                            }
                        }
                        Some(ta)
                    }
                    _ => None,
                }
            }
            ExprKind::Index(base, index) => {
                let bt = self.expr(base)?;
                let mut its = Vec::new();
                for i in index {
                    its.push(self.expr(i)?);
                }
                let Some(bt) = bt else { return Ok(None) };
                if its.iter().any(|t| t.is_none()) {
                    return Ok(None);
                }
                if let (Type::Array(_), true) = (&bt, its.iter().any(|t| matches!(t, Some(Type::Array(_))))) {
                    let its: Vec<Type> = its.into_iter().map(|t| t.unwrap()).collect();
                    return self.fancy_index(e, &bt, &its, None, line);
                }
                let bt = match bt {
                    // `p[i]` of a cffi `T *`: read as a ctypes `T *` is (cffi has no bounds
                    // either); a buffer (`T[]`, bounds-checked by cffi) is not indexed here.
                    Type::CData { prim, buffer: false } => match prim.dtype() {
                        Some(d) => Type::CPtr(Some(d)),
                        None => return cerr(format!("indexing a cffi `{} *` is not compiled", prim.name()), line),
                    },
                    Type::CData { buffer: true, .. } => return cerr("indexing an `ffi.from_buffer(...)` is not compiled", line),
                    bt => bt,
                };
                match &bt {
                    Type::CPtr(Some(d)) => {
                        // `p[i]` of a C pointer: no bounds (C's pointer arithmetic, as ctypes
                        // indexes a pointer), the element as a Python number.
                        let [Some(it)] = its.as_slice() else { return cerr("a C pointer takes one integer index", line) };
                        if !matches!(it, Type::Int | Type::Bool) {
                            return cerr(format!("a C pointer's index must be an int here, not a {it}"), line);
                        }
                        Some(cnative::pointee_type(*d).map_err(|why| CompileError::new(why, line))?)
                    }
                    // `$iter[k]` of a `for x in a.flat` over a strided array: the element.
                    Type::Array(at) if matches!(base.kind, ExprKind::Var(v) if self.flat_iters.contains(&v)) => Some(Type::Np(at.dtype)),
                    // `$iter[k]` of an `np.ndenumerate(a)` loop: (index tuple, element).
                    Type::Array(at) if matches!(base.kind, ExprKind::Var(v) if self.ndenumerate_iters.contains(&v)) => {
                        Some(Type::Tuple(vec![Type::Tuple(vec![Type::Int; at.ndim as usize]), Type::Np(at.dtype)]))
                    }
                    Type::Array(at) => {
                        let n = self.index_arity(index);
                        self.check_indices(index, line)?;
                        if n > at.ndim as usize {
                            return cerr(format!("too many indices: the array is {}-dimensional but {n} were given", at.ndim), line);
                        }
                        let slices = index.iter().filter(|i| matches!(i.kind, ExprKind::Slice(..))).count();
                        if n == at.ndim as usize && slices == 0 {
                            Some(Type::Np(at.dtype))
                        } else {
                            // A view: sliced axes stay, integer-indexed ones go. Only integer
                            // indices on leading axes keep a C-contiguous layout.
                            let ints = n - slices;
                            let layout = if slices == 0 { at.layout } else { Layout::Any };
                            Some(Type::Array(ArrayType { ndim: at.ndim - ints as u8, layout, ..*at }))
                        }
                    }
                    // `$iter[k]` of an `np.ndindex` loop: the k-th index tuple.
                    Type::Tuple(_) if matches!(base.kind, ExprKind::Var(v) if self.ndindex_iters.contains(&v)) => Some(bt.clone()),
                    // `t[:2]` (`a.shape[:2]`) with constant bounds: the items it takes.
                    Type::Tuple(elems) if index.len() == 1 && matches!(index[0].kind, ExprKind::Slice(..)) => match const_tuple_slice(&index[0], elems.len()) {
                        Some(pos) => Some(Type::Tuple(pos.iter().map(|&k| elems[k].clone()).collect())),
                        None => return cerr("a tuple can only be sliced with constant bounds and step in compiled code", line),
                    },
                    Type::Tuple(elems) => {
                        if index.len() != 1 {
                            return cerr("tuple indices must be a single integer", line);
                        }
                        match &index[0].kind {
                            ExprKind::Const(Const::Int(k)) => {
                                let n = elems.len() as i64;
                                let k2 = if *k < 0 { k + n } else { *k };
                                if k2 < 0 || k2 >= n {
                                    return cerr("tuple index out of range", line);
                                }
                                Some(elems[k2 as usize].clone())
                            }
                            ExprKind::Unary(UnaryOp::Neg, inner) if matches!(inner.kind, ExprKind::Const(Const::Int(_))) => {
                                let ExprKind::Const(Const::Int(k)) = inner.kind else { unreachable!() };
                                let n = elems.len() as i64;
                                let k2 = n - k;
                                if k2 < 0 || k2 >= n {
                                    return cerr("tuple index out of range", line);
                                }
                                Some(elems[k2 as usize].clone())
                            }
                            // A variable index into a tuple of one scalar type (`for d in (-1, 0,
                            // 1)`); out of range, the interpreter raises (a deoptimization).
                            _ if !elems.is_empty() && elems.iter().all(|t| t == &elems[0] && t.is_scalar()) => {
                                let it = its[0].clone().unwrap();
                                if !(matches!(it, Type::Int | Type::Bool) || matches!(it, Type::Np(d) if d.is_int() && d != DType::U64)) {
                                    return cerr(format!("tuple indices must be integers, got a {it}"), line);
                                }
                                Some(elems[0].clone())
                            }
                            _ => return cerr("tuples can only be indexed by a constant, or by a variable when their items have one type", line),
                        }
                    }
                    other => return cerr(format!("indexing a {other} is not supported"), line),
                }
            }
            ExprKind::Tuple(items) => {
                let mut ts = Vec::new();
                for i in items {
                    match self.expr(i)? {
                        Some(t) => {
                            if let ExprKind::Var(v) = i.kind {
                                if self.vars[v].is_union() {
                                    // Speculate its unified member (a guard on its tag
                                    // deoptimizes at the statement otherwise).
                                    let unified = self.vars[v].ty.clone();
                                    let idx = unified.as_ref().and_then(|u| self.vars[v].members.iter().position(|m| m == u));
                                    match (unified, idx) {
                                        (Some(u), Some(k)) if u.is_scalar() => {
                                            self.guards.insert(i.id, k);
                                            ts.push(u);
                                            continue;
                                        }
                                        _ => return cerr(format!("{} changes type and is put in a tuple", self.var_name(v)), line),
                                    }
                                }
                            }
                            if matches!(t, Type::Str) {
                                return cerr(format!("a tuple holding a {t} is not supported yet"), line);
                            }
                            ts.push(t)
                        }
                        None => return Ok(None),
                    }
                }
                Some(Type::Tuple(ts))
            }
            ExprKind::FString(parts) => {
                for p in parts {
                    if let FPart::Value { value, .. } = p {
                        let Some(t) = self.expr(value)? else { return Ok(None) };
                        if !(t.is_scalar() || t == Type::Str) {
                            return cerr(format!("formatting a {t} is not supported"), line);
                        }
                    }
                }
                Some(Type::Str)
            }
            ExprKind::Call { func, args, kwargs } => return self.call(e, func, args, kwargs),
            ExprKind::Slice(..) => {
                for part in e.children() {
                    if self.expr(part)?.is_none() {
                        return Ok(None);
                    }
                }
                Some(Type::None)
            }
        })
    }

    /// How many axes `index` indexes: one per item, or the length of a single index that is a
    /// tuple of integers (`a[t]` is `a[t[0], t[1], ...]` in NumPy), recorded in `tuple_indices`.
    pub(super) fn index_arity(&mut self, index: &[Expr]) -> usize {
        if let [i] = index {
            if let Some(Type::Tuple(elems)) = &self.expr_types[i.id] {
                let ints = elems.iter().all(|t| matches!(t, Type::Int) || matches!(t, Type::Np(d) if d.is_int() && *d != DType::U64));
                if ints && !elems.is_empty() && !matches!(i.kind, ExprKind::Var(v) if self.vars[v].is_union()) {
                    self.tuple_indices.insert(i.id, elems.len());
                    return elems.len();
                }
            }
        }
        index.len()
    }

    pub(super) fn check_indices(&mut self, index: &[Expr], line: u32) -> CResult<()> {
        for i in index {
            if self.tuple_indices.contains_key(&i.id) {
                continue;
            }
            let t = self.expr_types[i.id].clone();
            if let ExprKind::Slice(..) = i.kind {
                for part in i.children() {
                    if let Some(t) = self.expr_types[part.id].clone() {
                        if !(matches!(t, Type::Int | Type::None) || matches!(t, Type::Np(d) if d.is_int() && d != DType::U64)) {
                            return cerr(format!("slice bounds must be integers or None, got a {t}"), line);
                        }
                    }
                }
                continue;
            }
            if let Some(t) = t {
                // A uint64 index beyond int64 continues in the interpreter (codegen::array).
                let ok = matches!(t, Type::Int) || matches!(t, Type::Np(d) if d.is_int());
                if !ok {
                    return cerr(format!("array indices must be integers, got a {t}"), line);
                }
                if let ExprKind::Var(v) = i.kind {
                    if self.vars[v].is_union() {
                        return cerr(format!("{} changes type and is used as an index", self.var_name(v)), line);
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn call(&mut self, e: &Expr, func: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        // `"...".format(...)`
        if let ExprKind::Attr(base, attr) = &func.kind {
            if let ExprKind::Const(Const::Str(_)) = base.kind {
                if attr != "format" {
                    return cerr(format!("the string method `{attr}` is not supported"), line);
                }
                if !kwargs.is_empty() {
                    return cerr("keyword arguments to str.format are not supported", line);
                }
                for a in args {
                    let Some(t) = self.expr(a)? else { return Ok(None) };
                    if !(t.is_scalar() || t == Type::Str) {
                        return cerr(format!("formatting a {t} is not supported"), line);
                    }
                }
                self.calls.insert(e.id, CallTarget::StrFormat);
                return Ok(Some(Type::Str));
            }
        }
        // `a.sum()`, `a.copy()`, ...: an array method, run by NumPy.
        if let ExprKind::Attr(base, attr) = &func.kind {
            if matches!(self.resolve_name(base)?, None | Some(GlobalValue::Cell { .. })) {
                let Some(bt) = self.expr(base)? else { return Ok(None) };
                if let Type::Array(_) = bt {
                    return self.np_call(e, attr, true, Some((base.as_ref(), bt)), args, kwargs);
                }
                if bt == Type::Complex && attr == "conjugate" && args.is_empty() && kwargs.is_empty() {
                    self.calls.insert(e.id, CallTarget::Conjugate);
                    return Ok(Some(Type::Complex));
                }
                if bt == Type::CPtr(None) && attr == "data_as" && args.len() == 1 && kwargs.is_empty() {
                    // `a.ctypes.data_as(POINTER(c_double))`: the array's data pointer, typed.
                    return match self.pointer_type(&args[0])? {
                        Some(d) => {
                            self.calls.insert(e.id, CallTarget::PtrCast);
                            Ok(Some(Type::CPtr(Some(d))))
                        }
                        None => cerr("`.data_as(...)` is supported with a ctypes `POINTER(<number type>)`", line),
                    };
                }
                return cerr(format!("the method `{attr}` of a {bt} is not supported in compiled code"), line);
            }
        }
        let Some(g) = self.resolve_name(func)? else {
            return cerr("only calls to functions by name (builtins, math, other compiled functions) are supported", line);
        };
        if let GlobalValue::Foreign(Foreign::Carray) = &g {
            return self.carray(e, args, kwargs);
        }
        if let GlobalValue::Foreign(Foreign::FfiCast(lib)) = g {
            return self.ffi_cast(e, lib, args, kwargs);
        }
        if let GlobalValue::Foreign(Foreign::FfiFromBuffer(lib)) = g {
            return self.ffi_from_buffer(e, lib, args, kwargs);
        }
        if let GlobalValue::NpFunc(path) = &g {
            return self.np_call(e, &path.clone(), false, None, args, kwargs);
        }
        if let GlobalValue::Ufunc(name) = &g {
            let mut out = None;
            for (k, v) in kwargs {
                if k != "out" {
                    return cerr(format!("numpy.{name}() keyword `{k}` is not supported in compiled code yet"), line);
                }
                out = Some(v);
            }
            let mut ops = Vec::new();
            for a in args {
                let Some(t) = self.expr(a)? else { return Ok(None) };
                ops.push(t);
            }
            let pairs: Vec<(&Expr, &Type)> = args.iter().zip(ops.iter()).collect();
            let r = self.ufunc_apply(e, &name.clone(), &pairs, line)?;
            let Some(out) = out else { return Ok(r) };
            // `out=`: NumPy writes the result there (cast under "same_kind") and returns it.
            let Some(ot) = self.expr(out)? else { return Ok(None) };
            let Type::Array(oa) = ot else {
                return cerr(format!("numpy.{name}(out=...) must be given an array here"), line);
            };
            let Some(CallTarget::Ufunc(lp)) = self.calls.get(&e.id) else { return Ok(r) };
            if oa.readonly || !super::infer::same_kind(lp.outs[0], oa.dtype) {
                return cerr(format!("numpy.{name}(out=...) into this array raises in NumPy"), line);
            }
            self.array_effect_pub();
            return Ok(Some(Type::Array(oa)));
        }
        // `abs(array)` is `numpy.absolute(array)` (ndarray.__abs__).
        if let (GlobalValue::Builtin(b), [a]) = (&g, args) {
            if b.name() == "abs" && kwargs.is_empty() {
                if let Some(t @ Type::Array(_)) = self.expr(a)? {
                    return self.ufunc_apply(e, "absolute", &[(a, &t)], line);
                }
            }
        }
        if let GlobalValue::Builtin(b) = g {
            if matches!(b.form(), Form::Alloc { .. }) {
                return self.np_alloc(e, b, args, kwargs);
            }
            if matches!(b.name(), "numpy.array" | "numpy.asarray") {
                return self.np_array_call(e, b, args, kwargs, line);
            }
        }
        let mut ats = Vec::new();
        for a in args {
            ats.push(self.expr(a)?);
        }
        let mut kts = Vec::new();
        for (k, v) in kwargs {
            kts.push((k.clone(), self.expr(v)?));
        }
        let print = matches!(g, GlobalValue::Builtin(b) if b.form() == Form::Print);
        if !print && !kwargs.is_empty() {
            return cerr("keyword arguments are not supported in this call", line);
        }
        if ats.iter().any(|t| t.is_none()) || kts.iter().any(|(_, t)| t.is_none()) {
            if let GlobalValue::SelfRef = g {
                // fall through: a recursive call's type is the return type found so far
            } else {
                return Ok(None);
            }
        }
        match g {
            GlobalValue::Builtin(b) => {
                let ats: Vec<Type> = ats.into_iter().map(|t| t.unwrap()).collect();
                if print {
                    for (k, t) in &kts {
                        if !matches!(k.as_str(), "sep" | "end" | "flush") {
                            return cerr(format!("print() keyword `{k}` is not supported"), line);
                        }
                        let t = t.clone().unwrap();
                        if k == "flush" {
                            if t != Type::Bool {
                                return cerr("print(flush=...) must be a bool", line);
                            }
                        } else if t != Type::Str && t != Type::None {
                            return cerr(format!("print({k}=...) must be a string"), line);
                        }
                    }
                    let r = b.result_type(&ats, line)?;
                    self.calls.insert(e.id, CallTarget::Builtin(b));
                    return Ok(Some(r));
                }
                if let Some(r) = self.comprehension_builtin(b.name(), args, &ats, line)? {
                    self.calls.insert(e.id, CallTarget::Builtin(b));
                    return Ok(Some(r));
                }
                let pairs: Vec<(&Expr, &Type)> = args.iter().zip(ats.iter()).collect();
                let r = self.over_members(&pairs, line, &|ts| b.result_type(ts, line))?;
                if b.name().starts_with("random.") {
                    // It draws from the interpreter's random state.
                    self.array_effect_pub();
                }
                self.calls.insert(e.id, CallTarget::Builtin(b));
                Ok(Some(r))
            }
            GlobalValue::SelfRef => {
                if ats.len() != self.args.len() {
                    return cerr(format!("{}() takes {} arguments but {} were given", self.f.name, self.args.len(), ats.len()), line);
                }
                for (a, t) in args.iter().zip(&ats) {
                    if let ExprKind::Var(v) = a.kind {
                        if self.vars[v].is_union() {
                            return cerr(format!("{} changes type and is passed to a call", self.var_name(v)), line);
                        }
                    }
                    if let Some(t) = t {
                        let expected = &self.args[args.iter().position(|x| std::ptr::eq(x, a)).unwrap()];
                        if t != expected {
                            return cerr(
                                format!("a recursive call with different argument types ({t} instead of {expected}) is not supported yet"),
                                line,
                            );
                        }
                    }
                }
                if self.ret.is_union() {
                    return cerr("a recursive call to a function that returns different types on different paths", line);
                }
                self.calls.insert(e.id, CallTarget::SelfRecursive);
                Ok(self.ret.ty.clone())
            }
            GlobalValue::Callee(id) => {
                let ats: Vec<Type> = ats.into_iter().map(|t| t.unwrap()).collect();
                for a in args {
                    if let ExprKind::Var(v) = a.kind {
                        if self.vars[v].is_union() {
                            return cerr(format!("{} changes type and is passed to a call", self.var_name(v)), line);
                        }
                    }
                }
                let info = self.res.callee(id, &ats, self.pure, line)?;
                if !info.pure {
                    self.callee_effects = true;
                }
                if !info.pure && self.pure {
                    // Calling a function with side effects: this one cannot be re-run either.
                    self.pure = false;
                    self.changed = true;
                }
                let mut ret = info.ret.clone();
                if info.ret_union() {
                    // The callee returns different types on different paths: speculate that it
                    // returns its unified member (guarded; deoptimize otherwise), which needs a
                    // caller that can be re-run, or a callee without side effects (the
                    // interpreter then runs the statement again, the call included, from a
                    // deoptimization point: `codegen::call` refuses a call that has none).
                    let idx = info.ret_members.iter().position(|m| *m == info.ret);
                    match (self.pure || info.pure, idx) {
                        (true, Some(i)) => {
                            self.guards.insert(e.id, i);
                        }
                        _ => {
                            return cerr(
                                "the called function returns different types on different paths and has side effects; calling it from a function with side effects is not supported yet",
                                line,
                            )
                        }
                    }
                    ret = info.ret.clone();
                }
                self.calls.insert(e.id, CallTarget::Callee(info));
                Ok(Some(ret))
            }
            GlobalValue::Const(_) | GlobalValue::Cell { .. } => cerr("a constant is not callable", line),
            GlobalValue::Math | GlobalValue::Numpy | GlobalValue::RangeModule => cerr("a module is not callable", line),
            GlobalValue::Range => cerr("range() and prange() can only be used in a `for` loop", line),
            GlobalValue::NpDType(d) => {
                // `numpy.float64(x)`, `numpy.int32(n)`: a NumPy scalar made from one scalar.
                let [Some(t)] = ats.as_slice() else {
                    return cerr(format!("numpy.{}() with {} arguments is not supported in compiled code", d.name(), ats.len()), line);
                };
                if !np_scalar_from(d, t) {
                    return cerr(format!("numpy.{}() of a {t} is not supported in compiled code yet", d.name()), line);
                }
                self.calls.insert(e.id, CallTarget::NpScalar(d));
                Ok(Some(Type::Np(d)))
            }
            GlobalValue::Unsupported(why) => cerr(why, line),
            GlobalValue::Foreign(Foreign::Func(cf)) => {
                let ats: Vec<Type> = ats.into_iter().map(|t| t.unwrap()).collect();
                if ats.len() != cf.params.len() {
                    return cerr(format!("`{}` takes {} arguments but {} were given", cf.name, cf.params.len(), ats.len()), line);
                }
                for (i, (a, t)) in args.iter().zip(&ats).enumerate() {
                    if let ExprKind::Var(v) = a.kind {
                        if self.vars[v].is_union() {
                            return cerr(format!("{} changes type and is passed to a foreign function", self.var_name(v)), line);
                        }
                    }
                    if let Some(why) = cnative::refuse_arg(&cf, i + 1, cf.params[i], t) {
                        return cerr(why, line);
                    }
                }
                let r = cnative::result_type(&cf).map_err(|why| CompileError::new(why, line))?;
                // What the foreign function does is not known: the function is not re-run.
                self.array_effect_pub();
                self.calls.insert(e.id, CallTarget::CFunc(cf));
                Ok(Some(r))
            }
            GlobalValue::Foreign(_) => cerr("only foreign functions can be called here (a library, C type or ctypes.POINTER is not a call compiled code makes)", line),
            GlobalValue::Ufunc(_) | GlobalValue::NpFunc(_) => unreachable!("typed above"),
            GlobalValue::NpModule(_) => cerr("a module is not callable", line),
            GlobalValue::LoopBuiltin(name) => cerr(format!("{name}() can only be used as the iterable of a `for` loop in compiled code"), line),
        }
    }


    /// A call to NumPy function `path` (or array method `path` of `base`), run by NumPy: the
    /// resolver gives its result type from the argument types; keyword arguments must be
    /// constants (they may decide the result's type: `axis`, `dtype`, `keepdims`).
    fn np_call(&mut self, e: &Expr, path: &str, method: bool, base: Option<(&Expr, Type)>, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let mut ats: Vec<(Type, Option<Const>)> = Vec::new();
        if let Some((b, bt)) = base {
            let _ = b;
            ats.push((bt, None));
        }
        // Arguments that name a dtype (`a.astype(np.float32)`) or are strings are passed as
        // constants; the others are evaluated by native code.
        let mut consts: Vec<(usize, Const)> = Vec::new();
        for a in args {
            let named = match self.resolve_name(a)? {
                Some(GlobalValue::NpDType(d)) => Some(Const::Str(d.name().to_string())),
                Some(GlobalValue::Builtin(b)) if b.as_dtype().is_some() => Some(Const::Str(b.as_dtype().unwrap().name().to_string())),
                Some(_) => return cerr("passing a function or module to a NumPy function is not supported in compiled code", line),
                None => None,
            };
            if let Some(c) = named.or_else(|| match &a.kind {
                ExprKind::Const(c @ Const::Str(_)) => Some(c.clone()),
                _ => None,
            }) {
                consts.push((ats.len(), c.clone()));
                ats.push((Type::Str, Some(c)));
                continue;
            }
            let Some(t) = self.expr(a)? else { return Ok(None) };
            if let ExprKind::Var(v) = a.kind {
                if self.vars[v].is_union() {
                    return cerr(format!("{} changes type and is passed to numpy", self.var_name(v)), line);
                }
            }
            if matches!(t, Type::Str) {
                return cerr("passing a string to a NumPy function is not supported in compiled code", line);
            }
            ats.push((t, const_value(a)));
        }
        let mut kws = Vec::new();
        for (k, v) in kwargs {
            let c = match const_value(v) {
                Some(c) => c,
                None => match self.resolve_name(v)? {
                    None if matches!(&v.kind, ExprKind::Attr(_, a) if a == "dtype") => {
                        let ExprKind::Attr(base, _) = &v.kind else { unreachable!() };
                        match self.expr(base)? {
                            Some(Type::Array(a)) => Const::Str(a.dtype.name().to_string()),
                            _ => return cerr(format!("the keyword argument `{k}` must be a constant here"), line),
                        }
                    }
                    Some(GlobalValue::NpDType(d)) => Const::Str(d.name().to_string()),
                    Some(GlobalValue::Builtin(b)) if b.as_dtype().is_some() => Const::Str(b.as_dtype().unwrap().name().to_string()),
                    Some(GlobalValue::Const(c)) => c,
                    _ => return cerr(format!("the keyword argument `{k}` must be a constant here"), line),
                },
            };
            kws.push((k.clone(), c));
        }
        let (ret, effect) = self.res.np_call(path, method, &ats, &kws, line)?;
        if effect {
            self.array_effect_pub();
        }
        let call = super::infer::NpCall {
            path: path.to_string(),
            method,
            args: ats.into_iter().filter(|(t, _)| *t != Type::Str).map(|(t, _)| t).collect(),
            consts,
            kwargs: kws,
            ret: ret.clone(),
            effect,
        };
        self.calls.insert(e.id, CallTarget::NpCall(Arc::new(call)));
        Ok(Some(ret))
    }

    /// `a[mask]` and `a[indices]` (and, with `value`, the stores `a[mask] = v`): NumPy's own
    /// indexing, through NumPy (`__getitem__`/`__setitem__` with the index as one argument,
    /// a tuple when there are several).
    pub(super) fn fancy_index(&mut self, e: &Expr, bt: &Type, its: &[Type], value: Option<&Type>, line: u32) -> CResult<Option<Type>> {
        let index_t = if its.len() == 1 { its[0].clone() } else { Type::Tuple(its.to_vec()) };
        let mut args = vec![(bt.clone(), None), (index_t, None)];
        if let Some(v) = value {
            args.push((v.clone(), None));
        }
        let method = if value.is_some() { "__setitem__" } else { "__getitem__" };
        let (ret, effect) = self.res.np_call(method, true, &args, &[], line)?;
        if effect {
            self.array_effect_pub();
        }
        let call = super::infer::NpCall {
            path: method.to_string(),
            method: true,
            args: args.into_iter().map(|(t, _)| t).collect(),
            consts: vec![],
            kwargs: vec![],
            ret: ret.clone(),
            effect,
        };
        self.calls.insert(e.id, CallTarget::NpCall(Arc::new(call)));
        Ok(Some(ret))
    }

    /// Is either operand of a comparison an array (then it is a ufunc)?
    fn array_operand(&mut self, a: &Expr, b: &Expr) -> CResult<bool> {
        let ta = self.expr(a)?;
        let tb = self.expr(b)?;
        Ok(matches!(ta, Some(Type::Array(_))) || matches!(tb, Some(Type::Array(_))))
    }

    /// NumPy's ufunc `name` applied to `operands` (expressions with their types): the loop
    /// NumPy picks for those types, recorded for codegen; the result is an array when an
    /// operand is one, else a NumPy scalar (`numpy.exp(1.0)` is a `numpy.float64`).
    pub(super) fn ufunc_apply(&mut self, e: &Expr, name: &str, operands: &[(&Expr, &Type)], line: u32) -> CResult<Option<Type>> {
        let mut ts = Vec::new();
        // A variable that changes type (a Python float on one path, a numpy.float64 on
        // another) is fine when NumPy picks the same loop for every member.
        let mut alternatives: Vec<(usize, Vec<Type>)> = Vec::new();
        for (k, (a, t)) in operands.iter().enumerate() {
            if let ExprKind::Var(v) = a.kind {
                if self.vars[v].is_union() {
                    let members = self.vars[v].members.clone();
                    if !members.iter().all(|m| m.is_scalar()) {
                        return cerr(format!("{} changes type and is an operand of numpy.{name}", self.var_name(v)), line);
                    }
                    alternatives.push((k, members));
                }
            }
            if !(t.is_scalar() || matches!(t, Type::Array(_))) {
                return cerr(format!("numpy.{name} of a {t} is not supported"), line);
            }
            ts.push((*t).clone());
        }
        let lp = self.res.ufunc(name, &ts, line)?;
        for (k, members) in &alternatives {
            for m in members {
                let mut alt = ts.clone();
                alt[*k] = m.clone();
                if self.res.ufunc(name, &alt, line)? != lp {
                    return cerr(format!("a variable that changes type is an operand of numpy.{name}, whose loop depends on the type"), line);
                }
            }
        }
        if lp.ins.len() != ts.len() || lp.outs.len() != 1 {
            return cerr(format!("numpy.{name} takes {} operands and gives {} results; compiled code supports calls with every input and one result", lp.ins.len(), lp.outs.len()), line);
        }
        let r = ufunc::result_type(&lp, &ts);
        self.calls.insert(e.id, CallTarget::Ufunc(Arc::new(lp)));
        Ok(Some(r))
    }

    /// `numpy.empty(shape, dtype)`, `numpy.zeros_like(a)`, ...: a new C-contiguous array (the
    /// constructor's type rule gives it from the first argument; a `dtype` argument changes
    /// its dtype).
    pub(super) fn np_alloc(&mut self, e: &Expr, b: &'static dyn BuiltinFn, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let what = b.name();
        let mut dtype_expr: Option<&Expr> = None;
        for (k, v) in kwargs {
            match k.as_str() {
                "dtype" => dtype_expr = Some(v),
                other => return cerr(format!("{what}() keyword `{other}` is not supported in compiled code"), line),
            }
        }
        if args.len() == 2 && dtype_expr.is_none() {
            dtype_expr = Some(&args[1]);
        } else if args.len() != 1 {
            return cerr(format!("{what}() takes the shape (or array) and an optional dtype here"), line);
        }
        let Some(first) = self.expr(&args[0])? else { return Ok(None) };
        let Type::Array(mut at) = b.result_type(&[first], line)? else { unreachable!("a NumPy constructor makes an array") };
        if let Some(d) = dtype_expr {
            at.dtype = match self.resolve_name(d)? {
                Some(GlobalValue::NpDType(x)) => x,
                Some(GlobalValue::Builtin(b)) if b.as_dtype().is_some() => b.as_dtype().unwrap(),
                _ => match &d.kind {
                    // `dtype=x.dtype`: the array's dtype, known in this specialization.
                    ExprKind::Attr(base, attr) if attr == "dtype" => match self.expr(base)? {
                        Some(Type::Array(a)) => a.dtype,
                        Some(t) => return cerr(format!("`.dtype` of a {t} is not supported"), line),
                        None => return Ok(None),
                    },
                    ExprKind::Const(Const::Str(s)) => match DType::from_name(s) {
                        Some(x) => x,
                        None => return cerr(format!("the dtype {s:?} is not supported in compiled code"), line),
                    },
                    _ => return cerr("the dtype must be a NumPy type (numpy.float64, ...), float, int or bool", line),
                },
            };
        }
        self.calls.insert(e.id, CallTarget::Builtin(b));
        Ok(Some(Type::Array(at)))
    }
}

/// The value of a constant expression (`3`, `-1`, `0.5`, `None`, `"linear"`).
fn const_value(e: &Expr) -> Option<Const> {
    match &e.kind {
        ExprKind::Const(c) => Some(c.clone()),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Const(Const::Int(k)) => Some(Const::Int(-k)),
            ExprKind::Const(Const::Float(x)) => Some(Const::Float(-x)),
            _ => None,
        },
        _ => None,
    }
}

/// Does compiled code make `numpy.<d>(x)` from a `t` exactly as NumPy does? Floats from any
/// number; bools from any; integers from Python ints (range-checked), bools, and NumPy integers
/// that widen. (NumPy's float-to-int truncation and narrowing integer casts are left to it.)
pub fn np_scalar_from(d: DType, t: &Type) -> bool {
    if !t.is_scalar() {
        return false;
    }
    if d.is_float() || d == DType::Bool {
        return true;
    }
    match t {
        Type::Int | Type::Bool => true,
        Type::Np(s) => *s == DType::Bool || (s.is_int() && widens(*s, d)),
        _ => false,
    }
}

/// Is every value of integer dtype `s` one of `d`?
fn widens(s: DType, d: DType) -> bool {
    let (slo, shi) = s.int_range();
    let (dlo, dhi) = d.int_range();
    dlo <= slo && shi <= dhi
}
