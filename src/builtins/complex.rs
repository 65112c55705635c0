//! Python's `complex` (issue 12): the `complex(...)` builtin, `abs(z)`, and CPython's complex
//! algorithms for native code to call where CPython does more than a few IEEE operations:
//! division (Smith's algorithm, `_Py_c_quot` in Objects/complexobject.c), power (`c_powi` by
//! repeated squaring for integral exponents up to 100 in magnitude, else `_Py_c_pow` through
//! `hypot`, `pow`, `atan2`, `exp`, `log`, `cos`, `sin`) and the absolute value (`_Py_c_abs`).
//! Addition, subtraction and multiplication are emitted inline by codegen (`codegen::complex`).
//! The algorithms are the same on CPython 3.10 to 3.13 (3.14 changed mixed real/complex
//! arithmetic, which is not supported yet).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::{cerr, Builtin, Helper, Lower};
use crate::abi::ErrCode;
use crate::ir::{CResult, Expr};
use crate::types::{DType, Form, Type};

extern "C" {
    fn floor(x: f64) -> f64;
}

/// The libm functions CPython's complex code calls, as the process resolves them by name
/// (`dlsym`): a wheel built against an old glibc links older symbol versions, whose `pow`
/// sets errno on underflow where CPython's does not (see `runtime::symbols`).
struct Libm {
    hypot: extern "C" fn(f64, f64) -> f64,
    pow: extern "C" fn(f64, f64) -> f64,
    atan2: extern "C" fn(f64, f64) -> f64,
    exp: extern "C" fn(f64) -> f64,
    log: extern "C" fn(f64) -> f64,
    cos: extern "C" fn(f64) -> f64,
    sin: extern "C" fn(f64) -> f64,
}

fn libm() -> &'static Libm {
    static LIBM: std::sync::OnceLock<Libm> = std::sync::OnceLock::new();
    LIBM.get_or_init(|| {
        extern "C" {
            fn hypot(x: f64, y: f64) -> f64;
            fn pow(x: f64, y: f64) -> f64;
            fn atan2(y: f64, x: f64) -> f64;
            fn exp(x: f64) -> f64;
            fn log(x: f64) -> f64;
            fn cos(x: f64) -> f64;
            fn sin(x: f64) -> f64;
        }
        fn by_name(name: &str, linked: usize) -> usize {
            let c = std::ffi::CString::new(name).expect("a symbol name");
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
            if p.is_null() { linked } else { p as usize }
        }
        unsafe {
            Libm {
                hypot: std::mem::transmute::<usize, extern "C" fn(f64, f64) -> f64>(by_name("hypot", hypot as *const () as usize)),
                pow: std::mem::transmute::<usize, extern "C" fn(f64, f64) -> f64>(by_name("pow", pow as *const () as usize)),
                atan2: std::mem::transmute::<usize, extern "C" fn(f64, f64) -> f64>(by_name("atan2", atan2 as *const () as usize)),
                exp: std::mem::transmute::<usize, extern "C" fn(f64) -> f64>(by_name("exp", exp as *const () as usize)),
                log: std::mem::transmute::<usize, extern "C" fn(f64) -> f64>(by_name("log", log as *const () as usize)),
                cos: std::mem::transmute::<usize, extern "C" fn(f64) -> f64>(by_name("cos", cos as *const () as usize)),
                sin: std::mem::transmute::<usize, extern "C" fn(f64) -> f64>(by_name("sin", sin as *const () as usize)),
            }
        }
    })
}

/// The builtins of this family.
pub static BUILTINS: &[Builtin] = &[
    Builtin { name: "complex", form: Form::Call, since: 0, sym: "", dtype: None, rule: complex_type, lower: Some(lower_complex) },
];

/// The helpers native code calls (by symbol, `runtime::symbols`).
pub static HELPERS: &[Helper] = &[
    Helper { sym: "heron_c_quot", addr: || heron_c_quot as *const u8, params: &[types::F64, types::F64, types::F64, types::F64, types::I64], rets: &[types::I64] },
    Helper { sym: "heron_c_pow", addr: || heron_c_pow as *const u8, params: &[types::F64, types::F64, types::F64, types::F64, types::I64], rets: &[types::I64] },
    Helper { sym: "heron_c_abs", addr: || heron_c_abs as *const u8, params: &[types::F64, types::F64], rets: &[types::F64] },
];

/// A real Python number `complex()` takes, and `complex` arithmetic makes a complex of.
fn real(t: &Type) -> bool {
    matches!(t, Type::Bool | Type::Int | Type::Float) || matches!(t, Type::Np(d) if *d != DType::U64)
}

fn complex_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match args {
        [] => Ok(Type::Complex),
        [Type::Complex] => Ok(Type::Complex),
        [a] if real(a) => Ok(Type::Complex),
        [a, b] if real(a) && real(b) => Ok(Type::Complex),
        _ => cerr(format!("complex() of {} is not supported in compiled code", args.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")), line),
    }
}

fn lower_complex(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let mut parts = Vec::new();
    for a in args {
        let t = cx.ty(a);
        let v = cx.expr(a)?;
        if t == Type::Complex {
            return Ok(v);
        }
        // `complex(x, y)` of real numbers is exactly (float(x), float(y)).
        parts.push(cx.cast_scalar(v[0], &t, DType::F64));
    }
    while parts.len() < 2 {
        parts.push(cx.ins().f64const(0.0));
    }
    Ok(parts)
}

/// `abs(z)`: `hypot` of the parts, with C99's rules for infinities and NaNs; OverflowError
/// ("absolute value too large") when finite parts give an infinite result.
pub fn lower_abs(cx: &mut dyn Lower<'_>, z: Vec<Value>, line: u32) -> CResult<Vec<Value>> {
    let f = types::F64;
    let r = cx.call_helper("heron_c_abs", &[f, f], &[f], &[z[0], z[1]])?[0];
    let inf = cx.ins().f64const(f64::INFINITY);
    let ar = cx.ins().fabs(r);
    let r_inf = cx.ins().fcmp(FloatCC::Equal, ar, inf);
    let fin = |cx: &mut dyn Lower<'_>, x: Value| {
        let d = cx.ins().fsub(x, x);
        cx.ins().fcmp(FloatCC::Ordered, d, d)
    };
    let fr = fin(cx, z[0]);
    let fi = fin(cx, z[1]);
    let both = cx.ins().band(fr, fi);
    let bad = cx.ins().band(both, r_inf);
    cx.fail_if(bad, ErrCode::ComplexAbsOverflow, line, &[]);
    Ok(vec![r])
}

/// CPython's `_Py_c_quot` (Smith's algorithm): writes the quotient to `out[0..2]`; returns 1
/// when the divisor is zero (CPython's `EDOM`: "complex division by zero"), else 0.
pub extern "C" fn heron_c_quot(ar: f64, ai: f64, br: f64, bi: f64, out: *mut f64) -> i64 {
    let (r, edom) = quot((ar, ai), (br, bi));
    unsafe {
        *out = r.0;
        *out.add(1) = r.1;
    }
    edom as i64
}

fn quot(a: (f64, f64), b: (f64, f64)) -> ((f64, f64), bool) {
    let abs_br = if b.0 < 0.0 { -b.0 } else { b.0 };
    let abs_bi = if b.1 < 0.0 { -b.1 } else { b.1 };
    if abs_br >= abs_bi {
        if abs_br == 0.0 {
            return ((0.0, 0.0), true);
        }
        let ratio = b.1 / b.0;
        let denom = b.0 + b.1 * ratio;
        (((a.0 + a.1 * ratio) / denom, (a.1 - a.0 * ratio) / denom), false)
    } else if abs_bi >= abs_br {
        let ratio = b.0 / b.1;
        let denom = b.0 * ratio + b.1;
        (((a.0 * ratio + a.1) / denom, (a.1 * ratio - a.0) / denom), false)
    } else {
        // A NaN in the divisor.
        ((f64::NAN, f64::NAN), false)
    }
}

fn prod(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// `complex_pow` for a complex base and exponent (an int or float exponent is made a complex
/// first): writes the power to `out[0..2]`; returns 0, 1 for ZeroDivisionError ("0.0 to a
/// negative or complex power": a zero base, or libm's EDOM) or 2 for OverflowError ("complex
/// exponentiation": libm's ERANGE, or any infinite part of the result).
pub extern "C" fn heron_c_pow(ar: f64, ai: f64, br: f64, bi: f64, out: *mut f64) -> i64 {
    let a = (ar, ai);
    let mut edom = false;
    // libm reports through errno as CPython reads it: `cos(inf)` sets EDOM, which CPython
    // raises as ZeroDivisionError; an overflow in `pow` or `hypot` sets ERANGE.
    let errno = unsafe { libc::__errno_location() };
    let saved = unsafe { *errno };
    unsafe { *errno = 0 };
    let p = if bi == 0.0 && br == unsafe { floor(br) } && br.abs() <= 100.0 {
        let n = br as i64;
        if n > 0 {
            powu(a, n)
        } else {
            let (q, e) = quot((1.0, 0.0), powu(a, -n));
            edom = e;
            q
        }
    } else if br == 0.0 && bi == 0.0 {
        (1.0, 0.0)
    } else if ar == 0.0 && ai == 0.0 {
        edom = bi != 0.0 || br < 0.0;
        (0.0, 0.0)
    } else {
        let m = libm();
        let vabs = (m.hypot)(ar, ai);
        let mut len = (m.pow)(vabs, br);
        let at = (m.atan2)(ai, ar);
        let mut phase = at * br;
        if bi != 0.0 {
            len /= (m.exp)(at * bi);
            phase += bi * (m.log)(vabs);
        }
        (len * (m.cos)(phase), len * (m.sin)(phase))
    };
    unsafe {
        *out = p.0;
        *out.add(1) = p.1;
    }
    let mut e = unsafe { std::mem::replace(&mut *errno, saved) };
    if edom {
        e = libc::EDOM;
    }
    // `_Py_ADJUST_ERANGE2`: an infinite part is an overflow (unless errno says otherwise); a
    // finite result clears ERANGE (an underflow is no error).
    if p.0.is_infinite() || p.1.is_infinite() {
        if e == 0 {
            e = libc::ERANGE;
        }
    } else if e == libc::ERANGE {
        e = 0;
    }
    match e {
        libc::EDOM => 1,
        libc::ERANGE => 2,
        _ => 0,
    }
}

/// `c_powu`: `x ** n` for `n >= 0` by binary powering, CPython's order of products.
fn powu(x: (f64, f64), n: i64) -> (f64, f64) {
    let mut r = (1.0, 0.0);
    let mut p = x;
    let mut mask: i64 = 1;
    while mask > 0 && n >= mask {
        if n & mask != 0 {
            r = prod(r, p);
        }
        mask <<= 1;
        p = prod(p, p);
    }
    r
}

/// `_Py_c_abs`: an infinite part gives infinity (even with a NaN part), a NaN part NaN, else
/// `hypot`.
pub extern "C" fn heron_c_abs(re: f64, im: f64) -> f64 {
    if !re.is_finite() || !im.is_finite() {
        if re.is_infinite() {
            return re.abs();
        }
        if im.is_infinite() {
            return im.abs();
        }
        return f64::NAN;
    }
    (libm().hypot)(re, im)
}
