//! Foreign functions (issue 16): the C types of a ctypes or cffi function, and the type rules
//! of a call to one from compiled code: which Heron values each parameter takes, as ctypes'
//! `from_param` or cffi's conversion takes them, and the Heron type of the result.
//!
//! A call whose arguments ctypes or cffi would refuse (`ctypes.ArgumentError`, cffi's
//! `TypeError`) is not compiled: the function runs as Python, which raises the library's own
//! error. The rules here are what CPython 3.10-3.13's ctypes accepts on every version
//! (measured with `from_param`): a C integer takes a Python int, a bool or a NumPy integer
//! (`__index__`) and keeps its low bits (ctypes' `PyLong_AsUnsignedLongMask` truncation); a C
//! float takes any number (`__float__`); a `_Bool` takes any scalar's truth value; `c_void_p`
//! an int, a pointer or None; `POINTER(T)` a pointer to `T` (from `a.ctypes.data_as(...)`) or
//! None; an `ndpointer` an array of its dtype and dimensions. cffi is stricter: integers are
//! range-checked (out of range, the statement continues in the interpreter, which raises
//! cffi's `OverflowError`), floats take Python numbers and `numpy.float64`.

use std::sync::Arc;

use super::{ArrayType, DType, Layout, Type};

/// A C type as compiled code passes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    Void,
    /// C `_Bool` (ctypes `c_bool`).
    Bool,
    /// A C integer type, by width in bits and sign (`c_int` is `Int { bits: 32, signed: true }`).
    Int { bits: u8, signed: bool },
    F32,
    F64,
    /// `void *` (ctypes `c_void_p`).
    VoidPtr,
    /// ctypes `c_char_p`: a NUL-terminated string, from `bytes` (or None).
    CharPtr,
    /// `T *` for a numeric `T` (ctypes `POINTER(c_double)`).
    Ptr(DType),
    /// `numpy.ctypeslib.ndpointer(dtype, ndim, flags)`: an array's data pointer, after NumPy's
    /// checks of its dtype, dimensions and flags.
    NdPtr { dtype: Option<DType>, ndim: Option<u8>, flags: u32 },
    /// A pointer parameter of a cffi function, `T *` by `T`'s C spelling (`int *` and
    /// `int32_t *` differ: cffi passes only a pointer to the same `T`, or any to `void *`).
    CdataPtr(CPrim),
}

/// The C type a cffi pointer points to, by its spelling as cffi keeps it (`ffi.typeof(...)
/// .item.cname`): cffi tells `int` from `int32_t` and `long` from `int64_t` even where they
/// are the same machine type, and refuses a pointer to one where the other is wanted. A
/// primitive of `CPRIMS`, or a struct or union (`struct vec`, a typedef `pt_t`), interned by
/// name (compiled code only passes pointers to those on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CPrim(u16);

/// The struct and union names met so far (`CPrim(CPRIMS.len() + i)` is the `i`-th).
static STRUCTS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// cffi's primitive types on x86-64 Linux (LP64) and the NumPy dtype of their values (`None`:
/// `void`, and `char`, whose elements cffi reads as `bytes`).
const CPRIMS: &[(&str, Option<DType>)] = &[
    ("void", None),
    ("char", None),
    ("signed char", Some(DType::I8)),
    ("unsigned char", Some(DType::U8)),
    ("short", Some(DType::I16)),
    ("unsigned short", Some(DType::U16)),
    ("int", Some(DType::I32)),
    ("unsigned int", Some(DType::U32)),
    ("long", Some(DType::I64)),
    ("unsigned long", Some(DType::U64)),
    ("long long", Some(DType::I64)),
    ("unsigned long long", Some(DType::U64)),
    ("float", Some(DType::F32)),
    ("double", Some(DType::F64)),
    ("_Bool", Some(DType::Bool)),
    ("int8_t", Some(DType::I8)),
    ("uint8_t", Some(DType::U8)),
    ("int16_t", Some(DType::I16)),
    ("uint16_t", Some(DType::U16)),
    ("int32_t", Some(DType::I32)),
    ("uint32_t", Some(DType::U32)),
    ("int64_t", Some(DType::I64)),
    ("uint64_t", Some(DType::U64)),
    ("intptr_t", Some(DType::I64)),
    ("uintptr_t", Some(DType::U64)),
    ("size_t", Some(DType::U64)),
    ("ssize_t", Some(DType::I64)),
    ("ptrdiff_t", Some(DType::I64)),
];

impl CPrim {
    pub const VOID: CPrim = CPrim(0);
    pub const CHAR: CPrim = CPrim(1);

    /// The primitive of cffi's spelling `name` (`"double"`, `"unsigned int"`), if known.
    pub fn from_name(name: &str) -> Option<CPrim> {
        CPRIMS.iter().position(|(n, _)| *n == name).map(|i| CPrim(i as u16))
    }

    /// The struct or union cffi spells `name` (`"struct vec"`), interned.
    pub fn structure(name: &str) -> CPrim {
        let mut names = STRUCTS.lock().unwrap_or_else(|e| e.into_inner());
        let i = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                names.push(Box::leak(name.to_string().into_boxed_str()));
                names.len() - 1
            }
        };
        CPrim((CPRIMS.len() + i) as u16)
    }

    /// The type of the type code `cp:<name>` (a primitive) or `cs:<name>` (a struct or union).
    pub fn from_code(code: &str) -> Option<CPrim> {
        if let Some(name) = code.strip_prefix("cp:") {
            return CPrim::from_name(name);
        }
        code.strip_prefix("cs:").map(CPrim::structure)
    }

    /// Is it a struct or union?
    pub fn is_struct(self) -> bool {
        self.0 as usize >= CPRIMS.len()
    }

    /// cffi's spelling of it.
    pub fn name(self) -> &'static str {
        match CPRIMS.get(self.0 as usize) {
            Some((n, _)) => n,
            None => STRUCTS.lock().unwrap_or_else(|e| e.into_inner())[self.0 as usize - CPRIMS.len()],
        }
    }

    /// The type code of a pointer to it (`cp:double`, `cs:struct vec`).
    pub fn code(self) -> String {
        format!("{}:{}", if self.is_struct() { "cs" } else { "cp" }, self.name())
    }

    /// The dtype of the values it holds (`p[i]` reads one), or `None` for `void`, `char` and
    /// structs.
    pub fn dtype(self) -> Option<DType> {
        CPRIMS.get(self.0 as usize).and_then(|(_, d)| *d)
    }
}

/// Whose conversions a call follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    Ctypes,
    Cffi,
}

/// A foreign function compiled code calls directly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CFunc {
    /// Its machine address (resolved by the library's loader when the program loaded it).
    pub addr: usize,
    pub params: Vec<CType>,
    pub ret: CType,
    /// A `ctypes.PyDLL` function: it may use the Python C API, so its caller holds the GIL.
    pub keeps_gil: bool,
    /// What the report calls it (`libm.so.6:j0`).
    pub name: String,
    pub flavour: Flavour,
}

/// What a foreign-function object in the program stands for in compiled code (see
/// `heron._cnative.describe`).
#[derive(Clone, Debug)]
pub enum Foreign {
    Func(Arc<CFunc>),
    /// A library object (`ctypes.CDLL`, a cffi library), by the resolver's index.
    Lib(usize),
    /// A ctypes type (`c_double`, `POINTER(c_double)`).
    Type(CType),
    /// `ctypes.POINTER`.
    PointerFn,
    /// The `ctypes` module.
    Module,
    /// `heron.carray` (or `numba.carray`): an array over raw memory.
    Carray,
    /// `ffi.cast` of a cffi FFI (the resolver's library index of the FFI).
    FfiCast(usize),
    /// `ffi.from_buffer` of a cffi FFI.
    FfiFromBuffer(usize),
    /// `ffi.NULL`.
    FfiNull,
}

// NumPy's array flag bits (`numpy.ndarray.flags`, as `ndpointer(flags=...)` stores them).
const C_CONTIGUOUS: u32 = 0x1;
const F_CONTIGUOUS: u32 = 0x2;
const ALIGNED: u32 = 0x100;
const WRITEABLE: u32 = 0x400;

impl CType {
    /// Parse a type code of `heron._cnative` (`f64`, `i32`, `p:float64`, `nd:float64:2:1`).
    pub fn parse(code: &str) -> Option<CType> {
        Some(match code {
            "void" => CType::Void,
            "bool" => CType::Bool,
            "f32" => CType::F32,
            "f64" => CType::F64,
            "voidp" => CType::VoidPtr,
            "charp" => CType::CharPtr,
            _ => {
                if code.starts_with("cp:") || code.starts_with("cs:") {
                    return CPrim::from_code(code).map(CType::CdataPtr);
                }
                if let Some(d) = code.strip_prefix("p:") {
                    return DType::from_name(d).map(CType::Ptr);
                }
                if let Some(rest) = code.strip_prefix("nd:") {
                    let parts: Vec<&str> = rest.split(':').collect();
                    let [d, n, f] = parts.as_slice() else { return None };
                    let dtype = if *d == "*" { None } else { Some(DType::from_name(d)?) };
                    let ndim = if *n == "*" { None } else { Some(n.parse().ok()?) };
                    return Some(CType::NdPtr { dtype, ndim, flags: f.parse().ok()? });
                }
                let (signed, bits) = match code.as_bytes().first()? {
                    b'i' => (true, code[1..].parse::<u8>().ok()?),
                    b'u' => (false, code[1..].parse::<u8>().ok()?),
                    _ => return None,
                };
                if !matches!(bits, 8 | 16 | 32 | 64) {
                    return None;
                }
                CType::Int { bits, signed }
            }
        })
    }

    /// Does it point into memory (so that the callee may write the caller's arrays)?
    pub fn is_pointer(self) -> bool {
        matches!(self, CType::VoidPtr | CType::CharPtr | CType::Ptr(_) | CType::NdPtr { .. } | CType::CdataPtr(_))
    }
}

impl std::fmt::Display for CType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CType::Void => write!(f, "void"),
            CType::Bool => write!(f, "_Bool"),
            CType::Int { bits, signed } => write!(f, "{}int{bits}", if *signed { "" } else { "u" }),
            CType::F32 => write!(f, "float"),
            CType::F64 => write!(f, "double"),
            CType::VoidPtr => write!(f, "void *"),
            CType::CharPtr => write!(f, "char *"),
            CType::Ptr(d) => write!(f, "{} *", d.name()),
            CType::NdPtr { .. } => write!(f, "ndpointer"),
            CType::CdataPtr(p) => write!(f, "{} *", p.name()),
        }
    }
}

/// Why argument `i` (from 1) of type `t` cannot be passed to a parameter of C type `p` without
/// Python (the library would raise, or convert in a way compiled code does not reproduce), or
/// `None` when it can.
pub fn refuse_arg(func: &CFunc, i: usize, p: CType, t: &Type) -> Option<String> {
    let ok = match (func.flavour, p) {
        (_, CType::Void) => false,
        (Flavour::Ctypes, CType::F64 | CType::F32) => t.is_scalar(),
        (Flavour::Cffi, CType::F64 | CType::F32) => matches!(t, Type::Bool | Type::Int | Type::Float | Type::Np(DType::F64)),
        (Flavour::Ctypes, CType::Int { .. }) => matches!(t, Type::Bool | Type::Int) || matches!(t, Type::Np(d) if d.is_int()),
        (Flavour::Cffi, CType::Int { .. }) => matches!(t, Type::Bool | Type::Int),
        (Flavour::Ctypes, CType::Bool) => t.is_scalar(),
        (Flavour::Cffi, CType::Bool) => *t == Type::Bool,
        // ctypes (3.10-3.13): `c_void_p.from_param` takes an int, a bytes (its buffer), a
        // pointer or None; `c_char_p.from_param` a bytes or None (an int or a str is its
        // TypeError).
        (_, CType::VoidPtr) => matches!(t, Type::Int | Type::Bool | Type::None | Type::CPtr(_) | Type::Bytes),
        (_, CType::CharPtr) => matches!(t, Type::None | Type::Bytes),
        (_, CType::Ptr(d)) => matches!(t, Type::None) || *t == Type::CPtr(Some(d)),
        // cffi's pointer conversion (measured with cffi 1.17): `void *` takes any cdata
        // pointer or array; `T *` one to the same `T` (its spelling), or a `void *`.
        (Flavour::Cffi, CType::CdataPtr(p)) => match t {
            Type::CData { prim, .. } => p == CPrim::VOID || *prim == p || *prim == CPrim::VOID,
            // A bytes passes its buffer to a `char *` or a `void *`.
            Type::Bytes => p == CPrim::CHAR || p == CPrim::VOID,
            _ => false,
        },
        (Flavour::Ctypes, CType::CdataPtr(_)) => false,
        (_, CType::NdPtr { dtype, ndim, flags }) => match t {
            Type::Array(at) => return nd_refusal(i, dtype, ndim, flags, at),
            _ => false,
        },
    };
    if ok {
        None
    } else {
        let lib = match func.flavour {
            Flavour::Ctypes => "ctypes",
            Flavour::Cffi => "cffi",
        };
        Some(format!("argument {i} of `{}` is a {t}, which {lib} does not pass as a C {p} the way compiled code can", func.name))
    }
}

/// `ndpointer.from_param`'s checks, decided at compile time: the dtype and dimensions from the
/// type, the flags from the layout (a strided array may or may not be contiguous at run time:
/// such a call runs as Python).
fn nd_refusal(i: usize, dtype: Option<DType>, ndim: Option<u8>, flags: u32, at: &ArrayType) -> Option<String> {
    if dtype.is_some_and(|d| d != at.dtype) {
        return Some(format!("argument {i} is a {} array where the ndpointer wants {} (NumPy raises TypeError)", at.dtype.name(), dtype.unwrap().name()));
    }
    if ndim.is_some_and(|n| n != at.ndim) {
        return Some(format!("argument {i} has {} dimensions where the ndpointer wants {} (NumPy raises TypeError)", at.ndim, ndim.unwrap()));
    }
    let known = C_CONTIGUOUS | F_CONTIGUOUS | ALIGNED | WRITEABLE;
    if flags & !known != 0 {
        return Some(format!("argument {i}: compiled code does not check these ndpointer flags ({flags:#x})"));
    }
    let c_contig = at.layout == Layout::C;
    if flags & C_CONTIGUOUS != 0 && !c_contig {
        return Some(format!("argument {i} is a strided array; the ndpointer wants C_CONTIGUOUS, checked by NumPy"));
    }
    if flags & F_CONTIGUOUS != 0 && !(c_contig && at.ndim <= 1) {
        return Some(format!("argument {i}: the ndpointer wants F_CONTIGUOUS, checked by NumPy"));
    }
    if flags & WRITEABLE != 0 && at.readonly {
        return Some(format!("argument {i} is read-only; the ndpointer wants WRITEABLE (NumPy raises TypeError)"));
    }
    None
}

/// The Heron type of the call's result (as ctypes or cffi returns it to Python), or why it
/// cannot come back without Python. A `uint64` (`size_t`) is an int: one past `2**63 - 1`
/// continues in the interpreter (`codegen::cnative`).
pub fn result_type(func: &CFunc) -> Result<Type, String> {
    match func.ret {
        CType::Void => Ok(Type::None),
        CType::Bool => Ok(Type::Bool),
        CType::Int { .. } => Ok(Type::Int),
        CType::F32 | CType::F64 => Ok(Type::Float),
        // ctypes: a `c_void_p` result is an int (None for NULL, in the interpreter), a
        // `POINTER(T)` one a pointer (NULL too); cffi: a `T *` one a cdata pointer.
        CType::VoidPtr => Ok(Type::Int),
        CType::Ptr(d) => Ok(Type::CPtr(Some(d))),
        CType::CdataPtr(prim) => Ok(Type::CData { prim, buffer: false }),
        CType::CharPtr | CType::NdPtr { .. } => Err(format!("`{}` returns a pointer, which compiled code does not take back yet", func.name)),
    }
}

/// The Python type ctypes gives an element of a `T *` (`p[i]`): a float for a float `T`, a
/// bool for `_Bool`, an int for an integer (refused for `uint64`, which may not fit).
pub fn pointee_type(d: DType) -> Result<Type, String> {
    match d {
        DType::F32 | DType::F64 => Ok(Type::Float),
        DType::Bool => Ok(Type::Bool),
        DType::U64 => Err("an element of a uint64 pointer may not fit a compiled int".into()),
        _ => Ok(Type::Int),
    }
}

/// The dtype of a numeric C type (the element of a `T *`; the inverse of `pointee_ctype`).
pub fn element_dtype(c: CType) -> Option<DType> {
    Some(match c {
        CType::F64 => DType::F64,
        CType::F32 => DType::F32,
        CType::Bool => DType::Bool,
        CType::Int { bits, signed } => return DType::from_name(&format!("{}int{bits}", if signed { "" } else { "u" })),
        _ => return None,
    })
}

/// The C type of an element of a `T *`.
pub fn pointee_ctype(d: DType) -> CType {
    match d {
        DType::F32 => CType::F32,
        DType::F64 => CType::F64,
        DType::Bool => CType::Bool,
        d => CType::Int { bits: (d.itemsize() * 8) as u8, signed: d.is_signed() },
    }
}

/// The type code of `heron._cnative` for `c` (the inverse of `CType::parse`).
pub fn ctype_code(c: CType) -> String {
    match c {
        CType::Void => "void".into(),
        CType::Bool => "bool".into(),
        CType::Int { bits, signed } => format!("{}{bits}", if signed { 'i' } else { 'u' }),
        CType::F32 => "f32".into(),
        CType::F64 => "f64".into(),
        CType::VoidPtr => "voidp".into(),
        CType::CharPtr => "charp".into(),
        CType::Ptr(d) => format!("p:{}", d.name()),
        CType::NdPtr { dtype, ndim, flags } => format!(
            "nd:{}:{}:{flags}",
            dtype.map(|d| d.name().to_string()).unwrap_or_else(|| "*".into()),
            ndim.map(|n| n.to_string()).unwrap_or_else(|| "*".into())
        ),
        CType::CdataPtr(p) => p.code(),
    }
}

/// Why `p[i] = v` (a `T *` to `d`s, index types `index`, value type `t`) is not compiled, or
/// `None`: one integer index, and a value ctypes stores into a `T` the way compiled code does.
pub fn pointer_store_refusal(d: DType, index: &[Option<Type>], t: &Type) -> Option<String> {
    if !matches!(index, [Some(Type::Int | Type::Bool)]) {
        return Some("a C pointer takes one integer index".into());
    }
    let store = CFunc { addr: 0, params: vec![], ret: CType::Void, keeps_gil: false, name: "a pointer store".into(), flavour: Flavour::Ctypes };
    refuse_arg(&store, 1, pointee_ctype(d), t)
}
