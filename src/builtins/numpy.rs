//! NumPy in compiled code: the array constructors (`numpy.empty`, `zeros`, `ones` and their
//! `_like` forms, `numpy.array`/`asarray` of numbers written out) and the attributes that name a
//! dtype (`numpy.float64`, ...).
//!
//! An array made by a constructor is made by NumPy itself, through a runtime callback
//! (`heron_alloc`), so that it is an ordinary NumPy array; one that never leaves the function
//! (`analysis::escape`) gets plain memory from `heron_buf_alloc` instead, without NumPy or the
//! GIL.

use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};

use super::{cerr, Builtin, Lower, LowerFn, RuleFn};
use crate::ir::{CResult, Expr, ExprKind};
use crate::types::{ArrayType, DType, Form, Layout, Type};

/// What `numpy.<attr>` is to compiled code.
#[derive(Clone, Copy, Debug)]
pub enum NumpyAttr {
    Fn(&'static Builtin),
    /// `numpy.float64`, `numpy.int32`, ... (used as a dtype).
    DType(DType),
}

const fn alloc(name: &'static str, like: bool, rule: RuleFn, lower: LowerFn) -> Builtin {
    Builtin { name, form: Form::Alloc { like }, since: 0, sym: "heron_alloc", dtype: None, rule, lower: Some(lower) }
}

/// The constructors compiled as allocations.
pub static NUMPY: &[Builtin] = &[
    alloc("numpy.empty", false, shape_type, lower_empty),
    alloc("numpy.zeros", false, shape_type, lower_zeros),
    alloc("numpy.ones", false, shape_type, lower_ones),
    alloc("numpy.empty_like", true, like_type, lower_empty),
    alloc("numpy.zeros_like", true, like_type, lower_zeros),
    alloc("numpy.ones_like", true, like_type, lower_ones),
    Builtin { name: "numpy.array", form: Form::Call, since: 0, sym: "heron_alloc", dtype: None, rule: array_type, lower: Some(lower_array) },
    Builtin { name: "numpy.asarray", form: Form::Call, since: 0, sym: "heron_alloc", dtype: None, rule: array_type, lower: Some(lower_array) },
];

/// The Heron functions this family's lowerings call by symbol, besides the runtime's own (see
/// `super::Helper`).
pub static HELPERS: &[super::Helper] = &[];

/// `numpy.<attr>`, if compiled code knows it.
pub fn numpy_attr(attr: &str) -> Option<NumpyAttr> {
    if let Some(f) = NUMPY.iter().find(|b| b.name.strip_prefix("numpy.") == Some(attr)) {
        return Some(NumpyAttr::Fn(f));
    }
    DType::from_name(attr).map(NumpyAttr::DType)
}

/// `numpy.empty(shape)`: a new C-contiguous float64 array of `shape` (an integer or a tuple of
/// one to four integers).
fn shape_type(b: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    let dims = match &args[0] {
        Type::Tuple(ts) => ts.clone(),
        t => vec![t.clone()],
    };
    if dims.is_empty() || dims.len() > 4 {
        return cerr(format!("{}() with {} dimensions is not supported (1 to 4)", b.name, dims.len()), line);
    }
    if let Some(t) = dims.iter().find(|t| !(matches!(t, Type::Int | Type::Bool) || matches!(t, Type::Np(d) if d.is_int() && *d != DType::U64))) {
        return cerr(format!("{}() needs integer dimensions, got a {t}", b.name), line);
    }
    Ok(Type::Array(ArrayType { dtype: DType::F64, ndim: dims.len() as u8, layout: Layout::C, readonly: false }))
}

/// `numpy.empty_like(a)`: a new C-contiguous array of `a`'s shape and dtype.
fn like_type(b: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match &args[0] {
        Type::Array(a) if a.layout == Layout::C => Ok(Type::Array(ArrayType { dtype: a.dtype, ndim: a.ndim, layout: Layout::C, readonly: false })),
        Type::Array(_) => cerr(format!("{}() of a non-contiguous array keeps its memory order; not supported yet", b.name), line),
        t => cerr(format!("{}() of a {t} is not supported", b.name), line),
    }
}

fn lower_empty(cx: &mut dyn Lower<'_>, b: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    lower_alloc(cx, b, 0, e, args, line)
}

fn lower_zeros(cx: &mut dyn Lower<'_>, b: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    lower_alloc(cx, b, 1, e, args, line)
}

fn lower_ones(cx: &mut dyn Lower<'_>, b: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    lower_alloc(cx, b, 2, e, args, line)
}

/// The allocation of `numpy.empty/zeros/ones` and their `_like` forms (`kind`: see `allocate`).
fn lower_alloc(cx: &mut dyn Lower<'_>, b: &Builtin, kind: i64, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let Type::Array(at) = cx.ty(e) else { unreachable!("an allocation makes an array") };
    let (dtype, nd) = (at.dtype, at.ndim as usize);
    let like = matches!(b.form, Form::Alloc { like: true });
    let local = cx.local_alloc(e);
    let first = cx.expr(&args[0])?;
    let t0 = cx.ty(&args[0]);
    let dims: Vec<Value> = if like {
        first[1..1 + nd].to_vec()
    } else {
        let ts = match &t0 {
            Type::Tuple(ts) => ts.clone(),
            t => vec![t.clone()],
        };
        let mut out = Vec::new();
        let mut off = 0;
        for t in &ts {
            let w = crate::abi::repr(t).len();
            out.push(cx.to_i64(first[off..off + w].to_vec(), t));
            off += w;
        }
        out
    };
    allocate(cx, kind, dtype, &dims, local, line)
}

/// A new C-contiguous array of `dtype` and shape `dims` (`kind`: 0 empty, 1 zeros, 2 ones, as
/// `runtime::alloc` reads it): the shape in a stack buffer, the runtime fills the array's data
/// pointer, shape and strides. From NumPy (`heron_alloc`), or plain memory for an array that
/// never leaves the function (`local`, `heron_buf_alloc`).
fn allocate(cx: &mut dyn Lower<'_>, kind: i64, dtype: DType, dims: &[Value], local: bool, line: u32) -> CResult<Vec<Value>> {
    let nd = dims.len();
    let shape_ss = cx.builder().create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * nd) as u32, 3));
    for (i, d) in dims.iter().enumerate() {
        cx.ins().stack_store(types::I64, *d, shape_ss, (8 * i) as i32);
    }
    let out_ss = cx.builder().create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * (1 + 2 * nd)) as u32, 3));
    let shape_ptr = cx.ins().stack_addr(types::I64, shape_ss, 0);
    let out_ptr = cx.ins().stack_addr(types::I64, out_ss, 0);
    let k = cx.iconst(kind);
    let dt = cx.iconst(dtype as i64);
    let n = cx.iconst(nd as i64);
    let env = cx.env();
    let i = types::I64;
    let helper = if local { "heron_buf_alloc" } else { "heron_alloc" };
    if !local {
        cx.note_py_callback();
    }
    cx.call_helper(helper, &[i, i, i, i, i, i], &[i], &[env, k, dt, n, shape_ptr, out_ptr])?;
    cx.fail_if_env_error(line);
    Ok((0..1 + 2 * nd).map(|j| cx.ins().stack_load(types::I64, types::I64, out_ss, (8 * j) as i32)).collect())
}

// ---- numpy.array / numpy.asarray of numbers written out ---------------------------------

/// The shape and dtype `numpy.array(x)` gives a tuple, or a list display (`[a, b]`, typed as
/// a tuple by inference, `infer_literals`), of numbers or of equally long tuples or lists of
/// numbers: NumPy's dtype discovery for Python scalars (`bool`, `int` as int64, `float` as
/// float64) and NumPy's float64/int64/bool scalars, promoted (any float: float64; else any int:
/// int64; else bool); an empty one is float64. Other dtypes, deeper or ragged nesting (NumPy's
/// ValueError), and arrays (a copy) are refused: the call runs as Python.
fn literal_shape(b: &Builtin, t: &Type, line: u32) -> CResult<(Vec<usize>, DType)> {
    let Type::Tuple(ts) = t else {
        return cerr(format!("{}() of a {t} is not supported in compiled code yet (numbers written out as a list or tuple are)", b.name), line);
    };
    let mut leaves = Vec::new();
    let mut dims = vec![ts.len()];
    if ts.iter().all(|t| matches!(t, Type::Tuple(_))) && !ts.is_empty() {
        let inner: Vec<&Vec<Type>> = ts.iter().map(|t| if let Type::Tuple(us) = t { us } else { unreachable!() }).collect();
        if inner.iter().any(|us| us.len() != inner[0].len()) {
            return cerr(format!("{}() of rows of different lengths raises in NumPy", b.name), line);
        }
        dims.push(inner[0].len());
        leaves.extend(inner.into_iter().flatten());
    } else {
        leaves.extend(ts.iter());
    }
    let mut dtype = if leaves.is_empty() { DType::F64 } else { DType::Bool };
    for l in leaves {
        let d = match l {
            Type::Bool | Type::Np(DType::Bool) => DType::Bool,
            Type::Int | Type::Np(DType::I64) => DType::I64,
            Type::Float | Type::Np(DType::F64) => DType::F64,
            t => return cerr(format!("{}() of a {t} is not supported in compiled code yet", b.name), line),
        };
        dtype = match (dtype, d) {
            (DType::F64, _) | (_, DType::F64) => DType::F64,
            (DType::I64, _) | (_, DType::I64) => DType::I64,
            _ => DType::Bool,
        };
    }
    Ok((dims, dtype))
}

fn array_type(b: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.len() != 1 {
        return cerr(format!("{}() with {} arguments is not supported in compiled code yet", b.name, args.len()), line);
    }
    let (dims, dtype) = literal_shape(b, &args[0], line)?;
    Ok(Type::Array(ArrayType { dtype, ndim: dims.len() as u8, layout: Layout::C, readonly: false }))
}

/// The numbers of `e` in C order, with their types: a list display (`$list(...)`) or a tuple
/// display is walked, any other tuple value is split.
fn literal_leaves(cx: &mut dyn Lower<'_>, e: &Expr, out: &mut Vec<(Vec<Value>, Type)>) -> CResult<()> {
    match &e.kind {
        ExprKind::Call { func, args, .. } if matches!(&func.kind, ExprKind::Global(n) if n == "$list") => {
            for a in args {
                literal_leaves(cx, a, out)?;
            }
        }
        ExprKind::Tuple(items) => {
            for a in items {
                literal_leaves(cx, a, out)?;
            }
        }
        _ => {
            let t = cx.ty(e);
            let v = cx.expr(e)?;
            split_leaves(v, &t, out);
        }
    }
    Ok(())
}

fn split_leaves(v: Vec<Value>, t: &Type, out: &mut Vec<(Vec<Value>, Type)>) {
    match t {
        Type::Tuple(ts) => {
            let mut k = 0;
            for t in ts {
                let n = crate::abi::repr(t).len();
                split_leaves(v[k..k + n].to_vec(), t, out);
                k += n;
            }
        }
        t => out.push((v, t.clone())),
    }
}

/// A new C-contiguous array (made by NumPy, `heron_alloc`) holding the numbers, each converted
/// to the array's dtype as NumPy converts it (an int to float64 rounds to nearest).
fn lower_array(cx: &mut dyn Lower<'_>, b: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let Type::Array(at) = cx.ty(e) else { unreachable!("numpy.array makes an array") };
    let (dims, _) = literal_shape(b, &cx.ty(&args[0]), line)?;
    let mut leaves = Vec::new();
    literal_leaves(cx, &args[0], &mut leaves)?;
    let dims: Vec<Value> = dims.iter().map(|&d| cx.iconst(d as i64)).collect();
    let out = allocate(cx, 0, at.dtype, &dims, false, line)?;
    let item = at.dtype.itemsize() as i32;
    for (j, (v, t)) in leaves.into_iter().enumerate() {
        let x = if t == Type::Np(at.dtype) { v[0] } else { cx.cast_scalar(v[0], &t, at.dtype) };
        let x = match at.dtype {
            DType::Bool if cx.builder().func.dfg.value_type(x) != types::I8 => cx.ins().ireduce(types::I8, x),
            _ => x,
        };
        cx.ins().store(cranelift_codegen::ir::MemFlagsData::trusted(), x, out[0], item * j as i32);
    }
    Ok(out)
}
