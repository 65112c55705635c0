//! Runtime: the dispatcher, and what native code calls back into (the helpers of `symbols`).
//!
//! Native code never touches a Python object (DESIGN.md). It reports an exception by filling the
//! call's `Env` (an error code, the line, three integer details; see `crate::abi`) and returning
//! a nonzero status; the dispatcher turns that into the same Python exception CPython would
//! raise. A `print` runs in `print::heron_print`, which takes the GIL for that call only.

use crate::abi::{Env, ErrCode};

pub mod alloc;
pub mod deopt;
pub mod dispatch;
pub mod fp;
pub mod guards;
pub mod marshal;
pub mod print;
pub mod resolve;
pub mod signals;
pub mod stack;
pub mod traceback;
pub mod ufunc;

// ---- Float helpers with CPython's exact algorithms -------------------------------------------

extern "C" {
    fn fmod(x: f64, y: f64) -> f64;
    fn pow(x: f64, y: f64) -> f64;
    fn log(x: f64) -> f64;
    fn log2(x: f64) -> f64;
    fn log10(x: f64) -> f64;
    fn log1p(x: f64) -> f64;
    fn atan2(y: f64, x: f64) -> f64;
    fn floor(x: f64) -> f64;
}

/// CPython's `float_divmod` (Objects/floatobject.c): the floor quotient, for `b != 0`.
/// NumPy's `npy_divmod` is the same algorithm (and returns `a / b` when `b == 0`).
pub extern "C" fn heron_float_floordiv(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a / b;
    }
    let m = unsafe { fmod(a, b) };
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = unsafe { floor(div) };
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0f64.copysign(a / b)
    }
}

/// CPython's `float_rem` (and NumPy's `npy_remainder` for `b != 0`; `fmod` for `b == 0`).
pub extern "C" fn heron_float_mod(a: f64, b: f64) -> f64 {
    let mut m = unsafe { fmod(a, b) };
    if b == 0.0 {
        return m;
    }
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m += b;
        }
    } else {
        m = 0.0f64.copysign(b);
    }
    m
}

/// CPython's `float_pow` for two Python floats (Objects/floatobject.c), including its special
/// cases. Errors go to `env` (`PowZeroNeg`, `PowOverflow`, `ComplexResult`); the returned value
/// is then meaningless.
pub extern "C" fn heron_float_pow(iv: f64, iw: f64, env: *mut Env) -> f64 {
    let set = |c: ErrCode| unsafe { (*env).err_code = c as i64 };
    if iw == 0.0 {
        return 1.0;
    }
    if iv.is_nan() {
        return if iw == 0.0 { 1.0 } else { iv };
    }
    if iw.is_nan() {
        return if iv == 1.0 { 1.0 } else { iw };
    }
    if iw.is_infinite() {
        let av = iv.abs();
        return if av == 1.0 {
            1.0
        } else if (iw > 0.0) == (av > 1.0) {
            f64::INFINITY
        } else {
            0.0
        };
    }
    if iv.is_infinite() {
        let iw_is_odd = (iw % 2.0).abs() == 1.0;
        return if iw > 0.0 {
            if iw_is_odd { iv } else { iv.abs() }
        } else if iw_is_odd {
            0.0f64.copysign(iv)
        } else {
            0.0
        };
    }
    if iv == 0.0 {
        let iw_is_odd = (iw % 2.0).abs() == 1.0;
        if iw < 0.0 {
            set(ErrCode::PowZeroNeg);
            return 0.0;
        }
        return if iw_is_odd { iv } else { 0.0 };
    }
    let mut iv = iv;
    let mut negate_result = false;
    if iv < 0.0 {
        if iw != unsafe { floor(iw) } {
            // (-8.0) ** (1/3) is a complex number in Python 3.
            set(ErrCode::ComplexResult);
            return 0.0;
        }
        iv = -iv;
        negate_result = (iw % 2.0).abs() == 1.0;
    }
    if iv == 1.0 {
        return if negate_result { -1.0 } else { 1.0 };
    }
    let mut ix = unsafe { pow(iv, iw) };
    if negate_result {
        ix = -ix;
    }
    if ix.is_infinite() {
        set(ErrCode::PowOverflow);
        return 0.0;
    }
    ix
}

/// CPython's `m_log`/`m_log2`/`m_log10` around libm's `f`: errors come out as NaN or -inf,
/// which `math_1`'s checks turn into ValueError.
fn m_log_with(x: f64, f: unsafe extern "C" fn(f64) -> f64) -> f64 {
    if x.is_finite() {
        if x > 0.0 {
            unsafe { f(x) }
        } else if x == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        }
    } else if x.is_nan() || x > 0.0 {
        x
    } else {
        f64::NAN
    }
}

/// CPython's `m_log`.
pub extern "C" fn heron_m_log(x: f64) -> f64 {
    m_log_with(x, log)
}

/// CPython's `m_log2`.
pub extern "C" fn heron_m_log2(x: f64) -> f64 {
    m_log_with(x, log2)
}

/// CPython's `m_log10`.
pub extern "C" fn heron_m_log10(x: f64) -> f64 {
    m_log_with(x, log10)
}

/// CPython's `m_log1p` (Modules/_math.h): log1p with -0.0 preserved.
pub extern "C" fn heron_m_log1p(x: f64) -> f64 {
    if x == 0.0 {
        return x;
    }
    unsafe { log1p(x) }
}

/// The bits of the running CPython's `Py_NAN` (set at module initialisation).
pub static PY_NAN_BITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x7ff8_0000_0000_0000);

/// CPython's `m_atan2`: IEEE special cases handled before calling libm.
pub extern "C" fn heron_m_atan2(y: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x.is_nan() || y.is_nan() {
        // CPython's Py_NAN: -nan on 3.10 (HUGE_VAL * 0.), +nan from 3.11 on.
        return f64::from_bits(PY_NAN_BITS.load(std::sync::atomic::Ordering::Relaxed));
    }
    if y.is_infinite() {
        if x.is_infinite() {
            return if 1.0f64.copysign(x) == 1.0 { (0.25 * PI).copysign(y) } else { (0.75 * PI).copysign(y) };
        }
        return (0.5 * PI).copysign(y);
    }
    if x.is_infinite() || y == 0.0 {
        return if 1.0f64.copysign(x) == 1.0 { 0.0f64.copysign(y) } else { PI.copysign(y) };
    }
    unsafe { atan2(y, x) }
}

/// CPython's `double_round` (Objects/floatobject.c): `round(x, ndigits)` for a float, through a
/// correctly rounded decimal string (Rust's fixed-precision formatting rounds the exact binary
/// value half to even, as `_Py_dg_dtoa` mode 3 does) read back with a correctly rounded parse.
/// An overflowing result sets `RoundOverflow` in `env`.
pub extern "C" fn heron_round_ndigits(x: f64, ndigits: i64, env: *mut Env) -> f64 {
    // float.__round__: NaN, infinities and zeros are returned unchanged.
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // NDIGITS_MAX and NDIGITS_MIN of CPython for IEEE doubles.
    if ndigits > 323 {
        return x;
    }
    if ndigits < -308 {
        return 0.0 * x;
    }
    if ndigits < 0 {
        // Rounding to tens, hundreds...: left to the interpreter.
        unsafe { (*env).err_code = ErrCode::Deopt as i64 };
        return 0.0;
    }
    let r = format!("{:.*}", ndigits as usize, x).parse::<f64>().unwrap_or(x);
    if r.is_infinite() {
        unsafe { (*env).err_code = ErrCode::RoundOverflow as i64 };
        return 0.0;
    }
    r
}

/// Exact comparison of a Python int with a Python float, as CPython's `float_richcompare`:
/// returns -1, 0, 1 for `i <, ==, > f`, and 2 when `f` is NaN.
pub extern "C" fn heron_cmp_int_float(i: i64, f: f64) -> i64 {
    if f.is_nan() {
        return 2;
    }
    if f == f64::INFINITY {
        return -1;
    }
    if f == f64::NEG_INFINITY {
        return 1;
    }
    // |f| < 2**63 or beyond: compare in i128 on the integral part, then the fraction.
    let fl = f.floor();
    if fl >= 9.3e18 {
        return -1;
    }
    if fl < -9.3e18 {
        return 1;
    }
    let fi = fl as i128;
    let ii = i as i128;
    if ii < fi {
        -1
    } else if ii > fi {
        1
    } else if f > fl {
        -1
    } else {
        0
    }
}

/// Addresses of every runtime symbol native code may call, for `JITBuilder::symbol`. The
/// libm functions are those the process resolves by name (`dlsym`), so native code calls the
/// same symbol version CPython's `math` module calls (a wheel built against an old glibc
/// links older versions of `exp`, `log` and `pow`), falling back to the linked ones.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    static SYMBOLS: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
    SYMBOLS
        .get_or_init(|| {
            linked_symbols()
                .into_iter()
                .map(|(name, p)| {
                    let by_name = if name.starts_with("heron_") {
                        std::ptr::null_mut()
                    } else {
                        let c = std::ffi::CString::new(name).expect("a symbol name");
                        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }
                    };
                    (name, if by_name.is_null() { p as usize } else { by_name as usize })
                })
                .collect()
        })
        .iter()
        .map(|&(n, p)| (n, p as *const u8))
        .collect()
}

/// Make helper `name` ready to be called from native code (`codegen::RuntimeLinks::prepare`).
pub fn prepare_helper(name: &str) -> Result<(), String> {
    match name {
        "heron_np_power_f64" => pyo3::Python::attach(ufunc::ensure_power_loop).map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

fn linked_symbols() -> Vec<(&'static str, *const u8)> {
    extern "C" {
        fn sqrt(x: f64) -> f64;
        fn exp(x: f64) -> f64;
        fn exp2(x: f64) -> f64;
        fn expm1(x: f64) -> f64;
        fn sin(x: f64) -> f64;
        fn cos(x: f64) -> f64;
        fn tan(x: f64) -> f64;
        fn asin(x: f64) -> f64;
        fn acos(x: f64) -> f64;
        fn atan(x: f64) -> f64;
        fn sinh(x: f64) -> f64;
        fn cosh(x: f64) -> f64;
        fn tanh(x: f64) -> f64;
        fn asinh(x: f64) -> f64;
        fn acosh(x: f64) -> f64;
        fn atanh(x: f64) -> f64;
        fn fabs(x: f64) -> f64;
        fn cbrt(x: f64) -> f64;
        fn copysign(x: f64, y: f64) -> f64;
        fn ceil(x: f64) -> f64;
        fn trunc(x: f64) -> f64;
        fn powf(x: f32, y: f32) -> f32;
        fn fmodf(x: f32, y: f32) -> f32;
    }
    vec![
        ("sqrt", sqrt as *const u8),
        ("exp", exp as *const u8),
        ("exp2", exp2 as *const u8),
        ("expm1", expm1 as *const u8),
        ("sin", sin as *const u8),
        ("cos", cos as *const u8),
        ("tan", tan as *const u8),
        ("asin", asin as *const u8),
        ("acos", acos as *const u8),
        ("atan", atan as *const u8),
        ("sinh", sinh as *const u8),
        ("cosh", cosh as *const u8),
        ("tanh", tanh as *const u8),
        ("asinh", asinh as *const u8),
        ("acosh", acosh as *const u8),
        ("atanh", atanh as *const u8),
        ("fabs", fabs as *const u8),
        ("cbrt", cbrt as *const u8),
        ("copysign", copysign as *const u8),
        ("floor", floor as *const u8),
        ("ceil", ceil as *const u8),
        ("trunc", trunc as *const u8),
        ("fmod", fmod as *const u8),
        ("pow", pow as *const u8),
        ("powf", powf as *const u8),
        ("fmodf", fmodf as *const u8),
        ("heron_m_log", heron_m_log as *const u8),
        ("heron_m_log2", heron_m_log2 as *const u8),
        ("heron_m_log10", heron_m_log10 as *const u8),
        ("heron_m_log1p", heron_m_log1p as *const u8),
        ("heron_m_atan2", heron_m_atan2 as *const u8),
        ("heron_float_floordiv", heron_float_floordiv as *const u8),
        ("heron_float_mod", heron_float_mod as *const u8),
        ("heron_float_pow", heron_float_pow as *const u8),
        ("heron_cmp_int_float", heron_cmp_int_float as *const u8),
        ("heron_print", print::heron_print as *const u8),
        ("heron_round_ndigits", heron_round_ndigits as *const u8),
        ("heron_alloc", alloc::heron_alloc as *const u8),
        ("heron_buf_alloc", alloc::heron_buf_alloc as *const u8),
        ("heron_buf_free", alloc::heron_buf_free as *const u8),
        ("heron_np_fp", fp::heron_np_fp as *const u8),
        ("heron_np_power_f64", ufunc::heron_np_power_f64 as *const u8),
        ("heron_deopt", deopt::heron_deopt as *const u8),
        ("heron_np_warn", fp::heron_np_warn as *const u8),
        ("heron_check_signals", signals::heron_check_signals as *const u8),
        ("heron_grow", stack::heron_grow as *const u8),
        ("heron_recursion", stack::heron_recursion as *const u8),
        ("heron_np_defer", fp::heron_np_defer as *const u8),
        ("heron_push_frame", traceback::heron_push_frame as *const u8),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_matches_python() {
        // Values from CPython: (-7.0)//2.0 == -4.0, 7.0//-2.0 == -4.0, -0.0//1.0 == -0.0
        assert_eq!(heron_float_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(heron_float_floordiv(7.0, -2.0), -4.0);
        assert!(heron_float_floordiv(-0.0, 1.0).is_sign_negative());
        assert_eq!(heron_float_mod(-7.0, 2.0), 1.0);
        assert_eq!(heron_float_mod(7.0, -2.0), -1.0);
        assert!(heron_float_mod(0.0, -2.0).is_sign_negative());
    }

    #[test]
    fn int_float_comparison_is_exact() {
        let big = (1i64 << 53) + 1;
        assert_eq!(heron_cmp_int_float(big, (1u64 << 53) as f64), 1);
        assert_eq!(heron_cmp_int_float(3, 3.5), -1);
        assert_eq!(heron_cmp_int_float(-3, -3.5), 1);
        assert_eq!(heron_cmp_int_float(i64::MAX, 9.223372036854775807e18), -1);
        assert_eq!(heron_cmp_int_float(1, f64::NAN), 2);
    }

    #[test]
    fn round_ndigits_matches_python() {
        // Expected values from CPython 3.11: round(x, n).
        let mut env = Env::default();
        for (x, n, want) in [(0.25, 1, 0.2), (0.35, 1, 0.3), (2.675, 2, 2.67), (0.125, 2, 0.12), (-0.5, 0, -0.0)] {
            let got = heron_round_ndigits(x, n, &mut env);
            assert_eq!(got.to_bits(), f64::to_bits(want), "round({x}, {n})");
        }
    }

    #[test]
    fn float_pow_special_cases() {
        let mut env = Env::default();
        assert_eq!(heron_float_pow(2.0, 10.0, &mut env), 1024.0);
        assert_eq!(heron_float_pow(-2.0, 3.0, &mut env), -8.0);
        assert_eq!(env.err_code, 0);
        heron_float_pow(0.0, -1.0, &mut env);
        assert_eq!(env.err_code, ErrCode::PowZeroNeg as i64);
    }
}
