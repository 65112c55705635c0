//! Parallel loops (issue 14): the outlined body of a loop `analysis::parallel` planned, and
//! the code around it that hands it to the runtime's driver (`runtime::parallel`) and falls
//! back to the serial loop.
//!
//! The body becomes a function of its own, `(ctx, first, end, partials, env, caller env) ->
//! status`, that runs iterations `first..end` of the loop: the loop variable is `start + k *
//! step` for iteration `k`; every variable of the function is read from `ctx` at its entry (its
//! value before the loop); each reduction starts from its identity (`max`/`min`: from its value
//! before the loop) and its partial result is stored to `partials` at the end. The body never
//! deoptimizes nor reports an error: every such exit (an error, a deoptimization, a NumPy
//! warning, a signal) returns a nonzero status instead, and the driver then has the caller run
//! its serial copy of the loop from the start, which fails where CPython does (the arrays the
//! loop rewrites in place are put back first: the driver saved them when the body may fail).
//! An operation the body cannot do off the main thread without the runtime (a call into
//! Python or NumPy, an allocation, random numbers) makes the loop serial. A compiled callee
//! runs its threaded specialization (`Typed::threaded`: compiled the same way, its exits
//! failing with a status), which the resolver compiles for every callee of a `parallel`
//! function; a callee that cannot have one (it prints, allocates, recurses) keeps the loop
//! serial, and the report says why.
//!
//! Around it, in the caller: store `ctx`, the reductions' values and the arrays' extents; call
//! `heron_parallel_for`; on 0 read the reductions back and continue after the loop; on 1 run
//! the serial loop.

use cranelift_codegen::ir::{self, types, AbiParam, BlockArg, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Linkage, Module};

use super::module::cg_err;
use super::{repr, widen_to_slot, FunctionCx};
use crate::analysis::loop_facts::LoopFacts;
use crate::analysis::parallel::{ParallelPlan, RedOp};
use crate::ir::*;
use crate::types::Type;

/// The state of a `FunctionCx` emitting an outlined parallel body.
pub struct Outlined {
    /// The caller's `Env` (its signal flag is polled at the back-edge).
    pub parent_env: Value,
    /// Why the body cannot run off the main thread, once codegen met such an operation.
    pub refused: Option<String>,
    /// The body has an exit other than a signal (an error, a deoptimization, a NumPy report).
    pub may_fail: bool,
}

/// Runtime helpers an outlined body may call: pure functions of their arguments (libm, Python's
/// and NumPy's scalar math), and the flag raise of deferred NumPy reports.
fn thread_safe_helper(name: &str) -> bool {
    !name.starts_with("heron_")
        || name.starts_with("heron_m_")
        || name.starts_with("heron_c_")
        || name.starts_with("heron_float_")
        || matches!(name, "heron_cmp_int_float" | "heron_round_ndigits" | "heron_np_power_f64" | "heron_np_defer")
}

/// What a helper does, for the report of a loop it keeps serial.
fn helper_reason(name: &str) -> String {
    match name {
        "heron_alloc" | "heron_buf_alloc" | "heron_buf_free" => "it makes or frees arrays".into(),
        "heron_print" => "it prints".into(),
        n if n.contains("random") => "it draws random numbers (one stream, drawn in order)".into(),
        n if n.contains("ufunc") || n == "heron_np_call" => "it calls NumPy on arrays".into(),
        n => format!("it needs Heron's runtime ({n})"),
    }
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// In an outlined body: the body cannot run off the main thread (`reason`); the loop stays
    /// serial. No effect elsewhere.
    pub fn refuse_outlined(&mut self, reason: impl FnOnce() -> String) {
        if let Some(o) = self.outlined.as_mut() {
            if o.refused.is_none() {
                o.refused = Some(reason());
            }
        }
    }

    /// In an outlined body, a call of runtime helper `name` (see `thread_safe_helper`).
    pub(super) fn outlined_helper(&mut self, name: &str) {
        if self.outlined.is_some() && !thread_safe_helper(name) {
            self.refuse_outlined(|| helper_reason(name));
        }
    }

    /// In an outlined body: leave with status 2 ("run the loop serially"); terminates the
    /// current block.
    pub(super) fn outlined_fail(&mut self) {
        if let Some(o) = self.outlined.as_mut() {
            o.may_fail = true;
        }
        let two = self.iconst(2);
        self.b.ins().jump(self.err_block, &[BlockArg::Value(two)]);
    }

    /// The parallel run of the loop `id` (see the module documentation), tried when `go` (the
    /// loop's versioning test, or 1) holds; jumps to `exit` when it ran, else continues (in a
    /// new block) to the serial loop. Returns false, emitting nothing, when the body cannot run
    /// off the main thread (the reason is noted for the report).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn parallel_loop(
        &mut self,
        id: usize,
        var: VarId,
        plan: &ParallelPlan,
        (start_v, stop_v, step_v): (Value, Value, Value),
        body: &'a [Stmt],
        facts: LoopFacts,
        go: Value,
        exit: ir::Block,
        line: u32,
    ) -> CResult<bool> {
        let (body_id, may_fail) = match self.outline(id, var, plan, body, facts, line)? {
            Ok(done) => done,
            Err(reason) => {
                self.parallel_notes.push(format!("line {line}: the loop runs serially: {reason}"));
                return Ok(false);
            }
        };
        let mut note = format!("line {line}: the loop runs in parallel on Heron's threads (HERON_NUM_THREADS, else one per core)");
        let floats: Vec<String> = plan.float_reductions().iter().map(|v| format!("`{}`", self.f.vars[*v])).collect();
        if !floats.is_empty() {
            note.push_str(&format!(
                "; its float reduction {} is reassociated (summed in blocks of iterations, the blocks in order: the same bits on every run, other bits than the serial loop's)",
                floats.join(", ")
            ));
        }
        self.parallel_notes.push(note);
        let i = types::I64;
        let par = self.b.create_block();
        let serial = self.b.create_block();
        self.b.ins().brif(go, par, &[], serial, &[]);
        self.switch_to(par);
        // ctx: start, step, then every variable's slots (and tag).
        let mut vals = vec![start_v, step_v];
        for v in 0..self.vars.len() {
            vals.extend(self.load_var(v));
            if let Some(t) = self.tags[v] {
                vals.push(self.b.use_var(t));
            }
        }
        let ctx = self.slots_of(&vals);
        // Reductions: count, then (op, kind, value, tag).
        let mut red = vec![self.iconst(plan.reductions.len() as i64)];
        for r in &plan.reductions {
            red.push(self.iconst(r.op.code()));
            let kind = if r.ty.is_floatlike() { 2 } else if r.ty == Type::Bool { 1 } else { 0 };
            red.push(self.iconst(kind));
            red.push(self.load_var(r.var)[0]);
            let tag = match self.tags[r.var] {
                Some(t) => self.b.use_var(t),
                None => self.b.ins().iconst(types::I8, 0),
            };
            red.push(tag);
        }
        let (red_ss, red_ptr) = self.stack_slots(&red);
        // Arrays: count, then (axis or -1, in place, itemsize, ndim, data, shape, strides).
        let mut arr = vec![self.iconst((plan.written.len() + plan.read.len()) as i64)];
        let all: Vec<(VarId, i64)> = plan.written.iter().map(|&(a, axis)| (a, axis as i64)).chain(plan.read.iter().map(|&a| (a, -1))).collect();
        for (a, axis) in all {
            let Type::Array(at) = self.var_type(a) else { unreachable!("an array") };
            let parts = self.load_var(a);
            arr.push(self.iconst(axis));
            arr.push(self.iconst(plan.in_place.contains(&a) as i64));
            arr.push(self.iconst(at.dtype.itemsize() as i64));
            arr.push(self.iconst(at.ndim as i64));
            arr.extend(parts);
        }
        let arrays = self.slots_of(&arr);
        let fref = self.module.declare_func_in_func(body_id, self.b.func);
        let body_ptr = self.b.ins().func_addr(i, fref);
        let env = self.env;
        let runs = self.iconst(self.par_runs);
        let may_fail = self.iconst(may_fail as i64);
        let status = self.call_helper("heron_parallel_for", &[i; 10], &[i], &[body_ptr, ctx, start_v, stop_v, step_v, red_ptr, arrays, may_fail, env, runs])?[0];
        let ran = self.b.create_block();
        self.b.ins().brif(status, serial, &[], ran, &[]);
        self.switch_to(ran);
        for (k, r) in plan.reductions.iter().enumerate() {
            let raw = self.b.ins().stack_load(i, i, red_ss, (8 * (3 + 4 * k)) as i32);
            let t = repr(&r.ty)[0];
            let v = self.from_slot(raw, t);
            self.b.def_var(self.vars[r.var][0], v);
            if let Some(tag) = self.tags[r.var] {
                let raw = self.b.ins().stack_load(i, i, red_ss, (8 * (4 + 4 * k)) as i32);
                let t = self.b.ins().ireduce(types::I8, raw);
                self.b.def_var(tag, t);
            }
        }
        self.b.ins().jump(exit, &[]);
        self.switch_to(serial);
        Ok(true)
    }

    /// `vals` widened to 8-byte slots in a new stack slot: its address.
    fn slots_of(&mut self, vals: &[Value]) -> Value {
        self.stack_slots(vals).1
    }

    fn stack_slots(&mut self, vals: &[Value]) -> (ir::StackSlot, Value) {
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * vals.len().max(1)) as u32, 3));
        for (k, v) in vals.iter().enumerate() {
            let w = widen_to_slot(&mut self.b, *v);
            self.b.ins().stack_store(types::I64, w, ss, (8 * k) as i32);
        }
        (ss, self.b.ins().stack_addr(types::I64, ss, 0))
    }

    /// Emit the outlined body of loop `id` as a function of this module: its id and whether it
    /// may fail (`Outlined::may_fail`), or why it cannot run off the main thread.
    fn outline(&mut self, id: usize, var: VarId, plan: &ParallelPlan, body: &'a [Stmt], facts: LoopFacts, line: u32) -> CResult<Result<(FuncId, bool), String>> {
        let mut sig = self.module.make_signature();
        for _ in 0..6 {
            sig.params.push(AbiParam::new(types::I64));
        }
        sig.returns.push(AbiParam::new(types::I64));
        let fid = self.module.declare_function(&format!("parallel_body_{id}"), Linkage::Local, &sig).map_err(cg_err)?;
        let mut ctx = self.module.make_context();
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        let (refused, may_fail);
        {
            let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let mut cx = FunctionCx::new(b, &mut *self.module, self.f, self.typed, self.facts, self.info, self.links, fid, false, true)?;
            cx.tramps = self.tramps.clone();
            cx.entry_id = self.entry_id;
            cx.scope.lower_bounds = self.scope.lower_bounds.clone();
            cx.scope.loops = self.scope.loops.clone();
            cx.outlined_body(var, plan, body, facts, line)?;
            refused = cx.outlined.as_ref().and_then(|o| o.refused.clone());
            may_fail = cx.outlined.as_ref().is_some_and(|o| o.may_fail);
            cx.b.seal_all_blocks();
            let target = cx.module.target_config();
            cx.b.finalize(target);
        }
        if let Some(reason) = refused {
            return Ok(Err(reason));
        }
        self.module.define_function(fid, &mut ctx).map_err(|e| cg_err(format!("{e:?}")))?;
        Ok(Ok((fid, may_fail)))
    }

    /// The body function's code (in the `FunctionCx` made for it).
    fn outlined_body(&mut self, var: VarId, plan: &ParallelPlan, body: &'a [Stmt], facts: LoopFacts, line: u32) -> CResult<()> {
        let i = types::I64;
        let flags = MemFlagsData::trusted();
        let p = self.entry_params.clone();
        let (ctx, first, end, partials) = (p[0], p[1], p[2], p[3]);
        let start = self.b.ins().load(i, flags, ctx, 0);
        let step = self.b.ins().load(i, flags, ctx, 8);
        let mut k = 2;
        for v in 0..self.vars.len() {
            let reprs = self.typed.vars[v].ty.as_ref().map(repr).unwrap_or_default();
            for (j, t) in reprs.into_iter().enumerate() {
                let raw = self.b.ins().load(i, flags, ctx, (8 * k) as i32);
                let x = self.from_slot(raw, t);
                self.b.def_var(self.vars[v][j], x);
                k += 1;
            }
            if let Some(tag) = self.tags[v] {
                let raw = self.b.ins().load(i, flags, ctx, (8 * k) as i32);
                let x = self.b.ins().ireduce(types::I8, raw);
                self.b.def_var(tag, x);
                k += 1;
            }
        }
        for r in &plan.reductions {
            let identity = match (r.op, &r.ty) {
                (RedOp::Max | RedOp::Min, _) => continue,
                (RedOp::Add, t) if t.is_floatlike() => self.b.ins().f64const(-0.0),
                (RedOp::Mul, t) if t.is_floatlike() => self.b.ins().f64const(1.0),
                (RedOp::Mul, _) => self.iconst(1),
                (RedOp::And, Type::Bool) => self.b.ins().iconst(types::I8, 1),
                (RedOp::And, _) => self.iconst(-1),
                (_, Type::Bool) => self.b.ins().iconst(types::I8, 0),
                _ => self.iconst(0),
            };
            self.b.def_var(self.vars[r.var][0], identity);
        }
        // for k in first..end: var = start + k * step; body
        let cur = self.b.declare_var(i);
        self.b.def_var(cur, first);
        let header = self.b.create_block();
        let body_blk = self.b.create_block();
        let cont = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let c = self.b.use_var(cur);
        let go = self.b.ins().icmp(ir::condcodes::IntCC::SignedLessThan, c, end);
        self.b.ins().brif(go, body_blk, &[], done, &[]);
        self.switch_to(body_blk);
        let c = self.b.use_var(cur);
        let off = self.b.ins().imul(c, step);
        let iv = self.b.ins().iadd(start, off);
        self.assign_var(var, vec![iv], &Type::Int, None, line)?;
        let unused = self.b.create_block();
        self.loop_body(body, cont, unused, None, facts, line)?;
        let c = self.b.use_var(cur);
        let next = self.b.ins().iadd_imm_s(c, 1);
        self.b.def_var(cur, next);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);
        self.switch_to(unused);
        self.b.ins().jump(done, &[]);
        self.switch_to(done);
        // Partials: (value, tag) per reduction.
        for (j, r) in plan.reductions.iter().enumerate() {
            let v = self.b.use_var(self.vars[r.var][0]);
            let w = widen_to_slot(&mut self.b, v);
            self.b.ins().store(flags, w, partials, (16 * j) as i32);
            if let Some(tag) = self.tags[r.var] {
                let t = self.b.use_var(tag);
                let t = self.b.ins().uextend(i, t);
                self.b.ins().store(flags, t, partials, (16 * j + 8) as i32);
            }
        }
        let zero = self.iconst(0);
        self.b.ins().return_(&[zero]);
        // Every failure: its status (nonzero).
        self.switch_to(self.exit_block);
        let two = self.iconst(2);
        self.b.ins().return_(&[two]);
        self.switch_to(self.err_block);
        let status = self.b.block_params(self.err_block)[0];
        self.b.ins().return_(&[status]);
        Ok(())
    }
}
