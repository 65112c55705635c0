//! NumPy ufuncs in compiled code, as type inference sees them: the loop NumPy's own type
//! resolution picks for a call's operand types (asked of the resolver, which asks NumPy), and
//! the ufunc behind each operator applied to an array (`a + b` is `numpy.add(a, b)`).

use super::{ArrayType, DType, Layout, Type};
use crate::ir::{BinOp, CmpOp, UnaryOp};

/// One inner loop of a NumPy ufunc, chosen at compile time for the operand types of one call
/// (NumPy's `ufunc.resolve_dtypes`, NEP 50 promotion): the loop's function and data pointers
/// (`PyUFuncObject.functions[i]`, `.data[i]`, stable while NumPy is loaded) and its dtypes.
/// Calling this loop gives NumPy's exact bits (its SIMD `exp`, `sin`, ... on CPUs that have
/// them), where libm would not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UfuncLoop {
    /// The ufunc's name, as NumPy's warnings name it ("overflow encountered in exp").
    pub name: String,
    pub func: usize,
    pub data: usize,
    /// The loop's input dtypes (operands are cast to them) and output dtypes.
    pub ins: Vec<DType>,
    pub outs: Vec<DType>,
}

/// The ufunc NumPy calls for `a op b` when an operand is an array (numpy/_core/src/multiarray/
/// number.c).
pub fn binop_ufunc(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "subtract",
        BinOp::Mul => "multiply",
        BinOp::Div => "true_divide",
        BinOp::FloorDiv => "floor_divide",
        BinOp::Mod => "remainder",
        BinOp::Pow => "power",
        BinOp::BitAnd => "bitwise_and",
        BinOp::BitOr => "bitwise_or",
        BinOp::BitXor => "bitwise_xor",
        BinOp::LShift => "left_shift",
        BinOp::RShift => "right_shift",
    }
}

/// The ufunc behind a comparison with an array operand.
pub fn compare_ufunc(op: CmpOp) -> Option<&'static str> {
    Some(match op {
        CmpOp::Lt => "less",
        CmpOp::LtE => "less_equal",
        CmpOp::Gt => "greater",
        CmpOp::GtE => "greater_equal",
        CmpOp::Eq => "equal",
        CmpOp::NotEq => "not_equal",
    })
}

/// The ufunc behind a unary operator on an array.
pub fn unary_ufunc(op: UnaryOp) -> Option<&'static str> {
    match op {
        UnaryOp::Neg => Some("negative"),
        UnaryOp::Pos => Some("positive"),
        UnaryOp::Invert => Some("invert"),
        _ => None,
    }
}

/// The type of a ufunc call's (first) result: an array when an operand is one (its dimensions
/// the broadcast of theirs; C-contiguous when every array operand is, else in the operands'
/// memory order, read at run time), else a NumPy scalar.
pub fn result_type(lp: &UfuncLoop, operands: &[Type]) -> Type {
    let arrays: Vec<&ArrayType> = operands.iter().filter_map(|t| if let Type::Array(a) = t { Some(a) } else { None }).collect();
    let Some(ndim) = arrays.iter().map(|a| a.ndim).max() else {
        return Type::Np(lp.outs[0]);
    };
    let layout = if ndim <= 1 || arrays.iter().all(|a| a.layout == Layout::C) { Layout::C } else { Layout::Any };
    Type::Array(ArrayType { dtype: lp.outs[0], ndim, layout, readonly: false })
}
