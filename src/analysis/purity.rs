//! Effects: does a function have visible side effects (array stores its caller can see,
//! `print`)? A function without them can be re-run by the interpreter, which makes
//! speculation safe (a guess that fails deoptimizes and re-runs the call); calls to other
//! compiled functions are judged by inference, which knows whether each callee is pure.

use crate::ir::*;

/// Does the function have no visible side effects of its own and call nothing but builtins and
/// itself? (Calls to other functions are treated as effects.)
/// Stores into variables marked in `local` (arrays that never leave the function, see
/// `local_arrays`) are not effects.
pub fn is_pure(f: &Function, local: &[bool]) -> bool {
    let mut pure = true;
    let visible = |base: &Expr| !matches!(base.kind, ExprKind::Var(v) if local.get(v).copied().unwrap_or(false));
    walk_stmts(&f.body, &mut |s| {
        for (base, _) in s.index_targets() {
            pure &= !visible(base);
        }
        let mut exprs = s.exprs();
        while let Some(e) = exprs.pop() {
            if let ExprKind::Call { func, .. } = &e.kind {
                // print has an effect; a call to another global function is checked when it is
                // resolved (a compiled callee reports whether it is pure).
                if matches!(&func.kind, ExprKind::Global(n) if n == "print") {
                    pure = false;
                }
            }
            exprs.extend(e.children());
        }
    });
    pure
}
