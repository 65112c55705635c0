//! Heron's native extension `heron._native`: the compiler pipeline (front end, type inference,
//! codegen) and the runtime (dispatcher, callbacks). See DESIGN.md for the architecture.

pub mod builtins;
pub mod codegen;
pub mod frontend;
pub mod ir;
pub mod runtime;
pub mod types;

use pyo3::prelude::*;

/// The Python module `heron._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<runtime::dispatch::Dispatcher>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
