//! Calls: builtins (the registry's lowerings, run through `impl builtins::Lower for
//! FunctionCx`), other compiled functions (direct native calls), and `print`, which calls back
//! into the runtime with the GIL (emitted here: its description is codegen's data).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::Module;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::{repr, CVal, FunctionCx};
use crate::builtins::{self, Lower};
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
            Some(CallTarget::Builtin(b)) => {
                let entry = builtins::entry(b);
                match entry.lower {
                    Some(lower) => lower(self, entry, e, args, line),
                    None => self.print(args, kwargs, line),
                }
            }
            Some(CallTarget::SelfRecursive) => {
                self.refuse_outlined(|| "it calls itself".into());
                self.long_running = true;
                let ret = self.typed.ret_type();
                let (vals, slots) = self.flat_args_ret(args, &ret, false, self.depth)?;
                let fref = self.module.declare_func_in_func(self.self_id, self.b.func);
                let call = self.b.ins().call(fref, &vals);
                let results = self.b.inst_results(call).to_vec();
                let v = self.check_status(results, slots, &ret, e.span, line);
                if !self.facts.pure {
                    self.note_made_call(e.span, &v, &ret);
                }
                Ok(v)
            }
            Some(CallTarget::Callee(info)) => {
                // In a parallel loop's body: the callee's threaded specialization.
                let ptr = match (&self.outlined, &info.threaded) {
                    (None, _) => info.ptr,
                    (Some(_), Ok(p)) => *p,
                    (Some(_), Err(why)) => {
                        self.refuse_outlined(|| why.clone());
                        info.ptr
                    }
                };
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
                    .declare_function(&super::callee_symbol(ptr), cranelift_module::Linkage::Import, &sig)
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
                    // A caller with side effects continues in the interpreter from this
                    // statement (calling the callee, which has none, again); it needs a point.
                    if !self.facts.pure && self.deopt_point(None).is_none() {
                        return err("a call to a function that returns different types on different paths, where the interpreter cannot take over", line);
                    }
                    let n = repr(&info.ret).len();
                    let tag = self.b.ins().stack_load(types::I64, types::I64, ss, (8 * n) as i32);
                    let other = self.b.ins().icmp_imm_s(IntCC::NotEqual, tag, member as i64);
                    self.fail_if(other, ErrCode::Deopt, line, &[]);
                }
                Ok(vals)
            }
            Some(CallTarget::StrFormat) => err("str.format() can only be used inside print() in compiled code", line),
            Some(CallTarget::Ufunc(_)) => unreachable!("ufunc calls are lowered by codegen::ufunc"),
            Some(CallTarget::NpCall(call)) => self.np_call(e, &call, args, line),
            Some(CallTarget::NpScalar(d)) => {
                let t = self.typed.ty(&args[0]).clone();
                let v = self.expr(&args[0])?;
                self.np_scalar(d, v, &t, line)
            }
            Some(CallTarget::CFunc(cf)) => self.foreign_call(e, &cf, args, line),
            Some(CallTarget::PtrCast) => match &e.kind {
                ExprKind::Call { func, .. } => match &func.kind {
                    ExprKind::Attr(base, _) => self.expr(base),
                    _ => err("a pointer cast", line),
                },
                _ => err("a pointer cast", line),
            },
            Some(CallTarget::Carray(at)) => self.carray(args, at, line),
            // The address, retyped (an int or a cffi pointer are both one word).
            Some(CallTarget::FfiCast) => self.expr(&args[1]),
            // The array's data pointer (its first word).
            Some(CallTarget::FfiFromBuffer) => {
                let a = self.expr(&args[args.len() - 1])?;
                Ok(vec![a[0]])
            }
            Some(CallTarget::Conjugate) => match &e.kind {
                ExprKind::Call { func, .. } => match &func.kind {
                    ExprKind::Attr(base, _) => {
                        let z = self.expr(base)?;
                        Ok(vec![z[0], self.b.ins().fneg(z[1])])
                    }
                    _ => err("conjugate()", line),
                },
                _ => err("conjugate()", line),
            },
            None => err("unresolved call", line),
        }
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
        // A compiled callee may have warned (it counts in the same `Env::warned`).
        self.stmt_reports = true;
        let status = results[0];
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, status, 0);
        let (fail, ok) = self.branch_cold(bad);
        self.switch_to(fail);
        let boxed = self.b.ins().icmp_imm_s(IntCC::Equal, status, STATUS_BOXED);
        let (boxed_blk, err_blk) = self.branch_cold(boxed);
        self.switch_to(boxed_blk);
        self.deopt_exit(ErrCode::Deopt, line, Some(span));
        self.switch_to(err_blk);
        if self.outlined.is_some() {
            // On Heron's threads: no traceback, the serial re-run makes it.
            self.outlined_fail();
        } else {
            let site = self.site();
            let (env, info, site) = (self.env, self.iconst(self.info as *const FuncInfo as i64), self.iconst(site));
            let i = types::I64;
            self.call_helper("heron_push_frame", &[i, i, i], &[], &[env, info, site]).expect("a runtime helper");
            self.b.ins().jump(self.err_block, &[BlockArg::Value(status)]);
        }
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

    /// A call into NumPy itself (`runtime::npcall`): the arguments (for a method, the array
    /// first) flattened into slots, the result read back from slots. When NumPy's result is
    /// not of the type inference expected, the statement deoptimizes.
    fn np_call(&mut self, e: &Expr, call: &crate::types::infer::NpCall, args: &[Expr], line: u32) -> CResult<CVal> {
        self.long_running = true;
        let mut exprs: Vec<&Expr> = Vec::new();
        if call.method {
            let ExprKind::Call { func, .. } = &e.kind else { unreachable!("a method call") };
            let ExprKind::Attr(base, _) = &func.kind else { unreachable!("a method call") };
            exprs.push(base);
        }
        let offset = exprs.len();
        exprs.extend(args.iter().enumerate().filter(|(i, _)| !call.consts.iter().any(|(p, _)| *p == i + offset)).map(|(_, a)| a));
        let mut vals: Vec<Value> = Vec::new();
        for a in exprs {
            let v = self.expr(a)?;
            vals.extend(v);
        }
        self.np_call_values(call, vals, e.span, line)
    }

    /// A call into NumPy with its positional arguments' flattened values (see `np_call`).
    pub fn np_call_values(&mut self, call: &crate::types::infer::NpCall, vals: Vec<Value>, span: Span, line: u32) -> CResult<CVal> {
        self.long_running = true;
        self.py_callbacks = true;
        let n = vals.len().max(1);
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
        for (i, v) in vals.iter().enumerate() {
            let w = super::widen_to_slot(&mut self.b, *v);
            self.b.ins().stack_store(types::I64, w, ss, (8 * i) as i32);
        }
        let reprs = repr(&call.ret);
        let rs = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * reprs.len().max(1)) as u32, 3));
        let site = Box::new(crate::abi::NpCallSite {
            path: call.path.clone(),
            method: call.method,
            args: call.args.clone(),
            consts: call.consts.clone(),
            kwargs: call.kwargs.clone(),
            ret: call.ret.clone(),
            span,
            caller: std::sync::OnceLock::new(),
            callee: std::sync::OnceLock::new(),
        });
        let site_ptr = self.iconst(&*site as *const crate::abi::NpCallSite as i64);
        self.np_sites.push(site);
        let info = self.iconst(self.info as *const FuncInfo as i64);
        let i64t = types::I64;
        let (sp, rp) = (self.b.ins().stack_addr(i64t, ss, 0), self.b.ins().stack_addr(i64t, rs, 0));
        let env = self.env;
        let status = self.call_helper("heron_np_call", &[i64t, i64t, i64t, i64t, i64t], &[i64t], &[env, info, site_ptr, sp, rp])?[0];
        let other = self.b.ins().icmp_imm_s(IntCC::Equal, status, 2);
        self.fail_if(other, ErrCode::Deopt, line, &[]);
        self.fail_if_env_error(line);
        let mut out = Vec::new();
        for (k, t) in reprs.iter().enumerate() {
            let raw = self.b.ins().stack_load(i64t, i64t, rs, (8 * k) as i32);
            out.push(self.from_slot(raw, *t));
        }
        if call.effect {
            self.mark_effect();
            self.writes_visible = true;
            self.note_made_call(span, &out, &call.ret);
        }
        Ok(out)
    }

    /// `numpy.<d>(x)` for the scalars `infer_expr::np_scalar_from` allows: a Python int is
    /// range-checked (NumPy's OverflowError), a float64 that overflows a float32 reports
    /// "overflow encountered in cast", a bool is the value's truth.
    fn np_scalar(&mut self, d: DType, v: CVal, t: &Type, line: u32) -> CResult<CVal> {
        if d == DType::Bool {
            return Ok(vec![self.truth_of(&v, t)?]);
        }
        if d.is_float() {
            let c = self.cast_scalar(v[0], t, d);
            if d == DType::F32 && *t == Type::Np(DType::F64) {
                let (cold, ok) = self.fp_test(c);
                self.switch_to(cold);
                let x = self.b.ins().fsub(v[0], v[0]);
                let finite = self.b.ins().fcmp(cranelift_codegen::ir::condcodes::FloatCC::Ordered, x, x);
                self.np_warn_if(finite, NpWarn::Cast, line);
                self.b.ins().jump(ok, &[]);
                self.switch_to(ok);
            }
            return Ok(vec![c]);
        }
        let x = self.to_i64(v, t);
        if *t == Type::Int && d != DType::I64 {
            self.check_python_int_fits(x, d, line);
        }
        Ok(vec![x])
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
        if t == Type::Complex {
            let v = self.expr(a)?;
            let slot = slots.len();
            for x in v {
                let raw = super::widen_to_slot(&mut self.b, x);
                slots.push(raw);
            }
            return Ok(PItem::Val { members: vec![Type::Complex], unified: Type::Complex, slot, tag_slot: None });
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

/// The services the builtins' lowerings use (see `builtins::Lower`): codegen's own operations.
impl<'a, 'm> Lower<'a> for FunctionCx<'a, 'm> {
    fn builder(&mut self) -> &mut cranelift_frontend::FunctionBuilder<'a> {
        &mut self.b
    }
    fn ins(&mut self) -> cranelift_frontend::FuncInstBuilder<'_, 'a> {
        self.b.ins()
    }
    fn expr(&mut self, e: &Expr) -> CResult<CVal> {
        FunctionCx::expr(self, e)
    }
    fn ty(&self, e: &Expr) -> Type {
        self.typed.ty(e).clone()
    }
    fn env(&self) -> Value {
        self.env
    }
    fn iconst(&mut self, v: i64) -> Value {
        FunctionCx::iconst(self, v)
    }
    fn call_helper(&mut self, name: &str, params: &[cranelift_codegen::ir::Type], rets: &[cranelift_codegen::ir::Type], args: &[Value]) -> CResult<Vec<Value>> {
        FunctionCx::call_helper(self, name, params, rets, args)
    }
    fn fail_if(&mut self, fail: Value, code: ErrCode, line: u32, details: &[Value]) {
        FunctionCx::fail_if(self, fail, code, line, details)
    }
    fn fail_if_env_error(&mut self, line: u32) {
        FunctionCx::fail_if_env_error(self, line)
    }
    fn branch_cold(&mut self, bad: Value) -> (cranelift_codegen::ir::Block, cranelift_codegen::ir::Block) {
        FunctionCx::branch_cold(self, bad)
    }
    fn switch_to(&mut self, blk: cranelift_codegen::ir::Block) {
        FunctionCx::switch_to(self, blk)
    }
    fn fp_test(&mut self, r: Value) -> (cranelift_codegen::ir::Block, cranelift_codegen::ir::Block) {
        FunctionCx::fp_test(self, r)
    }
    fn to_i64(&mut self, v: CVal, t: &Type) -> Value {
        FunctionCx::to_i64(self, v, t)
    }
    fn cast_scalar(&mut self, v: Value, from: &Type, d: DType) -> Value {
        FunctionCx::cast_scalar(self, v, from, d)
    }
    fn float_to_int(&mut self, x: Value, line: u32) -> Value {
        FunctionCx::float_to_int(self, x, line)
    }
    fn truth_of(&mut self, v: &[Value], t: &Type) -> CResult<Value> {
        FunctionCx::truth_of(self, v, t)
    }
    fn compare(&mut self, op: CmpOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, line: u32) -> CResult<Value> {
        FunctionCx::compare(self, op, va, ta, vb, tb, line)
    }
    fn binop(&mut self, op: BinOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, rt: &Type, line: u32) -> CResult<CVal> {
        FunctionCx::binop(self, op, va, ta, vb, tb, rt, line)
    }
    fn out_of_range(&mut self, r: Value, d: DType) -> Value {
        FunctionCx::out_of_range(self, r, d)
    }
    fn wrap_to(&mut self, r: Value, d: DType) -> Value {
        FunctionCx::wrap_to(self, r, d)
    }
    fn np_warn_if(&mut self, bad: Value, what: NpWarn, line: u32) {
        FunctionCx::np_warn_if(self, bad, what, line)
    }
    fn local_alloc(&self, e: &Expr) -> bool {
        self.facts.local_allocs.contains(&e.id)
    }
    fn note_py_callback(&mut self) {
        self.py_callbacks = true;
    }
    fn made_call(&mut self, e: &Expr, vals: &[Value]) {
        self.mark_effect();
        let t = self.typed.ty(e).clone();
        self.note_made_call(e.span, &vals.to_vec(), &t);
    }
}
