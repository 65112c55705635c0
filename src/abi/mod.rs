//! The ABI native code and the runtime share: the per-call `Env` (and the offsets native code
//! reads and writes it at), the error codes native code reports, the `FuncInfo` it points to,
//! and the descriptions of its deoptimization points and `print` calls. Plain data: codegen
//! writes it, the runtime reads it, and neither imports the other for it.

use pyo3::prelude::*;

mod codes;
mod deopt;
mod print;
mod repr;

pub use codes::{ErrCode, NpWarn, STATUS_BOXED};
pub use deopt::{CResultBoxing, DeoptPoint, LoopState, Spill};
pub use print::{FItem, PItem, PrintDesc};
pub use repr::{repr, scalar_repr};

/// Slots for a flattened result (codegen refuses larger results).
pub const MAX_RET_SLOTS: usize = 16;

/// Per-call state shared between the dispatcher and native code (`#[repr(C)]`: codegen reads and
/// writes these fields at fixed offsets).
#[repr(C)]
#[derive(Debug, Default)]
pub struct Env {
    /// Nonzero once the call has done something visible (stored into an array, printed):
    /// it can then no longer be re-run by the interpreter after an integer overflow.
    pub effects: i64,
    /// An `ErrCode` when the status is nonzero.
    pub err_code: i64,
    pub err_line: i64,
    /// `*const FuncInfo` of the function that raised.
    pub err_func: i64,
    /// Integer details for the message (IndexError: index, axis, size; user raise: table index).
    pub err_a: [i64; 3],
    /// `*mut Vec<Py<PyAny>>`: arrays allocated during the call (kept alive until it returns;
    /// a returned array is found here by its data pointer).
    pub owned: i64,
    /// `*mut alloc::Buffers`: memory of arrays that never leave compiled code (see
    /// `alloc::heron_buf_alloc`); what is left is freed when the call returns.
    pub bufs: i64,
    /// `*const *mut PyObject`: the positional arguments of the call from Python (borrowed),
    /// and their number; arrays handed to the interpreter are found among them.
    pub args: i64,
    pub nargs: i64,
    /// An owned `*mut PyObject`: a result native code cannot represent (see
    /// `STATUS_BOXED`), or 0.
    pub boxed: i64,
    /// The error site (`FuncInfo::sites` of `err_func`) of a native error.
    pub err_site: i64,
    /// `*mut Vec<(usize, i64)>`: the compiled callers an error went through, innermost first
    /// (`FuncInfo` address, call site), for the traceback (see `traceback`).
    pub frames: i64,
    /// Nonzero when the call's NumPy float reports are deferred to its end (see `fp`).
    pub fp_deferred: i64,
    /// Set by the signal handler when a signal came during this call on the main thread
    /// (loop back-edges test it, see `signals`).
    pub sig_pending: i64,
    /// Frames of recursive compiled functions now running; the depth past which native code
    /// calls `stack::heron_recursion`; and how many CPython's recursion limit allows (0: not
    /// asked yet). See `stack`.
    pub depth: i64,
    pub depth_limit: i64,
    /// The stack pointer below which recursive native code continues on a new stack segment.
    pub stack_limit: i64,
    /// What the last `deopt::heron_deopt` returned (read by native code after the call).
    pub deopt_status: i64,
    pub depth_budget: i64,
    /// Arrays added to `owned` since it was last trimmed (see `alloc::keep`).
    pub owned_new: i64,
    /// `owned.len()`, read by each compiled function at entry: a trim in its loops lets go only
    /// of arrays made after that (its callers' variables may point into the others).
    pub owned_len: i64,
    /// NumPy float reports native code has made in this call (warnings it issued, see
    /// `fp::heron_np_fp`): a statement's code reads it at its start and, when it hands the
    /// call to the interpreter, stores into `rerun_warned` how many of them the statement made.
    pub warned: i64,
    /// How many warnings the statement being handed to the interpreter already issued: the
    /// interpreter's re-run of it leaves out its first that many (`heron._deopt.skip_warnings`).
    /// `deopt::heron_deopt` reads it and puts it back to 0.
    pub rerun_warned: i64,
}

// Native code reads and writes these fields at fixed offsets (the `ENV_*` constants).
const _: () = {
    assert!(std::mem::offset_of!(Env, effects) == ENV_EFFECTS as usize);
    assert!(std::mem::offset_of!(Env, err_code) == ENV_ERR_CODE as usize);
    assert!(std::mem::offset_of!(Env, err_line) == ENV_ERR_LINE as usize);
    assert!(std::mem::offset_of!(Env, err_func) == ENV_ERR_FUNC as usize);
    assert!(std::mem::offset_of!(Env, err_a) == ENV_ERR_A as usize);
    assert!(std::mem::offset_of!(Env, err_site) == ENV_ERR_SITE as usize);
    assert!(std::mem::offset_of!(Env, sig_pending) == ENV_SIG_PENDING as usize);
    assert!(std::mem::offset_of!(Env, depth) == ENV_DEPTH as usize);
    assert!(std::mem::offset_of!(Env, depth_limit) == ENV_DEPTH_LIMIT as usize);
    assert!(std::mem::offset_of!(Env, stack_limit) == ENV_STACK_LIMIT as usize);
    assert!(std::mem::offset_of!(Env, deopt_status) == ENV_DEOPT_STATUS as usize);
    assert!(std::mem::offset_of!(Env, warned) == ENV_WARNED as usize);
    assert!(std::mem::offset_of!(Env, rerun_warned) == ENV_RERUN_WARNED as usize);
};

impl Drop for Env {
    fn drop(&mut self) {
        if self.boxed != 0 {
            // Env lives in the dispatcher's frame, which holds the GIL when it returns.
            unsafe { pyo3::ffi::Py_DecRef(self.boxed as *mut pyo3::ffi::PyObject) };
        }
    }
}

pub const ENV_EFFECTS: i32 = 0;
pub const ENV_ERR_CODE: i32 = 8;
pub const ENV_ERR_LINE: i32 = 16;
pub const ENV_ERR_FUNC: i32 = 24;
pub const ENV_ERR_A: i32 = 32;
pub const ENV_ERR_SITE: i32 = 96;
pub const ENV_SIG_PENDING: i32 = 120;
pub const ENV_DEPTH: i32 = 128;
pub const ENV_DEPTH_LIMIT: i32 = 136;
pub const ENV_STACK_LIMIT: i32 = 144;
pub const ENV_DEOPT_STATUS: i32 = 152;
pub const ENV_OWNED_LEN: i32 = 176;
pub const ENV_WARNED: i32 = 184;
pub const ENV_RERUN_WARNED: i32 = 192;
/// Bit of `Env::sig_pending` set when `owned` should be trimmed at the next loop back-edge
/// (bit 0 is a signal).
pub const PENDING_TRIM: i64 = 2;

/// What the runtime knows of one compiled specialization: where it is in the user's source
/// (error reports, tracebacks), its deoptimization points and its result type. Native code
/// points to it (it is boxed, and lives as long as the code).
#[derive(Debug, Default)]
pub struct FuncInfo {
    pub filename: String,
    /// The function's module (`__name__`), for warnings.
    pub module: String,
    pub name: String,
    pub qualname: String,
    /// Exceptions named by `raise`/`assert` in this function: (type name, message).
    pub raises: Vec<(String, Option<String>)>,
    /// A weak reference to the Python function (deoptimization builds its continuations from
    /// it; weak, so that compiled code keeps no reference cycle through the module).
    pub func: Option<Py<PyAny>>,
    /// Where native code can hand the call to the interpreter (`Env::err_a[0]` of a deopt).
    pub points: Vec<DeoptPoint>,
    /// Source ranges of the operations that can raise, by site number (tracebacks).
    pub sites: Vec<crate::ir::Span>,
    pub ret_type: crate::types::Type,
    pub ret_members: Vec<crate::types::Type>,
    /// NumPy float reports are deferred to the end of the call (see `fp`).
    pub fp_deferred: bool,
    /// Calls that continued in the interpreter from a deoptimization point.
    pub deopts: std::sync::atomic::AtomicU64,
    /// No visible side effects (`analysis::Facts::pure`).
    pub pure: bool,
}

impl FuncInfo {
    pub fn points(&self) -> &[DeoptPoint] {
        &self.points
    }

    /// The Python function (an error once it was collected).
    pub fn function<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dead = || pyo3::exceptions::PyRuntimeError::new_err("heron: the compiled function no longer exists");
        let weak = self.func.as_ref().ok_or_else(dead)?.bind(py);
        let f = weak.call0()?;
        if f.is_none() {
            return Err(dead());
        }
        Ok(f)
    }
}

/// One NumPy ufunc call site in native code, read by `runtime::ufunc::heron_ufunc`: the loop
/// (`None`: a copy into an array view, `view[...] = value`), and whether NumPy's
/// floating-point reports are deferred to the dispatcher in this function.
#[derive(Debug)]
pub struct UfuncSite {
    pub lp: Option<std::sync::Arc<crate::types::ufunc::UfuncLoop>>,
    pub nin: usize,
    pub line: u32,
    pub deferred: bool,
}

/// i64 slots of one operand of `heron_ufunc`: dtype (`DType as i64`), ndim (-1: an output to
/// allocate), data pointer, four extents, four strides (bytes). A scalar is a 0-d operand.
pub const UFUNC_OPERAND_SLOTS: usize = 11;

/// One call site of native code into NumPy itself (`runtime::npcall::heron_np_call`): the
/// function's dotted path (or the array method's name), the argument types as native code
/// flattens them, constant keyword arguments, and the result type it unboxes.
#[derive(Debug)]
pub struct NpCallSite {
    pub path: String,
    pub method: bool,
    pub args: Vec<crate::types::Type>,
    /// Constant positional arguments: (position, value).
    pub consts: Vec<(usize, crate::ir::Const)>,
    pub kwargs: Vec<(String, crate::ir::Const)>,
    pub ret: crate::types::Type,
    /// The call's source range: NumPy runs inside a frame of the compiled function at this
    /// position (its warnings and tracebacks point there, as in the interpreter).
    pub span: crate::ir::Span,
    /// That frame's function, made once (`heron._runtime.np_caller`).
    pub caller: std::sync::OnceLock<Py<PyAny>>,
    /// The module the function is an attribute of (None for a method) and the attribute's
    /// name as a Python string, found once; the attribute is read at each call.
    pub callee: std::sync::OnceLock<(Option<Py<PyAny>>, Py<pyo3::types::PyString>)>,
}

// The offsets native code reads `Env` at.
const _: () = assert!(std::mem::offset_of!(Env, sig_pending) == ENV_SIG_PENDING as usize);
const _: () = assert!(std::mem::offset_of!(Env, deopt_status) == ENV_DEOPT_STATUS as usize);
const _: () = assert!(std::mem::offset_of!(Env, owned_len) == ENV_OWNED_LEN as usize);
