//! Tracebacks of errors raised in compiled code: the same frames, lines and column marks the
//! interpreter would show, and none of Heron's own.
//!
//! Native code records where an error happened (`Env::err_func`, `Env::err_site`: a source
//! range in `FuncInfo::sites`), and each compiled caller it passes through on its way out adds
//! its own call site (`heron_push_frame`), so a call that inlined its callee still shows the
//! callee's caller. The dispatcher then gives the exception one traceback entry per compiled
//! frame, outermost first, each pointing at the range the interpreter would mark
//! (`heron._runtime.with_frames`), above whatever traceback the exception already has (an
//! exception raised by the interpreter after a deoptimization, see `deopt`).

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::abi::{Env, FuncInfo};

/// Called by native code on the error path after a call to compiled code: add the calling
/// function's frame (its `FuncInfo` and the call's site) to the traceback.
pub extern "C" fn heron_push_frame(env: *mut Env, info: *const FuncInfo, site: i64) {
    let env = unsafe { &mut *env };
    if env.frames != 0 {
        let frames = unsafe { &mut *(env.frames as *mut Vec<(usize, i64)>) };
        frames.push((info as usize, site));
    }
}

/// One frame as `heron._runtime.with_frames` takes it: (filename, name, qualname, line, col,
/// end line, end col).
fn frame_tuple<'py>(py: Python<'py>, info: &FuncInfo, site: i64) -> PyResult<Bound<'py, PyAny>> {
    let span = info.sites.get(site as usize).copied().unwrap_or_default();
    let t = (info.filename.as_str(), info.name.as_str(), info.qualname.as_str(), span.line, span.col, span.end_line, span.end_col);
    Ok(t.into_pyobject(py)?.into_any())
}

/// Give `exc` the traceback entries of the compiled frames of this error: the function that
/// raised (`innermost`, unless the exception's own traceback already holds it) and then the
/// callers in `frames` (innermost first). Returns the exception to raise.
pub fn with_frames<'py>(py: Python<'py>, exc: Bound<'py, PyAny>, innermost: Option<(&FuncInfo, i64)>, frames: &[(usize, i64)], fresh: bool) -> PyErr {
    let r = (|| -> PyResult<PyErr> {
        let list = PyList::empty(py);
        for &(info, site) in frames.iter().rev() {
            list.append(frame_tuple(py, unsafe { &*(info as *const FuncInfo) }, site)?)?;
        }
        if let Some((info, site)) = innermost {
            list.append(frame_tuple(py, info, site)?)?;
        }
        let exc = crate::runtime::import(py, "heron._runtime")?.getattr("with_frames")?.call1((&exc, list, fresh))?;
        Ok(PyErr::from_value(exc))
    })();
    r.unwrap_or_else(|e| e)
}
