//! Vectorization analysis (issue 15 item 1): the innermost `for j in range(start, stop)` loops
//! whose body is one store of a float64 expression into an array element along `j`
//! (`dst[i, j] = 0.25 * (src[i - 1, j] + src[i + 1, j] + ...)`, `out[j] += c * x[j]`), which
//! codegen can run two iterations at a time in 128-bit lanes (`codegen::simd`).
//!
//! What a plan allows is what keeps CPython's and NumPy's results bit for bit: each lane does
//! the same IEEE operations (`+ - * /`, negation) in the same order as the scalar code, every
//! array element read is a float64 at `j + k` along the last axis (or at indices the loop does
//! not change), and every other index is an int variable the loop does not assign plus a
//! constant. The tests codegen adds at run time (indices in bounds without wrapping, the last
//! axis contiguous, the stored row disjoint from every other row read) and the finiteness test
//! of each pair (a non-finite value hands that pair and the rest of the loop to the scalar loop,
//! which reports it as NumPy does) are `codegen::simd`'s. Side table by `Stmt::id`.

use crate::analysis::loop_facts::var_plus_const;
use crate::ir::*;
use crate::types::infer::Typed;
use crate::types::{DType, Type};

/// An array element read or written in a planned loop: `array[lead..., j + offset]`, or
/// `array[lead...]` with every index fixed (`offset` None: the same element in every
/// iteration, a broadcast).
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    pub array: VarId,
    /// The indices before the last axis (all of them for a broadcast), each as an int
    /// variable (not assigned in the loop) plus a constant, or a constant.
    pub lead: Vec<(Option<VarId>, i64)>,
    /// The last index as the loop variable plus this constant.
    pub offset: Option<i64>,
}

/// The stored value, per lane.
#[derive(Clone, Debug)]
pub enum VExpr {
    /// `loads[k]`.
    Load(usize),
    /// A float (or small int) constant.
    Const(f64),
    /// A Python float or numpy.float64 variable the loop does not assign.
    Scalar(VarId),
    /// `temps[k]`: a float64 variable the body assigned earlier in the same iteration.
    Temp(usize),
    Bin(BinOp, Box<VExpr>, Box<VExpr>),
    Neg(Box<VExpr>),
}

/// One vectorizable loop: `t0 = temps[0]; ...; store = value`, reading `loads`.
#[derive(Clone, Debug)]
pub struct VectorPlan {
    pub store: Access,
    pub value: VExpr,
    pub loads: Vec<Access>,
    /// The body's float64 temporaries (`d = a[j] - b[j]`), in order: each assigned once, read
    /// only after its assignment. The last iteration is always the scalar loop's, so they
    /// hold Python's values after the loop.
    pub temps: Vec<VExpr>,
}

/// The plans of `f`'s loops, by `Stmt::id`.
pub fn vector_plans(f: &Function, typed: &Typed) -> Vec<Option<VectorPlan>> {
    let mut out = vec![None; f.n_stmts];
    walk_stmts(&f.body, &mut |s| {
        if f.hidden_stmts.contains(&s.id) {
            return;
        }
        if let StmtKind::ForRange { var, step, body, orelse, origin: LoopOrigin::Range, .. } = &s.kind {
            let unit_step = match step {
                None => true,
                Some(e) => matches!(e.kind, ExprKind::Const(Const::Int(1))),
            };
            if unit_step && orelse.is_empty() && !body.is_empty() && body.len() <= 8 && typed.vars[*var].ty == Some(Type::Int) && !typed.vars[*var].is_union() {
                let mut assigned = Vec::new();
                walk_stmts(body, &mut |s| assigned.extend(s.assigned_vars()));
                let planner = Planner { typed, var: *var, loads: Vec::new(), assigned, temps: Vec::new(), temp_vars: Vec::new() };
                out[s.id] = planner.plan(body);
            }
        }
    });
    out
}

struct Planner<'t> {
    typed: &'t Typed,
    var: VarId,
    loads: Vec<Access>,
    /// Every variable the body assigns (a read of one not yet a temporary is carried from
    /// the previous iteration: not planned).
    assigned: Vec<VarId>,
    temps: Vec<VExpr>,
    temp_vars: Vec<VarId>,
}

/// Is `t` a float64 scalar (a Python float or a numpy.float64)?
fn is_f64(t: &Type) -> bool {
    matches!(t, Type::Float | Type::Np(DType::F64))
}

impl Planner<'_> {
    fn plan(mut self, body: &[Stmt]) -> Option<VectorPlan> {
        let (last, temps) = body.split_last()?;
        for s in temps {
            let StmtKind::Assign { targets, value } = &s.kind else { return None };
            let [Target::Var(v)] = targets.as_slice() else { return None };
            let vi = &self.typed.vars[*v];
            if *v == self.var || vi.is_union() || !vi.ty.as_ref().is_some_and(is_f64) || self.temp_vars.contains(v) {
                return None;
            }
            let e = self.expr(value)?;
            self.temps.push(e);
            self.temp_vars.push(*v);
        }
        let target = match &last.kind {
            StmtKind::Assign { targets, .. } if targets.len() == 1 => &targets[0],
            StmtKind::AugAssign { target, .. } => target,
            _ => return None,
        };
        let Target::Index { base, index, .. } = target else { return None };
        let store = self.access(base, index)?;
        store.offset?;
        let value = match &last.kind {
            StmtKind::AugAssign { op: op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), value, .. } => {
                // `dst[...] op= e` reads the element first, then evaluates `e` (CPython's order).
                let old = self.load(store.clone());
                let rhs = self.operand(value)?;
                VExpr::Bin(*op, Box::new(old), Box::new(rhs))
            }
            StmtKind::Assign { value, .. } => self.expr(value)?,
            _ => return None,
        };
        Some(VectorPlan { store, value, loads: self.loads, temps: self.temps })
    }

    /// The load of `acc` (each element read once however often the body names it).
    fn load(&mut self, acc: Access) -> VExpr {
        let k = match self.loads.iter().position(|l| *l == acc) {
            Some(k) => k,
            None => {
                self.loads.push(acc);
                self.loads.len() - 1
            }
        };
        VExpr::Load(k)
    }

    /// `base[index]` as an `Access` of a float64 array element (every axis indexed, no
    /// slices, no tuple indices; the loop variable only in the last index).
    fn access(&self, base: &Expr, index: &[Expr]) -> Option<Access> {
        let ExprKind::Var(a) = base.kind else { return None };
        let info = &self.typed.vars[a];
        let Some(Type::Array(at)) = &info.ty else { return None };
        if info.is_union() || at.dtype != DType::F64 || at.readonly || index.len() != at.ndim as usize || index.iter().any(|i| self.typed.tuple_indices.contains_key(&i.id)) {
            return None;
        }
        let mut lead = Vec::new();
        let mut offset = None;
        for (axis, ie) in index.iter().enumerate() {
            let (v, k) = var_plus_const(ie)?;
            if k.unsigned_abs() > 1 << 20 {
                return None;
            }
            match v {
                Some(v) if v == self.var => {
                    if axis + 1 != index.len() {
                        return None;
                    }
                    offset = Some(k);
                }
                Some(v) => {
                    let vi = &self.typed.vars[v];
                    if vi.ty != Some(Type::Int) || vi.is_union() || self.assigned.contains(&v) {
                        return None;
                    }
                    lead.push((Some(v), k));
                }
                None => lead.push((None, k)),
            }
        }
        Some(Access { array: a, lead, offset })
    }

    /// An operand of a float operation: a float64 expression, or an int constant that
    /// converts to a float exactly.
    fn operand(&mut self, e: &Expr) -> Option<VExpr> {
        match e.kind {
            ExprKind::Const(Const::Int(c)) if c.unsigned_abs() <= 1 << 53 => Some(VExpr::Const(c as f64)),
            _ if is_f64(self.typed.ty(e)) => self.expr(e),
            _ => None,
        }
    }

    /// A float64 expression made of loads, constants, invariant float variables, `+ - * /`
    /// and negation.
    fn expr(&mut self, e: &Expr) -> Option<VExpr> {
        if !is_f64(self.typed.ty(e)) {
            return None;
        }
        match &e.kind {
            ExprKind::Const(Const::Float(x)) => Some(VExpr::Const(*x)),
            ExprKind::Var(v) => {
                if let Some(k) = self.temp_vars.iter().position(|t| t == v) {
                    return Some(VExpr::Temp(k));
                }
                let vi = &self.typed.vars[*v];
                (!vi.is_union() && *v != self.var && !self.assigned.contains(v) && !self.typed.guards.contains_key(&e.id)).then_some(VExpr::Scalar(*v))
            }
            ExprKind::Index(base, index) => {
                let acc = self.access(base, index)?;
                Some(self.load(acc))
            }
            ExprKind::BinOp(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), a, b) => {
                let a = self.operand(a)?;
                let b = self.operand(b)?;
                Some(VExpr::Bin(*op, Box::new(a), Box::new(b)))
            }
            ExprKind::Unary(UnaryOp::Neg, a) => Some(VExpr::Neg(Box::new(self.expr(a)?))),
            _ => None,
        }
    }
}
