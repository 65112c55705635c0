//! Codegen: typed Heron IR to Cranelift IR, and Cranelift IR to machine code in a `JITModule`
//! owned by one compiled unit (one specialization), freed when the unit is dropped. Codegen
//! only emits: every decision about checks it may drop comes from the analyses' side tables
//! (`crate::analysis::Facts`), and the builtins' lowerings from their registry.
//!
//! Calling convention of a compiled specialization (`inner`): the flattened argument values
//! (scalars in one register each; an array as data pointer, shape[ndim], strides[ndim] in
//! bytes), then `*mut Env`; it returns `(status: i64, result)` when the result is one machine
//! value, and otherwise `status` alone, writing the flattened result (and the type tag) to
//! 8-byte slots at a pointer passed before `env`. Status 0 is success; nonzero means `Env`
//! holds an error. An `entry` trampoline with a fixed C signature
//! `fn(args: *const u64, ret: *mut u64, env: *mut Env) -> i64` lets Rust call any `inner`.
//!
//! The files: `module.rs` (the JIT module, helpers, inlining, `compile`), `function.rs` (the
//! per-function context `FunctionCx`, its exits and variables), `stmt.rs` (statements and
//! loops), `expr.rs` (expressions), `num.rs` (arithmetic with Python's and NumPy's rules,
//! conversions, comparisons), `fp.rs` (NumPy's float error checks), `pow.rs` (the `x ** n`
//! fast path), `array.rs` (indexing), `call.rs` (calls), `deopt.rs` (deoptimization exits),
//! `recursion.rs` (recursive functions).

pub mod array;
pub mod call;
pub mod cnative;
pub mod complex;
pub mod cstrings;
pub mod deopt;
pub mod expr;
pub mod fp;
pub mod function;
pub mod iter;
pub mod module;
pub mod num;
pub mod parallel;
pub mod pow;
pub mod recursion;
pub mod simd;
pub mod stmt;
pub mod ufunc;

use cranelift_codegen::ir::{self, types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use crate::types::Type;

pub use crate::abi::{repr, scalar_repr};
pub use function::{FunctionCx, LoopCx};
pub use module::{callee_symbol, compile, inner_signature, CompiledUnit, RuntimeLinks, TRAMPOLINED};

/// A flattened value: one Cranelift value per machine word of the Heron type.
pub type CVal = Vec<Value>;

/// The flattened result of a specialization: its machine values, plus the tag when the return
/// value changes type.
pub fn ret_reprs(ret: &Type, ret_union: bool) -> Vec<ir::Type> {
    let mut r = repr(ret);
    if ret_union {
        r.push(types::I8);
    }
    r
}

/// Does the result go through an out-pointer (more than one machine value)?
pub fn ret_by_pointer(ret: &Type, ret_union: bool) -> bool {
    ret_reprs(ret, ret_union).len() > 1
}

/// A scalar register value widened to a raw 8-byte slot (floats by their bits, small ints
/// zero-extended), the layout the dispatcher and the print callback read.
pub fn widen_to_slot(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let t = b.func.dfg.value_type(v);
    let flags = MemFlagsData::new();
    if t == types::F64 {
        b.ins().bitcast(types::I64, flags, v)
    } else if t == types::F32 {
        let i = b.ins().bitcast(types::I32, flags, v);
        b.ins().uextend(types::I64, i)
    } else if t == types::I64 {
        v
    } else {
        b.ins().uextend(types::I64, v)
    }
}
