//! Type inference of displays that only some calls take: a list display (`[1.0, x]`,
//! `[[a, b], [c, d]]`) as the argument of `numpy.array` or `numpy.asarray`, which the front end
//! lowers to `$list(items...)` (`frontend::lower_display`). It is typed as a tuple of its
//! items' types, which the builtin's rule (`builtins::numpy::array_type`) turns into the
//! array's shape and dtype; anywhere else a list is refused.

use super::builtin::BuiltinFn;
use super::infer::{cerr, CallTarget, Infer};
use crate::ir::*;
use crate::types::*;

impl<'a> Infer<'a> {
    /// `numpy.array(x)` / `numpy.asarray(x)`: the array type, or None when an item's type is
    /// not known yet.
    pub(super) fn np_array_call(&mut self, e: &Expr, b: &'static dyn BuiltinFn, args: &[Expr], kwargs: &[(String, Expr)], line: u32) -> CResult<Option<Type>> {
        if !kwargs.is_empty() {
            return cerr(format!("{}() keywords are not supported in compiled code yet", b.name()), line);
        }
        let mut ts = Vec::new();
        for a in args {
            match self.display_type(a)? {
                Some(t) => ts.push(t),
                None => return Ok(None),
            }
        }
        let r = b.result_type(&ts, line)?;
        self.calls.insert(e.id, CallTarget::Builtin(b));
        Ok(Some(r))
    }

    fn display_type(&mut self, e: &Expr) -> CResult<Option<Type>> {
        let ExprKind::Call { func, args, .. } = &e.kind else { return self.expr(e) };
        if !matches!(&func.kind, ExprKind::Global(n) if n == "$list") {
            return self.expr(e);
        }
        let mut ts = Vec::new();
        for a in args {
            match self.display_type(a)? {
                Some(t) => ts.push(t),
                None => return Ok(None),
            }
        }
        Ok(self.record(e, Some(Type::Tuple(ts))))
    }
}
