//! The parallel-loop driver (issue 14): runs the outlined body of a parallel loop
//! (`codegen::parallel`) over blocks of its iterations on one process-wide rayon pool, and
//! combines the blocks' reductions.
//!
//! The blocks depend on the trip count alone (`blocks`), never on the number of threads, and
//! their partial reductions are combined in block order: a float sum is the same on every run
//! and every machine. Integer reductions are combined with overflow checks; when one
//! overflows, when a float result is not finite, or when any block fails (its status is
//! nonzero: an error, a deoptimization, a signal), the driver says "run it serially" and
//! codegen's serial copy of the loop runs from the start, exactly as CPython would.
//!
//! The pool has `HERON_NUM_THREADS` threads when that is a positive integer, else as many as
//! the cores this process may run on (`std::thread::available_parallelism`, which follows the
//! affinity mask a container or a Dask worker sets). With one thread the blocks run in order
//! on the calling thread (the same results as with many). A forked child makes its own pool
//! (threads do not survive `fork`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::abi::Env;

/// The outlined body: `(ctx, first, end, partials, scratch env, caller's env) -> status`,
/// running iterations `first..end` (numbers, not values, of the loop variable).
type Body = unsafe extern "C" fn(i64, i64, i64, i64, i64, i64) -> i64;

/// Most blocks a loop is cut into (each block one rayon task).
pub const MAX_BLOCKS: i64 = 64;

static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);


/// The number of threads parallel loops use (see the module documentation).
pub fn threads() -> usize {
    match std::env::var("HERON_NUM_THREADS").ok().and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    }
}

/// The pool, made on first use (and again in a forked child); None with one thread.
fn pool() -> Option<Arc<rayon::ThreadPool>> {
    let n = threads();
    if n <= 1 {
        return None;
    }
    let pid = std::process::id();
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    match &*guard {
        Some((p, pool)) if *p == pid => Some(pool.clone()),
        _ => {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("heron-{i}")).build().ok()?;
            let pool = Arc::new(pool);
            if let Some((_, old)) = guard.take() {
                // The parent's pool: its threads are gone in this child; never joined.
                std::mem::forget(old);
            }
            *guard = Some((pid, pool.clone()));
            Some(pool)
        }
    }
}

/// The trip count of `range(start, stop, step)` (`step` nonzero).
fn trip_count(start: i64, stop: i64, step: i64) -> i64 {
    let (start, stop, step) = (start as i128, stop as i128, step as i128);
    let n = if step > 0 {
        if start < stop { (stop - start - 1) / step + 1 } else { 0 }
    } else if start > stop {
        (start - stop - 1) / (-step) + 1
    } else {
        0
    };
    n as i64
}

/// Block `b` of `nb` over `n` iterations: its first and end iteration numbers.
fn block(n: i64, nb: i64, b: i64) -> (i64, i64) {
    let at = |k: i64| ((k as i128 * n as i128) / nb as i128) as i64;
    (at(b), at(b + 1))
}

/// The byte range `[lo, hi)` an array's elements occupy (empty when a dimension is 0).
fn extent(data: i64, itemsize: i64, shape: &[i64], strides: &[i64]) -> Option<(i128, i128)> {
    if shape.iter().any(|&s| s <= 0) {
        return None;
    }
    let (mut lo, mut hi) = (data as i128, data as i128 + itemsize as i128);
    for (&n, &s) in shape.iter().zip(strides) {
        let span = (n as i128 - 1) * s as i128;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    Some((lo, hi))
}

/// May the loop's arrays be written in parallel? `arrays` is `[count, then per array: the axis
/// its stores hold the loop variable on (-1: only read), itemsize, ndim, data, shape...,
/// strides...]`. No written array may overlap another array of the loop, nor have a zero
/// stride on its loop axis.
unsafe fn arrays_disjoint(arrays: *const i64) -> bool {
    let count = *arrays as usize;
    let mut at = arrays.add(1);
    let mut list = Vec::with_capacity(count);
    for _ in 0..count {
        let axis = *at;
        let itemsize = *at.add(1);
        let ndim = *at.add(2) as usize;
        let data = *at.add(3);
        let shape = std::slice::from_raw_parts(at.add(4), ndim);
        let strides = std::slice::from_raw_parts(at.add(4 + ndim), ndim);
        if axis >= 0 && strides.get(axis as usize).copied().unwrap_or(0) == 0 && shape.get(axis as usize).copied().unwrap_or(0) > 1 {
            return false;
        }
        list.push((axis >= 0, extent(data, itemsize, shape, strides)));
        at = at.add(4 + 2 * ndim);
    }
    for (i, (wi, ei)) in list.iter().enumerate() {
        for (j, (wj, ej)) in list.iter().enumerate() {
            if i < j && (*wi || *wj) {
                if let (Some((alo, ahi)), Some((blo, bhi))) = (ei, ej) {
                    if alo < bhi && blo < ahi {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Combine the blocks' partial reductions into `reds` (see `heron_parallel_for`); false when
/// an integer overflows or a float result is not finite (the serial loop then runs).
unsafe fn combine(reds: *mut i64, partials: &[i64], nb: usize) -> bool {
    let n_red = *reds as usize;
    for j in 0..n_red {
        let slot = reds.add(1 + 4 * j);
        let (op, kind) = (*slot, *slot.add(1));
        let mut acc = *slot.add(2);
        // A reduction that changes type: the last block's new tag, else the tag before.
        let tag0 = *slot.add(3);
        let mut tag = tag0;
        for b in 0..nb {
            let p = partials[2 * (b * n_red + j)];
            let t = partials[2 * (b * n_red + j) + 1];
            if t != tag0 {
                tag = t;
            }
            acc = match kind {
                // A float: sums and products in block order.
                2 => {
                    let (x, y) = (f64::from_bits(acc as u64), f64::from_bits(p as u64));
                    let r = if op == 1 { x * y } else { x + y };
                    if !r.is_finite() {
                        return false;
                    }
                    r.to_bits() as i64
                }
                _ => {
                    let r = match op {
                        0 => acc.checked_add(p),
                        1 => acc.checked_mul(p),
                        2 => Some(acc.max(p)),
                        3 => Some(acc.min(p)),
                        4 => Some(acc | p),
                        5 => Some(acc & p),
                        _ => Some(acc ^ p),
                    };
                    match r {
                        Some(r) => r,
                        None => return false,
                    }
                }
            };
        }
        *slot.add(2) = acc;
        *slot.add(3) = tag;
    }
    true
}

/// Run a parallel loop: `range(start, stop, step)` (`step` nonzero) in blocks on the pool.
///
/// - `body`: the outlined body (`Body`); `ctx`: the values it reads (its first slots `start`
///   and `step`, see `codegen::parallel`);
/// - `reds`: `[count, then per reduction: op (`analysis::parallel::RedOp` code), kind (0 int,
///   1 bool, 2 float), the value and the tag before the loop]`; on success the last two slots
///   of each hold the value and tag after it (the body leaves `(value, tag)` per reduction in
///   its block's partials);
/// - `arrays`: the loop's arrays (see `arrays_disjoint`), `writes`: nonzero when it stores
///   into any;
/// - `env`: the caller's `Env` (its signal flag stops the blocks); `runs`: the unit's counter
///   of parallel runs.
///
/// Returns 0 when the loop ran here, 1 when the serial loop must run it (from the start):
/// fewer than two iterations, a negative loop variable or overlapping arrays where
/// it writes, a failed block, or a reduction that did not combine. The threads' floating-point
/// sticky flags are raised on this thread (NumPy's deferred reports see them).
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn heron_parallel_for(body: i64, ctx: i64, start: i64, stop: i64, step: i64, reds: i64, arrays: i64, env: i64, runs: i64) -> i64 {
    let n = trip_count(start, stop, step);
    if n < 2 {
        return 1;
    }
    let writes = *(arrays as *const i64) > 0 && {
        let count = *(arrays as *const i64) as usize;
        let mut at = (arrays as *const i64).add(1);
        let mut any = false;
        for _ in 0..count {
            any |= *at >= 0;
            at = at.add(4 + 2 * *at.add(2) as usize);
        }
        any
    };
    if writes {
        let last = start as i128 + (n as i128 - 1) * step as i128;
        if (start as i128).min(last) < 0 || !arrays_disjoint(arrays as *const i64) {
            return 1;
        }
    }
    let pool = pool();
    let body: Body = std::mem::transmute::<i64, Body>(body);
    let nb = n.min(MAX_BLOCKS);
    let n_red = *(reds as *const i64) as usize;
    let mut partials = vec![0i64; 2 * nb as usize * n_red.max(1)];
    let failed = AtomicBool::new(false);
    let flags = AtomicU32::new(0);
    {
        let parts = partials.as_mut_ptr() as usize;
        let task = |b: i64| {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            let (lo, hi) = block(n, nb, b);
            let mut scratch = Env::default();
            let red = parts + 16 * b as usize * n_red;
            super::fp::flags_clear();
            let status = body(ctx, lo, hi, red as i64, &mut scratch as *mut Env as i64, env);
            flags.fetch_or(super::fp::flags_save(), Ordering::Relaxed);
            if status != 0 {
                failed.store(true, Ordering::Relaxed);
            }
        };
        match pool {
            Some(pool) => pool.install(|| (0..nb).into_par_iter().for_each(task)),
            // One thread: the same blocks in order here, so that a float reduction has the
            // same bits whatever the thread count.
            None => (0..nb).for_each(task),
        }
    }
    super::fp::flags_raise(flags.load(Ordering::Relaxed));
    if failed.load(Ordering::Relaxed) || !combine(reds as *mut i64, &partials, nb as usize) {
        return 1;
    }
    (*(runs as *const AtomicU64)).fetch_add(1, Ordering::Relaxed);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trip_counts_are_pythons() {
        for (start, stop, step) in [(0i64, 10i64, 1i64), (0, 10, 3), (10, 0, -3), (5, 5, 1), (-5, 5, 2), (3, -7, -1), (0, 1, 100)] {
            let py = if step > 0 {
                (start..stop).step_by(step as usize).count()
            } else {
                (stop + 1..=start).rev().step_by((-step) as usize).count()
            };
            assert_eq!(trip_count(start, stop, step), py as i64, "{start} {stop} {step}");
        }
        // 2**64 - 1 iterations do not fit: negative, so the serial loop runs it.
        assert!(trip_count(i64::MIN, i64::MAX, 1) < 2);
    }

    #[test]
    fn blocks_cover_the_iterations_once_in_order() {
        for n in [2i64, 3, 63, 64, 65, 1000, 1_000_003] {
            let nb = n.min(MAX_BLOCKS);
            let mut next = 0;
            for b in 0..nb {
                let (lo, hi) = block(n, nb, b);
                assert_eq!(lo, next);
                assert!(hi > lo);
                next = hi;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn integer_overflow_in_the_combination_is_refused() {
        // One int sum reduction from 1: partials MAX and 1 overflow.
        let mut reds = [1i64, 0, 0, 1, 0];
        assert!(!unsafe { combine(reds.as_mut_ptr(), &[i64::MAX, 0, 0, 0], 2) });
        let mut reds = [1i64, 0, 0, 1, 0];
        assert!(unsafe { combine(reds.as_mut_ptr(), &[5, 0, 7, 0], 2) });
        assert_eq!(reds[3], 13);
        // A float sum in block order; a tag that changes in a later block wins.
        let mut reds = [1i64, 0, 2, 1.0f64.to_bits() as i64, 0];
        let parts = [0.5f64.to_bits() as i64, 1, 0.25f64.to_bits() as i64, 0];
        assert!(unsafe { combine(reds.as_mut_ptr(), &parts, 2) });
        assert_eq!(f64::from_bits(reds[3] as u64), 1.75);
        assert_eq!(reds[4], 1);
    }

    #[test]
    fn written_arrays_must_not_overlap_the_others() {
        // Two 1-d float64 arrays of 10: disjoint, then overlapping.
        let desc = |a: i64, b: i64| [2i64, 0, 8, 1, a, 10, 8, -1, 8, 1, b, 10, 8];
        assert!(unsafe { arrays_disjoint(desc(1000, 1080).as_ptr()) });
        assert!(!unsafe { arrays_disjoint(desc(1000, 1072).as_ptr()) });
    }
}
