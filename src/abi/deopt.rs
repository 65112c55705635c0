//! What native code tells the runtime about a deoptimization point: the statement to continue
//! from, the spilled variables and the hidden state of the loops around it (see
//! `runtime::deopt`, which boxes them and continues the call in the interpreter).

use crate::ir::{AstPath, Span};
use crate::types::Type;

/// A variable (or hidden value) written at a deoptimization point.
#[derive(Debug, Clone)]
pub struct Spill {
    /// The Python name (hidden values have names starting with `$`).
    pub name: String,
    /// The representation (the members unified).
    pub ty: Type,
    /// The types it may hold; the tag slot says which when there are several.
    pub members: Vec<Type>,
    pub slot: usize,
    pub tag_slot: Option<usize>,
    /// How a foreign function's result in an `Int` word is boxed (issue 16).
    pub boxing: CResultBoxing,
}

/// How a foreign function's result held in an `Int` word becomes the Python value ctypes or
/// cffi returns (a deoptimization right after the call hands it over, see
/// `codegen::cnative`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CResultBoxing {
    /// As its type says.
    #[default]
    Plain,
    /// A C `uint64` (`size_t`): the Python int of its unsigned value.
    Unsigned,
    /// A ctypes `c_void_p`: the int, or None for NULL.
    NoneIfNull,
}

/// The hidden state of a loop around the point (see `heron._deopt.continuation`).
#[derive(Debug, Clone)]
pub enum LoopState {
    /// `for v in range(...)`: the names of the current value, stop and step spills.
    Range { cur: String, stop: String, step: String },
    /// `for v in array`: the names of the array and index variables.
    Each { iter: String, index: String },
    /// `for x in a.flat` over an array that is not C-contiguous: the names of the array (the
    /// whole array, iterated in C order) and of the index.
    Flat { iter: String, index: String },
    /// `for ind in np.ndindex(shape)`: the names of the shape (a tuple) and of the index.
    NdIndex { iter: String, index: String },
    /// `for idx, x in np.ndenumerate(a)`: the names of the array and of the index.
    NdEnumerate { iter: String, index: String },
    /// `for x, y in zip(a, b)`: the names of the arrays and of the index.
    Zip { iters: Vec<String>, index: String },
    /// `for i, x in enumerate(a, start)`: the names of the array, start and index.
    Enumerate { iter: String, start: String, index: String },
}

/// One place native code can hand the call to the interpreter.
#[derive(Debug, Clone)]
pub struct DeoptPoint {
    /// The statement to continue from.
    pub path: AstPath,
    pub spills: Vec<Spill>,
    /// `(level, state)`: the loop at `path[..=level]` and its hidden state.
    pub loops: Vec<(usize, LoopState)>,
    /// Calls already made in the statement, replaced by their results (spilled under these
    /// names) so that they are not made twice.
    pub substitutions: Vec<(Span, String)>,
    /// The call whose result a callee handed back boxed (in `Env::boxed`), if this point is
    /// that call's.
    pub boxed_call: Option<Span>,
    /// Number of slots the spills take.
    pub n_slots: usize,
}
