//! The description of one `print` call site that native code hands the runtime's callback
//! (`runtime::print::heron_print`) together with a buffer of 8-byte slots.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::types::Type;

/// One thing to turn into a Python object from the slot buffer.
#[derive(Debug)]
pub enum PItem {
    /// A constant string.
    Lit(Py<PyString>),
    None,
    /// A scalar in `slot`; when the variable changes type, `tag_slot` says which of `members`.
    /// `unified` is the representation the members share (`types::unify` of them).
    Val { members: Vec<Type>, unified: Type, slot: usize, tag_slot: Option<usize> },
    /// `template.format(*args)`.
    Format { template: Py<PyString>, args: Vec<PItem> },
    /// An f-string: literal pieces and `format(conv(value), spec)` pieces.
    FStr(Vec<FItem>),
}

#[derive(Debug)]
pub enum FItem {
    Lit(String),
    Val { item: PItem, conv: char, spec: String },
}

/// Everything about one `print` call site.
#[derive(Debug)]
pub struct PrintDesc {
    pub items: Vec<PItem>,
    pub sep: Option<Py<PyString>>,
    pub end: Option<Py<PyString>>,
    pub flush: bool,
}
