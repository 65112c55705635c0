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
//! The pool has `HERON_NUM_THREADS` threads when that is a positive integer, else the number
//! `heron._pool.pool_size()` gives when the first parallel loop of the process compiles (a
//! Dask worker's share of the cores: its own thread count, dask/distributed#9075), else as
//! many as the cores this process may run on (`std::thread::available_parallelism`, which
//! follows the affinity mask a container sets). With one thread the blocks run in order
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

/// The buffer the blocks of a loop that rewrites arrays in place save them to, kept between
/// runs up to `SAVE_KEPT` bytes (a new buffer costs a page fault per 4 KiB on its first use,
/// as much as the copy itself).
static SAVE_BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const SAVE_KEPT: usize = 64 << 20;


/// The thread count `configure` read, and the process it read it in (0: none yet).
static CONFIGURED: Mutex<(u32, usize)> = Mutex::new((0, 0));

/// Read the pool's size from `heron._pool.pool_size()` once per process (called with the GIL
/// when a function with a parallel loop compiles; a failure leaves the default).
pub fn configure(py: pyo3::Python<'_>) {
    use pyo3::prelude::*;
    let pid = std::process::id();
    if CONFIGURED.lock().unwrap_or_else(|e| e.into_inner()).0 == pid {
        return;
    }
    let n = py.import("heron._pool").and_then(|m| m.getattr("pool_size")?.call0()?.extract::<usize>()).unwrap_or(0);
    *CONFIGURED.lock().unwrap_or_else(|e| e.into_inner()) = (pid, n);
}

/// The number of threads parallel loops use (see the module documentation).
pub fn threads() -> usize {
    match std::env::var("HERON_NUM_THREADS").ok().and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => match *CONFIGURED.lock().unwrap_or_else(|e| e.into_inner()) {
            (pid, n) if pid == std::process::id() && n > 0 => n,
            _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        },
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

/// One array of a loop's description (see `arrays`).
struct ArrayDesc<'d> {
    /// The axis its stores hold the loop variable on; None when the loop only reads it.
    axis: Option<usize>,
    /// The loop reads it as well as writing it (`analysis::parallel::ParallelPlan::in_place`).
    in_place: bool,
    itemsize: i64,
    data: i64,
    shape: &'d [i64],
    strides: &'d [i64],
}

/// The arrays of a loop's description: `[count, then per array: the axis its stores hold the
/// loop variable on (-1: only read), 1 if it also reads it (else 0), itemsize, ndim, data,
/// shape..., strides...]`.
unsafe fn arrays<'d>(desc: *const i64) -> Vec<ArrayDesc<'d>> {
    let count = *desc as usize;
    let mut at = desc.add(1);
    let mut list = Vec::with_capacity(count);
    for _ in 0..count {
        let ndim = *at.add(3) as usize;
        list.push(ArrayDesc {
            axis: usize::try_from(*at).ok(),
            in_place: *at.add(1) != 0,
            itemsize: *at.add(2),
            data: *at.add(4),
            shape: std::slice::from_raw_parts(at.add(5), ndim),
            strides: std::slice::from_raw_parts(at.add(5 + ndim), ndim),
        });
        at = at.add(5 + 2 * ndim);
    }
    list
}

/// May the loop's arrays be written in parallel? No written array may overlap another array
/// of the loop, nor have a zero stride on its loop axis.
fn arrays_disjoint(list: &[ArrayDesc]) -> bool {
    for a in list {
        if let Some(axis) = a.axis {
            if a.strides.get(axis).copied().unwrap_or(0) == 0 && a.shape.get(axis).copied().unwrap_or(0) > 1 {
                return false;
            }
        }
    }
    let extents: Vec<_> = list.iter().map(|a| extent(a.data, a.itemsize, a.shape, a.strides)).collect();
    for (i, ei) in extents.iter().enumerate() {
        for (j, ej) in extents.iter().enumerate() {
            if i < j && (list[i].axis.is_some() || list[j].axis.is_some()) {
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

/// Elements of an array: where the first is, the item size, and each axis's length and
/// stride in bytes.
struct View {
    data: i64,
    itemsize: i64,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

impl View {
    /// The elements of `a` that iterations `lo..hi` of `range(start, _, step)` may write: those
    /// whose index on its loop axis is one of their loop values, within the array (a value past
    /// its end fails its bounds check before it writes).
    fn block_of(a: &ArrayDesc, axis: usize, (start, step): (i64, i64), (lo, hi): (i64, i64)) -> View {
        let len = a.shape[axis] as i128;
        let (first, step) = (start as i128 + lo as i128 * step as i128, step as i128);
        // The block's values first + k*step (k < hi - lo) that lie in 0..len.
        let mut ks = 0..(hi - lo) as i128;
        if step > 0 {
            ks.end = ks.end.min(if first >= len { 0 } else { (len - first - 1) / step + 1 });
        } else {
            ks.start = if first >= len { (first - len) / (-step) + 1 } else { 0 };
        }
        let count = (ks.end - ks.start).max(0);
        let v0 = first + ks.start * step;
        let mut shape = a.shape.to_vec();
        let mut strides = a.strides.to_vec();
        shape[axis] = count as i64;
        strides[axis] = (step * a.strides[axis] as i128) as i64;
        let data = if count > 0 { a.data + (v0 * a.strides[axis] as i128) as i64 } else { a.data };
        View { data, itemsize: a.itemsize, shape, strides }
    }

    /// Call `f` on runs of contiguous bytes covering every element, in C order (one run per
    /// element unless the innermost axis is contiguous).
    fn each_run(&self, mut f: impl FnMut(*mut u8, usize)) {
        if self.shape.iter().any(|&n| n <= 0) {
            return;
        }
        let nd = self.shape.len();
        let inner = nd.checked_sub(1);
        let run = match inner {
            Some(d) if self.strides[d] == self.itemsize => (self.shape[d] * self.itemsize) as usize,
            _ => self.itemsize as usize,
        };
        // The axes walked one by one (all but a contiguous innermost one).
        let outer = if run == self.itemsize as usize { nd } else { nd - 1 };
        let mut index = vec![0i64; outer];
        loop {
            let off: i64 = index.iter().zip(&self.strides).map(|(i, s)| i * s).sum();
            f((self.data + off) as *mut u8, run);
            let mut d = outer;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                if index[d] < self.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    /// The bytes its elements take.
    fn bytes(&self) -> usize {
        (self.shape.iter().map(|&n| n.max(0)).product::<i64>() * self.itemsize) as usize
    }

    /// Copy the elements' bytes to `dst` (`bytes()` of room).
    unsafe fn save(&self, dst: *mut u8) {
        let mut at = 0;
        self.each_run(|p, n| {
            std::ptr::copy_nonoverlapping(p, dst.add(at), n);
            at += n;
        });
    }

    /// Write back bytes `save` copied, element by element: bytes between a strided view's
    /// elements, which another thread may own, are never written.
    unsafe fn restore(&self, src: *const u8) {
        let mut at = 0;
        self.each_run(|p, n| {
            std::ptr::copy_nonoverlapping(src.add(at), p, n);
            at += n;
        });
    }
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
                // A float: `max` and `min` as the builtins (the later value only when strictly
                // greater or less: exact); sums and products in block order.
                2 if op == 2 || op == 3 => {
                    let (x, y) = (f64::from_bits(acc as u64), f64::from_bits(p as u64));
                    if (op == 2 && y > x) || (op == 3 && y < x) {
                        p
                    } else {
                        acc
                    }
                }
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
/// - `arrays_desc`: the loop's arrays (see `arrays`); `may_fail`: nonzero when the body has
///   an exit other than a signal (an error, a deoptimization, a NumPy report);
/// - `env`: the caller's `Env` (its signal flag stops the blocks); `runs`: the unit's counter
///   of parallel runs.
///
/// Returns 0 when the loop ran here, 1 when the serial loop must run it (from the start):
/// fewer than two iterations, a negative loop variable or overlapping arrays where
/// it writes, a failed block, or a reduction that did not combine. The threads' floating-point
/// sticky flags are raised on this thread (NumPy's deferred reports see them).
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn heron_parallel_for(body: i64, ctx: i64, start: i64, stop: i64, step: i64, reds: i64, arrays_desc: i64, may_fail: i64, env: i64, runs: i64) -> i64 {
    let n = trip_count(start, stop, step);
    if n < 2 {
        return 1;
    }
    let list = arrays(arrays_desc as *const i64);
    if list.iter().any(|a| a.axis.is_some()) {
        let last = start as i128 + (n as i128 - 1) * step as i128;
        if (start as i128).min(last) < 0 || !arrays_disjoint(&list) {
            return 1;
        }
    }
    // A run that may fail is re-run serially from the start: each block first saves the
    // elements it may rewrite in place, and a failed run puts them back. A run that cannot fail
    // saves nothing, and a signal then waits for the caller's next poll, after the loop (the
    // body polls a quiet `Env`): stopping it midway would leave iterations done that the serial
    // re-run would do again.
    let n_red = *(reds as *const i64) as usize;
    let fallible_reds = (0..n_red).any(|j| {
        let slot = (reds as *const i64).add(1 + 4 * j);
        // Sums and products (int: an overflow; float: a result not finite); bools have none.
        *slot <= 1
    });
    let rewritten: Vec<(&ArrayDesc, usize)> = list.iter().filter(|a| a.in_place).filter_map(|a| Some((a, a.axis?))).collect();
    let save = !rewritten.is_empty() && (may_fail != 0 || fallible_reds);
    let quiet = Env::default();
    let poll_env = if !rewritten.is_empty() && !save { &quiet as *const Env as i64 } else { env };
    let pool = pool();
    let body: Body = std::mem::transmute::<i64, Body>(body);
    let nb = n.min(MAX_BLOCKS);
    let mut partials = vec![0i64; 2 * nb as usize * n_red.max(1)];
    let failed = AtomicBool::new(false);
    let started: Vec<AtomicBool> = (0..nb).map(|_| AtomicBool::new(false)).collect();
    let flags = AtomicU32::new(0);
    // Where block b saves array k: `at[b * rewritten.len() + k]` bytes into the buffer.
    let view = |k: usize, b: i64| {
        let (a, axis) = rewritten[k];
        View::block_of(a, axis, (start, step), block(n, nb, b))
    };
    let mut at = Vec::new();
    let mut buffer = Vec::new();
    if save {
        let mut total = 0;
        for b in 0..nb {
            for k in 0..rewritten.len() {
                at.push(total);
                total += view(k, b).bytes();
            }
        }
        buffer = std::mem::take(&mut *SAVE_BUFFER.lock().unwrap_or_else(|e| e.into_inner()));
        if buffer.len() < total {
            buffer.resize(total, 0);
        }
    }
    let saves = buffer.as_mut_ptr() as usize;
    {
        let parts = partials.as_mut_ptr() as usize;
        let task = |b: i64| {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            started[b as usize].store(true, Ordering::Relaxed);
            let (lo, hi) = block(n, nb, b);
            if save {
                for k in 0..rewritten.len() {
                    view(k, b).save((saves + at[b as usize * rewritten.len() + k]) as *mut u8);
                }
            }
            let mut scratch = Env::default();
            let red = parts + 16 * b as usize * n_red;
            super::fp::flags_clear();
            let status = body(ctx, lo, hi, red as i64, &mut scratch as *mut Env as i64, poll_env);
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
    let ok = !failed.load(Ordering::Relaxed) && combine(reds as *mut i64, &partials, nb as usize);
    if !ok && save {
        // A block that did not start saved nothing, and wrote nothing: restoring its
        // untouched elements from stale bytes would be wrong, so only started blocks restore.
        for b in 0..nb {
            if started[b as usize].load(Ordering::Relaxed) {
                for k in 0..rewritten.len() {
                    view(k, b).restore((saves + at[b as usize * rewritten.len() + k]) as *const u8);
                }
            }
        }
    }
    if save && buffer.capacity() <= SAVE_KEPT {
        *SAVE_BUFFER.lock().unwrap_or_else(|e| e.into_inner()) = buffer;
    }
    if !ok {
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
        let desc = |a: i64, b: i64| [2i64, 0, 0, 8, 1, a, 10, 8, -1, 0, 8, 1, b, 10, 8];
        assert!(unsafe { arrays_disjoint(&arrays(desc(1000, 1080).as_ptr())) });
        assert!(!unsafe { arrays_disjoint(&arrays(desc(1000, 1072).as_ptr())) });
    }

    #[test]
    fn saved_blocks_are_put_back_and_the_gaps_between_them_are_not_touched() {
        // A strided view of 16 doubles: 4 rows of 2 contiguous elements, reversed (row stride
        // -32 bytes), with 2 elements of gap between rows; the loop axis is 0.
        let mut base: Vec<f64> = (0..16).map(|k| k as f64).collect();
        let data = unsafe { base.as_mut_ptr().add(14) } as i64;
        let desc = [1i64, 0, 1, 8, 2, data, 4, 2, -32, 8];
        let list = unsafe { arrays(desc.as_ptr()) };
        assert!(list[0].in_place && list[0].axis == Some(0));
        // range(5, -1, -2) over axis 0 (rows 5, 3, 1), blocks of iterations 0..2 and 2..3;
        // range(2, 9) (rows 2..=8, 7 and 8 past the end), one block.
        for (start, step, blocks) in [(5i64, -2i64, vec![(0i64, 2i64), (2, 3)]), (2, 1, vec![(0, 7)])] {
            let copies: Vec<(View, Vec<u8>)> = blocks
                .iter()
                .map(|&b| {
                    let v = View::block_of(&list[0], 0, (start, step), b);
                    let mut bytes = vec![0u8; v.bytes()];
                    unsafe { v.save(bytes.as_mut_ptr()) };
                    (v, bytes)
                })
                .collect();
            let before = base.clone();
            for x in base.iter_mut() {
                *x += 100.0;
            }
            for (v, bytes) in &copies {
                unsafe { v.restore(bytes.as_ptr()) };
            }
            // Row r of the view is base[14 - 4r], base[15 - 4r]: the rows the loop reaches are
            // restored, every other element (the gaps too) keeps its +100.
            let rows: Vec<i64> = (0..blocks.last().unwrap().1).map(|k| start + k * step).filter(|r| (0..4).contains(r)).collect();
            let restored: Vec<usize> = rows.iter().flat_map(|r| [(14 - 4 * r) as usize, (15 - 4 * r) as usize]).collect();
            for (k, x) in base.iter().enumerate() {
                let want = if restored.contains(&k) { before[k] } else { before[k] + 100.0 };
                assert_eq!(*x, want, "element {k} for range({start}, _, {step})");
            }
            base.copy_from_slice(&before);
        }
    }
}
