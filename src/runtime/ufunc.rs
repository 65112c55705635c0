//! NumPy ufunc inner loops called on one element, for operations where NumPy's scalar result
//! comes from a ufunc loop rather than from libm.
//!
//! NumPy computes `numpy.int64(7) ** 1.5` (and every mixed-type power whose operands are not
//! already float64 scalars) through the `np.power` ufunc, whose float64 loop is NumPy's own SIMD
//! code on CPUs with AVX-512, not libm's `pow`; the last bit can differ. Calling that same loop
//! with a length of one gives NumPy's exact result.

use std::ffi::c_char;
use std::sync::OnceLock;

use numpy::npyffi::PyUFuncObject;
use pyo3::prelude::*;

/// NumPy's type number for float64 (`NPY_DOUBLE`).
const NPY_DOUBLE: c_char = 12;

type Loop = unsafe extern "C" fn(*mut *mut c_char, *mut isize, *mut isize, *mut std::ffi::c_void);

static POWER_DD: OnceLock<(usize, usize)> = OnceLock::new();

/// Find `np.power`'s `dd->d` inner loop (once). Errors when NumPy or the loop is missing.
pub fn ensure_power_loop(py: Python<'_>) -> PyResult<()> {
    if POWER_DD.get().is_some() {
        return Ok(());
    }
    let power = py.import("numpy")?.getattr("power")?;
    let uf = power.as_ptr() as *mut PyUFuncObject;
    let found = unsafe {
        let f = &(*uf).fields;
        let nargs = f.nargs as usize;
        (0..f.ntypes as usize).find_map(|i| {
            let t = std::slice::from_raw_parts(f.types.add(i * nargs), nargs);
            if t.iter().all(|&c| c == NPY_DOUBLE) {
                (*f.functions.add(i)).map(|func| (func as usize, *f.data.add(i) as usize))
            } else {
                None
            }
        })
    };
    match found {
        Some(l) => {
            let _ = POWER_DD.set(l);
            Ok(())
        }
        None => Err(pyo3::exceptions::PyRuntimeError::new_err("numpy.power has no float64 loop")),
    }
}

/// `np.power(a, b)` for float64 scalars, through NumPy's own loop (see the module docs).
pub extern "C" fn heron_np_power_f64(a: f64, b: f64) -> f64 {
    let (func, data) = *POWER_DD.get().expect("power loop resolved at compile time");
    let func: Loop = unsafe { std::mem::transmute(func) };
    let mut x = a;
    let mut y = b;
    let mut out = 0.0f64;
    let mut args = [&mut x as *mut f64 as *mut c_char, &mut y as *mut f64 as *mut c_char, &mut out as *mut f64 as *mut c_char];
    let mut n: isize = 1;
    let mut steps: [isize; 3] = [8, 8, 8];
    unsafe { func(args.as_mut_ptr(), &mut n, steps.as_mut_ptr(), data as *mut std::ffi::c_void) };
    out
}
