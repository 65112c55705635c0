//! The type rules of operators, attributes and stores: what `a op b`, `-a`, `a < b`,
//! `a.shape` and `a[i] = x` give (or why they are refused) for the types of their operands.
//! Sources: CPython's numeric tower for Python scalars, NEP 50 for NumPy scalars.

use super::*;
use crate::ir::*;

fn cerr<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(CompileError::new(msg, line))
}

/// Built-in exception types that `raise` may name in compiled code.
pub fn is_known_exception(name: &str) -> bool {
    matches!(
        name,
        "ValueError"
            | "TypeError"
            | "IndexError"
            | "KeyError"
            | "ZeroDivisionError"
            | "OverflowError"
            | "ArithmeticError"
            | "RuntimeError"
            | "AssertionError"
            | "NotImplementedError"
            | "Exception"
            | "StopIteration"
            | "LookupError"
    )
}

/// A negative integer constant (`-3` parses as a unary minus on 3).
pub fn is_negative_const(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Const(Const::Int(k)) => *k < 0,
        ExprKind::Unary(UnaryOp::Neg, inner) => matches!(inner.kind, ExprKind::Const(Const::Int(k)) if k > 0),
        _ => false,
    }
}

pub fn const_type(c: &Const) -> Type {
    match c {
        Const::Int(_) => Type::Int,
        Const::Float(_) => Type::Float,
        Const::Bool(_) => Type::Bool,
        Const::None => Type::None,
        Const::Str(_) => Type::Str,
        Const::Bytes(_) => Type::Bytes,
    }
}

pub fn truth_ok(t: &Type, line: u32) -> CResult<()> {
    if t.is_scalar() || *t == Type::None || *t == Type::Complex {
        Ok(())
    } else {
        cerr(format!("the truth value of a {t} is not supported"), line)
    }
}

pub fn attr_type(bt: &Type, attr: &str, line: u32) -> CResult<Type> {
    match (bt, attr) {
        (Type::Array(at), "shape") => Ok(Type::Tuple(vec![Type::Int; at.ndim as usize])),
        (Type::Array(_), "size") | (Type::Array(_), "ndim") | (Type::Array(_), "itemsize") | (Type::Array(_), "nbytes") => Ok(Type::Int),
        (Type::Array(at), "strides") => Ok(Type::Tuple(vec![Type::Int; at.ndim as usize])),
        // `a.T`: a view with the axes reversed (the same array when 1-d).
        (Type::Array(at), "T") => Ok(Type::Array(if at.ndim <= 1 { *at } else { ArrayType { layout: Layout::Any, ..*at } })),
        (Type::Float, "real") | (Type::Float, "imag") | (Type::Complex, "real") | (Type::Complex, "imag") => Ok(Type::Float),
        // `a.ctypes` (for a foreign function), and its address `a.ctypes.data`.
        (Type::Array(_), "ctypes") => Ok(Type::CPtr(None)),
        (Type::CPtr(None), "data") => Ok(Type::Int),
        _ => cerr(format!("the attribute `.{attr}` of a {bt} is not supported"), line),
    }
}

/// Can a value of type `t` be stored into an array of `dtype` the way NumPy's `__setitem__` would?
pub fn check_store(dtype: DType, t: &Type, line: u32) -> CResult<()> {
    let ok = match t {
        Type::Bool => true,
        Type::Int => dtype != DType::Bool,
        // A float into an integer array truncates (out of range: the interpreter, see
        // `codegen::array::store_element`).
        Type::Float => dtype != DType::Bool,
        Type::Np(d) => {
            if dtype.is_float() || (d.is_float() && dtype != DType::Bool) {
                true
            } else if dtype == DType::Bool {
                *d == DType::Bool
            } else if *d == DType::U64 {
                // NumPy raises "Python int too large to convert to C long" for large values.
                dtype == DType::U64
            } else {
                d.is_int() || *d == DType::Bool
            }
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        cerr(format!("storing a {t} into a {} array is not supported", dtype.name()), line)
    }
}

/// The result type of `a op b`.
///
/// Sources: CPython's numeric tower for Python scalars; NEP 50 for NumPy scalars.
pub fn binop_type(op: BinOp, a: &Type, b: &Type, line: u32) -> CResult<Type> {
    let bad = || cerr(format!("the operator {} between a {a} and a {b} is not supported", op_symbol(op)), line);
    if *a == Type::Complex || *b == Type::Complex {
        // Python's complex arithmetic; an int, float or bool operand is made a complex first
        // (CPython 3.10-3.13's `to_complex`). With a NumPy scalar it would be NumPy's complex128.
        let real = |t: &Type| matches!(t, Type::Bool | Type::Int | Type::Float | Type::Complex);
        return match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow if real(a) && real(b) => Ok(Type::Complex),
            _ => bad(),
        };
    }
    if !a.is_scalar() || !b.is_scalar() {
        return bad();
    }
    let Some(r) = arith_result(a, b) else { return bad() };
    match op {
        BinOp::Div => Ok(match r {
            Type::Int => Type::Float,
            Type::Np(d) if !d.is_float() => Type::Np(DType::F64),
            other => other,
        }),
        BinOp::Pow => match (&r, a, b) {
            // int ** int: an int, or a float when the exponent is negative (decided at run time;
            // Heron requires a non-negative exponent and deoptimizes otherwise).
            (Type::Int, _, _) => Ok(Type::Int),
            (Type::Np(d), _, _) if *d == DType::U64 => bad(),
            (Type::Np(DType::Bool), _, _) => bad(),
            _ => Ok(r),
        },
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => match (a, b) {
            (Type::Bool, Type::Bool) => Ok(Type::Bool),
            _ if r == Type::Int => Ok(Type::Int),
            _ if matches!(r, Type::Np(d) if d.is_int() && d != DType::U64) => Ok(r),
            _ => bad(),
        },
        BinOp::LShift | BinOp::RShift => match r {
            Type::Int => Ok(Type::Int),
            // NumPy integers shift within their width (numpy/_core/src/umath: npy_lshift,
            // npy_rshift).
            Type::Np(d) if d.is_int() => Ok(r),
            _ => bad(),
        },
        _ => match r {
            Type::Np(DType::Bool) | Type::Np(DType::U64) => bad(),
            _ => Ok(r),
        },
    }
}

/// Operators whose errors differ between ints and floats (ZeroDivisionError messages, pow).
pub fn error_sensitive(op: BinOp) -> bool {
    matches!(op, BinOp::Div | BinOp::FloorDiv | BinOp::Mod | BinOp::Pow)
}

pub fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "^",
        BinOp::LShift => "<<",
        BinOp::RShift => ">>",
    }
}

pub fn unary_type(op: UnaryOp, a: &Type, line: u32) -> CResult<Type> {
    match op {
        UnaryOp::Not => {
            truth_ok(a, line)?;
            Ok(Type::Bool)
        }
        UnaryOp::Neg | UnaryOp::Pos => match a {
            Type::Complex => Ok(Type::Complex),
            Type::Bool | Type::Int => Ok(Type::Int),
            Type::Float => Ok(Type::Float),
            Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(a.clone()),
            _ => cerr(format!("unary minus/plus on a {a} is not supported"), line),
        },
        UnaryOp::Invert => match a {
            // `~True` is -2 with a DeprecationWarning on Python 3.12+: left to Python.
            Type::Bool => cerr("`~` on a bool is deprecated (a DeprecationWarning on Python 3.12+); use `not`", line),
            Type::Int => Ok(Type::Int),
            _ => cerr(format!("`~` on a {a} is not supported"), line),
        },
    }
}

/// The result type of `a op b` for a comparison: `bool`, or `numpy.bool` when NumPy compares.
pub fn compare_type(op: CmpOp, a: &Type, b: &Type, line: u32) -> CResult<Type> {
    if *a == Type::Complex || *b == Type::Complex {
        // Only `==` and `!=` (ordering complex numbers is Python's TypeError), with Python
        // numbers.
        let real = |t: &Type| matches!(t, Type::Bool | Type::Int | Type::Float | Type::Complex);
        return if matches!(op, CmpOp::Eq | CmpOp::NotEq) && real(a) && real(b) {
            Ok(Type::Bool)
        } else {
            cerr(format!("comparing a {a} with a {b} this way is not supported"), line)
        };
    }
    if a.is_scalar() && b.is_scalar() {
        let np = matches!(a, Type::Np(_)) || matches!(b, Type::Np(_));
        if np && (a == &Type::Np(DType::U64) || b == &Type::Np(DType::U64)) && (a.is_intlike() && b.is_intlike()) {
            return cerr("comparing numpy.uint64 with signed integers is not supported", line);
        }
        return Ok(if np { Type::Np(DType::Bool) } else { Type::Bool });
    }
    if matches!((a, b), (Type::None, Type::None)) {
        return Ok(Type::Bool);
    }
    cerr(format!("comparing a {a} with a {b} is not supported"), line)
}

/// The positions `t[lo:hi:step]` takes from a tuple of `n` items when the bounds and step
/// are constants (or absent), by Python's `slice.indices` (Objects/sliceobject.c); `None`
/// when one is not a constant, or the step is 0.
pub fn const_tuple_slice(index: &Expr, n: usize) -> Option<Vec<usize>> {
    let ExprKind::Slice(lo, hi, st) = &index.kind else { return None };
    let value = |p: &Option<Box<Expr>>| -> Option<Option<i64>> {
        match p.as_deref().map(|e| &e.kind) {
            None | Some(ExprKind::Const(Const::None)) => Some(None),
            Some(ExprKind::Const(Const::Int(k))) => Some(Some(*k)),
            Some(ExprKind::Unary(UnaryOp::Neg, inner)) => match inner.kind {
                ExprKind::Const(Const::Int(k)) => Some(Some(-k)),
                _ => None,
            },
            _ => None,
        }
    };
    let (lo, hi, step) = (value(lo)?, value(hi)?, value(st)?.unwrap_or(1));
    if step == 0 {
        return None;
    }
    let n = n as i64;
    let clamp = |v: Option<i64>, dflt: i64| -> i64 {
        match v {
            None => dflt,
            Some(v) if v < 0 => (v + n).max(if step < 0 { -1 } else { 0 }),
            Some(v) => v.min(if step < 0 { n - 1 } else { n }),
        }
    };
    let (start, stop) = if step > 0 { (clamp(lo, 0), clamp(hi, n)) } else { (clamp(lo, n - 1), clamp(hi, -1)) };
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    Some(out)
}
