//! Specialization: the compile path of a dispatcher. The function's IR (lowered once), the
//! process-wide compile lock, and the pipeline for one signature: inference, the analyses,
//! the transforms and codegen (DESIGN.md "The pipeline").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::super::guards::GuardSet;
use super::super::marshal::{signature_text, ArgKind};
use super::super::resolve::DispatchResolver;
use super::{Dispatcher, Failure, Spec};
use crate::abi::FuncInfo;
use crate::analysis;
use crate::codegen::{self, CompiledUnit};
use crate::frontend;
use crate::ir::{self, CResult, CompileError, Function, StmtKind};
use crate::transform;
use crate::types::infer;
use crate::types::Type;

thread_local! {
    /// Dispatchers this thread is compiling (to refuse mutual recursion instead of deadlocking).
    pub static COMPILING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The process-wide, re-entrant compile lock (see `Dispatcher::specialize`).
struct CompileLock;

static COMPILE_OWNER: Mutex<(Option<std::thread::ThreadId>, usize)> = Mutex::new((None, 0));
static COMPILE_FREED: Condvar = Condvar::new();

impl CompileLock {
    fn acquire(py: Python<'_>) -> CompileLock {
        let me = std::thread::current().id();
        {
            let mut g = COMPILE_OWNER.lock().unwrap();
            match g.0 {
                None => {
                    *g = (Some(me), 1);
                    return CompileLock;
                }
                Some(t) if t == me => {
                    g.1 += 1;
                    return CompileLock;
                }
                _ => {}
            }
        }
        // Another thread compiles: wait with the GIL released (it may need the GIL to finish).
        py.detach(|| {
            let mut g = COMPILE_OWNER.lock().unwrap();
            while g.0.is_some() {
                g = COMPILE_FREED.wait(g).unwrap();
            }
            *g = (Some(me), 1);
        });
        CompileLock
    }
}

impl Drop for CompileLock {
    fn drop(&mut self) {
        let mut g = COMPILE_OWNER.lock().unwrap();
        g.1 -= 1;
        if g.1 == 0 {
            g.0 = None;
            COMPILE_FREED.notify_all();
        }
    }
}

impl Dispatcher {
    /// The function's Heron IR, lowered once. (Called under the global compile lock; the
    /// Python code it runs is never inside a lock another thread could wait on with the GIL.)
    pub(super) fn ir(&self, py: Python<'_>) -> Result<Arc<Function>, CompileError> {
        if let Some(r) = self.ir.get() {
            return r.clone();
        }
        let r: PyResult<CResult<Function>> = (|| {
            let src = py.import("heron._source")?;
            let t = src.getattr("function_ast")?.call1((self.func(py)?,))?;
            let (node, filename, qualname): (Bound<'_, PyAny>, String, String) = t.extract()?;
            let optimize = py.import("sys")?.getattr("flags")?.getattr("optimize")?.extract::<i64>()? > 0;
            Ok(frontend::lower_function(&node, &filename, &qualname, optimize))
        })();
        let r = match r {
            Ok(Ok(f)) => Ok(Arc::new(f)),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(CompileError::new(format!("the source code is not available ({e})"), 0)),
        };
        let _ = self.ir.set(r);
        self.ir.get().unwrap().clone()
    }

    /// Find or compile the specialization for `kinds` (compiling it exactly once, whatever the
    /// number of threads asking).
    /// The specialization for `kinds`, compiled on first use. `fp_checked` asks for one that
    /// reports NumPy floating-point errors where they happen, for a callee of compiled code
    /// with side effects: such a caller cannot be re-run by the interpreter, which is how a
    /// function without side effects reports them otherwise (see `codegen::fp::np_fp_check`).
    /// A checked specialization also serves calls that do not need one.
    /// `threaded` asks for the specialization parallel loops' bodies call (`Typed::threaded`):
    /// its failures are not the function's (the report does not list them) and it is never
    /// the entry of a call from Python.
    pub(crate) fn specialize(&self, py: Python<'_>, kinds: &[ArgKind], fp_checked: bool, threaded: bool) -> Arc<Spec> {
        if let Some(s) = self.find(py, kinds, fp_checked, threaded) {
            return s;
        }
        // One compilation at a time in the process (re-entrant: compiling a caller compiles
        // its callees on the same thread), as Numba does; waiting releases the GIL. Per-function
        // locks would deadlock when two threads compile two functions that call each other.
        let _guard = CompileLock::acquire(py);
        if let Some(s) = self.find(py, kinds, fp_checked, threaded) {
            return s;
        }
        let start = Instant::now();
        let addr = self as *const Dispatcher as usize;
        COMPILING.with(|c| c.borrow_mut().push(addr));
        // A bug in Heron or Cranelift must not crash the user's program: a panic while
        // compiling becomes a compile failure, and the call runs as Python.
        let unit = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compile(py, kinds, fp_checked, threaded))) {
            Ok(u) => u,
            Err(p) => {
                let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default();
                (Err(CompileError::new(format!("internal compiler error ({what}); please report it"), 0)), Vec::new())
            }
        };
        COMPILING.with(|c| c.borrow_mut().retain(|a| *a != addr));
        self.compile_ns.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if let (Err(e), false) = (&unit.0, threaded) {
            let mut f = self.failures.lock().unwrap();
            if !f.iter().any(|x| x.signature == signature_text(kinds)) {
                f.push(Failure { signature: signature_text(kinds), reason: e.msg.clone(), line: e.line });
            }
        }
        let (unit, guards) = unit;
        if self.parallel && !threaded {
            // The pool's size is read once per process, with the GIL (see `configure`).
            super::super::parallel::configure(py);
        }
        let guards = GuardSet::new(py, guards);
        let spec = Arc::new(Spec { kinds: kinds.to_vec(), fp_checked, threaded, unit: unit.map(Arc::new), guards, valid: AtomicBool::new(true) });
        {
            let mut s = self.specs.lock().unwrap();
            s.push(spec.clone());
            if threaded {
                return spec;
            }
            let cur = self.first.load(Ordering::Acquire);
            // Safety: `first` points into `specs`, which never drops a spec.
            if cur.is_null() || unsafe { !(*cur).valid.load(Ordering::Relaxed) || (*cur).kinds == spec.kinds } {
                self.first.store(Arc::as_ptr(&spec) as *mut Spec, Ordering::Release);
            }
        }
        spec
    }

    /// A valid specialization for `kinds` whose guards hold (failing guards invalidate it).
    pub(super) fn find(&self, py: Python<'_>, kinds: &[ArgKind], fp_checked: bool, threaded: bool) -> Option<Arc<Spec>> {
        let found = self.specs.lock().unwrap().iter().find(|s| s.kinds == kinds && s.threaded == threaded && (s.fp_checked || !fp_checked) && s.valid.load(Ordering::Relaxed)).cloned();
        match found {
            Some(s) if self.usable(py, &s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn compile(&self, py: Python<'_>, kinds: &[ArgKind], fp_checked: bool, threaded: bool) -> (CResult<CompiledUnit>, Vec<super::super::guards::Guard>) {
        let mut guards = Vec::new();
        let unit = self.compile_with(py, kinds, fp_checked, threaded, &mut guards);
        (unit, guards)
    }

    pub(super) fn compile_with(&self, py: Python<'_>, kinds: &[ArgKind], fp_checked: bool, threaded: bool, guards: &mut Vec<super::super::guards::Guard>) -> CResult<CompiledUnit> {
        let f = self.ir(py)?;
        let func = self.func(py).map_err(|e| CompileError::new(e.to_string(), 0))?;
        let globals = func
            .getattr("__globals__")
            .and_then(|g| g.cast_into::<PyDict>().map_err(PyErr::from))
            .map_err(|e| CompileError::new(format!("no globals: {e}"), 0))?;
        let builtins = py.import("builtins").map_err(|e| CompileError::new(e.to_string(), 0))?.into_any();
        let minor = py.version_info().minor as u32;
        let mut res = DispatchResolver { py, me: self, globals, builtins, callees: Vec::new(), units: Vec::new(), minor, fp_checked, threaded, parallel: self.parallel && !threaded, guards: Vec::new(), libs: Vec::new() };
        let args: Vec<Type> = kinds.iter().map(|k| k.to_type()).collect();
        // The pipeline (DESIGN.md): inference, the analyses, the transforms, codegen. Inference
        // may speculate (a failed guess re-runs the call) only in a function without side
        // effects of its own.
        let pure = analysis::purity::is_pure(&f, &[]);
        let mut typed = infer::infer(&f, &args, &mut res, pure);
        if matches!(&typed, Err(e) if e.msg.starts_with("a recursive call with different argument types")) {
            // A recursive call passes a strided view where the call from Python passed a
            // C-contiguous array (mergesort's `sort(a[:mid])`): compile for arrays of any layout,
            // which takes the same arguments (strides are always passed).
            let wide: Vec<Type> = args.iter().map(|t| match t {
                Type::Array(at) => Type::Array(crate::types::ArrayType { layout: crate::types::Layout::Any, ..*at }),
                t => t.clone(),
            }).collect();
            if wide != args {
                res.guards.clear();
                typed = infer::infer(&f, &wide, &mut res, pure);
            }
        }
        *guards = std::mem::take(&mut res.guards);
        let mut typed = typed?;
        typed.fp_checked = fp_checked;
        typed.parallel = self.parallel && !threaded;
        typed.threaded = threaded;
        let facts = analysis::analyze(&f, &typed)?;
        let tf = transform::run(transform::TypedFunction { f, typed, facts })?;
        let f = &tf.f;
        let mut raises = Vec::new();
        ir::walk_stmts(&f.body, &mut |s| match &s.kind {
            StmtKind::Raise { exc, msg } => raises.push((exc.clone(), msg.clone())),
            StmtKind::Assert { msg, .. } => raises.push(("AssertionError".to_string(), msg.clone())),
            _ => {}
        });
        let module = self.part(py, |r| &r.module).bind(py).extract::<String>().unwrap_or_default();
        let weak = py.import("weakref").and_then(|w| w.getattr("ref")?.call1((&func,))).map(|w| w.unbind()).ok();
        let info = FuncInfo { filename: f.filename.clone(), module, name: f.name.clone(), qualname: f.qualname.clone(), raises, func: weak, ..FuncInfo::default() };
        let units = std::mem::take(&mut res.units);
        let symbols = super::super::symbols();
        let links = codegen::RuntimeLinks { symbols: &symbols, prepare: &super::super::prepare_helper };
        codegen::compile(f, &tf.typed, &tf.facts, info, units, &links)
    }
}
