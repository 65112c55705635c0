//! Python `complex` arithmetic and comparisons (issue 12), as CPython 3.10-3.13 computes them
//! (Objects/complexobject.c): an int, float or bool operand is first made a complex with a
//! zero imaginary part (`to_complex`), so `z * 2.0` multiplies by `2+0j` (signed zeros and
//! infinities follow from that); `+ - *` are emitted inline, `/` and `**` call CPython's
//! algorithms (`builtins::complex`), which report division by zero and overflow.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};

use super::{CVal, FunctionCx};
use crate::abi::ErrCode;
use crate::ir::{BinOp, CResult, CmpOp, CompileError};
use crate::types::{DType, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// A Python number as a complex's (real, imaginary) parts.
    fn complex_parts(&mut self, v: CVal, t: &Type) -> (Value, Value) {
        if *t == Type::Complex {
            return (v[0], v[1]);
        }
        let re = self.cast_scalar(v[0], t, DType::F64);
        (re, self.b.ins().f64const(0.0))
    }

    /// `a op b` with a complex result.
    pub fn complex_binop(&mut self, op: BinOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, line: u32) -> CResult<CVal> {
        let (ar, ai) = self.complex_parts(va, ta);
        let (br, bi) = self.complex_parts(vb, tb);
        Ok(match op {
            BinOp::Add => vec![self.b.ins().fadd(ar, br), self.b.ins().fadd(ai, bi)],
            BinOp::Sub => vec![self.b.ins().fsub(ar, br), self.b.ins().fsub(ai, bi)],
            BinOp::Mul => {
                // `_Py_c_prod`: no fused multiply-add.
                let rr = self.b.ins().fmul(ar, br);
                let ii = self.b.ins().fmul(ai, bi);
                let ri = self.b.ins().fmul(ar, bi);
                let ir = self.b.ins().fmul(ai, br);
                vec![self.b.ins().fsub(rr, ii), self.b.ins().fadd(ri, ir)]
            }
            BinOp::Div | BinOp::Pow => {
                let ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 3));
                let out = self.b.ins().stack_addr(types::I64, ss, 0);
                let (sym, f) = if op == BinOp::Div { ("heron_c_quot", types::F64) } else { ("heron_c_pow", types::F64) };
                let st = self.call_helper(sym, &[f, f, f, f, types::I64], &[types::I64], &[ar, ai, br, bi, out])?[0];
                if op == BinOp::Div {
                    let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, st, 0);
                    self.fail_if(bad, ErrCode::ComplexDivZero, line, &[]);
                } else {
                    let zero = self.b.ins().icmp_imm_s(IntCC::Equal, st, 1);
                    self.fail_if(zero, ErrCode::ComplexPowZero, line, &[]);
                    let over = self.b.ins().icmp_imm_s(IntCC::Equal, st, 2);
                    self.fail_if(over, ErrCode::ComplexPowOverflow, line, &[]);
                }
                let re = self.b.ins().stack_load(types::I64, types::F64, ss, 0);
                let im = self.b.ins().stack_load(types::I64, types::F64, ss, 8);
                vec![re, im]
            }
            _ => return Err(CompileError::new(format!("the operator {op:?} on a complex"), line)),
        })
    }

    /// `a == b` / `a != b` with a complex operand (`complex_richcompare`): parts equal; an int
    /// compares exactly with the real part when the imaginary part is zero.
    pub fn complex_compare(&mut self, op: CmpOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, line: u32) -> CResult<Value> {
        let (z, zt, w, wt) = if *ta == Type::Complex { (va, ta, vb, tb) } else { (vb, tb, va, ta) };
        let _ = zt;
        let equal = match wt {
            Type::Complex | Type::Float => {
                let (wr, wi) = self.complex_parts(w, wt);
                let a = self.b.ins().fcmp(FloatCC::Equal, z[0], wr);
                let b = self.b.ins().fcmp(FloatCC::Equal, z[1], wi);
                self.b.ins().band(a, b)
            }
            Type::Int | Type::Bool => {
                let i = self.to_i64(w, wt);
                let r = self.call_helper("heron_cmp_int_float", &[types::I64, types::F64], &[types::I64], &[i, z[0]])?[0];
                let same = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
                let zero = self.b.ins().f64const(0.0);
                let real = self.b.ins().fcmp(FloatCC::Equal, z[1], zero);
                self.b.ins().band(same, real)
            }
            _ => return Err(CompileError::new(format!("comparing a complex with a {wt}"), line)),
        };
        Ok(match op {
            CmpOp::Eq => equal,
            CmpOp::NotEq => self.b.ins().bxor_imm_u(equal, 1),
            _ => return Err(CompileError::new("ordering complex numbers (a TypeError)", line)),
        })
    }
}
