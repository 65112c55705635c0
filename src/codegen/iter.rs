//! Codegen of the `for` loops over arrays that inference types in `types::infer_loops`:
//! `for x in a.flat` over an array that is not C-contiguous, `for ind in np.ndindex(shape)`
//! and `for idx, x in np.ndindex(a)`. The front end made each an index loop
//! (`for $k in range(n): x = $iter[$k]`); here are its number of iterations and its items,
//! the k-th in C order, unravelled from the last axis as `numpy.unravel_index` does.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::{CVal, FunctionCx};
use crate::abi::ErrCode;
use crate::ir::*;
use crate::types::{ArrayType, Type};

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// The number of iterations of a loop over `$iter` (`iter`), when it is one of these:
    /// the array's size (`.flat`, `np.ndenumerate`) or the product of the shape
    /// (`np.ndindex`, which `ndindex_start` checked cannot overflow).
    pub fn iter_count(&mut self, iter: VarId) -> Option<Value> {
        let (flat, ndindex) = (self.typed.flat_iters.contains(&iter) || self.typed.ndenumerate_iters.contains(&iter), self.typed.ndindex_iters.contains(&iter));
        if !flat && !ndindex {
            return None;
        }
        let v = self.load_var(iter);
        let extents = match self.var_type(iter) {
            Type::Array(at) => v[1..1 + at.ndim as usize].to_vec(),
            _ => v,
        };
        let mut n = self.iconst(1);
        for x in extents {
            n = self.b.ins().imul(n, x);
        }
        Some(n)
    }

    /// The index tuple of the k-th item in C order of `extents` (`0 <= k < prod(extents)`).
    fn unravel(&mut self, k: &Expr, extents: &[Value]) -> CResult<Vec<Value>> {
        let kt = self.typed.ty(k).clone();
        let kv = self.expr(k)?;
        let mut rem = self.to_i64(kv, &kt);
        let nd = extents.len();
        let mut out = vec![rem; nd];
        for axis in (1..nd).rev() {
            let q = self.b.ins().udiv(rem, extents[axis]);
            let back = self.b.ins().imul(q, extents[axis]);
            out[axis] = self.b.ins().isub(rem, back);
            rem = q;
        }
        out[0] = rem;
        Ok(out)
    }

    /// The element of array `v` (of type `at`) at index tuple `idx`, in bounds.
    fn element_at(&mut self, v: &CVal, at: ArrayType, idx: &[Value]) -> CVal {
        let nd = at.ndim as usize;
        let mut ptr = v[0];
        for (axis, &i) in idx.iter().enumerate() {
            let off = self.b.ins().imul(i, v[1 + nd + axis]);
            ptr = self.b.ins().iadd(ptr, off);
        }
        self.load_element(ptr, at.dtype)
    }

    /// `$iter[k]` of `for x in a.flat` over an array that is not C-contiguous: the k-th
    /// element in C order (NumPy's flat iterator order, `numpy.ndarray.flat`).
    pub fn flat_element(&mut self, base: &Expr, k: &Expr, at: ArrayType) -> CResult<CVal> {
        let v = self.expr(base)?;
        let idx = self.unravel(k, &v[1..1 + at.ndim as usize])?;
        Ok(self.element_at(&v, at, &idx))
    }

    /// `$iter[k]` of `for idx, x in np.ndenumerate(a)`: the k-th index tuple in C order and
    /// the element there.
    pub fn ndenumerate_item(&mut self, base: &Expr, k: &Expr, at: ArrayType) -> CResult<CVal> {
        let v = self.expr(base)?;
        let mut idx = self.unravel(k, &v[1..1 + at.ndim as usize])?;
        let x = self.element_at(&v, at, &idx);
        idx.extend(x);
        Ok(idx)
    }

    /// `$iter = np.ndindex(...)` of `for ind in np.ndindex(shape)`: the shape, as a tuple of
    /// ints. A negative extent (NumPy's ValueError "negative dimensions are not allowed") or
    /// a number of index tuples beyond int64 is left to the interpreter.
    pub fn ndindex_start(&mut self, iter: VarId, value: &Expr, line: u32) -> CResult<()> {
        let ExprKind::Call { args, .. } = &value.kind else { unreachable!("inference typed np.ndindex(...)") };
        let mut shape = Vec::new();
        for a in args {
            shape.extend(self.expr(a)?);
        }
        let mut n = self.iconst(1);
        for &x in &shape {
            let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
            self.fail_if(neg, ErrCode::Deopt, line, &[]);
            let (m, of) = self.b.ins().smul_overflow(n, x);
            self.fail_if(of, ErrCode::Deopt, line, &[]);
            n = m;
        }
        let t = Type::Tuple(vec![Type::Int; shape.len()]);
        self.assign_var(iter, shape, &t, None, line)
    }

    /// `$iter[k]` of `for ind in np.ndindex(shape)`: the k-th index tuple in C order.
    pub fn ndindex_item(&mut self, base: &Expr, k: &Expr) -> CResult<CVal> {
        let shape = self.expr(base)?;
        self.unravel(k, &shape)
    }
}
