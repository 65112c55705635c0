//! `print(...)` from native code: the values are written to a buffer of 8-byte slots, and this
//! callback takes the GIL, boxes them as the interpreter would have, formats them with Python's
//! own `str.format`/`format` and calls `builtins.print`. Exact output by construction.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::abi::{Env, ErrCode, FItem, PItem, PrintDesc};
use crate::types::Type;

/// Box the scalar in `slot` (raw 8 bytes) as a Python object of type `t`.
pub fn box_scalar<'py>(py: Python<'py>, t: &Type, raw: u64) -> PyResult<Bound<'py, PyAny>> {
    Ok(match t {
        Type::Bool => pyo3::types::PyBool::new(py, raw as u8 != 0).to_owned().into_any(),
        Type::Int => (raw as i64).into_pyobject(py)?.into_any(),
        Type::Float => f64::from_bits(raw).into_pyobject(py)?.into_any(),
        Type::None => py.None().into_bound(py),
        Type::Np(d) => numpy_scalar(py, *d, raw)?,
        other => {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!("cannot box a {other}")));
        }
    })
}

/// NumPy's type number for each dtype (numpy/ndarraytypes.h; int64 is `long` on LP64).
pub(crate) fn type_num(d: crate::types::DType) -> std::ffi::c_int {
    use crate::types::DType::*;
    match d {
        Bool => 0,
        I8 => 1,
        U8 => 2,
        I16 => 3,
        U16 => 4,
        I32 => 5,
        U32 => 6,
        I64 => 7,
        U64 => 8,
        F32 => 11,
        F64 => 12,
    }
}

/// A NumPy scalar of dtype `d` holding `raw` (the register value: bools 0/1, integers
/// sign-extended, float32 bits in the low half), made by `PyArray_Scalar` as NumPy makes them.
fn numpy_scalar<'py>(py: Python<'py>, d: crate::types::DType, raw: u64) -> PyResult<Bound<'py, PyAny>> {
    use numpy::npyffi::{PyArray_Descr, PY_ARRAY_API};
    static DESCRS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    let descrs = match DESCRS.get() {
        Some(v) => v,
        None => {
            let mut v = Vec::new();
            for n in 0..13 {
                // A new reference per type, kept for the life of the process.
                v.push(unsafe { PY_ARRAY_API.PyArray_DescrFromType(py, n) } as usize);
            }
            let _ = DESCRS.set(v);
            DESCRS.get().unwrap()
        }
    };
    let descr = descrs[type_num(d) as usize] as *mut PyArray_Descr;
    if descr.is_null() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err("numpy dtype unavailable"));
    }
    // Little-endian: the value's own width sits in the low bytes of `raw`.
    let mut bytes = raw.to_le_bytes();
    let obj = unsafe { PY_ARRAY_API.PyArray_Scalar(py, bytes.as_mut_ptr() as *mut std::ffi::c_void, descr, std::ptr::null_mut()) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    Ok(unsafe { Bound::from_owned_ptr(py, obj) })
}

fn member<'a>(members: &'a [Type], slots: &[u64], tag_slot: Option<usize>) -> &'a Type {
    match tag_slot {
        Some(ts) => &members[(slots[ts] as u8 as usize).min(members.len() - 1)],
        None => &members[0],
    }
}

/// The value of a union variable, converted from its unified representation `unified` back to
/// the member type `t` it holds (ints merged into a float variable were checked to be exact on
/// the way in).
pub fn unmerge(unified: &Type, t: &Type, raw: u64) -> u64 {
    let rep_float = unified.is_floatlike();
    if rep_float && !t.is_floatlike() {
        let f = if *unified == Type::Np(crate::types::DType::F32) { f32::from_bits(raw as u32) as f64 } else { f64::from_bits(raw) };
        return f as i64 as u64;
    }
    if *unified == Type::Np(crate::types::DType::F64) && *t == Type::Np(crate::types::DType::F32) {
        return (f64::from_bits(raw) as f32).to_bits() as u64;
    }
    raw
}

fn item_obj<'py>(py: Python<'py>, item: &PItem, slots: &[u64]) -> PyResult<Bound<'py, PyAny>> {
    Ok(match item {
        PItem::Lit(s) => s.bind(py).clone().into_any(),
        PItem::None => py.None().into_bound(py),
        PItem::Val { members, unified, slot, tag_slot } if *unified == Type::Complex => {
            let _ = (members, tag_slot);
            pyo3::types::PyComplex::from_doubles(py, f64::from_bits(slots[*slot]), f64::from_bits(slots[*slot + 1])).into_any()
        }
        PItem::Val { members, unified, slot, tag_slot } => {
            let t = member(members, slots, *tag_slot);
            let raw = if members.len() > 1 { unmerge(unified, t, slots[*slot]) } else { slots[*slot] };
            box_scalar(py, t, raw)?
        }
        PItem::Format { template, args } => {
            let objs = args.iter().map(|a| item_obj(py, a, slots)).collect::<PyResult<Vec<_>>>()?;
            template.bind(py).call_method1("format", PyTuple::new(py, objs)?)?
        }
        PItem::FStr(parts) => {
            let builtins = crate::runtime::import(py, "builtins")?;
            let mut s = String::new();
            for p in parts {
                match p {
                    FItem::Lit(l) => s.push_str(l),
                    FItem::Val { item, conv, spec } => {
                        let mut v = item_obj(py, item, slots)?;
                        v = match conv {
                            's' => v.str()?.into_any(),
                            'r' => v.repr()?.into_any(),
                            'a' => builtins.getattr("ascii")?.call1((v,))?,
                            _ => v,
                        };
                        let f = builtins.getattr("format")?.call1((v, spec.as_str()))?;
                        s.push_str(&f.extract::<String>()?);
                    }
                }
            }
            PyString::new(py, &s).into_any()
        }
    })
}

fn do_print(py: Python<'_>, desc: &PrintDesc, slots: &[u64]) -> PyResult<()> {
    let objs = desc.items.iter().map(|i| item_obj(py, i, slots)).collect::<PyResult<Vec<_>>>()?;
    let kwargs = PyDict::new(py);
    if let Some(sep) = &desc.sep {
        kwargs.set_item("sep", sep.bind(py))?;
    }
    if let Some(end) = &desc.end {
        kwargs.set_item("end", end.bind(py))?;
    }
    if desc.flush {
        kwargs.set_item("flush", true)?;
    }
    crate::runtime::import(py, "builtins")?.getattr("print")?.call(PyTuple::new(py, objs)?, Some(&kwargs))?;
    Ok(())
}

thread_local! {
    /// A Python exception raised inside a callback, waiting for the dispatcher to re-raise it.
    pub static PENDING: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Called by native code: print the values in `slots` as `desc` says. Returns 0, or 1 with the
/// Python exception stored for the dispatcher (`ErrCode::PyErr`).
pub extern "C" fn heron_print(env: *mut Env, desc: *const PrintDesc, slots: *const u64, nslots: i64) -> i64 {
    let desc = unsafe { &*desc };
    let slots = unsafe { std::slice::from_raw_parts(slots, nslots as usize) };
    let r = Python::attach(|py| do_print(py, desc, slots));
    unsafe { (*env).effects = 1 };
    match r {
        Ok(()) => 0,
        Err(e) => {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            unsafe { (*env).err_code = ErrCode::PyErr as i64 };
            1
        }
    }
}
