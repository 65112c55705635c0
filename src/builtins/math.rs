//! The `math` module: its constants and the functions compiled natively, each row of `MATH`
//! giving the function's libm symbol, its type rule and its lowering.
//!
//! Rule: results bit-identical to CPython. Where CPython calls libm, Heron calls the same libm
//! symbol; the domain and range checks are CPython's `math_1`/`math_2`
//! (Modules/mathmodule.c). Where CPython has its own algorithm, the symbol is a Heron function
//! of the runtime that reproduces it (`heron_m_log`, `heron_m_atan2`, see `runtime::pymath`).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::{cerr, Builtin, Lower, LowerFn, RuleFn};
use crate::abi::ErrCode;
use crate::ir::{CResult, Expr};
use crate::types::{DType, Form, Type};

/// `math.<attr>` as a compile-time value.
#[derive(Clone, Copy, Debug)]
pub enum MathAttr {
    /// `math.pi`, `math.e`, `math.tau`, `math.inf`, `math.nan`.
    Const(f64),
    Fn(&'static Builtin),
}

const fn entry(name: &'static str, sym: &'static str, since: u32, rule: RuleFn, lower: LowerFn) -> Builtin {
    Builtin { name, form: Form::Call, since, sym, dtype: None, rule, lower: Some(lower) }
}

/// CPython's `math_1` over libm's `sym`: one float in, one float out; `can_overflow` as the
/// third argument of CPython's `FUNC1` entry (an infinite result of a finite argument is then
/// OverflowError, not ValueError).
const fn unary(name: &'static str, sym: &'static str, can_overflow: bool) -> Builtin {
    entry(name, sym, 0, float_1, if can_overflow { lower_unary_overflow } else { lower_unary })
}

/// Every supported `math` function. Source: CPython 3.10–3.13 Modules/mathmodule.c, `FUNC1`
/// entries (the third argument is `can_overflow`) and the functions named in the comments.
pub static MATH: &[Builtin] = &[
    unary("math.sqrt", "sqrt", false),
    unary("math.exp", "exp", true),
    entry("math.exp2", "exp2", 11, float_1, lower_unary_overflow),
    unary("math.expm1", "expm1", true),
    unary("math.log", "heron_m_log", false),
    unary("math.log2", "heron_m_log2", false),
    unary("math.log10", "heron_m_log10", false),
    unary("math.log1p", "heron_m_log1p", false),
    unary("math.sin", "sin", false),
    unary("math.cos", "cos", false),
    unary("math.tan", "tan", false),
    unary("math.asin", "asin", false),
    unary("math.acos", "acos", false),
    unary("math.atan", "atan", false),
    unary("math.sinh", "sinh", true),
    unary("math.cosh", "cosh", true),
    unary("math.tanh", "tanh", false),
    unary("math.asinh", "asinh", false),
    unary("math.acosh", "acosh", false),
    unary("math.atanh", "atanh", false),
    unary("math.fabs", "fabs", false),
    entry("math.cbrt", "cbrt", 11, float_1, lower_unary),
    // FUNC1A (`math_1a`): libm's erf and erfc, whose results cannot overflow.
    unary("math.erf", "erf", false),
    unary("math.erfc", "erfc", false),
    // math_2: two floats, CPython's checks.
    entry("math.atan2", "heron_m_atan2", 0, float_2, lower_binary),
    entry("math.copysign", "copysign", 0, float_2, lower_binary),
    // math_fmod: CPython's special cases are libm's.
    entry("math.fmod", "fmod", 0, float_2, lower_binary),
    // __floor__, __ceil__, __trunc__: a float in, a Python int out.
    entry("math.floor", "floor", 0, to_int, lower_to_int),
    entry("math.ceil", "ceil", 0, to_int, lower_to_int),
    entry("math.trunc", "trunc", 0, to_int, lower_to_int),
    entry("math.isnan", "", 0, predicate, lower_predicate),
    entry("math.isinf", "", 0, predicate, lower_predicate),
    entry("math.isfinite", "", 0, predicate, lower_predicate),
    // math_pow: IEEE specials by CPython's table, libm for finite ** finite.
    entry("math.pow", "heron_m_pow", 0, float_2, lower_pow),
    // IEEE operations with exact results: libm's, as CPython's.
    entry("math.remainder", "remainder", 0, float_2, lower_binary),
    entry("math.nextafter", "nextafter", 9, float_2, lower_binary),
    entry("math.ulp", "heron_m_ulp", 9, float_1, lower_unary),
    entry("math.ldexp", "heron_m_ldexp", 0, ldexp_type, lower_ldexp),
    entry("math.isclose", "", 0, isclose_type, lower_isclose),
    // A multiplication by CPython's constant (`degToRad`, `radToDeg`).
    entry("math.degrees", "", 0, float_1, lower_scale),
    entry("math.radians", "", 0, float_1, lower_scale),
];

/// The Heron functions this family's lowerings call by symbol, besides the runtime's own (see
/// `super::Helper`).
pub static HELPERS: &[super::Helper] = &[
    super::Helper { sym: "heron_m_pow", addr: || heron_m_pow as *const u8, params: &[types::F64, types::F64], rets: &[types::F64] },
    super::Helper { sym: "heron_m_ulp", addr: || heron_m_ulp as *const u8, params: &[types::F64], rets: &[types::F64] },
    super::Helper { sym: "heron_m_ldexp", addr: || heron_m_ldexp as *const u8, params: &[types::F64, types::I64], rets: &[types::F64] },
];

extern "C" {
    fn pow(x: f64, y: f64) -> f64;
    fn nextafter(x: f64, y: f64) -> f64;
    fn ldexp(x: f64, e: i32) -> f64;
}

/// CPython's `math_pow_impl` without its error reports (see `lower_pow`): IEEE specials by
/// CPython's own table (NaN ** 0 is 1, 1 ** NaN is 1, infinities by the sign and parity of
/// the exponent), libm's `pow` for finite ** finite.
pub extern "C" fn heron_m_pow(x: f64, y: f64) -> f64 {
    if x.is_finite() && y.is_finite() {
        return unsafe { pow(x, y) };
    }
    if x.is_nan() {
        return if y == 0.0 { 1.0 } else { x };
    }
    if y.is_nan() {
        return if x == 1.0 { 1.0 } else { y };
    }
    if x.is_infinite() {
        let odd_y = y.is_finite() && (y.abs() % 2.0) == 1.0;
        return if y > 0.0 {
            if odd_y { x } else { x.abs() }
        } else if y == 0.0 {
            1.0
        } else if odd_y {
            0.0f64.copysign(x)
        } else {
            0.0
        };
    }
    // y is infinite.
    if x.abs() == 1.0 {
        1.0
    } else if y > 0.0 && x.abs() > 1.0 {
        y
    } else if y < 0.0 && x.abs() < 1.0 {
        -y
    } else {
        0.0
    }
}

/// CPython's `math_ulp_impl`.
pub extern "C" fn heron_m_ulp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.abs();
    if x.is_infinite() {
        return x;
    }
    let x2 = unsafe { nextafter(x, f64::INFINITY) };
    if x2.is_infinite() {
        let x2 = unsafe { nextafter(x, -f64::INFINITY) };
        return x - x2;
    }
    x2 - x
}

/// CPython's `math_ldexp_impl` for an exponent that fits a C long (an i64): zero and
/// non-finite `x` are returned as they are, exponents beyond C int are clamped (the result
/// is then 0 or infinity, as libm gives it); the range error is reported by `lower_ldexp`.
pub extern "C" fn heron_m_ldexp(x: f64, e: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = e.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    unsafe { ldexp(x, e) }
}

/// `math.<attr>` as a compile-time value, for the running CPython minor version `minor`.
pub fn math_attr(attr: &str, minor: u32) -> Option<MathAttr> {
    Some(MathAttr::Const(match attr {
        "pi" => std::f64::consts::PI,
        "e" => std::f64::consts::E,
        "tau" => std::f64::consts::TAU,
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => return math_fn(attr, minor).map(MathAttr::Fn),
    }))
}

/// The function `math.<name>` of CPython 3.`minor`, if Heron compiles it.
pub fn math_fn(name: &str, minor: u32) -> Option<&'static Builtin> {
    MATH.iter().find(|m| m.name.strip_prefix("math.") == Some(name) && minor >= m.since)
}

// ---- Type rules ---------------------------------------------------------------------------

/// `math` takes any scalar where it wants a float (it calls `__float__`/`PyFloat_AsDouble`).
fn check_args(m: &Builtin, args: &[Type], arity: usize, line: u32) -> CResult<()> {
    if args.len() != arity {
        if m.name == "math.log" && args.len() == 2 {
            return cerr("`math.log(x, base)` with a base is not compiled yet (`math.log(x) / math.log(base)` rounds differently)", line);
        }
        // Python itself raises TypeError for this call.
        return cerr(format!("{}() takes exactly {arity} argument(s) in Python, and this call passes {}", m.name, args.len()), line);
    }
    if let Some(bad) = args.iter().find(|t| !t.is_scalar()) {
        return cerr(format!("{}() needs a number, got a {bad}", m.name), line);
    }
    Ok(())
}

fn float_1(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 1, line)?;
    Ok(Type::Float)
}

fn float_2(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 2, line)?;
    Ok(Type::Float)
}

fn to_int(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 1, line)?;
    // math.floor(x) calls x.__floor__ when the type has one (int, float, numpy.float64) and
    // otherwise converts to float first (NumPy ints, numpy.float32); math.trunc requires
    // __trunc__ and raises TypeError without it.
    let has_method = matches!(args[0], Type::Int | Type::Bool | Type::Float | Type::Np(DType::F64));
    if m.name == "math.trunc" && !has_method {
        return cerr(format!("math.trunc of a {} raises TypeError in Python", args[0]), line);
    }
    Ok(Type::Int)
}

/// `math.ldexp(x, i)`: a number and an integer (`__index__`: a float exponent is TypeError).
fn ldexp_type(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 2, line)?;
    let int_like = matches!(args[1], Type::Int | Type::Bool) || matches!(args[1], Type::Np(d) if d.is_int() && d != DType::U64);
    if !int_like {
        return cerr(format!("math.ldexp's exponent must be an integer, not a {}", args[1]), line);
    }
    Ok(Type::Float)
}

/// `math.isclose(a, b)` with the default tolerances (keywords are not compiled yet).
fn isclose_type(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 2, line)?;
    Ok(Type::Bool)
}

fn predicate(m: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    check_args(m, args, 1, line)?;
    Ok(Type::Bool)
}

// ---- Lowerings ----------------------------------------------------------------------------

/// The arguments, each converted to a float (as `PyFloat_AsDouble`).
fn float_args(cx: &mut dyn Lower<'_>, args: &[Expr]) -> CResult<Vec<Value>> {
    let mut xs = Vec::new();
    for a in args {
        let t = cx.ty(a);
        let v = cx.expr(a)?;
        xs.push(cx.cast_scalar(v[0], &t, DType::F64));
    }
    Ok(xs)
}

fn isnan(cx: &mut dyn Lower<'_>, x: Value) -> Value {
    cx.ins().fcmp(FloatCC::Unordered, x, x)
}

fn isfinite(cx: &mut dyn Lower<'_>, x: Value) -> Value {
    let ax = cx.ins().fabs(x);
    let inf = cx.ins().f64const(f64::INFINITY);
    cx.ins().fcmp(FloatCC::LessThan, ax, inf)
}

fn isinf(cx: &mut dyn Lower<'_>, x: Value) -> Value {
    let ax = cx.ins().fabs(x);
    let inf = cx.ins().f64const(f64::INFINITY);
    cx.ins().fcmp(FloatCC::Equal, ax, inf)
}

fn lower_unary(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    math_1(cx, m, args, false, line)
}

fn lower_unary_overflow(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    math_1(cx, m, args, true, line)
}

/// CPython's `math_1`: NaN from non-NaN is a domain error; inf from finite is a range error
/// (overflow) or a domain error (singularity). Both need a result that is not finite: one test
/// on the hot path, the details on a cold one.
fn math_1(cx: &mut dyn Lower<'_>, m: &Builtin, args: &[Expr], can_overflow: bool, line: u32) -> CResult<Vec<Value>> {
    let f = types::F64;
    let x = float_args(cx, args)?[0];
    let r = if m.sym == "sqrt" { cx.ins().sqrt(x) } else { cx.call_helper(m.sym, &[f], &[f], &[x])?[0] };
    let (cold, ok) = cx.fp_test(r);
    cx.switch_to(cold);
    let rn = isnan(cx, r);
    let xn = isnan(cx, x);
    let dom = cx.ins().band_not(rn, xn);
    cx.fail_if(dom, ErrCode::MathDomain, line, &[]);
    let ri = isinf(cx, r);
    let xf = isfinite(cx, x);
    let rng = cx.ins().band(ri, xf);
    cx.fail_if(rng, if can_overflow { ErrCode::MathRange } else { ErrCode::MathDomain }, line, &[]);
    cx.ins().jump(ok, &[]);
    cx.switch_to(ok);
    Ok(vec![r])
}

/// CPython's `math_2` (and `math_fmod`): NaN from non-NaN arguments is a domain error
/// (`copysign` never fails).
fn lower_binary(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let f = types::F64;
    let xs = float_args(cx, args)?;
    let (x, y) = (xs[0], xs[1]);
    let r = cx.call_helper(m.sym, &[f, f], &[f], &[x, y])?[0];
    if m.name != "math.copysign" {
        let rn = isnan(cx, r);
        let xn = isnan(cx, x);
        let yn = isnan(cx, y);
        let any = cx.ins().bor(xn, yn);
        let dom = cx.ins().band_not(rn, any);
        cx.fail_if(dom, ErrCode::MathDomain, line, &[]);
    }
    Ok(vec![r])
}

/// `math.pow`: `math_pow_impl`'s reports for finite ** finite: a NaN result (a negative base
/// to a non-integer power) or an infinite one from a zero base is ValueError, other infinite
/// results OverflowError.
fn lower_pow(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let f = types::F64;
    let xs = float_args(cx, args)?;
    let (x, y) = (xs[0], xs[1]);
    let r = cx.call_helper(m.sym, &[f, f], &[f], &[x, y])?[0];
    let (cold, ok) = cx.fp_test(r);
    cx.switch_to(cold);
    let xf = isfinite(cx, x);
    let yf = isfinite(cx, y);
    let both = cx.ins().band(xf, yf);
    let rn = isnan(cx, r);
    let zero = cx.ins().f64const(0.0);
    let x0 = cx.ins().fcmp(FloatCC::Equal, x, zero);
    let dom_kind = cx.ins().bor(rn, x0);
    let dom = cx.ins().band(both, dom_kind);
    cx.fail_if(dom, ErrCode::MathDomain, line, &[]);
    cx.fail_if(both, ErrCode::MathRange, line, &[]);
    cx.ins().jump(ok, &[]);
    cx.switch_to(ok);
    Ok(vec![r])
}

/// `math.ldexp(x, i)`: OverflowError ("math range error") when a finite `x` overflows.
fn lower_ldexp(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let tx = cx.ty(&args[0]);
    let vx = cx.expr(&args[0])?;
    let x = cx.cast_scalar(vx[0], &tx, DType::F64);
    let te = cx.ty(&args[1]);
    let ve = cx.expr(&args[1])?;
    let e = cx.to_i64(ve, &te);
    let r = cx.call_helper(m.sym, &[types::F64, types::I64], &[types::F64], &[x, e])?[0];
    let ri = isinf(cx, r);
    let xf = isfinite(cx, x);
    let bad = cx.ins().band(ri, xf);
    cx.fail_if(bad, ErrCode::MathRange, line, &[]);
    Ok(vec![r])
}

/// `math_isclose_impl` with `rel_tol=1e-09`, `abs_tol=0.0`.
fn lower_isclose(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let xs = float_args(cx, args)?;
    let (a, b) = (xs[0], xs[1]);
    let eq = cx.ins().fcmp(FloatCC::Equal, a, b);
    let ai = isinf(cx, a);
    let bi = isinf(cx, b);
    let inf = cx.ins().bor(ai, bi);
    let d = cx.ins().fsub(b, a);
    let diff = cx.ins().fabs(d);
    let rel = cx.ins().f64const(1e-09);
    let rb = cx.ins().fmul(rel, b);
    let rb = cx.ins().fabs(rb);
    let ra = cx.ins().fmul(rel, a);
    let ra = cx.ins().fabs(ra);
    let zero = cx.ins().f64const(0.0);
    let c1 = cx.ins().fcmp(FloatCC::LessThanOrEqual, diff, rb);
    let c2 = cx.ins().fcmp(FloatCC::LessThanOrEqual, diff, ra);
    let c3 = cx.ins().fcmp(FloatCC::LessThanOrEqual, diff, zero);
    let close = cx.ins().bor(c1, c2);
    let close = cx.ins().bor(close, c3);
    let close = cx.ins().band_not(close, inf);
    Ok(vec![cx.ins().bor(eq, close)])
}

fn lower_to_int(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let t = cx.ty(&args[0]);
    let v = cx.expr(&args[0])?;
    // Python ints (and bools) have __floor__/__ceil__/__trunc__ returning themselves; NumPy
    // integers go through float, as CPython's math module does for them.
    if matches!(t, Type::Int | Type::Bool) {
        return Ok(vec![cx.to_i64(v, &t)]);
    }
    let x = cx.cast_scalar(v[0], &t, DType::F64);
    let r = match m.name {
        "math.floor" => cx.ins().floor(x),
        "math.ceil" => cx.ins().ceil(x),
        _ => cx.ins().trunc(x),
    };
    Ok(vec![cx.float_to_int(r, line)])
}

fn lower_predicate(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let x = float_args(cx, args)?[0];
    Ok(vec![match m.name {
        "math.isnan" => isnan(cx, x),
        "math.isinf" => isinf(cx, x),
        _ => isfinite(cx, x),
    }])
}

fn lower_scale(cx: &mut dyn Lower<'_>, m: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let x = float_args(cx, args)?[0];
    let k = if m.name == "math.degrees" { 180.0 / std::f64::consts::PI } else { std::f64::consts::PI / 180.0 };
    let c = cx.ins().f64const(k);
    Ok(vec![cx.ins().fmul(x, c)])
}
