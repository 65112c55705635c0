//! NumPy's floating-point error reports from compiled code: the per-operation report
//! (`heron_np_fp`, called by native code when a result shows an error) and the deferred one
//! (the SSE sticky flags read after a call without side effects, see `codegen::num`).

use pyo3::prelude::*;

use super::print::PENDING;
use crate::abi::{Env, ErrCode, FuncInfo};

/// The x87 status word's exception flags (bits 0-5, laid out as MXCSR's). NumPy's SIMD loops
/// that suppress exceptions in their vector code raise the flag they owe with
/// `feraiseexcept`, which glibc implements for overflow and underflow with x87 instructions
/// (sysdeps/x86_64/fpu/fraiseexcpt.c): `numpy.exp` of a float32 that overflows sets only the
/// x87 flag. NumPy reads both (`fetestexcept`); so does Heron.
#[cfg(target_arch = "x86_64")]
fn x87_flags() -> u32 {
    let sw: u16;
    unsafe { std::arch::asm!("fnstsw ax", out("ax") sw, options(nomem, nostack, preserves_flags)) };
    (sw & 0x3f) as u32
}

#[cfg(target_arch = "x86_64")]
fn x87_clear() {
    unsafe { std::arch::asm!("fnclex", options(nomem, nostack, preserves_flags)) };
}

/// Clear the sticky exception flags of this thread (MXCSR bits 0-5, and the x87 status
/// word's).
#[allow(deprecated)]
pub fn flags_clear() {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() & !0x3f);
        x87_clear();
    }
}

/// The sticky flags now, SSE's and x87's together (to put back with `flags_restore`).
#[allow(deprecated)]
pub fn flags_save() -> u32 {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::_mm_getcsr;
        return (_mm_getcsr() & 0x3f) | x87_flags();
    }
    #[allow(unreachable_code)]
    0
}

/// Set the sticky flags back to `saved` (from `flags_save`): in MXCSR, the x87 ones cleared
/// (a flag stays raised for everyone who tests them, `fetestexcept` included).
#[allow(deprecated)]
pub fn flags_restore(saved: u32) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr((_mm_getcsr() & !0x3f) | (saved & 0x3f));
        x87_clear();
    }
}

/// Raise the sticky flags `bits` (from `flags_save` on another thread) in this thread's MXCSR,
/// as if the operations that raised them had run here (`runtime::parallel` hands a worker's
/// flags to the thread that waits for it).
#[allow(deprecated)]
pub fn flags_raise(bits: u32) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | (bits & 0x3f));
    }
}

/// MXCSR sticky flags NumPy reports by default: invalid (bit 0), divide-by-zero (bit 2) and
/// overflow (bit 3).
pub const REPORTED: u32 = 0x0d;
/// The underflow flag (bit 4): NumPy ignores it unless `numpy.seterr(under=...)` says
/// otherwise (see `numpy_reports_underflow`).
pub const UNDERFLOW: u32 = 0x10;

/// Did an operation since `flags_clear` raise one of the MXCSR flags in `mask`?
#[allow(deprecated)]
pub fn flags_raised(mask: u32) -> bool {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::_mm_getcsr;
        return ((_mm_getcsr() & 0x3f) | x87_flags()) & mask != 0;
    }
    #[allow(unreachable_code)]
    false
}

/// Does NumPy's error state report underflow (`numpy.geterr()["under"]` other than
/// "ignore")? Asked only after an underflow, so its cost does not matter.
fn numpy_reports_underflow(py: Python<'_>) -> bool {
    let mode = || -> PyResult<bool> { Ok(crate::runtime::import(py, "numpy")?.call_method0("geterr")?.get_item("under")?.extract::<String>()? != "ignore") };
    mode().unwrap_or(true)
}

/// After a call whose NumPy float reports were deferred: did an operation raise a flag NumPy
/// would report?
pub fn deferred_report_due(py: Python<'_>) -> bool {
    flags_raised(REPORTED) || (flags_raised(UNDERFLOW) && numpy_reports_underflow(py))
}

/// NumPy's floating-point error report for a NumPy scalar operation whose result overflowed,
/// divided by zero or became NaN (numpy/_core/src/umath: `npy_set_floatstatus_*`, reported as
/// "overflow encountered in scalar multiply" ...). Called by native code only when the result
/// shows one; it applies `numpy.geterr()` (ignore, warn or raise) with the GIL. Returns 0, or 1
/// with the Python exception stored (`ErrCode::PyErr`).
pub extern "C" fn heron_np_fp(env: *mut Env, info: *const FuncInfo, line: i64, op: i64, a: f64, b: f64, r: f64) -> i64 {
    // +16: the operation went through NumPy's ufunc (its report names the ufunc alone).
    let (op, report) = if op >= 16 { (op - 16, "np_ufunc_error") } else { (op, "np_float_error") };
    let opname = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power"].get(op as usize).copied().unwrap_or("operation");
    // NumPy reports an infinite result only from finite operands, a NaN only from non-NaN ones.
    if (r.is_nan() && (a.is_nan() || b.is_nan())) || (r.is_infinite() && !(a.is_finite() && b.is_finite())) || r.is_finite() {
        return 0;
    }
    let kind = if r.is_nan() {
        "invalid"
    } else if (op == 3 || op == 4) && b == 0.0 || (op == 6 && a == 0.0) {
        "divide"
    } else {
        "over"
    };
    let info = unsafe { &*info };
    let r = Python::attach(|py| -> PyResult<()> {
        let warned = crate::runtime::import(py, "heron._runtime")?
            .getattr(report)?
            .call1((kind, opname, info.filename.as_str(), line, info.module.as_str()))?;
        note_warned(env, &warned);
        Ok(())
    });
    match r {
        Ok(()) => 0,
        Err(e) => {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            unsafe { (*env).err_code = ErrCode::PyErr as i64 };
            1
        }
    }
}

/// Count a warning a report function of `heron._runtime` says it issued (`Env::warned`).
pub fn note_warned(env: *mut Env, warned: &Bound<'_, PyAny>) {
    if !env.is_null() && warned.is_truthy().unwrap_or(false) {
        unsafe { (*env).warned += 1 };
    }
}

const NP_WARNINGS: [(&str, &str); 9] = [
    ("over", "add"),
    ("over", "subtract"),
    ("over", "multiply"),
    ("over", "floor_divide"),
    ("divide", "floor_divide"),
    ("divide", "remainder"),
    ("over", "negative"),
    ("over", "absolute"),
    ("over", "cast"),
];

/// Called by native code: NumPy's report of warning `what` (an `NpWarn`) at `line`, under
/// `numpy.seterr` (numpy/_core/src/umath/scalarmath.c.src, `convert_to_<type>` for casts).
/// Returns 0, or 1 with the Python exception stored (`ErrCode::PyErr`).
pub extern "C" fn heron_np_warn(env: *mut Env, info: *const FuncInfo, line: i64, what: i64) -> i64 {
    // +32: the operation went through NumPy's ufunc (its report names the ufunc alone).
    let (what, report) = if what >= 32 { (what - 32, "np_ufunc_error") } else { (what, "np_float_error") };
    let (kind, opname) = NP_WARNINGS.get(what as usize).copied().unwrap_or(("over", "operation"));
    let info = unsafe { &*info };
    let r = Python::attach(|py| -> PyResult<()> {
        let warned = crate::runtime::import(py, "heron._runtime")?.getattr(report)?.call1((kind, opname, info.filename.as_str(), line, info.module.as_str()))?;
        note_warned(env, &warned);
        Ok(())
    });
    match r {
        Ok(()) => 0,
        Err(e) => {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            unsafe { (*env).err_code = ErrCode::PyErr as i64 };
            1
        }
    }
}

/// Called by native code whose NumPy reports are deferred: raise the processor's overflow
/// flag, so that the dispatcher re-runs the call in the interpreter (see `deferred_report_due`).
#[allow(deprecated)]
pub extern "C" fn heron_np_defer() {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x08);
    }
}
