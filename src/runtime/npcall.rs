//! Calls from compiled code to NumPy itself: the NumPy functions and array methods Heron does
//! not compile on its own (`numpy.sum`, `a.mean(axis=0)`, `numpy.sort`, `numpy.linalg.norm`,
//! `numpy.random.rand`, ...). Native code boxes the arguments (arrays as views of the same
//! memory, kept alive by their owners), NumPy runs the call with the GIL, and the result is
//! unboxed into native slots. The results are NumPy's by construction: same values, same
//! warnings and errors, and the legacy random state is the interpreter's own, so a seeded
//! stream continues across compiled and interpreted code.
//!
//! Only functions whose result *type* follows from their argument types are called this way
//! (the list below), and whose array results are new arrays (never views of an argument,
//! which could outlive it). The result type is found at compile time by calling the function
//! on small sample arguments of the same types (random functions on a private
//! `numpy.random.RandomState`, so the program's stream is untouched).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyTuple};

use crate::abi::{Env, ErrCode, FuncInfo, NpCallSite};
use crate::ir::Const;
use crate::types::{ArrayType, DType, Layout, Type};

/// What a call does besides computing its result.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Nothing: a new value from its arguments.
    Fresh,
    /// Writes into an argument array (`a.sort()`, `a.fill(x)`).
    Writes,
    /// Draws from NumPy's legacy global random state.
    Random,
    /// A view of an argument (`a.reshape(...)`, `numpy.ravel`): it keeps its base alive (the
    /// argument's owner, see `deopt::box_array`), and its layout is read at run time.
    View,
}

use Kind::*;

/// NumPy functions called through NumPy (by dotted path).
const FUNCTIONS: &[(&str, Kind)] = &[
    ("numpy.sum", Fresh), ("numpy.prod", Fresh), ("numpy.mean", Fresh), ("numpy.std", Fresh), ("numpy.var", Fresh),
    ("numpy.min", Fresh), ("numpy.max", Fresh), ("numpy.amin", Fresh), ("numpy.amax", Fresh), ("numpy.argmin", Fresh),
    ("numpy.argmax", Fresh), ("numpy.any", Fresh), ("numpy.all", Fresh), ("numpy.cumsum", Fresh), ("numpy.cumprod", Fresh),
    ("numpy.median", Fresh), ("numpy.percentile", Fresh), ("numpy.quantile", Fresh), ("numpy.average", Fresh),
    ("numpy.nansum", Fresh), ("numpy.nanmean", Fresh), ("numpy.nanmax", Fresh), ("numpy.nanmin", Fresh),
    ("numpy.dot", Fresh), ("numpy.matmul", Fresh), ("numpy.outer", Fresh), ("numpy.inner", Fresh), ("numpy.vdot", Fresh),
    ("numpy.cross", Fresh), ("numpy.trace", Fresh), ("numpy.count_nonzero", Fresh),
    ("numpy.sort", Fresh), ("numpy.argsort", Fresh), ("numpy.searchsorted", Fresh), ("numpy.unique", Fresh),
    ("numpy.histogram", Fresh), ("numpy.interp", Fresh), ("numpy.diff", Fresh), ("numpy.nonzero", Fresh),
    ("numpy.argwhere", Fresh), ("numpy.flatnonzero", Fresh), ("numpy.copy", Fresh), ("numpy.clip", Fresh),
    ("numpy.where", Fresh), ("numpy.round", Fresh), ("numpy.around", Fresh), ("numpy.isclose", Fresh),
    ("numpy.allclose", Fresh), ("numpy.array_equal", Fresh), ("numpy.convolve", Fresh), ("numpy.correlate", Fresh),
    ("numpy.cov", Fresh), ("numpy.corrcoef", Fresh), ("numpy.tile", Fresh), ("numpy.repeat", Fresh),
    ("numpy.concatenate", Fresh), ("numpy.stack", Fresh), ("numpy.hstack", Fresh), ("numpy.vstack", Fresh),
    ("numpy.arange", Fresh), ("numpy.linspace", Fresh), ("numpy.eye", Fresh), ("numpy.identity", Fresh),
    ("numpy.full", Fresh), ("numpy.full_like", Fresh), ("numpy.trapezoid", Fresh), ("numpy.polyval", Fresh),
    ("numpy.bincount", Fresh), ("numpy.digitize", Fresh), ("numpy.meshgrid", Fresh),
    ("numpy.reshape", View), ("numpy.ravel", View), ("numpy.transpose", View), ("numpy.squeeze", View),
    ("numpy.expand_dims", View), ("numpy.asarray", View), ("numpy.ascontiguousarray", View), ("numpy.flip", View),
    ("numpy.fliplr", View), ("numpy.flipud", View), ("numpy.diagonal", View), ("numpy.atleast_1d", View),
    ("numpy.atleast_2d", View), ("numpy.swapaxes", View), ("numpy.moveaxis", View), ("numpy.rot90", View),
    ("numpy.linalg.norm", Fresh), ("numpy.linalg.det", Fresh), ("numpy.linalg.inv", Fresh),
    ("numpy.linalg.solve", Fresh), ("numpy.linalg.eigh", Fresh), ("numpy.linalg.eigvalsh", Fresh),
    ("numpy.linalg.svd", Fresh), ("numpy.linalg.qr", Fresh), ("numpy.linalg.cholesky", Fresh),
    ("numpy.linalg.lstsq", Fresh), ("numpy.linalg.matrix_power", Fresh),
    ("numpy.random.seed", Random), ("numpy.random.random", Random), ("numpy.random.rand", Random),
    ("numpy.random.randn", Random), ("numpy.random.randint", Random), ("numpy.random.uniform", Random),
    ("numpy.random.normal", Random), ("numpy.random.standard_normal", Random), ("numpy.random.choice", Random),
    ("numpy.random.shuffle", Random), ("numpy.random.permutation", Random), ("numpy.random.random_sample", Random),
    ("random.seed", Random), ("random.gauss", Random), ("random.normalvariate", Random),
    ("random.expovariate", Random), ("random.triangular", Random), ("random.betavariate", Random),
    ("random.gammavariate", Random), ("random.lognormvariate", Random), ("random.vonmisesvariate", Random),
    ("random.paretovariate", Random), ("random.weibullvariate", Random),
    ("numpy.random.exponential", Random), ("numpy.random.ranf", Random), ("numpy.random.sample", Random), ("numpy.random.poisson", Random), ("numpy.random.binomial", Random),
];

/// Array methods called through NumPy.
const METHODS: &[(&str, Kind)] = &[
    ("sum", Fresh), ("prod", Fresh), ("mean", Fresh), ("std", Fresh), ("var", Fresh), ("min", Fresh), ("max", Fresh),
    ("argmin", Fresh), ("argmax", Fresh), ("any", Fresh), ("all", Fresh), ("cumsum", Fresh), ("cumprod", Fresh),
    ("copy", Fresh), ("flatten", Fresh), ("dot", Fresh), ("round", Fresh), ("clip", Fresh), ("argsort", Fresh),
    ("trace", Fresh), ("nonzero", Fresh), ("astype", Fresh), ("item", Fresh),
    ("sort", Writes), ("fill", Writes),
    ("reshape", View), ("ravel", View), ("transpose", View), ("squeeze", View), ("swapaxes", View), ("diagonal", View),
];

/// Is `path` (or the method `path`) one compiled code calls through NumPy?
pub fn known(path: &str, method: bool) -> bool {
    kind(path, method).is_some()
}

fn kind(path: &str, method: bool) -> Option<Kind> {
    let table = if method { METHODS } else { FUNCTIONS };
    table.iter().find(|(p, _)| *p == path).map(|(_, k)| *k)
}

/// A Python value for a constant.
fn const_object<'py>(py: Python<'py>, c: &Const) -> PyResult<Bound<'py, PyAny>> {
    Ok(match c {
        Const::Int(i) => i.into_pyobject(py)?.into_any(),
        Const::Float(x) => x.into_pyobject(py)?.into_any(),
        Const::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Const::None => py.None().into_bound(py),
        Const::Str(s) => s.into_pyobject(py)?.into_any(),
        Const::Bytes(b) => pyo3::types::PyBytes::new(py, b).into_any(),
    })
}

/// A sample value of type `t` (for finding a call's result type at compile time).
fn sample<'py>(py: Python<'py>, t: &Type) -> PyResult<Bound<'py, PyAny>> {
    let np = crate::runtime::import(py, "numpy")?;
    Ok(match t {
        Type::Bool => PyBool::new(py, true).to_owned().into_any(),
        Type::Int => 2i64.into_pyobject(py)?.into_any(),
        Type::Float => 0.5f64.into_pyobject(py)?.into_any(),
        Type::None => py.None().into_bound(py),
        Type::Np(d) => np.getattr(d.name())?.call1((1,))?,
        Type::Array(a) => {
            let shape = PyTuple::new(py, vec![3i64; a.ndim as usize])?;
            // Distinct values; a 2-d sample is non-singular (linalg).
            let n: i64 = 3i64.pow(a.ndim as u32);
            let vals = np.getattr("arange")?.call1((n,))?.call_method1("reshape", (shape,))?;
            let vals = if a.ndim == 2 {
                let diag = np.getattr("eye")?.call1((3,))?.call_method1("__mul__", (7,))?;
                vals.call_method1("__pow__", (2,))?.call_method1("__add__", (diag,))?
            } else {
                vals
            };
            vals.call_method1("astype", (a.dtype.name(),))?
        }
        Type::Tuple(ts) => PyTuple::new(py, ts.iter().map(|t| sample(py, t)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Type::Str | Type::Bytes => return Err(pyo3::exceptions::PyTypeError::new_err("a string")),
        Type::CPtr(_) | Type::CData { .. } => return Err(pyo3::exceptions::PyTypeError::new_err("a C pointer")),
        Type::Complex => pyo3::types::PyComplex::from_doubles(py, 0.5, 1.5).into_any(),
    })
}

/// The Heron type of a call's result (`None` when compiled code cannot hold it). `view`: an
/// array result may be a view (its layout and writability are those of the sample's).
fn type_of(py: Python<'_>, obj: &Bound<'_, PyAny>, view: bool) -> Option<Type> {
    if obj.is_none() {
        return Some(Type::None);
    }
    if obj.is_exact_instance_of::<PyBool>() {
        return Some(Type::Bool);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return Some(Type::Int);
    }
    if obj.is_exact_instance_of::<PyFloat>() {
        return Some(Type::Float);
    }
    if obj.is_exact_instance_of::<PyTuple>() {
        let t = obj.cast::<PyTuple>().ok()?;
        return t.iter().map(|i| type_of(py, &i, view)).collect::<Option<Vec<_>>>().map(Type::Tuple);
    }
    if let Some(d) = super::marshal::numpy_scalar_dtype(py, obj) {
        return Some(Type::Np(d));
    }
    let at = super::marshal::array_type(py, obj)?;
    if at.ndim == 0 {
        return None;
    }
    if view {
        return Some(Type::Array(ArrayType { layout: Layout::Any, ..at }));
    }
    // A new array: C-ordered when 1-d; strides read at run time otherwise.
    let layout = if at.ndim == 1 { Layout::C } else { Layout::Any };
    Some(Type::Array(ArrayType { layout, readonly: false, ..at }))
}

/// The callable for `path` (`numpy.linalg.norm`): the module's attribute.
fn function<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let (module, name) = path.rsplit_once('.').expect("a dotted path");
    crate::runtime::import(py, module)?.getattr(name)
}

/// The result type of a call (see `Resolver::np_call`), and whether it has side effects.
pub fn type_call(py: Python<'_>, path: &str, method: bool, args: &[(Type, Option<Const>)], kwargs: &[(String, Const)]) -> Result<(Type, bool), String> {
    let what = if method { format!("the array method `{path}`") } else { format!("`{path}`") };
    if method && (path == "__getitem__" || path == "__setitem__") {
        return index_type(args).map(|t| (t, path == "__setitem__")).ok_or_else(|| "this kind of array indexing is not supported in compiled code yet".to_string());
    }
    let Some(k) = kind(path, method) else {
        return Err(format!("{what} is not supported in compiled code yet"));
    };
    if path == "reshape" || path == "numpy.reshape" {
        return reshape_type(args).map(|t| (t, false)).ok_or_else(|| format!("{what} with these arguments is not supported in compiled code yet"));
    }
    let run = || -> PyResult<Bound<'_, PyAny>> {
        let mut objs = Vec::new();
        for (t, c) in args {
            objs.push(match c {
                Some(c) => const_object(py, c)?,
                None => sample(py, t)?,
            });
        }
        let kw = PyDict::new(py);
        for (name, c) in kwargs {
            kw.set_item(name, const_object(py, c)?)?;
        }
        if method {
            let base = objs.remove(0);
            return base.getattr(path)?.call(PyTuple::new(py, objs)?, Some(&kw));
        }
        if k == Random {
            // A private state: the program's stream is not touched.
            let state = if path.starts_with("random.") {
                crate::runtime::import(py, "random")?.getattr("Random")?.call1((0,))?
            } else {
                crate::runtime::import(py, "numpy.random")?.getattr("RandomState")?.call1((0,))?
            };
            let name = match path.rsplit_once('.').unwrap().1 {
                "ranf" | "sample" => "random_sample", // module-level aliases
                n => n,
            };
            return state.getattr(name)?.call(PyTuple::new(py, objs)?, Some(&kw));
        }
        function(py, path)?.call(PyTuple::new(py, objs)?, Some(&kw))
    };
    let r = {
        // The sample call may raise NumPy's floating-point reports: not the program's.
        let np = crate::runtime::import(py, "numpy").map_err(|e| e.to_string())?;
        let kw = PyDict::new(py);
        let _ = kw.set_item("all", "ignore");
        let state = np.call_method("errstate", (), Some(&kw)).map_err(|e| e.to_string())?;
        let _ = state.call_method0("__enter__");
        let warnings = crate::runtime::import(py, "warnings").map_err(|e| e.to_string())?;
        let catch = warnings.call_method0("catch_warnings").map_err(|e| e.to_string())?;
        let _ = catch.call_method0("__enter__");
        let _ = warnings.call_method1("simplefilter", ("ignore",));
        let r = run();
        let none = py.None();
        let _ = catch.call_method1("__exit__", (&none, &none, &none));
        let _ = state.call_method1("__exit__", (&none, &none, &none));
        r
    };
    let r = r.map_err(|e| format!("{what} raised {} for these argument types", e))?;
    let Some(t) = type_of(py, &r, k == View) else {
        return Err(format!("{what} returns a {} here, which compiled code cannot hold", r.get_type().name().map(|n| n.to_string()).unwrap_or_default()));
    };
    Ok((t, k != Fresh))
}

/// `a[mask]` (a bool array of `a`'s dimensions: a 1-d array) and `a[indices]` (one integer
/// array of k dimensions: k + ndim - 1); `a[...] = v` gives None.
fn index_type(args: &[(Type, Option<Const>)]) -> Option<Type> {
    let Type::Array(at) = &args.first()?.0 else { return None };
    let Type::Array(ix) = &args.get(1)?.0 else { return None };
    if args.len() == 3 {
        let ok = (ix.dtype == DType::Bool && ix.ndim == at.ndim) || (ix.dtype.is_int() && ix.ndim == 1);
        let v = &args[2].0;
        return (ok && (v.is_scalar() || matches!(v, Type::Array(_)))).then_some(Type::None);
    }
    let ndim = if ix.dtype == DType::Bool {
        if ix.ndim != at.ndim {
            return None;
        }
        1
    } else if ix.dtype.is_int() {
        ix.ndim + at.ndim - 1
    } else {
        return None;
    };
    if ndim > 4 {
        return None;
    }
    let layout = if ndim == 1 { Layout::C } else { Layout::Any };
    Some(Type::Array(ArrayType { dtype: at.dtype, ndim, layout, readonly: false }))
}

/// `a.reshape(n, m)`, `a.reshape((n, m))`, `numpy.reshape(a, shape)`: the array's dtype, one
/// dimension per integer of the shape (a view when NumPy can make one, else a copy).
fn reshape_type(args: &[(Type, Option<Const>)]) -> Option<Type> {
    let Type::Array(at) = &args.first()?.0 else { return None };
    let dims: Vec<&Type> = match &args[1..] {
        [(Type::Tuple(ts), _)] => ts.iter().collect(),
        rest => rest.iter().map(|(t, _)| t).collect(),
    };
    let int = |t: &Type| matches!(t, Type::Int) || matches!(t, Type::Np(d) if d.is_int());
    if dims.is_empty() || dims.len() > 4 || !dims.iter().all(|t| int(t)) {
        return None;
    }
    Some(Type::Array(ArrayType { ndim: dims.len() as u8, layout: Layout::Any, ..*at }))
}

/// Called by native code: run `site`'s NumPy call on the arguments in `slots` (flattened as
/// the site's argument types), and write its result to `out` (flattened as its result type).
/// Returns 0; 1 with the Python exception stored (NumPy's own errors); 2 when the result is
/// not of the type compiled code expects (native code then deoptimizes).
pub extern "C" fn heron_np_call(env: *mut Env, info: *const FuncInfo, site: *const NpCallSite, slots: *const u64, out: *mut u64) -> i64 {
    let site = unsafe { &*site };
    let env_ref = unsafe { &mut *env };
    // NumPy reports its own floating-point errors; the processor's flags are put back so that
    // a function whose reports are deferred does not see them again.
    let saved = super::fp::flags_save();
    let r = Python::attach(|py| -> PyResult<Option<Vec<u64>>> {
        let nslots: usize = site.args.iter().map(|t| crate::abi::repr(t).len()).sum();
        let raw = unsafe { std::slice::from_raw_parts(slots, nslots) };
        let mut k = 0;
        let mut objs = Vec::new();
        for t in &site.args {
            while let Some((_, c)) = site.consts.iter().find(|(p, _)| *p == objs.len()) {
                objs.push(const_object(py, c)?);
            }
            objs.push(super::deopt::box_flat(py, env_ref, t, raw, &mut k)?);
        }
        while let Some((_, c)) = site.consts.iter().find(|(p, _)| *p == objs.len()) {
            objs.push(const_object(py, c)?);
        }
        let kw = PyDict::new(py);
        for (name, c) in &site.kwargs {
            kw.set_item(name, const_object(py, c)?)?;
        }
        let (module, name) = match site.callee.get() {
            Some(c) => c,
            None => {
                let found = if site.method {
                    (None, pyo3::types::PyString::intern(py, &site.path).unbind())
                } else {
                    let (module, name) = site.path.rsplit_once('.').expect("a dotted path");
                    (Some(crate::runtime::import(py, module)?.into_any().unbind()), pyo3::types::PyString::intern(py, name).unbind())
                };
                let _ = site.callee.set(found);
                site.callee.get().expect("just set")
            }
        };
        let f = match module {
            None => objs.remove(0).getattr(name.bind(py))?,
            Some(m) => m.bind(py).getattr(name.bind(py))?,
        };
        let caller = match site.caller.get() {
            Some(c) => c.bind(py).clone(),
            None => {
                let info = unsafe { &*info };
                let s = site.span;
                let c = crate::runtime::import(py, "heron._runtime")?.getattr("np_caller")?.call1((
                    info.filename.as_str(),
                    info.module.as_str(),
                    info.name.as_str(),
                    info.qualname.as_str(),
                    (s.line, s.col, s.end_line, s.end_col),
                ))?;
                let _ = site.caller.set(c.clone().unbind());
                c
            }
        };
        let result = caller.call1((f, PyTuple::new(py, objs)?, kw))?;
        let mut vals = Vec::new();
        if super::deopt::unbox_exact(py, env_ref, &result, &site.ret, &mut vals)? {
            Ok(Some(vals))
        } else {
            Ok(None)
        }
    });
    super::fp::flags_restore(saved);
    match r {
        Ok(Some(vals)) => {
            let out = unsafe { std::slice::from_raw_parts_mut(out, vals.len()) };
            out.copy_from_slice(&vals);
            0
        }
        Ok(None) => 2,
        Err(e) => {
            super::print::PENDING.with(|p| *p.borrow_mut() = Some(e));
            env_ref.err_code = ErrCode::PyErr as i64;
            1
        }
    }
}
