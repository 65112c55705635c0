//! Front end: lowering of a Python `ast.FunctionDef` (parsed by the running interpreter's own
//! `ast` module, walked here through pyo3) into Heron IR.
//!
//! Parsing with the interpreter's `ast` gives exact grammar parity on every supported CPython
//! (DESIGN.md "The pipeline"). Anything outside the compiled subset is a `CompileError` naming the
//! construct and its line, so the function runs as plain Python and the report says why.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::ir::*;

mod webs;


fn err<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(CompileError::new(msg, line))
}

fn pyerr(e: PyErr, line: u32) -> CompileError {
    CompileError::new(format!("internal front-end error: {e}"), line)
}

/// The class name of an AST node (`"BinOp"`, `"Name"`, ...).
fn kind(node: &Bound<'_, PyAny>) -> String {
    node.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn span_of(node: &Bound<'_, PyAny>) -> Span {
    let get = |f: &str| node.getattr(f).and_then(|v| v.extract::<Option<u32>>()).ok().flatten();
    let line = get("lineno").unwrap_or(0);
    let col = get("col_offset").unwrap_or(0);
    Span { line, col, end_line: get("end_lineno").unwrap_or(line), end_col: get("end_col_offset").unwrap_or(col) }
}

struct Lowerer {
    vars: Vec<String>,
    var_ids: HashMap<String, VarId>,
    n_exprs: usize,
    n_stmts: usize,
    /// The AST path of the statement being lowered (see `ir::AstPath`).
    path: AstPath,
    /// `python -O`: `assert` statements are dropped, as CPython's compiler drops them.
    optimize: bool,
    /// The body has a comprehension: each statement goes through
    /// `heron._comprehensions.rewrite` first.
    comprehensions: bool,
    /// The next free number for the hidden names of comprehensions (`$g<n>_...`).
    comp_counter: usize,
    /// Lowering the statements a comprehension became: they all keep the original statement's
    /// path (a deoptimization in them runs that whole statement again), and are recorded in
    /// `hidden_stmts`.
    flat_paths: bool,
    hidden_stmts: std::collections::HashSet<usize>,
    comp_ends: std::collections::HashSet<usize>,
    /// The running interpreter's minor version (3.<minor>).
    minor: u32,
}

/// Lower one `ast.FunctionDef` node into Heron IR.
///
/// `node` is the `ast.FunctionDef` for the function, `filename` and `qualname` name it in
/// errors and tracebacks. Errors: a `CompileError` for any construct outside the subset.
pub fn lower_function(node: &Bound<'_, PyAny>, filename: &str, qualname: &str, optimize: bool) -> CResult<Function> {
    let fspan = span_of(node);
    let line = fspan.line;
    match kind(node).as_str() {
        "FunctionDef" => {}
        "AsyncFunctionDef" => return err("async functions are not compiled", line),
        other => return err(format!("expected a function definition, found {other}"), line),
    }
    let name: String = node.getattr("name").and_then(|n| n.extract()).map_err(|e| pyerr(e, line))?;
    let args = node.getattr("args").map_err(|e| pyerr(e, line))?;
    // Positional defaults are bound by the dispatcher (`Dispatcher::bind`), as CPython binds
    // them; compiled code always gets every argument.
    for field in ["kwonlyargs", "kw_defaults"] {
        let v = args.getattr(field).map_err(|e| pyerr(e, line))?;
        if v.len().unwrap_or(0) > 0 {
            let what = match field {
                "posonlyargs" => "positional-only parameters",
                "kwonlyargs" => "keyword-only parameters",
                _ => "default argument values",
            };
            return err(format!("{what} are not supported yet"), line);
        }
    }
    for field in ["vararg", "kwarg"] {
        if !args.getattr(field).map_err(|e| pyerr(e, line))?.is_none() {
            return err("*args and **kwargs parameters are not supported yet", line);
        }
    }
    let minor = node.py().version_info().minor as u32;
    let mut lw = Lowerer {
        vars: Vec::new(),
        var_ids: HashMap::new(),
        n_exprs: 0,
        n_stmts: 0,
        path: Vec::new(),
        optimize,
        comprehensions: false,
        comp_counter: 0,
        flat_paths: false,
        hidden_stmts: Default::default(),
        comp_ends: Default::default(),
        minor,
    };
    let mut params = Vec::new();
    let positional = args.getattr("posonlyargs").and_then(|p| p.add(args.getattr("args")?)).map_err(|e| pyerr(e, line))?;
    for a in positional.try_iter().map_err(|e| pyerr(e, line))? {
        let a = a.map_err(|e| pyerr(e, line))?;
        let pname: String = a.getattr("arg").and_then(|n| n.extract()).map_err(|e| pyerr(e, line))?;
        params.push(lw.var(&pname));
    }
    let body_node = node.getattr("body").map_err(|e| pyerr(e, line))?;
    // Locals are the names bound anywhere in the body (Python's scoping rule).
    lw.collect_locals(&body_node)?;
    let body = lw.stmts(&body_node, Field::Body)?;
    let mut f = Function {
        name,
        qualname: qualname.to_string(),
        filename: filename.to_string(),
        span: fspan,
        params,
        vars: lw.vars,
        body,
        n_exprs: lw.n_exprs,
        n_stmts: lw.n_stmts,
        hidden_stmts: lw.hidden_stmts,
        comp_ends: lw.comp_ends,
    };
    webs::split(&mut f);
    Ok(f)
}

impl Lowerer {
    fn var(&mut self, name: &str) -> VarId {
        if let Some(&v) = self.var_ids.get(name) {
            return v;
        }
        let v = self.vars.len();
        self.vars.push(name.to_string());
        self.var_ids.insert(name.to_string(), v);
        v
    }

    /// A statement made from the Python statement being lowered (or, with `origin` None, one
    /// the front end adds).
    fn mk_stmt(&mut self, kind: StmtKind, span: Span, origin: Option<AstPath>) -> Stmt {
        let id = self.n_stmts;
        self.n_stmts += 1;
        if self.flat_paths {
            self.hidden_stmts.insert(id);
        }
        Stmt { kind, span, id, origin }
    }

    fn expr(&mut self, kind: ExprKind, span: Span) -> Expr {
        let id = self.n_exprs;
        self.n_exprs += 1;
        Expr { id, kind, span }
    }

    /// Find every `Name` stored to in the body (not descending into nested scopes).
    fn collect_locals(&mut self, body: &Bound<'_, PyAny>) -> CResult<()> {
        let py = body.py();
        let ast = py.import("ast").map_err(|e| pyerr(e, 0))?;
        let walk = ast.getattr("walk").map_err(|e| pyerr(e, 0))?;
        // A comprehension's loop variables are its own, not the function's.
        let mut comp_targets = std::collections::HashSet::new();
        for stmt in body.try_iter().map_err(|e| pyerr(e, 0))? {
            let stmt = stmt.map_err(|e| pyerr(e, 0))?;
            let nodes = walk.call1((&stmt,)).map_err(|e| pyerr(e, 0))?;
            let nodes = PyList::new(py, nodes.try_iter().map_err(|e| pyerr(e, 0))?.flatten().collect::<Vec<_>>())
                .map_err(|e| pyerr(e, 0))?;
            for n in nodes.iter() {
                let k = kind(&n);
                let line = span_of(&n).line;
                match k.as_str() {
                    "Name" => {
                        let ctx = n.getattr("ctx").map_err(|e| pyerr(e, line))?;
                        if kind(&ctx) != "Load" && !comp_targets.contains(&(n.as_ptr() as usize)) {
                            let id: String = n.getattr("id").and_then(|v| v.extract()).map_err(|e| pyerr(e, line))?;
                            self.var(&id);
                        }
                    }
                    "FunctionDef" | "AsyncFunctionDef" | "ClassDef" | "Lambda" => {
                        return err(format!("a nested {} is not supported", describe(&k)), line)
                    }
                    "ListComp" | "SetComp" | "DictComp" | "GeneratorExp" => {
                        // Rewritten statement by statement (`stmt`), or refused there.
                        self.comprehensions = true;
                        for g in n.getattr("generators").and_then(|g| g.try_iter()).map_err(|e| pyerr(e, line))? {
                            let t = g.and_then(|g| g.getattr("target")).map_err(|e| pyerr(e, line))?;
                            for m in walk.call1((&t,)).and_then(|w| w.try_iter()).map_err(|e| pyerr(e, line))? {
                                let m = m.map_err(|e| pyerr(e, line))?;
                                comp_targets.insert(m.as_ptr() as usize);
                            }
                        }
                    }
                    "Global" | "Nonlocal" => return err("`global` and `nonlocal` statements are not supported", line),
                    "Yield" | "YieldFrom" => return err("generators are not compiled", line),
                    "Await" => return err("`await` is not compiled", line),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Lower the statements of `field` of the statement at `self.path` (the function's body
    /// when the path is empty).
    fn stmts(&mut self, body: &Bound<'_, PyAny>, field: Field) -> CResult<Vec<Stmt>> {
        let mut out = Vec::new();
        for (i, s) in body.try_iter().map_err(|e| pyerr(e, 0))?.enumerate() {
            let s = s.map_err(|e| pyerr(e, 0))?;
            if !self.flat_paths {
                self.path.push((field, i as u32));
            }
            let st = self.stmt(&s);
            if !self.flat_paths {
                self.path.pop();
            }
            out.extend(st?);
        }
        Ok(out)
    }

    /// One statement; a statement with comprehensions (`sum(x for x in a)`) becomes the
    /// statements `heron._comprehensions.rewrite` makes of it (`Function::hidden_stmts`), then
    /// itself with their result (`Function::comp_ends`).
    fn stmt(&mut self, node: &Bound<'_, PyAny>) -> CResult<Vec<Stmt>> {
        if !self.comprehensions {
            return Ok(self.stmt_plain(node)?.into_iter().collect());
        }
        let line = span_of(node).line;
        let py = node.py();
        let r = py
            .import("heron._comprehensions")
            .and_then(|m| m.getattr("rewrite")?.call1((node, self.comp_counter, self.minor)))
            .map_err(|e| pyerr(e, line))?;
        if r.is_none() {
            return Ok(self.stmt_plain(node)?.into_iter().collect());
        }
        if let Ok(why) = r.extract::<String>() {
            return err(why, line);
        }
        let (hoisted, new, counter): (Bound<'_, PyAny>, Bound<'_, PyAny>, usize) = r.extract().map_err(|e| pyerr(e, line))?;
        self.comp_counter = counter;
        let saved = std::mem::replace(&mut self.flat_paths, true);
        let mut out = Vec::new();
        let mut result = Ok(());
        for h in hoisted.try_iter().map_err(|e| pyerr(e, line))? {
            let h = h.map_err(|e| pyerr(e, line))?;
            match self.stmt_plain(&h) {
                Ok(s) => out.extend(s),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.flat_paths = saved;
        result?;
        if let Some(s) = self.stmt_plain(&new)? {
            self.comp_ends.insert(s.id);
            out.push(s);
        }
        Ok(out)
    }

    fn stmt_plain(&mut self, node: &Bound<'_, PyAny>) -> CResult<Option<Stmt>> {
        let span = span_of(node);
        let line = span.line;
        let get = |f: &str| node.getattr(f).map_err(|e| pyerr(e, line));
        let k = kind(node);
        let kind = match k.as_str() {
            "Assign" => {
                let mut targets = Vec::new();
                for t in get("targets")?.try_iter().map_err(|e| pyerr(e, line))? {
                    targets.push(self.target(&t.map_err(|e| pyerr(e, line))?)?);
                }
                StmtKind::Assign { targets, value: self.lower(&get("value")?)? }
            }
            "AnnAssign" => {
                let value = get("value")?;
                if value.is_none() {
                    return Ok(None);
                }
                StmtKind::Assign { targets: vec![self.target(&get("target")?)?], value: self.lower(&value)? }
            }
            "AugAssign" => StmtKind::AugAssign {
                target: self.target(&get("target")?)?,
                op: binop(&get("op")?, line)?,
                value: self.lower(&get("value")?)?,
            },
            "Expr" => {
                let value = get("value")?;
                // A docstring or other bare constant does nothing.
                if kind(&value) == "Constant" {
                    return Ok(None);
                }
                StmtKind::Expr(self.lower(&value)?)
            }
            "If" => StmtKind::If {
                cond: self.lower(&get("test")?)?,
                then: self.stmts(&get("body")?, Field::Body)?,
                orelse: self.stmts(&get("orelse")?, Field::Orelse)?,
            },
            "While" => StmtKind::While {
                cond: self.lower(&get("test")?)?,
                body: self.stmts(&get("body")?, Field::Body)?,
                orelse: self.stmts(&get("orelse")?, Field::Orelse)?,
            },
            "For" => self.for_stmt(node, line)?,
            "Break" => StmtKind::Break,
            "Continue" => StmtKind::Continue,
            "Pass" => StmtKind::Pass,
            "Return" => {
                let v = get("value")?;
                StmtKind::Return(if v.is_none() { None } else { Some(self.lower(&v)?) })
            }
            "Raise" => {
                if !get("cause")?.is_none() {
                    return err("`raise ... from ...` is not supported yet", line);
                }
                let exc = get("exc")?;
                if exc.is_none() {
                    return err("a bare `raise` is not supported", line);
                }
                let (name, msg) = exception_spec(&exc, line)?;
                StmtKind::Raise { exc: name, msg }
            }
            "Assert" if self.optimize => return Ok(None),
            "Assert" => {
                let msg = get("msg")?;
                let msg = if msg.is_none() {
                    None
                } else {
                    match const_str(&msg) {
                        Some(s) => Some(s),
                        None => return err("an assert message must be a string constant", line),
                    }
                };
                StmtKind::Assert { test: self.lower(&get("test")?)?, msg }
            }
            other => return err(format!("the statement `{}` is not supported yet", describe(other)), line),
        };
        let origin = Some(self.path.clone());
        Ok(Some(self.mk_stmt(kind, span, origin)))
    }

    fn for_stmt(&mut self, node: &Bound<'_, PyAny>, line: u32) -> CResult<StmtKind> {
        let get = |f: &str| node.getattr(f).map_err(|e| pyerr(e, line));
        let target = get("target")?;
        if kind(&target) == "Tuple" {
            let iter = get("iter")?;
            let called = |names: &[&str]| -> bool {
                kind(&iter) == "Call"
                    && iter.getattr("func").map(|f| kind(&f) == "Name" && f.getattr("id").and_then(|v| v.extract::<String>()).map(|s| names.contains(&s.as_str())).unwrap_or(false)).unwrap_or(false)
            };
            if called(&["zip", "enumerate"]) {
                return self.for_zip_enumerate(&target, &iter, node, line);
            }
            // `for i, j in np.ndindex(shape)`, `for (i, j), x in np.ndenumerate(a)` (any other
            // iterable of tuples): each item unpacked from a hidden variable, `$item =
            // $iter[$k]; i, j = $item`.
            let names = self.target(&target)?;
            fn only_names(t: &Target) -> bool {
                match t {
                    Target::Var(_) => true,
                    Target::Tuple(ts) => ts.iter().all(only_names),
                    Target::Index { .. } => false,
                }
            }
            if !only_names(&names) {
                return err("only names can be unpacked by a `for` loop yet", line);
            }
            let n = self.vars.len();
            let item = self.var(&format!("$item{n}"));
            return self.for_each(item, Some(names), &iter, node, line);
        }
        if kind(&target) != "Name" {
            return err("only `for name in range(...)` loops are supported yet", line);
        }
        let id: String = target.getattr("id").and_then(|v| v.extract()).map_err(|e| pyerr(e, line))?;
        let var = self.var(&id);
        let iter = get("iter")?;
        // `range(...)`, or a parallel spelling of it: `prange(...)`, `heron.prange(...)`,
        // `numba.prange(...)` (inference checks what the name holds).
        let callee = if kind(&iter) == "Call" { Some(iter.getattr("func").map_err(|e| pyerr(e, line))?) } else { None };
        let name_is = |f: &Bound<'_, PyAny>, names: &[&str]| kind(f) == "Name" && f.getattr("id").and_then(|v| v.extract::<String>()).map(|s| names.contains(&s.as_str())).unwrap_or(false);
        let is_range = match &callee {
            Some(f) if name_is(f, &["range", "prange"]) => {
                let id: String = f.getattr("id").and_then(|v| v.extract()).map_err(|e| pyerr(e, line))?;
                !self.var_ids.contains_key(&id)
            }
            Some(f) if kind(f) == "Attribute" => {
                f.getattr("attr").and_then(|a| a.extract::<String>()).map(|a| a == "prange").unwrap_or(false)
                    && f.getattr("value").map(|v| kind(&v) == "Name").unwrap_or(false)
            }
            _ => false,
        };
        if !is_range {
            return self.for_each(var, None, &iter, node, line);
        }
        let iter_fn = Some(Box::new(self.lower(callee.as_ref().expect("a call"))?));
        if iter.getattr("keywords").map_err(|e| pyerr(e, line))?.len().unwrap_or(0) > 0 {
            return err("range() takes no keyword arguments", line);
        }
        let mut args = Vec::new();
        for a in iter.getattr("args").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
            let a = a.map_err(|e| pyerr(e, line))?;
            if kind(&a) == "Starred" {
                return err("star-arguments are not supported", line);
            }
            args.push(self.lower(&a)?);
        }
        let (start, stop, step) = match args.len() {
            1 => (None, args.pop().unwrap(), None),
            2 => {
                let stop = args.pop().unwrap();
                (Some(args.pop().unwrap()), stop, None)
            }
            3 => {
                let step = args.pop().unwrap();
                let stop = args.pop().unwrap();
                (Some(args.pop().unwrap()), stop, Some(step))
            }
            n => return err(format!("range expected 1 to 3 arguments, got {n}"), line),
        };
        Ok(StmtKind::ForRange {
            var,
            start,
            stop,
            step,
            body: self.stmts(&get("body")?, Field::Body)?,
            orelse: self.stmts(&get("orelse")?, Field::Orelse)?,
            origin: LoopOrigin::Range,
            iter_fn,
        })
    }

    /// `for x in a: body else: orelse` over an array, lowered to an index loop:
    /// `$it = a; for $k in range($it.shape[0]): x = $it[$k]; body` (the hidden names cannot
    /// clash with Python names; the index stays in bounds, so no check is emitted).
    /// With `unpack`, `var` is a hidden variable the names are unpacked from at each item.
    fn for_each(&mut self, var: VarId, unpack: Option<Target>, iter: &Bound<'_, PyAny>, node: &Bound<'_, PyAny>, line: u32) -> CResult<StmtKind> {
        let get = |f: &str| node.getattr(f).map_err(|e| pyerr(e, line));
        let span = span_of(node);
        let n = self.vars.len();
        let it = self.var(&format!("$iter{n}"));
        let k = self.var(&format!("$index{n}"));
        let iter_e = self.lower(iter)?;
        let it_expr = |lw: &mut Self| lw.expr(ExprKind::Var(it), span);
        let stop = if let ExprKind::Tuple(items) = &iter_e.kind {
            // `for d in (-1, 0, 1)`: as many iterations as items.
            self.expr(ExprKind::Const(Const::Int(items.len() as i64)), span)
        } else {
            let base = it_expr(self);
            let shape = self.expr(ExprKind::Attr(Box::new(base), "shape".into()), span);
            let zero = self.expr(ExprKind::Const(Const::Int(0)), span);
            self.expr(ExprKind::Index(Box::new(shape), vec![zero]), span)
        };
        let base = it_expr(self);
        let kv = self.expr(ExprKind::Var(k), span);
        let item = self.expr(ExprKind::Index(Box::new(base), vec![kv]), span);
        let mut body = vec![self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(var)], value: item }, span, None)];
        if let Some(names) = unpack {
            let value = self.expr(ExprKind::Var(var), span);
            body.push(self.mk_stmt(StmtKind::Assign { targets: vec![names], value }, span, None));
        }
        body.extend(self.stmts(&get("body")?, Field::Body)?);
        let orelse = self.stmts(&get("orelse")?, Field::Orelse)?;
        // The loop and its set-up continue in the interpreter as the whole `for` statement.
        let here = Some(self.path.clone());
        let origin = LoopOrigin::Each { iter: it, item: var };
        let lp = self.mk_stmt(StmtKind::ForRange { var: k, start: None, stop, step: None, body, orelse, origin, iter_fn: None }, span, here.clone());
        let init = self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(it)], value: iter_e }, span, here);
        // Both statements as one: `if True: init; loop`.
        let cond = self.expr(ExprKind::Const(Const::Bool(true)), span);
        Ok(StmtKind::If { cond, then: vec![init, lp], orelse: vec![] })
    }

    /// `for x, y in zip(a, b): body` (2 to 4 arrays) and `for i, x in enumerate(a, start)`,
    /// lowered as `for x in a` is: `$zip0 = a; $zip1 = b; for $k in range(min(len)): x =
    /// $zip0[$k]; y = $zip1[$k]; body` (enumerate: `i = $k + $start`). The loop keeps the
    /// call's name (`iter_fn`), which inference checks is the builtin.
    fn for_zip_enumerate(&mut self, target: &Bound<'_, PyAny>, iter: &Bound<'_, PyAny>, node: &Bound<'_, PyAny>, line: u32) -> CResult<StmtKind> {
        let get = |f: &str| node.getattr(f).map_err(|e| pyerr(e, line));
        let unsupported = || err("only `for name in ...`, `for a, b in zip(...)` and `for i, x in enumerate(...)` loops are supported yet", line);
        if kind(iter) != "Call" {
            return unsupported();
        }
        let func = iter.getattr("func").map_err(|e| pyerr(e, line))?;
        let fname: String = if kind(&func) == "Name" { func.getattr("id").and_then(|v| v.extract()).map_err(|e| pyerr(e, line))? } else { String::new() };
        if !(fname == "zip" || fname == "enumerate") || self.var_ids.contains_key(&fname) {
            return unsupported();
        }
        let mut names = Vec::new();
        for e in target.getattr("elts").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
            let e = e.map_err(|e| pyerr(e, line))?;
            if kind(&e) != "Name" {
                return unsupported();
            }
            names.push(e.getattr("id").and_then(|v| v.extract::<String>()).map_err(|e| pyerr(e, line))?);
        }
        let mut args = Vec::new();
        for a in iter.getattr("args").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
            let a = a.map_err(|e| pyerr(e, line))?;
            if kind(&a) == "Starred" {
                return err("star-arguments are not supported", line);
            }
            args.push(a);
        }
        let keywords: Vec<Bound<'_, PyAny>> = iter.getattr("keywords").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))?.collect::<Result<_, _>>().map_err(|e| pyerr(e, line))?;
        let span = span_of(node);
        let n = self.vars.len();
        let (arrays, start): (Vec<Bound<'_, PyAny>>, Option<Bound<'_, PyAny>>) = if fname == "zip" {
            if !(2..=4).contains(&args.len()) || names.len() != args.len() || !keywords.is_empty() {
                return err("zip() of 2 to 4 arrays, unpacked into as many names, is supported", line);
            }
            (args, None)
        } else {
            let kw_start = keywords.iter().find(|k| k.getattr("arg").and_then(|a| a.extract::<String>()).map(|a| a == "start").unwrap_or(false)).map(|k| k.getattr("value")).transpose().map_err(|e| pyerr(e, line))?;
            if names.len() != 2 || args.is_empty() || args.len() + kw_start.is_some() as usize > 2 || keywords.len() > kw_start.is_some() as usize {
                return err("enumerate(array[, start]) unpacked into two names is supported", line);
            }
            let start = if args.len() == 2 { args.pop() } else { kw_start };
            (args, start)
        };
        // The arrays (then the start), evaluated as Python evaluates the call's arguments.
        let first = self.vars.len();
        let mut its = Vec::new();
        for k in 0..arrays.len() {
            its.push(self.var(&format!("$zip{n}_{k}")));
        }
        debug_assert!(its.iter().enumerate().all(|(k, v)| *v == first + k));
        let start_var = self.var(&format!("$start{n}"));
        let idx = self.var(&format!("$index{n}"));
        let here = Some(self.path.clone());
        let mut init = Vec::new();
        for (a, v) in arrays.iter().zip(&its) {
            let e = self.lower(a)?;
            init.push(self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(*v)], value: e }, span, here.clone()));
        }
        let start_e = match &start {
            Some(s) => self.lower(s)?,
            None => self.expr(ExprKind::Const(Const::Int(0)), span),
        };
        if fname == "enumerate" {
            init.push(self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(start_var)], value: start_e }, span, here.clone()));
        }
        // The number of iterations: the shortest array's length.
        let len_of = |lw: &mut Self, v: VarId| {
            let base = lw.expr(ExprKind::Var(v), span);
            let shape = lw.expr(ExprKind::Attr(Box::new(base), "shape".into()), span);
            let zero = lw.expr(ExprKind::Const(Const::Int(0)), span);
            lw.expr(ExprKind::Index(Box::new(shape), vec![zero]), span)
        };
        // min(len(a), len(b), ...) as `l1 if l1 < m else m`, each tree made afresh (every
        // expression has its own id).
        fn shortest(lw: &mut Lowerer, its: &[VarId], span: Span, len_of: &dyn Fn(&mut Lowerer, VarId) -> Expr) -> Expr {
            let (last, rest) = its.split_last().expect("an array");
            if rest.is_empty() {
                return len_of(lw, *last);
            }
            let a = len_of(lw, *last);
            let m = shortest(lw, rest, span, len_of);
            let cmp = lw.expr(ExprKind::Compare(Box::new(a), vec![(CmpOp::Lt, m)]), span);
            let b = len_of(lw, *last);
            let m2 = shortest(lw, rest, span, len_of);
            lw.expr(ExprKind::IfExp(Box::new(cmp), Box::new(b), Box::new(m2)), span)
        }
        let stop = shortest(self, &its, span, &len_of);
        let mut body = Vec::new();
        let item = |lw: &mut Self, v: VarId| {
            let base = lw.expr(ExprKind::Var(v), span);
            let kv = lw.expr(ExprKind::Var(idx), span);
            lw.expr(ExprKind::Index(Box::new(base), vec![kv]), span)
        };
        if fname == "enumerate" {
            let i = self.var(&names[0]);
            let kv = self.expr(ExprKind::Var(idx), span);
            let sv = self.expr(ExprKind::Var(start_var), span);
            let value = self.expr(ExprKind::BinOp(BinOp::Add, Box::new(kv), Box::new(sv)), span);
            body.push(self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(i)], value }, span, None));
            let x = self.var(&names[1]);
            let value = item(self, its[0]);
            body.push(self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(x)], value }, span, None));
        } else {
            for (name, v) in names.iter().zip(&its) {
                let x = self.var(name);
                let value = item(self, *v);
                body.push(self.mk_stmt(StmtKind::Assign { targets: vec![Target::Var(x)], value }, span, None));
            }
        }
        body.extend(self.stmts(&get("body")?, Field::Body)?);
        let orelse = self.stmts(&get("orelse")?, Field::Orelse)?;
        let origin = if fname == "zip" { LoopOrigin::Zip { first, count: its.len() as u8 } } else { LoopOrigin::Enumerate { iter: its[0], start: start_var } };
        let iter_fn = Some(Box::new(self.lower(&func)?));
        let lp = self.mk_stmt(StmtKind::ForRange { var: idx, start: None, stop, step: None, body, orelse, origin, iter_fn }, span, here);
        init.push(lp);
        let cond = self.expr(ExprKind::Const(Const::Bool(true)), span);
        Ok(StmtKind::If { cond, then: init, orelse: vec![] })
    }

    fn target(&mut self, node: &Bound<'_, PyAny>) -> CResult<Target> {
        let line = span_of(node).line;
        match kind(node).as_str() {
            "Name" => {
                let id: String = node.getattr("id").and_then(|v| v.extract()).map_err(|e| pyerr(e, line))?;
                Ok(Target::Var(self.var(&id)))
            }
            "Tuple" | "List" => {
                let mut ts = Vec::new();
                for e in node.getattr("elts").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
                    let e = e.map_err(|e| pyerr(e, line))?;
                    if kind(&e) == "Starred" {
                        return err("starred assignment is not supported", line);
                    }
                    ts.push(self.target(&e)?);
                }
                Ok(Target::Tuple(ts))
            }
            "Subscript" => {
                let base = self.lower(&node.getattr("value").map_err(|e| pyerr(e, line))?)?;
                let index = self.index(&node.getattr("slice").map_err(|e| pyerr(e, line))?)?;
                Ok(Target::Index { base, index, span: span_of(node) })
            }
            "Attribute" => err("assigning to attributes is not supported", line),
            other => err(format!("cannot assign to {}", describe(other)), line),
        }
    }

    fn index(&mut self, node: &Bound<'_, PyAny>) -> CResult<Vec<Expr>> {
        let line = span_of(node).line;
        match kind(node).as_str() {
            "Tuple" => {
                let mut out = Vec::new();
                for e in node.getattr("elts").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
                    out.push(self.index_item(&e.map_err(|e| pyerr(e, line))?)?);
                }
                Ok(out)
            }
            // Python 3.8 wrapped subscripts in Index nodes; harmless to accept.
            "Index" => self.index(&node.getattr("value").map_err(|e| pyerr(e, line))?),
            _ => Ok(vec![self.index_item(node)?]),
        }
    }

    fn index_item(&mut self, node: &Bound<'_, PyAny>) -> CResult<Expr> {
        match kind(node).as_str() {
            "Slice" => {
                let span = span_of(node);
                let line = span.line;
                let mut part = |f: &str| -> CResult<Option<Box<Expr>>> {
                    let v = node.getattr(f).map_err(|e| pyerr(e, line))?;
                    Ok(if v.is_none() { None } else { Some(Box::new(self.lower(&v)?)) })
                };
                let (lo, hi, st) = (part("lower")?, part("upper")?, part("step")?);
                Ok(self.expr(ExprKind::Slice(lo, hi, st), span))
            }
            _ => self.lower(node),
        }
    }

    fn lower_list(&mut self, node: &Bound<'_, PyAny>, line: u32) -> CResult<Vec<Expr>> {
        let mut out = Vec::new();
        for e in node.try_iter().map_err(|e| pyerr(e, line))? {
            let e = e.map_err(|e| pyerr(e, line))?;
            if kind(&e) == "Starred" {
                return err("star-arguments are not supported", line);
            }
            out.push(self.lower(&e)?);
        }
        Ok(out)
    }

    /// Is `func` spelled `array` or `asarray` (`np.array`, `numpy.asarray`, ...)? Their first
    /// argument may be a list display (inference checks the callee is NumPy's).
    fn names_array(func: &Bound<'_, PyAny>) -> bool {
        let name: Option<String> = match kind(func).as_str() {
            "Attribute" => func.getattr("attr").and_then(|a| a.extract()).ok(),
            "Name" => func.getattr("id").and_then(|a| a.extract()).ok(),
            _ => None,
        };
        matches!(name.as_deref(), Some("array" | "asarray"))
    }

    /// The arguments of `numpy.array(...)`: a list display in the first (and in a list or
    /// tuple display there) becomes `$list(items...)`, which only `numpy.array` and
    /// `numpy.asarray` take (`types::infer_literals`).
    fn lower_array_args(&mut self, node: &Bound<'_, PyAny>, line: u32) -> CResult<Vec<Expr>> {
        let mut out = Vec::new();
        for (i, e) in node.try_iter().map_err(|e| pyerr(e, line))?.enumerate() {
            let e = e.map_err(|e| pyerr(e, line))?;
            if kind(&e) == "Starred" {
                return err("star-arguments are not supported", line);
            }
            out.push(if i == 0 { self.lower_display(&e)? } else { self.lower(&e)? });
        }
        Ok(out)
    }

    fn lower_display(&mut self, node: &Bound<'_, PyAny>) -> CResult<Expr> {
        let span = span_of(node);
        let line = span.line;
        let k = kind(node);
        if k != "List" && k != "Tuple" {
            return self.lower(node);
        }
        let mut items = Vec::new();
        for e in node.getattr("elts").and_then(|e| e.try_iter()).map_err(|e| pyerr(e, line))? {
            let e = e.map_err(|e| pyerr(e, line))?;
            if kind(&e) == "Starred" {
                return err("star-arguments are not supported", line);
            }
            items.push(self.lower_display(&e)?);
        }
        if k == "Tuple" {
            return Ok(self.expr(ExprKind::Tuple(items), span));
        }
        let f = self.expr(ExprKind::Global("$list".into()), span);
        Ok(self.expr(ExprKind::Call { func: Box::new(f), args: items, kwargs: vec![] }, span))
    }

    /// Lower one expression node.
    fn lower(&mut self, node: &Bound<'_, PyAny>) -> CResult<Expr> {
        let span = span_of(node);
        let line = span.line;
        let get = |f: &str| node.getattr(f).map_err(|e| pyerr(e, line));
        let k = kind(node);
        let ek = match k.as_str() {
            "Constant" => {
                let v = get("value")?;
                let c = if v.is_none() {
                    Const::None
                } else if v.is_instance_of::<pyo3::types::PyBool>() {
                    Const::Bool(v.extract().map_err(|e| pyerr(e, line))?)
                } else if v.is_instance_of::<pyo3::types::PyInt>() {
                    match v.extract::<i64>() {
                        Ok(i) => Const::Int(i),
                        Err(_) => return err("an integer constant does not fit in 64 bits", line),
                    }
                } else if v.is_instance_of::<pyo3::types::PyFloat>() {
                    Const::Float(v.extract().map_err(|e| pyerr(e, line))?)
                } else if v.is_instance_of::<pyo3::types::PyString>() {
                    Const::Str(v.extract().map_err(|e| pyerr(e, line))?)
                } else if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
                    Const::Bytes(b.as_bytes().to_vec())
                } else if let Ok(c) = v.cast::<pyo3::types::PyComplex>() {
                    // `2.5j`: `complex(0.0, 2.5)`, by the builtin (`$complex`, a name no
                    // program can shadow).
                    let (re, im) = (c.real(), c.imag());
                    let f = self.expr(ExprKind::Global("$complex".into()), span);
                    let args = vec![self.expr(ExprKind::Const(Const::Float(re)), span), self.expr(ExprKind::Const(Const::Float(im)), span)];
                    return Ok(self.expr(ExprKind::Call { func: Box::new(f), args, kwargs: vec![] }, span));
                } else {
                    return err(format!("constants of type {} are not supported", v.get_type().name().map(|n| n.to_string()).unwrap_or_default()), line);
                };
                ExprKind::Const(c)
            }
            "Name" => {
                let id: String = get("id")?.extract().map_err(|e| pyerr(e, line))?;
                match self.var_ids.get(&id) {
                    Some(&v) => ExprKind::Var(v),
                    None => ExprKind::Global(id),
                }
            }
            "Attribute" => {
                let attr: String = get("attr")?.extract().map_err(|e| pyerr(e, line))?;
                ExprKind::Attr(Box::new(self.lower(&get("value")?)?), attr)
            }
            "BinOp" if kind(&get("op")?) == "MatMult" => {
                // `a @ b` is `ndarray.__matmul__`, i.e. `numpy.matmul(a, b)` (the name `$matmul`
                // cannot clash with Python's; the resolver knows it).
                let span = span_of(node);
                let f = self.expr(ExprKind::Global("$matmul".into()), span);
                ExprKind::Call { func: Box::new(f), args: vec![self.lower(&get("left")?)?, self.lower(&get("right")?)?], kwargs: vec![] }
            }
            "BinOp" => {
                let op = binop(&get("op")?, line)?;
                ExprKind::BinOp(op, Box::new(self.lower(&get("left")?)?), Box::new(self.lower(&get("right")?)?))
            }
            "UnaryOp" => {
                let op = match kind(&get("op")?).as_str() {
                    "USub" => UnaryOp::Neg,
                    "UAdd" => UnaryOp::Pos,
                    "Not" => UnaryOp::Not,
                    "Invert" => UnaryOp::Invert,
                    o => return err(format!("unary operator {o} is not supported"), line),
                };
                ExprKind::Unary(op, Box::new(self.lower(&get("operand")?)?))
            }
            "Compare" if is_none_test(node) => {
                // `x is None` / `x is not None`: `$is_none(x)`, decided by x's type (a builtin
                // of the registry; the `$` name cannot clash with Python's).
                let left = self.lower(&get("left")?)?;
                let negate = get("ops")?.get_item(0).map(|o| kind(&o) == "IsNot").map_err(|e| pyerr(e, line))?;
                let f = self.expr(ExprKind::Global("$is_none".into()), span);
                let call = self.expr(ExprKind::Call { func: Box::new(f), args: vec![left], kwargs: vec![] }, span);
                if negate {
                    ExprKind::Unary(UnaryOp::Not, Box::new(call))
                } else {
                    return Ok(call);
                }
            }
            "Compare" => {
                let left = self.lower(&get("left")?)?;
                let mut rest = Vec::new();
                let ops = get("ops")?;
                let comps = get("comparators")?;
                for (op, c) in ops.try_iter().map_err(|e| pyerr(e, line))?.zip(comps.try_iter().map_err(|e| pyerr(e, line))?) {
                    let op = op.map_err(|e| pyerr(e, line))?;
                    let c = c.map_err(|e| pyerr(e, line))?;
                    let op = match kind(&op).as_str() {
                        "Eq" => CmpOp::Eq,
                        "NotEq" => CmpOp::NotEq,
                        "Lt" => CmpOp::Lt,
                        "LtE" => CmpOp::LtE,
                        "Gt" => CmpOp::Gt,
                        "GtE" => CmpOp::GtE,
                        o => return err(format!("the comparison `{}` is not supported yet", describe(o)), line),
                    };
                    rest.push((op, self.lower(&c)?));
                }
                ExprKind::Compare(Box::new(left), rest)
            }
            "BoolOp" => {
                let op = if kind(&get("op")?) == "And" { BoolOp::And } else { BoolOp::Or };
                ExprKind::BoolOp(op, self.lower_list(&get("values")?, line)?)
            }
            "IfExp" => ExprKind::IfExp(
                Box::new(self.lower(&get("test")?)?),
                Box::new(self.lower(&get("body")?)?),
                Box::new(self.lower(&get("orelse")?)?),
            ),
            "Subscript" => {
                let base = self.lower(&get("value")?)?;
                ExprKind::Index(Box::new(base), self.index(&get("slice")?)?)
            }
            "Call" => {
                let func_node = get("func")?;
                let func = self.lower(&func_node)?;
                let args = if Self::names_array(&func_node) { self.lower_array_args(&get("args")?, line)? } else { self.lower_list(&get("args")?, line)? };
                let mut kwargs = Vec::new();
                for kw in get("keywords")?.try_iter().map_err(|e| pyerr(e, line))? {
                    let kw = kw.map_err(|e| pyerr(e, line))?;
                    let arg = kw.getattr("arg").map_err(|e| pyerr(e, line))?;
                    if arg.is_none() {
                        return err("`**kwargs` in calls is not supported", line);
                    }
                    let name: String = arg.extract().map_err(|e| pyerr(e, line))?;
                    kwargs.push((name, self.lower(&kw.getattr("value").map_err(|e| pyerr(e, line))?)?));
                }
                ExprKind::Call { func: Box::new(func), args, kwargs }
            }
            "Tuple" => ExprKind::Tuple(self.lower_list(&get("elts")?, line)?),
            "JoinedStr" => {
                let mut parts = Vec::new();
                for v in get("values")?.try_iter().map_err(|e| pyerr(e, line))? {
                    let v = v.map_err(|e| pyerr(e, line))?;
                    match kind(&v).as_str() {
                        "Constant" => parts.push(FPart::Lit(const_str(&v).unwrap_or_default())),
                        "FormattedValue" => {
                            let conv: i64 = v.getattr("conversion").and_then(|c| c.extract()).unwrap_or(-1);
                            let conv = if conv < 0 { ' ' } else { char::from_u32(conv as u32).unwrap_or(' ') };
                            let specn = v.getattr("format_spec").map_err(|e| pyerr(e, line))?;
                            let spec = if specn.is_none() {
                                String::new()
                            } else {
                                let mut s = String::new();
                                for p in specn.getattr("values").map_err(|e| pyerr(e, line))?.try_iter().map_err(|e| pyerr(e, line))? {
                                    let p = p.map_err(|e| pyerr(e, line))?;
                                    match const_str(&p) {
                                        Some(c) => s.push_str(&c),
                                        None => return err("a computed format spec in an f-string is not supported", line),
                                    }
                                }
                                s
                            };
                            let value = self.lower(&v.getattr("value").map_err(|e| pyerr(e, line))?)?;
                            parts.push(FPart::Value { value, conv, spec });
                        }
                        o => return err(format!("f-string part {o} is not supported"), line),
                    }
                }
                ExprKind::FString(parts)
            }
            other => return err(format!("{} is not supported yet", describe(other)), line),
        };
        Ok(self.expr(ek, span))
    }
}

fn const_str(node: &Bound<'_, PyAny>) -> Option<String> {
    if kind(node) != "Constant" {
        return None;
    }
    node.getattr("value").ok()?.extract::<String>().ok()
}

/// `raise Name` or `raise Name("constant")`.
fn exception_spec(node: &Bound<'_, PyAny>, line: u32) -> CResult<(String, Option<String>)> {
    let name_of = |n: &Bound<'_, PyAny>| -> Option<String> {
        if kind(n) == "Name" {
            n.getattr("id").ok()?.extract().ok()
        } else {
            None
        }
    };
    if let Some(name) = name_of(node) {
        return Ok((name, None));
    }
    if kind(node) == "Call" {
        let func = node.getattr("func").map_err(|e| pyerr(e, line))?;
        let args = node.getattr("args").map_err(|e| pyerr(e, line))?;
        let nkw = node.getattr("keywords").map_err(|e| pyerr(e, line))?.len().unwrap_or(0);
        if let Some(name) = name_of(&func) {
            let n = args.len().unwrap_or(0);
            if nkw == 0 && n == 0 {
                return Ok((name, None));
            }
            if nkw == 0 && n == 1 {
                if let Some(msg) = const_str(&args.get_item(0).map_err(|e| pyerr(e, line))?) {
                    return Ok((name, Some(msg)));
                }
            }
        }
    }
    err("only `raise ExceptionType(\"constant message\")` is supported yet", line)
}

fn binop(op: &Bound<'_, PyAny>, line: u32) -> CResult<BinOp> {
    Ok(match kind(op).as_str() {
        "Add" => BinOp::Add,
        "Sub" => BinOp::Sub,
        "Mult" => BinOp::Mul,
        "Div" => BinOp::Div,
        "FloorDiv" => BinOp::FloorDiv,
        "Mod" => BinOp::Mod,
        "Pow" => BinOp::Pow,
        "BitAnd" => BinOp::BitAnd,
        "BitOr" => BinOp::BitOr,
        "BitXor" => BinOp::BitXor,
        "LShift" => BinOp::LShift,
        "RShift" => BinOp::RShift,
        o => return err(format!("the operator {o} is not supported"), line),
    })
}

/// A plain-words name for an AST node class, for error messages.
fn describe(k: &str) -> String {
    match k {
        "Try" | "TryStar" => "try/except".into(),
        "With" | "AsyncWith" => "with".into(),
        "Delete" => "del".into(),
        "Import" | "ImportFrom" => "import".into(),
        "ClassDef" => "class".into(),
        "FunctionDef" => "function".into(),
        "AsyncFunctionDef" => "async function".into(),
        "Lambda" => "lambda".into(),
        "Match" => "match".into(),
        "In" => "in".into(),
        "NotIn" => "not in".into(),
        "Is" => "is".into(),
        "IsNot" => "is not".into(),
        "List" => "a list".into(),
        "Dict" => "a dict".into(),
        "Set" => "a set".into(),
        "Starred" => "a starred expression".into(),
        "NamedExpr" => "the walrus operator `:=`".into(),
        "Yield" | "YieldFrom" => "yield".into(),
        "Await" => "await".into(),
        "For" => "for".into(),
        "AsyncFor" => "async for".into(),
        other => other.to_string(),
    }
}

/// Is `node` (an `ast.Compare`) `x is None` or `x is not None`?
fn is_none_test(node: &Bound<'_, PyAny>) -> bool {
    let one = |f: &str| node.getattr(f).ok().filter(|v| v.len().map(|n| n == 1).unwrap_or(false)).and_then(|v| v.get_item(0).ok());
    let (Some(op), Some(c)) = (one("ops"), one("comparators")) else { return false };
    matches!(kind(&op).as_str(), "Is" | "IsNot") && kind(&c) == "Constant" && c.getattr("value").map(|v| v.is_none()).unwrap_or(false)
}
