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
    let power = crate::runtime::import(py, "numpy")?.getattr("power")?;
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

// ---------------------------------------------------------------------------------------------
// Any ufunc loop, on scalars and arrays (issue 11): type resolution at compile time, and the
// elementwise iteration native code calls.

use crate::abi::{Env, ErrCode, FuncInfo, UfuncSite, UFUNC_OPERAND_SLOTS};
use crate::types::ufunc::UfuncLoop;
use crate::types::{DType, Type};

/// Is `v` a NumPy ufunc object (`isinstance(v, numpy.ufunc)`)?
pub fn is_ufunc(v: &Bound<'_, PyAny>) -> bool {
    let t = v.get_type();
    t.name().map(|n| n == "ufunc").unwrap_or(false) && t.module().map(|m| m.to_string().starts_with("numpy")).unwrap_or(false)
}

/// NumPy's ufunc `name` as NumPy's operators use it (`numpy._core.umath`, which a program does
/// not rebind), else the `numpy` attribute.
fn ufunc_object<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    for m in ["numpy._core.umath", "numpy.core.umath"] {
        if let Ok(u) = crate::runtime::import(py, m).and_then(|m| m.getattr(name)) {
            if is_ufunc(&u) {
                return Ok(u);
            }
        }
    }
    crate::runtime::import(py, "numpy")?.getattr(name)
}

/// The loop NumPy's ufunc `name` runs for operands of these types (NEP 50: Python `int`,
/// `float` are weak scalars; a Python `bool` is a NumPy bool), found as NumPy finds it:
/// `ufunc.resolve_dtypes`, then the first loop of those dtypes in `PyUFuncObject.types`.
/// Errors (one sentence) when NumPy has no loop (it raises then, and so will the interpreter)
/// or the loop's dtypes are ones compiled code does not hold.
pub fn resolve_loop(py: Python<'_>, name: &str, operands: &[Type]) -> Result<UfuncLoop, String> {
    let what = |e: PyErr| format!("numpy.{name}: {e}");
    let uf = ufunc_object(py, name).map_err(what)?;
    if !is_ufunc(&uf) {
        return Err(format!("numpy.{name} is not a ufunc"));
    }
    let nin: usize = uf.getattr("nin").and_then(|n| n.extract()).map_err(what)?;
    let nout: usize = uf.getattr("nout").and_then(|n| n.extract()).map_err(what)?;
    if operands.len() != nin {
        return Err(format!("numpy.{name}() takes {nin} operands here, {} given", operands.len()));
    }
    let np = crate::runtime::import(py, "numpy").map_err(what)?;
    let builtins = crate::runtime::import(py, "builtins").map_err(what)?;
    let mut dts: Vec<Bound<'_, PyAny>> = Vec::new();
    for t in operands {
        dts.push(match t {
            Type::Float => builtins.getattr("float").map_err(what)?,
            Type::Int => builtins.getattr("int").map_err(what)?,
            Type::Bool => np.getattr("dtype").and_then(|d| d.call1(("bool",))).map_err(what)?,
            Type::Np(d) => np.getattr("dtype").and_then(|x| x.call1((d.name(),))).map_err(what)?,
            Type::Array(a) => np.getattr("dtype").and_then(|x| x.call1((a.dtype.name(),))).map_err(what)?,
            other => return Err(format!("numpy.{name} of a {other} is not supported")),
        });
    }
    for _ in 0..nout {
        dts.push(py.None().into_bound(py));
    }
    let tuple = pyo3::types::PyTuple::new(py, dts).map_err(what)?;
    let resolved = uf.call_method1("resolve_dtypes", (tuple,)).map_err(|e| format!("numpy.{name} has no loop for these operands ({e})"))?;
    let mut nums = Vec::new();
    let mut dtypes = Vec::new();
    for d in resolved.try_iter().map_err(what)? {
        let d = d.map_err(what)?;
        let dname: String = d.getattr("name").and_then(|n| n.extract()).map_err(what)?;
        let Some(dt) = DType::from_name(&dname) else {
            return Err(format!("numpy.{name} computes in {dname} here, which compiled code does not support yet"));
        };
        nums.push(d.getattr("num").and_then(|n| n.extract::<i32>()).map_err(what)? as c_char);
        dtypes.push(dt);
    }
    let ptr = uf.as_ptr() as *mut PyUFuncObject;
    let found = unsafe {
        let f = &(*ptr).fields;
        let nargs = f.nargs as usize;
        (0..f.ntypes as usize).find_map(|i| {
            let t = std::slice::from_raw_parts(f.types.add(i * nargs), nargs);
            if nargs == nums.len() && t == nums.as_slice() {
                Some((*f.functions.add(i)).map(|func| (func as usize, *f.data.add(i) as usize)))
            } else {
                None
            }
        })
    };
    let Some(Some((func, data))) = found else {
        return Err(format!("numpy.{name}'s loop for these operands is not one compiled code can call"));
    };
    let ufname: String = uf.getattr("__name__").and_then(|n| n.extract()).map_err(what)?;
    Ok(UfuncLoop { name: ufname, func, data, ins: dtypes[..nin].to_vec(), outs: dtypes[nin..].to_vec() })
}

/// One operand of `heron_ufunc`, read from its slots.
#[derive(Clone, Copy)]
struct Operand {
    dtype: DType,
    ndim: usize,
    data: *mut u8,
    shape: [i64; 4],
    strides: [i64; 4],
}

const DTYPES: [DType; 11] = [
    DType::Bool, DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64, DType::F32,
    DType::F64,
];

fn shape_text(shape: &[i64]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(","))
    }
}

fn fail(env: *mut Env, e: PyErr) -> i64 {
    super::print::PENDING.with(|p| *p.borrow_mut() = Some(e));
    unsafe { (*env).err_code = ErrCode::PyErr as i64 };
    1
}

fn value_error(env: *mut Env, msg: String) -> i64 {
    fail(env, pyo3::exceptions::PyValueError::new_err(msg))
}

/// Read element `p` of dtype `d` and write it as dtype `to` at `q`, as NumPy's C casts do.
unsafe fn cast_one(p: *const u8, d: DType, q: *mut u8, to: DType) {
    macro_rules! rd {
        ($t:ty) => {
            (p as *const $t).read_unaligned()
        };
    }
    enum V {
        I(i64),
        U(u64),
        F(f64),
        F32(f32),
    }
    let v = match d {
        DType::Bool => V::U((rd!(u8) != 0) as u64),
        DType::I8 => V::I(rd!(i8) as i64),
        DType::I16 => V::I(rd!(i16) as i64),
        DType::I32 => V::I(rd!(i32) as i64),
        DType::I64 => V::I(rd!(i64)),
        DType::U8 => V::U(rd!(u8) as u64),
        DType::U16 => V::U(rd!(u16) as u64),
        DType::U32 => V::U(rd!(u32) as u64),
        DType::U64 => V::U(rd!(u64)),
        DType::F32 => V::F32(rd!(f32)),
        DType::F64 => V::F(rd!(f64)),
    };
    macro_rules! wr {
        ($t:ty) => {{
            let x: $t = match v {
                V::I(i) => i as $t,
                V::U(u) => u as $t,
                V::F(f) => f as $t,
                V::F32(f) => f as $t,
            };
            (q as *mut $t).write_unaligned(x)
        }};
    }
    match to {
        DType::Bool => {
            let b = match v {
                V::I(i) => i != 0,
                V::U(u) => u != 0,
                V::F(f) => f != 0.0,
                V::F32(f) => f != 0.0,
            };
            q.write(b as u8)
        }
        // Integer targets only come from integer or bool sources ("same_kind"): wrap.
        DType::I8 => wr!(i8),
        DType::I16 => wr!(i16),
        DType::I32 => wr!(i32),
        DType::I64 => wr!(i64),
        DType::U8 => wr!(u8),
        DType::U16 => wr!(u16),
        DType::U32 => wr!(u32),
        DType::U64 => wr!(u64),
        DType::F32 => wr!(f32),
        DType::F64 => wr!(f64),
    }
}

/// NumPy's iteration order for the operands' strides (numpy/_core/src/multiarray/
/// nditer_constr.c, `npyiter_find_best_axis_ordering`): axes innermost first, a stable
/// insertion sort by stride, where a conflict between operands keeps C order. Strides of
/// broadcast axes are 0 and take no part.
fn best_axis_order(ndim: usize, strides: &[[i64; 4]]) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..ndim).rev().collect();
    for i0 in 1..ndim {
        let j0 = perm[i0];
        let mut ipos = i0;
        let mut i1 = i0;
        while i1 > 0 {
            i1 -= 1;
            let j1 = perm[i1];
            let mut ambig = true;
            let mut swap = false;
            for s in strides {
                if s[j0] != 0 && s[j1] != 0 {
                    if s[j1].abs() <= s[j0].abs() {
                        swap = false;
                    } else if ambig {
                        swap = true;
                    }
                    ambig = false;
                }
            }
            if !ambig {
                if swap {
                    ipos = i1;
                } else {
                    break;
                }
            }
        }
        if ipos != i0 {
            perm.remove(i0);
            perm.insert(ipos, j0);
        }
    }
    perm
}

/// The byte offsets of an array's elements (extents `shape`, `strides` in bytes) in C order.
fn c_order_offsets<'s>(shape: &'s [i64], strides: &'s [i64; 4]) -> impl Iterator<Item = i64> + 's {
    let total: i64 = shape.iter().product();
    let mut idx = [0i64; 4];
    (0..total).map(move |_| {
        let off = (0..shape.len()).map(|d| idx[d] * strides[d]).sum();
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
        off
    })
}

/// The strides of a C-ordered copy with extents `shape` (0 along an axis of one element, as a
/// broadcast operand walks it).
fn c_strides(shape: &[i64], item: usize) -> [i64; 4] {
    let mut st = [0i64; 4];
    let mut acc = item as i64;
    for d in (0..shape.len()).rev() {
        st[d] = if shape[d] == 1 { 0 } else { acc };
        acc *= shape[d];
    }
    st
}

type LoopFn = unsafe extern "C" fn(*mut *mut c_char, *mut isize, *mut isize, *mut std::ffi::c_void);

/// Called by native code: a NumPy ufunc (or a copy into a view) over `site.nin` input operands
/// and one output operand, at `ops` (`UFUNC_OPERAND_SLOTS` each, see `abi`), broadcast as
/// NumPy broadcasts. An output of ndim -1 is allocated (a NumPy array in the order NumPy's
/// iterator would give it) and its data pointer, shape and strides written to `out`
/// (`1 + 2 * ndim` slots). Inputs are cast to the loop's dtypes and the result to the output's;
/// an input that overlaps the output (other than element for element) is copied first, as
/// NumPy does. Floating-point errors are reported as NumPy reports them ("overflow encountered
/// in exp"), unless deferred. Returns 0, or 1 with the exception stored (broadcasting errors
/// carry NumPy's messages).
/// NumPy's message for operands (the first `n`: the inputs, and the output when one is given)
/// whose shapes do not broadcast together.
fn not_broadcastable(operands: &[Operand], n: usize) -> String {
    let all: Vec<String> = operands[..n].iter().filter(|o| o.ndim != usize::MAX).map(|o| shape_text(&o.shape[..o.ndim])).collect();
    format!("operands could not be broadcast together with shapes {} ", all.join(" "))
}

pub extern "C" fn heron_ufunc(env: *mut Env, info: *const FuncInfo, site: *const UfuncSite, ops: *const i64, out: *mut i64) -> i64 {
    let site = unsafe { &*site };
    let nin = site.nin;
    let raw = unsafe { std::slice::from_raw_parts(ops, (nin + 1) * UFUNC_OPERAND_SLOTS) };
    let mut operands: Vec<Operand> = raw
        .chunks_exact(UFUNC_OPERAND_SLOTS)
        .map(|s| Operand {
            dtype: DTYPES[s[0] as usize],
            ndim: if s[1] < 0 { usize::MAX } else { s[1] as usize },
            data: s[2] as *mut u8,
            shape: [s[3], s[4], s[5], s[6]],
            strides: [s[7], s[8], s[9], s[10]],
        })
        .collect();
    // A copy into a view drops the source's leading length-1 axes beyond the view's (NumPy's
    // assignment: `a[:] = m[:1]` stores a (1, n) array into an (n,) view).
    if site.lp.is_none() && operands[nin].ndim != usize::MAX {
        let dst_nd = operands[nin].ndim;
        let src = &mut operands[0];
        while src.ndim > dst_nd && src.shape[0] == 1 {
            src.shape.copy_within(1.., 0);
            src.strides.copy_within(1.., 0);
            src.ndim -= 1;
        }
    }
    // Broadcast the inputs (right-aligned).
    let nd = operands[..nin].iter().map(|o| o.ndim).max().unwrap_or(0);
    let mut shape = [1i64; 4];
    for o in &operands[..nin] {
        for k in 0..o.ndim {
            let (d, n) = (nd - o.ndim + k, o.shape[k]);
            if n != 1 {
                if shape[d] != 1 && shape[d] != n {
                    if site.lp.is_none() {
                        let src = &operands[0];
                        let dst = &operands[nin];
                        return value_error(env, format!("could not broadcast input array from shape {} into shape {}", shape_text(&src.shape[..src.ndim]), shape_text(&dst.shape[..dst.ndim])));
                    }
                    return value_error(env, not_broadcastable(&operands, nin + 1));
                }
                shape[d] = n;
            }
        }
    }
    let out_given = operands[nin].ndim != usize::MAX;
    let ndim = if out_given { operands[nin].ndim.max(nd) } else { nd };
    if out_given {
        let o = operands[nin];
        let fits = o.ndim >= nd && (0..nd).all(|d| shape[d] == 1 || shape[d] == o.shape[o.ndim - nd + d]);
        // NumPy's iterator broadcasts the output with the inputs: two sizes other than 1 that
        // differ are the operands' error (all shapes listed); an output of size 1 where the
        // inputs broadcast to more is the output's.
        let clash = (0..nd.min(o.ndim)).any(|k| {
            let (s, n) = (shape[nd - 1 - k], o.shape[o.ndim - 1 - k]);
            s != 1 && n != 1 && s != n
        });
        if clash && site.lp.is_some() {
            return value_error(env, not_broadcastable(&operands, nin + 1));
        }
        if !fits {
            if site.lp.is_none() {
                let src = &operands[0];
                return value_error(env, format!("could not broadcast input array from shape {} into shape {}", shape_text(&src.shape[..src.ndim]), shape_text(&o.shape[..o.ndim])));
            }
            return value_error(env, format!("non-broadcastable output operand with shape {} doesn't match the broadcast shape {}", shape_text(&o.shape[..o.ndim]), shape_text(&shape[..nd])));
        }
        shape = o.shape;
    } else if nd < 4 {
        // Right-aligned broadcast shape in the first `nd` places already.
    }
    // Broadcast strides of every operand over the `ndim` iteration axes.
    let bstrides: Vec<[i64; 4]> = operands
        .iter()
        .take(if out_given { nin + 1 } else { nin })
        .map(|o| {
            let mut s = [0i64; 4];
            for k in 0..o.ndim {
                let d = ndim - o.ndim + k;
                s[d] = if o.shape[k] == 1 { 0 } else { o.strides[k] };
            }
            s
        })
        .collect();
    let order = best_axis_order(ndim, &bstrides[..nin]);
    if !out_given {
        let lp = site.lp.as_ref().expect("a new output only for a ufunc");
        let dt = lp.outs[0];
        let identity = order.iter().rev().copied().eq(0..ndim);
        let r = if identity {
            super::alloc::heron_alloc(env, 0, dt as i64, ndim as i64, shape.as_ptr(), out)
        } else {
            super::alloc::alloc_in_order(env, dt, &shape[..ndim], &order, out)
        };
        if r != 0 {
            return r;
        }
        let o = unsafe { std::slice::from_raw_parts(out, 1 + 2 * ndim) };
        let op = &mut operands[nin];
        op.ndim = ndim;
        op.dtype = dt;
        op.data = o[0] as *mut u8;
        for k in 0..ndim {
            op.shape[k] = o[1 + k];
            op.strides[k] = o[1 + ndim + k];
        }
    }
    let mut strides: Vec<[i64; 4]> = bstrides;
    if !out_given {
        let o = &operands[nin];
        let mut s = [0i64; 4];
        s[..ndim].copy_from_slice(&o.strides[..ndim]);
        strides.push(s);
    }
    let total: i64 = shape[..ndim].iter().product();
    if total == 0 {
        return 0;
    }
    // Inputs that overlap the output other than element for element are read first.
    let mut copies: Vec<Vec<u8>> = Vec::new();
    let outp = operands[nin];
    let span = |o: &Operand, s: &[i64; 4]| -> (usize, usize) {
        let item = o.dtype.itemsize();
        let (mut lo, mut hi) = (o.data as i64, o.data as i64 + item);
        for d in 0..ndim {
            let ext = (shape[d] - 1) * s[d];
            if ext < 0 { lo += ext } else { hi += ext }
        }
        (lo as usize, hi as usize)
    };
    let (olo, ohi) = span(&outp, &strides[nin]);
    for i in 0..nin {
        let o = operands[i];
        let (lo, hi) = span(&o, &strides[i]);
        let same = o.data == outp.data && strides[i][..ndim] == strides[nin][..ndim] && o.dtype == outp.dtype;
        if lo < ohi && olo < hi && !same {
            // A C-ordered copy of the broadcast input (its own shape, then strides recomputed).
            let item = o.dtype.itemsize() as usize;
            let mut buf = vec![0u8; total as usize * item];
            for (n, off) in c_order_offsets(&shape[..ndim], &strides[i]).enumerate() {
                unsafe { std::ptr::copy_nonoverlapping(o.data.offset(off as isize), buf.as_mut_ptr().add(n * item), item) };
            }
            operands[i].data = buf.as_mut_ptr();
            strides[i] = c_strides(&shape[..ndim], item);
            copies.push(buf);
        }
    }
    // With such an overlap NumPy writes the result into a copy of the output and writes it
    // back at the end, unless the ufunc failed: under `numpy.seterr(...="raise")` the output
    // keeps its old values (`a /= a[-1, :]` dividing by zero; fuzzer seed 1403280).
    let writeback = if copies.is_empty() {
        None
    } else {
        let item = outp.dtype.itemsize() as usize;
        let mut buf = vec![0u8; total as usize * item];
        let target = (outp.data, strides[nin]);
        operands[nin].data = buf.as_mut_ptr();
        strides[nin] = c_strides(&shape[..ndim], item);
        Some((buf, target, item))
    };
    // Coalesce axes (innermost first) that every operand walks contiguously.
    let mut axes: Vec<(i64, Vec<i64>)> = order.iter().map(|&d| (shape[d], strides.iter().map(|s| s[d]).collect())).collect();
    let mut k = 0;
    while k + 1 < axes.len() {
        let (n0, s0) = axes[k].clone();
        let (n1, s1) = axes[k + 1].clone();
        let can = s0.iter().zip(&s1).all(|(a, b)| n0 == 1 || n1 == 1 || *b == a * n0);
        if can {
            let merged: Vec<i64> = s0.iter().zip(&s1).map(|(a, b)| if n0 == 1 { *b } else { *a }).collect();
            axes[k] = (n0 * n1, merged);
            axes.remove(k + 1);
        } else {
            k += 1;
        }
    }
    if axes.is_empty() {
        axes.push((1, vec![0; strides.len()]));
    }
    let nops = nin + 1;
    let loop_dts: Vec<DType> = match &site.lp {
        Some(lp) => lp.ins.iter().chain(lp.outs.iter()).copied().collect(),
        None => vec![operands[0].dtype, operands[nin].dtype],
    };
    let inner = axes[0].0;
    let cast: Vec<bool> = (0..nops).map(|i| operands[i].dtype != loop_dts[i]).collect();
    let mut bufs: Vec<Vec<u8>> = (0..nops).map(|i| if cast[i] { vec![0u8; inner as usize * loop_dts[i].itemsize() as usize] } else { Vec::new() }).collect();
    // Deferred reports: the flags raised before stay raised (some NumPy loops clear the
    // status); else they are put back after this ufunc's own are read.
    let saved = super::fp::flags_save();
    if !site.deferred {
        super::fp::flags_clear();
    }
    let outer: i64 = axes[1..].iter().map(|a| a.0).product();
    let mut idx = vec![0i64; axes.len()];
    let mut ptrs: Vec<*mut c_char> = vec![std::ptr::null_mut(); nops];
    let mut steps: Vec<isize> = vec![0; nops];
    for _ in 0..outer {
        for i in 0..nops {
            let mut off = 0i64;
            for (a, ix) in axes.iter().zip(&idx).skip(1) {
                off += ix * a.1[i];
            }
            let p = unsafe { operands[i].data.offset(off as isize) };
            let s = axes[0].1[i];
            if cast[i] {
                let w = loop_dts[i].itemsize();
                if i < nin {
                    for n in 0..inner {
                        unsafe { cast_one(p.offset((n * s) as isize), operands[i].dtype, bufs[i].as_mut_ptr().add((n * w) as usize), loop_dts[i]) };
                    }
                }
                ptrs[i] = bufs[i].as_mut_ptr() as *mut c_char;
                steps[i] = w as isize;
            } else {
                ptrs[i] = p as *mut c_char;
                steps[i] = s as isize;
            }
        }
        let mut n = inner as isize;
        match &site.lp {
            Some(lp) => unsafe {
                let f: LoopFn = std::mem::transmute(lp.func);
                f(ptrs.as_mut_ptr(), &mut n, steps.as_mut_ptr(), lp.data as *mut std::ffi::c_void);
            },
            None => {
                let (from, to) = (operands[0].dtype, operands[nin].dtype);
                for j in 0..n {
                    unsafe { cast_one(ptrs[0].offset(j * steps[0]) as *const u8, from, ptrs[1].offset(j * steps[1]) as *mut u8, to) };
                }
            }
        }
        if cast[nin] {
            let mut off = 0i64;
            for (a, ix) in axes.iter().zip(&idx).skip(1) {
                off += ix * a.1[nin];
            }
            let p = unsafe { operands[nin].data.offset(off as isize) };
            let (w, s) = (loop_dts[nin].itemsize(), axes[0].1[nin]);
            for j in 0..inner {
                unsafe { cast_one(bufs[nin].as_ptr().add((j * w) as usize), loop_dts[nin], p.offset((j * s) as isize), operands[nin].dtype) };
            }
        }
        for (k, ix) in idx.iter_mut().enumerate().skip(1) {
            *ix += 1;
            if *ix < axes[k].0 {
                break;
            }
            *ix = 0;
        }
    }
    drop(copies);
    // The copy of the output, written back (element by element, in C order).
    let write_back = |wb: &Option<(Vec<u8>, (*mut u8, [i64; 4]), usize)>| {
        let Some((buf, (data, st), item)) = wb else { return };
        for (n, off) in c_order_offsets(&shape[..ndim], st).enumerate() {
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr().add(n * item), data.offset(off as isize), *item) };
        }
    };
    let int_loop = site.lp.as_ref().map(|l| l.outs.iter().any(|d| d.is_int())).unwrap_or(false);
    if let Some(e) = if int_loop { loop_error() } else { None } {
        super::fp::flags_restore(saved);
        return fail(env, e);
    }
    if site.deferred {
        super::fp::flags_restore(saved | super::fp::flags_save());
        write_back(&writeback);
        return 0;
    }
    let raised = super::fp::flags_save();
    super::fp::flags_restore(saved);
    if raised & super::fp::REPORTED == 0 && (raised & super::fp::UNDERFLOW == 0 || !underflow_reported()) {
        write_back(&writeback);
        return 0;
    }
    let status = report_flags(env, info, site, raised);
    if status == 0 {
        write_back(&writeback);
    }
    status
}

/// Called by native code: a ufunc on scalars (`args`: the input pointers, then the output's),
/// NumPy's loop run once with the processor's flags cleared, its floating-point errors
/// reported as NumPy reports them, and the flags put back. Returns 0, or 1 with the exception
/// stored (FloatingPointError under `numpy.seterr(...="raise")`).
pub extern "C" fn heron_ufunc_scalar(env: *mut Env, info: *const FuncInfo, site: *const UfuncSite, args: *mut *mut c_char) -> i64 {
    let site = unsafe { &*site };
    let lp = site.lp.as_ref().expect("a ufunc");
    let saved = super::fp::flags_save();
    if site.deferred && !lp.outs.iter().any(|d| d.is_int()) {
        // Only keep the flags raised before (some loops clear the status): the register is
        // written back only when the loop cleared one.
        let mut n: isize = 1;
        let mut steps = [0isize; 8];
        unsafe {
            let f: LoopFn = std::mem::transmute(lp.func);
            f(args, &mut n, steps.as_mut_ptr(), lp.data as *mut std::ffi::c_void);
        }
        let now = super::fp::flags_save();
        if now & saved != saved {
            super::fp::flags_restore(now | saved);
        }
        return 0;
    }
    super::fp::flags_clear();
    let mut n: isize = 1;
    let mut steps = [0isize; 8];
    unsafe {
        let f: LoopFn = std::mem::transmute(lp.func);
        f(args, &mut n, steps.as_mut_ptr(), lp.data as *mut std::ffi::c_void);
    }
    let raised = super::fp::flags_save();
    if lp.outs.iter().any(|d| d.is_int()) {
        if let Some(e) = loop_error() {
            super::fp::flags_restore(saved);
            return fail(env, e);
        }
    }
    if site.deferred {
        super::fp::flags_restore(saved | raised);
        return 0;
    }
    super::fp::flags_restore(saved);
    if raised & super::fp::REPORTED == 0 && (raised & super::fp::UNDERFLOW == 0 || !underflow_reported()) {
        return 0;
    }
    report_flags(env, info, site, raised)
}

/// The exception a NumPy loop set (integer loops raise ValueError for a negative power, with
/// the GIL, from inside the loop), taken.
fn loop_error() -> Option<PyErr> {
    Python::attach(PyErr::take)
}

/// Does NumPy's error state report underflow? (Asked only after one.)
fn underflow_reported() -> bool {
    Python::attach(|py| -> PyResult<bool> { Ok(crate::runtime::import(py, "numpy")?.call_method0("geterr")?.get_item("under")?.extract::<String>()? != "ignore") }).unwrap_or(true)
}

/// NumPy's reports after a ufunc whose loop raised floating-point flags, in NumPy's order
/// (numpy/_core/src/umath/extobj.c: divide, over, under, invalid), each as `numpy.geterr()`
/// says; a copy into a view reports as a cast.
fn report_flags(env: *mut Env, info: *const FuncInfo, site: &UfuncSite, raised: u32) -> i64 {
    let info = unsafe { &*info };
    let name = site.lp.as_ref().map(|l| l.name.as_str()).unwrap_or("cast");
    let r = Python::attach(|py| -> PyResult<()> {
        let report = crate::runtime::import(py, "heron._runtime")?.getattr("np_ufunc_error")?;
        for (bit, kind) in [(0x04u32, "divide"), (0x08, "over"), (0x10, "under"), (0x01, "invalid")] {
            if raised & bit != 0 {
                let warned = report.call1((kind, name, info.filename.as_str(), site.line, info.module.as_str()))?;
                super::fp::note_warned(env, &warned);
            }
        }
        Ok(())
    });
    match r {
        Ok(()) => 0,
        Err(e) => fail(env, e),
    }
}
