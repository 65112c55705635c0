//! NumPy's floating-point error reports for float scalars: the check of one operation's
//! result, the batching of a whole expression's checks into one (with a replay on the cold
//! path), and the deferral of every check to the dispatcher in functions that can be re-run.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::{CVal, FunctionCx};
use crate::abi::{self, FuncInfo};
use crate::ir::*;
use crate::types::{DType, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// NumPy reports a scalar operation whose result is infinite from finite operands, or NaN
    /// from non-NaN ones (overflow, divide by zero, invalid value) as NumPy's error state says:
    /// a RuntimeWarning by default. The check is two compares; the report is a cold call.
    pub fn np_fp_check(&mut self, op: BinOp, a: Value, b: Value, r: Value, line: u32) -> CResult<()> {
        // A function without side effects defers the check to the dispatcher, which reads the
        // processor's sticky floating-point flags after the call and, when one is set,
        // re-runs the call in the interpreter (exact warnings, no cost in the loop).
        if !self.fp_checks_inline() {
            self.fp_deferred = true;
            return Ok(());
        }
        // Inside an expression whose checks are batched: checked at its end (`fp_batched`).
        if let Some(n) = self.fp_pending.as_mut() {
            *n += 1;
            return Ok(());
        }
        let (report, ok) = self.fp_test(r);
        self.switch_to(report);
        self.fp_report(op, a, b, r, line);
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
        Ok(())
    }

    /// On the cold path of a batched check (`fp_batched`), `v` made opaque to Cranelift,
    /// so that the recomputation there is not merged with the hot path's (which would keep
    /// every intermediate value alive, and spilled, in the hot path): its bits are XORed with
    /// `env.err_code`, a load Cranelift cannot see through, and zero there (a nonzero code
    /// has already left the function). Elsewhere `v`.
    pub(super) fn replay_opaque(&mut self, v: Value) -> CResult<Value> {
        if !self.fp_replay {
            return Ok(v);
        }
        let ty = self.b.func.dfg.value_type(v);
        let it = if ty == types::F32 { types::I32 } else { types::I64 };
        let zero = self.b.ins().load(it, MemFlagsData::trusted(), self.env, abi::ENV_ERR_CODE);
        let bits = self.b.ins().bitcast(it, MemFlagsData::new(), v);
        let bits = self.b.ins().bxor(bits, zero);
        Ok(self.b.ins().bitcast(ty, MemFlagsData::new(), bits))
    }

    /// Branch to a new cold block when `r` is infinite or NaN: r - r is NaN exactly then; one
    /// subtraction and one unordered compare that Cranelift fuses into the branch (no
    /// constants to load). Returns (cold block, continuation block).
    pub fn fp_test(&mut self, r: Value) -> (cranelift_codegen::ir::Block, cranelift_codegen::ir::Block) {
        let d = self.b.ins().fsub(r, r);
        let bad = self.b.ins().fcmp(FloatCC::Unordered, d, d);
        self.branch_cold(bad)
    }

    /// Do NumPy float operations check their results in the code (rather than through the
    /// processor's flags after the call, for functions that can be re-run)?
    /// A value nothing reads, in a function whose reports are deferred to the sticky flags:
    /// stored to a stack slot, so that Cranelift does not delete the NumPy float operations
    /// that make it (and the flags they raise: `v = x / z` with `v` never read still warns, as
    /// NumPy does; so does `v = x / z != 1.0`, a bool made from one, fuzzer seed 962760).
    /// Constants are made by no operation: not kept.
    pub fn keep_for_fp_flags(&mut self, v: &CVal) {
        if self.fp_checks_inline() {
            return;
        }
        let made: Vec<Value> = v.iter().copied().filter(|&x| self.const_int(x).is_none() && self.const_f64(x).is_none()).collect();
        if made.is_empty() {
            return;
        }
        let ss = self.b.create_sized_stack_slot(cranelift_codegen::ir::StackSlotData::new(cranelift_codegen::ir::StackSlotKind::ExplicitSlot, 8 * made.len() as u32, 3));
        for (i, x) in made.iter().enumerate() {
            let w = super::widen_to_slot(&mut self.b, *x);
            self.b.ins().stack_store(types::I64, w, ss, 8 * i as i32);
        }
    }

    pub fn fp_checks_inline(&self) -> bool {
        !(self.facts.pure && !self.typed.fp_checked && cfg!(target_arch = "x86_64"))
    }

    /// Can `e` be evaluated without any check that could fail or any effect, with every
    /// operation in it passing an infinite or NaN result on to `e`'s value? Then the NumPy
    /// float operations in it need one check, on `e` (IEEE 754: `+`, `-`, `*` of an infinity
    /// or NaN give an infinity or NaN, as does a division of one by anything; negation too).
    /// Leaves: constants, variables, and array elements read in bounds (see `analysis::loop_facts`).
    pub fn fp_tree(&self, e: &Expr) -> bool {
        let float = |t: &Type| matches!(t, Type::Float) || matches!(t, Type::Np(d) if d.is_float());
        match &e.kind {
            ExprKind::Const(Const::Float(_) | Const::Int(_) | Const::Bool(_)) => true,
            ExprKind::Var(_) => !self.typed.guards.contains_key(&e.id),
            ExprKind::Index(base, idx) => {
                let Type::Array(at) = self.typed.ty(base) else { return false };
                matches!(base.kind, ExprKind::Var(_))
                    && !self.typed.guards.contains_key(&base.id)
                    && idx.len() == at.ndim as usize
                    && idx.iter().enumerate().all(|(k, i)| self.scope.index_in_bounds(i, base, k) && self.index_cannot_fail(i))
            }
            ExprKind::Unary(UnaryOp::Neg, a) => float(self.typed.ty(e)) && self.fp_tree(a),
            ExprKind::BinOp(op, a, b) => {
                let t = self.typed.ty(e);
                let scalars = self.typed.ty(a).is_scalar() && self.typed.ty(b).is_scalar();
                let np_float = matches!(t, Type::Np(d) if d.is_float());
                // A Python float made a float32 may overflow in the cast, which reports at
                // once ("overflow encountered in cast"), not through the result.
                let casts = *t == Type::Np(DType::F32) && (*self.typed.ty(a) == Type::Float || *self.typed.ty(b) == Type::Float);
                scalars
                    && !casts
                    && match op {
                        BinOp::Add | BinOp::Sub | BinOp::Mul => float(t) && self.fp_tree(a) && self.fp_tree(b),
                        // Python's float division checks for zero; NumPy's does not. The divisor
                        // must not hold a checked operation (x / inf is finite).
                        BinOp::Div => np_float && self.fp_tree(a) && self.fp_leaf(b),
                        // `x ** n` on a numpy.float64 for 1 <= n <= 8 (`pow_const`): an infinite
                        // or NaN x gives an infinite or NaN power (x ** 0 would not).
                        BinOp::Pow => {
                            *t == Type::Np(DType::F64) && matches!(b.kind, ExprKind::Const(Const::Int(n)) if (1..=8).contains(&n)) && self.fp_tree(a)
                        }
                        _ => false,
                    }
            }
            _ => false,
        }
    }

    pub(super) fn fp_leaf(&self, e: &Expr) -> bool {
        matches!(e.kind, ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Index(..)) && self.fp_tree(e)
    }

    /// An index expression codegen evaluates without a check: a constant, a variable, or a
    /// loop variable plus or minus a constant that cannot overflow (see `analysis::loop_facts::RangeFact`).
    pub(super) fn index_cannot_fail(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Const(Const::Int(_)) => true,
            ExprKind::Var(_) => !self.typed.guards.contains_key(&e.id),
            ExprKind::BinOp(op @ (BinOp::Add | BinOp::Sub), a, b) => {
                *self.typed.ty(e) == Type::Int && *self.typed.ty(a) == Type::Int && *self.typed.ty(b) == Type::Int && self.scope.cannot_overflow(*op, a, b)
            }
            _ => false,
        }
    }

    /// Is `e` (a binary operation) worth checking as one batch: a tree of at least two NumPy
    /// float operations (see `fp_tree`)?
    pub fn fp_batch_worthwhile(&self, e: &Expr) -> bool {
        fn np_ops(cx: &FunctionCx<'_, '_>, e: &Expr) -> usize {
            let own = matches!((&e.kind, cx.typed.ty(e)), (ExprKind::BinOp(..), Type::Np(d)) if d.is_float()) as usize;
            own + e.children().iter().map(|c| np_ops(cx, c)).sum::<usize>()
        }
        !self.fp_replay && self.fp_checks_inline() && matches!(self.typed.ty(e), Type::Np(d) if d.is_float()) && self.fp_tree(e) && np_ops(self, e) >= 2
    }

    /// Evaluate an expression (`eval`) whose NumPy float operations pass an infinite or NaN
    /// result on to its value (see `fp_tree`), with one check of that value instead of one per
    /// operation. When the check fires, the cold path evaluates the expression again with a
    /// check at each operation, which reports them in order as if each had been checked where
    /// it happened: the expression has no effects and reads nothing that changed, so
    /// evaluating it twice changes nothing visible. (Keeping every operand for the cold path
    /// instead would keep them all live, and spill them, in the hot path.)
    pub fn fp_batched(&mut self, eval: &dyn Fn(&mut Self) -> CResult<CVal>) -> CResult<CVal> {
        self.fp_pending = Some(0);
        let r = eval(self);
        let waiting = self.fp_pending.take().unwrap_or(0);
        let r = r?;
        if waiting == 0 {
            return Ok(r);
        }
        let (report, ok) = self.fp_test(r[0]);
        self.switch_to(report);
        let was = std::mem::replace(&mut self.fp_replay, true);
        let replayed = eval(self);
        self.fp_replay = was;
        replayed?;
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
        Ok(r)
    }

    /// Ask the runtime whether NumPy reports `a op b = r` (and report it); exit on an error.
    pub(super) fn fp_report(&mut self, op: BinOp, a: Value, b: Value, r: Value, line: u32) {
        let f = types::F64;
        let widen = |cx: &mut Self, v: Value| if cx.b.func.dfg.value_type(v) == types::F32 { cx.b.ins().fpromote(f, v) } else { v };
        let (a, b, r) = (widen(self, a), widen(self, b), widen(self, r));
        let code = match op {
            BinOp::Add => 0,
            BinOp::Sub => 1,
            BinOp::Mul => 2,
            BinOp::Div => 3,
            BinOp::FloorDiv => 4,
            BinOp::Mod => 5,
            _ => 6,
        } + if self.np_via_ufunc { 16 } else { 0 };
        let (env, info, l, c) = (self.env, self.iconst(self.info as *const FuncInfo as i64), self.iconst(line as i64), self.iconst(code));
        self.call_tramp("heron_np_fp", &[env, info, l, c, a, b, r]);
        self.fail_if_env_error(line);
    }
}
