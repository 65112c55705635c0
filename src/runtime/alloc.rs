//! Arrays made inside compiled code: `numpy.empty/zeros/ones(shape, dtype)` and their `_like`
//! forms are made by NumPy itself, through a callback that takes the GIL for that call, so an
//! array returned to Python is an ordinary NumPy array (same flags, same base, same errors for
//! a negative dimension). The call keeps each array alive in `Env::owned` until it returns.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::print::PENDING;
use super::{Env, ErrCode};
use crate::types::DType;

const DTYPES: [DType; 11] = [
    DType::Bool, DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64, DType::F32,
    DType::F64,
];

/// Called by native code: make `numpy.<kind>(shape, dtype)` (kind 0 empty, 1 zeros, 2 ones;
/// `dtype` a `DType as i64`) and write its data pointer, shape and strides (bytes) to `out`
/// (`1 + 2 * ndim` slots). Returns 0, or 1 with the Python exception stored (`ErrCode::PyErr`).
pub extern "C" fn heron_alloc(env: *mut Env, kind: i64, dtype: i64, ndim: i64, shape: *const i64, out: *mut i64) -> i64 {
    let nd = ndim as usize;
    let shape = unsafe { std::slice::from_raw_parts(shape, nd) };
    let out = unsafe { std::slice::from_raw_parts_mut(out, 1 + 2 * nd) };
    let r = Python::attach(|py| -> PyResult<()> {
        let np = py.import("numpy")?;
        let name = ["empty", "zeros", "ones"][kind as usize];
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", DTYPES[dtype as usize].name())?;
        let arr = np.getattr(name)?.call((PyTuple::new(py, shape)?,), Some(&kwargs))?;
        let a = arr.cast::<numpy::PyUntypedArray>().map_err(PyErr::from)?;
        use numpy::PyUntypedArrayMethods;
        out[0] = unsafe { (*a.as_array_ptr()).fields.data } as i64;
        for (i, s) in a.shape().iter().enumerate() {
            out[1 + i] = *s as i64;
        }
        for (i, s) in a.strides().iter().enumerate() {
            out[1 + nd + i] = *s as i64;
        }
        let owned = unsafe { &mut *((*env).owned as *mut Vec<Py<PyAny>>) };
        owned.push(arr.unbind());
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
