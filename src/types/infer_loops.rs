//! Type inference of the iterables of `for` loops over arrays that the front end lowers to
//! `$iter = <iterable>; for $k in range(...): x = $iter[$k]` (see `frontend::for_each`):
//! `a.flat`, `np.ndindex(shape)` and `np.ndenumerate(a)`. Each types `$iter` as what codegen
//! indexes (`codegen::iter`), and records the kind of loop in `Typed`. Also the builtins of the
//! loops comprehensions become (`heron._comprehensions`).

use super::infer::{cerr, GlobalValue, Infer};
use crate::ir::*;
use crate::types::*;

impl<'a> Infer<'a> {
    /// `$iter = value` of a `for` loop: the type of `$iter` when `value` is an iterable typed
    /// here (`Some`), else `None` (an array or tuple, typed as any value).
    pub(super) fn loop_iterable(&mut self, v: VarId, value: &Expr, line: u32) -> CResult<Option<Option<Type>>> {
        match &value.kind {
            // `for x in a.flat`: the elements in C order; a C-contiguous array as a 1-d view of
            // the same memory, any other layout as the array itself, indexed in C order.
            ExprKind::Attr(base, attr) if attr == "flat" => {
                let t = match self.expr(base)? {
                    Some(Type::Array(at)) if at.ndim == 1 => Some(Type::Array(at)),
                    Some(Type::Array(at)) if at.layout == Layout::C => Some(Type::Array(ArrayType { ndim: 1, ..at })),
                    Some(Type::Array(at)) => {
                        self.flat_iters.insert(v);
                        Some(Type::Array(at))
                    }
                    Some(other) => return cerr(format!("`for x in a.flat` over a {other} is not supported yet"), line),
                    None => None,
                };
                Ok(Some(self.record(value, t)))
            }
            ExprKind::Call { func, args, kwargs } => match self.resolve_name(func)? {
                // `for ind in np.ndindex(shape)`: `$iter` is the shape, a tuple of ints.
                Some(GlobalValue::LoopBuiltin("ndindex")) => {
                    let t = self.ndindex_shape(args, kwargs, line)?;
                    if t.is_some() {
                        self.ndindex_iters.insert(v);
                    }
                    Ok(Some(self.record(value, t)))
                }
                // `for idx, x in np.ndenumerate(a)`: `$iter` is the array.
                Some(GlobalValue::LoopBuiltin("ndenumerate")) => {
                    let [a] = args.as_slice() else { return cerr("np.ndenumerate() takes one array", line) };
                    if !kwargs.is_empty() {
                        return cerr("np.ndenumerate() takes no keyword arguments", line);
                    }
                    let t = match self.expr(a)? {
                        Some(Type::Array(at)) => {
                            self.ndenumerate_iters.insert(v);
                            Some(Type::Array(at))
                        }
                        Some(other) => return cerr(format!("np.ndenumerate() of a {other} is not supported yet"), line),
                        None => None,
                    };
                    Ok(Some(self.record(value, t)))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// The shape `np.ndindex(...)` iterates: one tuple of ints (`np.ndindex(a.shape)`) or
    /// one or more ints (`np.ndindex(3, 4)`), as a tuple of ints (NumPy accepts both forms).
    fn ndindex_shape(&mut self, args: &[Expr], kwargs: &[(String, Expr)], line: u32) -> CResult<Option<Type>> {
        if !kwargs.is_empty() || args.is_empty() {
            return cerr("np.ndindex() takes a shape: a tuple of ints or one or more ints", line);
        }
        let mut ts = Vec::new();
        for a in args {
            let Some(t) = self.expr(a)? else { return Ok(None) };
            ts.push(t);
        }
        let int = |t: &Type| matches!(t, Type::Int);
        match ts.as_slice() {
            [Type::Tuple(elems)] if !elems.is_empty() && elems.iter().all(int) => Ok(Some(Type::Tuple(elems.clone()))),
            ts if ts.iter().all(int) => Ok(Some(Type::Tuple(ts.to_vec()))),
            _ => cerr("np.ndindex() of anything but a non-empty tuple of ints or ints is not supported yet", line),
        }
    }

    /// The builtins of a comprehension's loops typed apart from `over_members` (None for any
    /// other): `$sum_fixed(total, c)` has `total`'s representation whatever member it holds
    /// (it runs only once a float was added); `$sum_comp(c, total, x)` refuses an item that is
    /// a Python float on some paths only (CPython 3.12+ adds those by two different rules).
    pub(super) fn comprehension_builtin(&mut self, name: &str, args: &[Expr], ats: &[Type], line: u32) -> CResult<Option<Type>> {
        match name {
            "$sum_fixed" => {
                let t = match args[0].kind {
                    ExprKind::Var(v) => self.vars[v].ty.clone(),
                    _ => None,
                };
                Ok(Some(t.unwrap_or_else(|| ats[0].clone())))
            }
            "$sum_comp" => {
                if let ExprKind::Var(v) = args[2].kind {
                    if self.vars[v].is_union() && self.vars[v].members.contains(&Type::Float) {
                        return cerr("sum() of items that are Python floats on some paths only is not supported yet", line);
                    }
                }
                // `$sum_comp(c, total, x, start)`: a start that may be a nonzero int, where
                // CPython adds the first float item without compensation.
                if ats.len() == 4 && matches!(ats[3], Type::Int | Type::Bool) && ats[2] == Type::Float {
                    return cerr("sum() of Python floats from an int start is not supported yet (start it at 0 or a float)", line);
                }
                Ok(Some(Type::Float))
            }
            _ => Ok(None),
        }
    }
}
