//! Heron IR: the untyped, structured intermediate form the front end lowers Python's AST into.
//!
//! Plain enums and structs, each node carrying its source span (line, column), as Ruff keeps its
//! AST. Local variables are numbered (`VarId`); names that are never assigned in the function are
//! `Global`s, resolved and frozen at compile time (Numba's rule, DESIGN.md "The pipeline").
//! Every expression has a dense `ExprId` so later stages keep per-expression facts in side tables.

mod error;

pub use error::{CResult, CompileError};

/// A position range in the user's source file (1-based lines, 0-based UTF-8 byte columns, as
/// Python's `ast`: `lineno`, `col_offset`, `end_lineno`, `end_col_offset`). The end is kept so
/// that a traceback from compiled code marks the same columns as the interpreter's (3.11+).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

/// One step of a path from a function's body to a statement in Python's AST: the field of the
/// compound statement (`Body` of a function, `if`, loop; `Orelse` of `if`/loop) and the index
/// of the statement in it. Deoptimization continues a call in the interpreter from the
/// statement a path names (see `runtime::deopt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Body = 0,
    Orelse = 1,
}

pub type AstPath = Vec<(Field, u32)>;

/// How the front end made a `ForRange` loop: from `for v in range(...)`, or from
/// `for v in <array>` (then `iter` holds the array and the loop variable is the index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopOrigin {
    Range,
    Each { iter: VarId, item: VarId },
    /// `for x, y in zip(a, b)`: `count` arrays in the variables `first..first + count`.
    Zip { first: VarId, count: u8 },
    /// `for i, x in enumerate(a, start)`: the array and start variables.
    Enumerate { iter: VarId, start: VarId },
}

pub type VarId = usize;
pub type ExprId = usize;

/// One function, lowered.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub qualname: String,
    pub filename: String,
    pub span: Span,
    /// Parameters, in order; each is also a local variable.
    pub params: Vec<VarId>,
    /// Names of the local variables, indexed by `VarId`.
    pub vars: Vec<String>,
    pub body: Vec<Stmt>,
    /// Number of expressions (ids are `0..n_exprs`).
    pub n_exprs: usize,
    /// Number of statements (ids are `0..n_stmts`).
    pub n_stmts: usize,
    /// The statements the front end made of a comprehension (by `Stmt::id`): a
    /// deoptimization in them runs the statement the comprehension is in again, so their loops
    /// hand over no loop state and are never parallel loops, and they may not call anything
    /// with side effects (it would run twice).
    pub hidden_stmts: std::collections::HashSet<usize>,
    /// The statements that end such a block: the original statement, reading the hidden
    /// results (it counts its warnings from the block's start, see `codegen::stmt`).
    pub comp_ends: std::collections::HashSet<usize>,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    /// Dense statement number (`0..Function::n_stmts`), for per-statement side tables.
    pub id: usize,
    /// Where the statement is in the Python AST (`None` for statements the front end made,
    /// such as the item assignment of a `for x in array` loop). A statement made from a
    /// Python statement gets that statement's path.
    pub origin: Option<AstPath>,
}

#[derive(Clone, Debug)]
pub enum Target {
    Var(VarId),
    /// `base[index, ...] = value` (`span`: the subscript's, where a failing store is shown)
    Index { base: Expr, index: Vec<Expr>, span: Span },
    /// `a, b = value`
    Tuple(Vec<Target>),
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Assign { targets: Vec<Target>, value: Expr },
    AugAssign { target: Target, op: BinOp, value: Expr },
    Expr(Expr),
    If { cond: Expr, then: Vec<Stmt>, orelse: Vec<Stmt> },
    While { cond: Expr, body: Vec<Stmt>, orelse: Vec<Stmt> },
    /// `for var in range(start, stop, step): body else: orelse`
    ///
    /// `iter_fn` is what the source calls (`range`, `prange`, `heron.prange`), checked by
    /// inference to be the builtin `range` or a parallel spelling of it (None for the loop
    /// the front end makes of `for x in array`).
    ForRange { var: VarId, start: Option<Expr>, stop: Expr, step: Option<Expr>, body: Vec<Stmt>, orelse: Vec<Stmt>, origin: LoopOrigin, iter_fn: Option<Box<Expr>> },
    Break,
    Continue,
    Return(Option<Expr>),
    Pass,
    /// `raise ExcType` or `raise ExcType("constant message")`
    Raise { exc: String, msg: Option<String> },
    /// `assert test` or `assert test, "constant message"`
    Assert { test: Expr, msg: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub id: ExprId,
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    Str(String),
    /// A `bytes` constant (`b"abc"`): only as a foreign function's `c_char_p` / `char *`
    /// argument (issue 16).
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    BitAnd,
    BitOr,
    BitXor,
    LShift,
    RShift,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
    Not,
    Invert,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Const(Const),
    Var(VarId),
    Global(String),
    Attr(Box<Expr>, String),
    BinOp(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    /// `a < b <= c`: the first operand and the (op, operand) chain.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    BoolOp(BoolOp, Vec<Expr>),
    IfExp(Box<Expr>, Box<Expr>, Box<Expr>),
    Index(Box<Expr>, Vec<Expr>),
    Call { func: Box<Expr>, args: Vec<Expr>, kwargs: Vec<(String, Expr)> },
    Tuple(Vec<Expr>),
    /// An f-string: literal pieces and formatted values with a constant format spec.
    FString(Vec<FPart>),
    /// `lower:upper:step` inside an array index (each part optional).
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
}

#[derive(Clone, Debug)]
pub enum FPart {
    Lit(String),
    /// `{value!conv:spec}`; `conv` is 's', 'r', 'a' or ' ' for none.
    Value { value: Expr, conv: char, spec: String },
}

impl Stmt {
    /// The expressions this statement evaluates itself: not those of nested bodies, nor the
    /// index expressions of its targets (see `index_targets`).
    pub fn exprs(&self) -> Vec<&Expr> {
        match &self.kind {
            StmtKind::Assign { value, .. } | StmtKind::AugAssign { value, .. } => vec![value],
            StmtKind::Expr(e) | StmtKind::If { cond: e, .. } | StmtKind::While { cond: e, .. } => vec![e],
            StmtKind::Return(Some(e)) => vec![e],
            StmtKind::Assert { test, .. } => vec![test],
            StmtKind::ForRange { start, stop, step, .. } => start.iter().chain(std::iter::once(stop)).chain(step.iter()).collect(),
            _ => vec![],
        }
    }

    /// The element stores `base[index] = ...` of an assignment (tuple targets flattened).
    pub fn index_targets(&self) -> Vec<(&Expr, &[Expr])> {
        let mut out = Vec::new();
        let mut stack: Vec<&Target> = match &self.kind {
            StmtKind::Assign { targets, .. } => targets.iter().collect(),
            StmtKind::AugAssign { target, .. } => vec![target],
            _ => vec![],
        };
        while let Some(t) = stack.pop() {
            match t {
                Target::Index { base, index, .. } => out.push((base, index.as_slice())),
                Target::Tuple(ts) => stack.extend(ts.iter()),
                Target::Var(_) => {}
            }
        }
        out
    }

    /// The local variables this statement assigns: its targets, or a for loop's variable.
    pub fn assigned_vars(&self) -> Vec<VarId> {
        let mut vs = Vec::new();
        match &self.kind {
            StmtKind::Assign { targets, .. } => targets.iter().for_each(|t| target_vars(t, &mut vs)),
            StmtKind::AugAssign { target, .. } => target_vars(target, &mut vs),
            StmtKind::ForRange { var, .. } => vs.push(*var),
            _ => {}
        }
        vs
    }
}

impl Expr {
    /// The direct sub-expressions of this expression, in evaluation order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Global(_) => vec![],
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) => vec![e],
            ExprKind::BinOp(_, a, b) => vec![a, b],
            ExprKind::Compare(a, rest) => std::iter::once(&**a).chain(rest.iter().map(|(_, e)| e)).collect(),
            ExprKind::BoolOp(_, v) | ExprKind::Tuple(v) => v.iter().collect(),
            ExprKind::IfExp(c, a, b) => vec![c, a, b],
            ExprKind::Index(b, ix) => std::iter::once(&**b).chain(ix.iter()).collect(),
            ExprKind::Call { func, args, kwargs } => {
                std::iter::once(&**func).chain(args.iter()).chain(kwargs.iter().map(|(_, e)| e)).collect()
            }
            ExprKind::Slice(a, b, c) => [a, b, c].into_iter().flatten().map(|e| &**e).collect(),
            ExprKind::FString(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    FPart::Value { value, .. } => Some(value),
                    FPart::Lit(_) => None,
                })
                .collect(),
        }
    }
}

/// Visit every statement of a body, depth first (pre-order).
pub fn walk_stmts<'a>(body: &'a [Stmt], f: &mut dyn FnMut(&'a Stmt)) {
    for s in body {
        f(s);
        match &s.kind {
            StmtKind::If { then, orelse, .. } => {
                walk_stmts(then, f);
                walk_stmts(orelse, f);
            }
            StmtKind::While { body, orelse, .. } | StmtKind::ForRange { body, orelse, .. } => {
                walk_stmts(body, f);
                walk_stmts(orelse, f);
            }
            _ => {}
        }
    }
}

/// The variables a target assigns.
pub fn target_vars(t: &Target, out: &mut Vec<VarId>) {
    match t {
        Target::Var(v) => out.push(*v),
        Target::Index { .. } => {}
        Target::Tuple(ts) => ts.iter().for_each(|t| target_vars(t, out)),
    }
}

/// Does this loop body contain a `break` for this loop (not a nested one)?
pub fn body_breaks(body: &[Stmt]) -> bool {
    body.iter().any(|s| match &s.kind {
        StmtKind::Break => true,
        StmtKind::If { then, orelse, .. } => body_breaks(then) || body_breaks(orelse),
        _ => false,
    })
}

/// Does a body always end in `return`/`raise` (so falling off the end is impossible)?
pub fn always_returns(body: &[Stmt]) -> bool {
    match body.last().map(|s| &s.kind) {
        Some(StmtKind::Return(_)) | Some(StmtKind::Raise { .. }) => true,
        Some(StmtKind::If { then, orelse, .. }) => always_returns(then) && always_returns(orelse),
        Some(StmtKind::While { cond, body, .. }) => {
            // `while True:` without break never falls through.
            matches!(cond.kind, ExprKind::Const(Const::Bool(true))) && !body_breaks(body)
        }
        _ => false,
    }
}
