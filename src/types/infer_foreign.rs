//! Type inference of what compiled code does with ctypes and cffi (issue 16, see
//! `types::cnative` for the call rules): `heron.carray`, ctypes' `POINTER(T)` named in
//! `a.ctypes.data_as(...)`, and cffi's `ffi.cast` and `ffi.from_buffer`.

use super::infer::{cerr, CallTarget, GlobalValue, Infer};
use crate::ir::*;
use crate::types::*;
use crate::types::cnative::{self, CType, Foreign};

impl<'a> Infer<'a> {
    /// `heron.carray(pointer, shape, dtype=None)` (Numba's `carray`): a typed pointer gives its
    /// dtype (a different `dtype` is the interpreter's TypeError), a `void *` (an int) needs
    /// one; `shape` is an int or a tuple of ints.
    pub(super) fn carray(&mut self, e: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let mut dtype_arg = args.get(2);
        for (k, v) in kwargs {
            match k.as_str() {
                "dtype" if dtype_arg.is_none() => dtype_arg = Some(v),
                _ => return cerr(format!("carray() keyword `{k}` is not supported"), line),
            }
        }
        if args.len() < 2 || args.len() > 3 {
            return cerr("carray() takes a pointer, a shape and an optional dtype", line);
        }
        let (Some(pt), Some(st)) = (self.expr(&args[0])?, self.expr(&args[1])?) else { return Ok(None) };
        let given = match dtype_arg {
            None => None,
            Some(d) => match self.resolve_name(d)? {
                Some(GlobalValue::NpDType(x)) => Some(x),
                Some(GlobalValue::Builtin(b)) if b.as_dtype().is_some() => b.as_dtype(),
                _ => return cerr("carray(dtype=...) must name a NumPy type (np.float64, ...) in compiled code", line),
            },
        };
        let dtype = match (&pt, given) {
            (Type::CPtr(Some(d)), None) => *d,
            (Type::CPtr(Some(d)), Some(g)) if *d == g => g,
            (Type::CPtr(Some(_)), Some(_)) => return cerr("carray(): the dtype differs from the pointer's (a TypeError)", line),
            (Type::Int, Some(g)) => g,
            (Type::Int, None) => return cerr("carray() of a void pointer needs a dtype", line),
            _ => return cerr(format!("carray() takes a C pointer, not a {pt}"), line),
        };
        let ndim = match &st {
            Type::Int => 1,
            Type::Tuple(ts) if !ts.is_empty() && ts.iter().all(|t| *t == Type::Int) => ts.len(),
            _ => return cerr(format!("carray()'s shape must be an int or a tuple of ints, not a {st}"), line),
        };
        if ndim > 4 {
            return cerr("carray() of more than 4 dimensions is not supported", line);
        }
        let at = ArrayType { dtype, ndim: ndim as u8, layout: Layout::C, readonly: false };
        self.calls.insert(e.id, CallTarget::Carray(at));
        Ok(Some(Type::Array(at)))
    }

    /// The C type a constant string argument of `ffi.cast` or `ffi.from_buffer` spells.
    fn cdecl_arg(&mut self, lib: usize, a: &Expr, what: &str) -> CResult<(cnative::CPrim, bool)> {
        let line = a.span.line;
        let ExprKind::Const(Const::Str(text)) = &a.kind else {
            return cerr(format!("{what}'s C type must be a constant string (\"double *\") in compiled code"), line);
        };
        self.res.ffi_pointer_type(lib, text, line)
    }

    /// `ffi.cast("T *", x)` (cffi): an int (an address, as `a.ctypes.data` gives it) or a cffi
    /// pointer, as a `T *`. A cast to a number type or an array type is not compiled.
    pub(super) fn ffi_cast(&mut self, e: &Expr, lib: usize, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let ([ct, x], true) = (args, kwargs.is_empty()) else {
            return cerr("ffi.cast() takes a C type and a value", line);
        };
        let (prim, array) = self.cdecl_arg(lib, ct, "ffi.cast()")?;
        if array {
            return cerr("ffi.cast() to an array type is not compiled (cffi raises TypeError)", line);
        }
        let Some(xt) = self.expr(x)? else { return Ok(None) };
        if !matches!(xt, Type::Int | Type::CData { .. }) {
            return cerr(format!("ffi.cast() of a {xt} to a pointer is not compiled (an int address or a cffi pointer is)"), line);
        }
        self.calls.insert(e.id, CallTarget::FfiCast);
        Ok(Some(Type::CData { prim, buffer: false }))
    }

    /// `ffi.from_buffer(a)` (a `char[]`) or `ffi.from_buffer("T[]", a)` (cffi): the data of a
    /// C-contiguous array, as cffi gives a buffer's memory. An array that may be strided is
    /// not compiled (cffi raises for a non-contiguous one), nor `require_writable=True` of a
    /// read-only one.
    pub(super) fn ffi_from_buffer(&mut self, e: &Expr, lib: usize, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let (prim, buf) = match args {
            [a] => (cnative::CPrim::CHAR, a),
            [ct, a] => (self.cdecl_arg(lib, ct, "ffi.from_buffer()")?.0, a),
            _ => return cerr("ffi.from_buffer() takes an optional C type and an array", line),
        };
        let mut writable = false;
        for (k, v) in kwargs {
            match (k.as_str(), &v.kind) {
                ("require_writable", ExprKind::Const(Const::Bool(w))) => writable = *w,
                _ => return cerr(format!("ffi.from_buffer() keyword `{k}` is supported only as a constant `require_writable=True/False`"), line),
            }
        }
        let Some(bt) = self.expr(buf)? else { return Ok(None) };
        let Type::Array(at) = bt else {
            return cerr(format!("ffi.from_buffer() of a {bt} is not compiled (an array is)"), line);
        };
        if at.layout != Layout::C {
            return cerr("ffi.from_buffer() of an array that may not be C-contiguous is not compiled (cffi raises for a strided one)", line);
        }
        if writable && at.readonly {
            return cerr("ffi.from_buffer(..., require_writable=True) of a read-only array (cffi raises)", line);
        }
        self.calls.insert(e.id, CallTarget::FfiFromBuffer);
        Ok(Some(Type::CData { prim, buffer: true }))
    }

    /// The element type of a ctypes pointer type named by `e`: `POINTER(c_double)`,
    /// `ctypes.POINTER(ctypes.c_int)`, or a global holding one.
    pub(super) fn pointer_type(&mut self, e: &Expr) -> CResult<Option<DType>> {
        if let ExprKind::Call { func, args, kwargs } = &e.kind {
            if let (Some(GlobalValue::Foreign(Foreign::PointerFn)), [item], true) = (self.resolve_name(func)?, args.as_slice(), kwargs.is_empty()) {
                let Some(GlobalValue::Foreign(Foreign::Type(t))) = self.resolve_name(item)? else { return Ok(None) };
                return Ok(cnative::element_dtype(t));
            }
            return Ok(None);
        }
        Ok(match self.resolve_name(e)? {
            Some(GlobalValue::Foreign(Foreign::Type(CType::Ptr(d)))) => Some(d),
            _ => None,
        })
    }
}
