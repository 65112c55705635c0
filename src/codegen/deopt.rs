//! Codegen of deoptimization exits and error sites: where native code cannot go on, it writes
//! the live state to a stack slot and calls `runtime::deopt::heron_deopt`, which continues the
//! call in the interpreter from the current statement; the interpreter's result becomes this
//! function's result. Also the source ranges of error sites, for tracebacks.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types, BlockArg, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value};
use cranelift_frontend::Variable;

use super::{repr, ret_reprs, CVal, FunctionCx};
use crate::ir::{Span, VarId};
use crate::abi::{self, CResultBoxing, DeoptPoint, ErrCode, LoopState, Spill};
use crate::types::Type;

/// The hidden state of a loop codegen is inside, for a deoptimization in its body.
#[derive(Clone, Copy)]
pub enum LoopHidden {
    /// `for v in range(...)`: the current value (a variable), stop and step.
    Range { level: usize, cur: Variable, stop: Value, step: Value },
    /// `for v in array`: the front end's array and index variables.
    Each { level: usize, iter: VarId, index: VarId },
    /// `for x, y in zip(a, b)`: the arrays (variables `first..first + count`) and the index.
    Zip { level: usize, first: VarId, count: u8, index: VarId },
    /// `for i, x in enumerate(a, start)`: the array, start and index variables.
    Enumerate { level: usize, iter: VarId, start: VarId, index: VarId },
}

/// A call to a function with side effects already made in the current statement: its source
/// range, its result, and the result's type (see `FunctionCx::stmt_calls`).
#[derive(Clone)]
pub struct MadeCall {
    pub span: Span,
    pub vals: CVal,
    pub ty: Type,
    /// For a call made under a condition (a branch of `x if c else y`, a later operand of
    /// `and`/`or` or of a chained comparison): variables holding its result, zero on the paths
    /// where it was not made. A deoptimization later in the statement hands them over all the
    /// same: the interpreter re-evaluates the statement with the same values, takes the same
    /// branches, and so reads the result only where the call was made.
    pub vars: Option<Vec<Variable>>,
    /// How its result is boxed (a foreign function's, see `abi::deopt::CResultBoxing`).
    pub boxing: CResultBoxing,
}

/// Is `code` one that hands the call to the interpreter rather than raising?
pub fn is_deopt(code: ErrCode) -> bool {
    matches!(code, ErrCode::Overflow | ErrCode::Deopt | ErrCode::ComplexResult)
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// The site number of the operation being emitted (the innermost expression, or the
    /// statement), for tracebacks.
    pub fn site(&mut self) -> i64 {
        let span = match (self.span_stack.last(), self.cur_stmt) {
            (Some(s), _) => *s,
            (None, Some(st)) => st.span,
            (None, None) => self.f.span,
        };
        if let Some(&i) = self.site_ids.get(&span) {
            return i as i64;
        }
        self.sites.push(span);
        self.site_ids.insert(span, self.sites.len() - 1);
        (self.sites.len() - 1) as i64
    }

    /// Hand the call to the interpreter from the current statement (terminates the current
    /// block). Without a point to continue from (a statement the front end made, or calls
    /// with side effects made conditionally in this statement), leaves with `code` as an
    /// error: the dispatcher then re-runs a call without side effects, or reports it.
    /// `boxed_call`: the call whose result a callee handed back boxed.
    pub fn deopt_exit(&mut self, code: ErrCode, line: u32, boxed_call: Option<Span>) {
        if self.outlined.is_some() {
            self.outlined_fail();
            return;
        }
        let Some(point) = self.deopt_point(boxed_call) else {
            let flags = MemFlagsData::trusted();
            let c = self.iconst(code as i64);
            self.b.ins().store(flags, c, self.env, abi::ENV_ERR_CODE);
            self.leave_with_error(line);
            return;
        };
        // The spills, in the point's slot order.
        let mut vals: Vec<Value> = Vec::new();
        let spills = self.points[point].spills.clone();
        let n_vars = self.spill_vars.len();
        for (i, s) in spills.iter().enumerate() {
            if i < n_vars {
                let v = self.spill_vars[i];
                vals.extend(self.load_var(v));
                if let Some(tag) = self.tags[v] {
                    vals.push(self.b.use_var(tag));
                }
            } else if let Some(h) = self.spill_hidden.get(i - n_vars).copied() {
                vals.push(h);
            } else {
                let k = i - n_vars - self.spill_hidden.len();
                match self.stmt_calls[k].vars.clone() {
                    Some(vars) => vals.extend(vars.into_iter().map(|v| self.b.use_var(v))),
                    None => vals.extend(self.stmt_calls[k].vals.clone()),
                }
            }
            let _ = s;
        }
        let ss = self.spill_slot(vals.len());
        for (i, v) in vals.iter().enumerate() {
            let w = super::widen_to_slot(&mut self.b, *v);
            self.b.ins().stack_store(types::I64, w, ss, (8 * i) as i32);
        }
        let reprs = ret_reprs(&self.typed.ret_type(), self.ret_tag.is_some());
        let rs = self.ret_slot(reprs.len());
        let i64t = types::I64;
        let spill_ptr = self.b.ins().stack_addr(i64t, ss, 0);
        let ret_ptr = self.b.ins().stack_addr(i64t, rs, 0);
        let info = self.iconst(self.info as *const abi::FuncInfo as i64);
        let p = self.iconst(point as i64);
        let env = self.env;
        if let (Some((_, base)), true) = (self.warn_base, self.stmt_reports) {
            // The warnings this statement issued so far: its re-run leaves them out.
            let flags = MemFlagsData::trusted();
            let now = self.b.ins().load(i64t, flags, env, abi::ENV_WARNED);
            let n = self.b.ins().isub(now, base);
            self.b.ins().store(flags, n, env, abi::ENV_RERUN_WARNED);
        }
        self.call_tramp("heron_deopt", &[env, info, p, spill_ptr, ret_ptr]);
        let status = self.b.ins().load(i64t, MemFlagsData::trusted(), self.env, abi::ENV_DEOPT_STATUS);
        let failed = self.b.ins().icmp_imm_s(IntCC::NotEqual, status, 0);
        let (fail_blk, ok_blk) = self.branch_cold(failed);
        self.switch_to(fail_blk);
        self.b.ins().jump(self.err_block, &[BlockArg::Value(status)]);
        self.switch_to(ok_blk);
        // The interpreter's result is this call's result.
        let mut k = 0;
        for var in self.ret_vars.clone() {
            let raw = self.b.ins().stack_load(i64t, i64t, rs, (8 * k) as i32);
            let v = self.from_slot(raw, reprs[k]);
            self.b.def_var(var, v);
            k += 1;
        }
        if let Some(tag) = self.ret_tag {
            let raw = self.b.ins().stack_load(i64t, i64t, rs, (8 * k) as i32);
            let v = self.b.ins().ireduce(types::I8, raw);
            self.b.def_var(tag, v);
        }
        self.b.ins().jump(self.exit_block, &[]);
    }

    /// The deoptimization point of the current statement (made once per statement and kind),
    /// and the spill order in `spill_vars` / `spill_hidden` / `stmt_calls`.
    pub(super) fn deopt_point(&mut self, boxed_call: Option<Span>) -> Option<usize> {
        let s = self.cur_stmt?;
        let in_group = self.f.hidden_stmts.contains(&s.id) || self.f.comp_ends.contains(&s.id);
        if let (true, Some(g)) = (in_group, self.groups.last_mut()) {
            g.deopts = true;
        }
        let path = s.origin.clone()?;
        let assigned = self.facts.assigned.get(s.id)?.clone();
        let mut live = self.facts.live.get(s.id)?.clone();
        if let (true, Some(first)) = (in_group, self.groups.last().map(|g| g.first)) {
            // The interpreter runs the comprehension's whole statement again: it reads what
            // was live where its block started (also what is dead here).
            live = self.facts.live.get(first)?.clone();
        }
        // A `for x in array` loop goes on from its array and index, whatever reads them.
        for l in &self.loops {
            match l.hidden {
                Some(LoopHidden::Each { iter, index, .. }) => {
                    live[iter] = true;
                    live[index] = true;
                }
                Some(LoopHidden::Zip { first, count, index, .. }) => {
                    for v in first..first + count as usize {
                        live[v] = true;
                    }
                    live[index] = true;
                }
                Some(LoopHidden::Enumerate { iter, start, index, .. }) => {
                    live[iter] = true;
                    live[start] = true;
                    live[index] = true;
                }
                _ => {}
            }
        }
        let mut spills = Vec::new();
        let mut slot = 0;
        self.spill_vars.clear();
        self.spill_hidden.clear();
        for (v, on) in assigned.iter().enumerate() {
            let Some(ty) = self.typed.vars[v].ty.clone() else { continue };
            // Only what may still be read (and is bound): a dead value is not kept alive for it.
            // A comprehension's own variables: the statement runs again whole.
            if !*on || !live[v] || matches!(ty, Type::Str) || crate::analysis::assignment::is_comprehension_var(&self.f.vars[v]) {
                continue;
            }
            let n = repr(&ty).len();
            let tag_slot = self.tags[v].map(|_| slot + n);
            spills.push(Spill { name: self.f.vars[v].clone(), ty: ty.clone(), members: self.typed.vars[v].members.clone(), slot, tag_slot, boxing: CResultBoxing::Plain });
            slot += n + tag_slot.is_some() as usize;
            self.spill_vars.push(v);
        }
        let mut loops = Vec::new();
        for l in &self.loops {
            match l.hidden {
                Some(LoopHidden::Range { level, cur, stop, step }) => {
                    let names = [format!("$cur{level}"), format!("$stop{level}"), format!("$step{level}")];
                    let cv = self.b.use_var(cur);
                    for (name, v) in names.iter().zip([cv, stop, step]) {
                        spills.push(Spill { name: name.clone(), ty: Type::Int, members: vec![Type::Int], slot, tag_slot: None, boxing: CResultBoxing::Plain });
                        slot += 1;
                        self.spill_hidden.push(v);
                    }
                    let [cur, stop, step] = names;
                    loops.push((level, LoopState::Range { cur, stop, step }));
                }
                Some(LoopHidden::Each { level, iter, index }) => {
                    let (it, index) = (self.f.vars[iter].clone(), self.f.vars[index].clone());
                    let state = if self.typed.flat_iters.contains(&iter) {
                        LoopState::Flat { iter: it, index }
                    } else if self.typed.ndindex_iters.contains(&iter) {
                        LoopState::NdIndex { iter: it, index }
                    } else if self.typed.ndenumerate_iters.contains(&iter) {
                        LoopState::NdEnumerate { iter: it, index }
                    } else {
                        LoopState::Each { iter: it, index }
                    };
                    loops.push((level, state));
                }
                Some(LoopHidden::Zip { level, first, count, index }) => {
                    let iters = (first..first + count as usize).map(|v| self.f.vars[v].clone()).collect();
                    loops.push((level, LoopState::Zip { iters, index: self.f.vars[index].clone() }));
                }
                Some(LoopHidden::Enumerate { level, iter, start, index }) => {
                    let (iter, start, index) = (self.f.vars[iter].clone(), self.f.vars[start].clone(), self.f.vars[index].clone());
                    loops.push((level, LoopState::Enumerate { iter, start, index }));
                }
                None => {}
            }
        }
        let mut substitutions = Vec::new();
        for (k, c) in self.stmt_calls.iter().enumerate() {
            let name = format!("$call{k}");
            spills.push(Spill { name: name.clone(), ty: c.ty.clone(), members: vec![c.ty.clone()], slot, tag_slot: None, boxing: c.boxing });
            slot += repr(&c.ty).len();
            substitutions.push((c.span, name));
        }
        let key = (s.id, self.stmt_calls.len(), boxed_call);
        if let Some(&p) = self.point_ids.get(&key) {
            return Some(p);
        }
        self.points.push(DeoptPoint { path, spills, loops, substitutions, boxed_call, n_slots: slot });
        self.point_ids.insert(key, self.points.len() - 1);
        Some(self.points.len() - 1)
    }

    /// The function's one spill slot, grown to at least `n` 8-byte slots.
    fn spill_slot(&mut self, n: usize) -> ir::StackSlot {
        Self::grow_slot(&mut self.b, &mut self.spill_ss, n)
    }

    /// The function's one slot for a result handed back by the interpreter.
    fn ret_slot(&mut self, n: usize) -> ir::StackSlot {
        Self::grow_slot(&mut self.b, &mut self.ret_ss, n)
    }

    fn grow_slot(b: &mut cranelift_frontend::FunctionBuilder<'_>, cell: &mut Option<ir::StackSlot>, n: usize) -> ir::StackSlot {
        let size = (8 * n.max(1)) as u32;
        match *cell {
            Some(ss) => {
                let data = &mut b.func.sized_stack_slots[ss];
                if data.size < size {
                    data.size = size;
                }
                ss
            }
            None => {
                let ss = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
                *cell = Some(ss);
                ss
            }
        }
    }

    /// Record a call with side effects just made in the current statement (its result may be
    /// handed to the interpreter instead of calling it again).
    pub fn note_made_call(&mut self, span: Span, vals: &CVal, ty: &Type) {
        let vars = (self.cond_depth > 0).then(|| {
            vals.iter()
                .map(|&v| {
                    let t = self.b.func.dfg.value_type(v);
                    let var = self.b.declare_var(t);
                    self.b.def_var(var, v);
                    var
                })
                .collect()
        });
        self.stmt_calls.push(MadeCall { span, vals: vals.clone(), ty: ty.clone(), vars, boxing: CResultBoxing::Plain });
    }

}
