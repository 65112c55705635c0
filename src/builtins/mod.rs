//! The builtins registry: every function compiled code calls that is not the program's own.
//! Python's builtins are in `python.rs`, the `math` module in `math.rs`, NumPy's array
//! constructors and dtype names in `numpy.rs`. Each entry gives its type rule and its lowering
//! side by side (Numba's typing template and lowering, in one place), so that adding a builtin
//! touches one file.
//!
//! Type inference reads the rules through `types::BuiltinFn` (it does not import this module);
//! codegen runs the lowerings through `Lower`, the services of its `FunctionCx` a lowering may
//! use (this module does not import codegen). The resolver (`runtime::resolve`) finds entries
//! by name.

pub mod math;
pub mod numpy;
pub mod python;
pub mod random;

use cranelift_codegen::ir::{self, Block, Value};
use cranelift_frontend::{FuncInstBuilder, FunctionBuilder};

use crate::abi::{ErrCode, NpWarn};
use crate::ir::{BinOp, CResult, CmpOp, Expr};
use crate::types::{BuiltinFn, DType, Form, Type};

pub use math::{math_attr, math_fn, MathAttr};
pub use numpy::{numpy_attr, NumpyAttr};
pub use python::python;

/// A type rule: the result type of a call to the entry with positional arguments of these
/// types, or why it cannot be compiled (one sentence, at `line`).
pub type RuleFn = fn(&Builtin, &[Type], u32) -> CResult<Type>;

/// A lowering: the call `e` (positional arguments `args`, result type `cx.ty(e)`, source line
/// `line`) as the flattened Cranelift values of its result.
pub type LowerFn = for<'f> fn(&mut dyn Lower<'f>, &Builtin, &Expr, &[Expr], u32) -> CResult<Vec<Value>>;

/// One entry of the registry.
#[derive(Debug)]
pub struct Builtin {
    /// As a program writes it: `abs`, `math.sqrt`, `numpy.zeros_like`.
    pub name: &'static str,
    pub form: Form,
    /// The CPython minor version (3.x) that added it (0: every supported one).
    pub since: u32,
    /// The runtime or libm symbol its lowering calls (`""` when none).
    pub sym: &'static str,
    /// The dtype it names as the `dtype=` of a NumPy constructor (`float`, `int`, `bool`).
    pub dtype: Option<DType>,
    pub rule: RuleFn,
    /// `None`: codegen emits the call itself (`print`, a callback into the runtime).
    pub lower: Option<LowerFn>,
}

impl BuiltinFn for Builtin {
    fn name(&self) -> &'static str {
        self.name
    }
    fn form(&self) -> Form {
        self.form
    }
    fn result_type(&self, args: &[Type], line: u32) -> CResult<Type> {
        (self.rule)(self, args, line)
    }
    fn as_dtype(&self) -> Option<DType> {
        self.dtype
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A function of Heron's own that a lowering calls by symbol (where CPython runs its own
/// algorithm rather than a libm function, the Rust function that reproduces it): its symbol,
/// its address and its signature. The runtime adds it to the symbols native code may call
/// (`runtime::symbols`) and codegen declares it with this signature, so that a builtin and its
/// helper are added in the family's file alone.
#[derive(Debug)]
pub struct Helper {
    pub sym: &'static str,
    pub addr: fn() -> *const u8,
    pub params: &'static [ir::Type],
    pub rets: &'static [ir::Type],
}

/// Every helper of the registry (`HELPERS` of each family), always in the same order.
pub fn helpers() -> impl Iterator<Item = &'static Helper> {
    math::HELPERS.iter().chain(python::HELPERS).chain(numpy::HELPERS).chain(random::HELPERS)
}

/// The registry entry behind a builtin that inference recorded.
pub fn entry(f: &'static dyn BuiltinFn) -> &'static Builtin {
    f.as_any().downcast_ref().expect("an entry of the builtins registry")
}

/// What a lowering may ask of codegen (implemented by `codegen::FunctionCx`): the builder, the
/// arguments' values and types, and the operations with Python's rules that codegen already
/// has. `'f` is the lifetime of the function being built.
pub trait Lower<'f> {
    /// The Cranelift function builder (stack slots, blocks).
    fn builder(&mut self) -> &mut FunctionBuilder<'f>;
    /// Insert an instruction at the current position.
    fn ins(&mut self) -> FuncInstBuilder<'_, 'f>;
    /// Evaluate an argument (flattened values, see `codegen::repr`).
    fn expr(&mut self, e: &Expr) -> CResult<Vec<Value>>;
    /// The type inference gave an expression.
    fn ty(&self, e: &Expr) -> Type;
    /// The call's `*mut Env` (`crate::abi::Env`).
    fn env(&self) -> Value;
    /// An i64 constant.
    fn iconst(&mut self, v: i64) -> Value;
    /// Call a runtime or libm helper by symbol (`runtime::symbols`).
    fn call_helper(&mut self, name: &str, params: &[ir::Type], rets: &[ir::Type], args: &[Value]) -> CResult<Vec<Value>>;
    /// Raise `code` at `line` (with up to three integer details) when `fail` is true.
    fn fail_if(&mut self, fail: Value, code: ErrCode, line: u32, details: &[Value]);
    /// After a helper that reports errors in `Env`: leave through the error exit if it did.
    fn fail_if_env_error(&mut self, line: u32);
    /// Branch on `bad` to a new cold block, else to a new continuation; returns both.
    fn branch_cold(&mut self, bad: Value) -> (Block, Block);
    /// Continue emitting in `blk` (sealed: all its predecessors are known).
    fn switch_to(&mut self, blk: Block);
    /// Branch to a cold block when the float `r` is not finite; returns (cold, continuation).
    fn fp_test(&mut self, r: Value) -> (Block, Block);
    /// A scalar of type `t` as an i64.
    fn to_i64(&mut self, v: Vec<Value>, t: &Type) -> Value;
    /// A scalar of type `from` converted to the machine type of `d`, as NumPy casts.
    fn cast_scalar(&mut self, v: Value, from: &Type, d: DType) -> Value;
    /// A float to a Python int (ValueError for NaN, OverflowError for infinities).
    fn float_to_int(&mut self, x: Value, line: u32) -> Value;
    /// The truth value of a value of type `t` (an i8 0/1).
    fn truth_of(&mut self, v: &[Value], t: &Type) -> CResult<Value>;
    /// `a op b` for a comparison, with Python's and NumPy's rules.
    fn compare(&mut self, op: CmpOp, va: Vec<Value>, ta: &Type, vb: Vec<Value>, tb: &Type, line: u32) -> CResult<Value>;
    /// `a op b` with result type `rt` (`types::rules::binop_type`), with Python's and NumPy's rules.
    #[allow(clippy::too_many_arguments)]
    fn binop(&mut self, op: BinOp, va: Vec<Value>, ta: &Type, vb: Vec<Value>, tb: &Type, rt: &Type, line: u32) -> CResult<Vec<Value>>;
    /// Is the i64 `r` outside the range of the integer dtype `d`?
    fn out_of_range(&mut self, r: Value, d: DType) -> Value;
    /// The i64 `r` wrapped to the integer dtype `d`, as NumPy wraps.
    fn wrap_to(&mut self, r: Value, d: DType) -> Value;
    /// Report NumPy's warning `what` at `line` when `bad` is true (under `numpy.seterr`).
    fn np_warn_if(&mut self, bad: Value, what: NpWarn, line: u32);
    /// Does the array call `e` makes never leave the function (`analysis::escape`)?
    fn local_alloc(&self, e: &Expr) -> bool;
    /// The code calls back into Python for a NumPy object (the dispatcher keeps the GIL).
    fn note_py_callback(&mut self);
    /// The call `e` just made has side effects (it drew from a random state): a
    /// deoptimization later in its statement hands `vals` to the interpreter instead of
    /// calling it again.
    fn made_call(&mut self, e: &Expr, vals: &[Value]);
}

fn cerr<T>(msg: impl Into<String>, line: u32) -> CResult<T> {
    Err(crate::ir::CompileError::new(msg, line))
}
