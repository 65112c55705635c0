//! Heron's native extension `heron._native`: the compiler pipeline (front end, type inference,
//! analyses, transforms, codegen) and the runtime (dispatcher, callbacks) on top. See
//! docs/architecture.md for the stages and DESIGN.md for the rules.

// The stages, lowest first (each names only those before it; tests/test_layout.py checks).
pub mod ir;
pub mod frontend;
pub mod types;
pub mod abi;
pub mod builtins;
pub mod analysis;
pub mod transform;
pub mod codegen;
pub mod runtime;

use pyo3::prelude::*;

/// Put Heron's signal handler in front of CPython's for signal number `sig` (see
/// `runtime::signals::chain`); returns whether it is in place.
#[pyfunction]
fn chain_signal(sig: i32) -> bool {
    runtime::signals::chain(sig)
}

/// The number of threads parallel loops run on in this process (`runtime::parallel::threads`,
/// after `runtime::parallel::configure`).
#[pyfunction]
fn parallel_threads(py: Python<'_>) -> usize {
    runtime::parallel::configure(py);
    runtime::parallel::threads()
}

/// The Python module `heron._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<runtime::dispatch::Dispatcher>()?;
    m.add_class::<runtime::cfunc::CCallback>()?;
    // Calls from the interpreter through vectorcall (PEP 590), located on a sample dispatcher.
    let sample = Bound::new(m.py(), runtime::dispatch::Dispatcher::new(m.py(), m.py().import("builtins")?.getattr("len")?, None)?)?;
    m.add("_vectorcall", runtime::dispatch::enable_vectorcall(&sample))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(chain_signal, m)?)?;
    m.add_function(wrap_pyfunction!(parallel_threads, m)?)?;
    if let Ok(true) = m.py().import("threading").and_then(|t| Ok(t.getattr("current_thread")?.call0()?.is(&t.getattr("main_thread")?.call0()?))) {
        runtime::signals::set_main_thread();
    }
    // Ctrl-C in compiled loops (runtime::signals); `signal.signal` re-chains.
    if let Err(e) = m.py().import("heron._runtime").and_then(|rt| rt.getattr("watch_signals")?.call1((m.getattr("chain_signal")?,))) {
        e.print(m.py());
    }
    // Panics are caught (a failed compilation runs the function as Python); keep the default
    // hook's report on stderr for HERON_DEBUG only, so users see Heron's report instead.
    if std::env::var_os("HERON_DEBUG").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    // The NaN CPython's math module returns from its own special cases (differs by version).
    let py = m.py();
    if let Ok(nan) = py.import("math").and_then(|math| math.getattr("atan2")?.call1((f64::NAN, 1.0))?.extract::<f64>()) {
        runtime::pymath::PY_NAN_BITS.store(nan.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}
