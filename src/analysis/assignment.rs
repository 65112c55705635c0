//! Definite assignment (every read of a local variable follows an assignment on every path)
//! and assignment counts: side tables indexed by `Stmt::id` and by `VarId`.

use crate::ir::*;

/// How many times each local variable is assigned anywhere in the body (parameters count once).
pub fn assignment_counts(f: &Function) -> Vec<usize> {
    let mut counts = vec![0usize; f.vars.len()];
    for &p in &f.params {
        counts[p] += 1;
    }
    walk_stmts(&f.body, &mut |s| {
        for v in s.assigned_vars() {
            counts[v] += 1;
        }
    });
    counts
}

/// Definite-assignment analysis (as Java's, simplified): every read of a local variable must be
/// preceded by an assignment on every path, or Python could raise `UnboundLocalError` where
/// compiled code would read a stale value. Returns the first offending variable and its span.
pub fn check_definite_assignment(f: &Function) -> Result<(), (VarId, Span)> {
    definitely_assigned(f).map(|_| ())
}

/// The variables definitely assigned when each statement starts (indexed by `Stmt::id`; all
/// false for statements that cannot run), or the first read before assignment as
/// `check_definite_assignment`. A deoptimization at a statement hands exactly these to the
/// interpreter: every later read is of one of them or of a variable assigned later.
pub fn definitely_assigned(f: &Function) -> Result<Vec<Vec<bool>>, (VarId, Span)> {
    let mut assigned = vec![false; f.vars.len()];
    for &p in &f.params {
        assigned[p] = true;
    }
    // A comprehension's hidden variables (`$g<n>_...`) are read only where its loops have
    // assigned them (`min`/`max` read the extreme after the first item set it), and are
    // never handed to the interpreter (`codegen::deopt`).
    for (v, name) in f.vars.iter().enumerate() {
        if is_comprehension_var(name) {
            assigned[v] = true;
        }
    }
    let mut rec = vec![vec![false; f.vars.len()]; f.n_stmts];
    da_block(&f.body, &mut assigned, &mut Vec::new(), &mut rec)?;
    Ok(rec)
}

/// Is `name` a hidden variable of a comprehension (see `heron._comprehensions`)?
pub fn is_comprehension_var(name: &str) -> bool {
    name.starts_with("$g") && name[2..].starts_with(|c: char| c.is_ascii_digit())
}

fn da_expr(e: &Expr, assigned: &[bool]) -> Result<(), (VarId, Span)> {
    if let ExprKind::Var(v) = e.kind {
        if !assigned[v] {
            return Err((v, e.span));
        }
    }
    for c in e.children() {
        da_expr(c, assigned)?;
    }
    Ok(())
}

fn da_target(t: &Target, assigned: &mut [bool]) -> Result<(), (VarId, Span)> {
    match t {
        Target::Var(v) => assigned[*v] = true,
        Target::Index { base, index, .. } => {
            da_expr(base, assigned)?;
            for i in index {
                da_expr(i, assigned)?;
            }
        }
        Target::Tuple(ts) => {
            for t in ts {
                da_target(t, assigned)?;
            }
        }
    }
    Ok(())
}

/// After a loop: the variables assigned on every path that leaves it (each `break`, and the
/// `else` clause unless it never falls through).
fn da_after_loop(assigned: &mut Vec<bool>, breaks: Vec<Vec<bool>>, orelse_state: Option<Vec<bool>>) {
    let mut states = breaks;
    states.extend(orelse_state);
    match states.split_first() {
        None => {} // the loop never exits normally: keep the state (code after it is dead)
        Some((first, rest)) => {
            let mut out = first.clone();
            for st in rest {
                for i in 0..out.len() {
                    out[i] = out[i] && st[i];
                }
            }
            *assigned = out;
        }
    }
}

/// Returns whether the block never falls through (ends in return/raise/break/continue).
/// `breaks` collects the assigned-state at each `break` of the innermost enclosing loop.
fn da_block(body: &[Stmt], assigned: &mut Vec<bool>, breaks: &mut Vec<Vec<bool>>, rec: &mut Vec<Vec<bool>>) -> Result<bool, (VarId, Span)> {
    for s in body {
        if let Some(r) = rec.get_mut(s.id) {
            r.clone_from(assigned);
        }
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                da_expr(value, assigned)?;
                for t in targets {
                    da_target(t, assigned)?;
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                da_expr(value, assigned)?;
                if let Target::Var(v) = target {
                    if !assigned[*v] {
                        return Err((*v, s.span));
                    }
                }
                da_target(target, assigned)?;
            }
            StmtKind::Expr(e) => da_expr(e, assigned)?,
            StmtKind::If { cond, then, orelse } => {
                da_expr(cond, assigned)?;
                let mut a1 = assigned.clone();
                let t1 = da_block(then, &mut a1, breaks, rec)?;
                let mut a2 = assigned.clone();
                let t2 = da_block(orelse, &mut a2, breaks, rec)?;
                match (t1, t2) {
                    (true, true) => return Ok(true),
                    (true, false) => *assigned = a2,
                    (false, true) => *assigned = a1,
                    (false, false) => {
                        for i in 0..assigned.len() {
                            assigned[i] = a1[i] && a2[i];
                        }
                    }
                }
            }
            StmtKind::While { cond, body, orelse } => {
                da_expr(cond, assigned)?;
                let mut inner_breaks = Vec::new();
                let mut a1 = assigned.clone();
                da_block(body, &mut a1, &mut inner_breaks, rec)?;
                let mut a2 = assigned.clone();
                let t2 = da_block(orelse, &mut a2, breaks, rec)?;
                let infinite = matches!(cond.kind, ExprKind::Const(Const::Bool(true)));
                let normal_exit = if t2 || infinite { None } else { Some(a2) };
                da_after_loop(assigned, inner_breaks, normal_exit);
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
                for e in [start.as_ref(), Some(stop), step.as_ref()].into_iter().flatten() {
                    da_expr(e, assigned)?;
                }
                let mut inner_breaks = Vec::new();
                let mut a1 = assigned.clone();
                a1[*var] = true;
                da_block(body, &mut a1, &mut inner_breaks, rec)?;
                let mut a2 = assigned.clone();
                let t2 = da_block(orelse, &mut a2, breaks, rec)?;
                da_after_loop(assigned, inner_breaks, if t2 { None } else { Some(a2) });
            }
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    da_expr(e, assigned)?;
                }
                return Ok(true);
            }
            StmtKind::Break => {
                breaks.push(assigned.clone());
                return Ok(true);
            }
            StmtKind::Raise { .. } | StmtKind::Continue => return Ok(true),
            StmtKind::Assert { test, .. } => da_expr(test, assigned)?,
            StmtKind::Pass => {}
        }
    }
    Ok(false)
}
