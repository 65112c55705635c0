//! The dispatcher's side of CPython's vectorcall protocol (PEP 590): its own entry, the
//! protocol enabled on its type, a call to a function through the protocol, and the
//! positional arguments of one call (`Args`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::{Dispatcher, MAX_ARGS};

/// Call `func` with the argument vector `args` through its own vectorcall (PEP 590), when its
/// type has one; None otherwise. The type fields are those `enable_vectorcall` checks.
pub(super) unsafe fn call_vector(py: Python<'_>, func: &Bound<'_, PyAny>, args: &[*mut pyo3::ffi::PyObject]) -> Option<PyResult<Py<PyAny>>> {
    const TP_VECTORCALL_OFFSET: usize = 56;
    const HAVE_VECTORCALL: std::os::raw::c_ulong = 1 << 11;
    let tp = pyo3::ffi::Py_TYPE(func.as_ptr());
    if pyo3::ffi::PyType_GetFlags(tp) & HAVE_VECTORCALL == 0 {
        return None;
    }
    let offset = *((tp as *const u8).add(TP_VECTORCALL_OFFSET) as *const isize);
    if offset <= 0 {
        return None;
    }
    let f = *((func.as_ptr() as *const u8).offset(offset) as *const Option<VectorcallFunc>);
    let f = f?;
    let r = f(func.as_ptr(), args.as_ptr(), args.len(), std::ptr::null_mut());
    Some(if r.is_null() { Err(PyErr::fetch(py)) } else { Ok(Bound::from_owned_ptr(py, r).unbind()) })
}

/// The positional arguments of one call: the caller's vector of object pointers (vectorcall,
/// or the items of the tuple `tp_call` received, with that tuple), or only a tuple. The tuple
/// is made only when a slow path (fallback, error, returned array) needs one.
pub(super) enum Args<'a, 'py> {
    Vector(&'a [*mut pyo3::ffi::PyObject], std::cell::OnceCell<Bound<'py, PyTuple>>),
    Tuple(Bound<'py, PyTuple>),
}

impl<'a, 'py> Args<'a, 'py> {
    pub(super) fn len(&self) -> usize {
        match self {
            Args::Vector(v, _) => v.len(),
            Args::Tuple(t) => t.len(),
        }
    }

    /// Argument `i` (< `len`), borrowed.
    pub(super) fn get(&self, py: Python<'py>, i: usize) -> Bound<'py, PyAny> {
        match self {
            // Safety: the caller holds a reference to every argument for the whole call.
            Args::Vector(v, _) => unsafe { Bound::from_borrowed_ptr(py, v[i]) },
            Args::Tuple(t) => unsafe { t.get_borrowed_item_unchecked(i) }.to_owned(),
        }
    }

    /// The argument object pointers (borrowed), and their number.
    pub(super) fn pointers(&self) -> ([*mut pyo3::ffi::PyObject; MAX_ARGS], usize) {
        let mut out = [std::ptr::null_mut(); MAX_ARGS];
        let n = self.len().min(MAX_ARGS);
        match self {
            Args::Vector(v, _) => out[..n].copy_from_slice(&v[..n]),
            Args::Tuple(t) => {
                for (i, a) in t.iter().take(n).enumerate() {
                    out[i] = a.as_ptr();
                }
            }
        }
        (out, n)
    }

    pub(super) fn tuple(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        match self {
            Args::Vector(v, cell) => cell
                .get_or_init(|| {
                    let items = v.iter().map(|&p| unsafe { Bound::from_borrowed_ptr(py, p) });
                    PyTuple::new(py, items).expect("a tuple of the arguments")
                })
                .clone(),
            Args::Tuple(t) => t.clone(),
        }
    }
}

/// `PY_VECTORCALL_ARGUMENTS_OFFSET` (Include/cpython/abstract.h): a flag in `nargsf`.
pub(super) const VECTORCALL_ARGUMENTS_OFFSET: usize = 1 << (usize::BITS - 1);

/// CPython's `vectorcallfunc` (PEP 590).
pub(super) type VectorcallFunc = unsafe extern "C" fn(*mut pyo3::ffi::PyObject, *const *mut pyo3::ffi::PyObject, usize, *mut pyo3::ffi::PyObject) -> *mut pyo3::ffi::PyObject;

/// The dispatcher's vectorcall entry (PEP 590): the interpreter passes the arguments as a
/// vector, without the tuple (and, through pyo3's `tp_call`, the argument parsing) that
/// `__call__` costs. Keyword arguments go through `__call__`'s path.
pub(super) unsafe extern "C" fn dispatcher_vectorcall(
    callable: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargsf: usize,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    let py = unsafe { Python::assume_attached() };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> PyResult<Py<PyAny>> {
        let me = unsafe { Bound::from_borrowed_ptr(py, callable).cast_into_unchecked::<Dispatcher>() };
        let d = me.get();
        let n = nargsf & !VECTORCALL_ARGUMENTS_OFFSET;
        let items: &[*mut pyo3::ffi::PyObject] = if n == 0 { &[] } else { unsafe { std::slice::from_raw_parts(args, n) } };
        let args_of_call = Args::Vector(items, std::cell::OnceCell::new());
        if kwnames.is_null() {
            return d.call_impl(py, &args_of_call, None);
        }
        let names = unsafe { Bound::from_borrowed_ptr(py, kwnames).cast_into_unchecked::<PyTuple>() };
        let kwargs = PyDict::new(py);
        for (k, name) in names.iter().enumerate() {
            kwargs.set_item(name, unsafe { Bound::from_borrowed_ptr(py, *args.add(n + k)) })?;
        }
        d.call_impl(py, &args_of_call, Some(&kwargs))
    }));
    match r {
        Ok(Ok(v)) => v.into_ptr(),
        Ok(Err(e)) => {
            e.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            PyRuntimeError::new_err("heron: internal error in the dispatcher").restore(py);
            std::ptr::null_mut()
        }
    }
}

/// Give the `Dispatcher` type the vectorcall protocol (PEP 590). pyo3 0.30 cannot declare it,
/// so this sets `tp_vectorcall_offset` and `Py_TPFLAGS_HAVE_VECTORCALL` in the type object,
/// whose layout (Include/cpython/object.h) is the same on CPython 3.10 to 3.14. Each field is
/// located and checked against what the API reports (`__basicsize__`, `PyType_GetFlags`)
/// before anything is written; on any mismatch the type keeps `tp_call` alone (correct,
/// slower). `sample` is any dispatcher (to locate the `vectorcall` field in an instance).
pub fn enable_vectorcall(sample: &Bound<'_, Dispatcher>) -> bool {
    const TP_BASICSIZE: usize = 32;
    const TP_VECTORCALL_OFFSET: usize = 56;
    const TP_CALL: usize = 128;
    const TP_FLAGS: usize = 168;
    const HAVE_VECTORCALL: std::os::raw::c_ulong = 1 << 11;
    let tp = sample.get_type();
    let tpp = tp.as_ptr() as *mut u8;
    let Ok(basicsize) = tp.getattr("__basicsize__").and_then(|b| b.extract::<isize>()) else { return false };
    let field = &sample.get().vectorcall as *const VectorcallFunc as usize;
    let offset = field as isize - sample.as_ptr() as isize;
    if offset <= 0 || offset + 8 > basicsize {
        return false;
    }
    unsafe {
        let flags = pyo3::ffi::PyType_GetFlags(tp.as_ptr() as *mut pyo3::ffi::PyTypeObject);
        let call_slot = pyo3::ffi::PyType_GetSlot(tp.as_ptr() as *mut pyo3::ffi::PyTypeObject, pyo3::ffi::Py_tp_call);
        let ok = *(tpp.add(TP_BASICSIZE) as *const isize) == basicsize
            && *(tpp.add(TP_FLAGS) as *const std::os::raw::c_ulong) == flags
            && *(tpp.add(TP_CALL) as *const *mut std::ffi::c_void) == call_slot
            && !call_slot.is_null()
            && *(tpp.add(TP_VECTORCALL_OFFSET) as *const isize) == 0;
        if !ok {
            return false;
        }
        *(tpp.add(TP_VECTORCALL_OFFSET) as *mut isize) = offset;
        *(tpp.add(TP_FLAGS) as *mut std::os::raw::c_ulong) = flags | HAVE_VECTORCALL;
        pyo3::ffi::PyType_Modified(tp.as_ptr() as *mut pyo3::ffi::PyTypeObject);
    }
    true
}
