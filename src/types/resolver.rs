//! The compile-time environment type inference asks (`infer`): what a global name stands for
//! (`GlobalValue`), and the `Resolver` that reads the function's module, its NumPy ufunc loops
//! and functions, and compiles its callees (`CalleeInfo`). The dispatcher implements it
//! (`runtime::resolve`).

use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::types::*;
use crate::types::ufunc::UfuncLoop;

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
    /// The builtin `range`, or `heron.prange` / `numba.prange` (the same in a loop).
    Range,
    /// A module whose `prange` is a loop spelling (`heron`, `numba`).
    RangeModule,
    /// A scalar global read at each call from a cell (it changed since a first compile, see
    /// `runtime::guards`): its type and the cell's address.
    Cell { ty: Type, addr: usize },
    /// A NumPy ufunc (`numpy.exp`, `numpy.add`, ...), by name: its loop is chosen per call
    /// from the operand types (`Resolver::ufunc`).
    Ufunc(String),
    /// A NumPy function compiled code calls through NumPy itself (`numpy.sum`,
    /// `numpy.linalg.norm`, `numpy.random.rand`), by dotted path (see `Resolver::np_call`).
    NpFunc(String),
    /// A NumPy submodule (`numpy.linalg`, `numpy.random`), by dotted path.
    NpModule(String),
    /// The builtin `zip` or `enumerate` (only as the iterable of a `for` loop).
    LoopBuiltin(&'static str),
    /// A ctypes or cffi object: a foreign function, a library, a C type (issue 16).
    Foreign(crate::types::cnative::Foreign),
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
    /// The address of its threaded specialization (`Typed::threaded`), for calls from a
    /// parallel loop's body, or why it has none (the loop then runs serially).
    pub threaded: Result<usize, String>,
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
    /// The loop NumPy's ufunc `name` runs for operands of these types (Python scalars are
    /// NEP 50's weak scalars); an error when NumPy has none, or one compiled code cannot call.
    fn ufunc(&mut self, name: &str, operands: &[Type], line: u32) -> CResult<UfuncLoop>;
    /// The result type of NumPy function `path` (or, with `method`, of the array method of that
    /// name on `args[0]`) called with positional arguments of these types (and values, when
    /// constant) and constant keyword arguments, and whether the call has side effects (it
    /// writes an array, or draws from NumPy's random state). An error when compiled code
    /// cannot call it (not a function whose result type follows from its argument types).
    fn np_call(&mut self, path: &str, method: bool, args: &[(Type, Option<Const>)], kwargs: &[(String, Const)], line: u32) -> CResult<(Type, bool)>;
    /// What attribute `attr` of the library object `lib` (a `GlobalValue::Foreign(Lib)`
    /// index) is: a foreign function, guarded like a global.
    fn foreign_attr(&mut self, lib: usize, attr: &str, line: u32) -> CResult<GlobalValue> {
        let _ = (lib, attr);
        Err(CompileError::new("foreign functions are not supported here", line))
    }
    /// The C type spelled `cdecl` (`"double *"`, `"real[]"` with the user's typedef) as the
    /// cffi FFI `lib` reads it: the primitive it points to, and whether it is an open array
    /// (`T[]`) rather than a pointer. An error for any other type (a number, a struct, a
    /// fixed-length array), or one cffi does not know.
    fn ffi_pointer_type(&mut self, lib: usize, cdecl: &str, line: u32) -> CResult<(crate::types::cnative::CPrim, bool)> {
        let _ = (lib, cdecl);
        Err(CompileError::new("cffi types are not supported here", line))
    }
}
