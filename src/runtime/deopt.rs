//! Deoptimization: where native code cannot go on (an int result beyond 64 bits, a value of a
//! type the specialization did not expect), it hands the call to the interpreter, which
//! continues from the statement that stopped, with the live variables (DESIGN.md "Semantics").
//!
//! Native code writes the variables definitely assigned at that statement, and the hidden state
//! of the loops around it, to 8-byte slots, and calls `heron_deopt` with the point's index in
//! its `FuncInfo`. The runtime boxes the values as the interpreter would hold them, asks
//! `heron._deopt.continuation` for a Python function that runs the rest of the call from that
//! statement, calls it with the GIL, and hands its result back to native code as the
//! function's own result (or, when native code cannot represent it, as a boxed object). So a
//! deoptimized call runs each statement once: output is printed once and arrays are written
//! once, whatever happened before.

use pyo3::prelude::*;
use numpy::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::print::{box_scalar, unmerge, PENDING};
use crate::abi::{CResultBoxing, Env, ErrCode, FuncInfo, LoopState, Spill, STATUS_BOXED};
use crate::ir::Span;
use crate::types::{ArrayType, Layout, Type};

/// Called by native code at a deoptimization point: continue the call in the interpreter.
/// `slots` holds the point's spills; on success the function's result is written to `ret` in
/// its native slot layout (`FuncInfo::ret_type`, plus the tag when it changes type) and 0 is
/// returned; `STATUS_BOXED` when the result is in `Env::boxed`; 1 with the Python exception
/// stored when the rest of the call raised.
pub extern "C" fn heron_deopt(env: *mut Env, info: *const FuncInfo, point: i64, slots: *const u64, ret: *mut u64) -> i64 {
    let info = unsafe { &*info };
    let p = &info.points()[point as usize];
    let slots = unsafe { std::slice::from_raw_parts(slots, p.n_slots) };
    let env_ref = unsafe { &mut *env };
    // Warnings the statement already issued in native code (see `Env::rerun_warned`).
    let rerun_warned = std::mem::take(&mut env_ref.rerun_warned);
    let r = Python::attach(|py| -> PyResult<i64> {
        if env_ref.fp_deferred != 0 && super::fp::flags_raised(super::fp::REPORTED) {
            // NumPy float reports were deferred to the end of the call and one is due: the
            // dispatcher re-runs the whole call (it has no side effects) to report it.
            env_ref.err_code = ErrCode::Deopt as i64;
            return Ok(-1);
        }
        info.deopts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let func = info.function(py)?;
        let mut params = Vec::new();
        let mut values = Vec::new();
        for s in &p.spills {
            params.push(s.name.clone());
            values.push(box_spill(py, env_ref, s, slots)?);
        }
        for (name, used) in [
            ("range", p.loops.iter().any(|(_, l)| matches!(l, LoopState::Range { .. }))),
            ("zip", p.loops.iter().any(|(_, l)| matches!(l, LoopState::Zip { .. }))),
            ("enumerate", p.loops.iter().any(|(_, l)| matches!(l, LoopState::Enumerate { .. }))),
            ("islice", p.loops.iter().any(|(_, l)| matches!(l, LoopState::Flat { .. } | LoopState::NdIndex { .. } | LoopState::NdEnumerate { .. }))),
            ("ndindex", p.loops.iter().any(|(_, l)| matches!(l, LoopState::NdIndex { .. }))),
            ("ndenumerate", p.loops.iter().any(|(_, l)| matches!(l, LoopState::NdEnumerate { .. }))),
        ] {
            if used {
                params.push(format!("${name}"));
                let module = match name {
                    "islice" => "itertools",
                    "ndindex" | "ndenumerate" => "numpy",
                    _ => "builtins",
                };
                values.push(crate::runtime::import(py, module)?.getattr(name)?);
            }
        }
        if rerun_warned > 0 {
            params.push("$skip".into());
            let skip = crate::runtime::import(py, "heron._deopt")?.getattr("skip_warnings")?;
            values.push(skip.call1((rerun_warned, func.getattr("__globals__")?))?);
        }
        let mut subs: Vec<Bound<'_, PyAny>> = Vec::new();
        for (span, name) in &p.substitutions {
            subs.push(PyTuple::new(py, [span_tuple(py, span)?.into_any(), name.into_pyobject(py)?.into_any()])?.into_any());
        }
        if let Some(span) = &p.boxed_call {
            let obj = take_boxed(py, env_ref).ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("heron: a boxed result is missing"))?;
            params.push("$boxed".into());
            values.push(obj);
            subs.push(PyTuple::new(py, [span_tuple(py, span)?.into_any(), "$boxed".into_pyobject(py)?.into_any()])?.into_any());
        }
        let loops = PyDict::new(py);
        for (level, state) in &p.loops {
            let desc = match state {
                LoopState::Range { cur, stop, step } => PyTuple::new(py, ["range", cur, stop, step])?,
                LoopState::Each { iter, index } => PyTuple::new(py, ["each", iter, index])?,
                LoopState::Flat { iter, index } => PyTuple::new(py, ["flat", iter, index])?,
                LoopState::NdIndex { iter, index } => PyTuple::new(py, ["ndindex", iter, index])?,
                LoopState::NdEnumerate { iter, index } => PyTuple::new(py, ["ndenumerate", iter, index])?,
                LoopState::Zip { iters, index } => PyTuple::new(py, ["zip", index.as_str()].into_iter().chain(iters.iter().map(|s| s.as_str())).collect::<Vec<_>>())?,
                LoopState::Enumerate { iter, start, index } => PyTuple::new(py, ["enumerate", iter, index, start])?,
            };
            loops.set_item(level, desc)?;
        }
        let path = PyTuple::new(py, p.path.iter().map(|(f, i)| (*f as u8, *i)))?;
        let cont = py
            .import("heron._deopt")?
            .getattr("continuation")?
            .call1((func, path, loops, PyTuple::new(py, &params)?, PyTuple::new(py, subs)?))?;
        // The interpreter's own float operations set the sticky flags too; they are not
        // native code's (whose NumPy reports may be deferred to the end of the call).
        let flags = super::fp::flags_save();
        let result = cont.call1(PyTuple::new(py, values)?);
        super::fp::flags_restore(flags);
        let result = result?;
        if !info.pure {
            // What the interpreter did cannot be undone by re-running the call.
            env_ref.effects = 1;
        }
        let mut out = Vec::new();
        if let Some(tag) = unbox_result(py, env_ref, &result, &info.ret_type, &info.ret_members, &mut out)? {
            if info.ret_members.len() > 1 {
                out.push(tag as u64);
            }
            let ret = unsafe { std::slice::from_raw_parts_mut(ret, out.len()) };
            ret.copy_from_slice(&out);
            return Ok(0);
        }
        set_boxed(env_ref, result.unbind());
        Ok(STATUS_BOXED)
    });
    let status = match r {
        Ok(-1) => 1,
        Ok(s) => s,
        Err(e) => {
            PENDING.with(|c| *c.borrow_mut() = Some(e));
            env_ref.err_code = ErrCode::PyErr as i64;
            env_ref.err_func = 0;
            1
        }
    };
    env_ref.deopt_status = status;
    status
}

fn span_tuple<'py>(py: Python<'py>, s: &Span) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [s.line, s.col, s.end_line, s.end_col])
}

/// Keep `obj` as the call's boxed result (`Env::boxed` owns one reference).
pub fn set_boxed(env: &mut Env, obj: Py<PyAny>) {
    if env.boxed != 0 {
        unsafe { pyo3::ffi::Py_DecRef(env.boxed as *mut pyo3::ffi::PyObject) };
    }
    env.boxed = obj.into_ptr() as i64;
}

/// Take the boxed result out of `env`.
pub fn take_boxed<'py>(py: Python<'py>, env: &mut Env) -> Option<Bound<'py, PyAny>> {
    if env.boxed == 0 {
        return None;
    }
    let p = std::mem::replace(&mut env.boxed, 0);
    Some(unsafe { Bound::from_owned_ptr(py, p as *mut pyo3::ffi::PyObject) })
}

/// The Python value of one spill.
fn box_spill<'py>(py: Python<'py>, env: &Env, s: &Spill, slots: &[u64]) -> PyResult<Bound<'py, PyAny>> {
    let member = match s.tag_slot {
        Some(t) => &s.members[(slots[t] as u8 as usize).min(s.members.len() - 1)],
        None => &s.members[0],
    };
    let mut k = s.slot;
    match s.boxing {
        CResultBoxing::Unsigned => return Ok(slots[k].into_pyobject(py)?.into_any()),
        CResultBoxing::NoneIfNull if slots[k] == 0 => return Ok(py.None().into_bound(py)),
        _ => {}
    }
    if s.members.len() > 1 {
        let raw = unmerge(&s.ty, member, slots[k]);
        return box_scalar(py, member, raw);
    }
    box_flat(py, env, member, slots, &mut k)
}

/// Box a flattened value of type `t` at `slots[*k..]`, advancing `k`.
pub fn box_flat<'py>(py: Python<'py>, env: &Env, t: &Type, slots: &[u64], k: &mut usize) -> PyResult<Bound<'py, PyAny>> {
    match t {
        Type::Tuple(ts) => {
            let items = ts.iter().map(|t| box_flat(py, env, t, slots, k)).collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, items)?.into_any())
        }
        Type::Array(at) => {
            let n = 1 + 2 * at.ndim as usize;
            let flat = &slots[*k..*k + n];
            *k += n;
            box_array(py, env, at, flat)
        }
        Type::None => Ok(py.None().into_bound(py)),
        Type::Str | Type::Bytes => Err(pyo3::exceptions::PyRuntimeError::new_err("heron: a string cannot be handed to the interpreter")),
        Type::Complex => {
            let (re, im) = (f64::from_bits(slots[*k]), f64::from_bits(slots[*k + 1]));
            *k += 2;
            Ok(pyo3::types::PyComplex::from_doubles(py, re, im).into_any())
        }
        Type::CPtr(d) => {
            // A typed pointer comes back as ctypes makes it: `POINTER(T)` at that address.
            let raw = slots[*k];
            *k += 1;
            let dtype = d.map(|d| d.name()).unwrap_or("void");
            crate::runtime::import(py, "heron._cnative")?.getattr("box_pointer")?.call1((raw as usize, dtype))
        }
        Type::CData { prim, .. } => {
            // The argument it came in as, when it is one (an `ffi.new` pointer owns its
            // memory: a copy would not keep it alive); else as cffi makes a pointer:
            // `ffi.cast("T *", address)`.
            let raw = slots[*k];
            *k += 1;
            for a in known_arguments(py, env) {
                if super::marshal::cdata_pointer(py, &a) == Some((*prim, raw as usize)) {
                    return Ok(a);
                }
            }
            crate::runtime::import(py, "heron._cnative")?.getattr("box_cdata")?.call1((raw as usize, prim.code()))
        }
        t => {
            let raw = slots[*k];
            *k += 1;
            box_scalar(py, t, raw)
        }
    }
}

/// The call's arguments.
fn known_arguments<'py>(py: Python<'py>, env: &Env) -> Vec<Bound<'py, PyAny>> {
    if env.args == 0 {
        return Vec::new();
    }
    let args = unsafe { std::slice::from_raw_parts(env.args as *const *mut pyo3::ffi::PyObject, env.nargs as usize) };
    args.iter().map(|&a| unsafe { Bound::from_borrowed_ptr(py, a) }).collect()
}

/// The arrays a call can see: those made during it, then its arguments.
fn known_arrays<'py>(py: Python<'py>, env: &Env) -> Vec<Bound<'py, PyAny>> {
    let mut out = Vec::new();
    if env.owned != 0 {
        let owned = unsafe { &*(env.owned as *const Vec<Py<PyAny>>) };
        out.extend(owned.iter().map(|o| o.bind(py).clone()));
    }
    if env.args != 0 {
        let args = unsafe { std::slice::from_raw_parts(env.args as *const *mut pyo3::ffi::PyObject, env.nargs as usize) };
        out.extend(args.iter().map(|&a| unsafe { Bound::from_borrowed_ptr(py, a) }));
    }
    // Global arrays compiled code reads (`guards::ArrayCell`).
    out.extend(super::guards::ArrayCell::live_arrays(py));
    out
}

/// Data pointer, shape and strides of a NumPy array, read in place (no copies: `box_array`
/// asks this of every array the call knows, for every array it boxes).
fn with_array_parts<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(u64, &[usize], &[isize], usize) -> R) -> Option<R> {
    use numpy::{PyUntypedArray, PyUntypedArrayMethods};
    let a = obj.cast::<PyUntypedArray>().ok()?;
    let data = unsafe { (*a.as_array_ptr()).fields.data } as u64;
    Some(f(data, a.shape(), a.strides(), a.dtype().itemsize()))
}

/// The lowest and one-past-highest byte an array (data, shape, strides) touches.
fn extent_of(data: u64, shape: impl Iterator<Item = isize> + Clone, strides: &[isize], item: usize) -> (i128, i128) {
    let (mut lo, mut hi) = (data as i128, data as i128 + item as i128);
    if shape.clone().any(|n| n == 0) {
        return (data as i128, data as i128);
    }
    for (n, s) in shape.zip(strides) {
        let reach = (n as i128 - 1) * *s as i128;
        if reach < 0 {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    (lo, hi)
}

/// The Python array for a flattened array value: the argument or allocation it is, a view of
/// the one whose memory holds it, or a copy of memory native code owns (a local array).
fn box_array<'py>(py: Python<'py>, env: &Env, at: &ArrayType, flat: &[u64]) -> PyResult<Bound<'py, PyAny>> {
    let nd = at.ndim as usize;
    let shape: Vec<isize> = flat[1..1 + nd].iter().map(|&s| s as isize).collect();
    let strides: Vec<isize> = flat[1 + nd..].iter().map(|&s| s as i64 as isize).collect();
    let item = at.dtype.itemsize() as usize;
    let (lo, hi) = extent_of(flat[0], shape.iter().copied(), &strides, item);
    let mut holder = None;
    for cand in known_arrays(py, env) {
        let Some((same, holds)) = with_array_parts(&cand, |data, cshape, cstrides, citem| {
            let same = data == flat[0] && citem == item && cstrides == strides.as_slice() && cshape.len() == shape.len() && cshape.iter().zip(&shape).all(|(&a, &b)| a as isize == b);
            let (clo, chi) = extent_of(data, cshape.iter().map(|&n| n as isize), cstrides, citem);
            (same, clo <= lo && hi <= chi)
        }) else { continue };
        if same {
            return Ok(cand);
        }
        if holder.is_none() && holds {
            holder = Some(cand);
        }
    }
    view_at(py, holder, flat[0], &shape, &strides, at)
}

/// A NumPy array of type `at` over memory native code points to (`PyArray_NewFromDescr`):
/// a view whose base is `base` (the array holding that memory, kept alive by it), or, for
/// memory native code owns (`base` None: it dies with the call), a C-ordered copy. Read-only
/// when `at` is.
fn view_at<'py>(py: Python<'py>, base: Option<Bound<'py, PyAny>>, data: u64, shape: &[isize], strides: &[isize], at: &ArrayType) -> PyResult<Bound<'py, PyAny>> {
    use numpy::npyffi::{self, PY_ARRAY_API};
    let mut dims: Vec<npyffi::npy_intp> = shape.iter().map(|&s| s as npyffi::npy_intp).collect();
    let mut steps: Vec<npyffi::npy_intp> = strides.iter().map(|&s| s as npyffi::npy_intp).collect();
    let flags = if at.readonly { 0 } else { npyffi::NPY_ARRAY_WRITEABLE };
    let view = super::alloc::array_from_descr(py, at.dtype, &mut dims, Some(&mut steps), data as *mut std::ffi::c_void, flags)?;
    let p = view.as_ptr() as *mut npyffi::PyArrayObject;
    unsafe {
        match base {
            Some(b) => {
                // Steals the reference.
                if PY_ARRAY_API.PyArray_SetBaseObject(py, p, b.into_ptr()) != 0 {
                    return Err(PyErr::fetch(py));
                }
                Ok(view)
            }
            None => {
                let c = PY_ARRAY_API.PyArray_NewCopy(py, p, npyffi::NPY_ORDER::NPY_CORDER);
                if c.is_null() {
                    return Err(PyErr::fetch(py));
                }
                Ok(Bound::from_owned_ptr(py, c))
            }
        }
    }
}

/// Write `obj` into native slots as one of `members` (representation `ty`). Returns the member
/// index, or None when `obj` is not exactly one of them (its exact type, an int within 64 bits,
/// an array of that dtype, dimensions and layout). An array written is kept alive in
/// `Env::owned` until the call returns.
fn unbox_result(py: Python<'_>, env: &mut Env, obj: &Bound<'_, PyAny>, ty: &Type, members: &[Type], out: &mut Vec<u64>) -> PyResult<Option<usize>> {
    for (i, m) in members.iter().enumerate() {
        let start = out.len();
        if unbox_as(py, env, obj, m, out)? {
            if members.len() > 1 {
                // Held in the unified representation (merged as codegen merges): only when
                // that is exact (a big int in a float representation is handed back boxed).
                let raw = out[start];
                match merge_raw(m, ty, raw) {
                    Some(r) => out[start] = r,
                    None => return Ok(None),
                }
            }
            return Ok(Some(i));
        }
        out.truncate(start);
    }
    Ok(None)
}

/// A member's raw value in the unified representation of a variable that changes type
/// (`codegen::num::merge_convert`, for the scalar cases `types::unify` produces), or None when
/// that representation cannot hold it exactly (an int beyond 2**53 in a float, say), where
/// codegen's merge deoptimizes.
fn merge_raw(from: &Type, to: &Type, raw: u64) -> Option<u64> {
    use crate::types::DType;
    if from == to {
        return Some(raw);
    }
    let (Some(fd), Some(td)) = (from.scalar_dtype(), to.scalar_dtype()) else { return Some(raw) };
    let as_i = |raw: u64| -> i64 {
        match fd {
            DType::Bool => raw as u8 as i64,
            _ => raw as i64,
        }
    };
    let exact_f64 = |i: i64| -> Option<u64> {
        let f = i as f64;
        (f >= -9.223372036854775808e18 && f < 9.223372036854775808e18 && f as i64 == i).then(|| f.to_bits())
    };
    match td {
        DType::F64 => match fd {
            DType::F64 => Some(raw),
            DType::F32 => Some((f32::from_bits(raw as u32) as f64).to_bits()),
            DType::U64 => {
                let f = raw as f64;
                (f < 1.8446744073709552e19 && f as u64 == raw).then(|| f.to_bits())
            }
            _ => exact_f64(as_i(raw)),
        },
        DType::F32 => match fd {
            DType::F32 => Some(raw),
            DType::F64 => {
                let x = f64::from_bits(raw);
                let y = x as f32;
                (y as f64 == x || x.is_nan()).then(|| y.to_bits() as u64)
            }
            _ => {
                let i = as_i(raw);
                let y = i as f32;
                (y as f64 == i as f64 && (y as f64) < 9.223372036854775808e18).then(|| y.to_bits() as u64)
            }
        },
        _ => Some(as_i(raw) as u64),
    }
}

fn unbox_as(py: Python<'_>, env: &mut Env, obj: &Bound<'_, PyAny>, t: &Type, out: &mut Vec<u64>) -> PyResult<bool> {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    Ok(match t {
        Type::None => obj.is_none(),
        Type::Bool => {
            if obj.is_exact_instance_of::<PyBool>() {
                out.push(obj.is_truthy()? as u64);
                true
            } else {
                false
            }
        }
        Type::Int => match (obj.is_exact_instance_of::<PyInt>(), obj.extract::<i64>()) {
            (true, Ok(i)) => {
                out.push(i as u64);
                true
            }
            _ => false,
        },
        Type::Float => {
            if obj.is_exact_instance_of::<PyFloat>() {
                out.push(obj.extract::<f64>()?.to_bits());
                true
            } else {
                false
            }
        }
        Type::Np(d) => match super::marshal::numpy_scalar_dtype(py, obj) {
            Some(x) if x == *d => {
                out.push(super::marshal::numpy_scalar_raw(obj, *d)?);
                true
            }
            _ => false,
        },
        Type::Tuple(ts) => {
            let Ok(tup) = obj.cast::<PyTuple>() else { return Ok(false) };
            if !obj.is_exact_instance_of::<PyTuple>() || tup.len() != ts.len() {
                return Ok(false);
            }
            for (item, it) in tup.iter().zip(ts) {
                if !unbox_as(py, env, &item, it, out)? {
                    return Ok(false);
                }
            }
            true
        }
        Type::Array(at) => {
            let Some(kind) = super::marshal::array_type(py, obj) else { return Ok(false) };
            let fits = kind.dtype == at.dtype && kind.ndim == at.ndim && (at.layout == Layout::Any || kind.layout == Layout::C) && (at.readonly || !kind.readonly);
            if !fits {
                return Ok(false);
            }
            let pushed = with_array_parts(obj, |data, shape, strides, _| {
                out.push(data);
                out.extend(shape.iter().map(|&s| s as u64));
                out.extend(strides.iter().map(|&s| s as i64 as u64));
            });
            if pushed.is_none() {
                return Ok(false);
            }
            if env.owned != 0 {
                super::alloc::keep(env, obj.clone().unbind());
            }
            true
        }
        Type::Complex => {
            if let Ok(c) = obj.cast_exact::<pyo3::types::PyComplex>() {
                out.push(c.real().to_bits());
                out.push(c.imag().to_bits());
                true
            } else {
                false
            }
        }
        Type::Str | Type::Bytes | Type::CPtr(_) | Type::CData { .. } => false,
    })
}

/// Write `obj` into native slots as exactly type `t` (see `unbox_as`); false when it is not.
pub fn unbox_exact(py: Python<'_>, env: &mut Env, obj: &Bound<'_, PyAny>, t: &Type, out: &mut Vec<u64>) -> PyResult<bool> {
    unbox_as(py, env, obj, t, out)
}
