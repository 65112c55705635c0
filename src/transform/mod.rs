//! Transforms: rewrites of typed Heron IR into typed Heron IR, run after inference and the
//! analyses and before codegen. Empty of features today: `run` applies `PASSES`, which is
//! empty, so codegen sees exactly what inference typed.
//!
//! What goes here, one file per pass (DESIGN.md "The pipeline"):
//! - array-expression lowering: whole-array NumPy expressions (`a * b + c`, `np.sqrt(a)`)
//!   become loops over the elements, so that codegen only ever sees scalar code;
//! - loop lifting: a hot loop of a function that cannot be compiled as a whole becomes a
//!   function of its own (with on-stack replacement at a back-edge);
//! - prange outlining: the body of a `heron.prange` (or `# heron: jit, parallel`) loop becomes
//!   a function the thread pool runs on chunks of the range;
//! - the vectorization plan: which elementwise loops codegen emits with 128-bit vectors, and
//!   how their tails and reductions go.
//!
//! A pass takes a typed function and gives one back. A pass that changes the IR keeps the
//! side tables true: it recomputes them (`analysis::analyze`) for what it returns, and it
//! numbers new statements and expressions past `Function::n_stmts` / `n_exprs`.

use std::sync::Arc;

use crate::analysis::Facts;
use crate::ir::{CResult, Function};
use crate::types::infer::Typed;

/// One specialization between inference and codegen: the function, its types, and the
/// analyses' side tables over both.
pub struct TypedFunction {
    pub f: Arc<Function>,
    pub typed: Typed,
    pub facts: Facts,
}

/// A rewrite of a typed function.
pub type Pass = fn(TypedFunction) -> CResult<TypedFunction>;

/// The passes, in the order they run, by name (empty today).
pub static PASSES: &[(&str, Pass)] = &[];

/// Run every pass of `PASSES` over `tf` (the dispatcher calls this between inference and
/// codegen). An error is a reason the specialization is not compiled, as any stage's.
pub fn run(tf: TypedFunction) -> CResult<TypedFunction> {
    PASSES.iter().try_fold(tf, |tf, (_, pass)| pass(tf))
}
