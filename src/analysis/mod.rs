//! Analyses: facts over typed Heron IR that later stages read, one module per fact, each a
//! side table keyed by statement (`Stmt::id`), expression (`ExprId`) or variable (`VarId`).
//! Nothing here emits code or rewrites IR (DESIGN.md "The pipeline"); `analyze` computes every
//! table codegen reads.

pub mod assignment;
pub mod escape;
pub mod liveness;
pub mod loop_facts;
pub mod parallel;
pub mod purity;
pub mod vectorize;

use std::collections::HashSet;

use crate::ir::{CResult, CompileError, ExprId, Function};
use crate::types::infer::Typed;

/// The side tables of one specialization (a function and its types).
#[derive(Debug)]
pub struct Facts {
    /// The variables definitely assigned when each statement starts, by `Stmt::id`
    /// (`assignment::definitely_assigned`).
    pub assigned: Vec<Vec<bool>>,
    /// The variables live before each statement, by `Stmt::id` (`liveness`).
    pub live: Vec<Vec<bool>>,
    /// The dead stores, as (`Stmt::id`, variable) pairs (`liveness::liveness`).
    pub dead_stores: HashSet<(usize, usize)>,
    /// Variables holding arrays that never leave the function, by `VarId` (`escape`).
    pub local_arrays: Vec<bool>,
    /// The `numpy.empty/zeros/ones` calls whose arrays go only into those variables.
    pub local_allocs: HashSet<ExprId>,
    /// No visible side effects: not its own (`purity`, where stores into local arrays do not
    /// count) nor its callees'.
    pub pure: bool,
    /// Loop facts, by `Stmt::id` (`loop_facts`).
    pub loops: loop_facts::LoopTable,
    /// Parallel plans of the candidate loops, by `Stmt::id` (`parallel`).
    pub parallel: parallel::ParallelTable,
    /// Vectorization plans of innermost loops, by `Stmt::id` (`vectorize`).
    pub vector: Vec<Option<vectorize::VectorPlan>>,
}

/// Every table of `f` typed as `typed`. Errors: a read that may come before any assignment
/// (the interpreter would raise `UnboundLocalError`; the function runs as Python).
pub fn analyze(f: &Function, typed: &Typed) -> CResult<Facts> {
    let assigned = match assignment::definitely_assigned(f) {
        Ok(a) => a,
        Err((v, span)) => {
            return Err(CompileError::new(
                format!("variable `{}` might be used before it is assigned (Python would raise UnboundLocalError)", f.vars[v]),
                span.line,
            ))
        }
    };
    let single_assign: Vec<bool> = assignment::assignment_counts(f).iter().map(|&c| c == 1).collect();
    let (local_arrays, local_allocs) = escape::local_arrays(f, &typed.vars, &typed.expr_types, &typed.calls);
    // Stores into arrays that never leave the function are invisible to the caller.
    let pure = typed.pure || (!typed.callee_effects && purity::is_pure(f, &local_arrays));
    let (live, dead_stores) = liveness::liveness(f);
    Ok(Facts {
        assigned,
        parallel: parallel::parallel_loops(f, typed, &live),
        vector: vectorize::vector_plans(f, typed),
        live,
        dead_stores,
        local_arrays,
        local_allocs,
        pure,
        loops: loop_facts::loop_facts(f, typed, &single_assign),
    })
}
