//! The resolver of names for type inference: what a function's globals (and the builtins)
//! hold when it is compiled, and the guards that keep that true (see `guards`).

use std::sync::atomic::Ordering;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyModule};

use super::dispatch::{Dispatcher, COMPILING};
use super::marshal::{signature_text, ArgKind};
use crate::builtins::{self, MathAttr, NumpyAttr};
use crate::codegen::CompiledUnit;
use crate::ir::{CResult, CompileError};
use crate::ir::Const;
use crate::types::ufunc::UfuncLoop;
use crate::types::infer::{CalleeInfo, GlobalValue, Resolver};
use crate::types::Type;
use crate::types::cnative::{CFunc, CPrim, CType, Flavour, Foreign};
use pyo3::types::PyString;
use std::sync::Arc;

use super::guards::{Guard, LiveCell};
pub struct DispatchResolver<'py, 'd> {
    pub py: Python<'py>,
    pub me: &'d Dispatcher,
    pub globals: Bound<'py, PyDict>,
    pub builtins: Bound<'py, PyAny>,
    pub callees: Vec<Py<Dispatcher>>,
    pub units: Vec<Arc<CompiledUnit>>,
    pub minor: u32,
    /// Compiling a specialization that checks NumPy floating-point errors at each operation
    /// (its callees must then check too).
    pub fp_checked: bool,
    /// Compiling a threaded specialization (`Typed::threaded`): its callees are threaded too.
    pub threaded: bool,
    /// Compiling a function marked `parallel`: its callees get a threaded specialization
    /// besides (a parallel loop's body calls that one).
    pub parallel: bool,
    /// What the compiled code relies on in the dictionaries it read (see `guards`).
    pub guards: Vec<Guard>,
    /// Foreign-library objects the code names (`GlobalValue::Foreign(Lib(i))`).
    pub libs: Vec<Py<PyAny>>,
}

impl<'py, 'd> Resolver for DispatchResolver<'py, 'd> {
    fn global(&mut self, name: &str, line: u32) -> CResult<GlobalValue> {
        if name == "$matmul" {
            // `a @ b` (see the front end).
            return Ok(GlobalValue::NpFunc("numpy.matmul".into()));
        }
        if name == "$complex" {
            // An imaginary literal (see the front end).
            return Ok(GlobalValue::Builtin(builtins::python("complex").expect("in the registry")));
        }
        if matches!(name, "$is_none" | "$sum_comp" | "$sum_fixed" | "$eager_items") {
            return Ok(GlobalValue::Builtin(builtins::python(name).expect("in the registry")));
        }
        if name == "$list" {
            // A list display, taken only by `numpy.array` (`types::infer_literals`).
            return Ok(GlobalValue::Unsupported("a list is not supported yet".into()));
        }
        if let Some(real) = name.strip_prefix("$builtin_") {
            // A comprehension's reduction (`heron._comprehensions`): compiled as loops only
            // while `sum` (`any`, ...) is the builtin, which the lookups guard.
            let shadowed = self.globals.get_item(real).ok().flatten().is_some();
            self.global(real, line)?;
            let builtin = self.builtins.getattr(real).ok().filter(|v| {
                v.getattr("__module__").and_then(|m| m.extract::<String>()).is_ok_and(|m| m == "builtins")
                    && v.getattr("__name__").and_then(|m| m.extract::<String>()).is_ok_and(|m| m == real)
            });
            if shadowed || builtin.is_none() {
                return Ok(GlobalValue::Unsupported(format!("`{real}` is not the builtin here, so its comprehension is not compiled")));
            }
            return Ok(GlobalValue::Builtin(builtins::python("$true").expect("in the registry")));
        }
        let py = self.py;
        let globals = self.globals.clone();
        let value = match globals.get_item(name).ok().flatten() {
            Some(v) => v,
            None => {
                // Not a global (guarded: defining one later shadows the builtin).
                self.guard(&globals, name, None, None, None);
                let builtins = self.builtins.getattr("__dict__").ok().and_then(|d| d.cast_into::<PyDict>().ok());
                let found = builtins.as_ref().and_then(|d| d.get_item(name).ok().flatten());
                if let (Some(d), Some(v)) = (&builtins, &found) {
                    self.guard(d, name, Some(v), None, None);
                }
                match found {
                    Some(_) => {
                        if let Some(b) = builtins::python(name) {
                            return Ok(GlobalValue::Builtin(b));
                        }
                        if name == "range" {
                            return Ok(GlobalValue::Range);
                        }
                        if name == "zip" {
                            return Ok(GlobalValue::LoopBuiltin("zip"));
                        }
                        if name == "enumerate" {
                            return Ok(GlobalValue::LoopBuiltin("enumerate"));
                        }
                        return Ok(GlobalValue::Unsupported(format!("the builtin `{name}` is not supported in compiled code yet")));
                    }
                    None => return Err(CompileError::new(format!("name '{name}' is not defined"), line)),
                }
            }
        };
        // A NumPy scalar global (`zero = np.float32(0)`): read from a cell at entry, kept
        // current by its guard (the same type), as a changing Python scalar global is.
        if let Some(d) = super::marshal::numpy_scalar_dtype(py, &value) {
            let ty = Type::Np(d);
            if let Some(raw) = super::guards::scalar_raw(&value, &ty) {
                let cell = self.me.live_cell_made(name, &ty);
                cell.raw.store(raw, Ordering::Relaxed);
                let addr = &cell.raw as *const std::sync::atomic::AtomicU64 as usize;
                self.guard(&globals, name, None, None, Some(cell));
                return Ok(GlobalValue::Cell { ty, addr });
            }
        }
        // A NumPy array global (a table of coefficients): read through its cell at entry,
        // the very array guarded (see `guards::ArrayCell`).
        if let Some(at) = super::marshal::array_type(py, &value) {
            if let Some(cell) = super::guards::ArrayCell::new(&value) {
                let addr = cell.addr();
                self.guards.push(Guard {
                    dict: globals.clone().unbind(),
                    key: PyString::intern(py, name).unbind(),
                    expected: Some(value.clone().unbind()),
                    scalar: None,
                    live: None,
                    attrs: None,
                    array: Some(cell),
                });
                return Ok(GlobalValue::Cell { ty: Type::Array(at), addr });
            }
        }
        let g = self.classify(py, name, &value);
        if let GlobalValue::Const(c) = &g {
            let ty = match c {
                Const::Int(_) => Type::Int,
                Const::Float(_) => Type::Float,
                _ => Type::Bool,
            };
            // A scalar global that has changed before is read at each call (a live cell).
            let live = self.me.live_cell(name, &ty);
            if let Some(cell) = live {
                if let Some(raw) = super::guards::scalar_raw(&value, &ty) {
                    cell.raw.store(raw, Ordering::Relaxed);
                    let addr = &cell.raw as *const std::sync::atomic::AtomicU64 as usize;
                    self.guard(&globals, name, None, None, Some(cell));
                    return Ok(GlobalValue::Cell { ty, addr });
                }
            }
            self.guard(&globals, name, Some(&value), Some(ty), None);
            return Ok(g);
        }
        self.guard(&globals, name, Some(&value), None, None);
        Ok(g)
    }

    fn module_attr(&mut self, module: &str, attr: &str, line: u32) -> CResult<GlobalValue> {
        if module == "math" {
            let g = match builtins::math_attr(attr, self.minor) {
                Some(MathAttr::Const(x)) => GlobalValue::Const(Const::Float(x)),
                Some(MathAttr::Fn(f)) => GlobalValue::Builtin(f),
                None => return Err(CompileError::new(format!("`math.{attr}` is not supported yet"), line)),
            };
            self.guard_module_attr(module, attr, line)?;
            return Ok(g);
        }
        self.guard_module_attr(module, attr, line)?;
        if module == "ctypes" {
            let value = self.py.import("ctypes").and_then(|m| m.getattr(attr)).ok();
            let described = value.as_ref().and_then(|v| self.foreign(v, None));
            return described.ok_or_else(|| CompileError::new(format!("`ctypes.{attr}` is not supported in compiled code"), line));
        }
        if module == "random" {
            return random_attr(self.py, attr).map_err(|why| CompileError::new(why, line));
        }
        if module == "numpy" && (attr == "ndindex" || attr == "ndenumerate") {
            // `for ind in np.ndindex(shape)`, `for idx, x in np.ndenumerate(a)` (typed by
            // inference there only).
            return Ok(GlobalValue::LoopBuiltin(if attr == "ndindex" { "ndindex" } else { "ndenumerate" }));
        }
        let registry = if module == "numpy" { builtins::numpy_attr(attr) } else { None };
        match registry {
            Some(NumpyAttr::Fn(f)) => Ok(GlobalValue::Builtin(f)),
            Some(NumpyAttr::DType(d)) => Ok(GlobalValue::NpDType(d)),
            None => {
                let value = self.py.import(module).and_then(|m| m.getattr(attr)).ok();
                let unsupported = || CompileError::new(format!("`{module}.{attr}` is not supported in compiled code yet"), line);
                let Some(v) = value else { return Err(unsupported()) };
                if v.is_exact_instance_of::<PyFloat>() {
                    // numpy.pi, numpy.e, numpy.inf, numpy.nan (Python floats).
                    return Ok(GlobalValue::Const(Const::Float(v.extract::<f64>().map_err(|_| unsupported())?)));
                }
                if super::ufunc::is_ufunc(&v) {
                    let name: String = v.getattr("__name__").and_then(|n| n.extract()).map_err(|_| unsupported())?;
                    return Ok(GlobalValue::Ufunc(name));
                }
                self.numpy_member(module, attr, &v).ok_or_else(unsupported)
            }
        }
    }

    fn np_call(&mut self, path: &str, method: bool, args: &[(Type, Option<Const>)], kwargs: &[(String, Const)], line: u32) -> CResult<(Type, bool)> {
        super::npcall::type_call(self.py, path, method, args, kwargs).map_err(|why| CompileError::new(why, line))
    }

    fn foreign_attr(&mut self, lib: usize, attr: &str, line: u32) -> CResult<GlobalValue> {
        let py = self.py;
        let lib_index = lib;
        let lib = self.libs[lib].clone_ref(py).into_bound(py);
        let described = py.import("heron._cnative").and_then(|m| m.getattr("describe_attr")?.call1((&lib, attr))).ok();
        let Some(d) = described.filter(|d| !d.is_none()) else {
            return Err(CompileError::new(format!("the library has no function `{attr}` compiled code can call"), line));
        };
        // The library object keeps its functions in its `__dict__` (ctypes and cffi both cache
        // them there): the compiled call is valid while that entry is the same function.
        if let Ok(dict) = lib.getattr("__dict__").and_then(|d| d.cast_into::<PyDict>().map_err(PyErr::from)) {
            let value = dict.get_item(attr).ok().flatten();
            self.guard(&dict, attr, value.as_ref(), None, None);
        }
        if let Ok(f) = lib.getattr(attr) {
            self.guard_ctypes_function(&f, &d);
        }
        if d.get_item(0).ok().and_then(|k| k.extract::<String>().ok()).as_deref() == Some("ffi") {
            // A member of a cffi FFI: which one (`heron._cnative._describe_ffi_member`).
            return Ok(GlobalValue::Foreign(match attr {
                "cast" => Foreign::FfiCast(lib_index),
                "from_buffer" => Foreign::FfiFromBuffer(lib_index),
                _ => Foreign::FfiNull,
            }));
        }
        foreign_value(&d).ok_or_else(|| CompileError::new(format!("`{attr}` of this library is not supported in compiled code"), line))
    }

    fn ffi_pointer_type(&mut self, lib: usize, cdecl: &str, line: u32) -> CResult<(CPrim, bool)> {
        let py = self.py;
        let ffi = self.libs[lib].clone_ref(py).into_bound(py);
        let answer = py.import("heron._cnative").and_then(|m| m.getattr("cdecl_pointer")?.call1((&ffi, cdecl)));
        let answer = answer.map_err(|e| CompileError::new(format!("Heron could not read the C type {cdecl:?} ({e})"), line))?;
        if let Ok(why) = answer.extract::<String>() {
            return Err(CompileError::new(why, line));
        }
        let (code, array): (String, bool) = answer.extract().map_err(|_| CompileError::new(format!("Heron could not read the C type {cdecl:?}"), line))?;
        let prim = CPrim::from_code(&code).ok_or_else(|| CompileError::new(format!("compiled code does not pass a pointer to the C type `{}`", &code[3..]), line))?;
        Ok((prim, array))
    }

    fn ufunc(&mut self, name: &str, operands: &[Type], line: u32) -> CResult<UfuncLoop> {
        super::ufunc::resolve_loop(self.py, name, operands).map_err(|why| CompileError::new(why, line))
    }

    fn callee(&mut self, id: usize, args: &[Type], caller_pure: bool, line: u32) -> CResult<CalleeInfo> {
        let d = self.callees[id].clone_ref(self.py);
        let dref = d.get();
        let addr = dref as *const Dispatcher as usize;
        if COMPILING.with(|c| c.borrow().contains(&addr)) {
            return Err(CompileError::new(
                format!("`{}` and this function call each other; mutual recursion is not supported yet", dref.qualname),
                line,
            ));
        }
        let mut kinds = Vec::new();
        for t in args {
            kinds.push(match t {
                Type::Bool => ArgKind::Bool,
                Type::Int => ArgKind::Int,
                Type::Float => ArgKind::Float,
                Type::Np(d) => ArgKind::Np(*d),
                Type::Array(a) => ArgKind::Array(*a),
                Type::Complex => ArgKind::Complex,
                Type::CData { prim, buffer: false } => ArgKind::CData(*prim),
                other => return Err(CompileError::new(format!("passing a {other} to `{}` is not supported", dref.qualname), line)),
            });
        }
        let fp_checked = self.fp_checked || !caller_pure;
        let spec = dref.specialize(self.py, &kinds, fp_checked, self.threaded);
        // The caller runs the callee's code directly: it relies on what the callee relies on.
        for g in &spec.guards.guards {
            self.guards.push(g.clone_ref(self.py));
        }
        match &spec.unit {
            Ok(unit) => {
                self.units.push(unit.clone());
                dref.linked.fetch_add(1, Ordering::Relaxed);
                let threaded = if self.threaded {
                    Ok(unit.inner)
                } else if self.parallel {
                    let t = dref.specialize(self.py, &kinds, fp_checked, true);
                    for g in &t.guards.guards {
                        self.guards.push(g.clone_ref(self.py));
                    }
                    match &t.unit {
                        Ok(tu) => {
                            self.units.push(tu.clone());
                            Ok(tu.inner)
                        }
                        Err(e) => Err(format!("it calls `{}`, which cannot run on Heron's threads: {}", dref.qualname, e.msg)),
                    }
                } else {
                    Err(format!("it calls `{}`", dref.qualname))
                };
                Ok(CalleeInfo {
                    threaded,
                    ptr: unit.inner,
                    params: unit.arg_types.clone(),
                    ret: unit.ret_type.clone(),
                    ret_members: unit.ret_members.clone(),
                    pure: unit.pure,
                    writes: unit.writes_visible,
                    recursive: unit.recursive,
                })
            }
            Err(e) => Err(CompileError::new(
                format!("`{}` cannot be compiled for {}: {}", dref.qualname, signature_text(&kinds), e.msg),
                line,
            )),
        }
    }

}

impl<'py, 'd> DispatchResolver<'py, 'd> {
    /// `module.attr` (`math.pi`, `np.float64`) read at compile time: guarded, and refused when
    /// it is no longer the module's own.
    /// `module.attr` (module `numpy` or one of its submodules) as a NumPy function compiled
    /// code calls through NumPy, or a submodule.
    fn numpy_member(&self, module: &str, attr: &str, v: &Bound<'py, PyAny>) -> Option<GlobalValue> {
        let path = format!("{module}.{attr}");
        if v.is_instance_of::<PyModule>() && matches!(path.as_str(), "numpy.linalg" | "numpy.random") {
            return Some(GlobalValue::NpModule(path));
        }
        if super::npcall::known(&path, false) {
            return Some(GlobalValue::NpFunc(path));
        }
        None
    }

    fn guard_module_attr(&mut self, module: &str, attr: &str, line: u32) -> CResult<()> {
        let py = self.py;
        let Ok(m) = py.import(module) else { return Ok(()) };
        let Ok(dict) = m.getattr("__dict__").and_then(|d| d.cast_into::<PyDict>().map_err(PyErr::from)) else { return Ok(()) };
        let value = dict.get_item(attr).ok().flatten();
        if module == "math" {
            let pristine = match &value {
                Some(v) => {
                    let is_builtin = v.get_type().name().map(|n| n == "builtin_function_or_method").unwrap_or(false);
                    let same_name = v.getattr("__name__").and_then(|n| n.extract::<String>()).map(|n| n == attr).unwrap_or(false);
                    let constant = match builtins::math_attr(attr, self.minor) {
                        Some(MathAttr::Const(x)) => v.extract::<f64>().map(|y| y.to_bits() == x.to_bits() || (x.is_nan() && y.is_nan())).unwrap_or(false),
                        _ => false,
                    };
                    (is_builtin && same_name) || constant
                }
                None => false,
            };
            if !pristine {
                return Err(CompileError::new(format!("`math.{attr}` was replaced by the program; calls to it run as Python"), line));
            }
        }
        self.guard(&dict, attr, value.as_ref(), None, None);
        Ok(())
    }

    /// Record that compiled code relies on `dict[key]` being `value` (None: absent).
    fn guard(&mut self, dict: &Bound<'py, PyDict>, key: &str, value: Option<&Bound<'py, PyAny>>, scalar: Option<Type>, live: Option<Arc<LiveCell>>) {
        let py = self.py;
        self.guards.push(Guard {
            dict: dict.clone().unbind(),
            key: PyString::intern(py, key).unbind(),
            expected: value.map(|v| v.clone().unbind()),
            scalar,
            live,
            attrs: None,
            array: None,
        });
    }

    /// A ctypes function's conversions (`argtypes`, `restype`, `errcheck`) are what they were
    /// when compiled code was made to call it (see `guards`): a later change recompiles.
    fn guard_ctypes_function(&mut self, f: &Bound<'py, PyAny>, d: &Bound<'py, PyAny>) {
        let flavour = d.get_item(6).ok().and_then(|v| v.extract::<String>().ok());
        if d.get_item(0).ok().and_then(|v| v.extract::<String>().ok()).as_deref() == Some("fn") && flavour.as_deref() == Some("ctypes") {
            self.guards.push(Guard::attributes(self.py, f, &["argtypes", "restype", "errcheck"]));
        }
    }

    fn classify(&mut self, py: Python<'py>, name: &str, value: &Bound<'py, PyAny>) -> GlobalValue {
        if is_range_like(py, value) {
            return GlobalValue::Range;
        }
        if is_carray(value) {
            return GlobalValue::Foreign(Foreign::Carray);
        }
        if value.is_exact_instance_of::<PyBool>() {
            return GlobalValue::Const(Const::Bool(value.is_truthy().unwrap_or(false)));
        }
        if value.is_exact_instance_of::<PyInt>() {
            return match value.extract::<i64>() {
                Ok(i) => GlobalValue::Const(Const::Int(i)),
                Err(_) => GlobalValue::Unsupported(format!("the global `{name}` is an integer beyond 64 bits")),
            };
        }
        if value.is_exact_instance_of::<PyFloat>() {
            return GlobalValue::Const(Const::Float(value.extract::<f64>().unwrap_or(f64::NAN)));
        }
        if let Ok(m) = value.cast::<PyModule>() {
            return match m.name().map(|n| n.to_string()).unwrap_or_default().as_str() {
                "math" => GlobalValue::Math,
                "numpy" => GlobalValue::Numpy,
                "heron" | "numba" => GlobalValue::RangeModule,
                "ctypes" => GlobalValue::Foreign(Foreign::Module),
                m @ ("numpy.random" | "numpy.linalg" | "random") => GlobalValue::NpModule(m.to_string()),
                other => GlobalValue::Unsupported(format!("the module `{other}` is not supported in compiled code")),
            };
        }
        if let Ok(d) = value.cast::<Dispatcher>() {
            if d.get().func(py).map(|f| f.is(self.me.func(py).unwrap_or_else(|_| py.None().into_bound(py)))).unwrap_or(false) {
                return GlobalValue::SelfRef;
            }
            self.callees.push(d.clone().unbind());
            return GlobalValue::Callee(self.callees.len() - 1);
        }
        // The function being compiled itself, not (yet) swapped for its dispatcher.
        if self.me.func(py).map(|f| value.is(&f)).unwrap_or(false) {
            return GlobalValue::SelfRef;
        }
        // `from math import sqrt`: the math module's own function object.
        if let Ok(math) = py.import("math") {
            if let Ok(fname) = value.getattr("__name__").and_then(|n| n.extract::<String>()) {
                if let Ok(mv) = math.getattr(fname.as_str()) {
                    if mv.is(value) {
                        if let Some(m) = builtins::math_fn(&fname, self.minor) {
                            return GlobalValue::Builtin(m);
                        }
                        return GlobalValue::Unsupported(format!("`math.{fname}` is not supported yet"));
                    }
                }
            }
        }
        if let Ok(b) = self.builtins.getattr(name) {
            if b.is(value) {
                if let Some(bi) = builtins::python(name) {
                    return GlobalValue::Builtin(bi);
                }
            }
        }
        // `from numpy import sqrt, zeros`, `from numpy.random import rand`: NumPy's own
        // objects, as compiled code knows them by their module's name for them.
        if let Some(g) = self.foreign(value, Some(name)) {
            return g;
        }
        let modules = py.import("sys").and_then(|s| s.getattr("modules")).ok();
        if let Ok(fname) = value.getattr("__name__").and_then(|n| n.extract::<String>()) {
            for m in ["numpy", "numpy.random", "numpy.linalg", "random"] {
                // Only a module already imported can be where the value came from (importing
                // numpy.random to look costs 40 ms).
                if !modules.as_ref().map(|d| d.contains(m).unwrap_or(false)).unwrap_or(false) {
                    continue;
                }
                if let Ok(mv) = py.import(m).and_then(|mm| mm.getattr(fname.as_str())) {
                    if mv.is(value) {
                        if let Ok(g) = self.module_attr(m, &fname, 0) {
                            return g;
                        }
                    }
                }
            }
        }
        let tname = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        if tname == "function" {
            return GlobalValue::Unsupported(format!(
                "`{name}` is a plain Python function; mark it with `# heron: jit` so compiled code can call it"
            ));
        }
        GlobalValue::Unsupported(format!("the global `{name}` (a {tname}) is not supported in compiled code"))
    }
}


impl<'py, 'd> DispatchResolver<'py, 'd> {
    /// `value` as a ctypes or cffi object (`heron._cnative.describe`), or `None` when it is
    /// none of theirs. Only asked when ctypes or cffi is imported (nothing else can hold one).
    fn foreign(&mut self, value: &Bound<'py, PyAny>, name: Option<&str>) -> Option<GlobalValue> {
        let py = self.py;
        let modules = py.import("sys").ok()?.getattr("modules").ok()?;
        if !modules.contains("ctypes").unwrap_or(false) && !modules.contains("_cffi_backend").unwrap_or(false) {
            return None;
        }
        let d = py.import("heron._cnative").ok()?.getattr("describe").ok()?.call1((value, name)).ok()?;
        if d.is_none() {
            return None;
        }
        let kind: String = d.get_item(0).ok()?.extract().ok()?;
        if kind == "lib" {
            self.libs.push(value.clone().unbind());
            return Some(GlobalValue::Foreign(Foreign::Lib(self.libs.len() - 1)));
        }
        self.guard_ctypes_function(value, &d);
        foreign_value(&d)
    }
}

/// A description from `heron._cnative` as a resolved value (a library is handled by the
/// caller, which keeps the object).
fn foreign_value(d: &Bound<'_, PyAny>) -> Option<GlobalValue> {
    let kind: String = d.get_item(0).ok()?.extract().ok()?;
    Some(match kind.as_str() {
        "fn" => {
            let addr: usize = d.get_item(1).ok()?.extract().ok()?;
            let params: Vec<String> = d.get_item(2).ok()?.extract().ok()?;
            let ret: String = d.get_item(3).ok()?.extract().ok()?;
            let keeps_gil: bool = d.get_item(4).ok()?.extract().ok()?;
            let name: String = d.get_item(5).ok()?.extract().ok()?;
            let flavour: String = d.get_item(6).ok()?.extract().ok()?;
            let params = params.iter().map(|p| CType::parse(p)).collect::<Option<Vec<_>>>()?;
            let flavour = if flavour == "cffi" { Flavour::Cffi } else { Flavour::Ctypes };
            GlobalValue::Foreign(Foreign::Func(Arc::new(CFunc { addr, params, ret: CType::parse(&ret)?, keeps_gil, name, flavour })))
        }
        "no" => GlobalValue::Unsupported(d.get_item(1).ok()?.extract().ok()?),
        "type" => GlobalValue::Foreign(Foreign::Type(CType::parse(&d.get_item(1).ok()?.extract::<String>().ok()?)?)),
        "pointer" => GlobalValue::Foreign(Foreign::PointerFn),
        "module" => GlobalValue::Foreign(Foreign::Module),
        _ => return None,
    })
}

/// The builtin `range`, or `heron.prange` / `numba.prange` (both `range` when run as Python).
fn is_range_like(py: Python<'_>, value: &Bound<'_, PyAny>) -> bool {
    if let Ok(r) = py.import("builtins").and_then(|b| b.getattr("range")) {
        if value.is(&r) {
            return true;
        }
    }
    let attr = |name: &str| value.getattr(name).and_then(|v| v.extract::<String>()).unwrap_or_default();
    let (module, qualname) = (attr("__module__"), attr("__qualname__"));
    qualname == "prange" && (module == "heron" || module == "numba" || module.starts_with("numba."))
}

/// `heron.carray` or `numba.carray`.
fn is_carray(value: &Bound<'_, PyAny>) -> bool {
    let attr = |name: &str| value.getattr(name).and_then(|v| v.extract::<String>()).unwrap_or_default();
    let (module, qualname) = (attr("__module__"), attr("__qualname__"));
    qualname == "carray" && (module == "heron" || module == "heron._cnative" || module.starts_with("numba"))
}

/// `random.<attr>`: compiled natively on the interpreter's own Mersenne Twister state (after
/// checking CPython's `RandomObject` layout against `random.getstate()`, see
/// `builtins::random`), called through Python (`random.seed`, `random.gauss`, ...), or
/// unsupported.
fn random_attr(py: Python<'_>, attr: &str) -> Result<GlobalValue, String> {
    let unsupported = || format!("`random.{attr}` is not supported in compiled code yet");
    let m = py.import("random").map_err(|e| e.to_string())?;
    let v = m.getattr(attr).map_err(|_| unsupported())?;
    let inst = m.getattr("_inst").map_err(|_| unsupported())?;
    let bound_to_inst = v.getattr("__self__").map(|s| s.is(&inst)).unwrap_or(false);
    if bound_to_inst {
        if let Some(b) = builtins::random::random_fn(attr) {
            if !random_layout_ok(py, &inst) {
                return Err("the random module's state is not laid out as Heron expects on this CPython".into());
            }
            builtins::random::set_instance(inst.as_ptr() as usize);
            return Ok(GlobalValue::Builtin(b));
        }
    }
    let path = format!("random.{attr}");
    if bound_to_inst && super::npcall::known(&path, false) {
        return Ok(GlobalValue::NpFunc(path));
    }
    Err(unsupported())
}

/// Does `random._inst`'s memory hold the state `random.getstate()` reports (624 words, then
/// the index), where `builtins::random` reads it?
fn random_layout_ok(py: Python<'_>, inst: &Bound<'_, PyAny>) -> bool {
    let check = || -> PyResult<bool> {
        let state = inst.call_method0("getstate")?;
        let words: Vec<u64> = state.get_item(1)?.extract()?;
        if words.len() != 625 {
            return Ok(false);
        }
        let base = inst.as_ptr() as usize;
        let mem = unsafe { std::slice::from_raw_parts((base + builtins::random::STATE_OFFSET) as *const u32, 624) };
        let index = unsafe { *((base + builtins::random::INDEX_OFFSET) as *const i32) };
        Ok(mem.iter().zip(&words).all(|(a, b)| *a as u64 == *b) && index as u64 == words[624])
    };
    let _ = py;
    check().unwrap_or(false)
}
