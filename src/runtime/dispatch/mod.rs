//! The dispatcher: the callable that stands where a marked function stood.
//!
//! On a call it reads the argument types, finds or compiles the specialization for them (lazy
//! specialization, as Numba), runs the native code (with the GIL released when the code has
//! loops or calls), and boxes the result as the interpreter would have. Anything it cannot
//! compile, or argument types it cannot take, go to the original Python function, and the
//! reason is kept for the report. Integer overflow in native code re-runs the call in the
//! interpreter when nothing visible has happened yet (deoptimization).

mod compile;
mod vectorcall;

pub use compile::COMPILING;
pub use vectorcall::enable_vectorcall;
use vectorcall::{call_vector, dispatcher_vectorcall, Args, VectorcallFunc};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::mem::MaybeUninit;
use std::time::Instant;

use numpy::PyUntypedArray;
use pyo3::exceptions::{PyOverflowError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyInt, PyList, PyTuple, PyType};

use super::marshal::{arg_kind, marshal, numpy_loaded, signature_text, ArgKind};
use super::print::{box_scalar, unmerge, PENDING};
use super::guards::{GuardSet, LiveCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr};
use crate::abi::{Env, ErrCode, FuncInfo, MAX_RET_SLOTS, STATUS_BOXED};
use crate::codegen::CompiledUnit;
use crate::ir::CompileError;
use crate::ir::Function;
use crate::types::Type;

/// A dispatcher whose calls have all run as Python, this many times, puts the original
/// function back (it never made native code run: it can only cost).
const STEP_ASIDE_AFTER: u64 = 1000;

/// The most arguments a compiled function takes (more run as Python).
const MAX_ARGS: usize = 8;
/// Slots for the flattened arguments (an array of ndim <= 4 takes 9).
const MAX_SLOTS: usize = 8 * 9;

struct PyRefs {
    func: Py<PyAny>,
    module: Py<PyAny>,
    doc: Py<PyAny>,
    options: Py<PyAny>,
}

pub struct Spec {
    kinds: Vec<ArgKind>,
    /// Compiled to check NumPy floating-point errors at each operation even though the
    /// function has no side effects (see `Dispatcher::specialize`).
    fp_checked: bool,
    /// For calls from parallel loops' bodies only (`Typed::threaded`): never a call's entry.
    threaded: bool,
    pub(crate) unit: Result<Arc<CompiledUnit>, CompileError>,
    /// What it relies on in the globals (its own reads and its callees'), see `guards`.
    pub guards: GuardSet,
    /// False once a guard failed: a new specialization replaces it.
    valid: AtomicBool,
}

impl Spec {
    /// No guard it relies on has failed.
    pub(crate) fn is_valid(&self) -> bool {
        self.valid.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct Failure {
    signature: String,
    reason: String,
    line: u32,
}

/// Whether to time native calls (only when a report is asked for).
fn timing_enabled() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("HERON_REPORT").map(|v| !v.is_empty() && v != "0").unwrap_or(false))
}

// A compiled-function dispatcher (see the module documentation).
//
// Construct with `Dispatcher(func, options)`: `func` a plain Python function, `options` a dict
// of marker options (`{"parallel": True}`), or None. Attributes mirror the function's
// (`__name__`, `__qualname__`, `__doc__`, `__module__`, `__wrapped__`); pickled by reference.
// (Plain comments, not a doc comment. The instance `__doc__` is the function's, set in the
// instance `__dict__` by `Dispatcher.wrap`: pyo3 always puts a class `__doc__` in the type.)
#[pyclass(frozen, dict, module = "heron._native", name = "Dispatcher")]
pub struct Dispatcher {
    /// The vectorcall entry (`dispatcher_vectorcall`), at the offset the type's
    /// `tp_vectorcall_offset` names (see `enable_vectorcall`).
    vectorcall: VectorcallFunc,
    /// The Python objects it holds; `None` once the garbage collector has cleared it (the
    /// function's globals usually hold the dispatcher: a reference cycle).
    refs: RwLock<Option<PyRefs>>,
    name: String,
    pub(crate) qualname: String,
    /// `# heron: jit, nogil` (or `parallel`): release the GIL even when the function writes
    /// arrays its caller can see (the user vouches that no other thread touches them).
    nogil: bool,
    /// `# heron: jit, parallel`: its `prange` and outermost `range` loops may run on Heron's
    /// threads (`analysis::parallel`).
    parallel: bool,
    ir: OnceLock<Result<Arc<Function>, CompileError>>,
    /// The specialization the last calls used (one of `specs`, which keeps it alive).
    first: AtomicPtr<Spec>,
    specs: Mutex<Vec<Arc<Spec>>>,
    failures: Mutex<Vec<Failure>>,
    /// Scalar globals read at each call (they changed after a compile, see `guards`).
    live: Mutex<HashMap<String, Arc<LiveCell>>>,
    /// Specializations compiled again because a global they read changed.
    recompiles: AtomicU64,
    /// The function's positional parameters (`co_argcount`): a call with fewer arguments binds
    /// the defaults (see `bind`).
    n_params: AtomicU64,
    /// Combinations of argument types already recorded as not compiled (see `note_arg_failure`).
    arg_failures_seen: Mutex<Vec<u64>>,
    /// The original function was put back in the module (see `step_aside`).
    stepped_aside: AtomicBool,
    /// It may do so: made by `Dispatcher.wrap` (the hook and `heron.jit`), not by tests that
    /// construct dispatchers themselves.
    may_step_aside: AtomicBool,
    native_calls: AtomicU64,
    fallback_calls: AtomicU64,
    deopts: AtomicU64,
    /// Compiled callers that call this function's native code directly.
    pub(crate) linked: AtomicU64,
    compile_ns: AtomicU64,
    native_ns: AtomicU64,
}

/// Threads in a re-run of `INTERPRETING` (so that other calls need not look at the thread-local).
static RERUNS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// While the interpreter re-runs a call that reached the recursion limit in native code, the
    /// compiled functions it calls run as Python too (see `native_error`).
    static INTERPRETING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Dispatcher {
    /// The original Python function (an error once the dispatcher was cleared by the GC).
    /// Count a call that ran native code from outside the dispatcher (a C callback).
    pub(crate) fn note_native_call(&self) {
        // Not a locked increment: a callback may be called millions of times from C (qsort),
        // and a count lost between two threads only makes the report's number smaller.
        let n = self.native_calls.load(Ordering::Relaxed);
        self.native_calls.store(n + 1, Ordering::Relaxed);
    }

    pub(crate) fn func<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &*self.refs.read().unwrap() {
            Some(r) => Ok(r.func.bind(py).clone()),
            None => Err(PyRuntimeError::new_err("heron: this dispatcher was cleared")),
        }
    }

    fn part(&self, py: Python<'_>, f: impl Fn(&PyRefs) -> &Py<PyAny>) -> Py<PyAny> {
        match &*self.refs.read().unwrap() {
            Some(r) => f(r).clone_ref(py),
            None => py.None(),
        }
    }

    /// The specialization the last calls used, when it is for `kinds` and still holds.
    fn fast_spec(&self, py: Python<'_>, kinds: &[ArgKind]) -> Option<&Spec> {
        let p = self.first.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // Safety: `first` points into `specs`, which drops a spec only in `__clear__` (after
        // setting `first` to null), when no call can reach `self`.
        let s = unsafe { &*p };
        if s.kinds != kinds || !s.valid.load(Ordering::Relaxed) || !self.usable(py, s) {
            return None;
        }
        Some(s)
    }

    /// Do the spec's guards hold? When one fails, the spec is invalidated; a scalar global
    /// that changed value but kept its type is read at each call from then on (live).
    fn usable(&self, py: Python<'_>, s: &Spec) -> bool {
        let Err(i) = s.guards.holds(py) else { return true };
        s.valid.store(false, Ordering::Relaxed);
        self.recompiles.fetch_add(1, Ordering::Relaxed);
        let g = &s.guards.guards[i];
        if let Some(ty) = &g.scalar {
            let now = g.dict.bind(py).get_item(g.key.bind(py)).ok().flatten();
            if now.map(|v| super::guards::scalar_raw(&v, ty).is_some()).unwrap_or(false) {
                let name = g.key.bind(py).to_string();
                self.live.lock().unwrap().entry(name).or_insert_with(|| Arc::new(LiveCell { raw: AtomicU64::new(0), ty: ty.clone() }));
            }
        }
        false
    }

    /// The live cell of global `name` for type `ty`, made if there is none (a NumPy scalar
    /// global is always read from its cell, at entry).
    pub fn live_cell_made(&self, name: &str, ty: &Type) -> Arc<LiveCell> {
        let mut live = self.live.lock().unwrap();
        match live.get(name) {
            Some(c) if c.ty == *ty => c.clone(),
            _ => {
                let c = Arc::new(LiveCell { raw: AtomicU64::new(0), ty: ty.clone() });
                live.insert(name.to_string(), c.clone());
                c
            }
        }
    }

    /// The live cell of global `name` when it is live with type `ty`.
    pub fn live_cell(&self, name: &str, ty: &Type) -> Option<Arc<LiveCell>> {
        self.live.lock().unwrap().get(name).filter(|c| c.ty == *ty).cloned()
    }

    /// One call: `args` the positional arguments (the caller's vector, or a tuple), `kwargs`
    /// the keyword arguments (any make the call run as Python).
    fn call_impl<'py>(&self, py: Python<'py>, args: &Args<'_, 'py>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        if RERUNS.load(Ordering::Relaxed) != 0 && INTERPRETING.with(|i| i.get()) {
            return self.fallback(py, &args.tuple(py), kwargs);
        }
        let with_kwargs = kwargs.map(|k| !k.is_empty()).unwrap_or(false);
        if with_kwargs || args.len() < self.n_params.load(Ordering::Relaxed) as usize {
            // Keyword arguments and defaults bound to positions as Python binds them; a call
            // Python would refuse runs as Python (its TypeError, exactly).
            return match self.bind(py, args, kwargs)? {
                Some(bound) => self.call_impl(py, &Args::Tuple(bound), None),
                None => self.fallback(py, &args.tuple(py), kwargs),
            };
        }
        let n = args.len();
        if n > MAX_ARGS {
            self.record_arg_failure(py, &args.tuple(py));
            return self.fallback(py, &args.tuple(py), kwargs);
        }
        // One pass over the arguments: classify each and write its flattened value.
        let mut kinds = [ArgKind::Bool; MAX_ARGS];
        let mut slots = [MaybeUninit::<u64>::uninit(); MAX_SLOTS];
        let mut k = 0;
        for i in 0..n {
            let a = args.get(py, i);
            let Some(kind) = arg_kind(py, &a) else {
                self.note_arg_failure(py, args);
                return self.call_python(py, args, kwargs);
            };
            kinds[i] = kind;
            marshal(&a, kind, &mut slots, &mut k)?;
        }
        let kinds = &kinds[..n];
        let other;
        let spec: &Spec = match self.fast_spec(py, kinds) {
            Some(s) => s,
            None => {
                other = self.specialize(py, kinds, false, false);
                &other
            }
        };
        let unit = match &spec.unit {
            Ok(u) => u,
            Err(_) => return self.call_python(py, args, kwargs),
        };
        let mut ret = [MaybeUninit::<u64>::uninit(); MAX_RET_SLOTS];
        let mut owned: Vec<Py<PyAny>> = Vec::new();
        let mut bufs = super::alloc::Buffers::default();
        let mut frames: Vec<(usize, i64)> = Vec::new();
        let (arg_ptrs, nargs) = args.pointers();
        let mut env = Env {
            owned: &mut owned as *mut Vec<Py<PyAny>> as i64,
            bufs: &mut bufs as *mut super::alloc::Buffers as i64,
            args: arg_ptrs.as_ptr() as i64,
            nargs: nargs as i64,
            frames: &mut frames as *mut Vec<(usize, i64)> as i64,
            fp_deferred: unit.fp_deferred as i64,
            stack_limit: if unit.recursive { super::stack::limit_here() } else { 0 },
            ..Env::default()
        };
        let entry: extern "C" fn(*const u64, *mut u64, *mut Env) -> i64 = unsafe { std::mem::transmute(unit.entry) };
        let start = if timing_enabled() { Some(Instant::now()) } else { None };
        if unit.fp_deferred {
            super::fp::flags_clear();
        }
        // Released while native code runs, unless it writes memory the caller can see (a
        // program right under CPython's GIL stays right) and the user did not opt in.
        let _signals = if unit.long_running { Some(super::signals::MainEnvGuard::register(&mut env)) } else { None };
        let status = if unit.long_running && ((!unit.writes_visible && !unit.py_callbacks) || self.nogil) {
            let (sp, rp, ep) = (slots.as_ptr() as usize, ret.as_mut_ptr() as usize, &mut env as *mut Env as usize);
            py.detach(move || entry(sp as *const u64, rp as *mut u64, ep as *mut Env))
        } else {
            entry(slots.as_ptr() as *const u64, ret.as_mut_ptr() as *mut u64, &mut env)
        };
        if let Some(s) = start {
            self.native_ns.fetch_add(s.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        if unit.fp_deferred && env.effects == 0 && super::fp::deferred_report_due(py) {
            // A NumPy operation overflowed, divided by zero or made a NaN: the interpreter
            // re-runs the call and reports it exactly as NumPy does.
            self.deopts.fetch_add(1, Ordering::Relaxed);
            return self.fallback(py, &args.tuple(py), kwargs);
        }
        if status == STATUS_BOXED {
            if let Some(obj) = super::deopt::take_boxed(py, &mut env) {
                return Ok(obj.unbind());
            }
        }
        if status != 0 {
            return self.native_error(py, &env, &frames, &args.tuple(py), kwargs);
        }
        // Safety: the entry trampoline wrote `ret_slots` slots.
        let ret: &[u64] = unsafe { std::slice::from_raw_parts(ret.as_ptr() as *const u64, unit.ret_slots) };
        if unit.ret_members.len() > 1 {
            let tag = ret[unit.ret_slots - 1] as u8 as usize;
            let member = &unit.ret_members[tag.min(unit.ret_members.len() - 1)];
            let raw = unmerge(&unit.ret_type, member, ret[0]);
            return Ok(box_scalar(py, member, raw)?.unbind());
        }
        let mut k = 0;
        Ok(super::deopt::box_flat(py, &env, &unit.ret_type, ret, &mut k)?.unbind())
    }

    /// The positional arguments of a call with keyword arguments or defaults, bound as
    /// CPython binds them (a function of positional-or-keyword parameters only; `None` for
    /// anything else, or a call Python would refuse).
    fn bind<'py>(&self, py: Python<'py>, args: &Args<'_, 'py>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let func = self.func(py)?;
        let Ok(code) = func.getattr("__code__") else { return Ok(None) };
        let argc: usize = code.getattr("co_argcount")?.extract()?;
        let flags: u32 = code.getattr("co_flags")?.extract()?;
        let kwonly: usize = code.getattr("co_kwonlyargcount")?.extract()?;
        let posonly: usize = code.getattr("co_posonlyargcount")?.extract()?;
        if flags & 0x0c != 0 || kwonly != 0 || args.len() > argc {
            return Ok(None);
        }
        let names: Vec<String> = code.getattr("co_varnames")?.extract()?;
        let mut slots: Vec<Option<Bound<'py, PyAny>>> = (0..argc).map(|i| if i < args.len() { Some(args.get(py, i)) } else { None }).collect();
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let Ok(k) = k.extract::<String>() else { return Ok(None) };
                match names[..argc].iter().position(|n| *n == k) {
                    Some(i) if i >= posonly && slots[i].is_none() => slots[i] = Some(v.unbind().into_bound(py)),
                    _ => return Ok(None),
                }
            }
        }
        let defaults = func.getattr("__defaults__")?;
        let defaults: Vec<Bound<'py, PyAny>> = if defaults.is_none() { Vec::new() } else { defaults.cast_into::<PyTuple>().map_err(PyErr::from)?.iter().collect() };
        let first_default = argc - defaults.len().min(argc);
        let mut out = Vec::with_capacity(argc);
        for (i, s) in slots.into_iter().enumerate() {
            match s {
                Some(v) => out.push(v),
                None if i >= first_default => out.push(defaults[i - first_default].clone()),
                None => return Ok(None),
            }
        }
        Ok(Some(PyTuple::new(py, out)?))
    }

    fn fallback(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        self.fallback_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.func(py)?.call(args, kwargs)?.unbind())
    }

    /// Run the call as the original Python function, at the cost of a plain call: the
    /// function's own vectorcall gets the caller's argument vector (PEP 590), with no tuple.
    /// When the function can never be compiled, or has only ever run as Python, the
    /// dispatcher also steps aside (`step_aside`).
    fn call_python<'py>(&self, py: Python<'py>, args: &Args<'_, 'py>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let n = self.fallback_calls.fetch_add(1, Ordering::Relaxed) + 1;
        let hopeless = matches!(self.ir.get(), Some(Err(_)));
        if hopeless || (n >= STEP_ASIDE_AFTER && n % STEP_ASIDE_AFTER == 0 && self.native_calls.load(Ordering::Relaxed) == 0 && self.linked.load(Ordering::Relaxed) == 0) {
            self.step_aside(py);
        }
        let func = self.func(py)?;
        if let (Args::Vector(v, _), None) = (args, kwargs) {
            if let Some(r) = unsafe { call_vector(py, &func, v) } {
                return r;
            }
        }
        Ok(func.call(&args.tuple(py), kwargs)?.unbind())
    }

    /// Put the original function back where the dispatcher stands in its module's globals
    /// (only when the dispatcher is still what that name holds), so that later calls are plain
    /// calls. The report keeps the dispatcher's record, with the reason.
    fn step_aside(&self, py: Python<'_>) {
        if !self.may_step_aside.load(Ordering::Relaxed) || self.stepped_aside.swap(true, Ordering::Relaxed) {
            return;
        }
        let r = (|| -> PyResult<()> {
            let func = self.func(py)?;
            if self.qualname != self.name {
                return Ok(()); // not a module-level function
            }
            let globals = func.getattr("__globals__")?.cast_into::<PyDict>().map_err(PyErr::from)?;
            if let Some(cur) = globals.get_item(self.name.as_str())? {
                if let Ok(d) = cur.cast::<Dispatcher>() {
                    if std::ptr::eq(d.get(), self) {
                        globals.set_item(self.name.as_str(), &func)?;
                    }
                }
            }
            Ok(())
        })();
        let _ = r;
    }

    /// Record (once per combination of argument types) why a call's arguments cannot be
    /// compiled for: the check is a short lock and a comparison of type pointers.
    fn note_arg_failure<'py>(&self, py: Python<'py>, args: &Args<'_, 'py>) {
        let mut key = 0u64;
        for i in 0..args.len() {
            let t = args.get(py, i).get_type().as_ptr() as u64;
            key = key.rotate_left(13) ^ t;
        }
        {
            let mut seen = self.arg_failures_seen.lock().unwrap();
            if seen.contains(&key) || seen.len() >= 32 {
                return;
            }
            seen.push(key);
        }
        self.record_arg_failure(py, &args.tuple(py));
    }

    fn record_arg_failure(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) {
        let mut f = self.failures.lock().unwrap();
        let names: Vec<String> = args.iter().map(|a| a.get_type().name().map(|n| n.to_string()).unwrap_or_default()).collect();
        let signature = format!("({})", names.join(", "));
        if f.iter().any(|x| x.signature == signature) || f.len() > 20 {
            return;
        }
        let why = args
            .iter()
            .find(|a| arg_kind(py, a).is_none())
            .map(|a| {
                let tn = a.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                if a.is_exact_instance_of::<PyInt>() {
                    "an integer argument does not fit in 64 bits".to_string()
                } else if numpy_loaded(py) && a.cast::<PyUntypedArray>().is_ok() {
                    "an array argument has a dtype, byte order, alignment or number of dimensions Heron does not compile".to_string()
                } else {
                    format!("arguments of type {tn} are not supported")
                }
            })
            .unwrap_or_else(|| format!("more than {MAX_ARGS} arguments"));
        f.push(Failure { signature, reason: why, line: 0 });
    }

    /// Turn a nonzero status into the Python exception (or a re-run by the interpreter, for
    /// a call without side effects that stopped where it had no point to continue from).
    pub(crate) fn native_error(
        &self,
        py: Python<'_>,
        env: &Env,
        frames: &[(usize, i64)],
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let code = ErrCode::from_i64(env.err_code);
        let info: Option<&FuncInfo> = if env.err_func != 0 { Some(unsafe { &*(env.err_func as *const FuncInfo) }) } else { None };
        let innermost = info.map(|i| (i, env.err_site));
        match code {
            ErrCode::Recursion if env.effects == 0 => {
                // CPython's RecursionError, exactly: the interpreter runs the call again, and
                // the calls it makes to compiled functions too (their frames count).
                self.deopts.fetch_add(1, Ordering::Relaxed);
                let was = INTERPRETING.with(|i| i.replace(true));
                RERUNS.fetch_add(1, Ordering::Relaxed);
                let r = self.fallback(py, args, kwargs);
                RERUNS.fetch_sub(1, Ordering::Relaxed);
                INTERPRETING.with(|i| i.set(was));
                return r;
            }
            ErrCode::Overflow | ErrCode::Deopt | ErrCode::ComplexResult => {
                if env.effects == 0 {
                    self.deopts.fetch_add(1, Ordering::Relaxed);
                    return self.fallback(py, args, kwargs);
                }
                let what = match code {
                    ErrCode::Overflow => "an integer result needs more than 64 bits",
                    ErrCode::ComplexResult => "a power gives a complex number",
                    _ => "a value needs the interpreter",
                };
                let (file, name) = info.map(|i| (i.filename.as_str(), i.qualname.as_str())).unwrap_or(("?", "?"));
                let msg = format!(
                    "{what} at {file}:{}, in compiled function `{name}`, where Heron cannot hand the call to the interpreter; please report it",
                    env.err_line
                );
                let exc = PyOverflowError::new_err(msg).into_value(py).into_any().into_bound(py);
                return Err(super::traceback::with_frames(py, exc, innermost, frames, true));
            }
            ErrCode::PyErr => {
                let Some(e) = PENDING.with(|p| p.borrow_mut().take()) else {
                    return Err(PyRuntimeError::new_err("heron: a callback failed"));
                };
                // A callback's exception (print), or the interpreter's after a deoptimization
                // (its traceback already has the function's own frame: err_func is 0).
                let exc = e.value(py).clone().into_any();
                if let Some(tb) = e.traceback(py) {
                    exc.setattr("__traceback__", tb)?;
                }
                return Err(super::traceback::with_frames(py, exc, innermost, frames, false));
            }
            _ => {}
        }
        let Some(info) = info else {
            return Err(PyRuntimeError::new_err("heron: native code failed without an error record"));
        };
        let (exc_name, msg) = if code == ErrCode::UserRaise {
            info.raises.get(env.err_a[0] as usize).cloned().unwrap_or(("RuntimeError".into(), None))
        } else {
            (String::new(), None)
        };
        let rt = crate::runtime::import(py, "heron._runtime")?;
        let exc = rt.getattr("native_error")?.call1((code.name(), env.err_a[0], env.err_a[1], env.err_a[2], exc_name, msg))?;
        Err(super::traceback::with_frames(py, exc, innermost, frames, true))
    }
}

#[pymethods]
impl Dispatcher {
    #[new]
    #[pyo3(signature = (func, options=None))]
    pub fn new(py: Python<'_>, func: Bound<'_, PyAny>, options: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let name: String = func.getattr("__name__")?.extract()?;
        let qualname: String = func.getattr("__qualname__").and_then(|q| q.extract()).unwrap_or_else(|_| name.clone());
        let module = func.getattr("__module__").map(|m| m.unbind()).unwrap_or_else(|_| py.None());
        let doc = func.getattr("__doc__").map(|m| m.unbind()).unwrap_or_else(|_| py.None());
        let options = match options {
            Some(o) if !o.is_none() => o.unbind(),
            _ => PyDict::new(py).into_any().unbind(),
        };
        let opt = |name: &str| options.bind(py).get_item(name).and_then(|v| v.is_truthy()).unwrap_or(false);
        let nogil = opt("nogil") || opt("parallel");
        let parallel = opt("parallel");
        let n_params: u64 = func.getattr("__code__").and_then(|c| c.getattr("co_argcount")).and_then(|n| n.extract()).unwrap_or(0);
        Ok(Dispatcher {
            vectorcall: dispatcher_vectorcall,
            refs: RwLock::new(Some(PyRefs { func: func.unbind(), module, doc, options })),
            name,
            qualname,
            nogil,
            parallel,
            ir: OnceLock::new(),
            first: AtomicPtr::new(std::ptr::null_mut()),
            specs: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
            recompiles: AtomicU64::new(0),
            n_params: AtomicU64::new(n_params),
            arg_failures_seen: Mutex::new(Vec::new()),
            stepped_aside: AtomicBool::new(false),
            may_step_aside: AtomicBool::new(false),
            native_calls: AtomicU64::new(0),
            fallback_calls: AtomicU64::new(0),
            deopts: AtomicU64::new(0),
            linked: AtomicU64::new(0),
            compile_ns: AtomicU64::new(0),
            native_ns: AtomicU64::new(0),
        })
    }

    /// Make a dispatcher for `func` (as the constructor) and give it `func.__doc__`.
    #[staticmethod]
    #[pyo3(signature = (func, options=None))]
    fn wrap<'py>(py: Python<'py>, func: Bound<'py, PyAny>, options: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, Dispatcher>> {
        let doc = func.getattr("__doc__").unwrap_or_else(|_| py.None().into_bound(py));
        let d = Bound::new(py, Dispatcher::new(py, func, options)?)?;
        d.setattr("__doc__", doc)?;
        d.get().may_step_aside.store(true, Ordering::Relaxed);
        Ok(d)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        if kwargs.map(|k| !k.is_empty()).unwrap_or(false) || args.len() > MAX_ARGS {
            return self.call_impl(py, &Args::Tuple(args.clone()), kwargs);
        }
        let mut items = [std::ptr::null_mut(); MAX_ARGS];
        for (i, a) in args.iter().enumerate() {
            items[i] = a.as_ptr();
        }
        self.call_impl(py, &Args::Vector(&items[..args.len()], args.clone().into()), kwargs)
    }

    /// Statistics for the report: calls, native calls, fallbacks, signatures, compile and
    /// native time (seconds), and why specializations failed.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        // Every call either ran natively or fell back; a deoptimized call did both.
        let (native, fallback, deopts) = (
            self.native_calls.load(Ordering::Relaxed),
            self.fallback_calls.load(Ordering::Relaxed),
            self.deopts.load(Ordering::Relaxed),
        );
        // A call re-run whole by the interpreter (`deopts` here) counts once; one that
        // continued in the interpreter from a deoptimization point ran natively.
        d.set_item("calls", native + fallback - deopts)?;
        let continued: u64 = self.specs.lock().unwrap().iter().filter_map(|s| s.unit.as_ref().ok()).map(|u| u.info.deopts.load(Ordering::Relaxed)).sum();
        d.set_item("native_calls", self.native_calls.load(Ordering::Relaxed))?;
        d.set_item("fallback_calls", self.fallback_calls.load(Ordering::Relaxed))?;
        d.set_item("deopts", deopts + continued)?;
        d.set_item("reruns", deopts)?;
        d.set_item("called_from_native", self.linked.load(Ordering::Relaxed))?;
        d.set_item("compile_time_s", self.compile_ns.load(Ordering::Relaxed) as f64 * 1e-9)?;
        d.set_item("native_time_s", self.native_ns.load(Ordering::Relaxed) as f64 * 1e-9)?;
        let sigs = PyList::empty(py);
        for s in self.specs.lock().unwrap().iter() {
            if s.unit.is_ok() && !s.threaded {
                sigs.append(signature_text(&s.kinds))?;
            }
        }
        d.set_item("signatures", sigs)?;
        let holds = self.specs.lock().unwrap().iter().filter_map(|s| s.unit.as_ref().ok()).any(|u| u.long_running && u.writes_visible);
        let calls_numpy = self.specs.lock().unwrap().iter().filter_map(|s| s.unit.as_ref().ok()).any(|u| u.long_running && u.py_callbacks);
        let gil = if calls_numpy && !self.nogil && !holds {
            "held: it makes NumPy arrays or calls NumPy (mark it `# heron: jit, nogil` to release the GIL between those calls)"
        } else if holds && !self.nogil {
            "held: it writes arrays its caller can see (mark it `# heron: jit, nogil` to release the GIL when no other thread uses them)"
        } else if holds {
            "released (nogil): it writes arrays its caller can see"
        } else {
            "released"
        };
        d.set_item("gil", gil)?;
        let mut foreign: Vec<String> = self.specs.lock().unwrap().iter().filter_map(|s| s.unit.as_ref().ok()).flat_map(|u| u.foreign.iter().cloned()).collect();
        foreign.sort();
        foreign.dedup();
        d.set_item("native_functions", foreign)?;
        // The units' notes, each once (a loop compiled for two signatures has one note).
        let (mut notes, mut vector): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let mut runs = 0u64;
        for u in self.specs.lock().unwrap().iter().filter_map(|s| s.unit.as_ref().ok()) {
            runs += u.parallel_runs.load(Ordering::Relaxed);
            for (all, unit) in [(&mut notes, &u.parallel_notes), (&mut vector, &u.vector_notes)] {
                for n in unit {
                    if !all.contains(n) {
                        all.push(n.clone());
                    }
                }
            }
        }
        d.set_item("parallel_loops", notes)?;
        d.set_item("vector_loops", vector)?;
        d.set_item("parallel_runs", runs)?;
        // The IR of each specialization, when kept for the annotated report.
        let ir = PyList::empty(py);
        for s in self.specs.lock().unwrap().iter() {
            if let (Ok(u), false) = (s.unit.as_ref(), s.threaded) {
                if let Some(text) = &u.ir_text {
                    ir.append((signature_text(&s.kinds), text.as_str()))?;
                }
            }
        }
        d.set_item("ir", ir)?;
        let fails = PyList::empty(py);
        let filename = self.ir.get().and_then(|r| r.as_ref().ok()).map(|f| f.filename.clone()).unwrap_or_else(|| {
            self.func(py)
                .and_then(|f| f.getattr("__code__"))
                .and_then(|c| c.getattr("co_filename"))
                .and_then(|f| f.extract())
                .unwrap_or_default()
        });
        for f in self.failures.lock().unwrap().iter() {
            let fd = PyDict::new(py);
            fd.set_item("signature", &f.signature)?;
            fd.set_item("reason", &f.reason)?;
            fd.set_item("file", &filename)?;
            fd.set_item("line", f.line)?;
            fails.append(fd)?;
        }
        d.set_item("failures", fails)?;
        d.set_item("recompiles", self.recompiles.load(Ordering::Relaxed))?;
        d.set_item("stepped_aside", self.stepped_aside.load(Ordering::Relaxed))?;
        d.set_item("live_globals", PyList::new(py, self.live.lock().unwrap().keys())?)?;
        Ok(d)
    }

    /// A C callback of this function (`heron.cfunc`, issue 16): compile the specialization for
    /// the C parameter types `params` (type codes of `heron._cnative`: `f64`, `i32`,
    /// `p:float64`, ...) and make a C-callable wrapper returning `ret`. `fallback` is the
    /// address of a ctypes callback of the Python function with the same C signature (the
    /// wrapper calls it when the interpreter must run the call; the caller keeps it alive).
    ///
    /// Returns `(callback, None)`, or `(None, reason)` when it cannot be compiled natively.
    fn make_cfunc(slf: Bound<'_, Self>, params: Vec<String>, ret: String, fallback: usize) -> PyResult<(Option<super::cfunc::CCallback>, Option<String>)> {
        use crate::types::cnative::CType;
        let py = slf.py();
        let this = slf.get();
        let mut cts = Vec::new();
        let mut kinds = Vec::new();
        for p in &params {
            let Some(c) = CType::parse(p) else { return Ok((None, Some(format!("the C type `{p}` is not supported in a compiled callback")))) };
            let kind = match super::cfunc::param_type(c) {
                Some(Type::Float) => ArgKind::Float,
                Some(Type::Int) => ArgKind::Int,
                Some(Type::Bool) => ArgKind::Bool,
                Some(Type::CPtr(Some(d))) => ArgKind::CPtr(d),
                _ => return Ok((None, Some(format!("a compiled callback does not take a C {c} yet")))),
            };
            cts.push(c);
            kinds.push(kind);
        }
        let Some(rc) = CType::parse(&ret) else { return Ok((None, Some(format!("the C type `{ret}` is not supported as a callback's result")))) };
        let spec = this.specialize(py, &kinds, false, false);
        let unit = match &spec.unit {
            Ok(u) => u.clone(),
            Err(e) => return Ok((None, Some(format!("{} (line {})", e.msg, e.line)))),
        };
        // Every type it may return converts as ctypes converts it (the unified representation
        // of several holds the same value, see `cfunc::c_bits`).
        let members = if unit.ret_members.is_empty() { vec![unit.ret_type.clone()] } else { unit.ret_members.clone() };
        if let Some(bad) = members.iter().chain(std::iter::once(&unit.ret_type)).find(|t| !super::cfunc::result_convertible(t, rc)) {
            return Ok((None, Some(format!("it returns a {bad}, which ctypes does not convert to a C {rc} without Python"))));
        }
        match super::cfunc::make(py, slf.clone().unbind(), spec, cts, rc, fallback) {
            Ok(cb) => Ok((Some(cb), None)),
            Err(e) => Ok((None, Some(e.msg))),
        }
    }

    /// Compile the specialization for these example arguments now (without running it).
    /// Returns None on success, or the reason it cannot be compiled.
    #[pyo3(signature = (*args))]
    fn compile_for(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Option<String>> {
        let mut kinds = Vec::new();
        for a in args.iter() {
            match arg_kind(py, &a) {
                Some(k) => kinds.push(k),
                None => return Ok(Some("argument types not supported".into())),
            }
        }
        let spec = self.specialize(py, &kinds, false, false);
        Ok(spec.unit.as_ref().err().map(|e| format!("line {}: {}", e.line, e.msg)))
    }

    #[getter(__name__)]
    fn name(&self) -> &str {
        &self.name
    }
    #[getter(__qualname__)]
    fn qualname(&self) -> &str {
        &self.qualname
    }
    #[getter(__module__)]
    fn module(&self, py: Python<'_>) -> Py<PyAny> {
        self.part(py, |r| &r.module)
    }
    #[getter(__wrapped__)]
    fn wrapped(&self, py: Python<'_>) -> Py<PyAny> {
        self.part(py, |r| &r.func)
    }
    #[getter]
    fn py_func(&self, py: Python<'_>) -> Py<PyAny> {
        self.part(py, |r| &r.func)
    }
    #[getter]
    fn options(&self, py: Python<'_>) -> Py<PyAny> {
        self.part(py, |r| &r.options)
    }
    #[getter(__heron__)]
    fn is_heron(&self) -> bool {
        true
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(g) = self.refs.try_read() {
            if let Some(r) = &*g {
                visit.call(&r.func)?;
                visit.call(&r.module)?;
                visit.call(&r.doc)?;
                visit.call(&r.options)?;
            }
        }
        // The guards hold the globals dict, which usually holds this dispatcher.
        if let Ok(specs) = self.specs.try_lock() {
            for spec in specs.iter() {
                for g in &spec.guards.guards {
                    visit.call(&g.dict)?;
                    visit.call(&g.key)?;
                    if let Some(e) = &g.expected {
                        visit.call(e)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut g) = self.refs.write() {
            *g = None;
        }
        // Unreachable: no call can be using a specialization now. They are dropped after the
        // lock is let go (dropping their Python references may run code).
        let taken = match self.specs.lock() {
            Ok(mut specs) => {
                self.first.store(std::ptr::null_mut(), Ordering::Release);
                std::mem::take(&mut *specs)
            }
            Err(_) => Vec::new(),
        };
        drop(taken);
    }

    /// Pickle by reference (the module attribute of this name, as plain functions pickle), or,
    /// for a function of the main script where cloudpickle is in use (Dask, joblib, loky), by
    /// value, so that a worker without that script rebuilds and compiles it: see
    /// `heron._hook.reduce_dispatcher`.
    fn __reduce__(slf: Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let qualname = slf.get().qualname.clone();
        match crate::runtime::import(py, "heron._hook").and_then(|h| h.getattr("reduce_dispatcher")?.call1((&slf,))) {
            Ok(r) => Ok(r.unbind()),
            Err(_) => Ok(qualname.into_pyobject(py)?.into_any().unbind()),
        }
    }

    fn __repr__(&self) -> String {
        format!("<heron dispatcher {}>", self.qualname)
    }

    /// Descriptor protocol: a dispatcher stored on a class binds like a function.
    fn __get__(slf: Bound<'_, Self>, obj: Option<Bound<'_, PyAny>>, _tp: Option<Bound<'_, PyType>>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match obj {
            None => Ok(slf.into_any().unbind()),
            Some(o) if o.is_none() => Ok(slf.into_any().unbind()),
            Some(o) => {
                let types = crate::runtime::import(py, "types")?;
                Ok(types.getattr("MethodType")?.call1((slf, o))?.unbind())
            }
        }
    }
}
