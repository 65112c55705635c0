//! Guards: compiled code sees what CPython would see in the function's globals.
//!
//! A specialization reads globals, builtins and module attributes when it is compiled (the
//! value of `dt`, that `np` is NumPy, that `step` is a compiled callee). Each read is a `Guard`:
//! the dictionary, the key, and what it held (or that it was absent). A call checks the guards
//! of its specialization, and of every compiled function it calls directly, before native code
//! runs (never inside loops); when one fails, the specialization is compiled again for what the
//! dictionaries hold now. The check is cheap: each dictionary's version tag (PEP 509's
//! `ma_version_tag`, which CPython 3.10 to 3.13 change on every mutation) is compared with the
//! one seen when the guards last held, and the keys are looked up only when it moved.
//!
//! A ctypes function's `argtypes`, `restype` and `errcheck` are attributes of the function
//! object, which no dictionary version sees change: a guard on them (`Guard::attrs`) is
//! checked at every call (three attribute reads, by identity), so `f.argtypes = [...]` after
//! a compile is seen by the next call, which compiles again for the new conversions.
//!
//! A scalar global that changed value but not type (`for dt in (0.1, 0.2): step(x)`) becomes a
//! *live* global: compiled code then reads it from a `LiveCell` at function entry, and the
//! guard refreshes the cell when the dictionary changes, so the loop does not recompile.
//!
//! A global NumPy array (a table of coefficients, `RP[i]`) is read through an `ArrayCell`: its
//! data pointer, shape and strides, which compiled code loads at entry. The guard holds the
//! array itself (the very object: an assignment of another array to the name recompiles) and
//! refreshes the cell at every call, since `a.shape = ...` changes an array in place without
//! touching any dictionary; a changed dtype, contiguity or writeability recompiles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use numpy::PyUntypedArrayMethods;
use pyo3::types::{PyDict, PyString};

use crate::types::Type;

/// The raw value (8-byte slot) of a live scalar global, read by native code at entry.
#[derive(Debug)]
pub struct LiveCell {
    pub raw: AtomicU64,
    pub ty: Type,
}

/// One read of a dictionary at compile time.
pub struct Guard {
    pub dict: Py<PyDict>,
    pub key: Py<PyString>,
    /// What `dict[key]` was (`None`: absent).
    pub expected: Option<Py<PyAny>>,
    /// The scalar type of the value when it was a compile-time constant (a changed value of
    /// the same type makes the global live).
    pub scalar: Option<Type>,
    /// A live global: only the value's type is checked, and the cell is kept current.
    pub live: Option<Arc<LiveCell>>,
    /// Attributes of an object that must still be what they were (by identity), checked at
    /// every call: a ctypes function's conversions (`Guard::attributes`).
    pub attrs: Option<Arc<AttrGuard>>,
    /// A global array: its cell, refreshed at every call.
    pub array: Option<Arc<ArrayCell>>,
}

/// The flags of a NumPy array whose change changes its `ArrayType` (NumPy's
/// `NPY_ARRAY_C_CONTIGUOUS`, `NPY_ARRAY_ALIGNED`, `NPY_ARRAY_WRITEABLE`).
const TYPE_FLAGS: i32 = 0x0001 | 0x0100 | 0x0400;

/// A global NumPy array as compiled code reads it: `slots` holds its data pointer, shape and
/// strides (the flattened array value, `abi::repr`) at the address compiled code loads from.
pub struct ArrayCell {
    pub slots: Box<[AtomicU64]>,
    pub array: Py<PyAny>,
    /// What the type was read from: the number of dimensions, the dtype descriptor (by
    /// address) and the flags that make up the layout.
    ndim: i32,
    descr: usize,
    flags: i32,
}

/// The array cells alive (weakly): a value native code hands to the interpreter that is one of
/// them is that very array (`deopt::known_arrays`).
static ARRAY_CELLS: std::sync::Mutex<Vec<std::sync::Weak<ArrayCell>>> = std::sync::Mutex::new(Vec::new());

impl ArrayCell {
    /// The cell of `array` (an exact, aligned, native-order ndarray: `marshal::array_type`).
    pub fn new(array: &Bound<'_, PyAny>) -> Option<Arc<ArrayCell>> {
        let a = array.cast::<numpy::PyUntypedArray>().ok()?;
        let f = unsafe { &(*a.as_array_ptr()).fields };
        let n = 1 + 2 * f.nd as usize;
        let cell = Arc::new(ArrayCell {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            array: array.clone().unbind(),
            ndim: f.nd,
            descr: f.descr as usize,
            flags: f.flags & TYPE_FLAGS,
        });
        cell.refresh(array.py());
        let mut cells = ARRAY_CELLS.lock().unwrap();
        cells.retain(|w| w.strong_count() > 0);
        cells.push(Arc::downgrade(&cell));
        Some(cell)
    }

    /// The address compiled code loads the array from.
    pub fn addr(&self) -> usize {
        self.slots.as_ptr() as usize
    }

    /// Read the array's data pointer, shape and strides into the cell; false when its type
    /// changed (the specialization is compiled again).
    fn refresh(&self, py: Python<'_>) -> bool {
        let Ok(a) = self.array.bind(py).cast::<numpy::PyUntypedArray>() else { return false };
        let f = unsafe { &(*a.as_array_ptr()).fields };
        if f.nd != self.ndim || f.descr as usize != self.descr || f.flags & TYPE_FLAGS != self.flags {
            return false;
        }
        let nd = f.nd as usize;
        self.slots[0].store(f.data as u64, Ordering::Relaxed);
        for i in 0..nd {
            let (d, s) = unsafe { (*f.dimensions.add(i), *f.strides.add(i)) };
            self.slots[1 + i].store(d as u64, Ordering::Relaxed);
            self.slots[1 + nd + i].store(s as i64 as u64, Ordering::Relaxed);
        }
        true
    }

    /// The global arrays compiled code may hold now.
    pub fn live_arrays<'py>(py: Python<'py>) -> Vec<Bound<'py, PyAny>> {
        ARRAY_CELLS.lock().unwrap().iter().filter_map(|w| w.upgrade()).map(|c| c.array.bind(py).clone()).collect()
    }
}

/// An object whose attributes compiled code relies on.
pub struct AttrGuard {
    pub object: Py<PyAny>,
    /// (name, value) pairs; a value that could not be read is None.
    pub attrs: Vec<(Py<PyString>, Option<Py<PyAny>>)>,
}

impl AttrGuard {
    fn holds(&self, py: Python<'_>) -> bool {
        let o = self.object.bind(py);
        self.attrs.iter().all(|(k, v)| match (o.getattr(k.bind(py)).ok(), v) {
            (Some(now), Some(v)) => now.is(v.bind(py)),
            (None, None) => true,
            _ => false,
        })
    }
}

impl Guard {
    pub fn clone_ref(&self, py: Python<'_>) -> Guard {
        Guard {
            dict: self.dict.clone_ref(py),
            key: self.key.clone_ref(py),
            expected: self.expected.as_ref().map(|e| e.clone_ref(py)),
            scalar: self.scalar.clone(),
            live: self.live.clone(),
            attrs: self.attrs.clone(),
            array: self.array.clone(),
        }
    }

    /// A guard on attributes `names` of `object` (as they are now), checked at every call.
    pub fn attributes(py: Python<'_>, object: &Bound<'_, PyAny>, names: &[&str]) -> Guard {
        let attrs = names.iter().map(|n| (PyString::intern(py, n).unbind(), object.getattr(*n).ok().map(Bound::unbind))).collect();
        Guard {
            // An empty dictionary of the guard's own: its entry is always absent, as expected.
            dict: PyDict::new(py).unbind(),
            key: PyString::intern(py, "").unbind(),
            expected: None,
            scalar: None,
            live: None,
            attrs: Some(Arc::new(AttrGuard { object: object.clone().unbind(), attrs })),
            array: None,
        }
    }

    /// The part checked at every call: a ctypes function's attributes; a global array's
    /// shape and strides (into its cell). Its dictionary entry is checked with the others.
    fn check_always(&self, py: Python<'_>) -> bool {
        match (&self.attrs, &self.array) {
            (Some(a), _) => a.holds(py),
            (None, Some(cell)) => cell.refresh(py),
            _ => true,
        }
    }

    /// Does the dictionary still hold what was read? (For a live guard: a value of the cell's
    /// type, which is then stored into the cell.)
    fn check(&self, py: Python<'_>) -> bool {
        if let Some(a) = &self.attrs {
            return a.holds(py);
        }
        let now = self.dict.bind(py).get_item(self.key.bind(py)).ok().flatten();
        if let Some(cell) = &self.array {
            return now.is_some_and(|v| v.is(cell.array.bind(py))) && cell.refresh(py);
        }
        if let Some(cell) = &self.live {
            return match now.and_then(|v| scalar_raw(&v, &cell.ty)) {
                Some(raw) => {
                    cell.raw.store(raw, Ordering::Relaxed);
                    true
                }
                None => false,
            };
        }
        match (&self.expected, now) {
            (None, None) => true,
            (Some(e), Some(v)) => e.bind(py).is(&v),
            _ => false,
        }
    }
}

/// The raw slot value of `v` when it is exactly a Python scalar of type `t`.
pub fn scalar_raw(v: &Bound<'_, PyAny>, t: &Type) -> Option<u64> {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    match t {
        Type::Bool if v.is_exact_instance_of::<PyBool>() => Some(v.is_truthy().ok()? as u64),
        Type::Int if v.is_exact_instance_of::<PyInt>() => v.extract::<i64>().ok().map(|i| i as u64),
        Type::Float if v.is_exact_instance_of::<PyFloat>() => v.extract::<f64>().ok().map(f64::to_bits),
        Type::Np(d) if super::marshal::numpy_scalar_dtype(v.py(), v) == Some(*d) => super::marshal::numpy_scalar_raw(v, *d).ok(),
        _ => None,
    }
}

/// The guards of one specialization (its own and its direct callees'), with the version tag
/// each dictionary had when they last held.
pub struct GuardSet {
    pub guards: Vec<Guard>,
    versions: Vec<(usize, AtomicU64)>,
    /// The indices of the attribute guards (checked at every call).
    always: Vec<usize>,
}

impl GuardSet {
    pub fn new(py: Python<'_>, guards: Vec<Guard>) -> GuardSet {
        let mut versions: Vec<(usize, AtomicU64)> = Vec::new();
        for g in &guards {
            let p = g.dict.as_ptr() as usize;
            if !versions.iter().any(|(q, _)| *q == p) {
                versions.push((p, AtomicU64::new(version(g.dict.bind(py)).unwrap_or(0))));
            }
        }
        let always = guards.iter().enumerate().filter(|(_, g)| g.attrs.is_some() || g.array.is_some()).map(|(i, _)| i).collect();
        GuardSet { guards, versions, always }
    }

    /// Check the guards: `Ok` when all hold, else the index of one that failed.
    pub fn holds(&self, py: Python<'_>) -> Result<(), usize> {
        if let Some(&i) = self.always.iter().find(|&&i| !self.guards[i].check_always(py)) {
            return Err(i);
        }
        if versions_usable() {
            let unchanged = self.versions.iter().all(|(d, v)| unsafe { read_version(*d) } == v.load(Ordering::Relaxed));
            if unchanged {
                return Ok(());
            }
        }
        if let Some(i) = self.guards.iter().position(|g| !g.check(py)) {
            return Err(i);
        }
        for (d, v) in &self.versions {
            v.store(unsafe { read_version(*d) }, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Offset of `ma_version_tag` in `PyDictObject` on CPython 3.10–3.13 (after the object header
/// and `ma_used`; Include/cpython/dictobject.h).
const VERSION_OFFSET: usize = 24;

unsafe fn read_version(dict: usize) -> u64 {
    std::ptr::read_volatile((dict + VERSION_OFFSET) as *const u64)
}

fn version(d: &Bound<'_, PyDict>) -> Option<u64> {
    versions_usable().then(|| unsafe { read_version(d.as_ptr() as usize) })
}

/// Can version tags be read here? Checked once against the running interpreter: the layout
/// (`dict.__basicsize__` is 48 on the regular builds of 3.10–3.13), and that a mutation
/// changes the tag while a read does not. Otherwise every call looks the keys up.
fn versions_usable() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        Python::attach(|py| -> PyResult<bool> {
            let minor = py.version_info().minor;
            if py.version_info().major != 3 || !(10..=13).contains(&minor) {
                return Ok(false);
            }
            let size: usize = py.import("builtins")?.getattr("dict")?.getattr("__basicsize__")?.extract()?;
            if size != 48 {
                return Ok(false);
            }
            let d = PyDict::new(py);
            let p = d.as_ptr() as usize;
            let v0 = unsafe { read_version(p) };
            d.set_item("a", 1)?;
            let v1 = unsafe { read_version(p) };
            let _ = d.get_item("a")?;
            let v2 = unsafe { read_version(p) };
            d.set_item("a", 2)?;
            let v3 = unsafe { read_version(p) };
            Ok(v0 != v1 && v1 == v2 && v3 != v2)
        })
        .unwrap_or(false)
    })
}
