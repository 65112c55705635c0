//! Array indexing and strides: element loads and stores with NumPy's rules (negative indices
//! wrap, out of range raises IndexError with NumPy's message), views for partial indexing, and
//! the array attributes `shape`, `size`, `ndim`.
//!
//! An array value is flattened as `[data, shape[0..ndim], strides[0..ndim]]` (strides in bytes).
//! For a C-contiguous array the last stride is the item size, a constant.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::{CVal, FunctionCx};
use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::abi::{ErrCode, NpWarn};
use crate::types::{ArrayType, DType, Layout, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// Compute the byte address of `base[index...]`, checking bounds; `index.len()` may be less
    /// than `ndim` (a view): then the result is `(data pointer, remaining axes)`.
    fn indexed_pointer(&mut self, base: &Expr, index: &[Expr], at: ArrayType, line: u32) -> CResult<(Value, CVal)> {
        let arr = self.expr(base)?;
        let nd = at.ndim as usize;
        let mut ptr = arr[0];
        // Python evaluates the whole index tuple before NumPy checks any bound.
        enum Item {
            At(Value),
            Slice(Option<Value>, Option<Value>, Option<Value>),
        }
        // Each item with the index expression it came from (`None`: an item of a tuple index,
        // `a[t]`, checked in full).
        let mut items: Vec<(Option<&Expr>, Item)> = Vec::new();
        for ie in index {
            if self.typed.tuple_indices.contains_key(&ie.id) {
                let Type::Tuple(elems) = self.typed.ty(ie).clone() else { unreachable!("a tuple index") };
                let v = self.expr(ie)?;
                let mut off = 0;
                for et in &elems {
                    let n = super::repr(et).len();
                    let idx = self.to_i64(v[off..off + n].to_vec(), et);
                    off += n;
                    items.push((None, Item::At(idx)));
                }
                continue;
            }
            if let ExprKind::Slice(lo, hi, st) = &ie.kind {
                let part = |cx: &mut Self, p: &Option<Box<Expr>>| -> CResult<Option<Value>> {
                    match p {
                        Some(e) if *cx.typed.ty(e) != Type::None => {
                            let t = cx.typed.ty(e).clone();
                            let v = cx.expr(e)?;
                            Ok(Some(cx.to_i64(v, &t)))
                        }
                        Some(e) => {
                            cx.expr(e)?;
                            Ok(None)
                        }
                        None => Ok(None),
                    }
                };
                let (a, b, c) = (part(self, lo)?, part(self, hi)?, part(self, st)?);
                items.push((Some(ie), Item::Slice(a, b, c)));
            } else {
                let it = self.typed.ty(ie).clone();
                let iv = self.expr(ie)?;
                let idx = self.to_i64(iv, &it);
                if it == Type::Np(crate::types::DType::U64) {
                    // Beyond int64 it is out of bounds: NumPy's IndexError, from the
                    // interpreter (its message prints the unsigned value).
                    let big = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, idx, 0);
                    self.fail_if(big, ErrCode::Deopt, line, &[]);
                }
                items.push((Some(ie), Item::At(idx)));
            }
        }
        let mut shape = Vec::new();
        let mut strides = Vec::new();
        let n = items.len();
        for (k, (ie, item)) in items.into_iter().enumerate() {
            let extent = arr[1 + k];
            let stride = if at.layout == Layout::C && k == nd - 1 {
                self.iconst(at.dtype.itemsize())
            } else {
                arr[1 + nd + k]
            };
            match item {
                Item::At(idx) => {
                    let idx = if ie.is_some_and(|ie| self.scope.index_in_bounds(ie, base, k)) {
                        idx
                    } else {
                        let adj = if ie.is_some_and(|ie| self.scope.known_nonnegative(ie)) {
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
                    let off = self.b.ins().imul(idx, stride);
                    ptr = self.b.ins().iadd(ptr, off);
                }
                Item::Slice(lo, hi, st) => {
                    let (start, len, step) = self.slice_indices(lo, hi, st, extent, line);
                    let off = self.b.ins().imul(start, stride);
                    ptr = self.b.ins().iadd(ptr, off);
                    shape.push(len);
                    strides.push(self.b.ins().imul(stride, step));
                }
            }
        }
        let mut rest = vec![ptr];
        rest.extend(shape);
        rest.extend_from_slice(&arr[1 + n..1 + nd]);
        rest.extend(strides);
        for k in n..nd {
            // Untouched axes keep their strides (the C layout's constant last stride included).
            let s = if at.layout == Layout::C && k == nd - 1 { self.iconst(at.dtype.itemsize()) } else { arr[1 + nd + k] };
            rest.push(s);
        }
        Ok((ptr, rest))
    }

    /// Python's `slice(lo, hi, step).indices(extent)` (Objects/sliceobject.c,
    /// `PySlice_AdjustIndices`): the first index, the number of items and the step. A zero step
    /// raises ValueError.
    fn slice_indices(&mut self, lo: Option<Value>, hi: Option<Value>, st: Option<Value>, len: Value, line: u32) -> (Value, Value, Value) {
        let step = match st {
            Some(s) => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
                self.fail_if(zero, ErrCode::SliceStepZero, line, &[]);
                s
            }
            None => self.iconst(1),
        };
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, step, 0);
        let m1 = self.iconst(-1);
        let zero = self.iconst(0);
        let len_m1 = self.b.ins().iadd_imm_s(len, -1);
        // Clamp bounds: [lower, upper] is [-1, len-1] for a negative step, else [0, len].
        let lower = self.b.ins().select(neg, m1, zero);
        let upper = self.b.ins().select(neg, len_m1, len);
        let adjust = |cx: &mut Self, v: Value| {
            let is_neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, 0);
            let plus = cx.b.ins().iadd(v, len);
            let v = cx.b.ins().select(is_neg, plus, v);
            let below = cx.b.ins().icmp(IntCC::SignedLessThan, v, lower);
            let v = cx.b.ins().select(below, lower, v);
            let above = cx.b.ins().icmp(IntCC::SignedGreaterThan, v, upper);
            cx.b.ins().select(above, upper, v)
        };
        let start = match lo {
            Some(v) => adjust(self, v),
            None => self.b.ins().select(neg, len_m1, zero),
        };
        let stop = match hi {
            Some(v) => adjust(self, v),
            None => self.b.ins().select(neg, m1, len),
        };
        // Number of items: (stop - start - 1) / step + 1 when the range is not empty.
        let (a, b) = (self.b.ins().select(neg, start, stop), self.b.ins().select(neg, stop, start));
        let nonempty = self.b.ins().icmp(IntCC::SignedGreaterThan, a, b);
        let span = self.b.ins().isub(a, b);
        let span = self.b.ins().iadd_imm_s(span, -1);
        let abs_step = self.b.ins().iabs(step);
        let q = self.b.ins().sdiv(span, abs_step);
        let q = self.b.ins().iadd_imm_s(q, 1);
        let count = self.b.ins().select(nonempty, q, zero);
        (start, count, step)
    }

    /// Address of one element `base[i, j, ...]` (all axes indexed) and its NumPy scalar type.
    pub fn element_address(&mut self, base: &Expr, index: &[Expr], at: ArrayType, line: u32) -> CResult<(Value, Type)> {
        let (ptr, _) = self.indexed_pointer(base, index, at, line)?;
        Ok((ptr, Type::Np(at.dtype)))
    }

    /// `base[index]`: an element (a NumPy scalar) or, with fewer indices than axes, a view.
    pub fn index(&mut self, base: &Expr, index: &[Expr], line: u32) -> CResult<CVal> {
        let bt = match self.typed.ty(base).clone() {
            // A cffi `T *` is read as a ctypes one (types::infer_expr typed it so).
            Type::CData { prim, buffer: false } if prim.dtype().is_some() => Type::CPtr(prim.dtype()),
            bt => bt,
        };
        match bt {
            Type::CPtr(Some(d)) => {
                let addr = self.pointer_element(base, &index[0], d)?;
                Ok(vec![self.load_pointee(addr, d)])
            }
            Type::Array(at) if matches!(base.kind, ExprKind::Var(v) if self.typed.flat_iters.contains(&v)) => self.flat_element(base, &index[0], at),
            Type::Array(at) if matches!(base.kind, ExprKind::Var(v) if self.typed.ndenumerate_iters.contains(&v)) => self.ndenumerate_item(base, &index[0], at),
            Type::Array(at) => {
                let (ptr, rest) = self.indexed_pointer(base, index, at, line)?;
                let slices = index.iter().any(|i| matches!(i.kind, ExprKind::Slice(..)));
                if self.typed.index_arity(index) == at.ndim as usize && !slices {
                    Ok(self.load_element(ptr, at.dtype))
                } else {
                    Ok(rest)
                }
            }
            Type::Tuple(_) if matches!(base.kind, ExprKind::Var(v) if self.typed.ndindex_iters.contains(&v)) => self.ndindex_item(base, &index[0]),
            Type::Tuple(elems) if matches!(index[0].kind, ExprKind::Slice(..)) => {
                let pos = crate::types::rules::const_tuple_slice(&index[0], elems.len()).expect("inference checked the slice");
                let v = self.expr(base)?;
                let mut offs = Vec::new();
                let mut off = 0;
                for et in &elems {
                    offs.push(off);
                    off += super::repr(et).len();
                }
                let mut out = Vec::new();
                for k in pos {
                    let n = super::repr(&elems[k]).len();
                    out.extend_from_slice(&v[offs[k]..offs[k] + n]);
                }
                Ok(out)
            }
            Type::Tuple(elems) => {
                let k = match &index[0].kind {
                    ExprKind::Const(Const::Int(k)) => *k,
                    ExprKind::Unary(UnaryOp::Neg, inner) if matches!(inner.kind, ExprKind::Const(Const::Int(_))) => match inner.kind {
                        ExprKind::Const(Const::Int(k)) => -k,
                        _ => unreachable!(),
                    },
                    _ => {
                        // A variable index into a tuple of one scalar type: select the item.
                        let v = self.expr(base)?;
                        let it = self.typed.ty(&index[0]).clone();
                        let iv = self.expr(&index[0])?;
                        let i = self.to_i64(iv, &it);
                        let n = elems.len() as i64;
                        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
                        let wrapped = self.b.ins().iadd_imm_s(i, n);
                        let i = self.b.ins().select(neg, wrapped, i);
                        let low = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
                        let high = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, i, n);
                        let bad = self.b.ins().bor(low, high);
                        self.fail_if(bad, ErrCode::Deopt, line, &[]);
                        let mut r = v[0];
                        for k in 1..elems.len() {
                            let is_k = self.b.ins().icmp_imm_s(IntCC::Equal, i, k as i64);
                            r = self.b.ins().select(is_k, v[k], r);
                        }
                        return Ok(vec![r]);
                    }
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

    /// A NumPy float scalar (`x`, as f64) stored into an unsigned integer array: NumPy's
    /// `__setitem__` does the C cast, which wraps (`np.float64(-1.5)` into uint8 is 255,
    /// 300.7 is 44). x86-64's C cast truncates to int32 for uint8/uint16 and to int64 for
    /// uint32 (then keeps the low bits), and for uint64 converts values from 2^63 unsigned;
    /// outside those ranges (and for NaN) the conversion is invalid, NumPy warns "invalid
    /// value encountered in cast", and the store is left to the interpreter. (Measured on
    /// NumPy 2.4, every unsigned dtype against float64 and float32 scalars; signed dtypes go
    /// through Python's int and raise OverflowError instead: `store_element`.)
    fn store_np_float_unsigned(&mut self, x: Value, dtype: DType, line: u32) -> Value {
        use cranelift_codegen::ir::condcodes::FloatCC;
        let (lo, hi, wide) = match dtype {
            DType::U8 | DType::U16 => (-2147483649.0, 2147483648.0, types::I32),
            DType::U32 => (-9223372036854777856.0, 9223372036854775808.0, types::I64),
            _ => (-9223372036854777856.0, 18446744073709551616.0, types::I64),
        };
        let (lo_f, hi_f) = (self.b.ins().f64const(lo), self.b.ins().f64const(hi));
        let above = self.b.ins().fcmp(FloatCC::GreaterThan, x, lo_f);
        let below = self.b.ins().fcmp(FloatCC::LessThan, x, hi_f);
        let ok = self.b.ins().band(above, below);
        let bad = self.b.ins().bxor_imm_u(ok, 1);
        self.fail_if(bad, ErrCode::Deopt, line, &[]);
        let i = if dtype == DType::U64 {
            // Below 2^63 the signed conversion (negative values wrap); from 2^63 the unsigned.
            let two63 = self.b.ins().f64const(9223372036854775808.0);
            let small = self.b.ins().fcmp(FloatCC::LessThan, x, two63);
            let clamped = self.b.ins().select(small, x, two63);
            let s = self.b.ins().fcvt_to_sint_sat(types::I64, clamped);
            let big = self.b.ins().select(small, two63, x);
            let u = self.b.ins().fcvt_to_uint_sat(types::I64, big);
            self.b.ins().select(small, s, u)
        } else {
            self.b.ins().fcvt_to_sint(wide, x)
        };
        match dtype.itemsize() {
            1 | 2 if wide == types::I32 => self.b.ins().ireduce(if dtype.itemsize() == 1 { types::I8 } else { types::I16 }, i),
            4 => self.b.ins().ireduce(types::I32, i),
            _ => i,
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
    /// `local`: the array never leaves the function (no effect to record).
    pub fn store_element(&mut self, ptr: Value, dtype: DType, val: CVal, vt: &Type, line: u32, local: bool) -> CResult<()> {
        let flags = MemFlagsData::trusted();
        if !local {
            self.mark_effect();
            self.writes_visible = true;
        }
        let v = val[0];
        let stored = if dtype.is_float() {
            let c = self.cast_scalar(v, vt, dtype);
            if dtype == DType::F32 && matches!(vt.scalar_dtype(), Some(DType::F64)) {
                if *vt == Type::Np(DType::F64) {
                    // NumPy casts a numpy.float64 into the array, then reports (the infinity
                    // is stored even when the report raises); a Python float is checked
                    // before it is stored (fuzzer seed 1004353).
                    self.b.ins().store(flags, c, ptr, 0);
                    self.narrowing_check(v, c, line);
                    return Ok(());
                }
                self.narrowing_check(v, c, line);
            }
            c
        } else if dtype == DType::Bool {
            v
        } else if vt.is_floatlike() && dtype.is_unsigned() && matches!(vt, Type::Np(_)) {
            let x = if self.b.func.dfg.value_type(v) == types::F32 { self.b.ins().fpromote(types::F64, v) } else { v };
            self.store_np_float_unsigned(x, dtype, line)
        } else if vt.is_floatlike() {
            // NumPy truncates a float stored into an integer array; a NaN, an infinity or a
            // value outside the dtype (NumPy then warns "invalid value encountered in cast", or
            // Python raises) is left to the interpreter.
            let x = if self.b.func.dfg.value_type(v) == types::F32 { self.b.ins().fpromote(types::F64, v) } else { v };
            let (lo, hi) = dtype.int_range();
            let (lo_f, hi_f) = (self.b.ins().f64const(lo as f64 - 1.0), self.b.ins().f64const(hi as f64 + 1.0));
            let above = self.b.ins().fcmp(cranelift_codegen::ir::condcodes::FloatCC::GreaterThan, x, lo_f);
            let below = self.b.ins().fcmp(cranelift_codegen::ir::condcodes::FloatCC::LessThan, x, hi_f);
            let ok = self.b.ins().band(above, below);
            let bad = self.b.ins().bxor_imm_u(ok, 1);
            self.fail_if(bad, ErrCode::Deopt, line, &[]);
            let i = if dtype == DType::U64 { self.b.ins().fcvt_to_uint(types::I64, x) } else { self.b.ins().fcvt_to_sint(types::I64, x) };
            match dtype.itemsize() {
                1 => self.b.ins().ireduce(types::I8, i),
                2 => self.b.ins().ireduce(types::I16, i),
                4 => self.b.ins().ireduce(types::I32, i),
                _ => i,
            }
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

    /// NumPy's report of a finite float64 `wide` that became infinite (`narrow`) when stored
    /// into a float32 array: "overflow encountered in cast" (RuntimeWarning, or
    /// FloatingPointError under `numpy.seterr(over="raise")`). Where reports are deferred,
    /// the conversion itself raises the processor's overflow flag.
    fn narrowing_check(&mut self, wide: Value, narrow: Value, line: u32) {
        if !self.fp_checks_inline() {
            self.fp_deferred = true;
            return;
        }
        let (cold, ok) = self.fp_test(narrow);
        self.switch_to(cold);
        let d = self.b.ins().fsub(wide, wide);
        let finite = self.b.ins().fcmp(cranelift_codegen::ir::condcodes::FloatCC::Ordered, d, d);
        self.np_warn_if(finite, NpWarn::Cast, line);
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
    }

    /// `base[index...] = value`.
    pub fn store_index(&mut self, base: &Expr, index: &[Expr], val: CVal, vt: &Type, line: u32) -> CResult<()> {
        if let Type::CPtr(Some(d)) = self.typed.ty(base).clone() {
            let addr = self.pointer_element(base, &index[0], d)?;
            return self.store_pointee(addr, d, val, vt, line);
        }
        let Type::Array(at) = self.typed.ty(base).clone() else {
            return Err(CompileError::new("item assignment into a non-array", line));
        };
        let (ptr, _) = self.element_address(base, index, at, line)?;
        self.store_element(ptr, at.dtype, val, vt, line, self.is_local_array(base))
    }

    /// Is `base` a variable whose arrays never leave the function (stores into it are not
    /// effects the caller can see)?
    pub fn is_local_array(&self, base: &Expr) -> bool {
        matches!(base.kind, ExprKind::Var(v) if self.facts.local_arrays[v])
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
            (Type::Array(at), "itemsize") => Ok(vec![self.iconst(at.dtype.itemsize())]),
            (Type::Array(at), "nbytes") => {
                let mut n = self.iconst(at.dtype.itemsize());
                for k in 0..at.ndim as usize {
                    n = self.b.ins().imul(n, v[1 + k]);
                }
                Ok(vec![n])
            }
            (Type::Array(at), "strides") => Ok(v[1 + at.ndim as usize..].to_vec()),
            (Type::Array(at), "T") => {
                let nd = at.ndim as usize;
                let mut out = vec![v[0]];
                out.extend(v[1..1 + nd].iter().rev());
                out.extend(v[1 + nd..].iter().rev());
                Ok(out)
            }
            (Type::Array(_), "ctypes") => Ok(vec![v[0]]),
            // `for x in a.flat` (typed by inference there only): a C-contiguous array as a 1-d view.
            // Not C-contiguous (2-d and up): the array itself, indexed in C order (`flat_element`).
            (Type::Array(at), "flat") if at.ndim == 1 || at.layout != Layout::C => Ok(v),
            (Type::Array(at), "flat") => {
                let mut n = self.iconst(1);
                for k in 0..at.ndim as usize {
                    n = self.b.ins().imul(n, v[1 + k]);
                }
                Ok(vec![v[0], n, self.iconst(at.dtype.itemsize())])
            }
            (Type::CPtr(None), "data") => Ok(v),
            (Type::Complex, "real") => Ok(vec![v[0]]),
            (Type::Complex, "imag") => Ok(vec![v[1]]),
            (Type::Float, "real") => Ok(v),
            (Type::Float, "imag") => Ok(vec![self.b.ins().f64const(0.0)]),
            _ => Err(CompileError::new(format!("the attribute `.{attr}` of a {bt}"), line)),
        }
    }
}
