//! Parallel loops (issue 14): which `for ... in range(...)` loops of a function marked
//! `# heron: jit, parallel` may run their iterations on several threads, and what the
//! parallel run needs: the reductions it combines, the arrays it writes and reads.
//!
//! The candidates are the loops spelled `prange` (`heron.prange`, `numba.prange`) and the
//! function's outermost `range` loops. A candidate runs in parallel only when Heron can see
//! that the order of its iterations does not matter and that it can be run again from the start
//! (codegen runs it serially, from the start, when an iteration fails: an index out of range,
//! an overflow, a signal, a NumPy warning; the serial run then fails where CPython does):
//!
//! - every array it stores into is stored at an index whose component on one axis is the loop
//!   variable itself (`out[i] = ...`, `m[i, j] = ...`, `m[i, :] = ...`), so that two iterations
//!   never write one element (the loop variable must be non-negative, and the arrays must not
//!   overlap: both checked at run time);
//! - it reads an array it writes only at an index whose component on that axis is the loop
//!   variable itself (`a[i] = a[i] * 2`, `m[i, j] += m[i, j - 1]`), so that each iteration reads
//!   only the elements it alone writes (codegen has the driver save those arrays when a failed
//!   run must be re-run from the start); it does not store into an array variable's elements
//!   through another name it assigns;
//! - every variable it assigns is private to an iteration (assigned before it is read in each
//!   iteration, and not read after the loop), or a reduction: `s += e`, `s -= e`, `s *= e`,
//!   `s |= e`, `s &= e`, `s ^= e`, `s = s + e`, `s = s - e`, `s = max(s, e)`,
//!   `s = min(s, e)`, with `s` read nowhere else in the loop, of one type: `int`
//!   (`+ - * max min | & ^`, exact in any order, overflow included: see `codegen::parallel`),
//!   `bool` (`| & ^`) or `float` (`max min`, exact; `+ - *`, reassociated: each block of
//!   iterations sums from the identity and the blocks' sums are added in block order, which
//!   depends on the trip count alone, never on the thread count);
//! - it does not `return` or `break` out of the loop (a nested loop's `break` is fine).
//!
//! What codegen emits in the loop decides the rest: an operation that needs the interpreter or
//! the runtime (a call into Python or NumPy, an allocation, `print`, random numbers, a
//! compiled callee that does one of those) keeps the loop serial (`codegen::parallel`).

use std::collections::{BTreeMap, BTreeSet};

use crate::ir::*;
use crate::types::infer::{CallTarget, Typed};
use crate::types::Type;

/// How a reduction's partial results combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedOp {
    Add,
    Mul,
    Max,
    Min,
    Or,
    And,
    Xor,
}

impl RedOp {
    fn of_binop(op: BinOp) -> Option<RedOp> {
        match op {
            // `s -= e` sums the negated terms: the blocks' partials add up as `+=`'s do.
            BinOp::Add | BinOp::Sub => Some(RedOp::Add),
            BinOp::Mul => Some(RedOp::Mul),
            BinOp::BitOr => Some(RedOp::Or),
            BinOp::BitAnd => Some(RedOp::And),
            BinOp::BitXor => Some(RedOp::Xor),
            _ => None,
        }
    }

    /// The runtime's code for it (`runtime::parallel::combine`).
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// A variable the loop reduces into, and how.
#[derive(Clone, Debug)]
pub struct Reduction {
    pub var: VarId,
    pub op: RedOp,
    /// Its type (a variable that starts as a `float` and becomes a `numpy.float64`: that).
    pub ty: Type,
    /// It changes type (`float` to `numpy.float64`, as `s = 0.0; s += a[i]` does): its tag
    /// after the loop is the blocks' last new one, else its tag before.
    pub tagged: bool,
}

/// What a parallel loop needs (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct ParallelPlan {
    pub reductions: Vec<Reduction>,
    /// The arrays it stores into, each with the axis its index holds the loop variable on.
    pub written: Vec<(VarId, usize)>,
    /// The other arrays it reads.
    pub read: Vec<VarId>,
    /// The arrays of `written` it also reads (each at the loop variable on its axis): a
    /// re-run from the start needs their elements as they were before the loop.
    pub in_place: Vec<VarId>,
}

impl ParallelPlan {
    /// The float sums and products (reassociated; float `max` and `min` are exact).
    pub fn float_reductions(&self) -> Vec<VarId> {
        self.reductions.iter().filter(|r| r.ty.is_floatlike() && matches!(r.op, RedOp::Add | RedOp::Mul)).map(|r| r.var).collect()
    }
}

/// By `Stmt::id`: for each candidate loop, its plan, or why it runs serially (the text
/// completes "runs serially: ..."); `None` for every other statement.
pub type ParallelTable = Vec<Option<Result<ParallelPlan, String>>>;

/// The parallel plans of `f` typed as `typed` (every entry `None` unless `typed.parallel`).
/// `live` is `liveness::live_before`.
pub fn parallel_loops(f: &Function, typed: &Typed, live: &[Vec<bool>]) -> ParallelTable {
    let mut table = vec![None; f.n_stmts];
    if typed.parallel {
        candidates(f, typed, live, &f.body, true, &mut table);
    }
    table
}

/// Is `e` (a loop's `iter_fn`) a spelling of `prange`?
pub fn is_prange(e: Option<&Expr>) -> bool {
    match e.map(|e| &e.kind) {
        Some(ExprKind::Global(n)) => n == "prange",
        Some(ExprKind::Attr(_, n)) => n == "prange",
        _ => false,
    }
}

fn candidates(f: &Function, typed: &Typed, live: &[Vec<bool>], body: &[Stmt], outermost: bool, table: &mut ParallelTable) {
    for s in body {
        if f.hidden_stmts.contains(&s.id) {
            continue;
        }
        match &s.kind {
            StmtKind::ForRange { body: inner, orelse, origin: LoopOrigin::Range, iter_fn, .. } if outermost || is_prange(iter_fn.as_deref()) => {
                let plan = plan(f, typed, live, s);
                let ok = plan.is_ok();
                // The report tells why a `prange` loop runs serially (not an outermost `range`).
                if ok || is_prange(iter_fn.as_deref()) {
                    table[s.id] = Some(plan);
                }
                if !ok {
                    candidates(f, typed, live, inner, false, table);
                    candidates(f, typed, live, orelse, false, table);
                }
            }
            StmtKind::If { then, orelse, .. } => {
                candidates(f, typed, live, then, outermost, table);
                candidates(f, typed, live, orelse, outermost, table);
            }
            StmtKind::While { body, orelse, .. } | StmtKind::ForRange { body, orelse, .. } => {
                candidates(f, typed, live, body, false, table);
                candidates(f, typed, live, orelse, false, table);
            }
            _ => {}
        }
    }
}

/// The plan of the loop `s`, or why it runs serially.
fn plan(f: &Function, typed: &Typed, live: &[Vec<bool>], s: &Stmt) -> Result<ParallelPlan, String> {
    let StmtKind::ForRange { var, body, orelse, .. } = &s.kind else { unreachable!() };
    let name = |v: VarId| format!("`{}`", f.vars[v]);
    if !orelse.is_empty() {
        return Err("it has an `else` clause".into());
    }
    if body_breaks(body) {
        return Err("it may `break` out of the loop".into());
    }
    let live_before = &live[s.id];
    if live_before[*var] {
        return Err(format!("the loop variable {} is read after the loop", name(*var)));
    }
    let mut w = Walk { typed: Some(typed), names: &f.vars, loop_var: *var, ..Walk::default() };
    w.block(body)?;
    if w.assigned.contains(var) {
        // Its stores would no longer be at distinct indices.
        return Err(format!("it assigns the loop variable {}", name(*var)));
    }
    // Variables: private to an iteration, or reductions.
    let mut reductions = Vec::new();
    for &v in &w.assigned {
        if !live_before[v] {
            continue;
        }
        let forms = w.red_forms.get(&v).cloned().unwrap_or_default();
        let assigns = w.assign_count.get(&v).copied().unwrap_or(0);
        if forms.is_empty() || forms.len() != assigns {
            return Err(format!("{} is carried from one iteration to the next, or read after the loop", name(v)));
        }
        let op = forms[0];
        if forms.iter().any(|o| *o != op) {
            return Err(format!("{} is reduced with more than one operator", name(v)));
        }
        // Each `s = s op e` form reads `s` once; any other read is a dependence.
        let form_reads = w.form_reads.get(&v).copied().unwrap_or(0);
        if w.reads.get(&v).copied().unwrap_or(0) != form_reads {
            return Err(format!("{} is read in the loop besides being reduced", name(v)));
        }
        let vi = &typed.vars[v];
        let ty = vi.ty.clone().unwrap_or(Type::None);
        let f64t = Type::Np(crate::types::DType::F64);
        // `s = 0.0; s += a[i]`: a float that becomes a numpy.float64 at its first update, when
        // every update makes a numpy.float64 whatever `s` holds.
        let float_to_np = vi.is_union()
            && vi.members.len() == 2
            && vi.members.contains(&Type::Float)
            && vi.members.contains(&f64t)
            && w.red_operands.get(&v).is_some_and(|ops| ops.iter().all(|&e| typed.expr_types.get(e).and_then(|t| t.as_ref()) == Some(&f64t)));
        if vi.is_union() && !float_to_np {
            return Err(format!("the reduction {} changes type in the loop", name(v)));
        }
        // Float `max`/`min` are exact in blocks: the builtins keep the earlier of equal values
        // (`max(s, x)` is `x` only when `x > s`), so each block's partial is its first
        // extreme, and the blocks' combine in order keeps the first of those; a NaN never
        // replaces a value, and a NaN before the loop stays. Not for a variable that changes
        // type (which value wins decides its type).
        let fits = match ty {
            Type::Int => true,
            Type::Bool => matches!(op, RedOp::Or | RedOp::And | RedOp::Xor),
            Type::Float | Type::Np(crate::types::DType::F64) => {
                matches!(op, RedOp::Add | RedOp::Mul) || (matches!(op, RedOp::Max | RedOp::Min) && !vi.is_union())
            }
            _ => false,
        };
        if !fits {
            return Err(format!("the reduction {} is a {ty} combined with an operator Heron does not reduce in parallel for it", name(v)));
        }
        reductions.push(Reduction { var: v, op, ty, tagged: vi.is_union() });
    }
    for (&a, _) in &w.written {
        if w.assigned.contains(&a) {
            return Err(format!("it assigns the array variable {} it stores into", name(a)));
        }
        if w.arrays_read.contains(&a) {
            return Err(format!("it reads the array {} as well as storing into it (other than its elements at the loop variable)", name(a)));
        }
    }
    let mut in_place = Vec::new();
    for (&a, axes) in &w.element_reads {
        match w.written.get(&a) {
            Some(axis) if axes.iter().all(|ax| ax.contains(axis)) => in_place.push(a),
            Some(_) => return Err(format!("it reads the array {} at an index other than the loop variable as well as storing into it", name(a))),
            None => {}
        }
    }
    let read = w
        .arrays_read
        .iter()
        .chain(w.element_reads.keys())
        .copied()
        .filter(|a| !w.assigned.contains(a) && !w.written.contains_key(a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(ParallelPlan { reductions, written: w.written.into_iter().collect(), read, in_place })
}

#[derive(Default)]
struct Walk<'t> {
    typed: Option<&'t Typed>,
    names: &'t [String],
    loop_var: VarId,
    assigned: BTreeSet<VarId>,
    assign_count: BTreeMap<VarId, usize>,
    /// Reduction-shaped assignments of each variable, and the reads of it they make.
    red_forms: BTreeMap<VarId, Vec<RedOp>>,
    form_reads: BTreeMap<VarId, usize>,
    /// The operand each reduction-shaped assignment combines into the variable.
    red_operands: BTreeMap<VarId, Vec<ExprId>>,
    /// Every read of each variable in the loop.
    reads: BTreeMap<VarId, usize>,
    written: BTreeMap<VarId, usize>,
    /// Arrays whose data is read other than through `element_reads`.
    arrays_read: BTreeSet<VarId>,
    /// Element reads `a[...]` of array variables: for each, the axes whose index component is
    /// the loop variable.
    element_reads: BTreeMap<VarId, Vec<Vec<usize>>>,
}

impl<'t> Walk<'t> {
    fn typed(&self) -> &'t Typed {
        self.typed.expect("set")
    }

    fn is_array(&self, v: VarId) -> bool {
        matches!(self.typed().vars[v].ty, Some(Type::Array(_)))
    }

    fn block(&mut self, body: &[Stmt]) -> Result<(), String> {
        for s in body {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), String> {
        for v in s.assigned_vars() {
            self.assigned.insert(v);
            *self.assign_count.entry(v).or_default() += 1;
        }
        if self.typed().inplace.contains_key(&s.id) {
            if let StmtKind::AugAssign { target: Target::Var(v), .. } = &s.kind {
                return Err(format!("it updates an array (`{}`) in place", self.names[*v]));
            }
        }
        match &s.kind {
            StmtKind::Return(_) => return Err("it returns from inside the loop".into()),
            StmtKind::AugAssign { target: Target::Var(v), op, value } => {
                if let Some(r) = RedOp::of_binop(*op) {
                    self.red_forms.entry(*v).or_default().push(r);
                    self.red_operands.entry(*v).or_default().push(value.id);
                }
                // `s += e` reads `s` itself (counted as the form's read).
                *self.reads.entry(*v).or_default() += 1;
                *self.form_reads.entry(*v).or_default() += 1;
                self.expr(value);
            }
            StmtKind::Assign { targets, value } if targets.len() == 1 && matches!(targets[0], Target::Var(_)) => {
                let Target::Var(v) = targets[0] else { unreachable!() };
                if let Some((op, operand)) = self.reduction_form(v, value) {
                    self.red_forms.entry(v).or_default().push(op);
                    self.red_operands.entry(v).or_default().push(operand);
                    *self.form_reads.entry(v).or_default() += 1;
                }
                self.expr(value);
            }
            _ => {
                for e in s.exprs() {
                    self.expr(e);
                }
            }
        }
        let targets: Vec<&Target> = match &s.kind {
            StmtKind::Assign { targets, .. } => targets.iter().collect(),
            StmtKind::AugAssign { target, .. } => vec![target],
            _ => vec![],
        };
        for t in targets {
            self.target(t, matches!(s.kind, StmtKind::AugAssign { .. }))?;
        }
        match &s.kind {
            StmtKind::If { then, orelse, .. } => {
                self.block(then)?;
                self.block(orelse)?;
            }
            StmtKind::While { body, orelse, .. } | StmtKind::ForRange { body, orelse, .. } => {
                self.block(body)?;
                self.block(orelse)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `v = v op e`, `v = e op v` (commutative `op`), `v = max(v, e)`, `v = min(e, v)`: the
    /// reduction operator, when `value` is one of those forms and `e` does not read `v`.
    fn reduction_form(&self, v: VarId, value: &Expr) -> Option<(RedOp, ExprId)> {
        let is_v = |e: &Expr| matches!(e.kind, ExprKind::Var(u) if u == v);
        let other = |a: &Expr, b: &Expr| -> Option<ExprId> {
            if is_v(a) && !reads(b, v) {
                Some(b.id)
            } else if is_v(b) && !reads(a, v) {
                Some(a.id)
            } else {
                None
            }
        };
        match &value.kind {
            // `v = v - e` (not `v = e - v`).
            ExprKind::BinOp(BinOp::Sub, a, b) => (is_v(a) && !reads(b, v)).then_some((RedOp::Add, b.id)),
            ExprKind::BinOp(op, a, b) => {
                let r = RedOp::of_binop(*op)?;
                other(a, b).map(|e| (r, e))
            }
            ExprKind::Call { args, kwargs, .. } if args.len() == 2 && kwargs.is_empty() => {
                let name = match self.typed().calls.get(&value.id) {
                    Some(CallTarget::Builtin(b)) => b.name(),
                    _ => return None,
                };
                if self.typed().choices.contains_key(&value.id) {
                    return None;
                }
                let r = match name {
                    "max" => RedOp::Max,
                    "min" => RedOp::Min,
                    _ => return None,
                };
                other(&args[0], &args[1]).map(|e| (r, e))
            }
            _ => None,
        }
    }

    /// Count the reads in `e`: variables, and the arrays whose elements or data it reads
    /// (not `a.shape`, `a.size`, `a.ndim`, `len(a)`).
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Var(v) => {
                *self.reads.entry(*v).or_default() += 1;
                if self.is_array(*v) {
                    self.arrays_read.insert(*v);
                }
            }
            ExprKind::Index(base, index) if matches!(base.kind, ExprKind::Var(v) if self.is_array(v)) => {
                let ExprKind::Var(a) = base.kind else { unreachable!() };
                *self.reads.entry(a).or_default() += 1;
                let axes = self.loop_var_axes(index);
                self.element_reads.entry(a).or_default().push(axes);
                for i in index {
                    self.expr(i);
                }
            }
            ExprKind::Attr(base, attr) if matches!(base.kind, ExprKind::Var(_)) && matches!(attr.as_str(), "shape" | "size" | "ndim") => {
                let ExprKind::Var(v) = base.kind else { unreachable!() };
                *self.reads.entry(v).or_default() += 1;
            }
            ExprKind::Call { args, .. }
                if args.len() == 1
                    && matches!(args[0].kind, ExprKind::Var(_))
                    && matches!(self.typed().calls.get(&e.id), Some(CallTarget::Builtin(b)) if b.name() == "len") =>
            {
                let ExprKind::Var(v) = args[0].kind else { unreachable!() };
                *self.reads.entry(v).or_default() += 1;
            }
            _ => {
                for c in e.children() {
                    self.expr(c);
                }
            }
        }
    }

    /// The axes of `index` whose component is the loop variable itself.
    fn loop_var_axes(&self, index: &[Expr]) -> Vec<usize> {
        index.iter().enumerate().filter(|(_, i)| matches!(i.kind, ExprKind::Var(v) if v == self.loop_var)).map(|(k, _)| k).collect()
    }

    /// A store target: element stores must hold the loop variable on one axis.
    fn target(&mut self, t: &Target, aug: bool) -> Result<(), String> {
        match t {
            Target::Var(_) => Ok(()),
            Target::Tuple(ts) => ts.iter().try_for_each(|t| self.target(t, aug)),
            Target::Index { base, index, .. } => {
                for i in index {
                    self.expr(i);
                }
                let ExprKind::Var(a) = base.kind else {
                    return Err("it stores into an element of an expression that is not a variable".into());
                };
                if !self.is_array(a) {
                    return Err(format!("it stores through `{}`, which is not an array", self.names[a]));
                }
                *self.reads.entry(a).or_default() += 1;
                if aug {
                    // `a[i] += x` reads the element it writes.
                    let axes = self.loop_var_axes(index);
                    self.element_reads.entry(a).or_default().push(axes);
                }
                let axis = index.iter().position(|i| matches!(i.kind, ExprKind::Var(v) if v == self.loop_var));
                let Some(axis) = axis else {
                    return Err(format!("it stores into `{}` at an index that is not the loop variable", self.names[a]));
                };
                match self.written.insert(a, axis) {
                    Some(prev) if prev != axis => Err(format!("it stores into `{}` with the loop variable on two different axes", self.names[a])),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Does `e` read variable `v`?
fn reads(e: &Expr, v: VarId) -> bool {
    matches!(e.kind, ExprKind::Var(u) if u == v) || e.children().into_iter().any(|c| reads(c, v))
}
