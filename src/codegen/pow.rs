//! `x ** n` for a small constant `n` on float64 values: an exact fast path in double-double
//! arithmetic that gives libm's `pow` result bit for bit, with `pow` itself near a rounding
//! midpoint; powers of one variable in one statement share their chain.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder};

use super::{CVal, FunctionCx};
use crate::ir::*;
use crate::types::{DType, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// `x ** n` for a constant integer `n`, when the result is a float64 (Python float or
    /// numpy.float64). Both compute `pow(x, float(n))` in libm; for 2 <= n <= 8 Heron computes
    /// x**n in double-double arithmetic (error about n * 2**-104) and uses the rounded result
    /// when it lies farther than 1/32 ulp from a rounding midpoint, where libm's pow (error
    /// below 0.52 ulp, i.e. within 0.02 ulp before rounding) must round the same way; near a
    /// midpoint, and outside the normal range, it calls the same `pow` path as CPython.
    pub fn pow_const(&mut self, a: &Expr, ta: &Type, n: i64, rt: &Type, line: u32) -> CResult<Option<CVal>> {
        let np = match rt {
            Type::Float => false,
            Type::Np(DType::F64) => true,
            _ => return Ok(None),
        };
        if !(0..=8).contains(&n) || !(ta.is_scalar()) {
            return Ok(None);
        }
        let va = self.expr(a)?;
        let x = self.cast_scalar(va[0], ta, DType::F64);
        if n == 0 {
            // The result is 1 whatever x is, but x's operations still run: their NumPy float
            // reports may come from the processor's sticky flags, which an operation removed
            // as dead would never raise (`(1 / a[i]) ** 0` warns "divide by zero"; found by
            // the fuzzer).
            self.keep_for_fp_flags(&vec![x]);
            return Ok(Some(vec![self.b.ins().f64const(1.0)]));
        }
        if n == 1 {
            if np {
                // NumPy's power clears a NaN's sign bit (np.float64(-nan) ** 1 is +nan, the
                // payload kept); CPython's float ** 1 returns x itself. (Found by the fuzzer.)
                let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                let ax = self.b.ins().fabs(x);
                return Ok(Some(vec![self.b.ins().select(nan, ax, x)]));
            }
            return Ok(Some(vec![x]));
        }
        // x**n as p + L: p the naive product chain, L the accumulated exact rounding errors
        // (each `fma(p, x, -p*x)` is exact), carried along by Horner's rule. The two chains run
        // in parallel, so the latency is about one multiply per step. Powers of one variable
        // in one statement share the chain (`10*x**5 + 4*x**4 + ...` computes it once).
        let key = match a.kind {
            ExprKind::Var(v) => Some(v),
            _ => None,
        };
        let (in_range, mut chain) = match key.and_then(|v| self.pow_chains.get(&v)) {
            Some(c) => c.clone(),
            None => {
                // 2**-100 < |x| < 2**100 keeps every x**k (k <= 8) within 2**+-800: no overflow,
                // no underflow anywhere, so each `fma` error term is exact. NaN fails it.
                let ax = self.b.ins().fabs(x);
                let big = self.b.ins().f64const(f64::from_bits(0x4630_0000_0000_0000)); // 2**100
                let tiny = self.b.ins().f64const(f64::from_bits(0x39b0_0000_0000_0000)); // 2**-100
                let lo_ok = self.b.ins().fcmp(FloatCC::GreaterThan, ax, tiny);
                let hi_ok = self.b.ins().fcmp(FloatCC::LessThan, ax, big);
                let in_range = self.b.ins().band(lo_ok, hi_ok);
                let zero = self.b.ins().f64const(0.0);
                (in_range, vec![(x, zero)])
            }
        };
        while chain.len() < n as usize {
            let (p, big_l) = *chain.last().unwrap();
            let pn = self.b.ins().fmul(p, x);
            let neg = self.b.ins().fneg(pn);
            let e = self.b.ins().fma(p, x, neg);
            let ln = self.b.ins().fma(big_l, x, e);
            chain.push((pn, ln));
        }
        let (p, big_l) = chain[n as usize - 1];
        if let Some(v) = key {
            self.pow_chains.insert(v, (in_range, chain));
        }
        // Fast2Sum: h = fl(p + L) and the exact residual l.
        let h = self.b.ins().fadd(p, big_l);
        let hp = self.b.ins().fsub(h, p);
        let l = self.b.ins().fsub(big_l, hp);
        // Fast-path conditions: x in range (above), and h is the rounding of p + L by a
        // margin: adding l scaled by 16/15 still rounds to h, i.e. |l| <= 15/32 of the
        // half-ulp on l's side of h (this also covers h a power of two, where the ulp below is
        // half the ulp above).
        let k = self.b.ins().f64const(16.0 / 15.0);
        let lk = self.b.ins().fmul(l, k);
        let moved = self.b.ins().fadd(h, lk);
        let l_ok = self.b.ins().fcmp(FloatCC::Equal, moved, h);
        let ok = self.b.ins().band(in_range, l_ok);
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::F64);
        self.b.set_cold_block(slow);
        self.b.ins().brif(ok, join, &[cranelift_codegen::ir::BlockArg::Value(h)], slow, &[]);
        self.switch_to(slow);
        let y = self.b.ins().f64const(n as f64);
        let r = if np {
            let r = self.call_helper("pow", &[types::F64, types::F64], &[types::F64], &[x, y])?[0];
            self.np_fp_check(BinOp::Pow, x, y, r, line)?;
            r
        } else {
            self.py_float_binop(BinOp::Pow, x, y, line)?
        };
        self.b.ins().jump(join, &[cranelift_codegen::ir::BlockArg::Value(r)]);
        self.switch_to(join);
        Ok(Some(vec![self.b.block_params(join)[0]]))
    }
}
