//! Calls: builtins and `math` (from the table in `builtins`), other compiled functions
//! (direct native calls), and `print`, which calls back into the runtime with the GIL.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::Module;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::{repr, CVal, FunctionCx};
use crate::builtins::{Builtin, MathFn, MathKind};
use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::abi::{ErrCode, FItem, FuncInfo, NpWarn, PItem, PrintDesc, STATUS_BOXED};
use crate::types::infer::CallTarget;
use crate::types::{DType, Type};

fn err<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(CompileError::new(msg, line))
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    pub fn call(&mut self, e: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<CVal> {
        let line = e.span.line;
        let target = self.typed.calls.get(&e.id).cloned();
        match target {
            Some(CallTarget::Builtin(Builtin::Print)) => self.print(args, kwargs, line),
            Some(CallTarget::Builtin(b)) => self.builtin(b, e, args, line),
            Some(CallTarget::Math(m)) => self.math(m, args, line),
            Some(CallTarget::SelfRecursive) => {
                self.long_running = true;
                let ret = self.typed.ret_type();
                let (vals, slots) = self.flat_args_ret(args, &ret, false, self.depth)?;
                let fref = self.module.declare_func_in_func(self.self_id, self.b.func);
                let call = self.b.ins().call(fref, &vals);
                let results = self.b.inst_results(call).to_vec();
                let v = self.check_status(results, slots, &ret, e.span, line);
                if !self.typed.pure {
                    self.note_made_call(e.span, &v, &ret);
                }
                Ok(v)
            }
            Some(CallTarget::Callee(info)) => {
                self.long_running = true;
                let union = info.ret_union();
                // A recursive callee counts its depth from this call's (0 outside recursion).
                let depth = if info.recursive { Some(self.depth.unwrap_or_else(|| self.iconst(0))) } else { None };
                let (vals, slots) = self.flat_args_ret(args, &info.ret, union, depth)?;
                // A direct call to the callee's code (imported by address), which the inliner
                // may replace by the callee's body.
                let sig = super::inner_signature(self.module, &info.params, &info.ret, union, info.recursive);
                let id = self
                    .module
                    .declare_function(&super::callee_symbol(info.ptr), cranelift_module::Linkage::Import, &sig)
                    .map_err(|e| CompileError::new(format!("code generation failed: {e}"), line))?;
                let fref = self.module.declare_func_in_func(id, self.b.func);
                let call = self.b.ins().call(fref, &vals);
                let results = self.b.inst_results(call).to_vec();
                let vals = self.check_status(results, slots, &info.ret, e.span, line);
                if !info.pure {
                    self.note_made_call(e.span, &vals, &info.ret);
                }
                self.writes_visible |= info.writes;
                if let (true, Some(ss), Some(&member)) = (union, slots, self.typed.guards.get(&e.id)) {
                    // Speculated member (see infer): deoptimize when the callee returned another.
                    let n = repr(&info.ret).len();
                    let tag = self.b.ins().stack_load(types::I64, types::I64, ss, (8 * n) as i32);
                    let other = self.b.ins().icmp_imm_s(IntCC::NotEqual, tag, member as i64);
                    self.fail_if(other, ErrCode::Deopt, line, &[]);
                }
                Ok(vals)
            }
            Some(CallTarget::StrFormat) => err("str.format() can only be used inside print() in compiled code", line),
            Some(CallTarget::NpAlloc { kind, like, dtype, ndim }) => {
                let local = self.typed.local_allocs.contains(&e.id);
                self.np_alloc(kind, like, dtype, ndim, args, local, line)
            }
            None => err("unresolved call", line),
        }
    }

    /// `numpy.empty/zeros/ones(...)`: NumPy makes the array (runtime::alloc); native code gets
    /// its data pointer, shape and strides.
    /// `local`: the array never leaves the function; its memory comes from
    /// `heron_buf_alloc` (no NumPy object, no GIL).
    #[allow(clippy::too_many_arguments)]
    fn np_alloc(&mut self, kind: crate::builtins::NpAlloc, like: bool, dtype: DType, ndim: u8, args: &[Expr], local: bool, line: u32) -> CResult<CVal> {
        let nd = ndim as usize;
        let first = self.expr(&args[0])?;
        let t0 = self.typed.ty(&args[0]).clone();
        let dims: Vec<Value> = if like {
            first[1..1 + nd].to_vec()
        } else {
            let ts = match &t0 {
                Type::Tuple(ts) => ts.clone(),
                t => vec![t.clone()],
            };
            let mut out = Vec::new();
            let mut off = 0;
            for t in &ts {
                let w = repr(t).len();
                out.push(self.to_i64(first[off..off + w].to_vec(), t));
                off += w;
            }
            out
        };
        let shape_ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * nd) as u32, 3));
        for (i, d) in dims.iter().enumerate() {
            self.b.ins().stack_store(types::I64, *d, shape_ss, (8 * i) as i32);
        }
        let out_ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * (1 + 2 * nd)) as u32, 3));
        let shape_ptr = self.b.ins().stack_addr(types::I64, shape_ss, 0);
        let out_ptr = self.b.ins().stack_addr(types::I64, out_ss, 0);
        let k = self.iconst(match kind {
            crate::builtins::NpAlloc::Empty => 0,
            crate::builtins::NpAlloc::Zeros => 1,
            crate::builtins::NpAlloc::Ones => 2,
        });
        let dt = self.iconst(dtype as i64);
        let n = self.iconst(nd as i64);
        let env = self.env;
        let i = types::I64;
        let helper = if local { "heron_buf_alloc" } else { "heron_alloc" };
        self.call_helper(helper, &[i, i, i, i, i, i], &[i], &[env, k, dt, n, shape_ptr, out_ptr])?;
        self.fail_if_env_error(line);
        Ok((0..1 + 2 * nd).map(|j| self.b.ins().stack_load(types::I64, types::I64, out_ss, (8 * j) as i32)).collect())
    }

    /// A callee's arguments (and recursion `depth`, for a recursive callee), and the stack slot
    /// for its result when it returns through slots (the result may carry a type tag, `union`).
    fn flat_args_ret(&mut self, args: &[Expr], ret: &Type, union: bool, depth: Option<Value>) -> CResult<(Vec<Value>, Option<cranelift_codegen::ir::StackSlot>)> {
        let mut vals = Vec::new();
        for a in args {
            vals.extend(self.expr(a)?);
        }
        let mut slots = None;
        if super::ret_by_pointer(ret, union) {
            let n = super::ret_reprs(ret, union).len();
            let ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
            vals.push(self.b.ins().stack_addr(types::I64, ss, 0));
            slots = Some(ss);
        }
        vals.extend(depth);
        vals.push(self.env);
        Ok((vals, slots))
    }

    /// A callee called at `span` returned `status` (and its result in registers or in
    /// `slots`). On nonzero status: a result the callee could only hand back boxed makes this
    /// function continue in the interpreter with it (`deopt`); an error leaves through the
    /// error exit (the callee filled `Env`), adding this call to the traceback's frames.
    fn check_status(&mut self, results: Vec<Value>, slots: Option<cranelift_codegen::ir::StackSlot>, ret: &Type, span: crate::ir::Span, line: u32) -> CVal {
        let status = results[0];
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, status, 0);
        let (fail, ok) = self.branch_cold(bad);
        self.switch_to(fail);
        let boxed = self.b.ins().icmp_imm_s(IntCC::Equal, status, STATUS_BOXED);
        let (boxed_blk, err_blk) = self.branch_cold(boxed);
        self.switch_to(boxed_blk);
        self.deopt_exit(ErrCode::Deopt, line, Some(span));
        self.switch_to(err_blk);
        let site = self.site();
        let (env, info, site) = (self.env, self.iconst(self.info as *const FuncInfo as i64), self.iconst(site));
        let i = types::I64;
        self.call_helper("heron_push_frame", &[i, i, i], &[], &[env, info, site]).expect("a runtime helper");
        self.b.ins().jump(self.err_block, &[BlockArg::Value(status)]);
        self.switch_to(ok);
        match slots {
            None => results[1..].to_vec(),
            Some(ss) => repr(ret)
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let raw = self.b.ins().stack_load(types::I64, types::I64, ss, (8 * i) as i32);
                    self.from_slot(raw, t)
                })
                .collect(),
        }
    }

    /// The inverse of `widen_to_slot`.
    pub fn from_slot(&mut self, raw: Value, t: cranelift_codegen::ir::Type) -> Value {
        let flags = cranelift_codegen::ir::MemFlagsData::new();
        if t == types::F64 {
            self.b.ins().bitcast(types::F64, flags, raw)
        } else if t == types::F32 {
            let i = self.b.ins().ireduce(types::I32, raw);
            self.b.ins().bitcast(types::F32, flags, i)
        } else if t == types::I64 {
            raw
        } else {
            self.b.ins().ireduce(t, raw)
        }
    }

    /// A float to a Python int: NaN raises ValueError, infinities OverflowError (CPython's
    /// `PyLong_FromDouble`); values beyond i64 deoptimize (Python would make a big int).
    pub fn float_to_int(&mut self, x: Value, line: u32) -> Value {
        let x = if self.b.func.dfg.value_type(x) == types::F32 { self.b.ins().fpromote(types::F64, x) } else { x };
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.fail_if(nan, ErrCode::IntFromNan, line, &[]);
        let ax = self.b.ins().fabs(x);
        let inf = self.b.ins().f64const(f64::INFINITY);
        let is_inf = self.b.ins().fcmp(FloatCC::Equal, ax, inf);
        self.fail_if(is_inf, ErrCode::IntFromInf, line, &[]);
        let lim = self.b.ins().f64const(9.223372036854775808e18);
        let neg_lim = self.b.ins().f64const(-9.223372036854775808e18);
        let too_big = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, lim);
        let too_small = self.b.ins().fcmp(FloatCC::LessThan, x, neg_lim);
        let out = self.b.ins().bor(too_big, too_small);
        self.fail_if(out, ErrCode::Deopt, line, &[]);
        self.b.ins().fcvt_to_sint_sat(types::I64, x)
    }

    fn builtin(&mut self, b: Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<CVal> {
        let rt = self.typed.ty(e).clone();
        let ts: Vec<Type> = args.iter().map(|a| self.typed.ty(a).clone()).collect();
        match b {
            Builtin::Len => match &ts[0] {
                Type::Tuple(items) => Ok(vec![self.iconst(items.len() as i64)]),
                _ => {
                    let v = self.expr(&args[0])?;
                    Ok(vec![v[1]])
                }
            },
            Builtin::Abs => {
                let v = self.expr(&args[0])?;
                match &rt {
                    Type::Float | Type::Np(DType::F64) | Type::Np(DType::F32) => Ok(vec![self.b.ins().fabs(v[0])]),
                    Type::Int | Type::Np(_) => {
                        let x = self.to_i64(v, &ts[0]);
                        let z = self.iconst(0);
                        let (neg, of) = self.b.ins().ssub_overflow(z, x);
                        let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                        let r = self.b.ins().select(is_neg, neg, x);
                        match rt {
                            // NumPy: abs(MIN) is MIN, with "overflow encountered in scalar absolute".
                            Type::Np(d) => {
                                let bad = if d == DType::I64 { of } else { self.out_of_range(r, d) };
                                self.np_warn_if(bad, NpWarn::Absolute, line);
                                Ok(vec![self.wrap_to(r, d)])
                            }
                            _ => {
                                self.fail_if(of, ErrCode::Overflow, line, &[]);
                                Ok(vec![r])
                            }
                        }
                    }
                    _ => err(format!("abs() of a {}", ts[0]), line),
                }
            }
            Builtin::Min | Builtin::Max => {
                // Python keeps the first extreme: it replaces the current value only when the
                // next one is strictly smaller (min) or larger (max). NaN comparisons are false.
                let op = if b == Builtin::Min { CmpOp::Lt } else { CmpOp::Gt };
                let t = ts[0].clone();
                let mut cur = self.expr(&args[0])?;
                for a in &args[1..] {
                    let v = self.expr(a)?;
                    let better = self.compare(op, v.clone(), &t, cur.clone(), &t, line)?;
                    cur = vec![self.b.ins().select(better, v[0], cur[0])];
                }
                Ok(cur)
            }
            Builtin::Int => {
                let v = self.expr(&args[0])?;
                if ts[0].is_floatlike() {
                    Ok(vec![self.float_to_int(v[0], line)])
                } else {
                    Ok(vec![self.to_i64(v, &ts[0])])
                }
            }
            Builtin::Float => {
                if args.is_empty() {
                    return Ok(vec![self.b.ins().f64const(0.0)]);
                }
                let v = self.expr(&args[0])?;
                Ok(vec![self.cast_scalar(v[0], &ts[0], DType::F64)])
            }
            Builtin::Bool => {
                if args.is_empty() {
                    return Ok(vec![self.b.ins().iconst(types::I8, 0)]);
                }
                let v = self.expr(&args[0])?;
                Ok(vec![self.truth_of(&v, &ts[0])?])
            }
            Builtin::Round if args.len() == 2 => {
                let x = self.expr(&args[0])?[0];
                let nv = self.expr(&args[1])?;
                let n = self.to_i64(nv, &ts[1]);
                let env = self.env;
                let f = types::F64;
                let r = self.call_helper("heron_round_ndigits", &[f, types::I64, types::I64], &[f], &[x, n, env])?[0];
                self.fail_if_env_error(line);
                Ok(vec![r])
            }
            Builtin::Divmod => {
                let a = self.expr(&args[0])?;
                let b = self.expr(&args[1])?;
                let Type::Tuple(parts) = &rt else { unreachable!() };
                if parts[0] == Type::Float {
                    // divmod of floats has its own message ("float divmod()").
                    let fb = self.cast_scalar(b[0], &ts[1], DType::F64);
                    let z = self.b.ins().f64const(0.0);
                    let zero = self.b.ins().fcmp(FloatCC::Equal, fb, z);
                    self.fail_if(zero, ErrCode::FloatDivmodZero, line, &[]);
                }
                let q = self.binop(BinOp::FloorDiv, a.clone(), &ts[0], b.clone(), &ts[1], &parts[0], line)?;
                let r = self.binop(BinOp::Mod, a, &ts[0], b, &ts[1], &parts[1], line)?;
                Ok(vec![q[0], r[0]])
            }
            Builtin::Round => {
                let v = self.expr(&args[0])?;
                if ts[0].is_floatlike() {
                    // Round half to even, as float.__round__ (and numpy's) without ndigits.
                    let r = self.b.ins().nearest(v[0]);
                    Ok(vec![self.float_to_int(r, line)])
                } else {
                    Ok(vec![self.to_i64(v, &ts[0])])
                }
            }
            Builtin::Print => unreachable!(),
        }
    }

    fn math(&mut self, m: &'static MathFn, args: &[Expr], line: u32) -> CResult<CVal> {
        let f = types::F64;
        let mut xs = Vec::new();
        let mut int_arg = false;
        for a in args {
            let t = self.typed.ty(a).clone();
            let v = self.expr(a)?;
            // Python ints (and bools) have __floor__/__ceil__/__trunc__ returning themselves;
            // NumPy integers go through float, as CPython's math module does for them.
            if m.kind == MathKind::ToInt && matches!(t, Type::Int | Type::Bool) {
                int_arg = true;
                xs.push(self.to_i64(v, &t));
            } else {
                xs.push(self.cast_scalar(v[0], &t, DType::F64));
            }
        }
        let isnan = |cx: &mut Self, x: Value| cx.b.ins().fcmp(FloatCC::Unordered, x, x);
        let isfinite = |cx: &mut Self, x: Value| {
            let ax = cx.b.ins().fabs(x);
            let inf = cx.b.ins().f64const(f64::INFINITY);
            cx.b.ins().fcmp(FloatCC::LessThan, ax, inf)
        };
        let isinf = |cx: &mut Self, x: Value| {
            let ax = cx.b.ins().fabs(x);
            let inf = cx.b.ins().f64const(f64::INFINITY);
            cx.b.ins().fcmp(FloatCC::Equal, ax, inf)
        };
        Ok(vec![match m.kind {
            MathKind::Unary { can_overflow } => {
                let x = xs[0];
                let r = if m.sym == "sqrt" { self.b.ins().sqrt(x) } else { self.call_helper(m.sym, &[f], &[f], &[x])?[0] };
                // CPython's math_1: NaN from non-NaN is a domain error; inf from finite is a
                // range error (overflow) or a domain error (singularity). Both need a result
                // that is not finite: one test on the hot path, the details on a cold one.
                let (cold, ok) = self.fp_test(r);
                self.switch_to(cold);
                let rn = isnan(self, r);
                let xn = isnan(self, x);
                let dom = self.b.ins().band_not(rn, xn);
                self.fail_if(dom, ErrCode::MathDomain, line, &[]);
                let ri = isinf(self, r);
                let xf = isfinite(self, x);
                let rng = self.b.ins().band(ri, xf);
                self.fail_if(rng, if can_overflow { ErrCode::MathRange } else { ErrCode::MathDomain }, line, &[]);
                self.b.ins().jump(ok, &[]);
                self.switch_to(ok);
                r
            }
            MathKind::Binary | MathKind::Fmod => {
                let (x, y) = (xs[0], xs[1]);
                let r = self.call_helper(m.sym, &[f, f], &[f], &[x, y])?[0];
                if m.name != "copysign" {
                    let rn = isnan(self, r);
                    let xn = isnan(self, x);
                    let yn = isnan(self, y);
                    let any = self.b.ins().bor(xn, yn);
                    let dom = self.b.ins().band_not(rn, any);
                    self.fail_if(dom, ErrCode::MathDomain, line, &[]);
                }
                r
            }
            MathKind::ToInt => {
                if int_arg {
                    xs[0]
                } else {
                    let r = match m.name {
                        "floor" => self.b.ins().floor(xs[0]),
                        "ceil" => self.b.ins().ceil(xs[0]),
                        _ => self.b.ins().trunc(xs[0]),
                    };
                    self.float_to_int(r, line)
                }
            }
            MathKind::Predicate => match m.name {
                "isnan" => isnan(self, xs[0]),
                "isinf" => isinf(self, xs[0]),
                _ => isfinite(self, xs[0]),
            },
            MathKind::Scale(k) => {
                let c = self.b.ins().f64const(k);
                self.b.ins().fmul(xs[0], c)
            }
        }])
    }

    /// `print(...)`: evaluate the scalars into a slot buffer and call the runtime.
    fn print(&mut self, args: &[Expr], kwargs: &[(String, Expr)], line: u32) -> CResult<CVal> {
        let mut slots: Vec<Value> = Vec::new();
        let mut items = Vec::new();
        for a in args {
            let item = self.print_item(a, &mut slots, line)?;
            items.push(item);
        }
        let mut desc = PrintDesc { items, sep: None, end: None, flush: false };
        for (k, v) in kwargs {
            match (k.as_str(), &v.kind) {
                ("sep", ExprKind::Const(Const::Str(s))) => desc.sep = Some(py_str(s)),
                ("end", ExprKind::Const(Const::Str(s))) => desc.end = Some(py_str(s)),
                ("sep", ExprKind::Const(Const::None)) | ("end", ExprKind::Const(Const::None)) => {}
                ("flush", ExprKind::Const(Const::Bool(b))) => desc.flush = *b,
                _ => return err(format!("print({k}=...) must be a constant in compiled code"), line),
            }
        }
        let n = slots.len().max(1);
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
        for (i, v) in slots.iter().enumerate() {
            self.b.ins().stack_store(types::I64, *v, ss, (8 * i) as i32);
        }
        let ptr = self.b.ins().stack_addr(types::I64, ss, 0);
        let desc = Box::new(desc);
        let dptr = self.iconst(&*desc as *const PrintDesc as i64);
        self.prints.push(desc);
        let nslots = self.iconst(slots.len() as i64);
        let env = self.env;
        let i64t = types::I64;
        self.call_helper("heron_print", &[i64t, i64t, i64t, i64t], &[i64t], &[env, dptr, ptr, nslots])?;
        self.fail_if_env_error(line);
        Ok(vec![])
    }

    fn print_item(&mut self, a: &Expr, slots: &mut Vec<Value>, line: u32) -> CResult<PItem> {
        match &a.kind {
            ExprKind::Const(Const::Str(s)) => return Ok(PItem::Lit(py_str(s))),
            ExprKind::Const(Const::None) => return Ok(PItem::None),
            ExprKind::FString(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    match p {
                        FPart::Lit(s) => out.push(FItem::Lit(s.clone())),
                        FPart::Value { value, conv, spec } => {
                            let item = self.print_item(value, slots, line)?;
                            out.push(FItem::Val { item, conv: *conv, spec: spec.clone() });
                        }
                    }
                }
                return Ok(PItem::FStr(out));
            }
            ExprKind::Call { func, args, .. } if matches!(self.typed.calls.get(&a.id), Some(CallTarget::StrFormat)) => {
                let ExprKind::Attr(base, _) = &func.kind else { unreachable!() };
                let ExprKind::Const(Const::Str(template)) = &base.kind else { unreachable!() };
                let mut items = Vec::new();
                for x in args {
                    items.push(self.print_item(x, slots, line)?);
                }
                return Ok(PItem::Format { template: py_str(template), args: items });
            }
            _ => {}
        }
        let t = self.typed.ty(a).clone();
        if t == Type::None {
            self.expr(a)?;
            return Ok(PItem::None);
        }
        if !t.is_scalar() {
            return err(format!("printing a {t} is not supported in compiled code"), line);
        }
        let v = self.expr(a)?;
        let slot = slots.len();
        let raw = super::widen_to_slot(&mut self.b, v[0]);
        slots.push(raw);
        if let ExprKind::Var(var) = a.kind {
            if let Some(tag) = self.tags[var] {
                let tv = self.b.use_var(tag);
                let traw = super::widen_to_slot(&mut self.b, tv);
                slots.push(traw);
                return Ok(PItem::Val {
                    members: self.typed.vars[var].members.clone(),
                    unified: self.typed.vars[var].ty.clone().expect("typed variable"),
                    slot,
                    tag_slot: Some(slot + 1),
                });
            }
        }
        Ok(PItem::Val { members: vec![t.clone()], unified: t, slot, tag_slot: None })
    }
}

fn py_str(s: &str) -> Py<PyString> {
    Python::attach(|py| PyString::new(py, s).unbind())
}
