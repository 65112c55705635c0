//! NumPy in compiled code: the array constructors (`numpy.empty`, `zeros`, `ones` and their
//! `_like` forms) and the attributes that name a dtype (`numpy.float64`, ...).
//!
//! An array made by a constructor is made by NumPy itself, through a runtime callback
//! (`heron_alloc`), so that it is an ordinary NumPy array; one that never leaves the function
//! (`analysis::escape`) gets plain memory from `heron_buf_alloc` instead, without NumPy or the
//! GIL.

use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};

use super::{cerr, Builtin, Lower, LowerFn, RuleFn};
use crate::ir::{CResult, Expr};
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

/// The allocation: the shape in a stack buffer, the runtime fills the array's data pointer,
/// shape and strides (`kind`: 0 empty, 1 zeros, 2 ones, as `runtime::alloc` reads it).
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
