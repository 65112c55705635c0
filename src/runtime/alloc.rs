//! Arrays made inside compiled code: `numpy.empty/zeros/ones(shape, dtype)` and their `_like`
//! forms are made by NumPy itself, through a callback that takes the GIL for that call, so an
//! array returned to Python is an ordinary NumPy array (same flags, same base, same errors for
//! a negative dimension). The call keeps each array alive in `Env::owned` until it returns.
//!
//! Arrays that never leave the function (`analysis::escape::local_arrays`: only indexed, never
//! aliased, passed, returned or viewed) need no NumPy object: `heron_buf_alloc` takes their
//! memory from the Rust allocator without the GIL, and `heron_buf_free` gives it back when the
//! variable is reassigned or the function returns (as reference counting frees it in the
//! interpreter). `Buffers` keeps what is live, so an error exit frees the rest.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::print::PENDING;
use crate::abi::{Env, ErrCode};
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
        let arr = if kind == 2 {
            let np = crate::runtime::import(py, "numpy")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("dtype", DTYPES[dtype as usize].name())?;
            np.getattr("ones")?.call((PyTuple::new(py, shape)?,), Some(&kwargs))?
        } else {
            // numpy.empty / numpy.zeros through NumPy's C API (what they call), without the
            // Python-level call: the same array, errors and messages.
            new_array(py, DTYPES[dtype as usize], shape, kind == 1)?
        };
        let a = arr.cast::<numpy::PyUntypedArray>().map_err(PyErr::from)?;
        use numpy::PyUntypedArrayMethods;
        out[0] = unsafe { (*a.as_array_ptr()).fields.data } as i64;
        for (i, s) in a.shape().iter().enumerate() {
            out[1 + i] = *s as i64;
        }
        for (i, s) in a.strides().iter().enumerate() {
            out[1 + nd + i] = *s as i64;
        }
        keep(env, arr.unbind());
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

/// A new C-ordered NumPy array (`PyArray_NewFromDescr`, or `PyArray_Zeros` when `zeroed`).
fn new_array<'py>(py: Python<'py>, d: DType, shape: &[i64], zeroed: bool) -> PyResult<Bound<'py, PyAny>> {
    use numpy::npyffi::PY_ARRAY_API;
    let mut dims: Vec<numpy::npyffi::npy_intp> = shape.iter().map(|&s| s as numpy::npyffi::npy_intp).collect();
    if !zeroed {
        return array_from_descr(py, d, &mut dims, None, std::ptr::null_mut(), 0);
    }
    unsafe {
        let descr = PY_ARRAY_API.PyArray_DescrFromType(py, super::print::type_num(d));
        if descr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let p = PY_ARRAY_API.PyArray_Zeros(py, dims.len() as i32, dims.as_mut_ptr(), descr, 0);
        if p.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, p))
    }
}

/// `PyArray_NewFromDescr` for a `numpy.ndarray` of dtype `d`: new memory (`data` null,
/// C-ordered, `strides` None), or a view of `data` with `strides` (bytes) and NumPy's `flags`.
pub fn array_from_descr<'py>(py: Python<'py>, d: DType, dims: &mut [numpy::npyffi::npy_intp], strides: Option<&mut [numpy::npyffi::npy_intp]>, data: *mut std::ffi::c_void, flags: i32) -> PyResult<Bound<'py, PyAny>> {
    use numpy::npyffi::{NpyTypes, PY_ARRAY_API};
    unsafe {
        let descr = PY_ARRAY_API.PyArray_DescrFromType(py, super::print::type_num(d));
        if descr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let subtype = numpy::npyffi::get_type_object(py, NpyTypes::PyArray_Type);
        let steps = strides.map_or(std::ptr::null_mut(), |s| s.as_mut_ptr());
        let p = PY_ARRAY_API.PyArray_NewFromDescr(py, subtype, descr, dims.len() as i32, dims.as_mut_ptr(), steps, data, flags, std::ptr::null_mut());
        if p.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, p))
    }
}

/// Keep `obj` (an array native code now points into) alive until the call returns, or until a
/// loop back-edge finds no variable pointing into it (`heron_trim_owned`): arrays made in a
/// loop are freed as the interpreter would free them, not all kept to the end.
pub fn keep(env: *mut Env, obj: Py<PyAny>) {
    let env = unsafe { &mut *env };
    let owned = unsafe { &mut *(env.owned as *mut Vec<Py<PyAny>>) };
    owned.push(obj);
    env.owned_len = owned.len() as i64;
    env.owned_new += 1;
    if env.owned_new >= 16 {
        env.sig_pending |= crate::abi::PENDING_TRIM;
    }
}

/// The bytes `[lo, hi]` (inclusive) an array's elements span; None for a non-array.
fn memory_span(obj: &Bound<'_, PyAny>) -> Option<(i64, i64)> {
    use numpy::{PyArrayDescrMethods, PyUntypedArrayMethods};
    let a = obj.cast::<numpy::PyUntypedArray>().ok()?;
    let data = unsafe { (*a.as_array_ptr()).fields.data } as i64;
    let item = a.dtype().itemsize() as i64;
    let (mut lo, mut hi) = (data, data + item);
    for (n, s) in a.shape().iter().zip(a.strides()) {
        let reach = (*n as i64 - 1).max(0) * *s as i64;
        if reach < 0 {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    Some((lo, hi))
}

/// Called by native code at a loop back-edge when many arrays were made: drop the arrays no
/// variable points into (`ptrs`: the data pointers of every array-valued variable, `n` of
/// them), and those whose memory lies inside an argument's (a view of an argument, such as
/// `np.flip(a)`: the argument keeps that memory alive for the whole call; kept, every one
/// made in a loop stayed to the end of the call, and each array handed to NumPy was looked
/// for among them). Views NumPy made keep their own bases alive.
pub extern "C" fn heron_trim_owned(env: *mut Env, ptrs: *const i64, n: i64, floor: i64) {
    let env = unsafe { &mut *env };
    env.sig_pending &= !crate::abi::PENDING_TRIM;
    env.owned_new = 0;
    let ptrs = unsafe { std::slice::from_raw_parts(ptrs, n as usize) };
    let owned = unsafe { &mut *(env.owned as *mut Vec<Py<PyAny>>) };
    let floor = (floor.max(0) as usize).min(owned.len());
    Python::attach(|py| {
        let args: Vec<(i64, i64)> = if env.args != 0 {
            let args = unsafe { std::slice::from_raw_parts(env.args as *const *mut pyo3::ffi::PyObject, env.nargs as usize) };
            args.iter().filter_map(|&a| memory_span(&unsafe { Bound::from_borrowed_ptr(py, a) })).collect()
        } else {
            Vec::new()
        };
        let mut k = 0usize;
        owned.retain(|o| {
            k += 1;
            if k <= floor {
                return true;
            }
            let Some((lo, hi)) = memory_span(o.bind(py)) else { return true };
            if args.iter().any(|&(alo, ahi)| alo <= lo && hi <= ahi) {
                return false;
            }
            ptrs.iter().any(|&p| p >= lo && p <= hi)
        });
    });
    env.owned_len = owned.len() as i64;
}

/// Memory of the local arrays live in one call: (address, layout).
#[derive(Default)]
pub struct Buffers(Vec<(usize, std::alloc::Layout)>);

impl Drop for Buffers {
    fn drop(&mut self) {
        for (p, layout) in self.0.drain(..) {
            unsafe { std::alloc::dealloc(p as *mut u8, layout) };
        }
    }
}

/// Called by native code: memory for a local C-ordered array `numpy.<kind>(shape, dtype)`
/// (kind 0 empty, 1 zeros, 2 ones), as `heron_alloc` but without NumPy or the GIL. Writes the
/// data pointer, shape and strides (bytes, NumPy's rule for C order) to `out`. A negative
/// dimension or a size beyond `isize` goes to `heron_alloc` for NumPy's own ValueError; memory
/// exhaustion raises MemoryError. Returns 0, or 1 with the exception stored.
pub extern "C" fn heron_buf_alloc(env: *mut Env, kind: i64, dtype: i64, ndim: i64, shape: *const i64, out: *mut i64) -> i64 {
    let nd = ndim as usize;
    let dims = unsafe { std::slice::from_raw_parts(shape, nd) };
    let out = unsafe { std::slice::from_raw_parts_mut(out, 1 + 2 * nd) };
    let d = DTYPES[dtype as usize];
    let item = d.itemsize();
    // NumPy (multiarray/ctors.c) sizes with overflow checks; strides skip zero extents.
    let mut total: i64 = item;
    let mut stride = item;
    for k in (0..nd).rev() {
        let n = dims[k];
        if n < 0 {
            return heron_alloc(env, kind, dtype, ndim, shape, out.as_mut_ptr());
        }
        out[1 + nd + k] = stride;
        if n != 0 {
            stride = stride.saturating_mul(n);
        }
        total = match total.checked_mul(n) {
            Some(t) => t,
            None => return heron_alloc(env, kind, dtype, ndim, shape, out.as_mut_ptr()),
        };
        out[1 + k] = n;
    }
    let Ok(layout) = std::alloc::Layout::from_size_align(total.max(1) as usize, 16) else {
        return heron_alloc(env, kind, dtype, ndim, shape, out.as_mut_ptr());
    };
    let p = unsafe { if kind == 1 { std::alloc::alloc_zeroed(layout) } else { std::alloc::alloc(layout) } };
    if p.is_null() {
        let e = pyo3::exceptions::PyMemoryError::new_err(format!("Unable to allocate {total} bytes for an array with shape {dims:?} and data type {}", d.name()));
        PENDING.with(|c| *c.borrow_mut() = Some(e));
        unsafe { (*env).err_code = ErrCode::PyErr as i64 };
        return 1;
    }
    if kind == 2 {
        let n = (total / item) as usize;
        unsafe {
            match d {
                DType::F64 => std::slice::from_raw_parts_mut(p as *mut f64, n).fill(1.0),
                DType::F32 => std::slice::from_raw_parts_mut(p as *mut f32, n).fill(1.0),
                _ => {
                    // Integers and bool: the value 1 in the item's width, little-endian.
                    let bytes = std::slice::from_raw_parts_mut(p, n * item as usize);
                    bytes.fill(0);
                    for chunk in bytes.chunks_exact_mut(item as usize) {
                        chunk[0] = 1;
                    }
                }
            }
        }
    }
    out[0] = p as i64;
    let bufs = unsafe { &mut *((*env).bufs as *mut Buffers) };
    bufs.0.push((p as usize, layout));
    0
}

/// Called by native code: free a local array's memory from `heron_buf_alloc` (0 is ignored:
/// a variable not yet assigned).
pub extern "C" fn heron_buf_free(env: *mut Env, p: i64) {
    if p == 0 {
        return;
    }
    let bufs = unsafe { &mut *((*env).bufs as *mut Buffers) };
    if let Some(i) = bufs.0.iter().rposition(|(q, _)| *q == p as usize) {
        let (q, layout) = bufs.0.swap_remove(i);
        unsafe { std::alloc::dealloc(q as *mut u8, layout) };
    }
}

/// A new array of `shape` and `dtype` laid out in memory in `order` (axes innermost first, as
/// NumPy's iterator allocates a ufunc's output for operands that are not C-ordered): made by
/// NumPy as `numpy.empty(permuted shape).transpose(...)`, kept alive in `Env::owned`, its data
/// pointer, shape and strides written to `out`. Returns 0, or 1 with the exception stored.
pub fn alloc_in_order(env: *mut Env, dtype: DType, shape: &[i64], order: &[usize], out: *mut i64) -> i64 {
    let nd = shape.len();
    let out = unsafe { std::slice::from_raw_parts_mut(out, 1 + 2 * nd) };
    let r = Python::attach(|py| -> PyResult<()> {
        let np = crate::runtime::import(py, "numpy")?;
        // Outermost first: the memory (C) order of the axes.
        let mem: Vec<usize> = order.iter().rev().copied().collect();
        let pshape: Vec<i64> = mem.iter().map(|&a| shape[a]).collect();
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", dtype.name())?;
        let base = np.getattr("empty")?.call((PyTuple::new(py, &pshape)?,), Some(&kwargs))?;
        // Axis `a` of the result is axis `mem.index(a)` of `base`.
        let axes: Vec<usize> = (0..nd).map(|a| mem.iter().position(|&m| m == a).unwrap()).collect();
        let arr = base.call_method1("transpose", (PyTuple::new(py, &axes)?,))?;
        let a = arr.cast::<numpy::PyUntypedArray>().map_err(PyErr::from)?;
        use numpy::PyUntypedArrayMethods;
        out[0] = unsafe { (*a.as_array_ptr()).fields.data } as i64;
        for (i, s) in a.shape().iter().enumerate() {
            out[1 + i] = *s as i64;
        }
        for (i, s) in a.strides().iter().enumerate() {
            out[1 + nd + i] = *s as i64;
        }
        keep(env, arr.unbind());
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
