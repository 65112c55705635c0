//! Loop facts: what each `for ... in range(...)` loop guarantees about its variable (value
//! ranges for overflow checks, bounds of array indices), the accesses a test before an innermost
//! loop can prove in bounds for the whole loop (loop versioning), and the lower bounds an early
//! exit (`if v < c: return`) leaves for the rest of its block. Side tables keyed by `Stmt::id`,
//! computed before codegen; the queries (`Scope`) answer for the loops and blocks codegen is
//! emitting, so that an overflow or bounds check is dropped only where it can never fire.

use std::collections::HashMap;

use crate::ir::*;
use crate::types::infer::{CallTarget, Typed};
use crate::types::{DType, Type};

/// A variable bound once to an array's extent (`M, N = a.shape`, `n = len(a)`, `n =
/// a.shape[k]`), the array being bound once too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeOf {
    pub array: VarId,
    pub axis: usize,
}

/// What a `for v in range(lo, extent - sub)` loop (constant `lo >= 0`, step > 0, `v` never
/// reassigned) guarantees: `lo <= v < extent - sub`, where `extent` is an array's length along
/// an axis. Then `a[v + k]` is in bounds along that axis for every constant `-lo <= k <= sub`.
#[derive(Clone, Copy, Debug)]
pub struct IndexFact {
    pub var: VarId,
    pub lo: i64,
    pub shape: ShapeOf,
    pub sub: i64,
}

/// What a `for v in range(start, stop)` loop (step 1, `v` never reassigned) guarantees about
/// `v`: `lo <= v` when the start is a constant `lo`, and `v < stop <= i64::MAX - slack` when
/// the stop is `x - slack` for a constant `slack >= 0` (checked arithmetic bounds `x`).
/// Then `v + k` (`k <= slack + 1`) and, for `lo >= 0`, `v - k` (`k >= 0`) cannot overflow.
#[derive(Clone, Copy, Debug)]
pub struct RangeFact {
    pub var: VarId,
    pub lo: Option<i64>,
    pub slack: i64,
}

/// An array access `array[..., index, ...]` (at `axis`) proved in bounds for a whole loop by a
/// test before it (see `versioned_accesses`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guarded {
    pub array: VarId,
    pub axis: usize,
    pub index: GuardIndex,
}

/// The index of a `Guarded` access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardIndex {
    /// The loop's own variable plus a constant.
    LoopVar(i64),
    /// A variable the loop does not assign, plus a constant.
    Var(VarId, i64),
    /// A constant (>= 0).
    Const(i64),
}

/// What a loop (one copy of it, under loop versioning) guarantees inside its body.
#[derive(Clone, Debug, Default)]
pub struct LoopFacts {
    /// The loop variable of a `for ... in range(0.., shape)` loop whose value is known to lie in
    /// `[0, shape[axis])` of an array, for bounds-check elimination.
    pub index_fact: Option<IndexFact>,
    /// The loop variable's range, for dropping overflow checks (see `RangeFact`).
    pub range_fact: Option<RangeFact>,
    /// Accesses a test before this copy of the loop proved in bounds (loop versioning).
    pub guarded: Vec<Guarded>,
}

/// The facts of one `for ... in range(...)` statement.
#[derive(Clone, Debug, Default)]
pub struct ForFacts {
    pub index_fact: Option<IndexFact>,
    pub range_fact: Option<RangeFact>,
    /// The accesses one test before the loop can prove in bounds for all of it (at most 16;
    /// innermost loops only). When there are any, codegen emits the loop twice: a copy
    /// without their checks, run when the test passes, and one with them.
    pub versioned: Vec<Guarded>,
}

impl ForFacts {
    /// What one copy of the loop guarantees: the copy run after the versioning test passed
    /// (`tested`), or the other (or the only) one.
    pub fn copy(&self, tested: bool) -> LoopFacts {
        LoopFacts { index_fact: self.index_fact, range_fact: self.range_fact, guarded: if tested { self.versioned.clone() } else { Vec::new() } }
    }
}

/// The side tables of loop facts, by `Stmt::id`.
#[derive(Debug, Default)]
pub struct LoopTable {
    /// For each `for ... in range(...)` statement.
    pub for_loops: Vec<Option<ForFacts>>,
    /// For each `if v < c: <leave>` statement (see `guard_fact`): the lower bound of `v` for the
    /// rest of the enclosing block.
    pub lower_bound_after: Vec<Option<(VarId, i64)>>,
}

/// The facts in force where code is being emitted: those of the enclosing loops (of the copy
/// being emitted) and the lower bounds the earlier statements of the enclosing blocks leave.
/// Codegen pushes and pops them as it enters and leaves loops and blocks.
#[derive(Debug, Default)]
pub struct Scope {
    pub loops: Vec<LoopFacts>,
    pub lower_bounds: Vec<(VarId, i64)>,
}

impl Scope {
    /// Is the Python int `a op b` (`op` being `+` or `-`) a loop variable plus or minus a
    /// constant that cannot overflow i64 (see `RangeFact`)?
    pub fn cannot_overflow(&self, op: BinOp, a: &Expr, b: &Expr) -> bool {
        let (v, k) = match (op, &a.kind, &b.kind) {
            (BinOp::Add, ExprKind::Var(v), ExprKind::Const(Const::Int(k))) | (BinOp::Add, ExprKind::Const(Const::Int(k)), ExprKind::Var(v)) => (*v, *k as i128),
            (BinOp::Sub, ExprKind::Var(v), ExprKind::Const(Const::Int(k))) => (*v, -(*k as i128)),
            _ => return false,
        };
        // `v - k` (k > 0) cannot overflow when v >= lo >= i64::MIN + k.
        let bounded_below = |lo: i64| k < 0 && lo as i128 + k >= i64::MIN as i128;
        self.loops.iter().any(|l| match l.range_fact {
            Some(f) if f.var == v => {
                if k >= 0 {
                    k <= f.slack as i128 + 1
                } else {
                    matches!(f.lo, Some(lo) if lo >= 0)
                }
            }
            _ => false,
        }) || self.lower_bounds.iter().any(|&(u, lo)| u == v && bounded_below(lo))
    }

    /// Is `e` known to be a non-negative int: a constant, or a loop variable counting up from
    /// a non-negative constant?
    pub fn known_nonnegative(&self, e: &Expr) -> bool {
        match e.kind {
            ExprKind::Const(Const::Int(c)) => c >= 0,
            ExprKind::Var(v) => self.loops.iter().any(|l| matches!(l.range_fact, Some(f) if f.var == v && matches!(f.lo, Some(lo) if lo >= 0))),
            _ => false,
        }
    }

    /// Is `e` a loop variable known to index `array` along `axis` in bounds?
    pub fn index_in_bounds(&self, e: &Expr, array: &Expr, axis: usize) -> bool {
        let ExprKind::Var(a) = array.kind else { return false };
        // The index as `v + k`.
        let Some((Some(v), k)) = var_plus_const(e) else { return false };
        self.loops.iter().any(|l| match l.index_fact {
            Some(f) => f.var == v && f.shape.array == a && f.shape.axis == axis && k >= -f.lo && k <= f.sub,
            None => false,
        }) || self.guarded_in_bounds(e, a, axis)
    }

    /// Is `array[..., e, ...]` at `axis` one of the accesses an enclosing loop's versioning
    /// test proved in bounds?
    fn guarded_in_bounds(&self, e: &Expr, a: VarId, axis: usize) -> bool {
        let Some((v, k)) = var_plus_const(e) else { return false };
        self.loops.iter().any(|l| {
            let lv = l.range_fact.map(|f| f.var);
            l.guarded.iter().any(|g| {
                g.array == a
                    && g.axis == axis
                    && match (g.index, v) {
                        (GuardIndex::LoopVar(gk), Some(v)) => Some(v) == lv && gk == k,
                        (GuardIndex::Var(u, gk), Some(v)) => u == v && gk == k,
                        (GuardIndex::Const(c), None) => c == k,
                        _ => false,
                    }
            })
        })
    }
}

/// An index expression as `v + k` (`Some(v)`) or a constant `k` (`None`): a constant, a
/// variable, or a variable plus or minus a constant.
pub fn var_plus_const(e: &Expr) -> Option<(Option<VarId>, i64)> {
    match &e.kind {
        ExprKind::Const(Const::Int(c)) => Some((None, *c)),
        ExprKind::Var(v) => Some((Some(*v), 0)),
        ExprKind::BinOp(op @ (BinOp::Add | BinOp::Sub), x, c) => match (&x.kind, &c.kind) {
            (ExprKind::Var(v), ExprKind::Const(Const::Int(c))) => Some((Some(*v), if *op == BinOp::Add { *c } else { c.wrapping_neg() })),
            _ => None,
        },
        _ => None,
    }
}

/// Does a body contain a loop?
pub fn has_loop(body: &[Stmt]) -> bool {
    let mut found = false;
    walk_stmts(body, &mut |s| found |= matches!(s.kind, StmtKind::While { .. } | StmtKind::ForRange { .. }));
    found
}

/// The loop facts of `f`. `single_assign`: the variables assigned exactly once
/// (`assignment::assignment_counts`).
pub fn loop_facts(f: &Function, typed: &Typed, single_assign: &[bool]) -> LoopTable {
    let mut w = Walker {
        typed,
        single_assign,
        shape_vars: HashMap::new(),
        scope: Scope::default(),
        table: LoopTable { for_loops: vec![None; f.n_stmts], lower_bound_after: vec![None; f.n_stmts] },
    };
    w.block(&f.body);
    w.table
}

/// Walks the statements in the order codegen emits them, so that a fact about a variable bound
/// to an array's extent is known from its binding on (as it was when codegen recorded it).
struct Walker<'a> {
    typed: &'a Typed,
    single_assign: &'a [bool],
    /// Variables bound once to an array's extent, by the statements walked so far.
    shape_vars: HashMap<VarId, ShapeOf>,
    /// The enclosing loops (their facts, as codegen has them when it emits this loop).
    scope: Scope,
    table: LoopTable,
}

impl Walker<'_> {
    fn block(&mut self, body: &[Stmt]) {
        for s in body {
            self.stmt(s);
            let bound = self.guard_fact(s);
            if let Some(slot) = self.table.lower_bound_after.get_mut(s.id) {
                *slot = bound;
            }
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                for t in targets {
                    self.target(t, Some(value));
                }
            }
            StmtKind::If { then, orelse, .. } => {
                self.block(then);
                self.block(orelse);
            }
            StmtKind::While { body, orelse, .. } => {
                self.scope.loops.push(LoopFacts::default());
                self.block(body);
                self.scope.loops.pop();
                self.block(orelse);
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
                let facts = self.for_facts(*var, start.as_ref(), stop, step.as_ref(), body);
                // A loop with versioned accesses has no loop inside: either copy serves.
                self.scope.loops.push(facts.copy(false));
                if let Some(slot) = self.table.for_loops.get_mut(s.id) {
                    *slot = Some(facts);
                }
                self.block(body);
                self.scope.loops.pop();
                self.block(orelse);
            }
            _ => {}
        }
    }

    /// An assignment to a target, from `src` when the whole value is assigned to it.
    fn target(&mut self, t: &Target, src: Option<&Expr>) {
        match t {
            Target::Var(v) => {
                // `n = len(a)` or `n = a.shape[k]`: remember the extent binding.
                if let Some(s) = src.and_then(|e| self.shape_fact(e)) {
                    self.record_shape_var(*v, s.array, s.axis);
                }
            }
            Target::Index { .. } => {}
            Target::Tuple(ts) => {
                for (axis, tt) in ts.iter().enumerate() {
                    // `M, N = a.shape`: M and N are a's extents.
                    if let (Target::Var(v), Some(Expr { kind: ExprKind::Attr(base, attr), .. })) = (tt, src) {
                        if attr == "shape" {
                            if let ExprKind::Var(arr) = base.kind {
                                self.record_shape_var(*v, arr, axis);
                            }
                        }
                    }
                    self.target(tt, None);
                }
            }
        }
    }

    fn record_shape_var(&mut self, v: VarId, arr: VarId, axis: usize) {
        if self.single_assign[v] && self.single_assign[arr] {
            self.shape_vars.insert(v, ShapeOf { array: arr, axis });
        }
    }

    /// Is this expression an array extent (`len(a)`, `a.shape[k]`, or a variable bound to one)?
    fn shape_fact(&self, e: &Expr) -> Option<ShapeOf> {
        match &e.kind {
            ExprKind::Var(v) => self.shape_vars.get(v).copied(),
            ExprKind::Call { args, .. } if args.len() == 1 => {
                let is_len = matches!(self.typed.calls.get(&e.id), Some(CallTarget::Builtin(b)) if b.name() == "len");
                match (&args[0].kind, is_len) {
                    (ExprKind::Var(a), true) if self.single_assign[*a] && matches!(self.typed.vars[*a].ty, Some(Type::Array(_))) => {
                        Some(ShapeOf { array: *a, axis: 0 })
                    }
                    _ => None,
                }
            }
            ExprKind::Index(base, ix) if ix.len() == 1 => {
                if let (ExprKind::Attr(arr, attr), ExprKind::Const(Const::Int(k))) = (&base.kind, &ix[0].kind) {
                    if let ExprKind::Var(a) = arr.kind {
                        if attr == "shape" && self.single_assign[a] && *k >= 0 {
                            return Some(ShapeOf { array: a, axis: *k as usize });
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The facts of `for var in range(start, stop, step): body`.
    fn for_facts(&self, var: VarId, start: Option<&Expr>, stop: &Expr, step: Option<&Expr>, body: &[Stmt]) -> ForFacts {
        let const_step = match step {
            None => Some(1),
            Some(Expr { kind: ExprKind::Const(Const::Int(k)), .. }) => Some(*k),
            Some(Expr { kind: ExprKind::Unary(UnaryOp::Neg, inner), .. }) => match inner.kind {
                ExprKind::Const(Const::Int(k)) => Some(-k),
                _ => None,
            },
            _ => None,
        };
        // Bounds-check elimination (see `IndexFact`).
        let lo = match start {
            None => Some(0),
            Some(Expr { kind: ExprKind::Const(Const::Int(k)), .. }) if *k >= 0 => Some(*k),
            _ => None,
        };
        let bound = match &stop.kind {
            ExprKind::BinOp(BinOp::Sub, x, c) => match (self.shape_fact(x), &c.kind) {
                (Some(s), ExprKind::Const(Const::Int(c))) if *c >= 0 => Some((s, *c)),
                _ => None,
            },
            _ => self.shape_fact(stop).map(|s| (s, 0)),
        };
        let index_fact = match (lo, bound, const_step) {
            (Some(lo), Some((shape, sub)), Some(k)) if k > 0 && self.single_assign[var] => Some(IndexFact { var, lo, shape, sub }),
            _ => None,
        };
        let range_fact = if const_step == Some(1) && self.single_assign[var] {
            let start_const = match start {
                None => Some(0),
                Some(Expr { kind: ExprKind::Const(Const::Int(k)), .. }) => Some(*k),
                _ => None,
            };
            // A loop in a branch inference found dead (`if False:`) has no types: no facts.
            let int_typed = |e: &Expr| matches!(self.typed.expr_types[e.id], Some(Type::Int | Type::Np(DType::I64)));
            let stop_int = int_typed(stop);
            let slack = match &stop.kind {
                ExprKind::BinOp(BinOp::Sub, x, c) if stop_int && int_typed(x) => match c.kind {
                    ExprKind::Const(Const::Int(c)) if c >= 0 => c,
                    _ => 0,
                },
                _ => 0,
            };
            Some(RangeFact { var, lo: start_const, slack })
        } else {
            None
        };
        // Loop versioning: when the loop is innermost and indexes other arrays by its
        // variable (or by values it does not change), one test before the loop shows whether
        // every such access is in bounds; then a copy of the loop without those checks runs.
        let versioned = match (range_fact, lo) {
            (Some(_), Some(lo)) if !has_loop(body) => self.versioned_accesses(var, lo, body),
            _ => Vec::new(),
        };
        ForFacts { index_fact, range_fact, versioned }
    }

    /// The accesses `a[..., x, ...]` in a loop body that a test before the loop can prove in
    /// bounds (see `Guarded`): `a` an array variable and `x` the loop variable plus a constant
    /// (never below zero from `lo`), an int variable plus a constant, or a constant, where the
    /// body assigns neither `a` nor the variable. At most 16.
    fn versioned_accesses(&self, var: VarId, lo: i64, body: &[Stmt]) -> Vec<Guarded> {
        let vars = &self.typed.vars;
        let mut assigned = vec![false; vars.len()];
        walk_stmts(body, &mut |s| s.assigned_vars().into_iter().for_each(|v| assigned[v] = true));
        let mut out: Vec<Guarded> = Vec::new();
        let mut consider = |base: &Expr, index: &[Expr]| {
            let ExprKind::Var(a) = base.kind else { return };
            let Some(Type::Array(at)) = vars[a].ty.clone() else { return };
            if assigned[a] || vars[a].is_union() || index.len() > at.ndim as usize {
                return;
            }
            for (axis, ie) in index.iter().enumerate() {
                if self.scope.index_in_bounds(ie, base, axis) {
                    continue;
                }
                let Some((v, k)) = var_plus_const(ie) else { continue };
                if k.unsigned_abs() > 1 << 31 {
                    continue;
                }
                let index = match v {
                    None if k >= 0 => GuardIndex::Const(k),
                    None => continue,
                    Some(v) if v == var => {
                        if lo + k < 0 {
                            continue;
                        }
                        GuardIndex::LoopVar(k)
                    }
                    Some(u) => {
                        if assigned[u] || vars[u].is_union() || vars[u].ty != Some(Type::Int) {
                            continue;
                        }
                        GuardIndex::Var(u, k)
                    }
                };
                let g = Guarded { array: a, axis, index };
                if !out.contains(&g) && out.len() < 16 {
                    out.push(g);
                }
            }
        };
        walk_stmts(body, &mut |s| {
            let mut exprs = s.exprs();
            for (base, index) in s.index_targets() {
                consider(base, index);
                exprs.extend(index.iter());
            }
            while let Some(e) = exprs.pop() {
                if let ExprKind::Index(base, index) = &e.kind {
                    consider(base, index);
                }
                exprs.extend(e.children());
            }
        });
        out
    }

    /// After `if v < c: <leave>` (or `v <= c`), where the body always returns, raises,
    /// breaks or continues, the rest of the block runs only with `v >= c` (`v > c`): a lower
    /// bound, kept while `v` is an int variable assigned nowhere else.
    fn guard_fact(&self, s: &Stmt) -> Option<(VarId, i64)> {
        let StmtKind::If { cond, then, orelse } = &s.kind else { return None };
        let leaves = |b: &[Stmt]| always_returns(b) || matches!(b.last().map(|s| &s.kind), Some(StmtKind::Break | StmtKind::Continue));
        if !orelse.is_empty() || !leaves(then) {
            return None;
        }
        let ExprKind::Compare(first, rest) = &cond.kind else { return None };
        let (ExprKind::Var(v), [(op, Expr { kind: ExprKind::Const(Const::Int(c)), .. })]) = (&first.kind, rest.as_slice()) else { return None };
        if !self.single_assign[*v] || self.typed.vars[*v].ty != Some(Type::Int) || self.typed.vars[*v].is_union() {
            return None;
        }
        match op {
            CmpOp::Lt => Some((*v, *c)),
            CmpOp::LtE => c.checked_add(1).map(|c1| (*v, c1)),
            _ => None,
        }
    }
}
