//! Marshalling between Python objects and native values: which arguments Heron takes
//! (`ArgKind`, read without importing NumPy into a program that does not use it), and their
//! flattened 8-byte slots for the `entry` trampoline.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;

use numpy::prelude::*;
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt};

use crate::types::{ArrayType, DType, Layout, Type};
/// The type of one argument value, as specialization sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Bool,
    Int,
    Float,
    Np(DType),
    Array(ArrayType),
    /// `None` (an optional argument left out: `out=None`); no slots.
    None,
    /// A Python `complex` (two slots: the real and imaginary parts).
    Complex,
    /// A C pointer to elements of this dtype: a parameter of a compiled C callback
    /// (`heron.cfunc`), never made from a Python argument.
    CPtr(DType),
    /// A cffi pointer (`ffi.new("struct vec *")`, `ffi.cast("double *", addr)`): its address.
    CData(crate::types::cnative::CPrim),
}

impl ArgKind {
    pub fn to_type(self) -> Type {
        match self {
            ArgKind::Bool => Type::Bool,
            ArgKind::Int => Type::Int,
            ArgKind::Float => Type::Float,
            ArgKind::Np(d) => Type::Np(d),
            ArgKind::Array(a) => Type::Array(a),
            ArgKind::None => Type::None,
            ArgKind::CPtr(d) => Type::CPtr(Some(d)),
            ArgKind::CData(prim) => Type::CData { prim, buffer: false },
            ArgKind::Complex => Type::Complex,
        }
    }
}


fn numpy_scalar_types(py: Python<'_>) -> PyResult<&'static Vec<(usize, DType)>> {
    static TYPES: PyOnceLock<Vec<(usize, DType)>> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        let np = crate::runtime::import(py, "numpy")?;
        let mut v = Vec::new();
        for d in [
            DType::Bool, DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64,
            DType::F32, DType::F64,
        ] {
            let t = np.getattr(d.name())?;
            v.push((t.as_ptr() as usize, d));
        }
        Ok(v)
    })
}

/// NumPy array flags (numpy/ndarraytypes.h).
const NPY_ARRAY_C_CONTIGUOUS: i32 = 0x0001;
const NPY_ARRAY_ALIGNED: i32 = 0x0100;
const NPY_ARRAY_WRITEABLE: i32 = 0x0400;

/// The array type of `obj` when it is exactly a `numpy.ndarray` Heron compiles (1 to 4
/// dimensions, native byte order, aligned, a supported dtype); `None` otherwise. Looks at
/// NumPy only when NumPy is loaded (a program that does not use NumPy never loads it).
pub fn array_type(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Option<ArrayType> {
    if !numpy_loaded(py) {
        return None;
    }
    let arr = obj.cast::<PyUntypedArray>().ok()?;
    // Exactly numpy.ndarray: a subclass (numpy.ma, user classes) may override indexing.
    if unsafe { numpy::npyffi::array::PyArray_CheckExact(py, obj.as_ptr()) } == 0 {
        return None;
    }
    let nd = arr.ndim();
    if nd == 0 || nd > 4 {
        return None;
    }
    let dtype = arr.dtype();
    if dtype.is_native_byteorder() == Some(false) {
        return None;
    }
    let d = DType::from_kind(dtype.kind(), dtype.itemsize())?;
    let flags = unsafe { (*arr.as_array_ptr()).fields.flags };
    if flags & NPY_ARRAY_ALIGNED == 0 {
        return None;
    }
    let layout = if flags & NPY_ARRAY_C_CONTIGUOUS != 0 { Layout::C } else { Layout::Any };
    Some(ArrayType { dtype: d, ndim: nd as u8, layout, readonly: flags & NPY_ARRAY_WRITEABLE == 0 })
}

/// Is module `name` in `sys.modules`? One borrowed dictionary look-up (`key` keeps the
/// interned name), where an import statement's machinery costs about 1.5 us.
fn in_sys_modules(py: Python<'_>, key: &PyOnceLock<Py<pyo3::types::PyString>>, name: &str) -> bool {
    let key = key.get_or_init(py, || pyo3::types::PyString::intern(py, name).unbind());
    // Safety: the GIL is held (`py`); both calls return borrowed references.
    unsafe {
        let modules = pyo3::ffi::PyImport_GetModuleDict();
        !modules.is_null() && !pyo3::ffi::PyDict_GetItemWithError(modules, key.as_ptr()).is_null()
    }
}

/// Has this process imported NumPy? (Once it has, it stays loaded.) One dictionary look-up
/// in `sys.modules` until then.
pub fn numpy_loaded(_py: Python<'_>) -> bool {
    static LOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if LOADED.load(Ordering::Relaxed) {
        return true;
    }
    static KEY: PyOnceLock<Py<pyo3::types::PyString>> = PyOnceLock::new();
    let found = in_sys_modules(_py, &KEY, "numpy");
    if found {
        LOADED.store(true, Ordering::Relaxed);
    }
    found
}

/// The dtype of `obj` when it is exactly a NumPy scalar type Heron compiles.
pub fn numpy_scalar_dtype(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Option<DType> {
    if !numpy_loaded(py) {
        return None;
    }
    let tp = obj.get_type().as_ptr() as usize;
    let types = numpy_scalar_types(py).ok()?;
    types.iter().find(|(p, _)| *p == tp).map(|(_, d)| *d)
}

/// The register value (8-byte slot) of a NumPy scalar of dtype `d`.
pub fn numpy_scalar_raw(obj: &Bound<'_, PyAny>, d: DType) -> PyResult<u64> {
    Ok(match d {
        DType::Bool => obj.is_truthy()? as u64,
        DType::F64 => obj.extract::<f64>()?.to_bits(),
        DType::F32 => (obj.extract::<f64>()? as f32).to_bits() as u64,
        DType::U64 => obj.extract::<u64>()?,
        _ => obj.extract::<i64>()? as u64,
    })
}

/// Classify one argument; `None` when Heron does not take this value (it then runs as Python).
pub fn arg_kind(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Option<ArgKind> {
    if obj.is_exact_instance_of::<PyBool>() {
        return Some(ArgKind::Bool);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(|_| ArgKind::Int);
    }
    if obj.is_exact_instance_of::<PyFloat>() {
        return Some(ArgKind::Float);
    }
    if obj.is_none() {
        return Some(ArgKind::None);
    }
    if obj.is_exact_instance_of::<pyo3::types::PyComplex>() {
        return Some(ArgKind::Complex);
    }
    // Arrays first: the common argument of numeric code.
    let numpy = numpy_loaded(py);
    if numpy {
        if let Some(a) = array_type(py, obj) {
            return Some(ArgKind::Array(a));
        }
    }
    if let Some(prim) = cdata_pointer(py, obj).map(|(prim, _)| prim) {
        return Some(ArgKind::CData(prim));
    }
    if !numpy {
        return None;
    }
    numpy_scalar_dtype(py, obj).map(ArgKind::Np)
}

/// `(what it points to, address)` when `obj` is a cffi pointer compiled code takes (to a
/// number, `void` or a struct: `heron._cnative.cdata_arg`). Asks Python only about cffi's
/// own objects, and only once cffi is loaded.
pub fn cdata_pointer(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Option<(crate::types::cnative::CPrim, usize)> {
    static BASE: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
    let base = match BASE.get(py) {
        Some(b) => b,
        None => {
            // Until cffi is loaded: one look-up in `sys.modules` per argument.
            static KEY: PyOnceLock<Py<pyo3::types::PyString>> = PyOnceLock::new();
            if !in_sys_modules(py, &KEY, "_cffi_backend") {
                return None;
            }
            let t = crate::runtime::import(py, "_cffi_backend").ok()?.getattr("_CDataBase").ok()?.cast_into::<pyo3::types::PyType>().ok()?;
            BASE.get_or_init(py, || t.unbind())
        }
    };
    if !obj.is_instance(base.bind(py)).unwrap_or(false) {
        return None;
    }
    let d = crate::runtime::import(py, "heron._cnative").ok()?.getattr("cdata_arg").ok()?.call1((obj,)).ok()?;
    let (code, address): (String, usize) = d.extract().ok()?;
    Some((crate::types::cnative::CPrim::from_code(&code)?, address))
}

/// Write one argument's flattened value into `slots` at `*k`.
pub fn marshal(obj: &Bound<'_, PyAny>, kind: ArgKind, slots: &mut [MaybeUninit<u64>], k: &mut usize) -> PyResult<()> {
    let mut put = |v: u64| {
        slots[*k].write(v);
        *k += 1;
    };
    match kind {
        ArgKind::Bool => put(obj.is_truthy()? as u64),
        ArgKind::Int => put(obj.extract::<i64>()? as u64),
        ArgKind::Float => put(obj.extract::<f64>()?.to_bits()),
        ArgKind::Np(d) => put(numpy_scalar_raw(obj, d)?),
        ArgKind::None => {}
        ArgKind::Complex => {
            let c = obj.cast::<pyo3::types::PyComplex>().map_err(PyErr::from)?;
            put(c.real().to_bits());
            put(c.imag().to_bits());
        }
        ArgKind::CPtr(_) => return Err(pyo3::exceptions::PyTypeError::new_err("a C pointer is not a Python argument")),
        ArgKind::CData(_) => {
            let py = obj.py();
            let (_, address) = cdata_pointer(py, obj).ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("not a cffi pointer"))?;
            put(address as u64)
        }
        ArgKind::Array(_) => {
            let arr = obj.cast::<PyUntypedArray>().map_err(PyErr::from)?;
            put(unsafe { (*arr.as_array_ptr()).fields.data } as u64);
            for s in arr.shape() {
                put(*s as u64);
            }
            for s in arr.strides() {
                put(*s as i64 as u64);
            }
        }
    }
    Ok(())
}


/// Signature text for reports: `(int, float)`.
pub fn signature_text(kinds: &[ArgKind]) -> String {
    let parts: Vec<String> = kinds.iter().map(|k| k.to_type().to_string()).collect();
    format!("({})", parts.join(", "))
}

