//! NumPy ufuncs in native code: `numpy.exp(x)`, operators with an array operand (`a * 2 + b`),
//! in-place operators on arrays (`a += b`) and copies into array views (`a[1:-1] = b`), all
//! through `runtime::ufunc::heron_ufunc`, which runs the inner loop NumPy itself would run
//! (chosen at compile time, `types::ufunc::UfuncLoop`), so results are NumPy's to the bit.
//!
//! Each operand is described in a stack buffer (`abi::UFUNC_OPERAND_SLOTS` i64s: dtype, ndim,
//! data pointer, extents, strides); a scalar is a 0-d operand whose data is a stack slot holding
//! it already converted to the loop's dtype, as NumPy converts a weak Python scalar (a Python
//! int out of the dtype's range raises OverflowError; a Python float that overflows float32
//! reports "overflow encountered in cast").

use std::sync::Arc;

use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_module::Module;

use super::{CVal, FunctionCx};
use crate::abi::{UfuncSite, UFUNC_OPERAND_SLOTS};
use crate::ir::*;
use crate::types::ufunc::UfuncLoop;
use crate::types::{ArrayType, DType, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// A ufunc call or operator `e` over `operands`: a new array, or a NumPy scalar when no
    /// operand is an array.
    pub fn ufunc_expr(&mut self, e: &Expr, lp: &Arc<UfuncLoop>, operands: &[&Expr]) -> CResult<CVal> {
        let line = e.span.line;
        let mut ins = Vec::new();
        for o in operands {
            let v = self.expr(o)?;
            ins.push((v, self.typed.ty(o).clone()));
        }
        let rt = self.typed.ty(e).clone();
        self.ufunc_run(Some(lp.clone()), ins, None, &rt, line)
    }

    /// Run a ufunc (`lp`; `None`: a copy of the one input) on `ins`, into `out` (a target array
    /// view and its type) or into a new result of type `rt`.
    pub fn ufunc_run(&mut self, lp: Option<Arc<UfuncLoop>>, ins: Vec<(CVal, Type)>, out: Option<(CVal, ArrayType)>, rt: &Type, line: u32) -> CResult<CVal> {
        let nin = ins.len();
        let loop_in = |k: usize, t: &Type| -> DType {
            match &lp {
                Some(l) => l.ins[k],
                // A copy: scalars convert to the target's dtype; arrays are cast by the runtime.
                None => match t {
                    Type::Array(a) => a.dtype,
                    _ => out.as_ref().map(|(_, at)| at.dtype).unwrap_or(DType::F64),
                },
            }
        };
        let ops = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * UFUNC_OPERAND_SLOTS * (nin + 1)) as u32, 3));
        let put = |cx: &mut Self, k: usize, slot: usize, v: Value| {
            cx.b.ins().stack_store(types::I64, v, ops, (8 * (k * UFUNC_OPERAND_SLOTS + slot)) as i32);
        };
        for (k, (v, t)) in ins.iter().enumerate() {
            match t {
                Type::Array(at) => {
                    let nd = at.ndim as usize;
                    let (d, n) = (self.iconst(at.dtype as i64), self.iconst(nd as i64));
                    put(self, k, 0, d);
                    put(self, k, 1, n);
                    put(self, k, 2, v[0]);
                    for j in 0..nd {
                        put(self, k, 3 + j, v[1 + j]);
                        put(self, k, 7 + j, v[1 + nd + j]);
                    }
                }
                _ => {
                    let d = loop_in(k, t);
                    let comparison = lp.as_ref().map(|l| matches!(l.name.as_str(), "less" | "less_equal" | "greater" | "greater_equal" | "equal" | "not_equal")).unwrap_or(false);
                    if comparison && *t == Type::Int && d.is_int() && d != DType::I64 {
                        // NumPy compares a Python int outside the dtype's range by value (no
                        // OverflowError, NEP 50): left to the interpreter.
                        let x = v[0];
                        let (lo, hi) = d.int_range();
                        let below = self.b.ins().icmp_imm_s(cranelift_codegen::ir::condcodes::IntCC::SignedLessThan, x, lo as i64);
                        let above = self.b.ins().icmp_imm_s(cranelift_codegen::ir::condcodes::IntCC::SignedGreaterThan, x, hi.min(i64::MAX as i128) as i64);
                        let bad = self.b.ins().bor(below, above);
                        self.fail_if(bad, crate::abi::ErrCode::Deopt, line, &[]);
                    }
                    let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
                    let p = self.b.ins().stack_addr(types::I64, slot, 0);
                    self.store_element(p, d, v.clone(), t, line, true)?;
                    let (dv, zero) = (self.iconst(d as i64), self.iconst(0));
                    put(self, k, 0, dv);
                    put(self, k, 1, zero);
                    put(self, k, 2, p);
                }
            }
        }
        // The output operand, and where a new result's representation comes back.
        let scalar_out = out.is_none() && !matches!(rt, Type::Array(_));
        if scalar_out {
            if let Some(lp) = &lp {
                return self.ufunc_scalar(lp, ops, nin, line);
            }
        }
        let out_nd = match (&out, rt) {
            (Some((_, at)), _) => at.ndim as usize,
            (None, Type::Array(at)) => at.ndim as usize,
            _ => 0,
        };
        let ret = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * (1 + 2 * out_nd)).max(8) as u32, 3));
        let ret_ptr = self.b.ins().stack_addr(types::I64, ret, 0);
        match &out {
            Some((v, at)) => {
                let (d, n) = (self.iconst(at.dtype as i64), self.iconst(out_nd as i64));
                put(self, nin, 0, d);
                put(self, nin, 1, n);
                put(self, nin, 2, v[0]);
                for j in 0..out_nd {
                    put(self, nin, 3 + j, v[1 + j]);
                    put(self, nin, 7 + j, v[1 + out_nd + j]);
                }
                self.mark_effect();
                self.writes_visible = true;
            }
            None if scalar_out => {
                let d = lp.as_ref().expect("a ufunc").outs[0];
                let (dv, zero) = (self.iconst(d as i64), self.iconst(0));
                put(self, nin, 0, dv);
                put(self, nin, 1, zero);
                put(self, nin, 2, ret_ptr);
            }
            None => {
                // A new array, made by NumPy (with the GIL).
                self.py_callbacks = true;
                let minus = self.iconst(-1);
                let d = self.iconst(lp.as_ref().expect("a ufunc").outs[0] as i64);
                put(self, nin, 0, d);
                put(self, nin, 1, minus);
            }
        }
        let deferred = !self.fp_checks_inline();
        if deferred {
            self.fp_deferred = true;
        }
        let site = Box::new(UfuncSite { lp: lp.clone(), nin, line, deferred });
        let site_ptr = self.iconst(&*site as *const UfuncSite as i64);
        self.ufunc_sites.push(site);
        let info = self.iconst(self.info as *const crate::abi::FuncInfo as i64);
        let ops_ptr = self.b.ins().stack_addr(types::I64, ops, 0);
        let env = self.env;
        let i = types::I64;
        self.stmt_reports = true;
        self.call_helper("heron_ufunc", &[i, i, i, i, i], &[i], &[env, info, site_ptr, ops_ptr, ret_ptr])?;
        self.fail_if_env_error(line);
        if scalar_out {
            let d = lp.as_ref().expect("a ufunc").outs[0];
            return Ok(self.load_element(ret_ptr, d));
        }
        if out.is_some() {
            return Ok(vec![]);
        }
        Ok((0..1 + 2 * out_nd).map(|j| self.b.ins().stack_load(types::I64, types::I64, ret, (8 * j) as i32)).collect())
    }

    /// A ufunc on scalars (the inputs already stored, converted, in the operand buffer `ops`):
    /// NumPy's loop called directly with a length of one. Where NumPy's floating-point reports
    /// are deferred, that is all (the dispatcher reads the processor's flags after the call);
    /// otherwise a float result that is not finite (the only kind a loop reports from finite
    /// or infinite inputs alike) runs the loop again in `heron_ufunc_scalar`, which reads the
    /// flags it raises and reports them as NumPy does. A loop with an integer or bool result
    /// always runs there (integer loops raise divide-by-zero with a 0 result).
    fn ufunc_scalar(&mut self, lp: &Arc<UfuncLoop>, ops: cranelift_codegen::ir::StackSlot, nin: usize, line: u32) -> CResult<CVal> {
        let i64t = types::I64;
        let d = lp.outs[0];
        let out_ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        let args = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * (nin + 1)) as u32, 3));
        for k in 0..nin {
            let p = self.b.ins().stack_load(i64t, i64t, ops, (8 * (k * UFUNC_OPERAND_SLOTS + 2)) as i32);
            self.b.ins().stack_store(i64t, p, args, (8 * k) as i32);
        }
        let out_ptr = self.b.ins().stack_addr(i64t, out_ss, 0);
        self.b.ins().stack_store(i64t, out_ptr, args, (8 * nin) as i32);
        let args_ptr = self.b.ins().stack_addr(i64t, args, 0);
        let deferred = !self.fp_checks_inline();
        let site = Box::new(UfuncSite { lp: Some(lp.clone()), nin, line, deferred });
        let site_ptr = self.iconst(&*site as *const UfuncSite as i64);
        self.ufunc_sites.push(site);
        let checked_call = |cx: &mut Self| -> CResult<()> {
            let info = cx.iconst(cx.info as *const crate::abi::FuncInfo as i64);
            let env = cx.env;
            cx.stmt_reports = true;
            cx.call_helper("heron_ufunc_scalar", &[i64t, i64t, i64t, i64t], &[i64t], &[env, info, site_ptr, args_ptr])?;
            cx.fail_if_env_error(line);
            Ok(())
        };
        if deferred || !d.is_float() {
            // Through the helper: it keeps the flags of earlier deferred operations (some of
            // NumPy's loops clear the status), and takes an exception an integer loop raised.
            if deferred {
                self.fp_deferred = true;
            }
            checked_call(self)?;
            return Ok(self.load_element(out_ptr, d));
        }
        // NumPy's loop, called directly: loop(args, dimensions = [1], steps = [0...], data).
        let dims = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8 * (nin as u32 + 2), 3));
        let one = self.iconst(1);
        self.b.ins().stack_store(i64t, one, dims, 0);
        let zero = self.iconst(0);
        for k in 0..=nin {
            self.b.ins().stack_store(i64t, zero, dims, (8 * (k + 1)) as i32);
        }
        let dims_ptr = self.b.ins().stack_addr(i64t, dims, 0);
        let steps_ptr = self.b.ins().stack_addr(i64t, dims, 8);
        let mut sig = self.module.make_signature();
        for _ in 0..4 {
            sig.params.push(cranelift_codegen::ir::AbiParam::new(i64t));
        }
        let sigref = self.b.import_signature(sig);
        let func = self.iconst(lp.func as i64);
        let data = self.iconst(lp.data as i64);
        self.b.ins().call_indirect(sigref, func, &[args_ptr, dims_ptr, steps_ptr, data]);
        let r = self.load_element(out_ptr, d);
        if deferred {
            self.fp_deferred = true;
            return Ok(r);
        }
        let (cold, ok) = self.fp_test(r[0]);
        self.switch_to(cold);
        checked_call(self)?;
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
        Ok(r)
    }
}
