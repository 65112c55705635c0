//! Runtime: the dispatcher, and what native code calls back into (the helpers of `symbols`).
//!
//! Native code never touches a Python object (DESIGN.md). It reports an exception by filling the
//! call's `Env` (an error code, the line, three integer details; see `crate::abi`) and returning
//! a nonzero status; the dispatcher turns that into the same Python exception CPython would
//! raise. A `print` runs in `print::heron_print`, which takes the GIL for that call only.


pub mod alloc;
pub mod cfunc;
pub mod deopt;
pub mod dispatch;
pub mod fp;
pub mod guards;
pub mod marshal;
pub mod npcall;
pub mod parallel;
pub mod print;
pub mod pymath;
pub mod resolve;
pub mod signals;
pub mod stack;
pub mod traceback;
pub mod ufunc;

/// The module `name`, from `sys.modules` when it is there (one dictionary look-up), else
/// imported. What call-time paths use instead of `py.import`: an import statement's machinery
/// (`PyImport_Import`) costs about 1.5 us even for a loaded module (it asks the module's spec
/// whether it is initializing, an attribute error raised and cleared), which made every NumPy
/// call, allocation and boxed array from compiled code slower than the interpreter's.
pub fn import<'py>(py: pyo3::Python<'py>, name: &str) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::types::PyModule>> {
    let key = pyo3::types::PyString::intern(py, name);
    // Safety: the GIL is held; PyImport_GetModule returns a new reference or NULL.
    let found = unsafe { pyo3::ffi::PyImport_GetModule(key.as_ptr()) };
    if !found.is_null() {
        let m = unsafe { pyo3::Bound::from_owned_ptr(py, found) };
        if let Ok(m) = m.cast_into::<pyo3::types::PyModule>() {
            return Ok(m);
        }
    } else if let Some(e) = pyo3::PyErr::take(py) {
        return Err(e);
    }
    py.import(name)
}

/// Addresses of every runtime symbol native code may call, for `JITBuilder::symbol`: the
/// runtime's own and libm's, then the builtins registry's helpers (`builtins::helpers`). The
/// libm functions are those the process resolves by name (`dlsym`), so native code calls the
/// same symbol version CPython's `math` module calls (a wheel built against an old glibc
/// links older versions of `exp`, `log` and `pow`), falling back to the linked ones.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    static SYMBOLS: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
    SYMBOLS
        .get_or_init(|| {
            linked_symbols()
                .into_iter()
                .chain(crate::builtins::helpers().map(|h| (h.sym, (h.addr)())))
                .map(|(name, p)| {
                    let by_name = if name.starts_with("heron_") {
                        std::ptr::null_mut()
                    } else {
                        let c = std::ffi::CString::new(name).expect("a symbol name");
                        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }
                    };
                    (name, if by_name.is_null() { p as usize } else { by_name as usize })
                })
                .collect()
        })
        .iter()
        .map(|&(n, p)| (n, p as *const u8))
        .collect()
}

/// Make helper `name` ready to be called from native code (`codegen::RuntimeLinks::prepare`).
pub fn prepare_helper(name: &str) -> Result<(), String> {
    match name {
        "heron_np_power_f64" => pyo3::Python::attach(ufunc::ensure_power_loop).map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

fn linked_symbols() -> Vec<(&'static str, *const u8)> {
    extern "C" {
        fn sqrt(x: f64) -> f64;
        fn exp(x: f64) -> f64;
        fn exp2(x: f64) -> f64;
        fn expm1(x: f64) -> f64;
        fn sin(x: f64) -> f64;
        fn cos(x: f64) -> f64;
        fn tan(x: f64) -> f64;
        fn asin(x: f64) -> f64;
        fn acos(x: f64) -> f64;
        fn atan(x: f64) -> f64;
        fn sinh(x: f64) -> f64;
        fn cosh(x: f64) -> f64;
        fn tanh(x: f64) -> f64;
        fn asinh(x: f64) -> f64;
        fn acosh(x: f64) -> f64;
        fn atanh(x: f64) -> f64;
        fn fabs(x: f64) -> f64;
        fn cbrt(x: f64) -> f64;
        fn erf(x: f64) -> f64;
        fn remainder(x: f64, y: f64) -> f64;
        fn nextafter(x: f64, y: f64) -> f64;
        fn erfc(x: f64) -> f64;
        fn copysign(x: f64, y: f64) -> f64;
        fn ceil(x: f64) -> f64;
        fn trunc(x: f64) -> f64;
        fn floor(x: f64) -> f64;
        fn fmod(x: f64, y: f64) -> f64;
        fn pow(x: f64, y: f64) -> f64;
        fn powf(x: f32, y: f32) -> f32;
        fn fmodf(x: f32, y: f32) -> f32;
    }
    vec![
        ("sqrt", sqrt as *const u8),
        ("exp", exp as *const u8),
        ("exp2", exp2 as *const u8),
        ("expm1", expm1 as *const u8),
        ("sin", sin as *const u8),
        ("cos", cos as *const u8),
        ("tan", tan as *const u8),
        ("asin", asin as *const u8),
        ("acos", acos as *const u8),
        ("atan", atan as *const u8),
        ("sinh", sinh as *const u8),
        ("cosh", cosh as *const u8),
        ("tanh", tanh as *const u8),
        ("asinh", asinh as *const u8),
        ("acosh", acosh as *const u8),
        ("atanh", atanh as *const u8),
        ("fabs", fabs as *const u8),
        ("cbrt", cbrt as *const u8),
        ("erf", erf as *const u8),
        ("remainder", remainder as *const u8),
        ("nextafter", nextafter as *const u8),
        ("erfc", erfc as *const u8),
        ("copysign", copysign as *const u8),
        ("floor", floor as *const u8),
        ("ceil", ceil as *const u8),
        ("trunc", trunc as *const u8),
        ("fmod", fmod as *const u8),
        ("pow", pow as *const u8),
        ("powf", powf as *const u8),
        ("fmodf", fmodf as *const u8),
        ("heron_m_log", pymath::heron_m_log as *const u8),
        ("heron_m_log2", pymath::heron_m_log2 as *const u8),
        ("heron_m_log10", pymath::heron_m_log10 as *const u8),
        ("heron_m_log1p", pymath::heron_m_log1p as *const u8),
        ("heron_m_atan2", pymath::heron_m_atan2 as *const u8),
        ("heron_float_floordiv", pymath::heron_float_floordiv as *const u8),
        ("heron_float_mod", pymath::heron_float_mod as *const u8),
        ("heron_float_pow", pymath::heron_float_pow as *const u8),
        ("heron_cmp_int_float", pymath::heron_cmp_int_float as *const u8),
        ("heron_print", print::heron_print as *const u8),
        ("heron_round_ndigits", pymath::heron_round_ndigits as *const u8),
        ("heron_alloc", alloc::heron_alloc as *const u8),
        ("heron_buf_alloc", alloc::heron_buf_alloc as *const u8),
        ("heron_buf_free", alloc::heron_buf_free as *const u8),
        ("heron_np_fp", fp::heron_np_fp as *const u8),
        ("heron_np_power_f64", ufunc::heron_np_power_f64 as *const u8),
        ("heron_ufunc", ufunc::heron_ufunc as *const u8),
        ("heron_ufunc_scalar", ufunc::heron_ufunc_scalar as *const u8),
        ("heron_trim_owned", alloc::heron_trim_owned as *const u8),
        ("heron_np_call", npcall::heron_np_call as *const u8),
        ("heron_deopt", deopt::heron_deopt as *const u8),
        ("heron_np_warn", fp::heron_np_warn as *const u8),
        ("heron_check_signals", signals::heron_check_signals as *const u8),
        ("heron_grow", stack::heron_grow as *const u8),
        ("heron_recursion", stack::heron_recursion as *const u8),
        ("heron_np_defer", fp::heron_np_defer as *const u8),
        ("heron_push_frame", traceback::heron_push_frame as *const u8),
        ("heron_parallel_for", parallel::heron_parallel_for as *const u8),
    ]
}
