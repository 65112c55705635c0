//! Heron's types and the promotion rules between them (Python's for Python scalars, NumPy 2's
//! NEP 50 for NumPy scalars and arrays), the type rules of operators (`rules`), and type
//! inference (`infer`). Builtins are typed through `builtin::BuiltinFn`, which the registry
//! implements.

pub mod builtin;
pub mod cnative;
pub mod infer;
pub mod resolver;
mod infer_expr;
mod infer_foreign;
mod infer_literals;
mod infer_loops;
pub mod rules;
pub mod ufunc;

pub use builtin::{BuiltinFn, Form};

use std::fmt;

/// A NumPy element type (native byte order only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn itemsize(self) -> i64 {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    pub fn is_signed(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }
    pub fn is_unsigned(self) -> bool {
        matches!(self, DType::U8 | DType::U16 | DType::U32 | DType::U64)
    }
    pub fn is_int(self) -> bool {
        self.is_signed() || self.is_unsigned()
    }
    /// NumPy's name, as in `numpy.dtype(name)`.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    /// The dtype of this NumPy name (`numpy.float64`, `dtype="double"`, ...).
    pub fn from_name(name: &str) -> Option<DType> {
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
    /// From NumPy's kind character and item size.
    pub fn from_kind(kind: u8, itemsize: usize) -> Option<DType> {
        Some(match (kind, itemsize) {
            (b'b', 1) => DType::Bool,
            (b'i', 1) => DType::I8,
            (b'i', 2) => DType::I16,
            (b'i', 4) => DType::I32,
            (b'i', 8) => DType::I64,
            (b'u', 1) => DType::U8,
            (b'u', 2) => DType::U16,
            (b'u', 4) => DType::U32,
            (b'u', 8) => DType::U64,
            (b'f', 4) => DType::F32,
            (b'f', 8) => DType::F64,
            _ => return None,
        })
    }
    /// Inclusive value range of an integer dtype (as i128 to hold u64).
    pub fn int_range(self) -> (i128, i128) {
        match self {
            DType::Bool => (0, 1),
            DType::I8 => (i8::MIN as i128, i8::MAX as i128),
            DType::I16 => (i16::MIN as i128, i16::MAX as i128),
            DType::I32 => (i32::MIN as i128, i32::MAX as i128),
            DType::I64 => (i64::MIN as i128, i64::MAX as i128),
            DType::U8 => (0, u8::MAX as i128),
            DType::U16 => (0, u16::MAX as i128),
            DType::U32 => (0, u32::MAX as i128),
            DType::U64 => (0, u64::MAX as i128),
            DType::F32 | DType::F64 => (0, 0),
        }
    }
}

/// `numpy.promote_types(a, b)` for the numeric dtypes Heron supports.
///
/// Source: NumPy's type promotion table (`np.promote_types`), which NEP 50 keeps for
/// array-array and NumPy-scalar operations.
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    if a == Bool {
        return b;
    }
    if b == Bool {
        return a;
    }
    match (a.is_float(), b.is_float()) {
        (true, true) => return if a == F64 || b == F64 { F64 } else { F32 },
        (true, false) | (false, true) => {
            let (f, i) = if a.is_float() { (a, b) } else { (b, a) };
            // float32 holds int8/int16/uint8/uint16 exactly; larger ints need float64.
            return if f == F64 || matches!(i, I32 | I64 | U32 | U64) { F64 } else { F32 };
        }
        _ => {}
    }
    // Both integers.
    if a.is_signed() == b.is_signed() {
        return if a.itemsize() >= b.itemsize() { a } else { b };
    }
    let (s, u) = if a.is_signed() { (a, b) } else { (b, a) };
    if s.itemsize() > u.itemsize() {
        s
    } else {
        match u {
            U8 => I16,
            U16 => I32,
            U32 => I64,
            _ => F64, // uint64 with any signed int
        }
    }
}

/// Memory layout of an array argument, as far as specialization cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// C-contiguous: the last axis has stride == itemsize.
    C,
    /// Anything else: strides read at run time.
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArrayType {
    pub dtype: DType,
    pub ndim: u8,
    pub layout: Layout,
    pub readonly: bool,
}

/// The type of a value in compiled code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// Python `bool`.
    Bool,
    /// Python `int`, held as i64 with overflow checks.
    Int,
    /// Python `float` (f64).
    Float,
    /// A NumPy scalar (`numpy.float64`, `numpy.int32`, `numpy.bool_`, ...).
    Np(DType),
    Array(ArrayType),
    Tuple(Vec<Type>),
    None,
    /// A Python `str` constant (only as an argument to `print` and formatting).
    Str,
    /// A C pointer for a foreign function (issue 16): `a.ctypes` (`None`: ctypes passes it as
    /// a `c_void_p`), `a.ctypes.data_as(POINTER(c_double))` (`Some(float64)`), a pointer
    /// argument of a `heron.cfunc`. Held as its address.
    CPtr(Option<DType>),
    /// A cffi `cdata` pointer (issue 16): `ffi.cast("double *", addr)` or `ffi.NULL` (`buffer`
    /// false), or `ffi.from_buffer("double[]", a)` (`buffer` true: it keeps the array alive in
    /// Python, so compiled code takes it only as a foreign call's argument). Held as its
    /// address; `prim` is what it points to, by cffi's spelling.
    CData { prim: cnative::CPrim, buffer: bool },
    /// A `bytes` constant, held as the address of a NUL-terminated copy (see
    /// `codegen::cstrings`): only as a foreign function's `char *` argument, as ctypes and
    /// cffi pass a `bytes` object's own buffer.
    Bytes,
    /// Python `complex` (two f64: the real and imaginary parts), issue 12.
    Complex,
}

impl Default for Type {
    fn default() -> Type {
        Type::None
    }
}

impl Type {
    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Bool | Type::Int | Type::Float | Type::Np(_))
    }
    /// The machine-level numeric class of a scalar: its dtype as NumPy would store it.
    pub fn scalar_dtype(&self) -> Option<DType> {
        match self {
            Type::Bool => Some(DType::Bool),
            Type::Int => Some(DType::I64),
            Type::Float => Some(DType::F64),
            Type::Np(d) => Some(*d),
            _ => None,
        }
    }
    pub fn is_floatlike(&self) -> bool {
        matches!(self.scalar_dtype(), Some(d) if d.is_float())
    }
    pub fn is_intlike(&self) -> bool {
        matches!(self.scalar_dtype(), Some(d) if d.is_int() || d == DType::Bool)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "bool"),
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::Np(d) => write!(f, "numpy.{}", if *d == DType::Bool { "bool" } else { d.name() }),
            // Plain words, as a scientist says it: "2-d float64 array (strided, read-only)".
            Type::Array(a) => {
                write!(f, "{}-d {} array", a.ndim, a.dtype.name())?;
                match (a.layout == Layout::C, a.readonly) {
                    (true, false) => Ok(()),
                    (true, true) => write!(f, " (read-only)"),
                    (false, false) => write!(f, " (strided)"),
                    (false, true) => write!(f, " (strided, read-only)"),
                }
            }
            Type::Tuple(ts) => {
                write!(f, "(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                if ts.len() == 1 {
                    write!(f, ",")?;
                }
                write!(f, ")")
            }
            Type::None => write!(f, "None"),
            Type::Str => write!(f, "str"),
            Type::Bytes => write!(f, "bytes"),
            Type::Complex => write!(f, "complex"),
            Type::CPtr(None) => write!(f, "C pointer"),
            Type::CPtr(Some(d)) => write!(f, "C pointer to {}", d.name()),
            Type::CData { prim, buffer: false } => write!(f, "cffi pointer ({} *)", prim.name()),
            Type::CData { prim, buffer: true } => write!(f, "cffi buffer ({}[])", prim.name()),
        }
    }
}

/// The result type of an arithmetic operation between two scalars, before operator-specific
/// rules (true division, comparisons). Python scalars follow Python (`bool < int < float`);
/// with a NumPy scalar involved, NEP 50: Python scalars are "weak" and take the NumPy type's
/// kind where they can.
pub fn arith_result(a: &Type, b: &Type) -> Option<Type> {
    use Type::*;
    Some(match (a, b) {
        (Bool | Int, Bool | Int) => Int,
        (Float, Bool | Int | Float) | (Bool | Int, Float) => Float,
        (Np(x), Np(y)) => Np(promote_types(*x, *y)),
        (Np(x), py) | (py, Np(x)) => match py {
            // NEP 50: a Python bool is weak and takes the NumPy type.
            Bool => Np(*x),
            Int => {
                if *x == DType::Bool {
                    Np(DType::I64)
                } else {
                    Np(*x)
                }
            }
            Float => {
                if x.is_float() {
                    Np(*x)
                } else {
                    Np(DType::F64)
                }
            }
            _ => return Option::None,
        },
        _ => return Option::None,
    })
}

/// The type two values of a variable unify to, when different assignments give it different
/// scalar types (the representation used for the variable; the exact type is tracked at run
/// time by a tag, see `infer`). `None` when they cannot share one machine representation.
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    use Type::*;
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (Bool, Int) | (Int, Bool) => Some(Int),
        (Bool | Int, Float) | (Float, Bool | Int) => Some(Float),
        (Np(x), Np(y)) => {
            let p = promote_types(*x, *y);
            Some(Np(p))
        }
        (Np(x), Float) | (Float, Np(x)) if x.is_float() => Some(Np(DType::F64)),
        // NEP 50: a Python int meeting a NumPy scalar takes the NumPy type.
        (Np(x), Bool | Int) | (Bool | Int, Np(x)) if *x != DType::U64 && *x != DType::Bool => Some(Np(*x)),
        (Np(x), Float) | (Float, Np(x)) if x.is_int() && *x != DType::U64 => Some(Np(DType::F64)),
        (Tuple(xs), Tuple(ys)) if xs.len() == ys.len() => {
            let mut out = Vec::new();
            for (x, y) in xs.iter().zip(ys) {
                if x != y {
                    return Option::None;
                }
                out.push(x.clone());
            }
            Some(Tuple(out))
        }
        _ => Option::None,
    }
}
