//! The table of builtins Heron compiles: Python builtins (`abs`, `min`, `int`, ...) and the
//! `math` module. Each entry gives its type rule here; `codegen::call` emits it.
//!
//! Rule for `math`: results bit-identical to CPython. Where CPython calls libm, Heron calls the
//! same libm symbol; the domain and range checks are CPython's `math_1`/`math_2`
//! (Modules/mathmodule.c).

use crate::ir::{CResult, CompileError};
use crate::types::{DType, Type};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Abs,
    Min,
    Max,
    Int,
    Float,
    Bool,
    Round,
    Len,
    Print,
    Divmod,
}

impl Builtin {
    /// The builtin by its name in the `builtins` module.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "abs" => Builtin::Abs,
            "min" => Builtin::Min,
            "max" => Builtin::Max,
            "int" => Builtin::Int,
            "float" => Builtin::Float,
            "bool" => Builtin::Bool,
            "round" => Builtin::Round,
            "len" => Builtin::Len,
            "print" => Builtin::Print,
            "divmod" => Builtin::Divmod,
            _ => return None,
        })
    }
}

/// How codegen computes a `math` function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MathKind {
    /// `math_1`: one float in, one float out, libm symbol `sym`; `can_overflow` as in CPython.
    Unary { can_overflow: bool },
    /// `math_2`: two floats (atan2, copysign) with CPython's checks.
    Binary,
    /// `fmod` with CPython's special cases.
    Fmod,
    /// `floor`, `ceil`, `trunc`: float in, Python int out.
    ToInt,
    /// `isnan`, `isinf`, `isfinite`: float in, bool out.
    Predicate,
    /// `degrees` / `radians`: a multiplication by CPython's constant.
    Scale(f64),
}

#[derive(Debug)]
pub struct MathFn {
    pub name: &'static str,
    /// The runtime symbol codegen calls (a libm function or a Heron wrapper of one).
    pub sym: &'static str,
    pub kind: MathKind,
    /// Added to `math` in this CPython minor version (3.x).
    pub since: u32,
}

const fn unary(name: &'static str, sym: &'static str, can_overflow: bool) -> MathFn {
    MathFn { name, sym, kind: MathKind::Unary { can_overflow }, since: 0 }
}

/// Every supported `math` function. Source: CPython 3.10–3.13 Modules/mathmodule.c, `FUNC1`
/// entries (the third argument is `can_overflow`).
pub static MATH_FNS: &[MathFn] = &[
    unary("sqrt", "sqrt", false),
    unary("exp", "exp", true),
    MathFn { name: "exp2", sym: "exp2", kind: MathKind::Unary { can_overflow: true }, since: 11 },
    unary("expm1", "expm1", true),
    unary("log", "heron_m_log", false),
    unary("log2", "heron_m_log2", false),
    unary("log10", "heron_m_log10", false),
    unary("log1p", "heron_m_log1p", false),
    unary("sin", "sin", false),
    unary("cos", "cos", false),
    unary("tan", "tan", false),
    unary("asin", "asin", false),
    unary("acos", "acos", false),
    unary("atan", "atan", false),
    unary("sinh", "sinh", true),
    unary("cosh", "cosh", true),
    unary("tanh", "tanh", false),
    unary("asinh", "asinh", false),
    unary("acosh", "acosh", false),
    unary("atanh", "atanh", false),
    unary("fabs", "fabs", false),
    MathFn { name: "cbrt", sym: "cbrt", kind: MathKind::Unary { can_overflow: false }, since: 11 },
    MathFn { name: "atan2", sym: "heron_m_atan2", kind: MathKind::Binary, since: 0 },
    MathFn { name: "copysign", sym: "copysign", kind: MathKind::Binary, since: 0 },
    MathFn { name: "fmod", sym: "fmod", kind: MathKind::Fmod, since: 0 },
    MathFn { name: "floor", sym: "floor", kind: MathKind::ToInt, since: 0 },
    MathFn { name: "ceil", sym: "ceil", kind: MathKind::ToInt, since: 0 },
    MathFn { name: "trunc", sym: "trunc", kind: MathKind::ToInt, since: 0 },
    MathFn { name: "isnan", sym: "", kind: MathKind::Predicate, since: 0 },
    MathFn { name: "isinf", sym: "", kind: MathKind::Predicate, since: 0 },
    MathFn { name: "isfinite", sym: "", kind: MathKind::Predicate, since: 0 },
    MathFn { name: "degrees", sym: "", kind: MathKind::Scale(180.0 / std::f64::consts::PI), since: 0 },
    MathFn { name: "radians", sym: "", kind: MathKind::Scale(std::f64::consts::PI / 180.0), since: 0 },
];

/// `math.<attr>` as a compile-time value, for the running CPython minor version `minor`.
pub fn math_attr(attr: &str, minor: u32) -> Option<crate::types::infer::GlobalValue> {
    use crate::ir::Const;
    use crate::types::infer::GlobalValue;
    let c = |v: f64| Some(GlobalValue::Const(Const::Float(v)));
    match attr {
        "pi" => c(std::f64::consts::PI),
        "e" => c(std::f64::consts::E),
        "tau" => c(std::f64::consts::TAU),
        "inf" => c(f64::INFINITY),
        "nan" => c(f64::NAN),
        _ => math_fn(attr, minor).map(GlobalValue::MathFn),
    }
}

pub fn math_fn(name: &str, minor: u32) -> Option<&'static MathFn> {
    MATH_FNS.iter().find(|m| m.name == name && minor >= m.since)
}

fn cerr<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(CompileError::new(msg, line))
}

/// A type `math` accepts where it wants a float (it calls `__float__`/`PyFloat_AsDouble`).
fn floatable(t: &Type) -> bool {
    t.is_scalar()
}

/// The result type of a `math` function applied to `args`.
pub fn math_type(m: &MathFn, args: &[Type], line: u32) -> CResult<Type> {
    let arity = match m.kind {
        MathKind::Binary | MathKind::Fmod => 2,
        _ => 1,
    };
    if args.len() != arity {
        if m.name == "log" && args.len() == 2 {
            return cerr("`math.log(x, base)` with a base is not compiled yet (`math.log(x) / math.log(base)` rounds differently)", line);
        }
        // Python itself raises TypeError for this call.
        return cerr(format!("math.{}() takes exactly {arity} argument(s) in Python, and this call passes {}", m.name, args.len()), line);
    }
    if let Some(bad) = args.iter().find(|t| !floatable(t)) {
        return cerr(format!("math.{}() needs a number, got a {bad}", m.name), line);
    }
    Ok(match m.kind {
        MathKind::ToInt => {
            // math.floor(x) calls x.__floor__ when the type has one (int, float, numpy.float64)
            // and otherwise converts to float first (NumPy ints, numpy.float32); math.trunc
            // requires __trunc__ and raises TypeError without it.
            let has_method = matches!(args[0], Type::Int | Type::Bool | Type::Float | Type::Np(DType::F64));
            if m.name == "trunc" && !has_method {
                return cerr(format!("math.trunc of a {} raises TypeError in Python", args[0]), line);
            }
            Type::Int
        }
        MathKind::Predicate => Type::Bool,
        _ => Type::Float,
    })
}

/// The result type of a Python builtin applied to `args`.
pub fn builtin_type(b: Builtin, args: &[Type], line: u32) -> CResult<Type> {
    let n = args.len();
    let need = |k: usize| -> CResult<()> {
        if n == k {
            Ok(())
        } else {
            cerr(format!("this builtin takes {k} argument(s) here, got {n}"), line)
        }
    };
    match b {
        Builtin::Abs => {
            need(1)?;
            match &args[0] {
                Type::Bool | Type::Int => Ok(Type::Int),
                Type::Float => Ok(Type::Float),
                Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(args[0].clone()),
                t => cerr(format!("abs() of a {t} is not supported"), line),
            }
        }
        Builtin::Min | Builtin::Max => {
            if n < 2 {
                return cerr("min()/max() of a sequence is not supported yet; pass the values as arguments", line);
            }
            let t0 = &args[0];
            if !t0.is_scalar() {
                return cerr(format!("min()/max() of a {t0} is not supported"), line);
            }
            if t0 == &Type::Np(DType::U64) {
                return cerr("min()/max() of numpy.uint64 is not supported", line);
            }
            if let Some(t) = args.iter().find(|t| *t != t0) {
                // Python returns whichever argument wins, keeping its type: both types would be possible.
                return cerr(format!("min()/max() between a {t0} and a {t} returns either type; Heron needs one type (convert with float() or int())"), line);
            }
            Ok(t0.clone())
        }
        Builtin::Int => {
            need(1)?;
            if !args[0].is_scalar() || args[0] == Type::Np(DType::U64) {
                return cerr(format!("int() of a {} is not supported", args[0]), line);
            }
            Ok(Type::Int)
        }
        Builtin::Float => {
            if n == 0 {
                return Ok(Type::Float);
            }
            need(1)?;
            if !args[0].is_scalar() {
                return cerr(format!("float() of a {} is not supported", args[0]), line);
            }
            Ok(Type::Float)
        }
        Builtin::Bool => {
            if n == 0 {
                return Ok(Type::Bool);
            }
            need(1)?;
            if !(args[0].is_scalar() || args[0] == Type::None) {
                return cerr(format!("bool() of a {} is not supported", args[0]), line);
            }
            Ok(Type::Bool)
        }
        Builtin::Round => {
            if n == 2 {
                // float.__round__(ndigits): a float, correctly rounded (CPython's double_round).
                return match (&args[0], &args[1]) {
                    (Type::Float, Type::Int | Type::Bool) => Ok(Type::Float),
                    (a, b) => cerr(format!("round() of a {a} with {b} digits is not supported yet"), line),
                };
            }
            need(1)?;
            match &args[0] {
                Type::Bool | Type::Int | Type::Float => Ok(Type::Int),
                Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(Type::Int),
                t => cerr(format!("round() of a {t} is not supported"), line),
            }
        }
        Builtin::Len => {
            need(1)?;
            match &args[0] {
                Type::Array(a) if a.ndim >= 1 => Ok(Type::Int),
                Type::Tuple(_) => Ok(Type::Int),
                t => cerr(format!("len() of a {t} is not supported"), line),
            }
        }
        Builtin::Print => Ok(Type::None),
        Builtin::Divmod => {
            need(2)?;
            match (&args[0], &args[1]) {
                (Type::Int | Type::Bool, Type::Int | Type::Bool) => Ok(Type::Tuple(vec![Type::Int, Type::Int])),
                (Type::Int | Type::Bool | Type::Float, Type::Int | Type::Bool | Type::Float) => {
                    Ok(Type::Tuple(vec![Type::Float, Type::Float]))
                }
                (a, b) => cerr(format!("divmod() of a {a} and a {b} is not supported yet"), line),
            }
        }
    }
}

/// NumPy array constructors compiled as allocations (`numpy.empty(shape, dtype)` ...). The array
/// is made by NumPy itself, through a callback, so that it is an ordinary NumPy array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpAlloc {
    Empty,
    Zeros,
    Ones,
}

impl NpAlloc {
    /// `numpy.<name>` as (constructor, whether it is the `_like` form).
    pub fn from_name(name: &str) -> Option<(NpAlloc, bool)> {
        Some(match name {
            "empty" => (NpAlloc::Empty, false),
            "zeros" => (NpAlloc::Zeros, false),
            "ones" => (NpAlloc::Ones, false),
            "empty_like" => (NpAlloc::Empty, true),
            "zeros_like" => (NpAlloc::Zeros, true),
            "ones_like" => (NpAlloc::Ones, true),
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            NpAlloc::Empty => "empty",
            NpAlloc::Zeros => "zeros",
            NpAlloc::Ones => "ones",
        }
    }
}

/// `numpy.<name>` as a dtype (`numpy.float64`, ...).
pub fn numpy_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float64" | "double" => DType::F64,
        "float32" | "single" => DType::F32,
        "int64" | "intp" => DType::I64,
        "int32" => DType::I32,
        "int16" => DType::I16,
        "int8" => DType::I8,
        "uint64" => DType::U64,
        "uint32" => DType::U32,
        "uint16" => DType::U16,
        "uint8" => DType::U8,
        "bool_" | "bool" => DType::Bool,
        _ => return None,
    })
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
