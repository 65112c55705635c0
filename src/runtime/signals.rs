//! Signals in compiled loops: Ctrl-C raises `KeyboardInterrupt` (or runs the program's own
//! SIGINT handler) while native code runs, as the interpreter would between bytecodes.
//!
//! CPython's C-level handler only records a signal; the interpreter runs the Python handler at
//! its next check. Native code has no such check, so Heron puts its own C handler in front of
//! CPython's for every signal that has a Python handler (`chain`): it counts the signal in
//! `SIGNALS` and calls CPython's. Each loop back-edge in native code compares `SIGNALS` with
//! the count its call has seen (`Env::sig_seen`): one load and compare, and on a change a cold
//! call to `heron_check_signals`, which runs the Python handlers with the GIL (on the main
//! thread, where CPython runs them) and raises what they raise. `heron._runtime` re-chains
//! after each `signal.signal`, which puts CPython's handler back.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

use pyo3::prelude::*;

use super::print::PENDING;
use super::{Env, ErrCode};

/// Signals received since the process started (read by native code at loop back-edges).
pub static SIGNALS: AtomicU64 = AtomicU64::new(0);

const NSIG: usize = 65;

/// The handler Heron's chained in front of, per signal (0: none), and its `sa_flags`.
static PREV: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
static PREV_FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
    let Some(i) = usize::try_from(sig).ok().filter(|&i| i < NSIG) else { return };
    let prev = PREV[i].load(Ordering::SeqCst);
    if prev == 0 {
        return;
    }
    unsafe {
        if PREV_FLAGS[i].load(Ordering::SeqCst) & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(prev);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev);
            f(sig);
        }
    }
}

/// Put Heron's handler in front of the current handler of `sig`, when that is a function
/// (CPython's, for a signal with a Python handler); nothing for `SIG_DFL` or `SIG_IGN`, or
/// when Heron's is already there. Returns whether Heron's handler is in place.
pub fn chain(sig: i32) -> bool {
    let Some(i) = usize::try_from(sig).ok().filter(|&i| i > 0 && i < NSIG) else { return false };
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut cur) != 0 {
            return false;
        }
        let mine = on_signal as *const () as usize;
        if cur.sa_sigaction == mine {
            return true;
        }
        if cur.sa_sigaction == libc::SIG_DFL || cur.sa_sigaction == libc::SIG_IGN {
            return false;
        }
        PREV_FLAGS[i].store(cur.sa_flags, Ordering::SeqCst);
        PREV[i].store(cur.sa_sigaction, Ordering::SeqCst);
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = mine;
        act.sa_mask = cur.sa_mask;
        act.sa_flags = (cur.sa_flags | libc::SA_SIGINFO) & !libc::SA_RESETHAND;
        libc::sigaction(sig, &act, std::ptr::null_mut()) == 0
    }
}

/// Called by native code when `SIGNALS` moved since the call last looked: run the Python
/// signal handlers (they run on the main thread only; elsewhere this does nothing). Returns 0,
/// or 1 with their exception stored (`ErrCode::PyErr`), such as `KeyboardInterrupt`.
pub extern "C" fn heron_check_signals(env: *mut Env) -> i64 {
    let env = unsafe { &mut *env };
    env.sig_seen = SIGNALS.load(Ordering::SeqCst) as i64;
    match Python::attach(|py| py.check_signals()) {
        Ok(()) => 0,
        Err(e) => {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            env.err_code = ErrCode::PyErr as i64;
            1
        }
    }
}
