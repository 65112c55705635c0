//! Analyses: facts over (typed) Heron IR that later stages read, each in its own module and
//! each a side table keyed by statement, expression or variable. Nothing here emits code or
//! rewrites IR (DESIGN.md "The pipeline").

pub mod liveness;
