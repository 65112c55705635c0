//! How a Heron value is held in machine words: the flattened representation compiled code
//! passes and returns values in (see `codegen`'s calling convention), one Cranelift value per
//! machine word.

use cranelift_codegen::ir::{self, types};

use crate::types::{DType, Type};

/// The machine representation of a Heron type, flattened.
pub fn repr(t: &Type) -> Vec<ir::Type> {
    match t {
        Type::Bool => vec![types::I8],
        Type::Int | Type::CPtr(_) | Type::CData { .. } | Type::Bytes => vec![types::I64],
        Type::Float => vec![types::F64],
        Type::Complex => vec![types::F64, types::F64],
        Type::Np(d) => vec![scalar_repr(*d)],
        Type::Array(a) => vec![types::I64; 1 + 2 * a.ndim as usize],
        Type::Tuple(ts) => ts.iter().flat_map(repr).collect(),
        Type::None | Type::Str => vec![],
    }
}

/// How a NumPy scalar of `d` is held in a register: bools as i8, every integer as i64 (sign- or
/// zero-extended, range-checked after arithmetic), floats as themselves.
pub fn scalar_repr(d: DType) -> ir::Type {
    match d {
        DType::Bool => types::I8,
        DType::F32 => types::F32,
        DType::F64 => types::F64,
        _ => types::I64,
    }
}
