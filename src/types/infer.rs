//! Type inference: given the argument types of one call signature (lazy specialization, as Numba
//! does) and the frozen globals, find the type of every expression and variable.
//!
//! The algorithm is a fixpoint over the structured IR: each assignment adds the assigned type to
//! the variable's *members*; the pass repeats until no variable gains a member. A variable with
//! several scalar members (say `total = 0` then `total += a[i]`, `int` then `numpy.float64`) is
//! held in their unified representation (`types::unify`) plus a run-time tag saying which member
//! it holds, so that it comes back to Python as exactly the type CPython would have produced.
//! Every use of such a variable must give the same result type whichever member it holds;
//! otherwise the function is not compiled (it runs as Python, and the report says why).
//!
//! This file holds the fixpoint and the statements; `infer_expr.rs` the expressions and
//! calls; `rules.rs` the type rules of operators.

use std::collections::HashMap;

use crate::ir::{CResult, CompileError};
use crate::ir::*;
use super::rules::*;
use crate::types::*;
use crate::types::ufunc::UfuncLoop;

pub use super::resolver::{CalleeInfo, GlobalValue, Resolver};

/// A call from compiled code to a NumPy function or array method that runs in NumPy itself
/// (with the GIL), its arguments boxed and its result unboxed (`runtime::npcall`).
#[derive(Clone, Debug)]
pub struct NpCall {
    /// `numpy.sum`, or the method name (`sum`) when `method`.
    pub path: String,
    pub method: bool,
    /// The types of the positional arguments native code evaluates (for a method, the array
    /// first).
    pub args: Vec<Type>,
    /// Constant positional arguments (dtype names, strings): (position among all positional
    /// arguments, value).
    pub consts: Vec<(usize, Const)>,
    pub kwargs: Vec<(String, Const)>,
    pub ret: Type,
    /// The call has side effects (a deoptimization later in its statement hands its result to
    /// the interpreter rather than calling it again).
    pub effect: bool,
}

/// What a call expression calls, decided by inference, used by codegen.
#[derive(Clone, Debug)]
pub enum CallTarget {
    /// An entry of the builtins registry; codegen runs its lowering (for a NumPy constructor,
    /// the call's type gives the array's dtype and dimensions).
    Builtin(&'static dyn BuiltinFn),
    SelfRecursive,
    Callee(CalleeInfo),
    /// `"...".format(args)`, producing a `str` for `print`.
    StrFormat,
    /// A NumPy ufunc loop: a call `numpy.exp(x)`, or an operator with an array operand (a
    /// `BinOp`, `Unary` or one-link `Compare` expression, `a + b` as `numpy.add(a, b)`).
    Ufunc(std::sync::Arc<UfuncLoop>),
    /// A NumPy function or array method run by NumPy itself.
    NpCall(std::sync::Arc<NpCall>),
    /// `numpy.float64(x)` and the other scalar types called on one scalar.
    NpScalar(DType),
    /// A foreign function called directly (issue 16).
    CFunc(std::sync::Arc<crate::types::cnative::CFunc>),
    /// `a.ctypes.data_as(POINTER(T))`: the array's data pointer, typed as a `T *`.
    PtrCast,
    /// `heron.carray(pointer, shape[, dtype])`: a C-contiguous array over raw memory.
    Carray(ArrayType),
    /// `z.conjugate()` of a complex.
    Conjugate,
    /// `ffi.cast("T *", x)` of an int or a cffi pointer: the same address, retyped.
    FfiCast,
    /// `ffi.from_buffer([cdecl,] a)`: the (C-contiguous) array's data pointer.
    FfiFromBuffer,
}

/// A local variable's (or the return value's) types.
#[derive(Clone, Debug, Default)]
pub struct VarInfo {
    /// Every type assigned to it, in order of discovery; index = run-time tag.
    pub members: Vec<Type>,
    /// The representation: `members` unified.
    pub ty: Option<Type>,
}

impl VarInfo {
    pub fn is_union(&self) -> bool {
        self.members.len() > 1
    }
    pub(super) fn add(&mut self, t: &Type, line: u32, what: &str) -> CResult<bool> {
        if self.members.contains(t) {
            return Ok(false);
        }
        if *t == Type::CPtr(None) {
            return cerr("`a.ctypes` can only be passed to a foreign function or read as `a.ctypes.data` or `a.ctypes.data_as(...)` in compiled code", line);
        }
        if *t == Type::Bytes {
            return cerr("a bytes constant can only be passed straight to a foreign function in compiled code (not kept in a variable)", line);
        }
        if matches!(t, Type::CData { buffer: true, .. }) {
            // The buffer object keeps its array alive in Python; compiled code holds only the
            // address, so it uses one only while the call it is passed to runs.
            return cerr("`ffi.from_buffer(...)` can only be passed straight to a foreign function in compiled code (not kept in a variable)", line);
        }
        // The return value may be None on some paths and a scalar on others (`return None`
        // when nothing was found): the scalar's representation, with a tag.
        let ret_none = what == "the return value" && self.members.iter().chain(std::iter::once(t)).all(|m| m.is_scalar() || *m == Type::None);
        let unified = match &self.ty {
            None => t.clone(),
            Some(Type::None) if ret_none => t.clone(),
            Some(u) if ret_none && *t == Type::None => u.clone(),
            Some(u) => match unify(u, t) {
                Some(x) => x,
                None => {
                    return Err(CompileError::new(
                        format!("{what} holds a {u} on one path and a {t} on another; Heron needs one type per variable{}", type_change_hint(u, t)),
                        line,
                    ))
                }
            },
        };
        if self.members.len() >= 1 && !t.is_scalar() && !ret_none {
            return Err(CompileError::new(format!("{what} changes type ({} then {t})", self.members[0]), line));
        }
        self.members.push(t.clone());
        self.ty = Some(unified);
        Ok(true)
    }
}

/// What the user could change when a variable holds two types Heron cannot share (a Python
/// scalar that becomes a NumPy one, the common case: `s = 0.0`, then `s += a[i]`).
fn type_change_hint(a: &Type, b: &Type) -> String {
    let (py, np) = match (a, b) {
        (Type::Np(d), other) | (other, Type::Np(d)) if matches!(other, Type::Int | Type::Float | Type::Bool) => (other, *d),
        _ => return String::new(),
    };
    format!(
        " (a Python {py} and a numpy.{0}: make it one type, for example start it as `np.{0}(0)` or convert with `{py}(...)`)",
        np.name()
    )
}

/// The result of type inference for one specialization.
pub struct Typed {
    pub args: Vec<Type>,
    pub expr_types: Vec<Option<Type>>,
    pub vars: Vec<VarInfo>,
    pub ret: VarInfo,
    pub calls: HashMap<ExprId, CallTarget>,
    pub globals: HashMap<ExprId, GlobalValue>,
    /// Reads of variables that change type, where the code was typed for one member (the
    /// variable's unified type): expression id -> the member index codegen must find in the
    /// tag, or deoptimize.
    pub guards: HashMap<ExprId, usize>,
    /// No visible side effects as far as inference knows: the function's own (the `pure`
    /// given to `infer`) and its callees'. Stores into arrays that never leave the function
    /// are judged later, by `analysis::escape` (`analysis::Facts::pure` is the final word).
    pub pure: bool,
    /// A callee with side effects was found (the function is then impure whatever it stores).
    pub callee_effects: bool,
    /// In-place operators on arrays (`a += b`, `a[1:] *= 2`): statement id -> the ufunc loop
    /// that writes into the target. They are side effects on the caller's arrays.
    pub inplace: HashMap<usize, std::sync::Arc<UfuncLoop>>,
    /// `x op= v` typed for one member of a variable that changes type (statement id -> the
    /// member index codegen must find in the tag, or deoptimize), as `guards` for reads.
    pub aug_guards: HashMap<usize, usize>,
    /// `and`/`or` expressions used only for their truth (an `if`/`while` test): each operand is
    /// tested in turn, whatever its type.
    pub truth_ops: std::collections::HashSet<ExprId>,
    /// `if` statements whose test the types decide (statement id -> which branch runs).
    pub static_ifs: HashMap<usize, bool>,
    /// `v = max(a, b)` over arguments of different types (call id -> the arguments' types):
    /// the winner's type is the variable's tag.
    pub choices: HashMap<ExprId, Vec<Type>>,
    /// Assignments into array views (`a[1:-1] = b`, `m[0, :] = 0`, `m[i] = row`): the ids of
    /// the targets' base expressions. Also side effects.
    pub slice_stores: std::collections::HashSet<ExprId>,
    /// The front end's `$iter` variables of `for x in a.flat` loops over an array that is not
    /// C-contiguous (2-d and up): typed as the array itself; `$iter.shape[0]` stands for its
    /// size and `$iter[k]` for its k-th element in C order (`codegen::array::flat_element`).
    pub flat_iters: std::collections::HashSet<VarId>,
    /// The front end's `$iter` variables of `for ind in np.ndindex(shape)` loops: typed as the
    /// shape (a tuple of ints); `$iter[k]` is the k-th index tuple in C order
    /// (`codegen::array::ndindex_item`).
    pub ndindex_iters: std::collections::HashSet<VarId>,
    /// The front end's `$iter` variables of `for idx, x in np.ndenumerate(a)` loops: typed as
    /// the array; `$iter[k]` is `(index tuple, element)` of the k-th element in C order.
    pub ndenumerate_iters: std::collections::HashSet<VarId>,
    /// Array indices that are one tuple of integers (`a[t]` with `t = (i, j)`, `out[ind]` in
    /// an `np.ndindex` loop): the index expression's id and the tuple's length. NumPy reads
    /// `a[t]` as `a[t[0], t[1], ...]`.
    pub tuple_indices: HashMap<ExprId, usize>,
    /// Check NumPy floating-point errors at each operation even when `pure` (set by the
    /// dispatcher for callees of code with side effects).
    pub fp_checked: bool,
    /// The function is marked `# heron: jit, parallel` (set by the dispatcher): its `prange`
    /// and outermost `range` loops are candidates for `analysis::parallel`.
    pub parallel: bool,
    /// A specialization for calls from the outlined body of a parallel loop, on the pool's
    /// threads (set by the dispatcher; see `codegen::parallel`).
    pub threaded: bool,
}

impl Typed {
    pub fn ty(&self, e: &Expr) -> &Type {
        self.expr_types[e.id].as_ref().expect("typed expression")
    }
    /// How many axes an array index indexes (a tuple of integers as one index counts its
    /// items, see `tuple_indices`).
    pub fn index_arity(&self, index: &[Expr]) -> usize {
        index.iter().map(|i| self.tuple_indices.get(&i.id).copied().unwrap_or(1)).sum()
    }
    pub fn ret_type(&self) -> Type {
        self.ret.ty.clone().unwrap_or(Type::None)
    }
}

pub(super) struct Infer<'a> {
    pub(super) f: &'a Function,
    pub(super) res: &'a mut dyn Resolver,
    pub(super) vars: Vec<VarInfo>,
    pub(super) ret: VarInfo,
    pub(super) expr_types: Vec<Option<Type>>,
    pub(super) calls: HashMap<ExprId, CallTarget>,
    pub(super) globals: HashMap<ExprId, GlobalValue>,
    pub(super) global_cache: HashMap<String, GlobalValue>,
    pub(super) changed: bool,
    /// The final pass: unknown types are errors.
    pub(super) strict: bool,
    pub(super) args: Vec<Type>,
    /// No visible side effects (no array stores, no print, no calls to other compiled
    /// functions): every call can be re-run by the interpreter, so speculation is safe.
    pub(super) pure: bool,
    /// A callee with side effects was found (the function is then impure whatever it stores).
    pub(super) callee_effects: bool,
    pub(super) guards: HashMap<ExprId, usize>,
    pub(super) inplace: HashMap<usize, std::sync::Arc<UfuncLoop>>,
    pub(super) aug_guards: HashMap<usize, usize>,
    pub(super) truth_ops: std::collections::HashSet<ExprId>,
    pub(super) static_ifs: HashMap<usize, bool>,
    pub(super) choices: HashMap<ExprId, Vec<Type>>,
    pub(super) slice_stores: std::collections::HashSet<ExprId>,
    pub(super) flat_iters: std::collections::HashSet<VarId>,
    pub(super) ndindex_iters: std::collections::HashSet<VarId>,
    pub(super) ndenumerate_iters: std::collections::HashSet<VarId>,
    pub(super) tuple_indices: HashMap<ExprId, usize>,
}

/// NumPy's "same_kind" casting rule between dtypes (`numpy.can_cast(a, b, "same_kind")`):
/// safe casts, and casts within a kind (float64 to float32, int64 to int8); not float to
/// int, nor signed to unsigned, nor anything to bool but bool.
pub fn same_kind(from: DType, to: DType) -> bool {
    if from == DType::Bool {
        return true;
    }
    if to == DType::Bool {
        return false;
    }
    if from.is_float() {
        return to.is_float();
    }
    if from.is_signed() {
        return to.is_float() || to.is_signed();
    }
    true
}

pub(super) fn cerr<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(CompileError::new(msg, line))
}

/// Infer the types of `f` called with `args`. `pure`: the function has no visible side
/// effects of its own (`analysis::purity::is_pure`), so that a speculation that fails can be
/// re-run by the interpreter.
///
/// Errors: a `CompileError` (one sentence, with the line) for anything the compiled subset does
/// not cover with these argument types.
pub fn infer(f: &Function, args: &[Type], res: &mut dyn Resolver, pure: bool) -> CResult<Typed> {
    if args.len() != f.params.len() {
        return cerr(
            format!("{}() takes {} arguments but {} were given", f.name, f.params.len(), args.len()),
            f.span.line,
        );
    }
    let mut inf = Infer {
        f,
        res,
        vars: vec![VarInfo::default(); f.vars.len()],
        ret: VarInfo::default(),
        expr_types: vec![None; f.n_exprs],
        calls: HashMap::new(),
        globals: HashMap::new(),
        global_cache: HashMap::new(),
        changed: true,
        strict: false,
        args: args.to_vec(),
        pure,
        callee_effects: false,
        guards: HashMap::new(),
        inplace: HashMap::new(),
        aug_guards: HashMap::new(),
        truth_ops: Default::default(),
        static_ifs: HashMap::new(),
        choices: HashMap::new(),
        slice_stores: Default::default(),
        flat_iters: Default::default(),
        ndindex_iters: Default::default(),
        ndenumerate_iters: Default::default(),
        tuple_indices: HashMap::new(),
    };
    for (p, t) in f.params.iter().zip(args) {
        inf.vars[*p].add(t, f.span.line, "a parameter")?;
    }
    let mut rounds = 0;
    while inf.changed {
        inf.changed = false;
        inf.guards.clear();
        inf.aug_guards.clear();
        inf.static_ifs.clear();
        rounds += 1;
        if rounds > 50 {
            return cerr("type inference did not settle", f.span.line);
        }
        inf.block(&f.body)?;
    }
    inf.strict = true;
    inf.guards.clear();
    inf.aug_guards.clear();
    inf.static_ifs.clear();
    inf.block(&f.body)?;
    if inf.ret.members.is_empty() {
        // No `return` statement at all, or every path falls off the end.
        inf.ret.add(&Type::None, f.span.line, "the return value")?;
    }
    Ok(Typed {
        args: args.to_vec(),
        expr_types: inf.expr_types,
        vars: inf.vars,
        ret: inf.ret,
        calls: inf.calls,
        globals: inf.globals,
        guards: inf.guards,
        pure: inf.pure,
        callee_effects: inf.callee_effects,
        inplace: inf.inplace,
        aug_guards: inf.aug_guards,
        truth_ops: inf.truth_ops,
        static_ifs: inf.static_ifs,
        choices: inf.choices,
        slice_stores: inf.slice_stores,
        flat_iters: inf.flat_iters,
        ndindex_iters: inf.ndindex_iters,
        ndenumerate_iters: inf.ndenumerate_iters,
        tuple_indices: inf.tuple_indices,
        fp_checked: false,
        parallel: false,
        threaded: false,
    })
}

impl<'a> Infer<'a> {
    pub(super) fn var_name(&self, v: VarId) -> String {
        format!("variable `{}`", self.f.vars[v])
    }

    pub(super) fn block(&mut self, body: &[Stmt]) -> CResult<()> {
        for s in body {
            self.stmt(s)?;
        }
        if std::ptr::eq(body, self.f.body.as_slice()) && !always_returns(body) {
            if self.ret.add(&Type::None, self.f.span.line, "the return value")? {
                self.changed = true;
            }
        }
        Ok(())
    }

    pub(super) fn assign_var(&mut self, v: VarId, t: &Type, line: u32) -> CResult<()> {
        let name = self.var_name(v);
        if self.vars[v].add(t, line, &name)? {
            self.changed = true;
        }
        Ok(())
    }

    /// Assign `value` (typed `t`, possibly a union variable itself) to a target.
    pub(super) fn assign(&mut self, target: &Target, t: Option<Type>, value: Option<&Expr>, line: u32) -> CResult<()> {
        match target {
            Target::Var(v) => {
                // Copying a union variable copies all its members (and, at run time, its tag).
                if let Some(Expr { kind: ExprKind::Var(src), .. }) = value {
                    if self.vars[*src].is_union() {
                        for m in self.vars[*src].members.clone() {
                            self.assign_var(*v, &m, line)?;
                        }
                        return Ok(());
                    }
                }
                if let Some(t) = t {
                    self.assign_var(*v, &t, line)?;
                }
                Ok(())
            }
            Target::Index { base, index, .. } => {
                let bt = self.expr(base)?;
                let its = index.iter().map(|i| self.expr(i)).collect::<CResult<Vec<_>>>()?;
                let (Some(bt), Some(t)) = (bt, t) else { return Ok(()) };
                if its.iter().any(|t| t.is_none()) {
                    return Ok(());
                }
                if let Type::CPtr(Some(d)) = bt {
                    // `p[i] = v`: stored as ctypes stores into a pointer's element.
                    if let Some(why) = crate::types::cnative::pointer_store_refusal(d, &its, &t) {
                        return cerr(why, line);
                    }
                    self.array_effect();
                    return Ok(());
                }
                let Type::Array(at) = bt else {
                    return cerr(format!("cannot assign into an item of a {bt}"), line);
                };
                if its.iter().any(|t| matches!(t, Some(Type::Array(_)))) {
                    // `a[mask] = v`, `a[indices] = v`: NumPy's own store.
                    let its: Vec<Type> = its.into_iter().map(|t| t.unwrap()).collect();
                    if at.readonly {
                        return cerr("assignment into a read-only array", line);
                    }
                    self.fancy_index(base, &Type::Array(at), &its, Some(&t), line)?;
                    return Ok(());
                }
                let n = self.index_arity(index);
                if index.iter().any(|i| matches!(i.kind, ExprKind::Slice(..))) || n < at.ndim as usize {
                    self.check_indices(index, line)?;
                    return self.view_store(base, at, &t, value, line);
                }
                if n != at.ndim as usize {
                    return cerr(format!("an element store needs {} indices for a {}-d array, got {n}", at.ndim, at.ndim), line);
                }
                self.check_indices(index, line)?;
                if at.readonly {
                    return cerr("assignment into a read-only array", line);
                }
                if let Some(Expr { kind: ExprKind::Var(src), .. }) = value {
                    // Into a float array every scalar member converts as its unified
                    // representation does (ints merged into floats are exact, see
                    // `codegen::num::merge_convert`); into other dtypes NumPy casts Python and
                    // NumPy scalars differently (range check or wrap).
                    let scalars = self.vars[*src].members.iter().all(|m| m.is_scalar());
                    if self.vars[*src].is_union() && !(at.dtype.is_float() && scalars) {
                        return cerr(format!("{} changes type before it is stored into an array", self.var_name(*src)), line);
                    }
                }
                check_store(at.dtype, &t, line)
            }
            Target::Tuple(ts) => {
                let Some(t) = t else {
                    for tt in ts {
                        self.assign(tt, None, None, line)?;
                    }
                    return Ok(());
                };
                let elems = match t {
                    Type::Tuple(elems) => elems,
                    // `a, b = arr`: the items of its first axis (elements of a 1-d array, rows
                    // of an N-d one, as `arr[k]` gives them); another length is the
                    // interpreter's ValueError (`codegen::stmt::unpack_array`).
                    Type::Array(at) => {
                        let item = if at.ndim == 1 { Type::Np(at.dtype) } else { Type::Array(ArrayType { ndim: at.ndim - 1, ..at }) };
                        vec![item; ts.len()]
                    }
                    t => return cerr(format!("cannot unpack a {t}"), line),
                };
                if elems.len() != ts.len() {
                    return cerr(format!("cannot unpack {} values into {} names", elems.len(), ts.len()), line);
                }
                for (tt, et) in ts.iter().zip(elems) {
                    self.assign(tt, Some(et), None, line)?;
                }
                Ok(())
            }
        }
    }

    /// The array an augmented assignment updates in place (`a += b` on an array, `a[1:] *= 2`
    /// on a view), or `None` for a scalar target.
    fn array_target(&mut self, target: &Target, line: u32) -> CResult<Option<ArrayType>> {
        match target {
            Target::Var(v) => match &self.vars[*v].ty {
                Some(Type::Array(at)) if !self.vars[*v].is_union() => Ok(Some(*at)),
                Some(Type::Array(_)) => cerr(format!("{} changes type and is updated in place", self.var_name(*v)), line),
                _ => Ok(None),
            },
            Target::Index { base, index, .. } => {
                let Some(Type::Array(at)) = self.expr(base)? else { return Ok(None) };
                for i in index {
                    self.expr(i)?;
                }
                let slices = index.iter().filter(|i| matches!(i.kind, ExprKind::Slice(..))).count();
                let n = self.index_arity(index);
                if slices == 0 && n == at.ndim as usize {
                    return Ok(None);
                }
                if n > at.ndim as usize {
                    return cerr(format!("too many indices: the array is {}-dimensional but {n} were given", at.ndim), line);
                }
                self.check_indices(index, line)?;
                let ints = n - slices;
                let layout = if slices == 0 { at.layout } else { Layout::Any };
                Ok(Some(ArrayType { ndim: at.ndim - ints as u8, layout, ..at }))
            }
            Target::Tuple(_) => Ok(None),
        }
    }

    /// `a op= v` on an array (or a view of one): NumPy's `op` ufunc writing into `a`
    /// (`numpy.add(a, v, out=a)`), whose result must cast to `a`'s dtype under NumPy's
    /// "same_kind" rule (else NumPy raises UFuncTypeError, which the interpreter gives).
    fn inplace_ufunc(&mut self, s: &Stmt, at: ArrayType, op: BinOp, value: &Expr, vt: &Type, line: u32) -> CResult<()> {
        if let ExprKind::Var(v) = value.kind {
            if self.vars[v].is_union() {
                return cerr(format!("{} changes type and is an operand of an in-place array operator", self.var_name(v)), line);
            }
        }
        if !(vt.is_scalar() || matches!(vt, Type::Array(_))) {
            return cerr(format!("the operator {}= between a {} and a {vt} is not supported", op_symbol(op), Type::Array(at)), line);
        }
        if at.readonly {
            return cerr("an in-place operator on a read-only array (NumPy raises ValueError)", line);
        }
        let name = super::ufunc::binop_ufunc(op);
        let lp = self.res.ufunc(name, &[Type::Array(at), vt.clone()], line)?;
        if lp.outs.len() != 1 || !same_kind(lp.outs[0], at.dtype) {
            return cerr(
                format!("`{}=` computes a {} result that NumPy does not cast back into a {} array (UFuncTypeError)", op_symbol(op), lp.outs.first().map(|d| d.name()).unwrap_or("?"), at.dtype.name()),
                line,
            );
        }
        self.inplace.insert(s.id, std::sync::Arc::new(lp));
        self.array_effect();
        Ok(())
    }

    /// `view = v` (`a[1:-1] = b`, `m[0, :] = 0`, `m[i] = row`): NumPy copies `v` into the view,
    /// broadcast to its shape and cast to its dtype. Compiled for Python scalars of a kind the
    /// dtype holds, and for NumPy values whose dtype casts to it under "same_kind".
    fn view_store(&mut self, base: &Expr, at: ArrayType, t: &Type, value: Option<&Expr>, line: u32) -> CResult<()> {
        if at.readonly {
            return cerr("assignment into a read-only array", line);
        }
        if let Some(Expr { kind: ExprKind::Var(v), .. }) = value {
            if self.vars[*v].is_union() {
                return cerr(format!("{} changes type before it is stored into an array", self.var_name(*v)), line);
            }
        }
        let ok = match t {
            Type::Bool => true,
            Type::Int => at.dtype != DType::Bool,
            Type::Float => at.dtype.is_float(),
            Type::Np(d) => same_kind(*d, at.dtype),
            Type::Array(a) => same_kind(a.dtype, at.dtype),
            _ => false,
        };
        if !ok {
            return cerr(format!("storing a {t} into a slice of a {} array is not supported (NumPy casts it unsafely)", at.dtype.name()), line);
        }
        self.slice_stores.insert(base.id);
        self.array_effect();
        Ok(())
    }

    /// `v = max(a, b)` (or `min`) of arguments of different scalar types (a Python float and a
    /// numpy.float64): Python returns the winning argument itself, so `v` gets either type;
    /// it becomes a variable of both (tagged), the tag set from the winner (`choices`).
    fn min_max_choice(&mut self, v: VarId, value: &Expr, line: u32) -> CResult<bool> {
        let ExprKind::Call { func, args, kwargs } = &value.kind else { return Ok(false) };
        if !kwargs.is_empty() || args.len() < 2 {
            return Ok(false);
        }
        let Some(GlobalValue::Builtin(b)) = self.resolve_name(func)? else { return Ok(false) };
        if !matches!(b.name(), "min" | "max") {
            return Ok(false);
        }
        let mut ts = Vec::new();
        for a in args {
            if let ExprKind::Var(x) = a.kind {
                if self.vars[x].is_union() && x != v {
                    return Ok(false);
                }
            }
            let Some(t) = self.expr(a)? else { return Ok(false) };
            ts.push(t);
        }
        // The variable's own earlier members count as the argument's (`err = max(err, x)`).
        let mut kinds: Vec<Type> = Vec::new();
        for (a, t) in args.iter().zip(&ts) {
            let ms = match a.kind {
                ExprKind::Var(x) if x == v && self.vars[x].is_union() => self.vars[x].members.clone(),
                _ => vec![t.clone()],
            };
            for m in ms {
                if !kinds.contains(&m) {
                    kinds.push(m);
                }
            }
        }
        // Floats only: their common representation holds each exactly, and compares them as
        // Python does (an int and a float would not: 2**60 + 1 against 2.0**60).
        if kinds.len() < 2 || !kinds.iter().all(|t| t.is_floatlike()) {
            return Ok(false);
        }
        let Some(unified) = kinds[1..].iter().try_fold(kinds[0].clone(), |u, t| unify(&u, t)) else { return Ok(false) };
        // Comparisons between every pair must be the plain numeric ones.
        for a in &kinds {
            for c in &kinds {
                compare_type(CmpOp::Lt, a, c, line)?;
            }
        }
        for t in &kinds {
            self.assign_var(v, t, line)?;
        }
        self.record(value, Some(unified));
        self.calls.insert(value.id, CallTarget::Builtin(b));
        self.choices.insert(value.id, ts);
        Ok(true)
    }

    /// A side effect found while typing an expression (see `array_effect`).
    pub(super) fn array_effect_pub(&mut self) {
        self.array_effect();
    }

    /// A write into an array the caller may see: the function has side effects.
    fn array_effect(&mut self) {
        self.callee_effects = true;
        if self.pure {
            self.pure = false;
            self.changed = true;
        }
    }

    pub(super) fn stmt(&mut self, s: &Stmt) -> CResult<()> {
        let line = s.span.line;
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                if let [Target::Var(v)] = targets.as_slice() {
                    if self.min_max_choice(*v, value, line)? {
                        return Ok(());
                    }
                }
                let t = match targets.as_slice() {
                    [Target::Var(v)] if self.f.vars[*v].starts_with("$iter") => match self.loop_iterable(*v, value, line)? {
                        Some(t) => t,
                        None => self.expr(value)?,
                    },
                    _ => self.expr(value)?,
                };
                for target in targets {
                    self.assign(target, t.clone(), Some(value), line)?;
                }
            }
            StmtKind::AugAssign { target, op, value } => {
                let vt = self.expr(value)?;
                if let Some(at) = self.array_target(target, line)? {
                    let Some(vt) = vt else { return Ok(()) };
                    return self.inplace_ufunc(s, at, *op, value, &vt, line);
                }
                // `x op= v` is `x = x op v` (for the scalars Heron supports).
                let cur = match target {
                    Target::Var(v) => self.vars[*v].ty.clone(),
                    Target::Index { base, index, .. } => {
                        let bt = self.expr(base)?;
                        for i in index {
                            self.expr(i)?;
                        }
                        match bt {
                            _ if index.iter().any(|i| matches!(i.kind, ExprKind::Slice(..))) => {
                                return cerr("augmented assignment to a slice of an array is not supported yet", line)
                            }
                            Some(Type::Array(at)) if self.index_arity(index) == at.ndim as usize => Some(Type::Np(at.dtype)),
                            Some(Type::Array(_)) => return cerr("augmented assignment to an array slice is not supported", line),
                            Some(other) => return cerr(format!("cannot assign into an item of a {other}"), line),
                            None => None,
                        }
                    }
                    Target::Tuple(_) => return cerr("augmented assignment to a tuple", line),
                };
                if let (Some(cur), Some(vt)) = (cur, vt) {
                    let members: Vec<Type> = match target {
                        Target::Var(v) => self.vars[*v].members.clone(),
                        _ => vec![cur.clone()],
                    };
                    let mut result: Option<Type> = None;
                    let kinds: Vec<bool> = members.iter().map(|m| m.is_floatlike()).collect();
                    if error_sensitive(*op) && kinds.iter().any(|k| *k != kinds[0]) {
                        return cerr(
                            format!("{} is an int on one path and a float on another, and `{}=` raises different errors for each", self.target_desc(target), op_symbol(*op)),
                            line,
                        );
                    }
                    let mut differ = None;
                    for m in &members {
                        let r = binop_type(*op, m, &vt, line)?;
                        if let Some(prev) = &result {
                            if prev != &r {
                                differ = Some((prev.clone(), r.clone()));
                            }
                        }
                        result = Some(r);
                    }
                    if let Some((prev, r)) = differ {
                        // Speculate that the variable holds its unified member (a guard on its
                        // tag deoptimizes at this statement otherwise).
                        let spec = match target {
                            Target::Var(v) => {
                                let unified = self.vars[*v].ty.clone();
                                let idx = unified.as_ref().and_then(|u| members.iter().position(|m| m == u));
                                match (unified, idx) {
                                    (Some(u), Some(i)) => binop_type(*op, &u, &vt, line).ok().map(|r| (i, r)),
                                    _ => None,
                                }
                            }
                            _ => None,
                        };
                        match spec {
                            Some((i, r)) => {
                                self.aug_guards.insert(s.id, i);
                                result = Some(r);
                            }
                            None => {
                                return cerr(format!("{} holds different types on different paths, and `{:?}=` gives a {prev} for one and a {r} for another", self.target_desc(target), op), line)
                            }
                        }
                    } else {
                        self.aug_guards.remove(&s.id);
                    }
                    let r = result.unwrap();
                    self.assign(target, Some(r), None, line)?;
                } else if self.strict {
                    return cerr(format!("{} is used before it is assigned", self.target_desc(target)), line);
                }
            }
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::If { cond, then, orelse } => {
                self.cond(cond)?;
                // `if x is None:` decided by x's type in this specialization: only the branch
                // that runs is typed and compiled (the other may not type-check for it).
                match self.static_truth(cond) {
                    Some(live) => {
                        self.static_ifs.insert(s.id, live);
                        self.block(if live { then } else { orelse })?;
                    }
                    None => {
                        self.block(then)?;
                        self.block(orelse)?;
                    }
                }
            }
            StmtKind::While { cond, body, orelse } => {
                self.cond(cond)?;
                self.block(body)?;
                self.block(orelse)?;
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, iter_fn, .. } => {
                if let Some(f) = iter_fn {
                    let origin = match &s.kind {
                        StmtKind::ForRange { origin, .. } => *origin,
                        _ => unreachable!(),
                    };
                    match (self.resolve_name(f)?, origin) {
                        (Some(GlobalValue::Range), LoopOrigin::Range) => {}
                        (Some(GlobalValue::LoopBuiltin("zip")), LoopOrigin::Zip { .. }) => {}
                        (Some(GlobalValue::LoopBuiltin("enumerate")), LoopOrigin::Enumerate { .. }) => {}
                        (_, LoopOrigin::Range) => return cerr("the loop's `range` (or `prange`) is not the builtin `range` or `heron.prange` here", line),
                        _ => return cerr("the loop's `zip` or `enumerate` is not the builtin one here", line),
                    }
                }
                for e in [start.as_ref(), Some(stop), step.as_ref()].into_iter().flatten() {
                    if let Some(t) = self.expr(e)? {
                        if !matches!(t, Type::Int | Type::Bool) && !matches!(t, Type::Np(d) if d.is_int()) {
                            return cerr(format!("range() needs integers, got a {t}"), e.span.line);
                        }
                        if t == Type::Np(DType::U64) {
                            return cerr("range() over numpy.uint64 values is not supported", e.span.line);
                        }
                    }
                }
                self.assign_var(*var, &Type::Int, line)?;
                self.block(body)?;
                self.block(orelse)?;
            }
            StmtKind::Return(e) => {
                let t = match e {
                    Some(e) => self.expr(e)?,
                    None => Some(Type::None),
                };
                if let Some(Expr { kind: ExprKind::Var(src), .. }) = e {
                    if self.vars[*src].is_union() {
                        for m in self.vars[*src].members.clone() {
                            if self.ret.add(&m, line, "the return value")? {
                                self.changed = true;
                            }
                        }
                        return Ok(());
                    }
                }
                if let Some(t) = t {
                    if t == Type::Str {
                        return cerr("returning a string from compiled code is not supported yet", line);
                    }
                    if self.ret.add(&t, line, "the return value")? {
                        self.changed = true;
                    }
                }
            }
            StmtKind::Raise { exc, .. } => {
                if !is_known_exception(exc) {
                    return cerr(format!("raising `{exc}` is not supported (only built-in exception types)"), line);
                }
            }
            StmtKind::Assert { test, .. } => {
                self.cond(test)?;
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Pass => {}
        }
        Ok(())
    }

    pub(super) fn target_desc(&self, t: &Target) -> String {
        match t {
            Target::Var(v) => self.var_name(*v),
            _ => "the target".into(),
        }
    }

    /// A condition: anything with a truth value Heron can compute.
    /// The value of a test that this specialization's types decide: `x is None`, `x is not
    /// None` of a variable, `not` of one, a bool constant.
    fn static_truth(&self, e: &Expr) -> Option<bool> {
        match &e.kind {
            ExprKind::Const(Const::Bool(b)) => Some(*b),
            ExprKind::Unary(UnaryOp::Not, inner) => self.static_truth(inner).map(|b| !b),
            ExprKind::Call { func, args, .. } if matches!(&func.kind, ExprKind::Global(n) if n == "$is_none") => match args.as_slice() {
                [Expr { kind: ExprKind::Var(v), .. }] if !self.vars[*v].is_union() => self.vars[*v].ty.as_ref().map(|t| *t == Type::None),
                _ => None,
            },
            _ => None,
        }
    }

    pub(super) fn cond(&mut self, e: &Expr) -> CResult<()> {
        // `if a and b:`: only the operands' truth is used, so they may have different types
        // (a numpy.bool and a bool); codegen tests each in turn (`truth_ops`).
        if let ExprKind::BoolOp(_, values) = &e.kind {
            for v in values {
                self.cond(v)?;
            }
            self.truth_ops.insert(e.id);
            self.record(e, Some(Type::Bool));
            return Ok(());
        }
        if let Some(t) = self.expr(e)? {
            truth_ok(&t, e.span.line)?;
        }
        Ok(())
    }

    pub(super) fn record(&mut self, e: &Expr, t: Option<Type>) -> Option<Type> {
        self.expr_types[e.id] = t.clone();
        t
    }

    /// Types of the member alternatives of an operand: all members if it is a union variable.
    pub(super) fn alternatives(&self, e: &Expr, t: &Type) -> Vec<Type> {
        if let ExprKind::Var(v) = e.kind {
            if self.vars[v].is_union() {
                return self.vars[v].members.clone();
            }
        }
        vec![t.clone()]
    }

    /// Compute a result type over every member combination of union operands; all must agree.
    ///
    /// When they do not (`total / n` where `total` is `0.0` or a `numpy.float64`), a function
    /// without side effects speculates: the result is typed for the variable's unified member,
    /// and codegen guards the variable's tag at this use, deoptimizing (re-running the call in
    /// the interpreter) when it holds another member. A function with side effects could not
    /// be re-run safely, so it is refused instead.
    pub(super) fn over_members(
        &mut self,
        operands: &[(&Expr, &Type)],
        line: u32,
        rule: &dyn Fn(&[Type]) -> CResult<Type>,
    ) -> CResult<Type> {
        let alts: Vec<Vec<Type>> = operands.iter().map(|(e, t)| self.alternatives(e, t)).collect();
        let mut combos: Vec<Vec<Type>> = vec![vec![]];
        for a in &alts {
            let mut next = Vec::new();
            for c in &combos {
                for t in a {
                    let mut c2 = c.clone();
                    c2.push(t.clone());
                    next.push(c2);
                }
            }
            combos = next;
        }
        let mut result: Option<Type> = None;
        for c in combos {
            let r = rule(&c)?;
            if let Some(prev) = &result {
                if *prev != r {
                    if let Some(t) = self.speculate(operands, rule) {
                        return Ok(t);
                    }
                    let names: Vec<String> = operands
                        .iter()
                        .filter_map(|(e, _)| match e.kind {
                            ExprKind::Var(v) if self.vars[v].is_union() => Some(self.var_name(v)),
                            _ => None,
                        })
                        .collect();
                    return cerr(
                        format!(
                            "{} holds different types on different paths, and this expression gives a {prev} for one and a {r} for another",
                            names.join(" and ")
                        ),
                        line,
                    );
                }
            }
            result = Some(r);
        }
        Ok(result.unwrap())
    }

    /// The speculative typing of `over_members` (see there), or None when it cannot apply.
    /// A guess that fails deoptimizes at the statement (the interpreter goes on from there, so
    /// a function with side effects may speculate too).
    pub(super) fn speculate(&mut self, operands: &[(&Expr, &Type)], rule: &dyn Fn(&[Type]) -> CResult<Type>) -> Option<Type> {
        let mut guards = Vec::new();
        let mut chosen = Vec::new();
        for (e, t) in operands {
            if let ExprKind::Var(v) = e.kind {
                if self.vars[v].is_union() {
                    let unified = self.vars[v].ty.clone()?;
                    let idx = self.vars[v].members.iter().position(|m| *m == unified)?;
                    guards.push((e.id, idx));
                    chosen.push(unified);
                    continue;
                }
            }
            chosen.push((*t).clone());
        }
        let r = rule(&chosen).ok()?;
        self.guards.extend(guards);
        Some(r)
    }
}
