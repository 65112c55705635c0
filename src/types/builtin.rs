//! How type inference sees an entry of the builtins registry: a name, a form and a type rule.
//! The registry (`crate::builtins`, a later stage) implements `BuiltinFn`; the resolver hands
//! its entries to inference, which never names the registry itself.

use std::fmt;

use super::{DType, Type};
use crate::ir::CResult;

/// A function of the builtins registry: a Python builtin, a `math` function, a NumPy array
/// constructor.
pub trait BuiltinFn: Sync + fmt::Debug {
    /// Its name as a program writes it (`abs`, `math.sqrt`, `numpy.zeros_like`); unique.
    fn name(&self) -> &'static str;
    /// How a call to it is typed (see `Form`).
    fn form(&self) -> Form;
    /// The result type of a call with positional arguments of these types. For
    /// `Form::Alloc`, of the first argument alone: the array made, with NumPy's default dtype
    /// (inference applies a `dtype` argument).
    fn result_type(&self, args: &[Type], line: u32) -> CResult<Type>;
    /// The dtype it names when passed as `dtype=` to a NumPy constructor (`float`, `int`,
    /// `bool`).
    fn as_dtype(&self) -> Option<DType>;
    /// The registry's own entry, for the stages after inference (codegen finds the lowering).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// How inference types a call to a builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Positional arguments only; the type rule gives the result, over every member of an
    /// argument variable that changes type.
    Call,
    /// `print(...)`: the keywords `sep`, `end` and `flush` besides the values (the type rule
    /// checks the values).
    Print,
    /// A NumPy array constructor: `(shape[, dtype])`, or `(array[, dtype])` when `like`.
    Alloc { like: bool },
}
