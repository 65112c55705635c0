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

use std::collections::HashMap;

use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::types::*;

/// What a global name (or module attribute) stands for, read once at compile time.
#[derive(Clone, Debug)]
pub enum GlobalValue {
    Const(Const),
    Math,
    Numpy,
    /// An entry of the builtins registry (`abs`, `math.sqrt`, `numpy.zeros`, ...).
    Builtin(&'static dyn BuiltinFn),
    /// The function being compiled (recursion).
    SelfRef,
    /// Another Heron dispatcher, by the resolver's index.
    Callee(usize),
    /// `numpy.float64`, ... used as a dtype.
    NpDType(DType),
    /// A scalar global read at each call from a cell (it changed since a first compile, see
    /// `runtime::guards`): its type and the cell's address.
    Cell { ty: Type, addr: usize },
    /// Anything else: described for the error message.
    Unsupported(String),
}

/// A compiled callee specialization, as seen from the caller.
#[derive(Clone, Debug)]
pub struct CalleeInfo {
    /// Address of the callee's native entry (the `inner` ABI, see `codegen`).
    pub ptr: usize,
    pub params: Vec<Type>,
    pub ret: Type,
    /// The callee's return member types: several when its result changes type (then `ret` is
    /// their unified representation and a tag comes back with it).
    pub ret_members: Vec<Type>,
    /// The callee has no visible side effects (it can be re-run by the interpreter).
    pub pure: bool,
    /// The callee (or one it calls) writes memory its caller can see (argument arrays).
    pub writes: bool,
    /// The callee calls itself (it takes its recursion depth, see `codegen::recursion`).
    pub recursive: bool,
}

impl CalleeInfo {
    pub fn ret_union(&self) -> bool {
        self.ret_members.len() > 1
    }
}

/// The compile-time environment: globals of the function's module, and other compiled functions.
pub trait Resolver {
    /// Resolve a global (or builtin) name, frozen at compile time.
    fn global(&mut self, name: &str, line: u32) -> CResult<GlobalValue>;
    /// What `module.attr` (`math.pi`, `numpy.float64`) is, read (and guarded) at compile
    /// time; an error when compiled code does not know it, or the program replaced it.
    fn module_attr(&mut self, module: &str, attr: &str, line: u32) -> CResult<GlobalValue>;
    /// Compile (or fetch) the specialization of dispatcher `id` for `args`.
    /// `caller_pure`: the caller has no side effects so far (a callee of a caller with side
    /// effects must report NumPy floating-point errors itself, see `Dispatcher::specialize`).
    fn callee(&mut self, id: usize, args: &[Type], caller_pure: bool, line: u32) -> CResult<CalleeInfo>;
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
    fn add(&mut self, t: &Type, line: u32, what: &str) -> CResult<bool> {
        if self.members.contains(t) {
            return Ok(false);
        }
        let unified = match &self.ty {
            None => t.clone(),
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
        if self.members.len() >= 1 && !t.is_scalar() {
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
    /// Check NumPy floating-point errors at each operation even when `pure` (set by the
    /// dispatcher for callees of code with side effects).
    pub fp_checked: bool,
}

impl Typed {
    pub fn ty(&self, e: &Expr) -> &Type {
        self.expr_types[e.id].as_ref().expect("typed expression")
    }
    pub fn ret_type(&self) -> Type {
        self.ret.ty.clone().unwrap_or(Type::None)
    }
}

struct Infer<'a> {
    f: &'a Function,
    res: &'a mut dyn Resolver,
    vars: Vec<VarInfo>,
    ret: VarInfo,
    expr_types: Vec<Option<Type>>,
    calls: HashMap<ExprId, CallTarget>,
    globals: HashMap<ExprId, GlobalValue>,
    global_cache: HashMap<String, GlobalValue>,
    changed: bool,
    /// The final pass: unknown types are errors.
    strict: bool,
    args: Vec<Type>,
    /// No visible side effects (no array stores, no print, no calls to other compiled
    /// functions): every call can be re-run by the interpreter, so speculation is safe.
    pure: bool,
    /// A callee with side effects was found (the function is then impure whatever it stores).
    callee_effects: bool,
    guards: HashMap<ExprId, usize>,
}

fn cerr<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
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
    };
    for (p, t) in f.params.iter().zip(args) {
        inf.vars[*p].add(t, f.span.line, "a parameter")?;
    }
    let mut rounds = 0;
    while inf.changed {
        inf.changed = false;
        inf.guards.clear();
        rounds += 1;
        if rounds > 50 {
            return cerr("type inference did not settle", f.span.line);
        }
        inf.block(&f.body)?;
    }
    inf.strict = true;
    inf.guards.clear();
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
        fp_checked: false,
    })
}

impl<'a> Infer<'a> {
    fn var_name(&self, v: VarId) -> String {
        format!("variable `{}`", self.f.vars[v])
    }

    fn block(&mut self, body: &[Stmt]) -> CResult<()> {
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

    fn assign_var(&mut self, v: VarId, t: &Type, line: u32) -> CResult<()> {
        let name = self.var_name(v);
        if self.vars[v].add(t, line, &name)? {
            self.changed = true;
        }
        Ok(())
    }

    /// Assign `value` (typed `t`, possibly a union variable itself) to a target.
    fn assign(&mut self, target: &Target, t: Option<Type>, value: Option<&Expr>, line: u32) -> CResult<()> {
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
                let Type::Array(at) = bt else {
                    return cerr(format!("cannot assign into an item of a {bt}"), line);
                };
                if index.iter().any(|i| matches!(i.kind, ExprKind::Slice(..))) {
                    return cerr("assigning to a slice of an array is not supported yet", line);
                }
                if index.len() != at.ndim as usize {
                    return cerr(
                        format!("an element store needs {} indices for a {}-d array, got {}", at.ndim, at.ndim, index.len()),
                        line,
                    );
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
                let Type::Tuple(elems) = t else {
                    return cerr(format!("cannot unpack a {t}"), line);
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

    fn stmt(&mut self, s: &Stmt) -> CResult<()> {
        let line = s.span.line;
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                let t = self.expr(value)?;
                for target in targets {
                    self.assign(target, t.clone(), Some(value), line)?;
                }
            }
            StmtKind::AugAssign { target, op, value } => {
                let vt = self.expr(value)?;
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
                            Some(Type::Array(at)) if index.len() == at.ndim as usize => Some(Type::Np(at.dtype)),
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
                    let mut result = None;
                    let kinds: Vec<bool> = members.iter().map(|m| m.is_floatlike()).collect();
                    if error_sensitive(*op) && kinds.iter().any(|k| *k != kinds[0]) {
                        return cerr(
                            format!("{} is an int on one path and a float on another, and `{}=` raises different errors for each", self.target_desc(target), op_symbol(*op)),
                            line,
                        );
                    }
                    for m in &members {
                        let r = binop_type(*op, m, &vt, line)?;
                        if let Some(prev) = &result {
                            if prev != &r {
                                return cerr(format!("{} holds different types on different paths, and `{:?}=` gives a {prev} for one and a {r} for another", self.target_desc(target), op), line);
                            }
                        }
                        result = Some(r);
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
                self.block(then)?;
                self.block(orelse)?;
            }
            StmtKind::While { cond, body, orelse } => {
                self.cond(cond)?;
                self.block(body)?;
                self.block(orelse)?;
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
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

    fn target_desc(&self, t: &Target) -> String {
        match t {
            Target::Var(v) => self.var_name(*v),
            _ => "the target".into(),
        }
    }

    /// A condition: anything with a truth value Heron can compute.
    fn cond(&mut self, e: &Expr) -> CResult<()> {
        if let Some(t) = self.expr(e)? {
            truth_ok(&t, e.span.line)?;
        }
        Ok(())
    }

    fn record(&mut self, e: &Expr, t: Option<Type>) -> Option<Type> {
        self.expr_types[e.id] = t.clone();
        t
    }

    /// Types of the member alternatives of an operand: all members if it is a union variable.
    fn alternatives(&self, e: &Expr, t: &Type) -> Vec<Type> {
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
    fn over_members(
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
    fn speculate(&mut self, operands: &[(&Expr, &Type)], rule: &dyn Fn(&[Type]) -> CResult<Type>) -> Option<Type> {
        if !self.pure {
            return None;
        }
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

    fn global(&mut self, name: &str, line: u32) -> CResult<GlobalValue> {
        if let Some(g) = self.global_cache.get(name) {
            return Ok(g.clone());
        }
        let g = self.res.global(name, line)?;
        self.global_cache.insert(name.to_string(), g.clone());
        Ok(g)
    }

    /// Resolve an expression that names something (a global, or a module attribute).
    fn resolve_name(&mut self, e: &Expr) -> CResult<Option<GlobalValue>> {
        let line = e.span.line;
        let g = match &e.kind {
            ExprKind::Global(name) => self.global(name, line)?,
            ExprKind::Attr(base, attr) => match self.resolve_name(base)? {
                Some(GlobalValue::Math) => self.res.module_attr("math", attr, line)?,
                Some(GlobalValue::Numpy) => self.res.module_attr("numpy", attr, line)?,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.globals.insert(e.id, g.clone());
        Ok(Some(g))
    }

    fn expr(&mut self, e: &Expr) -> CResult<Option<Type>> {
        let t = self.expr_inner(e)?;
        if t.is_none() && self.strict {
            let what = match &e.kind {
                ExprKind::Var(v) => format!("{} may be used before it is assigned", self.var_name(*v)),
                ExprKind::Call { .. } => "cannot infer the type this call returns (recursion without a base case?)".into(),
                _ => "cannot infer the type of this expression".into(),
            };
            return cerr(what, e.span.line);
        }
        Ok(self.record(e, t))
    }

    fn expr_inner(&mut self, e: &Expr) -> CResult<Option<Type>> {
        let line = e.span.line;
        Ok(match &e.kind {
            ExprKind::Const(c) => Some(const_type(c)),
            ExprKind::Var(v) => self.vars[*v].ty.clone(),
            ExprKind::Global(_) | ExprKind::Attr(..) => {
                if let ExprKind::Attr(base, attr) = &e.kind {
                    // Attributes of values: `a.shape`, `a.size`, `a.ndim`.
                    if self.resolve_name(base)?.is_none() {
                        let Some(bt) = self.expr(base)? else { return Ok(None) };
                        return Ok(Some(attr_type(&bt, attr, line)?));
                    }
                }
                match self.resolve_name(e)? {
                    Some(GlobalValue::Const(c)) => Some(const_type(&c)),
                    Some(GlobalValue::Cell { ty, .. }) => Some(ty),
                    Some(GlobalValue::Unsupported(why)) => return cerr(why, line),
                    Some(GlobalValue::Builtin(b)) if matches!(b.form(), Form::Alloc { .. }) => {
                        return cerr("NumPy functions and types can only be called in compiled code", line)
                    }
                    Some(GlobalValue::Builtin(_)) | Some(GlobalValue::SelfRef) | Some(GlobalValue::Callee(_)) => {
                        return cerr("functions can only be called in compiled code, not used as values", line)
                    }
                    Some(GlobalValue::Math) | Some(GlobalValue::Numpy) => {
                        return cerr("modules can only be used as `module.name` in compiled code", line)
                    }
                    Some(GlobalValue::NpDType(_)) => {
                        return cerr("NumPy functions and types can only be called in compiled code", line)
                    }
                    None => return cerr("this name could not be resolved", line),
                }
            }
            ExprKind::BinOp(op, a, b) => {
                let ta = self.expr(a)?;
                let tb = self.expr(b)?;
                let (Some(ta), Some(tb)) = (ta, tb) else { return Ok(None) };
                let op = *op;
                // Division, modulo and power raise different errors for ints and floats, so an
                // operand that is an int on one path and a float on another must be decided
                // (speculated or refused) even when the result types agree: the rule's key
                // carries the operands' kinds.
                let keyed = |ts: &[Type]| -> CResult<Type> {
                    let r = binop_type(op, &ts[0], &ts[1], line)?;
                    if error_sensitive(op) {
                        let kind = |t: &Type| if t.is_floatlike() { Type::Float } else { Type::Int };
                        Ok(Type::Tuple(vec![r, kind(&ts[0]), kind(&ts[1])]))
                    } else {
                        Ok(r)
                    }
                };
                let r = self.over_members(&[(a, &ta), (b, &tb)], line, &keyed)?;
                let r = match r {
                    Type::Tuple(mut parts) if error_sensitive(op) => parts.swap_remove(0),
                    other => other,
                };
                // `int ** -k` with a constant negative exponent is a float (CPython's long_pow
                // hands it to float_pow).
                if op == BinOp::Pow && r == Type::Int && is_negative_const(b) {
                    Some(Type::Float)
                } else {
                    Some(r)
                }
            }
            ExprKind::Unary(op, a) => {
                let Some(ta) = self.expr(a)? else { return Ok(None) };
                let op = *op;
                Some(self.over_members(&[(a, &ta)], line, &|ts| unary_type(op, &ts[0], line))?)
            }
            ExprKind::Compare(first, rest) => {
                // A chain `a < b < c` is `a < b and b < c`; its value is one of the links, so
                // Heron needs every link to give the same type.
                let mut prev_e: &Expr = first;
                let mut prev = self.expr(first)?;
                let mut result: Option<Type> = None;
                let mut unknown = false;
                for (op, rhs) in rest {
                    let tr = self.expr(rhs)?;
                    match (&prev, &tr) {
                        (Some(tl), Some(trr)) => {
                            let op = *op;
                            let r = self.over_members(&[(prev_e, tl), (rhs, trr)], line, &|ts| compare_type(op, &ts[0], &ts[1], line))?;
                            if let Some(r0) = &result {
                                if *r0 != r {
                                    return cerr("a comparison chain mixing Python and NumPy booleans is not supported", line);
                                }
                            }
                            result = Some(r);
                        }
                        _ => unknown = true,
                    }
                    prev_e = rhs;
                    prev = tr;
                }
                if unknown {
                    None
                } else {
                    result
                }
            }
            ExprKind::BoolOp(_, values) => {
                // `a and b` yields one of its operands: they must share one type.
                let mut out: Option<Type> = None;
                let mut unknown = false;
                for v in values {
                    match self.expr(v)? {
                        Some(t) => {
                            truth_ok(&t, line)?;
                            if let Some(o) = &out {
                                if *o != t {
                                    return cerr(format!("`and`/`or` between a {o} and a {t} gives either type; Heron needs one"), line);
                                }
                            }
                            if let ExprKind::Var(v) = v.kind {
                                if self.vars[v].is_union() {
                                    return cerr(format!("{} changes type and is used with `and`/`or`", self.var_name(v)), line);
                                }
                            }
                            out = Some(t);
                        }
                        None => unknown = true,
                    }
                }
                if unknown {
                    None
                } else {
                    out
                }
            }
            ExprKind::IfExp(c, a, b) => {
                self.cond(c)?;
                let ta = self.expr(a)?;
                let tb = self.expr(b)?;
                match (ta, tb) {
                    (Some(ta), Some(tb)) => {
                        if ta != tb {
                            return cerr(format!("the two branches of `x if c else y` give a {ta} and a {tb}; Heron needs one type"), line);
                        }
                        for x in [a, b] {
                            if let ExprKind::Var(v) = x.kind {
                                if self.vars[v].is_union() {
                                    return cerr(format!("{} changes type and is used in `x if c else y`", self.var_name(v)), line);
                                }
                            }
                        }
                        Some(ta)
                    }
                    _ => None,
                }
            }
            ExprKind::Index(base, index) => {
                let bt = self.expr(base)?;
                let mut its = Vec::new();
                for i in index {
                    its.push(self.expr(i)?);
                }
                let Some(bt) = bt else { return Ok(None) };
                if its.iter().any(|t| t.is_none()) {
                    return Ok(None);
                }
                match &bt {
                    Type::Array(at) => {
                        self.check_indices(index, line)?;
                        let n = index.len();
                        if n > at.ndim as usize {
                            return cerr(format!("too many indices: the array is {}-dimensional but {n} were given", at.ndim), line);
                        }
                        let slices = index.iter().filter(|i| matches!(i.kind, ExprKind::Slice(..))).count();
                        if n == at.ndim as usize && slices == 0 {
                            Some(Type::Np(at.dtype))
                        } else {
                            // A view: sliced axes stay, integer-indexed ones go. Only integer
                            // indices on leading axes keep a C-contiguous layout.
                            let ints = n - slices;
                            let layout = if slices == 0 { at.layout } else { Layout::Any };
                            Some(Type::Array(ArrayType { ndim: at.ndim - ints as u8, layout, ..*at }))
                        }
                    }
                    Type::Tuple(elems) => {
                        if index.len() != 1 {
                            return cerr("tuple indices must be a single integer", line);
                        }
                        match &index[0].kind {
                            ExprKind::Const(Const::Int(k)) => {
                                let n = elems.len() as i64;
                                let k2 = if *k < 0 { k + n } else { *k };
                                if k2 < 0 || k2 >= n {
                                    return cerr("tuple index out of range", line);
                                }
                                Some(elems[k2 as usize].clone())
                            }
                            ExprKind::Unary(UnaryOp::Neg, inner) if matches!(inner.kind, ExprKind::Const(Const::Int(_))) => {
                                let ExprKind::Const(Const::Int(k)) = inner.kind else { unreachable!() };
                                let n = elems.len() as i64;
                                let k2 = n - k;
                                if k2 < 0 || k2 >= n {
                                    return cerr("tuple index out of range", line);
                                }
                                Some(elems[k2 as usize].clone())
                            }
                            _ => return cerr("tuples can only be indexed by a constant", line),
                        }
                    }
                    other => return cerr(format!("indexing a {other} is not supported"), line),
                }
            }
            ExprKind::Tuple(items) => {
                let mut ts = Vec::new();
                for i in items {
                    match self.expr(i)? {
                        Some(t) => {
                            if let ExprKind::Var(v) = i.kind {
                                if self.vars[v].is_union() {
                                    return cerr(format!("{} changes type and is put in a tuple", self.var_name(v)), line);
                                }
                            }
                            if matches!(t, Type::Str) {
                                return cerr(format!("a tuple holding a {t} is not supported yet"), line);
                            }
                            ts.push(t)
                        }
                        None => return Ok(None),
                    }
                }
                Some(Type::Tuple(ts))
            }
            ExprKind::FString(parts) => {
                for p in parts {
                    if let FPart::Value { value, .. } = p {
                        let Some(t) = self.expr(value)? else { return Ok(None) };
                        if !(t.is_scalar() || t == Type::Str) {
                            return cerr(format!("formatting a {t} is not supported"), line);
                        }
                    }
                }
                Some(Type::Str)
            }
            ExprKind::Call { func, args, kwargs } => return self.call(e, func, args, kwargs),
            ExprKind::Slice(..) => {
                for part in e.children() {
                    if self.expr(part)?.is_none() {
                        return Ok(None);
                    }
                }
                Some(Type::None)
            }
        })
    }

    fn check_indices(&mut self, index: &[Expr], line: u32) -> CResult<()> {
        for i in index {
            let t = self.expr_types[i.id].clone();
            if let ExprKind::Slice(..) = i.kind {
                for part in i.children() {
                    if let Some(t) = self.expr_types[part.id].clone() {
                        if !(matches!(t, Type::Int | Type::None) || matches!(t, Type::Np(d) if d.is_int() && d != DType::U64)) {
                            return cerr(format!("slice bounds must be integers or None, got a {t}"), line);
                        }
                    }
                }
                continue;
            }
            if let Some(t) = t {
                let ok = matches!(t, Type::Int) || matches!(t, Type::Np(d) if d.is_int() && d != DType::U64);
                if !ok {
                    return cerr(format!("array indices must be integers, got a {t}"), line);
                }
                if let ExprKind::Var(v) = i.kind {
                    if self.vars[v].is_union() {
                        return cerr(format!("{} changes type and is used as an index", self.var_name(v)), line);
                    }
                }
            }
        }
        Ok(())
    }

    fn call(&mut self, e: &Expr, func: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        // `"...".format(...)`
        if let ExprKind::Attr(base, attr) = &func.kind {
            if let ExprKind::Const(Const::Str(_)) = base.kind {
                if attr != "format" {
                    return cerr(format!("the string method `{attr}` is not supported"), line);
                }
                if !kwargs.is_empty() {
                    return cerr("keyword arguments to str.format are not supported", line);
                }
                for a in args {
                    let Some(t) = self.expr(a)? else { return Ok(None) };
                    if !(t.is_scalar() || t == Type::Str) {
                        return cerr(format!("formatting a {t} is not supported"), line);
                    }
                }
                self.calls.insert(e.id, CallTarget::StrFormat);
                return Ok(Some(Type::Str));
            }
        }
        let Some(g) = self.resolve_name(func)? else {
            return cerr("only calls to functions by name (builtins, math, other compiled functions) are supported", line);
        };
        if let GlobalValue::Builtin(b) = g {
            if matches!(b.form(), Form::Alloc { .. }) {
                return self.np_alloc(e, b, args, kwargs);
            }
        }
        let mut ats = Vec::new();
        for a in args {
            ats.push(self.expr(a)?);
        }
        let mut kts = Vec::new();
        for (k, v) in kwargs {
            kts.push((k.clone(), self.expr(v)?));
        }
        let print = matches!(g, GlobalValue::Builtin(b) if b.form() == Form::Print);
        if !print && !kwargs.is_empty() {
            return cerr("keyword arguments are not supported in this call", line);
        }
        if ats.iter().any(|t| t.is_none()) || kts.iter().any(|(_, t)| t.is_none()) {
            if let GlobalValue::SelfRef = g {
                // fall through: a recursive call's type is the return type found so far
            } else {
                return Ok(None);
            }
        }
        match g {
            GlobalValue::Builtin(b) => {
                let ats: Vec<Type> = ats.into_iter().map(|t| t.unwrap()).collect();
                if print {
                    for (k, t) in &kts {
                        if !matches!(k.as_str(), "sep" | "end" | "flush") {
                            return cerr(format!("print() keyword `{k}` is not supported"), line);
                        }
                        let t = t.clone().unwrap();
                        if k == "flush" {
                            if t != Type::Bool {
                                return cerr("print(flush=...) must be a bool", line);
                            }
                        } else if t != Type::Str && t != Type::None {
                            return cerr(format!("print({k}=...) must be a string"), line);
                        }
                    }
                    let r = b.result_type(&ats, line)?;
                    self.calls.insert(e.id, CallTarget::Builtin(b));
                    return Ok(Some(r));
                }
                let pairs: Vec<(&Expr, &Type)> = args.iter().zip(ats.iter()).collect();
                let r = self.over_members(&pairs, line, &|ts| b.result_type(ts, line))?;
                self.calls.insert(e.id, CallTarget::Builtin(b));
                Ok(Some(r))
            }
            GlobalValue::SelfRef => {
                if ats.len() != self.args.len() {
                    return cerr(format!("{}() takes {} arguments but {} were given", self.f.name, self.args.len(), ats.len()), line);
                }
                for (a, t) in args.iter().zip(&ats) {
                    if let ExprKind::Var(v) = a.kind {
                        if self.vars[v].is_union() {
                            return cerr(format!("{} changes type and is passed to a call", self.var_name(v)), line);
                        }
                    }
                    if let Some(t) = t {
                        let expected = &self.args[args.iter().position(|x| std::ptr::eq(x, a)).unwrap()];
                        if t != expected {
                            return cerr(
                                format!("a recursive call with different argument types ({t} instead of {expected}) is not supported yet"),
                                line,
                            );
                        }
                    }
                }
                if self.ret.is_union() {
                    return cerr("a recursive call to a function that returns different types on different paths", line);
                }
                self.calls.insert(e.id, CallTarget::SelfRecursive);
                Ok(self.ret.ty.clone())
            }
            GlobalValue::Callee(id) => {
                let ats: Vec<Type> = ats.into_iter().map(|t| t.unwrap()).collect();
                for a in args {
                    if let ExprKind::Var(v) = a.kind {
                        if self.vars[v].is_union() {
                            return cerr(format!("{} changes type and is passed to a call", self.var_name(v)), line);
                        }
                    }
                }
                let info = self.res.callee(id, &ats, self.pure, line)?;
                if !info.pure {
                    self.callee_effects = true;
                }
                if !info.pure && self.pure {
                    // Calling a function with side effects: this one cannot be re-run either.
                    self.pure = false;
                    self.changed = true;
                }
                let mut ret = info.ret.clone();
                if info.ret_union() {
                    // The callee returns different types on different paths: speculate that it
                    // returns its unified member (guarded; deoptimize otherwise), which needs a
                    // caller that can be re-run.
                    let idx = info.ret_members.iter().position(|m| *m == info.ret);
                    match (self.pure, idx) {
                        (true, Some(i)) => {
                            self.guards.insert(e.id, i);
                        }
                        _ => {
                            return cerr(
                                "the called function returns different types on different paths; calling it from a function with side effects is not supported yet",
                                line,
                            )
                        }
                    }
                    ret = info.ret.clone();
                }
                self.calls.insert(e.id, CallTarget::Callee(info));
                Ok(Some(ret))
            }
            GlobalValue::Const(_) | GlobalValue::Cell { .. } => cerr("a constant is not callable", line),
            GlobalValue::Math | GlobalValue::Numpy => cerr("a module is not callable", line),
            GlobalValue::NpDType(_) => cerr("calling a NumPy scalar type is not supported yet", line),
            GlobalValue::Unsupported(why) => cerr(why, line),
        }
    }

    /// `numpy.empty(shape, dtype)`, `numpy.zeros_like(a)`, ...: a new C-contiguous array (the
    /// constructor's type rule gives it from the first argument; a `dtype` argument changes
    /// its dtype).
    fn np_alloc(&mut self, e: &Expr, b: &'static dyn BuiltinFn, args: &[Expr], kwargs: &[(String, Expr)]) -> CResult<Option<Type>> {
        let line = e.span.line;
        let what = b.name();
        let mut dtype_expr: Option<&Expr> = None;
        for (k, v) in kwargs {
            match k.as_str() {
                "dtype" => dtype_expr = Some(v),
                other => return cerr(format!("{what}() keyword `{other}` is not supported in compiled code"), line),
            }
        }
        if args.len() == 2 && dtype_expr.is_none() {
            dtype_expr = Some(&args[1]);
        } else if args.len() != 1 {
            return cerr(format!("{what}() takes the shape (or array) and an optional dtype here"), line);
        }
        let Some(first) = self.expr(&args[0])? else { return Ok(None) };
        let Type::Array(mut at) = b.result_type(&[first], line)? else { unreachable!("a NumPy constructor makes an array") };
        if let Some(d) = dtype_expr {
            at.dtype = match self.resolve_name(d)? {
                Some(GlobalValue::NpDType(x)) => x,
                Some(GlobalValue::Builtin(b)) if b.as_dtype().is_some() => b.as_dtype().unwrap(),
                _ => match &d.kind {
                    ExprKind::Const(Const::Str(s)) => match DType::from_name(s) {
                        Some(x) => x,
                        None => return cerr(format!("the dtype {s:?} is not supported in compiled code"), line),
                    },
                    _ => return cerr("the dtype must be a NumPy type (numpy.float64, ...), float, int or bool", line),
                },
            };
        }
        self.calls.insert(e.id, CallTarget::Builtin(b));
        Ok(Some(Type::Array(at)))
    }
}

/// Built-in exception types that `raise` may name in compiled code.
pub fn is_known_exception(name: &str) -> bool {
    matches!(
        name,
        "ValueError"
            | "TypeError"
            | "IndexError"
            | "KeyError"
            | "ZeroDivisionError"
            | "OverflowError"
            | "ArithmeticError"
            | "RuntimeError"
            | "AssertionError"
            | "NotImplementedError"
            | "Exception"
            | "StopIteration"
            | "LookupError"
    )
}

/// A negative integer constant (`-3` parses as a unary minus on 3).
pub fn is_negative_const(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Const(Const::Int(k)) => *k < 0,
        ExprKind::Unary(UnaryOp::Neg, inner) => matches!(inner.kind, ExprKind::Const(Const::Int(k)) if k > 0),
        _ => false,
    }
}

fn const_type(c: &Const) -> Type {
    match c {
        Const::Int(_) => Type::Int,
        Const::Float(_) => Type::Float,
        Const::Bool(_) => Type::Bool,
        Const::None => Type::None,
        Const::Str(_) => Type::Str,
    }
}

fn truth_ok(t: &Type, line: u32) -> CResult<()> {
    if t.is_scalar() || *t == Type::None {
        Ok(())
    } else {
        cerr(format!("the truth value of a {t} is not supported"), line)
    }
}

fn attr_type(bt: &Type, attr: &str, line: u32) -> CResult<Type> {
    match (bt, attr) {
        (Type::Array(at), "shape") => Ok(Type::Tuple(vec![Type::Int; at.ndim as usize])),
        (Type::Array(_), "size") | (Type::Array(_), "ndim") => Ok(Type::Int),
        (Type::Float, "real") | (Type::Float, "imag") => Ok(Type::Float),
        _ => cerr(format!("the attribute `.{attr}` of a {bt} is not supported"), line),
    }
}

/// Can a value of type `t` be stored into an array of `dtype` the way NumPy's `__setitem__` would?
fn check_store(dtype: DType, t: &Type, line: u32) -> CResult<()> {
    let ok = match t {
        Type::Bool => true,
        Type::Int => dtype != DType::Bool,
        Type::Float => dtype.is_float(),
        Type::Np(d) => {
            if dtype.is_float() {
                true
            } else if dtype == DType::Bool {
                *d == DType::Bool
            } else if *d == DType::U64 {
                // NumPy raises "Python int too large to convert to C long" for large values.
                dtype == DType::U64
            } else {
                d.is_int() || *d == DType::Bool
            }
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        cerr(format!("storing a {t} into a {} array is not supported", dtype.name()), line)
    }
}

/// The result type of `a op b`.
///
/// Sources: CPython's numeric tower for Python scalars; NEP 50 for NumPy scalars.
pub fn binop_type(op: BinOp, a: &Type, b: &Type, line: u32) -> CResult<Type> {
    let bad = || cerr(format!("the operator {} between a {a} and a {b} is not supported", op_symbol(op)), line);
    if !a.is_scalar() || !b.is_scalar() {
        return bad();
    }
    let Some(r) = arith_result(a, b) else { return bad() };
    match op {
        BinOp::Div => Ok(match r {
            Type::Int => Type::Float,
            Type::Np(d) if !d.is_float() => Type::Np(DType::F64),
            other => other,
        }),
        BinOp::Pow => match (&r, a, b) {
            // int ** int: an int, or a float when the exponent is negative (decided at run time;
            // Heron requires a non-negative exponent and deoptimizes otherwise).
            (Type::Int, _, _) => Ok(Type::Int),
            (Type::Np(d), _, _) if *d == DType::U64 => bad(),
            (Type::Np(DType::Bool), _, _) => bad(),
            _ => Ok(r),
        },
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => match (a, b) {
            (Type::Bool, Type::Bool) => Ok(Type::Bool),
            _ if r == Type::Int => Ok(Type::Int),
            _ if matches!(r, Type::Np(d) if d.is_int() && d != DType::U64) => Ok(r),
            _ => bad(),
        },
        BinOp::LShift | BinOp::RShift => match r {
            Type::Int => Ok(Type::Int),
            _ => bad(),
        },
        _ => match r {
            Type::Np(DType::Bool) | Type::Np(DType::U64) => bad(),
            _ => Ok(r),
        },
    }
}

/// Operators whose errors differ between ints and floats (ZeroDivisionError messages, pow).
fn error_sensitive(op: BinOp) -> bool {
    matches!(op, BinOp::Div | BinOp::FloorDiv | BinOp::Mod | BinOp::Pow)
}

pub fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "^",
        BinOp::LShift => "<<",
        BinOp::RShift => ">>",
    }
}

pub fn unary_type(op: UnaryOp, a: &Type, line: u32) -> CResult<Type> {
    match op {
        UnaryOp::Not => {
            truth_ok(a, line)?;
            Ok(Type::Bool)
        }
        UnaryOp::Neg | UnaryOp::Pos => match a {
            Type::Bool | Type::Int => Ok(Type::Int),
            Type::Float => Ok(Type::Float),
            Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(a.clone()),
            _ => cerr(format!("unary minus/plus on a {a} is not supported"), line),
        },
        UnaryOp::Invert => match a {
            Type::Bool | Type::Int => Ok(Type::Int),
            _ => cerr(format!("`~` on a {a} is not supported"), line),
        },
    }
}

/// The result type of `a op b` for a comparison: `bool`, or `numpy.bool` when NumPy compares.
pub fn compare_type(op: CmpOp, a: &Type, b: &Type, line: u32) -> CResult<Type> {
    let _ = op;
    if a.is_scalar() && b.is_scalar() {
        let np = matches!(a, Type::Np(_)) || matches!(b, Type::Np(_));
        if np && (a == &Type::Np(DType::U64) || b == &Type::Np(DType::U64)) && (a.is_intlike() && b.is_intlike()) {
            return cerr("comparing numpy.uint64 with signed integers is not supported", line);
        }
        return Ok(if np { Type::Np(DType::Bool) } else { Type::Bool });
    }
    if matches!((a, b), (Type::None, Type::None)) {
        return Ok(Type::Bool);
    }
    cerr(format!("comparing a {a} with a {b} is not supported"), line)
}
