//! Liveness: the local variables whose current value may still be read, before each statement
//! (a side table indexed by `Stmt::id`). A deoptimization hands the interpreter only these
//! (see `codegen::deopt`), so that native code keeps no dead value alive for it.
//!
//! The classic backward dataflow (Aho, Lam, Sethi, Ullman, "Compilers", 9.2.5) over the
//! structured IR: loops iterate to a fixpoint, `break` continues with what is live after its
//! loop, `continue` with what is live at the loop's head.
//!
//! The same walk finds the dead stores: assignments to a variable that nothing reads after them
//! (`v = x / z` with `v` never read, or overwritten before it is). Their values must still be
//! computed where computing them raises a NumPy warning (see `codegen::fp::keep_for_fp_flags`).

use std::collections::HashSet;

use crate::ir::*;

/// A set of variables (by `VarId`).
pub type VarSet = Vec<bool>;

/// The variables live before each statement (indexed by `Stmt::id`; statements that cannot run
/// get the empty set).
pub fn live_before(f: &Function) -> Vec<VarSet> {
    liveness(f).0
}

/// The variables live before each statement (as `live_before`), and the dead stores: the
/// (`Stmt::id`, variable) pairs of assignments (`=` and `+=` to a variable) whose variable is
/// not live after the statement.
pub fn liveness(f: &Function) -> (Vec<VarSet>, HashSet<(usize, VarId)>) {
    let mut lv = Liveness { n: f.vars.len(), table: vec![vec![false; f.vars.len()]; f.n_stmts], loops: Vec::new(), dead: HashSet::new() };
    let end = vec![false; lv.n];
    lv.block(&f.body, &end);
    (lv.table, lv.dead)
}

struct Liveness {
    n: usize,
    table: Vec<VarSet>,
    /// For each enclosing loop: (live after it, live at its head).
    loops: Vec<(VarSet, VarSet)>,
    /// Dead stores found so far; a loop's body is walked again until its head is stable,
    /// and the last walk (with the final liveness) decides.
    dead: HashSet<(usize, VarId)>,
}

fn union(a: &mut VarSet, b: &VarSet) {
    for (x, y) in a.iter_mut().zip(b) {
        *x |= *y;
    }
}

fn uses(e: &Expr, out: &mut VarSet) {
    if let ExprKind::Var(v) = e.kind {
        out[v] = true;
    }
    for c in e.children() {
        uses(c, out);
    }
}

/// The variables a target reads (the bases and indices of element stores).
fn target_uses(t: &Target, out: &mut VarSet) {
    match t {
        Target::Var(_) => {}
        Target::Index { base, index, .. } => {
            uses(base, out);
            index.iter().for_each(|i| uses(i, out));
        }
        Target::Tuple(ts) => ts.iter().for_each(|t| target_uses(t, out)),
    }
}

impl Liveness {
    /// Record whether statement `id`'s store to `v` is dead (`v` not live `after` it).
    fn mark_store(&mut self, id: usize, v: VarId, after: &VarSet) {
        if after[v] {
            self.dead.remove(&(id, v));
        } else {
            self.dead.insert((id, v));
        }
    }

    /// Live before `body`, given what is live after it.
    fn block(&mut self, body: &[Stmt], after: &VarSet) -> VarSet {
        let mut live = after.clone();
        for s in body.iter().rev() {
            live = self.stmt(s, &live);
        }
        live
    }

    fn stmt(&mut self, s: &Stmt, after: &VarSet) -> VarSet {
        let mut live = after.clone();
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                let mut defs = Vec::new();
                targets.iter().for_each(|t| target_vars(t, &mut defs));
                for d in defs {
                    self.mark_store(s.id, d, after);
                    live[d] = false;
                }
                targets.iter().for_each(|t| target_uses(t, &mut live));
                uses(value, &mut live);
            }
            StmtKind::AugAssign { target, value, .. } => {
                if let Target::Var(v) = target {
                    self.mark_store(s.id, *v, after);
                    live[*v] = true;
                }
                target_uses(target, &mut live);
                uses(value, &mut live);
            }
            StmtKind::Expr(e) => uses(e, &mut live),
            StmtKind::Assert { test, .. } => uses(test, &mut live),
            StmtKind::If { cond, then, orelse } => {
                let mut l = self.block(then, after);
                let l2 = self.block(orelse, after);
                union(&mut l, &l2);
                uses(cond, &mut l);
                live = l;
            }
            StmtKind::While { cond, body, orelse } => {
                let exit = self.block(orelse, after);
                let mut head = exit.clone();
                uses(cond, &mut head);
                loop {
                    self.loops.push((after.clone(), head.clone()));
                    let mut next = self.block(body, &head);
                    self.loops.pop();
                    union(&mut next, &exit);
                    uses(cond, &mut next);
                    if next == head {
                        break;
                    }
                    head = next;
                }
                live = head;
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
                // At the head: the loop ends (orelse) or the next iteration assigns `var`.
                let exit = self.block(orelse, after);
                let mut head = exit.clone();
                loop {
                    self.loops.push((after.clone(), head.clone()));
                    let mut inner = self.block(body, &head);
                    self.loops.pop();
                    inner[*var] = false;
                    let mut next = exit.clone();
                    union(&mut next, &inner);
                    if next == head {
                        break;
                    }
                    head = next;
                }
                live = head;
                for e in [start.as_ref(), Some(stop), step.as_ref()].into_iter().flatten() {
                    uses(e, &mut live);
                }
            }
            StmtKind::Break => live = self.loops.last().map(|(a, _)| a.clone()).unwrap_or_else(|| vec![false; self.n]),
            StmtKind::Continue => live = self.loops.last().map(|(_, h)| h.clone()).unwrap_or_else(|| vec![false; self.n]),
            StmtKind::Return(e) => {
                live = vec![false; self.n];
                if let Some(e) = e {
                    uses(e, &mut live);
                }
            }
            StmtKind::Raise { .. } => live = vec![false; self.n],
            StmtKind::Pass => {}
        }
        if let Some(slot) = self.table.get_mut(s.id) {
            slot.clone_from(&live);
        }
        live
    }
}
