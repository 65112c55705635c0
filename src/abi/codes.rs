//! The codes native code stops with (`ErrCode`, in `Env::err_code`), the NumPy warnings it
//! reports (`NpWarn`), and the status of a result handed back boxed.

/// Why native code stopped. The messages are produced by CPython itself at raise time
/// (`heron._runtime.native_error`), so they match the running interpreter's wording.
#[repr(i64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrCode {
    None = 0,
    /// Integer overflow: re-run by the interpreter if the call had no effects yet.
    Overflow = 1,
    /// A value or operation Heron does not handle natively (a negative integer exponent, an
    /// inexact int-to-float merge...): like `Overflow`, re-run by the interpreter when possible.
    Deopt = 2,
    IntFloorDivZero = 3,
    IntModZero = 4,
    IntTrueDivZero = 5,
    FloatDivZero = 6,
    FloatFloorDivZero = 7,
    FloatModZero = 8,
    MathDomain = 9,
    MathRange = 10,
    IntFromNan = 11,
    IntFromInf = 12,
    PowZeroNeg = 13,
    PowOverflow = 14,
    IndexOutOfBounds = 15,
    NegativeShift = 16,
    RangeStepZero = 17,
    /// `raise`/`assert` in user code: `err_a[0]` indexes `FuncInfo::raises`.
    UserRaise = 18,
    /// A Python exception raised inside a callback (print): stored in `PENDING`.
    PyErr = 19,
    /// `Python integer N out of bounds for dtype` on an array store.
    IntStoreOutOfBounds = 20,
    /// `pow` of a negative float to a non-integer power gives a complex in Python.
    ComplexResult = 21,
    FloatDivmodZero = 22,
    /// `round(x, n)` whose result overflows.
    RoundOverflow = 23,
    SliceStepZero = 24,
    /// CPython's recursion limit is reached (see `stack`).
    Recursion = 25,
    /// Complex arithmetic (`builtins::complex`): division by zero, `0j ** -1`, an infinite
    /// power, an infinite `abs`.
    ComplexDivZero = 26,
    ComplexPowZero = 27,
    ComplexPowOverflow = 28,
    ComplexAbsOverflow = 29,
}

impl ErrCode {
    pub fn from_i64(v: i64) -> ErrCode {
        use ErrCode::*;
        const ALL: [ErrCode; 30] = [
            None, Overflow, Deopt, IntFloorDivZero, IntModZero, IntTrueDivZero, FloatDivZero, FloatFloorDivZero,
            FloatModZero, MathDomain, MathRange, IntFromNan, IntFromInf, PowZeroNeg, PowOverflow, IndexOutOfBounds,
            NegativeShift, RangeStepZero, UserRaise, PyErr, IntStoreOutOfBounds, ComplexResult, FloatDivmodZero,
            RoundOverflow, SliceStepZero, Recursion, ComplexDivZero, ComplexPowZero, ComplexPowOverflow,
            ComplexAbsOverflow,
        ];
        ALL.get(v as usize).copied().unwrap_or(Deopt)
    }
    /// The name `heron._runtime.native_error` knows this code by.
    pub fn name(self) -> &'static str {
        use ErrCode::*;
        match self {
            None => "none",
            Overflow => "overflow",
            Deopt => "deopt",
            IntFloorDivZero => "int_floordiv_zero",
            IntModZero => "int_mod_zero",
            IntTrueDivZero => "int_truediv_zero",
            FloatDivZero => "float_div_zero",
            FloatFloorDivZero => "float_floordiv_zero",
            FloatModZero => "float_mod_zero",
            MathDomain => "math_domain",
            MathRange => "math_range",
            IntFromNan => "int_from_nan",
            IntFromInf => "int_from_inf",
            PowZeroNeg => "pow_zero_neg",
            PowOverflow => "pow_overflow",
            IndexOutOfBounds => "index_out_of_bounds",
            NegativeShift => "negative_shift",
            RangeStepZero => "range_step_zero",
            UserRaise => "user_raise",
            PyErr => "pyerr",
            IntStoreOutOfBounds => "int_store_out_of_bounds",
            ComplexResult => "complex_result",
            FloatDivmodZero => "float_divmod_zero",
            RoundOverflow => "round_overflow",
            SliceStepZero => "slice_step_zero",
            Recursion => "recursion",
            ComplexDivZero => "complex_div_zero",
            ComplexPowZero => "complex_pow_zero",
            ComplexPowOverflow => "complex_pow_overflow",
            ComplexAbsOverflow => "complex_abs_overflow",
        }
    }
}

/// The NumPy warnings native code reports for integer scalars and casts (`heron_np_warn`):
/// the key of `numpy.geterr()` and the operation's name in the message.
#[repr(i64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpWarn {
    Add = 0,
    Subtract = 1,
    Multiply = 2,
    OverflowFloorDivide = 3,
    DivideFloorDivide = 4,
    DivideRemainder = 5,
    Negative = 6,
    Absolute = 7,
    /// A float stored into a narrower float array became infinite ("overflow encountered in
    /// cast").
    Cast = 8,
}

/// Status `heron_deopt` returns when the result is in `Env::boxed` (not representable in the
/// function's native result type); callers of the function see it as its status.
pub const STATUS_BOXED: i64 = 2;
