//! Statements and loops: assignments, `if`, `while`, `for ... in range(...)` (with loop
//! versioning when the analyses found accesses one test can prove in bounds), `return`,
//! `raise`, `assert`.

use cranelift_codegen::ir::{self, types, InstBuilder, Value};

use super::function::Slot;
use super::{deopt, repr, CVal, FunctionCx, LoopCx};
use crate::abi::ErrCode;
use crate::analysis::loop_facts::{GuardIndex, LoopFacts};
use crate::ir::*;
use crate::types::{ArrayType, Layout, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    pub fn block(&mut self, body: &'a [Stmt]) -> CResult<()> {
        let facts = self.scope.lower_bounds.len();
        for s in body {
            self.stmt(s)?;
            if self.is_terminated() {
                self.start_dead_block();
            }
            // After `if v < c: return`, the rest of the block has `v >= c` (see `loop_facts`).
            if let Some(f) = self.facts.loops.lower_bound_after[s.id] {
                self.scope.lower_bounds.push(f);
            }
        }
        self.scope.lower_bounds.truncate(facts);
        Ok(())
    }

    pub(super) fn emit_return(&mut self, e: Option<&Expr>, line: u32) -> CResult<()> {
        let (val, t) = match e {
            Some(e) => (self.expr(e)?, self.typed.ty(e).clone()),
            None => (vec![], Type::None),
        };
        let dst = Slot { vars: self.ret_vars.clone(), tag: self.ret_tag, members: self.typed.ret.members.clone(), ty: self.typed.ret_type() };
        self.store_slot(&dst, val, &t, e, line)?;
        self.b.ins().jump(self.exit_block, &[]);
        Ok(())
    }

    pub(super) fn assign_target(&mut self, target: &Target, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
        match target {
            Target::Var(v) => self.assign_var(*v, val, t, src, line),
            Target::Index { base, index, span } => {
                // A store that fails is shown at its subscript, as the interpreter shows it.
                self.span_stack.push(*span);
                if let Some(crate::types::infer::CallTarget::NpCall(call)) = self.typed.calls.get(&base.id).cloned() {
                    // `a[mask] = v`: NumPy's own store.
                    let mut vals = self.expr(base)?;
                    for i in index {
                        vals.extend(self.expr(i)?);
                    }
                    vals.extend(val);
                    let r = self.np_call_values(&call, vals, *span, line).map(|_| ());
                    self.span_stack.pop();
                    return r;
                }
                if self.typed.slice_stores.contains(&base.id) {
                    // `view = value`: NumPy copies `value` into the view, broadcast and cast.
                    let Type::Array(bt) = self.typed.ty(base).clone() else { unreachable!() };
                    let r = self.index(base, index, line).and_then(|view| {
                        self.ufunc_run(None, vec![(val, t.clone())], Some((view, view_type(bt, index, self.typed))), &Type::None, line).map(|_| ())
                    });
                    self.span_stack.pop();
                    return r;
                }
                let r = self.store_index(base, index, val, t, line);
                self.span_stack.pop();
                r
            }
            Target::Tuple(ts) if matches!(t, Type::Array(_)) => {
                let Type::Array(at) = t else { unreachable!() };
                self.unpack_array(ts, val, *at, line)
            }
            Target::Tuple(ts) => {
                let Type::Tuple(elems) = t else { unreachable!("inference checked tuple unpacking") };
                let mut off = 0;
                for (tt, et) in ts.iter().zip(elems) {
                    let n = repr(et).len();
                    self.assign_target(tt, val[off..off + n].to_vec(), et, None, line)?;
                    off += n;
                }
                Ok(())
            }
        }
    }

    /// `a, b = arr`: Python's iteration over the first axis; a length other than the number
    /// of targets is left to the interpreter (its ValueError "too many values to unpack
    /// (expected 2)" or "not enough values to unpack (expected 2, got 1)").
    fn unpack_array(&mut self, ts: &[Target], val: CVal, at: ArrayType, line: u32) -> CResult<()> {
        let nd = at.ndim as usize;
        let wrong = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::NotEqual, val[1], ts.len() as i64);
        self.fail_if(wrong, ErrCode::Deopt, line, &[]);
        let stride = if at.layout == Layout::C && nd == 1 { self.iconst(at.dtype.itemsize()) } else { val[1 + nd] };
        let item_t = if nd == 1 { Type::Np(at.dtype) } else { Type::Array(ArrayType { ndim: at.ndim - 1, ..at }) };
        for (k, tt) in ts.iter().enumerate() {
            let off = self.b.ins().imul_imm_s(stride, k as i64);
            let ptr = self.b.ins().iadd(val[0], off);
            let item = if nd == 1 {
                self.load_element(ptr, at.dtype)
            } else {
                let mut v = vec![ptr];
                v.extend_from_slice(&val[2..1 + nd]);
                v.extend_from_slice(&val[2 + nd..]);
                v
            };
            self.assign_target(tt, item, &item_t, None, line)?;
        }
        Ok(())
    }

    pub(super) fn stmt(&mut self, s: &'a Stmt) -> CResult<()> {
        let saved = (self.cur_stmt.replace(s), std::mem::take(&mut self.stmt_calls));
        // Each instruction carries its statement's line (the annotated report groups the IR
        // by line, `heron._annotate`); a compound statement's own code after its body gets
        // its line back.
        let srcloc = self.b.srcloc();
        self.b.set_srcloc(cranelift_codegen::ir::SourceLoc::new(s.span.line));
        // The statements a comprehension became (`ir::Function::hidden_stmts`) and the one
        // that ends them (`comp_ends`) run again as that one original statement: they count
        // its warnings from the start of the first.
        let hidden = self.f.hidden_stmts.contains(&s.id);
        let open = self.groups.last().is_some_and(|g| !g.ending);
        let ends_group = open && self.f.comp_ends.contains(&s.id);
        if ends_group {
            self.groups.last_mut().expect("an open block").ending = true;
        }
        let starts_group = hidden && !open;
        let inherit = (hidden && open) || ends_group;
        let simple = starts_group || matches!(s.kind, StmtKind::Assign { .. } | StmtKind::AugAssign { .. } | StmtKind::Expr(_) | StmtKind::Return(_));
        let base = (simple && !inherit && self.outlined.is_none() && !self.is_terminated()).then(|| {
            let v = self.b.ins().load(types::I64, ir::MemFlagsData::trusted(), self.env, crate::abi::ENV_WARNED);
            (self.b.func.dfg.value_def(v).unwrap_inst(), v)
        });
        let saved_warn = if inherit {
            (self.warn_base, self.stmt_reports)
        } else {
            (std::mem::replace(&mut self.warn_base, base), std::mem::replace(&mut self.stmt_reports, false))
        };
        if starts_group {
            self.groups.push(super::function::CompGroup { first: s.id, effects: None, deopts: false, restore: saved_warn, base, ending: false });
        }
        let r = self.stmt_inner(s);
        if hidden && !self.stmt_calls.is_empty() {
            if let Some(g) = self.groups.last_mut() {
                g.effects.get_or_insert(s.span.line);
            }
        }
        let ended = if ends_group { self.groups.pop() } else { None };
        let r = match (r, &ended) {
            // A call with side effects (`random.random()`) in a comprehension is compiled only
            // where nothing in its statement can hand the call to the interpreter, which would
            // run the statement, and the call, again.
            (Ok(()), Some(super::function::CompGroup { effects: Some(line), deopts: true, .. })) => Err(crate::ir::CompileError::new(
                "a call with side effects in a comprehension whose statement may need the interpreter is not compiled yet (the call would run again)",
                *line,
            )),
            (r, _) => r,
        };
        let (saved_warn, base) = ended.map_or((saved_warn, base), |g| (g.restore, g.base));
        if (!inherit && !starts_group) || ends_group {
            if let (Some((inst, _)), false) = (base, self.stmt_reports) {
                // Nothing in the statement warns: no deoptimization read the count.
                self.b.func.layout.remove_inst(inst);
            }
            (self.warn_base, self.stmt_reports) = saved_warn;
        }
        self.b.set_srcloc(srcloc);
        (self.cur_stmt, self.stmt_calls) = saved;
        r
    }

    pub(super) fn stmt_inner(&mut self, s: &'a Stmt) -> CResult<()> {
        let line = s.span.line;
        self.pow_chains.clear();
        match &s.kind {
            StmtKind::Assign { targets, value } if self.typed.choices.contains_key(&value.id) => {
                let [Target::Var(v)] = targets.as_slice() else { unreachable!("inference checked") };
                self.min_max_choice(*v, value, line)?;
            }
            StmtKind::Assign { targets, value } if matches!(targets.as_slice(), [Target::Var(v)] if self.typed.ndindex_iters.contains(v)) => {
                let [Target::Var(v)] = targets.as_slice() else { unreachable!() };
                self.ndindex_start(*v, value, line)?;
            }
            // `$iter = np.ndenumerate(a)`: the array itself.
            StmtKind::Assign { targets, value } if matches!(targets.as_slice(), [Target::Var(v)] if self.typed.ndenumerate_iters.contains(v)) => {
                let ([Target::Var(v)], ExprKind::Call { args, .. }) = (targets.as_slice(), &value.kind) else { unreachable!() };
                let t = self.typed.ty(&args[0]).clone();
                let a = self.expr(&args[0])?;
                self.assign_var(*v, a, &t, None, line)?;
            }
            StmtKind::Assign { targets, value } => {
                let t = self.typed.ty(value).clone();
                let val = self.expr(value)?;
                for target in targets {
                    self.assign_target(target, val.clone(), &t, Some(value), line)?;
                }
            }
            StmtKind::AugAssign { target, op, value } => {
                let vt = self.typed.ty(value).clone();
                if let Some(lp) = self.typed.inplace.get(&s.id).cloned() {
                    // `a op= v` on an array: the ufunc writes into `a` (or the view).
                    let (cur, at) = match target {
                        Target::Var(v) => {
                            let Type::Array(at) = self.var_type(*v) else { unreachable!("an in-place array target") };
                            (self.load_var(*v), at)
                        }
                        Target::Index { base, index, .. } => {
                            let Type::Array(bt) = self.typed.ty(base).clone() else { unreachable!() };
                            (self.index(base, index, line)?, view_type(bt, index, self.typed))
                        }
                        Target::Tuple(_) => unreachable!(),
                    };
                    let rhs = self.expr(value)?;
                    self.ufunc_run(Some(lp), vec![(cur.clone(), Type::Array(at)), (rhs, vt)], Some((cur, at)), &Type::None, line)?;
                    return Ok(());
                }
                match target {
                    Target::Var(v) => {
                        let cur_t = self.var_type(*v);
                        let members = self.typed.vars[*v].members.clone();
                        // The result type is the same for every member (inference checked), or
                        // inference speculated one member: deoptimize when the tag says another.
                        let member = match (self.typed.aug_guards.get(&s.id).copied(), self.tags[*v]) {
                            (Some(m), Some(tag)) => {
                                let tv = self.b.use_var(tag);
                                let other = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::NotEqual, tv, m as i64);
                                self.fail_if(other, ErrCode::Deopt, line, &[]);
                                m
                            }
                            _ => 0,
                        };
                        let rt = crate::types::rules::binop_type(*op, &members[member], &vt, line)?;
                        // `x += <expression>` on NumPy floats: one check for the statement.
                        let batch = self.fp_pending.is_none()
                            && !self.fp_replay
                            && matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul)
                            && matches!(rt, Type::Np(d) if d.is_float())
                            // A Python float made a float32 reports its cast at once.
                            && !(rt == Type::Np(crate::types::DType::F32) && vt == Type::Float)
                            && self.fp_tree(value)
                            && self.fp_checks_inline();
                        let (v, op) = (*v, *op);
                        let eval = |cx: &mut Self| -> CResult<CVal> {
                            let cur = cx.load_var(v);
                            let rhs = cx.expr(value)?;
                            cx.binop(op, cur, &cur_t, rhs, &vt, &rt, line)
                        };
                        let r = if batch { self.fp_batched(&eval)? } else { eval(self)? };
                        self.assign_var(v, r, &rt, None, line)?;
                    }
                    Target::Index { base, index, .. } => {
                        let Type::Array(at) = self.typed.ty(base).clone() else { unreachable!() };
                        let (ptr, et) = self.element_address(base, index, at, line)?;
                        let cur = self.load_element(ptr, at.dtype);
                        let rhs = self.expr(value)?;
                        let rt = crate::types::rules::binop_type(*op, &et, &vt, line)?;
                        let r = self.binop(*op, cur, &et, rhs, &vt, &rt, line)?;
                        let local = self.is_local_array(base);
                        self.store_element(ptr, at.dtype, r, &rt, line, local)?;
                    }
                    Target::Tuple(_) => unreachable!(),
                }
            }
            StmtKind::Expr(e) => {
                let v = self.expr(e)?;
                self.keep_for_fp_flags(&v);
            }
            StmtKind::If { then, orelse, .. } if self.typed.static_ifs.contains_key(&s.id) => {
                let live = self.typed.static_ifs[&s.id];
                self.block(if live { then } else { orelse })?;
            }
            StmtKind::If { cond, then, orelse } => {
                let c = self.truth(cond)?;
                let then_blk = self.b.create_block();
                let else_blk = self.b.create_block();
                let join = self.b.create_block();
                self.b.ins().brif(c, then_blk, &[], else_blk, &[]);
                self.switch_to(then_blk);
                self.block(then)?;
                if !self.is_terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.switch_to(else_blk);
                self.block(orelse)?;
                if !self.is_terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.switch_to(join);
            }
            StmtKind::While { cond, body, orelse } => {
                self.long_running = true;
                let header = self.b.create_block();
                let body_blk = self.b.create_block();
                let latch = self.b.create_block();
                let else_blk = self.b.create_block();
                let exit = self.b.create_block();
                self.b.ins().jump(header, &[]);
                // A loop header gets its last predecessor (the back edge) later: sealed then.
                self.b.switch_to_block(header);
                let c = self.truth(cond)?;
                self.b.ins().brif(c, body_blk, &[], else_blk, &[]);
                self.switch_to(body_blk);
                self.loops.push(LoopCx { continue_block: latch, break_block: exit, hidden: None });
                self.scope.loops.push(LoopFacts::default());
                self.block(body)?;
                self.scope.loops.pop();
                self.loops.pop();
                if !self.is_terminated() {
                    self.b.ins().jump(latch, &[]);
                }
                // The back edge: signals are looked at here.
                self.switch_to(latch);
                self.poll_signals(line);
                self.b.ins().jump(header, &[]);
                self.b.seal_block(header);
                self.switch_to(else_blk);
                self.block(orelse)?;
                if !self.is_terminated() {
                    self.b.ins().jump(exit, &[]);
                }
                self.switch_to(exit);
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, origin, .. } => {
                self.for_range(s.id, *var, start.as_ref(), stop, step.as_ref(), body, orelse, *origin, line)?;
            }
            StmtKind::Break => {
                let blk = self.loops.last().expect("break outside loop").break_block;
                self.b.ins().jump(blk, &[]);
            }
            StmtKind::Continue => {
                let blk = self.loops.last().expect("continue outside loop").continue_block;
                self.b.ins().jump(blk, &[]);
            }
            StmtKind::Return(e) => self.emit_return(e.as_ref(), line)?,
            StmtKind::Pass => {}
            StmtKind::Raise { exc, msg } => {
                let idx = self.info.raises.iter().position(|(n, m)| n == exc && m == msg).unwrap_or(0) as i64;
                let i = self.iconst(idx);
                self.raise(ErrCode::UserRaise, line, &[i]);
            }
            StmtKind::Assert { test, msg } => {
                let c = self.truth(test)?;
                let idx = self
                    .info
                    .raises
                    .iter()
                    .position(|(n, m)| n == "AssertionError" && m == msg)
                    .unwrap_or(0) as i64;
                let failed = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, c, 0);
                let i = self.iconst(idx);
                self.fail_if(failed, ErrCode::UserRaise, line, &[i]);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_range(
        &mut self,
        id: usize,
        var: VarId,
        start: Option<&Expr>,
        stop: &Expr,
        step: Option<&Expr>,
        body: &'a [Stmt],
        orelse: &'a [Stmt],
        origin: LoopOrigin,
        line: u32,
    ) -> CResult<()> {
        use ir::condcodes::IntCC;
        self.long_running = true;
        let start_v = match start {
            Some(e) => {
                let v = self.expr(e)?;
                let t = self.typed.ty(e).clone();
                self.to_i64(v, &t)
            }
            None => self.iconst(0),
        };
        // `.flat`, `np.ndindex`, `np.ndenumerate` loops: as many iterations as items.
        let counted = match origin {
            LoopOrigin::Each { iter, .. } => self.iter_count(iter),
            _ => None,
        };
        let stop_v = if let Some(n) = counted {
            n        } else {
            let v = self.expr(stop)?;
            let t = self.typed.ty(stop).clone();
            self.to_i64(v, &t)
        };
        let const_step = match step {
            None => Some(1),
            Some(Expr { kind: ExprKind::Const(Const::Int(k)), .. }) => Some(*k),
            Some(Expr { kind: ExprKind::Unary(UnaryOp::Neg, inner), .. }) => match inner.kind {
                ExprKind::Const(Const::Int(k)) => Some(-k),
                _ => None,
            },
            _ => None,
        };
        let step_v = match step {
            Some(e) if const_step.is_none() => {
                let v = self.expr(e)?;
                let t = self.typed.ty(e).clone();
                let s = self.to_i64(v, &t);
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
                self.fail_if(zero, ErrCode::RangeStepZero, line, &[]);
                s
            }
            _ => {
                let k = const_step.unwrap();
                if k == 0 {
                    let one = self.iconst(1);
                    let c = self.b.ins().icmp_imm_s(IntCC::Equal, one, 1);
                    self.fail_if(c, ErrCode::RangeStepZero, line, &[]);
                }
                self.iconst(k)
            }
        };
        // What the loop guarantees, and the accesses one test before it can prove in bounds
        // (`analysis::loop_facts`).
        let facts = self.facts.loops.for_loops[id].as_ref().expect("loop facts of a for loop");
        let guarded = facts.versioned.clone();
        let exit = self.b.create_block();
        if let (Some(Ok(plan)), None) = (&self.facts.parallel[id], &self.outlined) {
            // A parallel loop: its outlined body on the pool, when the versioning test
            // holds; the serial loop below when it does not, or the run failed.
            let go = self.loop_guards_hold(&guarded, stop_v);
            self.parallel_loop(id, var, plan, (start_v, stop_v, step_v), body, facts.copy(!guarded.is_empty()), go, exit, line)?;
        } else if let Some(Err(reason)) = &self.facts.parallel[id] {
            self.parallel_notes.push(format!("line {line}: the loop runs serially: {reason}"));
        }
        // A planned loop runs pairs of iterations in vector lanes first (`simd`); the scalar
        // loop does the rest.
        let facts_all: &'a crate::analysis::Facts = self.facts;
        let start_v = match &facts_all.vector[id] {
            Some(plan) if const_step == Some(1) && matches!(origin, LoopOrigin::Range) && facts_all.parallel[id].is_none() && super::simd::simd_enabled() => self.vector_loop(plan, start_v, stop_v, line)?,
            _ => start_v,
        };
        if guarded.is_empty() {
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(false), origin, exit, line)?;
        } else {
            let all = self.loop_guards_hold(&guarded, stop_v);
            let fast = self.b.create_block();
            let slow = self.b.create_block();
            self.b.ins().brif(all, fast, &[], slow, &[]);
            self.switch_to(fast);
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(true), origin, exit, line)?;
            self.switch_to(slow);
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(false), origin, exit, line)?;
        }
        self.switch_to(exit);
        Ok(())
    }

    /// Do the accesses a loop's versioning proves in bounds (`ForFacts::versioned`) hold for
    /// the loop up to `stop_v`? An i64 0 or 1 (1 when there are none).
    fn loop_guards_hold(&mut self, guarded: &[crate::analysis::loop_facts::Guarded], stop_v: Value) -> Value {
        use ir::condcodes::IntCC;
        let mut all = self.iconst(1);
        {
            for g in guarded {
                let arr = self.load_var(g.array);
                let extent = arr[1 + g.axis];
                let ok = match g.index {
                    // v + k < extent for every v < stop: stop <= extent - k.
                    GuardIndex::LoopVar(k) => {
                        let lim = self.b.ins().iadd_imm_s(extent, -k);
                        self.b.ins().icmp(IntCC::SignedLessThanOrEqual, stop_v, lim)
                    }
                    GuardIndex::Var(u, k) => {
                        let uv = self.b.use_var(self.vars[u][0]);
                        let x = self.b.ins().iadd_imm_s(uv, k);
                        self.b.ins().icmp(IntCC::UnsignedLessThan, x, extent)
                    }
                    GuardIndex::Const(c) => self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, extent, c),
                };
                let ok = self.b.ins().uextend(types::I64, ok);
                all = self.b.ins().band(all, ok);
            }
        }
        all
    }

    /// A `for` loop's body, with `cont` as its `continue` target and `brk` as its `break`
    /// target (`hidden`: its state for a deoptimization, `facts`: what it guarantees); ends in
    /// `cont`, at the back-edge, after the signal poll.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn loop_body(&mut self, body: &'a [Stmt], cont: ir::Block, brk: ir::Block, hidden: Option<deopt::LoopHidden>, facts: LoopFacts, line: u32) -> CResult<()> {
        self.loops.push(LoopCx { continue_block: cont, break_block: brk, hidden });
        self.scope.loops.push(facts);
        self.block(body)?;
        self.scope.loops.pop();
        self.loops.pop();
        if !self.is_terminated() {
            self.b.ins().jump(cont, &[]);
        }
        self.switch_to(cont);
        self.poll_signals(line);
        Ok(())
    }

    /// Emit one copy of a `for ... in range(...)` loop (see `for_range`), ending at `exit`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn range_loop(
        &mut self,
        var: VarId,
        start_v: Value,
        stop_v: Value,
        step_v: Value,
        const_step: Option<i64>,
        body: &'a [Stmt],
        orelse: &'a [Stmt],
        facts: LoopFacts,
        origin: LoopOrigin,
        exit: ir::Block,
        line: u32,
    ) -> CResult<()> {
        use ir::condcodes::IntCC;
        let cur = self.b.declare_var(types::I64);
        self.b.def_var(cur, start_v);
        let header = self.b.create_block();
        let body_blk = self.b.create_block();
        let cont = self.b.create_block();
        let else_blk = self.b.create_block();
        self.b.ins().jump(header, &[]);
        // A loop header gets its last predecessor (the back edge) later: sealed then.
        self.b.switch_to_block(header);
        let c = self.b.use_var(cur);
        let go = match const_step {
            Some(k) if k > 0 => self.b.ins().icmp(IntCC::SignedLessThan, c, stop_v),
            Some(_) => self.b.ins().icmp(IntCC::SignedGreaterThan, c, stop_v),
            None => {
                let up = self.b.ins().icmp(IntCC::SignedLessThan, c, stop_v);
                let down = self.b.ins().icmp(IntCC::SignedGreaterThan, c, stop_v);
                let pos = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, step_v, 0);
                self.b.ins().select(pos, up, down)
            }
        };
        self.b.ins().brif(go, body_blk, &[], else_blk, &[]);
        self.switch_to(body_blk);
        let iv = self.b.use_var(cur);
        self.assign_var(var, vec![iv], &Type::Int, None, line)?;
        // A deoptimization in the body continues the Python loop from its state here.
        // (A comprehension's loop runs its whole statement again instead: no state.)
        let hidden_loop = self.cur_stmt.is_some_and(|s| self.f.hidden_stmts.contains(&s.id));
        let level = self.cur_stmt.and_then(|s| s.origin.as_ref()).filter(|_| !hidden_loop).map(|p| p.len() - 1);
        let hidden = level.map(|level| match origin {
            LoopOrigin::Range => deopt::LoopHidden::Range { level, cur, stop: stop_v, step: step_v },
            LoopOrigin::Each { iter, .. } => deopt::LoopHidden::Each { level, iter, index: var },
            LoopOrigin::Zip { first, count } => deopt::LoopHidden::Zip { level, first, count, index: var },
            LoopOrigin::Enumerate { iter, start } => deopt::LoopHidden::Enumerate { level, iter, start, index: var },
        });
        self.loop_body(body, cont, exit, hidden, facts, line)?;
        let c = self.b.use_var(cur);
        if const_step == Some(1) {
            // c < stop <= i64::MAX: c + 1 cannot overflow.
            let next = self.b.ins().iadd_imm_s(c, 1);
            self.b.def_var(cur, next);
            self.b.ins().jump(header, &[]);
        } else {
            let (next, of) = self.b.ins().sadd_overflow(c, step_v);
            self.b.def_var(cur, next);
            // Overflow past i64 means the next value is beyond `stop`: the loop is over.
            self.b.ins().brif(of, else_blk, &[], header, &[]);
        }
        self.b.seal_block(header);
        self.switch_to(else_blk);
        self.block(orelse)?;
        if !self.is_terminated() {
            self.b.ins().jump(exit, &[]);
        }
        Ok(())
    }
}

/// The type of the view `base[index]` of an array of type `at` (sliced axes stay, integer
/// indexed ones go; any slice makes it strided), as inference typed it.
fn view_type(at: ArrayType, index: &[Expr], typed: &crate::types::infer::Typed) -> ArrayType {
    let slices = index.iter().filter(|i| matches!(i.kind, ExprKind::Slice(..))).count();
    let ints = typed.index_arity(index) - slices;
    let layout = if slices == 0 { at.layout } else { Layout::Any };
    ArrayType { ndim: at.ndim - ints as u8, layout, ..at }
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// `v = max(a, b, ...)` over arguments of different types (see `infer::min_max_choice`):
    /// Python's rule (the first extreme wins: replaced only by a strictly larger (max) or
    /// smaller (min) value), the winner converted to `v`'s representation and its type's
    /// member index as `v`'s tag.
    fn min_max_choice(&mut self, v: VarId, value: &Expr, line: u32) -> CResult<()> {
        let ExprKind::Call { func, args, .. } = &value.kind else { unreachable!() };
        let is_max = matches!(self.typed.calls.get(&value.id), Some(crate::types::infer::CallTarget::Builtin(b)) if b.name() == "max");
        let _ = func;
        let op = if is_max { CmpOp::Gt } else { CmpOp::Lt };
        let vt = self.var_type(v);
        let members = self.typed.vars[v].members.clone();
        let mut cur_v: Option<CVal> = None;
        let mut cur_tag: Option<Value> = None;
        let mut cur_t: Option<Type> = None;
        for a in args {
            // The argument's value and type (a union variable: its own tag).
            let at = match a.kind {
                ExprKind::Var(x) if self.tags[x].is_some() => None,
                _ => Some(self.typed.ty(a).clone()),
            };
            let raw = self.expr(a)?;
            let (val, tag) = match (&at, &a.kind) {
                (Some(t), _) => {
                    let conv = self.merge_convert(raw, t, &vt, line)?;
                    let idx = members.iter().position(|m| m == t).unwrap_or(0) as i64;
                    (conv, self.b.ins().iconst(types::I8, idx))
                }
                (None, ExprKind::Var(x)) => {
                    let tag = self.b.use_var(self.tags[*x].expect("a tag"));
                    (raw, tag)
                }
                _ => unreachable!(),
            };
            match (cur_v.take(), cur_tag.take()) {
                (None, _) => {
                    cur_v = Some(val);
                    cur_tag = Some(tag);
                }
                (Some(c), Some(ct)) => {
                    // Compare in the unified representation (exact for the types allowed).
                    let better = self.compare(op, val.clone(), &vt, c.clone(), &vt, line)?;
                    let nv: CVal = val.iter().zip(&c).map(|(x, y)| self.b.ins().select(better, *x, *y)).collect();
                    let nt = self.b.ins().select(better, tag, ct);
                    cur_v = Some(nv);
                    cur_tag = Some(nt);
                }
                _ => unreachable!(),
            }
            cur_t = at.or(cur_t);
        }
        let _ = cur_t;
        for (var, x) in self.vars[v].clone().iter().zip(cur_v.expect("two arguments")) {
            self.b.def_var(*var, x);
        }
        if let Some(tag) = self.tags[v] {
            self.b.def_var(tag, cur_tag.expect("a tag"));
        }
        Ok(())
    }
}
