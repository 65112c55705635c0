//! Signals in compiled loops: Ctrl-C raises `KeyboardInterrupt` (or runs the program's own
//! SIGINT handler) while native code runs, as the interpreter would between bytecodes.
//!
//! CPython's C-level handler only records a signal; the interpreter runs the Python handler at
//! its next check, on the main thread. Native code has no such check, so Heron puts its own C
//! handler in front of CPython's for every signal that has a Python handler (`chain`). The
//! dispatcher registers the `Env` of the native call running on the main thread (`MAIN_ENV`);
//! the handler sets that call's `Env::sig_pending` and calls CPython's handler. Each loop
//! back-edge tests `sig_pending` (one load of the call's own `Env`, which native code holds in
//! a register) and, when set, calls `heron_check_signals`, which runs the Python handlers with
//! the GIL and raises what they raise. A signal delivered to another thread is passed on to
//! the main thread. `heron._runtime` re-chains after each `signal.signal`, which puts CPython's
//! handler back.

use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use pyo3::prelude::*;

use super::print::PENDING;
use crate::abi::{Env, ErrCode};

/// Signals received since the process started.
pub static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// The `Env` of the native call running on the main thread (null when none).
pub static MAIN_ENV: AtomicPtr<Env> = AtomicPtr::new(std::ptr::null_mut());

/// The main thread (`pthread_self()` there), set when the extension loads.
static MAIN_THREAD: AtomicUsize = AtomicUsize::new(0);

/// Remember the calling thread as the main thread (call from the main thread).
pub fn set_main_thread() {
    MAIN_THREAD.store(unsafe { libc::pthread_self() } as usize, Ordering::SeqCst);
}

/// Is the calling thread the main thread?
pub fn on_main_thread() -> bool {
    unsafe { libc::pthread_self() as usize == MAIN_THREAD.load(Ordering::Relaxed) }
}

const NSIG: usize = 65;

/// The handler Heron's chained in front of, per signal (0: none), and its `sa_flags`.
static PREV: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
static PREV_FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let main = MAIN_THREAD.load(Ordering::SeqCst);
    if main != 0 && unsafe { libc::pthread_self() } as usize != main {
        // Python handlers run on the main thread: let its handler see it (async-signal-safe).
        unsafe { libc::pthread_kill(main as libc::pthread_t, sig) };
        return;
    }
    SIGNALS.fetch_add(1, Ordering::SeqCst);
    let env = MAIN_ENV.load(Ordering::SeqCst);
    if !env.is_null() {
        // Safety: a registered Env is alive until the dispatcher takes it back, which happens
        // on this thread (the handler interrupts it, it cannot race with it).
        unsafe {
            std::ptr::write_volatile(&mut (*env).sig_pending, 1);
            // Recursive native code looks at signals when its depth passes this.
            std::ptr::write_volatile(&mut (*env).depth_limit, i64::MIN);
        }
    }
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

/// Called by native code when a signal came during the call (`Env::sig_pending`, set only
/// for the main thread's call, `MAIN_ENV`): run the Python signal handlers. What they raise
/// (`KeyboardInterrupt`) is stored for the call (`ErrCode::PyErr`, `Env::err_code`). It
/// takes no argument, so that its call in a hot loop constrains no register.
pub extern "C" fn heron_check_signals() {
    let env = MAIN_ENV.load(Ordering::SeqCst);
    if env.is_null() {
        return;
    }
    let env = unsafe { &mut *env };
    env.sig_pending &= !1;
    if let Err(e) = Python::attach(|py| py.check_signals()) {
        PENDING.with(|p| *p.borrow_mut() = Some(e));
        env.err_code = ErrCode::PyErr as i64;
    }
}

/// While a native call runs on the main thread, signals set its `Env::sig_pending`
/// (registered on creation, the previous registration put back on drop).
pub struct MainEnvGuard {
    prev: *mut Env,
    active: bool,
}

impl MainEnvGuard {
    pub fn register(env: *mut Env) -> MainEnvGuard {
        if !on_main_thread() {
            return MainEnvGuard { prev: std::ptr::null_mut(), active: false };
        }
        MainEnvGuard { prev: MAIN_ENV.swap(env, Ordering::SeqCst), active: true }
    }
}

impl Drop for MainEnvGuard {
    fn drop(&mut self) {
        if self.active {
            MAIN_ENV.store(self.prev, Ordering::SeqCst);
        }
    }
}
