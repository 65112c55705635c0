//! Live-range splitting: each local variable becomes one variable per *web* (the definitions
//! and uses connected by reaching definitions, Muchnick 7.4 / Cooper & Torczon 9.3), so that
//! type inference gives every web its own type.
//!
//! Python code reuses names: `i` is a `range()` loop's int, then `window - 1` (a numpy.intp);
//! a parameter `x` (a numpy.float32) is rebound to `math.exp(x)` (a float) on one path only.
//! One variable per name would hold a union of both types there, which indexing and NumPy
//! promotion cannot take (issue 12; real kernels `move_nanmean`, `expit`). Split into webs,
//! every use sees exactly the definitions that may reach it, as the interpreter does.
//!
//! The rules that keep it exact:
//! - a use and all the definitions reaching it are one web, so a value read is always one of
//!   the web's definitions; a definition no use reads is a web of its own;
//! - `x op= e` reads and writes one variable: its definition joins the web of its read;
//! - a loop's variable keeps its earlier value when the loop runs zero times (the definitions
//!   before the loop reach past it);
//! - the parameters' webs keep the parameters' ids; every web keeps the Python name, and at
//!   any statement at most one web of a name is both assigned and live (two would share a
//!   reaching definition, so they would be one web), which is what deoptimization hands to the
//!   interpreter (`codegen::deopt`);
//! - the front end's hidden variables (`$iter0`, ...) and the variables a loop's origin names
//!   (`for x in array`, `zip`, `enumerate`) are left whole.

use std::collections::{BTreeSet, HashMap};

use crate::ir::*;

/// A definition site: a parameter (`stmt == usize::MAX`), or the `k`-th variable target of a
/// statement (a `for` loop's variable is its statement's target 0).
type Site = (usize, usize);

type State = BTreeSet<usize>;

struct Webs {
    def_ids: HashMap<Site, usize>,
    def_var: Vec<VarId>,
    /// Union-find over definitions (`0..def_var.len()`) and uses (`USE + expr id`).
    parent: HashMap<usize, usize>,
    loops: Vec<(State, State)>,
}

/// Node numbers of uses in the union-find (definitions count up from 0).
const USE: usize = 1 << 40;

impl Webs {
    fn find(&mut self, x: usize) -> usize {
        let p = *self.parent.entry(x).or_insert(x);
        if p == x {
            return x;
        }
        let r = self.find(p);
        self.parent.insert(x, r);
        r
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra.max(rb), ra.min(rb));
        }
    }

    fn def(&mut self, site: Site, v: VarId, state: &mut State) -> usize {
        let n = self.def_var.len();
        let d = *self.def_ids.entry(site).or_insert(n);
        if d == n {
            self.def_var.push(v);
        }
        self.find(d);
        state.retain(|&x| self.def_var[x] != v);
        state.insert(d);
        d
    }

    /// Join the use `node` with every definition of `v` reaching it.
    fn read(&mut self, v: VarId, node: usize, state: &State) {
        self.find(node);
        let reaching: Vec<usize> = state.iter().copied().filter(|&d| self.def_var[d] == v).collect();
        for d in reaching {
            self.union(d, node);
        }
    }

    fn expr(&mut self, e: &Expr, state: &State) {
        if let ExprKind::Var(v) = e.kind {
            self.read(v, USE + e.id, state);
        }
        for c in e.children() {
            self.expr(c, state);
        }
    }

    fn target(&mut self, t: &Target, sid: usize, k: &mut usize, state: &mut State) {
        match t {
            Target::Var(v) => {
                self.def((sid, *k), *v, state);
                *k += 1;
            }
            Target::Index { base, index, .. } => {
                self.expr(base, state);
                index.iter().for_each(|i| self.expr(i, state));
            }
            Target::Tuple(ts) => ts.iter().for_each(|t| self.target(t, sid, k, state)),
        }
    }

    /// The definitions reaching the end of `body` from `state` (empty where it cannot end).
    fn block(&mut self, body: &[Stmt], mut state: State) -> State {
        for s in body {
            state = self.stmt(s, state);
        }
        state
    }

    fn stmt(&mut self, s: &Stmt, mut state: State) -> State {
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                self.expr(value, &state);
                let mut k = 0;
                targets.iter().for_each(|t| self.target(t, s.id, &mut k, &mut state));
                state
            }
            StmtKind::AugAssign { target, value, .. } => {
                if let Target::Var(v) = target {
                    self.expr(value, &state);
                    let node = USE + usize::MAX / 4 + s.id;
                    self.read(*v, node, &state);
                    let d = self.def((s.id, 0), *v, &mut state);
                    self.union(d, node);
                } else {
                    let mut k = 0;
                    self.target(target, s.id, &mut k, &mut state);
                    self.expr(value, &state);
                }
                state
            }
            StmtKind::Expr(e) | StmtKind::Assert { test: e, .. } => {
                self.expr(e, &state);
                state
            }
            StmtKind::Return(e) => {
                e.iter().for_each(|e| self.expr(e, &state));
                State::new()
            }
            StmtKind::Raise { .. } => State::new(),
            StmtKind::Pass => state,
            StmtKind::Break => {
                self.loops.last_mut().expect("break outside a loop").0.extend(state);
                State::new()
            }
            StmtKind::Continue => {
                self.loops.last_mut().expect("continue outside a loop").1.extend(state);
                State::new()
            }
            StmtKind::If { cond, then, orelse } => {
                self.expr(cond, &state);
                let mut a = self.block(then, state.clone());
                a.extend(self.block(orelse, state));
                a
            }
            StmtKind::While { cond, body, orelse } => self.lp(state, Some(cond), None, body, orelse),
            StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
                for e in start.iter().chain(std::iter::once(stop)).chain(step.iter()) {
                    self.expr(e, &state);
                }
                self.lp(state, None, Some((s.id, *var)), body, orelse)
            }
        }
    }

    /// A loop: the header's state is the entry's joined with the back edges' (to a fixed
    /// point); the exit is the header's (then `orelse`) joined with the breaks'.
    fn lp(&mut self, entry: State, cond: Option<&Expr>, var: Option<(usize, VarId)>, body: &[Stmt], orelse: &[Stmt]) -> State {
        let mut header = entry;
        loop {
            if let Some(c) = cond {
                self.expr(c, &header);
            }
            let mut start = header.clone();
            if let Some((sid, v)) = var {
                self.def((sid, 0), v, &mut start);
            }
            self.loops.push((State::new(), State::new()));
            let end = self.block(body, start);
            let (breaks, continues) = self.loops.pop().unwrap();
            let before = header.len();
            header.extend(end);
            header.extend(continues);
            if header.len() == before {
                let mut out = self.block(orelse, header);
                out.extend(breaks);
                return out;
            }
        }
    }
}

/// Rewrite `f` so that each web of a local variable is a variable of its own (see the module
/// comment). Variables keep their names; new ones are appended to `f.vars`.
pub fn split(f: &mut Function) {
    let mut w = Webs { def_ids: HashMap::new(), def_var: Vec::new(), parent: HashMap::new(), loops: Vec::new() };
    let mut entry = State::new();
    for (k, &p) in f.params.iter().enumerate() {
        w.def((usize::MAX, k), p, &mut entry);
    }
    w.block(&f.body, entry);

    // Variables left whole.
    let mut whole = vec![false; f.vars.len()];
    for (v, name) in f.vars.iter().enumerate() {
        whole[v] = name.starts_with('$');
    }
    walk_stmts(&f.body, &mut |s| {
        if let StmtKind::ForRange { origin, .. } = &s.kind {
            match *origin {
                LoopOrigin::Range => {}
                LoopOrigin::Each { iter, item } => {
                    whole[iter] = true;
                    whole[item] = true;
                }
                LoopOrigin::Zip { first, count } => (first..first + count as usize).for_each(|v| whole[v] = true),
                LoopOrigin::Enumerate { iter, start } => {
                    whole[iter] = true;
                    whole[start] = true;
                }
            }
        }
    });

    // One id per web: the parameter's web keeps the parameter's id, else the web of the first
    // definition keeps the variable's id; the others get new ids.
    let mut web_id: HashMap<usize, VarId> = HashMap::new();
    let mut kept = vec![false; f.vars.len()];
    for (k, &p) in f.params.iter().enumerate() {
        let d = w.def_ids[&(usize::MAX, k)];
        let r = w.find(d);
        web_id.insert(r, p);
        kept[p] = true;
    }
    for d in 0..w.def_var.len() {
        let v = w.def_var[d];
        let r = w.find(d);
        if web_id.contains_key(&r) || whole[v] {
            continue;
        }
        let id = if kept[v] {
            f.vars.push(f.vars[v].clone());
            f.vars.len() - 1
        } else {
            kept[v] = true;
            v
        };
        web_id.insert(r, id);
    }
    if f.vars.len() == whole.len() {
        return;
    }
    let mut rw = Rewrite { w, web_id };
    rw.block(&mut f.body);
}

struct Rewrite {
    w: Webs,
    web_id: HashMap<usize, VarId>,
}

impl Rewrite {
    fn id_of(&mut self, node: Option<usize>, v: VarId) -> VarId {
        let Some(node) = node else { return v };
        if !self.w.parent.contains_key(&node) {
            return v;
        }
        let r = self.w.find(node);
        self.web_id.get(&r).copied().unwrap_or(v)
    }

    fn def_site(&mut self, site: Site, v: &mut VarId) {
        let d = self.w.def_ids.get(&site).copied();
        *v = self.id_of(d, *v);
    }

    fn expr(&mut self, e: &mut Expr) {
        if let ExprKind::Var(v) = &mut e.kind {
            *v = self.id_of(Some(USE + e.id), *v);
            return;
        }
        match &mut e.kind {
            ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Global(_) => {}
            ExprKind::Attr(a, _) | ExprKind::Unary(_, a) => self.expr(a),
            ExprKind::BinOp(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Compare(a, rest) => {
                self.expr(a);
                rest.iter_mut().for_each(|(_, e)| self.expr(e));
            }
            ExprKind::BoolOp(_, v) | ExprKind::Tuple(v) => v.iter_mut().for_each(|e| self.expr(e)),
            ExprKind::IfExp(c, a, b) => {
                self.expr(c);
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Index(b, ix) => {
                self.expr(b);
                ix.iter_mut().for_each(|e| self.expr(e));
            }
            ExprKind::Call { func, args, kwargs } => {
                self.expr(func);
                args.iter_mut().for_each(|e| self.expr(e));
                kwargs.iter_mut().for_each(|(_, e)| self.expr(e));
            }
            ExprKind::Slice(a, b, c) => [a, b, c].into_iter().flatten().for_each(|e| self.expr(e)),
            ExprKind::FString(parts) => parts.iter_mut().for_each(|p| {
                if let FPart::Value { value, .. } = p {
                    self.expr(value);
                }
            }),
        }
    }

    fn target(&mut self, t: &mut Target, sid: usize, k: &mut usize) {
        match t {
            Target::Var(v) => {
                self.def_site((sid, *k), v);
                *k += 1;
            }
            Target::Index { base, index, .. } => {
                self.expr(base);
                index.iter_mut().for_each(|i| self.expr(i));
            }
            Target::Tuple(ts) => ts.iter_mut().for_each(|t| self.target(t, sid, k)),
        }
    }

    fn block(&mut self, body: &mut [Stmt]) {
        for s in body {
            let sid = s.id;
            match &mut s.kind {
                StmtKind::Assign { targets, value } => {
                    self.expr(value);
                    let mut k = 0;
                    targets.iter_mut().for_each(|t| self.target(t, sid, &mut k));
                }
                StmtKind::AugAssign { target, value, .. } => {
                    self.expr(value);
                    let mut k = 0;
                    self.target(target, sid, &mut k);
                }
                StmtKind::Expr(e) | StmtKind::Assert { test: e, .. } | StmtKind::Return(Some(e)) => self.expr(e),
                StmtKind::If { cond, then, orelse } | StmtKind::While { cond, body: then, orelse } => {
                    self.expr(cond);
                    self.block(then);
                    self.block(orelse);
                }
                StmtKind::ForRange { var, start, stop, step, body, orelse, .. } => {
                    for e in start.iter_mut().chain(std::iter::once(stop)).chain(step.iter_mut()) {
                        self.expr(e);
                    }
                    self.def_site((sid, 0), var);
                    self.block(body);
                    self.block(orelse);
                }
                StmtKind::Return(None) | StmtKind::Raise { .. } | StmtKind::Pass | StmtKind::Break | StmtKind::Continue => {}
            }
        }
    }
}
