//! Arithmetic with Python's rules (checked ints, floor division and modulo, true division,
//! `float ** int` through `pow`) and NumPy's for NumPy scalars; comparisons; conversions.
//! NumPy's float error checks are in `fp.rs`, the `x ** n` fast path in `pow.rs`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::{CVal, FunctionCx};
use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::abi::{self, ErrCode, FuncInfo, NpWarn};
use crate::types::{arith_result, DType, Type};

fn unsupported<T>(what: String, line: u32) -> CResult<T> {
    Err(CompileError::new(what, line))
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// An integer-like scalar as i64 (bools zero-extended).
    pub fn to_i64(&mut self, v: CVal, t: &Type) -> Value {
        let x = v[0];
        match t {
            Type::Bool | Type::Np(DType::Bool) => self.b.ins().uextend(types::I64, x),
            _ => x,
        }
    }

    /// The value of an `iconst`, if `v` is one.
    pub fn const_int(&self, v: Value) -> Option<i64> {
        let inst = self.b.func.dfg.value_def(v).inst()?;
        match self.b.func.dfg.insts[inst] {
            cranelift_codegen::ir::InstructionData::UnaryImm { opcode: cranelift_codegen::ir::Opcode::Iconst, imm } => Some(imm.bits()),
            _ => None,
        }
    }

    /// The value of an `f64const`, if `v` is one.
    pub fn const_f64(&self, v: Value) -> Option<f64> {
        let inst = self.b.func.dfg.value_def(v).inst()?;
        match self.b.func.dfg.insts[inst] {
            cranelift_codegen::ir::InstructionData::UnaryIeee64 { opcode: cranelift_codegen::ir::Opcode::F64const, imm } => Some(f64::from_bits(imm.bits())),
            _ => None,
        }
    }

    /// `a / b` in f64. Division by a constant power of two whose reciprocal is a normal number
    /// is a multiplication by that reciprocal: both scale `a` exactly and round once, so the
    /// result is the same bit for bit (IEEE 754), infinities and NaNs included.
    fn fdiv(&mut self, a: Value, b: Value) -> Value {
        if let Some(c) = self.const_f64(b) {
            let r = 1.0 / c;
            if c.is_normal() && c.to_bits() & ((1u64 << 52) - 1) == 0 && r.is_normal() {
                let k = self.b.ins().f64const(r);
                return self.b.ins().fmul(a, k);
            }
        }
        self.b.ins().fdiv(a, b)
    }

    /// Convert a scalar to the machine type NumPy/Python would compute `d` in.
    pub fn cast_scalar(&mut self, v: Value, from: &Type, d: DType) -> Value {
        let fd = from.scalar_dtype().expect("scalar");
        let v = if fd == DType::Bool { self.b.ins().uextend(types::I64, v) } else { v };
        let fd = if fd == DType::Bool { DType::I64 } else { fd };
        // A constant int converts at compile time (exactly as the instruction would round it).
        if !fd.is_float() && d.is_float() && fd != DType::U64 {
            if let Some(k) = self.const_int(v) {
                return if d == DType::F64 { self.b.ins().f64const(k as f64) } else { self.b.ins().f32const(k as f32) };
            }
        }
        match (fd.is_float(), d) {
            (false, DType::F64) => {
                if fd == DType::U64 {
                    self.b.ins().fcvt_from_uint(types::F64, v)
                } else {
                    self.b.ins().fcvt_from_sint(types::F64, v)
                }
            }
            (false, DType::F32) => self.b.ins().fcvt_from_sint(types::F32, v),
            (false, _) => v,
            (true, DType::F64) => {
                if fd == DType::F32 {
                    self.b.ins().fpromote(types::F64, v)
                } else {
                    v
                }
            }
            (true, DType::F32) => {
                if fd == DType::F64 {
                    self.b.ins().fdemote(types::F32, v)
                } else {
                    v
                }
            }
            (true, _) => v, // float to int never happens implicitly
        }
    }

    /// Convert a value of `from` into the representation of `to` for a variable that holds
    /// several types; deoptimizes when an int would not be exact as a float.
    pub fn merge_convert(&mut self, v: CVal, from: &Type, to: &Type, _line: u32) -> CResult<CVal> {
        if from == to || !from.is_scalar() || !to.is_scalar() {
            return Ok(v);
        }
        let td = to.scalar_dtype().unwrap();
        let fd = from.scalar_dtype().unwrap();
        let out = self.cast_scalar(v[0], from, td);
        let small_const = self.const_int(v[0]).is_some_and(|k| k.unsigned_abs() <= 1 << 53);
        if td.is_float() && !fd.is_float() && matches!(fd, DType::I64 | DType::U64 | DType::I32 | DType::U32) && !small_const {
            // An int merged into a float variable must be exact, or later operations would
            // differ from Python's exact int arithmetic (a constant within 2**53 is).
            let back = if td == DType::F32 {
                self.b.ins().fcvt_to_sint_sat(types::I64, out)
            } else {
                self.b.ins().fcvt_to_sint_sat(types::I64, out)
            };
            let orig = self.to_i64(v, from);
            let bad = self.b.ins().icmp(IntCC::NotEqual, back, orig);
            self.fail_if(bad, ErrCode::Deopt, _line, &[]);
        }
        Ok(vec![out])
    }

    /// Exit if `env.err_code` was set by a helper (the helper already chose the code); the
    /// codes that deoptimize hand the call to the interpreter.
    pub fn fail_if_env_error(&mut self, line: u32) {
        let flags = MemFlagsData::trusted();
        let code = self.b.ins().load(types::I64, flags, self.env, abi::ENV_ERR_CODE);
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, code, 0);
        let (fail_blk, ok_blk) = self.branch_cold(bad);
        self.switch_to(fail_blk);
        let deopt = self.b.ins().icmp_imm_s(IntCC::Equal, code, ErrCode::Deopt as i64);
        let complex = self.b.ins().icmp_imm_s(IntCC::Equal, code, ErrCode::ComplexResult as i64);
        let either = self.b.ins().bor(deopt, complex);
        let (deopt_blk, err_blk) = self.branch_cold(either);
        self.switch_to(deopt_blk);
        let zero = self.iconst(0);
        self.b.ins().store(flags, zero, self.env, abi::ENV_ERR_CODE);
        self.deopt_exit(ErrCode::Deopt, line, None);
        self.switch_to(err_blk);
        self.leave_with_error(line);
        self.switch_to(ok_blk);
    }

    /// Exit if `env.err_code` was set by a helper that only raises (never deoptimizes:
    /// `heron_check_signals`, a signal handler's exception): no deoptimization point.
    pub fn fail_if_env_raised(&mut self, line: u32) {
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.env, abi::ENV_ERR_CODE);
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, code, 0);
        let (fail_blk, ok_blk) = self.branch_cold(bad);
        self.switch_to(fail_blk);
        self.leave_with_error(line);
        self.switch_to(ok_blk);
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

    /// `a op b` with result type `rt` (from `types::rules::binop_type`).
    #[allow(clippy::too_many_arguments)]
    pub fn binop(&mut self, op: BinOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, rt: &Type, line: u32) -> CResult<CVal> {
        match rt {
            Type::Complex => self.complex_binop(op, va, ta, vb, tb, line),
            Type::Bool => {
                // bool & bool, bool | bool, bool ^ bool
                let (a, b) = (va[0], vb[0]);
                let r = match op {
                    BinOp::BitAnd => self.b.ins().band(a, b),
                    BinOp::BitOr => self.b.ins().bor(a, b),
                    BinOp::BitXor => self.b.ins().bxor(a, b),
                    _ => return unsupported(format!("bool operator {op:?}"), line),
                };
                Ok(vec![r])
            }
            Type::Int => {
                let a = self.to_i64(va, ta);
                let b = self.to_i64(vb, tb);
                Ok(vec![self.int_binop(op, a, b, line)?])
            }
            Type::Float => {
                let a = self.cast_scalar(va[0], ta, DType::F64);
                let b = self.cast_scalar(vb[0], tb, DType::F64);
                let (a, b) = (self.replay_opaque(a)?, self.replay_opaque(b)?);
                let both_int = ta.is_intlike() && tb.is_intlike();
                if op == BinOp::Div && both_int {
                    // int / int: Python's true division is correctly rounded; so is an IEEE
                    // division of exactly converted operands, which needs |a|, |b| <= 2**53.
                    let ia = self.to_i64(va.clone(), ta);
                    let ib = self.to_i64(vb.clone(), tb);
                    let zero = self.b.ins().icmp_imm_s(IntCC::Equal, ib, 0);
                    self.fail_if(zero, ErrCode::IntTrueDivZero, line, &[]);
                    let lim = 1i64 << 53;
                    let aa = self.b.ins().iabs(ia);
                    let ab = self.b.ins().iabs(ib);
                    let ba = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, aa, lim);
                    let bb = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, ab, lim);
                    let big = self.b.ins().bor(ba, bb);
                    self.fail_if(big, ErrCode::Deopt, line, &[]);
                    return Ok(vec![self.b.ins().fdiv(a, b)]);
                }
                Ok(vec![self.py_float_binop(op, a, b, line)?])
            }
            Type::Np(_) if self.promotes_both(ta, tb) && !self.np_via_ufunc => {
                // NumPy's scalar math defers to the ufunc when the operation promotes both
                // operands (numpy.bool - int, numpy.int32 * float): emit it as before, with the
                // ufunc's reports.
                self.np_via_ufunc = true;
                let r = self.binop(op, va, ta, vb, tb, rt, line);
                self.np_via_ufunc = false;
                r
            }
            Type::Np(d) if d.is_float() => {
                let a = self.weak_float_cast(va[0], ta, *d, line);
                let b = self.weak_float_cast(vb[0], tb, *d, line);
                let (a, b) = (self.replay_opaque(a)?, self.replay_opaque(b)?);
                // A float64 power reaches libm only through a float64 scalar's own method; any
                // other mix goes through the np.power ufunc loop (see runtime::ufunc).
                let ufunc = *d == DType::F64 && *ta != Type::Np(DType::F64) && *tb != Type::Np(DType::F64);
                if op == BinOp::Pow && ufunc {
                    (self.links.prepare)("heron_np_power_f64").map_err(|e| CompileError::new(format!("NumPy's power loop is unavailable: {e}"), line))?;
                    let f = types::F64;
                    let r = self.call_helper("heron_np_power_f64", &[f, f], &[f], &[a, b])?[0];
                    self.np_fp_check(BinOp::Pow, a, b, r, line)?;
                    return Ok(vec![r]);
                }
                Ok(vec![self.np_float_binop(op, a, b, *d, line)?])
            }
            Type::Np(d) if d.is_int() => {
                let a = self.to_i64(va, ta);
                let b = self.to_i64(vb, tb);
                // NEP 50: a Python int operand must fit the NumPy type, or NumPy raises
                // OverflowError("Python integer N out of bounds for int32").
                for (v, t) in [(a, ta), (b, tb)] {
                    if *t == Type::Int && *d != DType::I64 {
                        self.check_python_int_fits(v, *d, line);
                    }
                }
                Ok(vec![self.np_int_binop(op, a, b, *d, line)?])
            }
            _ => unsupported(format!("the operator {op:?} giving a {rt}"), line),
        }
    }

    /// Python int arithmetic in i64: an overflow deoptimizes (the interpreter goes on with
    /// the exact big int), division by zero raises ZeroDivisionError.
    fn int_binop(&mut self, op: BinOp, a: Value, b: Value, line: u32) -> CResult<Value> {
        let r = match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                let (r, of) = match op {
                    BinOp::Add => self.b.ins().sadd_overflow(a, b),
                    BinOp::Sub => self.b.ins().ssub_overflow(a, b),
                    _ => self.b.ins().smul_overflow(a, b),
                };
                self.fail_if(of, ErrCode::Overflow, line, &[]);
                r
            }
            BinOp::FloorDiv | BinOp::Mod if matches!(self.const_int(b), Some(k) if k > 0 && k.count_ones() == 1) => {
                // A positive power-of-two divisor 2**s: floor division is an arithmetic shift
                // and the floored remainder the low s bits, for either sign of `a`.
                let k = self.const_int(b).unwrap();
                if op == BinOp::FloorDiv {
                    self.b.ins().sshr_imm_u(a, k.trailing_zeros() as i64)
                } else {
                    self.b.ins().band_imm_s(a, k - 1)
                }
            }
            BinOp::FloorDiv | BinOp::Mod => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
                let code = if op == BinOp::FloorDiv { ErrCode::IntFloorDivZero } else { ErrCode::IntModZero };
                self.fail_if(zero, code, line, &[]);
                self.floor_divmod(op, a, b, line)?
            }
            BinOp::Pow => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                // Python gives a float for a negative exponent; NumPy raises: let the
                // interpreter do either.
                self.fail_if(neg, ErrCode::Deopt, line, &[]);
                self.int_pow(a, b, line)?
            }
            BinOp::BitAnd => self.b.ins().band(a, b),
            BinOp::BitOr => self.b.ins().bor(a, b),
            BinOp::BitXor => self.b.ins().bxor(a, b),
            BinOp::LShift => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                self.fail_if(neg, ErrCode::NegativeShift, line, &[]);
                let big = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, b, 63);
                let nz = self.b.ins().icmp_imm_s(IntCC::NotEqual, a, 0);
                let lost_all = self.b.ins().band(big, nz);
                self.fail_if(lost_all, ErrCode::Overflow, line, &[]);
                let r = self.b.ins().ishl(a, b);
                let back = self.b.ins().sshr(r, b);
                let lost = self.b.ins().icmp(IntCC::NotEqual, back, a);
                let lost = self.b.ins().band_not(lost, big);
                self.fail_if(lost, ErrCode::Overflow, line, &[]);
                let z = self.iconst(0);
                self.b.ins().select(big, z, r)
            }
            BinOp::RShift => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                self.fail_if(neg, ErrCode::NegativeShift, line, &[]);
                let c63 = self.iconst(63);
                let big = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, b, 63);
                let n = self.b.ins().select(big, c63, b);
                self.b.ins().sshr(a, n)
            }
            BinOp::Div => return unsupported("integer true division".into(), line),
        };
        Ok(r)
    }

    /// NumPy integer scalar arithmetic (`numpy.int8` ... `numpy.int64`, `numpy.uint8` ...
    /// `numpy.uint32`): results wrap to the type's width, as NumPy's do, and an overflow, a
    /// division by zero (result 0) or `MIN // -1` is reported as NumPy reports it
    /// ("overflow encountered in scalar add", numpy/_core/src/umath/scalarmath.c.src) under
    /// `numpy.seterr`. Powers and bit operations wrap silently, as in NumPy. Operands are held
    /// in i64, sign- or zero-extended.
    fn np_int_binop(&mut self, op: BinOp, a: Value, b: Value, d: DType, line: u32) -> CResult<Value> {
        use NpWarn;
        let warn = |op: BinOp| match op {
            BinOp::Add => NpWarn::Add,
            BinOp::Sub => NpWarn::Subtract,
            _ => NpWarn::Multiply,
        };
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul if self.np_via_ufunc => {
                // NumPy's integer ufunc loops wrap silently.
                let r = match op {
                    BinOp::Add => self.b.ins().iadd(a, b),
                    BinOp::Sub => self.b.ins().isub(a, b),
                    _ => self.b.ins().imul(a, b),
                };
                Ok(self.wrap_to(r, d))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul if d == DType::I64 => {
                let (r, of) = match op {
                    BinOp::Add => self.b.ins().sadd_overflow(a, b),
                    BinOp::Sub => self.b.ins().ssub_overflow(a, b),
                    _ => self.b.ins().smul_overflow(a, b),
                };
                self.np_warn_if(of, warn(op), line);
                Ok(r)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                // Exact in i64 for operands of 32 bits or less (a uint32 product may wrap i64,
                // which the range test sees as well).
                let r = match op {
                    BinOp::Add => self.b.ins().iadd(a, b),
                    BinOp::Sub => self.b.ins().isub(a, b),
                    _ => self.b.ins().imul(a, b),
                };
                let of = self.out_of_range(r, d);
                self.np_warn_if(of, warn(op), line);
                Ok(self.wrap_to(r, d))
            }
            BinOp::FloorDiv | BinOp::Mod => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
                let what = if op == BinOp::FloorDiv { NpWarn::DivideFloorDivide } else { NpWarn::DivideRemainder };
                self.np_warn_if(zero, what, line);
                let one = self.iconst(1);
                let safe_b = self.b.ins().select(zero, one, b);
                let r = if op == BinOp::FloorDiv && d == DType::I64 {
                    // MIN // -1: NumPy reports an overflow and gives MIN.
                    let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, safe_b, -1);
                    let amin = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
                    let both = self.b.ins().band(m1, amin);
                    self.np_warn_if(both, NpWarn::OverflowFloorDivide, line);
                    let safe_b = self.b.ins().select(both, one, safe_b);
                    self.floor_divmod_unchecked(op, a, safe_b)
                } else {
                    let r = self.floor_divmod_unchecked(op, a, safe_b);
                    if op == BinOp::FloorDiv {
                        // MIN // -1 of a narrower type leaves its range.
                        let of = self.out_of_range(r, d);
                        self.np_warn_if(of, NpWarn::OverflowFloorDivide, line);
                    }
                    self.wrap_to(r, d)
                };
                let z = self.iconst(0);
                Ok(self.b.ins().select(zero, z, r))
            }
            BinOp::Pow => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                // NumPy raises ValueError for a negative exponent: the interpreter does.
                self.fail_if(neg, ErrCode::Deopt, line, &[]);
                let r = self.int_pow_wrapping(a, b);
                Ok(self.wrap_to(r, d))
            }
            BinOp::BitAnd => Ok(self.b.ins().band(a, b)),
            BinOp::BitOr => Ok(self.b.ins().bor(a, b)),
            BinOp::BitXor => Ok(self.b.ins().bxor(a, b)),
            BinOp::LShift | BinOp::RShift => {
                // NumPy's npy_lshift/npy_rshift: a shift by the width or more (a negative one
                // too, taken as unsigned) gives 0, or the sign for >> of a negative value.
                let w = d.itemsize() * 8;
                let fits = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, b, w);
                let zero = self.iconst(0);
                let sb = self.b.ins().select(fits, b, zero);
                let (r, other) = if op == BinOp::LShift {
                    let r = self.b.ins().ishl(a, sb);
                    (self.wrap_to(r, d), zero)
                } else if d.is_signed() {
                    (self.b.ins().sshr(a, sb), self.b.ins().sshr_imm_u(a, 63))
                } else {
                    (self.b.ins().ushr(a, sb), zero)
                };
                Ok(self.b.ins().select(fits, r, other))
            }
            _ => unsupported(format!("the operator {} on NumPy integers", crate::types::rules::op_symbol(op)), line),
        }
    }

    /// Is the i64 `r` outside the range of the integer dtype `d`?
    pub fn out_of_range(&mut self, r: Value, d: DType) -> Value {
        let (lo, hi) = d.int_range();
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, lo as i64);
        let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, r, hi.min(i64::MAX as i128) as i64);
        self.b.ins().bor(below, above)
    }

    /// `r` wrapped to the width of the integer dtype `d` (C's conversion, as NumPy's), held
    /// sign- or zero-extended in i64.
    pub fn wrap_to(&mut self, r: Value, d: DType) -> Value {
        let narrow = match d.itemsize() {
            1 => types::I8,
            2 => types::I16,
            4 => types::I32,
            _ => return r,
        };
        let n = self.b.ins().ireduce(narrow, r);
        if d.is_signed() {
            self.b.ins().sextend(types::I64, n)
        } else {
            self.b.ins().uextend(types::I64, n)
        }
    }

    /// Report NumPy warning `what` when `bad` holds, as NumPy's error state says (a
    /// RuntimeWarning by default, FloatingPointError under `numpy.seterr(...="raise")`). In a
    /// function whose NumPy reports are deferred, raise the processor's overflow flag instead:
    /// the dispatcher then re-runs the call in the interpreter, which reports it exactly.
    pub fn np_warn_if(&mut self, bad: Value, what: NpWarn, line: u32) {
        let (cold, ok) = self.branch_cold(bad);
        self.switch_to(cold);
        if self.fp_checks_inline() {
            // +32: named as the ufunc reports it (see `np_via_ufunc`).
            let code = what as i64 + if self.np_via_ufunc { 32 } else { 0 };
            let (env, info, l, w) = (self.env, self.iconst(self.info as *const FuncInfo as i64), self.iconst(line as i64), self.iconst(code));
            let i = types::I64;
            let _ = i;
            self.call_tramp("heron_np_warn", &[env, info, l, w]);
            self.fail_if_env_error(line);
        } else {
            self.fp_deferred = true;
            self.call_helper("heron_np_defer", &[], &[], &[]).expect("a runtime helper");
        }
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
    }

    /// Do the operands of a NumPy scalar operation promote to a type neither of them has
    /// (NEP 50: numpy.bool with a Python int is int64; numpy.int32 with a Python float is
    /// float64)? NumPy's scalar math then defers to the ufunc (numpy/_core/src/umath/
    /// scalarmath.c.src, `convert_to_<name>`: PROMOTION_REQUIRED). `int64 / int64` is
    /// scalar math, whose true division makes the float64.
    fn promotes_both(&self, ta: &Type, tb: &Type) -> bool {
        match arith_result(ta, tb) {
            Some(Type::Np(p)) => !(matches!(ta, Type::Np(x) if *x == p) || matches!(tb, Type::Np(x) if *x == p)),
            _ => false,
        }
    }

    /// A scalar of type `from` cast to the NumPy float type `d` of an operation (NEP 50: a
    /// Python float is "weak" and takes the NumPy type); a finite Python float beyond float32's
    /// range warns "overflow encountered in cast", as NumPy's conversion does.
    fn weak_float_cast(&mut self, v: Value, from: &Type, d: DType, line: u32) -> Value {
        let r = self.cast_scalar(v, from, d);
        if d == DType::F32 && *from == Type::Float {
            let inf32 = self.b.ins().f32const(f32::INFINITY);
            let ar = self.b.ins().fabs(r);
            let r_inf = self.b.ins().fcmp(FloatCC::Equal, ar, inf32);
            let inf64 = self.b.ins().f64const(f64::INFINITY);
            let av = self.b.ins().fabs(v);
            let v_fin = self.b.ins().fcmp(FloatCC::LessThan, av, inf64);
            let bad = self.b.ins().band(r_inf, v_fin);
            self.np_warn_if(bad, NpWarn::Cast, line);
        }
        r
    }

    /// Raise NumPy's OverflowError when a Python int does not fit the NumPy integer type `d`.
    pub fn check_python_int_fits(&mut self, x: Value, d: DType, line: u32) {
        let (lo, hi) = d.int_range();
        let hi = hi.min(i64::MAX as i128) as i64;
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, lo as i64);
        let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, hi);
        let bad = self.b.ins().bor(below, above);
        let dv = self.iconst(d as i64);
        self.fail_if(bad, ErrCode::IntStoreOutOfBounds, line, &[x, dv]);
    }

    /// Python's floor `//` or `%` for nonzero `b`. The divisor is used as is, so that a
    /// constant divisor stays visible to Cranelift's division-by-constant rewrite.
    fn floor_divmod(&mut self, op: BinOp, a: Value, b: Value, line: u32) -> CResult<Value> {
        if op == BinOp::FloorDiv {
            // i64::MIN // -1 overflows. (Cranelift's srem gives 0 for i64::MIN % -1.)
            let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
            let amin = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
            let both = self.b.ins().band(m1, amin);
            self.fail_if(both, ErrCode::Overflow, line, &[]);
        }
        Ok(self.floor_divmod_unchecked(op, a, b))
    }

    /// Floor `//` or `%` for nonzero `b`, and not `i64::MIN // -1`.
    fn floor_divmod_unchecked(&mut self, op: BinOp, a: Value, b: Value) -> Value {
        let rem = self.b.ins().srem(a, b);
        // Adjust toward negative infinity when the signs differ and the remainder is nonzero.
        let rem_nz = self.b.ins().icmp_imm_s(IntCC::NotEqual, rem, 0);
        let x = self.b.ins().bxor(rem, b);
        let diff_sign = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
        let adjust = self.b.ins().band(rem_nz, diff_sign);
        if op == BinOp::FloorDiv {
            let q = self.b.ins().sdiv(a, b);
            let q1 = self.b.ins().iadd_imm_s(q, -1);
            self.b.ins().select(adjust, q1, q)
        } else {
            let r1 = self.b.ins().iadd(rem, b);
            self.b.ins().select(adjust, r1, rem)
        }
    }

    /// `a ** b` for `b >= 0` in wrapping i64 arithmetic (NumPy's integer power: C
    /// multiplication by squaring, no overflow report).
    fn int_pow_wrapping(&mut self, a: Value, b: Value) -> Value {
        let result = self.b.declare_var(types::I64);
        let base = self.b.declare_var(types::I64);
        let exp = self.b.declare_var(types::I64);
        let one = self.iconst(1);
        self.b.def_var(result, one);
        self.b.def_var(base, a);
        self.b.def_var(exp, b);
        let header = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let e = self.b.use_var(exp);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e, 0);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.switch_to(body);
        let e = self.b.use_var(exp);
        let odd = self.b.ins().band_imm_s(e, 1);
        let odd = self.b.ins().icmp_imm_s(IntCC::NotEqual, odd, 0);
        let r = self.b.use_var(result);
        let bs = self.b.use_var(base);
        let rm = self.b.ins().imul(r, bs);
        let nr = self.b.ins().select(odd, rm, r);
        self.b.def_var(result, nr);
        let e2 = self.b.ins().sshr_imm_u(e, 1);
        self.b.def_var(exp, e2);
        let sq = self.b.ins().imul(bs, bs);
        self.b.def_var(base, sq);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);
        self.switch_to(exit);
        self.b.use_var(result)
    }

    /// `a ** b` for ints with `b >= 0`, by squaring, every product checked.
    fn int_pow(&mut self, a: Value, b: Value, line: u32) -> CResult<Value> {
        let result = self.b.declare_var(types::I64);
        let base = self.b.declare_var(types::I64);
        let exp = self.b.declare_var(types::I64);
        let one = self.iconst(1);
        self.b.def_var(result, one);
        self.b.def_var(base, a);
        self.b.def_var(exp, b);
        let header = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        // A loop header: sealed after its back edge.
        self.b.switch_to_block(header);
        let e = self.b.use_var(exp);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e, 0);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.switch_to(body);
        let e = self.b.use_var(exp);
        let odd = self.b.ins().band_imm_s(e, 1);
        let r = self.b.use_var(result);
        let bs = self.b.use_var(base);
        let (rm, of1) = self.b.ins().smul_overflow(r, bs);
        let odd_b = self.b.ins().icmp_imm_s(IntCC::NotEqual, odd, 0);
        let of1 = self.b.ins().band(of1, odd_b);
        self.fail_if(of1, ErrCode::Overflow, line, &[]);
        let r = self.b.use_var(result);
        let nr = self.b.ins().select(odd_b, rm, r);
        self.b.def_var(result, nr);
        let e = self.b.use_var(exp);
        let e2 = self.b.ins().sshr_imm_u(e, 1);
        self.b.def_var(exp, e2);
        // Square the base only if more bits remain (squaring past the top bit may overflow
        // although the result would not).
        let more = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e2, 0);
        let bs = self.b.use_var(base);
        let (sq, of2) = self.b.ins().smul_overflow(bs, bs);
        let of2 = self.b.ins().band(of2, more);
        self.fail_if(of2, ErrCode::Overflow, line, &[]);
        self.b.def_var(base, sq);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);
        self.switch_to(exit);
        Ok(self.b.use_var(result))
    }

    /// Python float arithmetic (CPython Objects/floatobject.c).
    pub(super) fn py_float_binop(&mut self, op: BinOp, a: Value, b: Value, line: u32) -> CResult<Value> {
        let f = types::F64;
        Ok(match op {
            BinOp::Add => self.b.ins().fadd(a, b),
            BinOp::Sub => self.b.ins().fsub(a, b),
            BinOp::Mul => self.b.ins().fmul(a, b),
            BinOp::Div | BinOp::FloorDiv | BinOp::Mod => {
                // A nonzero constant divisor needs no ZeroDivisionError check.
                if !matches!(self.const_f64(b), Some(c) if c != 0.0) {
                    let z = self.b.ins().f64const(0.0);
                    let zero = self.b.ins().fcmp(FloatCC::Equal, b, z);
                    let code = match op {
                        BinOp::Div => ErrCode::FloatDivZero,
                        BinOp::FloorDiv => ErrCode::FloatFloorDivZero,
                        _ => ErrCode::FloatModZero,
                    };
                    self.fail_if(zero, code, line, &[]);
                }
                match op {
                    BinOp::Div => self.fdiv(a, b),
                    BinOp::FloorDiv => self.call_helper("heron_float_floordiv", &[f, f], &[f], &[a, b])?[0],
                    _ => self.call_helper("heron_float_mod", &[f, f], &[f], &[a, b])?[0],
                }
            }
            BinOp::Pow => {
                let env = self.env;
                let r = self.call_helper("heron_float_pow", &[f, f, types::I64], &[f], &[a, b, env])?[0];
                self.fail_if_env_error(line);
                r
            }
            _ => return unsupported(format!("the operator {} on floats", crate::types::rules::op_symbol(op)), line),
        })
    }

    /// NumPy float arithmetic: IEEE results, no exceptions (NumPy warns instead).
    fn np_float_binop(&mut self, op: BinOp, a: Value, b: Value, d: DType, line: u32) -> CResult<Value> {
        let r = self.np_float_value(op, a, b, d, line)?;
        self.np_fp_check(op, a, b, r, line)?;
        Ok(r)
    }

    fn np_float_value(&mut self, op: BinOp, a: Value, b: Value, d: DType, line: u32) -> CResult<Value> {
        let f = types::F64;
        if d == DType::F32 && matches!(op, BinOp::FloorDiv | BinOp::Mod) {
            return unsupported("`//` and `%` on numpy.float32 are not supported yet".into(), line);
        }
        Ok(match op {
            BinOp::Add => self.b.ins().fadd(a, b),
            BinOp::Sub => self.b.ins().fsub(a, b),
            BinOp::Mul => self.b.ins().fmul(a, b),
            BinOp::Div if d == DType::F64 => self.fdiv(a, b),
            BinOp::Div => self.b.ins().fdiv(a, b),
            BinOp::FloorDiv => self.call_helper("heron_float_floordiv", &[f, f], &[f], &[a, b])?[0],
            BinOp::Mod => self.call_helper("heron_float_mod", &[f, f], &[f], &[a, b])?[0],
            BinOp::Pow => {
                if d == DType::F32 {
                    self.call_helper("powf", &[types::F32, types::F32], &[types::F32], &[a, b])?[0]
                } else {
                    self.call_helper("pow", &[f, f], &[f], &[a, b])?[0]
                }
            }
            _ => return unsupported(format!("the operator {} on numpy floats", crate::types::rules::op_symbol(op)), line),
        })
    }

    pub fn unary(&mut self, op: UnaryOp, va: CVal, ta: &Type, rt: &Type, line: u32) -> CResult<CVal> {
        match (op, rt) {
            (UnaryOp::Neg, Type::Complex) => Ok(vec![self.b.ins().fneg(va[0]), self.b.ins().fneg(va[1])]),
            (UnaryOp::Pos, _) => {
                if matches!(ta, Type::Bool) {
                    return Ok(vec![self.to_i64(va, ta)]);
                }
                Ok(va)
            }
            (UnaryOp::Neg, Type::Int) => {
                let a = self.to_i64(va, ta);
                let z = self.iconst(0);
                let (r, of) = self.b.ins().ssub_overflow(z, a);
                self.fail_if(of, ErrCode::Overflow, line, &[]);
                Ok(vec![r])
            }
            (UnaryOp::Neg, Type::Float) | (UnaryOp::Neg, Type::Np(DType::F64)) | (UnaryOp::Neg, Type::Np(DType::F32)) => {
                Ok(vec![self.b.ins().fneg(va[0])])
            }
            (UnaryOp::Neg, Type::Np(d)) => {
                // NumPy: -MIN is MIN, with "overflow encountered in scalar negative"; the
                // negation of an unsigned value wraps (NumPy reports it too, for nonzero values).
                let z = self.iconst(0);
                let (r, of) = self.b.ins().ssub_overflow(z, va[0]);
                let bad = if *d == DType::I64 { of } else { self.out_of_range(r, *d) };
                self.np_warn_if(bad, NpWarn::Negative, line);
                Ok(vec![self.wrap_to(r, *d)])
            }
            (UnaryOp::Invert, Type::Int) => {
                let a = self.to_i64(va, ta);
                Ok(vec![self.b.ins().bnot(a)])
            }
            _ => unsupported(format!("unary {op:?} on a {ta}"), line),
        }
    }

    /// `a < b < c ...`: each link evaluated once, short-circuiting on the first false one.
    pub fn compare_chain(&mut self, first: &Expr, rest: &[(CmpOp, Expr)], _t: &Type, line: u32) -> CResult<CVal> {
        let mut lhs = self.expr(first)?;
        let mut lt = self.typed.ty(first).clone();
        if rest.len() == 1 {
            let (op, rhs) = &rest[0];
            let rv = self.expr(rhs)?;
            let rt = self.typed.ty(rhs).clone();
            return Ok(vec![self.compare(*op, lhs, &lt, rv, &rt, line)?]);
        }
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I8);
        for (i, (op, rhs)) in rest.iter().enumerate() {
            self.cond_depth += (i > 0) as usize;
            let rv = self.expr(rhs);
            self.cond_depth -= (i > 0) as usize;
            let rv = rv?;
            let rt = self.typed.ty(rhs).clone();
            let c = self.compare(*op, lhs, &lt, rv.clone(), &rt, line)?;
            if i + 1 == rest.len() {
                self.b.ins().jump(join, &[cranelift_codegen::ir::BlockArg::Value(c)]);
            } else {
                let next = self.b.create_block();
                self.b.ins().brif(c, next, &[], join, &[cranelift_codegen::ir::BlockArg::Value(c)]);
                self.switch_to(next);
            }
            lhs = rv;
            lt = rt;
        }
        self.switch_to(join);
        Ok(vec![self.b.block_params(join)[0]])
    }

    /// One comparison, as an i8 0/1.
    pub fn compare(&mut self, op: CmpOp, va: CVal, ta: &Type, vb: CVal, tb: &Type, line: u32) -> CResult<Value> {
        if *ta == Type::None && *tb == Type::None {
            return Ok(self.b.ins().iconst(types::I8, matches!(op, CmpOp::Eq | CmpOp::LtE | CmpOp::GtE) as i64));
        }
        if *ta == Type::Complex || *tb == Type::Complex {
            return self.complex_compare(op, va, ta, vb, tb, line);
        }
        let np = matches!(ta, Type::Np(_)) || matches!(tb, Type::Np(_));
        if np {
            // NumPy compares in the promoted type (NEP 50).
            let Some(Type::Np(d)) = arith_result(ta, tb) else {
                return unsupported(format!("comparing a {ta} with a {tb}"), line);
            };
            if d.is_float() {
                let a = self.weak_float_cast(va[0], ta, d, line);
                let b = self.weak_float_cast(vb[0], tb, d, line);
                return Ok(self.fcmp(op, a, b));
            }
            let a = self.to_i64(va, ta);
            let b = self.to_i64(vb, tb);
            return Ok(self.icmp(op, a, b));
        }
        match (ta.is_floatlike(), tb.is_floatlike()) {
            (false, false) => {
                let a = self.to_i64(va, ta);
                let b = self.to_i64(vb, tb);
                Ok(self.icmp(op, a, b))
            }
            (true, true) => Ok(self.fcmp(op, va[0], vb[0])),
            (false, true) | (true, false) => {
                // Python compares an int with a float exactly (Objects/floatobject.c).
                let (i, f, op) = if tb.is_floatlike() {
                    (self.to_i64(va, ta), vb[0], op)
                } else {
                    (self.to_i64(vb, tb), va[0], swap(op))
                };
                if let Some(c) = self.const_int(i) {
                    if c.unsigned_abs() <= 1u64 << 53 {
                        // A constant int a float holds exactly (`x >= 4`): the float comparison
                        // is the exact one.
                        let cf = self.b.ins().f64const(c as f64);
                        let f = if self.b.func.dfg.value_type(f) == types::F32 { self.b.ins().fpromote(types::F64, f) } else { f };
                        return Ok(self.fcmp(op, cf, f));
                    }
                }
                let r = self.call_helper("heron_cmp_int_float", &[types::I64, types::F64], &[types::I64], &[i, f])?[0];
                Ok(match op {
                    CmpOp::Eq => self.b.ins().icmp_imm_s(IntCC::Equal, r, 0),
                    CmpOp::NotEq => self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0),
                    CmpOp::Lt => self.b.ins().icmp_imm_s(IntCC::Equal, r, -1),
                    CmpOp::LtE => self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, r, 0),
                    CmpOp::Gt => self.b.ins().icmp_imm_s(IntCC::Equal, r, 1),
                    CmpOp::GtE => self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, r, 1),
                })
            }
        }
    }

    fn icmp(&mut self, op: CmpOp, a: Value, b: Value) -> Value {
        let cc = match op {
            CmpOp::Eq => IntCC::Equal,
            CmpOp::NotEq => IntCC::NotEqual,
            CmpOp::Lt => IntCC::SignedLessThan,
            CmpOp::LtE => IntCC::SignedLessThanOrEqual,
            CmpOp::Gt => IntCC::SignedGreaterThan,
            CmpOp::GtE => IntCC::SignedGreaterThanOrEqual,
        };
        self.b.ins().icmp(cc, a, b)
    }

    fn fcmp(&mut self, op: CmpOp, a: Value, b: Value) -> Value {
        let cc = match op {
            CmpOp::Eq => FloatCC::Equal,
            CmpOp::NotEq => FloatCC::NotEqual,
            CmpOp::Lt => FloatCC::LessThan,
            CmpOp::LtE => FloatCC::LessThanOrEqual,
            CmpOp::Gt => FloatCC::GreaterThan,
            CmpOp::GtE => FloatCC::GreaterThanOrEqual,
        };
        self.b.ins().fcmp(cc, a, b)
    }
}

/// Python's `x op y` on two int constants, when it fits in 64 bits and raises nothing (else
/// `None`, and the operation is emitted with its run-time checks).
pub fn fold_int(op: BinOp, x: i64, y: i64) -> Option<i64> {
    match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::FloorDiv | BinOp::Mod => {
            if y == 0 {
                return None;
            }
            let q = x.checked_div(y)?;
            let r = x.checked_rem(y)?;
            let adjust = r != 0 && ((r < 0) != (y < 0));
            Some(match (op, adjust) {
                (BinOp::FloorDiv, true) => q - 1,
                (BinOp::FloorDiv, false) => q,
                (_, true) => r + y,
                (_, false) => r,
            })
        }
        BinOp::Pow => {
            let e = u32::try_from(y).ok()?;
            x.checked_pow(e)
        }
        BinOp::BitAnd => Some(x & y),
        BinOp::BitOr => Some(x | y),
        BinOp::BitXor => Some(x ^ y),
        BinOp::LShift => {
            if !(0..64).contains(&y) {
                return None;
            }
            let r = x.checked_shl(y as u32)?;
            if r >> y == x {
                Some(r)
            } else {
                None
            }
        }
        BinOp::RShift => {
            if y < 0 {
                return None;
            }
            Some(x >> y.min(63))
        }
        BinOp::Div => None,
    }
}

fn swap(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtE => CmpOp::GtE,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtE => CmpOp::LtE,
        o => o,
    }
}
