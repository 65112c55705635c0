//! CPython's own float algorithms, for native code to call where CPython does not simply call
//! libm: `float_divmod`'s floor quotient and remainder, `float_pow` with its special cases,
//! `m_log`/`m_log2`/`m_log10`/`m_log1p`, `m_atan2`, `double_round` (`round(x, n)`), and the
//! exact comparison of an int with a float. Results bit-identical to CPython's.

use crate::abi::{Env, ErrCode};

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
