//! The native stack and the recursion depth of compiled code (see `codegen::recursion`):
//! deep recursion never overflows the stack (it goes on in new segments, as the `stacker`
//! crate provides), and counts against `sys.getrecursionlimit()` as CPython's frames would.

use pyo3::prelude::*;

use crate::abi::{Env, ErrCode};

/// Room left below `Env::stack_limit` for what native code calls (runtime helpers, and the
/// interpreter itself when a call is handed to it).
const RED_ZONE: usize = 256 * 1024;
/// Size of each new stack segment.
const SEGMENT: usize = 16 * 1024 * 1024;

/// The stack pointer below which native code must not go on this thread's current stack (or
/// segment): its lowest address plus `RED_ZONE`; 0 when unknown.
pub fn limit_here() -> i64 {
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    match stacker::remaining_stack() {
        Some(rem) => (sp.saturating_sub(rem) + RED_ZONE) as i64,
        None => 0,
    }
}

/// Called by native code whose stack runs low: call `entry` (the function's own entry
/// trampoline, `fn(args, ret, env) -> status`) on a new stack segment with the flattened
/// arguments `args`, results to `ret`, and return its status.
pub extern "C" fn heron_grow(env: *mut Env, entry: usize, args: *const u64, ret: *mut u64) -> i64 {
    let f: extern "C" fn(*const u64, *mut u64, *mut Env) -> i64 = unsafe { std::mem::transmute(entry) };
    let env_ref = unsafe { &mut *env };
    let saved = env_ref.stack_limit;
    let (e, a, r) = (env as usize, args as usize, ret as usize);
    let status = stacker::grow(SEGMENT, move || {
        let env = e as *mut Env;
        unsafe { (*env).stack_limit = limit_here() };
        f(a as *const u64, r as *mut u64, env)
    });
    env_ref.stack_limit = saved;
    // Back on the old segment: the depth where it ran low is looked at again.
    env_ref.depth_limit = env_ref.depth_limit.min(env_ref.depth);
    status
}

/// How many new levels of recursion native code may go down before its stack is looked at
/// again (the red zone holds that many frames).
const CHECK_EVERY: i64 = 16;

/// Called by native code when its recursion depth passes `Env::depth_limit`: run pending
/// signal handlers, find (once per call) what `sys.getrecursionlimit()` leaves above the
/// Python frames of this thread (`Env::depth_budget`), and return 1 (`ErrCode::Recursion`, or
/// `ErrCode::PyErr` from a handler) when CPython would raise here; otherwise set the next
/// depth to look at and return 0.
pub extern "C" fn heron_recursion(env: *mut Env, depth: i64) -> i64 {
    let env = unsafe { &mut *env };
    env.depth = depth;
    if env.sig_pending != 0 {
        super::signals::heron_check_signals();
        if env.err_code != 0 {
            return 1;
        }
    }
    if env.depth_budget == 0 {
        env.depth_budget = Python::attach(|py| -> PyResult<i64> {
            let sys = crate::runtime::import(py, "sys")?;
            let limit: i64 = sys.getattr("getrecursionlimit")?.call0()?.extract()?;
            let mut frames = 0i64;
            let mut f = sys.getattr("_getframe")?.call0()?;
            while !f.is_none() {
                frames += 1;
                f = f.getattr("f_back")?;
            }
            // CPython 3.10 also counts the C-level entry of the running frame's evaluation
            // (Py_EnterRecursiveCall around comparisons and calls): one frame less is left.
            let c_level = if py.version_info().minor == 10 { 1 } else { 0 };
            Ok((limit - frames - c_level).max(-1))
        })
        .unwrap_or(i64::MAX / 2);
    }
    let budget = env.depth_budget;
    if env.depth > budget {
        env.err_code = ErrCode::Recursion as i64;
        return 1;
    }
    env.depth_limit = budget.min(env.depth + CHECK_EVERY);
    0
}
