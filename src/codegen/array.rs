//! Array indexing and strides: element loads and stores with NumPy's rules (negative indices
//! wrap, out of range raises IndexError with NumPy's message), views for partial indexing, and
//! the array attributes `shape`, `size`, `ndim`.
//!
//! An array value is flattened as `[data, shape[0..ndim], strides[0..ndim]]` (strides in bytes).
//! For a C-contiguous array the last stride is the item size, a constant.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::{CVal, FunctionCx};
use crate::frontend::{CResult, CompileError};
use crate::ir::*;
use crate::runtime::ErrCode;
use crate::types::{ArrayType, DType, Layout, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// Compute the byte address of `base[index...]`, checking bounds; `index.len()` may be less
    /// than `ndim` (a view): then the result is `(data pointer, remaining axes)`.
    fn indexed_pointer(&mut self, base: &Expr, index: &[Expr], at: ArrayType, line: u32) -> CResult<(Value, CVal)> {
        let arr = self.expr(base)?;
        let nd = at.ndim as usize;
        let mut ptr = arr[0];
        // Python evaluates the whole index tuple before NumPy checks any bound.
        let mut idxs = Vec::new();
        for ie in index {
            let it = self.typed.ty(ie).clone();
            let iv = self.expr(ie)?;
            idxs.push(self.to_i64(iv, &it));
        }
        for (k, ie) in index.iter().enumerate() {
            let idx = idxs[k];
            let extent = arr[1 + k];
            let idx = if self.index_in_bounds(ie, base, k) {
                idx
            } else {
                let nonneg_const = matches!(ie.kind, ExprKind::Const(Const::Int(c)) if c >= 0);
                let adj = if nonneg_const {
                    idx
                } else {
                    let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, idx, 0);
                    let wrapped = self.b.ins().iadd(idx, extent);
                    self.b.ins().select(neg, wrapped, idx)
                };
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, adj, extent);
                let axis = self.iconst(k as i64);
                self.fail_if(oob, ErrCode::IndexOutOfBounds, line, &[idx, axis, extent]);
                adj
            };
            let stride = if at.layout == Layout::C && k == nd - 1 {
                self.iconst(at.dtype.itemsize())
            } else {
                arr[1 + nd + k]
            };
            let off = self.b.ins().imul(idx, stride);
            ptr = self.b.ins().iadd(ptr, off);
        }
        let n = index.len();
        let mut rest = vec![ptr];
        rest.extend_from_slice(&arr[1 + n..1 + nd]);
        rest.extend_from_slice(&arr[1 + nd + n..1 + 2 * nd]);
        Ok((ptr, rest))
    }

    /// Address of one element `base[i, j, ...]` (all axes indexed) and its NumPy scalar type.
    pub fn element_address(&mut self, base: &Expr, index: &[Expr], at: ArrayType, line: u32) -> CResult<(Value, Type)> {
        let (ptr, _) = self.indexed_pointer(base, index, at, line)?;
        Ok((ptr, Type::Np(at.dtype)))
    }

    /// `base[index]`: an element (a NumPy scalar) or, with fewer indices than axes, a view.
    pub fn index(&mut self, base: &Expr, index: &[Expr], line: u32) -> CResult<CVal> {
        match self.typed.ty(base).clone() {
            Type::Array(at) => {
                let (ptr, rest) = self.indexed_pointer(base, index, at, line)?;
                if index.len() == at.ndim as usize {
                    Ok(self.load_element(ptr, at.dtype))
                } else {
                    Ok(rest)
                }
            }
            Type::Tuple(elems) => {
                let k = match &index[0].kind {
                    ExprKind::Const(Const::Int(k)) => *k,
                    ExprKind::Unary(UnaryOp::Neg, inner) => match inner.kind {
                        ExprKind::Const(Const::Int(k)) => -k,
                        _ => unreachable!(),
                    },
                    _ => unreachable!("inference requires a constant tuple index"),
                };
                let n = elems.len() as i64;
                let k = if k < 0 { k + n } else { k } as usize;
                let v = self.expr(base)?;
                let off: usize = elems[..k].iter().map(|t| super::repr(t).len()).sum();
                let w = super::repr(&elems[k]).len();
                Ok(v[off..off + w].to_vec())
            }
            other => Err(CompileError::new(format!("indexing a {other}"), line)),
        }
    }

    /// Load one element of `dtype` at `ptr` into its register representation.
    pub fn load_element(&mut self, ptr: Value, dtype: DType) -> CVal {
        let flags = MemFlagsData::trusted();
        let v = match dtype {
            DType::F64 => self.b.ins().load(types::F64, flags, ptr, 0),
            DType::F32 => self.b.ins().load(types::F32, flags, ptr, 0),
            DType::Bool => self.b.ins().load(types::I8, flags, ptr, 0),
            DType::I64 | DType::U64 => self.b.ins().load(types::I64, flags, ptr, 0),
            DType::I32 => self.b.ins().sload32(flags, ptr, 0),
            DType::U32 => self.b.ins().uload32(flags, ptr, 0),
            DType::I16 => self.b.ins().sload16(types::I64, flags, ptr, 0),
            DType::U16 => self.b.ins().uload16(types::I64, flags, ptr, 0),
            DType::I8 => self.b.ins().sload8(types::I64, flags, ptr, 0),
            DType::U8 => self.b.ins().uload8(types::I64, flags, ptr, 0),
        };
        vec![v]
    }

    /// Store `val` (of type `vt`) as an element of `dtype` at `ptr`, cast as NumPy's
    /// `__setitem__` casts: a Python int out of the dtype's range raises OverflowError; NumPy
    /// integers wrap (C cast); floats round to float32 when stored into float32.
    pub fn store_element(&mut self, ptr: Value, dtype: DType, val: CVal, vt: &Type, line: u32) -> CResult<()> {
        let flags = MemFlagsData::trusted();
        self.mark_effect();
        let v = val[0];
        let stored = if dtype.is_float() {
            self.cast_scalar(v, vt, dtype)
        } else if dtype == DType::Bool {
            v
        } else {
            let x = self.to_i64(val.clone(), vt);
            // NumPy's __setitem__ range-checks a Python int for every integer dtype, and any
            // integer for a signed dtype (numpy.int64(300) into int8 raises OverflowError);
            // NumPy integers stored into an unsigned dtype wrap.
            let int_source = matches!(vt, Type::Int) || matches!(vt, Type::Np(d) if d.is_int());
            if dtype != DType::I64 && (*vt == Type::Int || (dtype.is_signed() && int_source)) {
                self.check_python_int_fits(x, dtype, line);
            }
            match dtype.itemsize() {
                1 => self.b.ins().ireduce(types::I8, x),
                2 => self.b.ins().ireduce(types::I16, x),
                4 => self.b.ins().ireduce(types::I32, x),
                _ => x,
            }
        };
        self.b.ins().store(flags, stored, ptr, 0);
        Ok(())
    }

    /// `base[index...] = value`.
    pub fn store_index(&mut self, base: &Expr, index: &[Expr], val: CVal, vt: &Type, line: u32) -> CResult<()> {
        let Type::Array(at) = self.typed.ty(base).clone() else {
            return Err(CompileError::new("item assignment into a non-array", line));
        };
        let (ptr, _) = self.element_address(base, index, at, line)?;
        self.store_element(ptr, at.dtype, val, vt, line)
    }

    /// `a.shape`, `a.size`, `a.ndim`.
    pub fn attr(&mut self, base: &Expr, attr: &str, line: u32) -> CResult<CVal> {
        let bt = self.typed.ty(base).clone();
        let v = self.expr(base)?;
        match (&bt, attr) {
            (Type::Array(at), "shape") => Ok(v[1..1 + at.ndim as usize].to_vec()),
            (Type::Array(at), "ndim") => Ok(vec![self.iconst(at.ndim as i64)]),
            (Type::Array(at), "size") => {
                let mut n = self.iconst(1);
                for k in 0..at.ndim as usize {
                    n = self.b.ins().imul(n, v[1 + k]);
                }
                Ok(vec![n])
            }
            (Type::Float, "real") => Ok(v),
            (Type::Float, "imag") => Ok(vec![self.b.ins().f64const(0.0)]),
            _ => Err(CompileError::new(format!("the attribute `.{attr}` of a {bt}"), line)),
        }
    }
}
