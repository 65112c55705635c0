//! Vector codegen (issue 15 item 1): a loop `analysis::vectorize` planned runs two iterations
//! at a time in F64X2 lanes before its scalar loop, which takes over where the vector loop
//! stops: at the end (it always leaves the last iteration, so the loop variable ends as
//! Python's does), when a run-time test before the loop fails, or at the first pair whose
//! values are not all finite.
//!
//! Exact by construction: each lane does the scalar code's IEEE operations in its order (no
//! fused or reassociated operations); a pair is stored only when its result, and every
//! divisor in it, is finite in both lanes, so any pair NumPy or CPython would report on
//! (overflow, invalid value, division by zero, a NaN read) is left, with everything after it,
//! to the scalar loop, which reports exactly. Before the loop, at run time: every index in
//! bounds without wrapping (a negative index, which NumPy wraps, goes to the scalar loop), the
//! last axis of every array read along the loop contiguous, and the stored range disjoint from
//! every range read other than the stored elements themselves (so no lane reads what an
//! earlier iteration of its pair writes: `a[j] = a[j - 1] + x` stays scalar).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types, InstBuilder, MemFlagsData, Value};

use super::FunctionCx;
use crate::abi;
use crate::analysis::vectorize::{Access, VExpr, VectorPlan};
use crate::ir::*;
use crate::types::{Layout, Type};

/// Does `HERON_SIMD=0` turn vector loops off (for measuring what they gain)? Read once.
pub fn simd_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("HERON_SIMD").map_or(true, |v| v.trim() != "0"))
}

/// Lanes of an F64X2.
const LANES: i64 = 2;

/// Pairs between two polls for Ctrl-C.
const CHUNK: i64 = 1024;

/// An access's row: the address of its element at loop index 0 (its fixed indices applied),
/// and whether it moves with the loop.
struct Row {
    base: Value,
    offset: Option<i64>,
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// Emit the vector loop of `plan` for `for v in range(start, stop)` (step 1), before
    /// the scalar loop; returns where the scalar loop starts. Leaves a note for the report.
    pub(super) fn vector_loop<'p>(&mut self, plan: &'p VectorPlan, start: Value, stop: Value, line: u32) -> CResult<Value> {
        let i64t = types::I64;
        let exit = self.b.create_block();
        let resume = self.b.append_block_param(exit, i64t);
        // The run-time tests: at least one pair before the last iteration, start >= 0.
        let two = self.b.ins().iadd_imm_s(start, LANES);
        let mut ok = self.b.ins().icmp(IntCC::SignedLessThan, two, stop);
        let nonneg = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, start, 0);
        ok = self.b.ins().band(ok, nonneg);
        let store = self.row(&plan.store, start, stop, &mut ok);
        let loads: Vec<Row> = plan.loads.iter().map(|l| self.row(l, start, stop, &mut ok)).collect();
        // The stored range against every other range read.
        let (s_lo, s_hi) = self.span(&store, start, stop);
        for (acc, row) in plan.loads.iter().zip(&loads) {
            if *acc == plan.store {
                continue;
            }
            let (lo, hi) = self.span(row, start, stop);
            let below = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, hi, s_lo);
            let above = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, s_hi, lo);
            let apart = self.b.ins().bor(below, above);
            ok = self.b.ins().band(ok, apart);
        }
        let pre = self.b.create_block();
        self.b.ins().brif(ok, pre, &[], exit, &[ir::BlockArg::Value(start)]);
        self.switch_to(pre);
        // Elements that stay put: read once (the stored range does not touch them); the
        // constants and invariant variables splatted once.
        let flags = MemFlagsData::new().with_notrap();
        let fixed: Vec<Option<Value>> = loads
            .iter()
            .map(|row| {
                row.offset.is_none().then(|| {
                    let x = self.b.ins().load(types::F64, MemFlagsData::trusted(), row.base, 0);
                    self.b.ins().splat(types::F64X2, x)
                })
            })
            .collect();
        let mut leaves = Vec::new();
        for t in &plan.temps {
            self.leaf_splats(t, &mut leaves);
        }
        self.leaf_splats(&plan.value, &mut leaves);
        // The loop carries `j` and a pointer per moving row (one per array and fixed indices,
        // at its element `j`; each access is an offset from it), so that its values live in
        // registers; what stays the same is not carried. It polls for Ctrl-C between chunks
        // of pairs, not at each pair: the environment pointer, live across the whole
        // function, is then not reloaded at every iteration.
        let mut groups: Vec<(VarId, &[(Option<VarId>, i64)], Value)> = Vec::new();
        let mut group_of = |acc: &'p Access, base: Value| -> usize {
            match groups.iter().position(|(a, lead, _)| *a == acc.array && *lead == acc.lead.as_slice()) {
                Some(n) => n,
                None => {
                    groups.push((acc.array, &acc.lead, base));
                    groups.len() - 1
                }
            }
        };
        let store_group = group_of(&plan.store, store.base);
        let load_group: Vec<Option<usize>> = plan.loads.iter().zip(&loads).map(|(acc, row)| row.offset.map(|_| group_of(acc, row.base))).collect();
        let mut entry = vec![start];
        for &(_, _, base) in &groups {
            let off = self.b.ins().imul_imm_s(start, 8);
            entry.push(self.b.ins().iadd(base, off));
        }
        let outer = self.b.create_block();
        let inner = self.b.create_block();
        let done = self.b.create_block();
        let body = self.b.create_block();
        let chunk_lim = self.b.append_block_param(inner, i64t);
        let outer_p: Vec<Value> = entry.iter().map(|_| self.b.append_block_param(outer, i64t)).collect();
        let inner_p: Vec<Value> = entry.iter().map(|_| self.b.append_block_param(inner, i64t)).collect();
        let done_p: Vec<Value> = entry.iter().map(|_| self.b.append_block_param(done, i64t)).collect();
        let args = |v: &[Value]| -> Vec<ir::BlockArg> { v.iter().map(|&x| ir::BlockArg::Value(x)).collect() };
        self.b.ins().jump(outer, &args(&entry));
        // outer(j, ptrs): poll, then a chunk of at most CHUNK pairs.
        self.b.switch_to_block(outer);
        let env = self.outlined.as_ref().map_or(self.env, |o| o.parent_env);
        let pending = self.b.ins().load(i64t, MemFlagsData::trusted(), env, abi::ENV_SIG_PENDING);
        let pending = self.b.ins().band_imm_u(pending, 1);
        let chunk = self.b.create_block();
        self.b.ins().brif(pending, exit, &[ir::BlockArg::Value(outer_p[0])], chunk, &[]);
        self.switch_to(chunk);
        let far = self.b.ins().iadd_imm_s(outer_p[0], LANES * CHUNK);
        let lim = self.b.ins().smin(far, stop);
        let mut a = vec![lim];
        a.extend_from_slice(&outer_p);
        self.b.ins().jump(inner, &args(&a));
        // inner(lim, j, ptrs): a pair while j + 2 < lim.
        self.b.switch_to_block(inner);
        let j = inner_p[0];
        let next = self.b.ins().iadd_imm_s(j, LANES);
        let go = self.b.ins().icmp(IntCC::SignedLessThan, next, chunk_lim);
        self.b.ins().brif(go, body, &[], done, &args(&inner_p));
        self.switch_to(body);
        let ptr_of: Vec<Option<(Value, i32)>> = load_group.iter().zip(&loads).map(|(g, row)| g.map(|g| (inner_p[1 + g], (8 * row.offset.expect("a moving row")) as i32))).collect();
        let mut leaf_q: std::collections::VecDeque<Value> = leaves.into();
        let mut checks = Vec::new();
        // Temporaries in order, each checked too (a non-finite one NumPy reports even when
        // the stored value does not use it).
        let mut temps = Vec::new();
        for t in &plan.temps {
            let v = self.lanes(t, &ptr_of, &fixed, &temps, &mut leaf_q, flags, &mut checks);
            checks.push(v);
            temps.push(v);
        }
        let value = self.lanes(&plan.value, &ptr_of, &fixed, &temps, &mut leaf_q, flags, &mut checks);
        checks.push(value);
        // r - r is NaN exactly where r is infinite or NaN; sums keep a NaN.
        let mut d = self.b.ins().fsub(checks[0], checks[0]);
        for &c in &checks[1..] {
            let dc = self.b.ins().fsub(c, c);
            d = self.b.ins().fadd(d, dc);
        }
        let nan = self.b.ins().fcmp(FloatCC::Unordered, d, d);
        let bad = self.b.ins().vany_true(nan);
        let put = self.b.create_block();
        self.b.ins().brif(bad, exit, &[ir::BlockArg::Value(j)], put, &[]);
        self.switch_to(put);
        let store_at = (8 * plan.store.offset.expect("a moving store")) as i32;
        self.b.ins().store(flags, value, inner_p[1 + store_group], store_at);
        let mut back = vec![chunk_lim, next];
        for &p in &inner_p[1..] {
            back.push(self.b.ins().iadd_imm_s(p, 8 * LANES));
        }
        self.b.ins().jump(inner, &args(&back));
        self.b.seal_block(inner);
        // done(j, ptrs): the chunk is over; another unless the loop is.
        self.switch_to(done);
        let next = self.b.ins().iadd_imm_s(done_p[0], LANES);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, next, stop);
        self.b.ins().brif(more, outer, &args(&done_p), exit, &[ir::BlockArg::Value(done_p[0])]);
        self.b.seal_block(outer);
        self.switch_to(exit);
        // A pair was stored: a side effect the caller sees (`mark_effect`, once).
        if !self.facts.local_arrays[plan.store.array] {
            self.writes_visible = true;
            let stored = self.b.ins().icmp(IntCC::SignedGreaterThan, resume, start);
            let stored = self.b.ins().uextend(i64t, stored);
            let old = self.b.ins().load(i64t, MemFlagsData::trusted(), self.env, abi::ENV_EFFECTS);
            let now = self.b.ins().bor(old, stored);
            self.b.ins().store(MemFlagsData::trusted(), now, self.env, abi::ENV_EFFECTS);
        }
        self.vector_notes.push(format!("line {line}: the loop runs two iterations at a time (float64 x 2 lanes)"));
        Ok(resume)
    }

    /// The row of `acc` for a loop from `start` to `stop`, and-ing into `ok` that its fixed
    /// indices are in bounds (no wrapping) and, when it moves with the loop, that its last
    /// axis is contiguous and `start + offset >= 0`, `stop + offset <= extent`.
    fn row(&mut self, acc: &Access, start: Value, stop: Value, ok: &mut Value) -> Row {
        let Some(Type::Array(at)) = self.typed.vars[acc.array].ty.clone() else { unreachable!("a planned array") };
        let nd = at.ndim as usize;
        let arr = self.load_var(acc.array);
        let item = at.dtype.itemsize();
        let stride = |cx: &mut Self, axis: usize| if at.layout == Layout::C && axis == nd - 1 { cx.iconst(item) } else { arr[1 + nd + axis] };
        let mut base = arr[0];
        for (axis, &(v, k)) in acc.lead.iter().enumerate() {
            let idx = match v {
                Some(v) => {
                    let x = self.b.use_var(self.vars[v][0]);
                    self.b.ins().iadd_imm_s(x, k)
                }
                None => self.iconst(k),
            };
            let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, arr[1 + axis]);
            *ok = self.b.ins().band(*ok, inside);
            let s = stride(self, axis);
            let off = self.b.ins().imul(idx, s);
            base = self.b.ins().iadd(base, off);
        }
        if let Some(k) = acc.offset {
            let last = nd - 1;
            if at.layout != Layout::C {
                let s = arr[1 + nd + last];
                let unit = self.b.ins().icmp_imm_s(IntCC::Equal, s, item);
                *ok = self.b.ins().band(*ok, unit);
            }
            let first = self.b.ins().iadd_imm_s(start, k);
            let from = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, first, 0);
            let lim = self.b.ins().iadd_imm_s(arr[1 + last], -k);
            let to = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, stop, lim);
            let both = self.b.ins().band(from, to);
            *ok = self.b.ins().band(*ok, both);
        }
        Row { base, offset: acc.offset }
    }

    /// The bytes `[lo, hi)` a row touches over the loop (one element for a fixed one).
    fn span(&mut self, row: &Row, start: Value, stop: Value) -> (Value, Value) {
        match row.offset {
            Some(k) => {
                let a = self.b.ins().iadd_imm_s(start, k);
                let b = self.b.ins().iadd_imm_s(stop, k);
                let a8 = self.b.ins().imul_imm_s(a, 8);
                let b8 = self.b.ins().imul_imm_s(b, 8);
                (self.b.ins().iadd(row.base, a8), self.b.ins().iadd(row.base, b8))
            }
            None => (row.base, self.b.ins().iadd_imm_s(row.base, 8)),
        }
    }

    /// The splats of `e`'s constants and invariant variables, in the order `lanes` meets them.
    fn leaf_splats(&mut self, e: &VExpr, out: &mut Vec<Value>) {
        match e {
            VExpr::Const(x) => {
                let c = self.b.ins().f64const(*x);
                out.push(self.b.ins().splat(types::F64X2, c));
            }
            VExpr::Scalar(v) => {
                let x = self.b.use_var(self.vars[*v][0]);
                out.push(self.b.ins().splat(types::F64X2, x));
            }
            VExpr::Load(_) | VExpr::Temp(_) => {}
            VExpr::Neg(a) => self.leaf_splats(a, out),
            VExpr::Bin(_, a, b) => {
                self.leaf_splats(a, out);
                self.leaf_splats(b, out);
            }
        }
    }

    /// `e` for the pair at the moving rows' pointers `ptrs` (by load); pushes each divisor
    /// onto `checks` (a finite value divided by an infinite one is finite: its overflow would
    /// not show in the result).
    fn lanes(&mut self, e: &VExpr, ptrs: &[Option<(Value, i32)>], fixed: &[Option<Value>], temps: &[Value], leaves: &mut std::collections::VecDeque<Value>, flags: MemFlagsData, checks: &mut Vec<Value>) -> Value {
        match e {
            VExpr::Load(k) => match (fixed[*k], ptrs[*k]) {
                (Some(v), _) => v,
                (None, Some((p, off))) => self.b.ins().load(types::F64X2, flags, p, off),
                (None, None) => unreachable!("a load moves or stays"),
            },
            VExpr::Const(_) | VExpr::Scalar(_) => leaves.pop_front().expect("a splat per leaf"),
            VExpr::Temp(k) => temps[*k],
            VExpr::Neg(a) => {
                let a = self.lanes(a, ptrs, fixed, temps, leaves, flags, checks);
                self.b.ins().fneg(a)
            }
            VExpr::Bin(op, a, b) => {
                let a = self.lanes(a, ptrs, fixed, temps, leaves, flags, checks);
                let b = self.lanes(b, ptrs, fixed, temps, leaves, flags, checks);
                match op {
                    BinOp::Add => self.b.ins().fadd(a, b),
                    BinOp::Sub => self.b.ins().fsub(a, b),
                    BinOp::Mul => self.b.ins().fmul(a, b),
                    BinOp::Div => {
                        checks.push(b);
                        self.b.ins().fdiv(a, b)
                    }
                    _ => unreachable!("planned operations are + - * /"),
                }
            }
        }
    }
}
