//! Escape analysis: the local variables holding arrays made in the function that never leave
//! it (a side table by `VarId`), and the allocation calls that make them (by `ExprId`).

use std::collections::HashMap;

use crate::ir::*;
use crate::types::infer::{CallTarget, VarInfo};
use crate::types::{Form, Type};

/// Escape analysis for arrays made in the function: a variable is local when every value it
/// gets is a fresh `numpy.empty/zeros/ones` array and every use of it is an element read or
/// store (one integer index per dimension), `len(v)`, or `v.shape`, `v.size`, `v.ndim`. Its
/// arrays then never leave the function (no alias, view, call, return or print), so codegen
/// can allocate them without NumPy and free each one when the variable is reassigned or the
/// function returns, as reference counting would in the interpreter.
/// Returns the local variables and the allocation calls that feed them.
pub fn local_arrays(
    f: &Function,
    vars: &[VarInfo],
    types: &[Option<Type>],
    calls: &HashMap<ExprId, CallTarget>,
) -> (Vec<bool>, std::collections::HashSet<ExprId>) {
    let is_array = |v: VarId| vars[v].members.len() == 1 && matches!(vars[v].ty, Some(Type::Array(_)));
    let mut local: Vec<bool> = (0..vars.len()).map(is_array).collect();
    for p in &f.params {
        local[*p] = false;
    }
    let element = |base: &Expr, index: &[Expr]| -> bool {
        let Some(Some(Type::Array(at))) = types.get(base.id) else { return false };
        index.len() == at.ndim as usize
            && index.iter().all(|i| !matches!(i.kind, ExprKind::Slice(..)) && matches!(types.get(i.id), Some(Some(t)) if t.is_scalar()))
    };
    // Uses: mark every variable that appears anywhere but in an allowed position.
    fn visit(e: &Expr, allowed: &dyn Fn(&Expr) -> Option<VarId>, bad: &mut Vec<bool>) {
        if let Some(_v) = allowed(e) {
            // The variable itself is fine here; its index expressions still count.
            if let ExprKind::Index(_, idx) = &e.kind {
                for i in idx {
                    visit(i, allowed, bad);
                }
            }
            return;
        }
        if let ExprKind::Var(v) = e.kind {
            bad[v] = true;
            return;
        }
        for c in e.children() {
            visit(c, allowed, bad);
        }
    }
    let allowed = |e: &Expr| -> Option<VarId> {
        match &e.kind {
            ExprKind::Index(base, idx) => match base.kind {
                ExprKind::Var(v) if element(base, idx) => Some(v),
                _ => None,
            },
            ExprKind::Attr(base, name) if matches!(name.as_str(), "shape" | "size" | "ndim") => match base.kind {
                ExprKind::Var(v) => Some(v),
                _ => None,
            },
            ExprKind::Call { args, kwargs, .. } if args.len() == 1 && kwargs.is_empty() && matches!(calls.get(&e.id), Some(CallTarget::Builtin(b)) if b.name() == "len") => {
                match args[0].kind {
                    ExprKind::Var(v) => Some(v),
                    _ => None,
                }
            }
            _ => None,
        }
    };
    let mut bad = vec![false; vars.len()];
    let mut allocs = Vec::new();
    walk_stmts(&f.body, &mut |s| {
        match &s.kind {
            StmtKind::Assign { targets, value } if matches!(targets.as_slice(), [Target::Var(_)]) && matches!(calls.get(&value.id), Some(CallTarget::Builtin(b)) if matches!(b.form(), Form::Alloc { .. })) => {
                let Target::Var(v) = targets[0] else { unreachable!() };
                allocs.push((v, value.id));
            }
            // Any other value makes a variable non-local (a loop variable is an int anyway).
            _ => s.assigned_vars().into_iter().for_each(|v| bad[v] = true),
        }
        for (base, index) in s.index_targets() {
            match base.kind {
                ExprKind::Var(_) if element(base, index) => {}
                _ => visit(base, &allowed, &mut bad),
            }
            for i in index {
                visit(i, &allowed, &mut bad);
            }
        }
        for e in s.exprs() {
            visit(e, &allowed, &mut bad);
        }
    });
    for (v, b) in bad.iter().enumerate() {
        if *b {
            local[v] = false;
        }
    }
    let ids = allocs.into_iter().filter(|(v, _)| local[*v]).map(|(_, id)| id).collect();
    (local, ids)
}
