//! Expressions: constants, variables (with the guard of a speculated member), globals,
//! operators, comparisons, `and`/`or`, `x if c else y`, indexing, tuples and calls, and truth
//! values.

use cranelift_codegen::ir::{self, types, BlockArg, InstBuilder, Value};

use super::{num, repr, CVal, FunctionCx};
use crate::abi::ErrCode;
use crate::ir::*;
use crate::types::Type;

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// Evaluate an expression (its source range is the error site of what it emits).
    pub fn expr(&mut self, e: &Expr) -> CResult<CVal> {
        self.span_stack.push(e.span);
        let r = self.expr_inner(e);
        self.span_stack.pop();
        r
    }

    pub(super) fn expr_inner(&mut self, e: &Expr) -> CResult<CVal> {
        let t = self.typed.ty(e).clone();
        let line = e.span.line;
        if let (ExprKind::Index(base, index), Some(crate::types::infer::CallTarget::NpCall(call))) = (&e.kind, self.typed.calls.get(&e.id)) {
            // `a[mask]`, `a[indices]`: NumPy's own indexing (a new array).
            let call = call.clone();
            let mut vals = self.expr(base)?;
            for i in index {
                vals.extend(self.expr(i)?);
            }
            return self.np_call_values(&call, vals, e.span, line);
        }
        if let Some(crate::types::infer::CallTarget::Ufunc(lp)) = self.typed.calls.get(&e.id) {
            let lp = lp.clone();
            let operands: Vec<&Expr> = match &e.kind {
                // `a ** 2` as `numpy.square(a)` (inference chose a one-operand loop).
                ExprKind::BinOp(_, a, _) if lp.ins.len() == 1 => vec![a],
                ExprKind::BinOp(_, a, b) => vec![a, b],
                ExprKind::Unary(_, a) => vec![a],
                ExprKind::Compare(a, rest) => vec![a, &rest[0].1],
                ExprKind::Call { args, .. } => args.iter().collect(),
                _ => unreachable!("a ufunc expression"),
            };
            if let ExprKind::Call { kwargs, .. } = &e.kind {
                if let Some((_, out)) = kwargs.iter().find(|(k, _)| k == "out") {
                    // `numpy.exp(a, out=b)`: the operands first, then `out`, as Python
                    // evaluates them; the result is `out`.
                    let mut ins = Vec::new();
                    for o in &operands {
                        let v = self.expr(o)?;
                        ins.push((v, self.typed.ty(o).clone()));
                    }
                    let Type::Array(oa) = self.typed.ty(out).clone() else { unreachable!("inference checked") };
                    let ov = self.expr(out)?;
                    self.ufunc_run(Some(lp), ins, Some((ov.clone(), oa)), &Type::None, line)?;
                    return Ok(ov);
                }
            }
            return self.ufunc_expr(e, &lp, &operands);
        }
        Ok(match &e.kind {
            ExprKind::Const(c) => self.constant(c),
            ExprKind::Var(v) => {
                if let (Some(&member), Some(tag)) = (self.typed.guards.get(&e.id), self.tags[*v]) {
                    // Speculated member (see infer::over_members): deoptimize otherwise.
                    let tv = self.b.use_var(tag);
                    let other = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::NotEqual, tv, member as i64);
                    self.fail_if(other, ErrCode::Deopt, line, &[]);
                }
                self.load_var(*v)
            }
            ExprKind::Global(_) => match self.typed.globals.get(&e.id) {
                Some(crate::types::infer::GlobalValue::Const(c)) => self.constant(&c.clone()),
                Some(crate::types::infer::GlobalValue::Cell { addr, .. }) => self.cells[addr].clone(),
                _ => return Err(CompileError::new("unsupported global", line)),
            },
            ExprKind::Attr(base, attr) => {
                match self.typed.globals.get(&e.id) {
                    Some(crate::types::infer::GlobalValue::Const(c)) => return Ok(self.constant(&c.clone())),
                    Some(crate::types::infer::GlobalValue::Foreign(crate::types::cnative::Foreign::FfiNull)) => return Ok(vec![self.iconst(0)]),
                    _ => {}
                }
                self.attr(base, attr, line)?
            }
            ExprKind::BinOp(..) if self.fp_pending.is_none() && self.fp_batch_worthwhile(e) => self.fp_batched(&|cx: &mut Self| cx.expr(e))?,
            ExprKind::BinOp(op, a, b) => {
                if let (ExprKind::Const(Const::Int(x)), ExprKind::Const(Const::Int(y)), Type::Int) = (&a.kind, &b.kind, &t) {
                    if let Some(v) = num::fold_int(*op, *x, *y) {
                        return Ok(vec![self.iconst(v)]);
                    }
                }
                let ta = self.typed.ty(a).clone();
                let tb = self.typed.ty(b).clone();
                // `x ** n` with a small constant n: an exact fast path (see pow::pow_const).
                if *op == BinOp::Pow {
                    if let ExprKind::Const(Const::Int(n)) = b.kind {
                        if let Some(v) = self.pow_const(a, &ta, n, &t, line)? {
                            return Ok(v);
                        }
                    }
                }
                let va = self.expr(a)?;
                let vb = self.expr(b)?;
                if t == Type::Int && ta == Type::Int && tb == Type::Int && self.scope.cannot_overflow(*op, a, b) {
                    let r = if *op == BinOp::Add { self.b.ins().iadd(va[0], vb[0]) } else { self.b.ins().isub(va[0], vb[0]) };
                    return Ok(vec![r]);
                }
                self.binop(*op, va, &ta, vb, &tb, &t, line)?
            }
            ExprKind::Unary(op, a) => {
                let ta = self.typed.ty(a).clone();
                if *op == UnaryOp::Not {
                    let c = self.truth(a)?;
                    let r = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, c, 0);
                    return Ok(vec![r]);
                }
                let va = self.expr(a)?;
                self.unary(*op, va, &ta, &t, line)?
            }
            ExprKind::Compare(first, rest) if rest.len() > 1 => {
                self.pow_chains.clear();
                let v = self.compare_chain(first, rest, &t, line)?;
                self.pow_chains.clear();
                v
            }
            ExprKind::Compare(first, rest) => match (&first.kind, rest.as_slice()) {
                // `x % y == 0` (or `!=`) on Python ints: Python's floored remainder is zero
                // exactly when the truncated one is, so the sign adjustment is not needed.
                (ExprKind::BinOp(BinOp::Mod, x, y), [(op @ (CmpOp::Eq | CmpOp::NotEq), Expr { kind: ExprKind::Const(Const::Int(0)), .. })])
                    if *self.typed.ty(x) == Type::Int
                        && *self.typed.ty(y) == Type::Int
                        && *self.typed.ty(first) == Type::Int
                        && !matches!(y.kind, ExprKind::Const(_)) =>
                {
                    let a = self.expr(x)?[0];
                    let b = self.expr(y)?[0];
                    let zero = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, b, 0);
                    self.fail_if(zero, ErrCode::IntModZero, line, &[]);
                    let rem = self.b.ins().srem(a, b);
                    let cc = if *op == CmpOp::Eq { ir::condcodes::IntCC::Equal } else { ir::condcodes::IntCC::NotEqual };
                    vec![self.b.ins().icmp_imm_s(cc, rem, 0)]
                }
                _ => self.compare_chain(first, rest, &t, line)?,
            },
            ExprKind::BoolOp(op, values) => {
                self.pow_chains.clear();
                let v = self.boolop(*op, values, &t)?;
                self.pow_chains.clear();
                v
            }
            ExprKind::IfExp(c, a, b2) => {
                self.pow_chains.clear();
                let cv = self.truth(c)?;
                let then_blk = self.b.create_block();
                let else_blk = self.b.create_block();
                let join = self.b.create_block();
                let reprs = repr(&t);
                for r in &reprs {
                    self.b.append_block_param(join, *r);
                }
                self.b.ins().brif(cv, then_blk, &[], else_blk, &[]);
                self.switch_to(then_blk);
                self.cond_depth += 1;
                let va = self.expr(a);
                self.cond_depth -= 1;
                let va = va?;
                let args: Vec<BlockArg> = va.iter().map(|v| BlockArg::Value(*v)).collect();
                self.b.ins().jump(join, &args);
                self.pow_chains.clear();
                self.switch_to(else_blk);
                self.cond_depth += 1;
                let vb = self.expr(b2);
                self.cond_depth -= 1;
                let vb = vb?;
                let args: Vec<BlockArg> = vb.iter().map(|v| BlockArg::Value(*v)).collect();
                self.b.ins().jump(join, &args);
                self.switch_to(join);
                self.pow_chains.clear();
                self.b.block_params(join).to_vec()
            }
            ExprKind::Index(base, index) => self.index(base, index, line)?,
            ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.extend(self.expr(i)?);
                }
                out
            }
            ExprKind::Call { args, kwargs, .. } => self.call(e, args, kwargs)?,
            ExprKind::FString(_) => return Err(CompileError::new("an f-string can only be printed in compiled code", line)),
            ExprKind::Slice(..) => return Err(CompileError::new("a slice can only be used as an array index", line)),
        })
    }

    pub fn constant(&mut self, c: &Const) -> CVal {
        match c {
            Const::Int(i) => vec![self.iconst(*i)],
            Const::Float(f) => vec![self.b.ins().f64const(*f)],
            Const::Bool(x) => vec![self.b.ins().iconst(types::I8, *x as i64)],
            Const::None | Const::Str(_) => vec![],
            Const::Bytes(b) => vec![self.iconst(super::cstrings::address(b) as i64)],
        }
    }

    pub(super) fn boolop(&mut self, op: BoolOp, values: &[Expr], t: &Type) -> CResult<CVal> {
        // `a and b`: a if a is falsy else b. `a or b`: a if a is truthy else b.
        let join = self.b.create_block();
        let reprs = repr(t);
        for r in &reprs {
            self.b.append_block_param(join, *r);
        }
        for (i, v) in values.iter().enumerate() {
            self.cond_depth += (i > 0) as usize;
            let val = self.expr(v);
            self.cond_depth -= (i > 0) as usize;
            let val = val?;
            if i + 1 == values.len() {
                let args: Vec<BlockArg> = val.iter().map(|x| BlockArg::Value(*x)).collect();
                self.b.ins().jump(join, &args);
                break;
            }
            let truth = self.truth_of(&val, self.typed.ty(v))?;
            let next = self.b.create_block();
            let args: Vec<BlockArg> = val.iter().map(|x| BlockArg::Value(*x)).collect();
            match op {
                BoolOp::And => self.b.ins().brif(truth, next, &[], join, &args),
                BoolOp::Or => self.b.ins().brif(truth, join, &args, next, &[]),
            };
            self.switch_to(next);
        }
        self.switch_to(join);
        Ok(self.b.block_params(join).to_vec())
    }

    /// The truth value of a condition expression, as an i8 0/1.
    pub fn truth(&mut self, e: &Expr) -> CResult<Value> {
        if let (ExprKind::BoolOp(op, values), true) = (&e.kind, self.typed.truth_ops.contains(&e.id)) {
            // Short-circuit on each operand's truth (Python evaluates the later operands only
            // when needed).
            let end = self.b.create_block();
            self.b.append_block_param(end, types::I8);
            for (k, v) in values.iter().enumerate() {
                if k > 0 {
                    self.cond_depth += 1;
                }
                let t = self.truth(v);
                if k > 0 {
                    self.cond_depth -= 1;
                }
                let t = t?;
                if k + 1 == values.len() {
                    self.b.ins().jump(end, &[BlockArg::Value(t)]);
                } else {
                    let next = self.b.create_block();
                    let decided = self.b.ins().iconst(types::I8, if *op == BoolOp::And { 0 } else { 1 });
                    match op {
                        BoolOp::And => self.b.ins().brif(t, next, &[], end, &[BlockArg::Value(decided)]),
                        BoolOp::Or => self.b.ins().brif(t, end, &[BlockArg::Value(decided)], next, &[]),
                    };
                    self.switch_to(next);
                }
            }
            self.switch_to(end);
            return Ok(self.b.block_params(end)[0]);
        }
        let v = self.expr(e)?;
        let t = self.typed.ty(e).clone();
        self.truth_of(&v, &t)
    }

    pub fn truth_of(&mut self, v: &[Value], t: &Type) -> CResult<Value> {
        use ir::condcodes::{FloatCC, IntCC};
        Ok(match t {
            Type::None => self.b.ins().iconst(types::I8, 0),
            Type::Complex => {
                // `real != 0.0 or imag != 0.0` (a NaN part is true).
                let z = self.b.ins().f64const(0.0);
                let a = self.b.ins().fcmp(FloatCC::NotEqual, v[0], z);
                let b = self.b.ins().fcmp(FloatCC::NotEqual, v[1], z);
                self.b.ins().bor(a, b)
            }
            _ => {
                let x = v[0];
                let ty = self.b.func.dfg.value_type(x);
                if ty == types::F64 {
                    let z = self.b.ins().f64const(0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                } else if ty == types::F32 {
                    let z = self.b.ins().f32const(0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                } else {
                    self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0)
                }
            }
        })
    }
}
