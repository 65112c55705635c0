//! The codegen context of one function (`FunctionCx`, the shape of rustc_codegen_cranelift's):
//! its construction (parameters, variables, live globals), the normal and error exits, error
//! reporting, runtime helper calls, and the stores into variables.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, types, AbiParam, BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use super::module::{cg_err, RuntimeLinks, TRAMPOLINED};
use super::{deopt, repr, ret_by_pointer, ret_reprs, widen_to_slot, CVal};
use crate::abi::{self, ErrCode, FuncInfo, PrintDesc};
use crate::analysis::loop_facts::Scope;
use crate::analysis::Facts;
use crate::ir::*;
use crate::types::infer::Typed;
use crate::types::Type;

pub struct LoopCx {
    pub continue_block: ir::Block,
    pub break_block: ir::Block,
    /// The loop's hidden state, for a deoptimization in its body (None for `while`).
    pub hidden: Option<deopt::LoopHidden>,
}

/// Where a value is stored: a variable's (or the return value's) machine variables, its tag,
/// its member types and its representation type.
pub(super) struct Slot {
    pub(super) vars: Vec<Variable>,
    pub(super) tag: Option<Variable>,
    pub(super) members: Vec<Type>,
    pub(super) ty: Type,
}

/// The codegen context for one function (the shape of rustc_codegen_cranelift's `FunctionCx`).
pub struct FunctionCx<'a, 'm> {
    pub b: FunctionBuilder<'a>,
    pub module: &'m mut JITModule,
    pub f: &'a Function,
    pub typed: &'a Typed,
    /// The analyses' side tables (`analysis::analyze`).
    pub facts: &'a Facts,
    pub info: &'a FuncInfo,
    pub links: &'a RuntimeLinks<'a>,
    pub vars: Vec<Vec<Variable>>,
    pub tags: Vec<Option<Variable>>,
    pub ret_vars: Vec<Variable>,
    pub ret_tag: Option<Variable>,
    pub env: Value,
    /// Where the result goes when it is returned through slots.
    pub ret_ptr: Option<Value>,
    pub exit_block: ir::Block,
    pub err_block: ir::Block,
    pub loops: Vec<LoopCx>,
    pub helpers: HashMap<String, ir::FuncRef>,
    pub self_id: FuncId,
    /// The `preserve_all` trampolines of `TRAMPOLINED`, in that order.
    pub tramps: Vec<FuncId>,
    pub fp_deferred: bool,
    /// While codegen is inside an expression whose NumPy float checks are batched, how many
    /// operations wait for the one check at its end (see `fp::fp_batched`).
    pub fp_pending: Option<usize>,
    /// The loop facts in force where code is being emitted (`analysis::loop_facts`).
    pub scope: Scope,
    /// Codegen is evaluating an expression again on the cold path of a batched check.
    /// The NumPy scalar operation being emitted goes through NumPy's ufunc, not its scalar
    /// math (no NumPy operand has the result's type, see `num::binop`): its reports name the
    /// ufunc ("overflow encountered in multiply"), and integer loops wrap without a report.
    pub np_via_ufunc: bool,
    pub fp_replay: bool,
    pub prints: Vec<Box<PrintDesc>>,
    /// Ufunc call sites native code points to (`codegen::ufunc`).
    pub ufunc_sites: Vec<Box<crate::abi::UfuncSite>>,
    /// NumPy call sites native code points to (`call::np_call`).
    pub np_sites: Vec<Box<crate::abi::NpCallSite>>,
    pub long_running: bool,
    /// Native code calls back into Python for NumPy objects (allocations, NumPy calls): the
    /// dispatcher keeps the GIL rather than take it again at each callback.
    pub py_callbacks: bool,
    /// `Env::owned_len` at entry (see `poll_signals`).
    pub owned_floor: Option<Value>,
    /// A store into an array the caller can see was emitted (or a callee makes one).
    pub writes_visible: bool,
    /// The comprehension blocks being emitted, innermost last (one inside the body of a
    /// statement that ends another): see `CompGroup`.
    pub groups: Vec<CompGroup>,
    /// Power chains `x**k` (as `p + L`, see `pow::pow_const`) already computed for a variable in
    /// the current statement, reused by later powers of the same variable. Cleared at every
    /// statement and around expressions that branch, so each value dominates its uses.
    /// Each entry: (x within 2**-100 < |x| < 2**100, the chain).
    pub pow_chains: HashMap<VarId, (Value, Vec<(Value, Value)>)>,
    /// The statement being emitted (deoptimization continues from it).
    pub cur_stmt: Option<&'a Stmt>,
    /// In a simple statement (an assignment, an expression, a return): the load of
    /// `Env::warned` at its start, and whether its code so far can warn (a NumPy float
    /// report, a ufunc, a compiled callee). A deoptimization then tells the interpreter how
    /// many warnings the statement already issued (`Env::rerun_warned`); the load is removed
    /// from a statement that cannot warn.
    pub warn_base: Option<(ir::Inst, Value)>,
    pub stmt_reports: bool,
    /// Deoptimization points made so far, and their index by (statement, calls made, boxed call).
    pub points: Vec<crate::abi::DeoptPoint>,
    pub point_ids: HashMap<(usize, usize, Option<Span>), usize>,
    /// The spill order of the point being emitted: variables, then hidden loop values.
    pub spill_vars: Vec<VarId>,
    pub spill_hidden: Vec<Value>,
    /// Calls with side effects made so far in the current statement (see `deopt::MadeCall`),
    /// and how deep in conditional parts of an expression codegen is.
    pub stmt_calls: Vec<deopt::MadeCall>,
    pub cond_depth: usize,
    pub spill_ss: Option<ir::StackSlot>,
    pub ret_ss: Option<ir::StackSlot>,
    /// Source ranges of the expressions being emitted, innermost last (error sites).
    pub span_stack: Vec<Span>,
    /// Error sites by number (`FuncInfo::sites`).
    pub sites: Vec<Span>,
    pub site_ids: HashMap<Span, usize>,
    /// The values of live globals, read at entry, by cell address.
    pub cells: HashMap<usize, Vec<Value>>,
    /// The entry block's parameters, and the `entry` trampoline (see `recursion`).
    pub entry_params: Vec<Value>,
    pub entry_id: FuncId,
    /// A recursive function's depth parameter, and its own depth (passed to its calls).
    pub depth_param: Option<Value>,
    pub depth: Option<Value>,
    /// Emitting the outlined body of a parallel loop (`parallel`), not a function.
    pub outlined: Option<super::parallel::Outlined>,
    /// What became of each candidate parallel loop, for the report (`parallel`).
    pub parallel_notes: Vec<String>,
    /// The loops that run in vector lanes, for the report (`simd`).
    pub vector_notes: Vec<String>,
    /// The address of the unit's counter of parallel runs (`CompiledUnit::parallel_runs`).
    pub par_runs: i64,
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    pub(super) fn new(
        mut b: FunctionBuilder<'a>,
        module: &'m mut JITModule,
        f: &'a Function,
        typed: &'a Typed,
        facts: &'a Facts,
        info: &'a FuncInfo,
        links: &'a RuntimeLinks<'a>,
        self_id: FuncId,
        ret_union: bool,
        outlined: bool,
    ) -> CResult<Self> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        // An outlined body's parameters: ctx, first, end, partials, env, caller's env.
        let env = if outlined { params[4] } else { *params.last().unwrap() };
        let recursive = !outlined && typed.calls.values().any(|c| matches!(c, crate::types::infer::CallTarget::SelfRecursive));
        let depth_param = if recursive { Some(params[params.len() - 2]) } else { None };
        let ret_ptr = if !outlined && ret_by_pointer(&typed.ret_type(), ret_union) { Some(params[params.len() - 2 - recursive as usize]) } else { None };
        let mut vars = Vec::new();
        let mut tags = Vec::new();
        for vi in &typed.vars {
            let reprs = vi.ty.as_ref().map(repr).unwrap_or_default();
            vars.push(reprs.into_iter().map(|t| b.declare_var(t)).collect::<Vec<_>>());
            tags.push(if vi.is_union() { Some(b.declare_var(types::I8)) } else { None });
        }
        let ret_vars: Vec<Variable> = repr(&typed.ret_type()).into_iter().map(|t| b.declare_var(t)).collect();
        let ret_tag = if ret_union { Some(b.declare_var(types::I8)) } else { None };
        // Bind parameters (an outlined body reads every variable from its ctx instead).
        let mut k = 0;
        for (p, t) in f.params.iter().zip(&typed.args).filter(|_| !outlined) {
            let n = repr(t).len();
            for j in 0..n {
                b.def_var(vars[*p][j], params[k + j]);
            }
            if let Some(tag) = tags[*p] {
                let member = typed.vars[*p].members.iter().position(|m| m == t).unwrap_or(0);
                let c = b.ins().iconst(types::I8, member as i64);
                b.def_var(tag, c);
            }
            k += n;
        }
        // Live globals are read once, at entry (see `runtime::guards`).
        let mut cells = HashMap::new();
        for g in typed.globals.values() {
            if let crate::types::infer::GlobalValue::Cell { ty, addr } = g {
                if cells.contains_key(addr) {
                    continue;
                }
                let a = b.ins().iconst(types::I64, *addr as i64);
                if let Type::Array(at) = ty {
                    // A global array: its data pointer, shape and strides (`guards::ArrayCell`).
                    let vals = (0..1 + 2 * at.ndim as i32).map(|j| b.ins().load(types::I64, MemFlagsData::trusted(), a, 8 * j)).collect();
                    cells.insert(*addr, vals);
                    continue;
                }
                let raw = b.ins().load(types::I64, MemFlagsData::trusted(), a, 0);
                let v = match repr(ty)[0] {
                    t if t == types::F64 => b.ins().bitcast(types::F64, MemFlagsData::new(), raw),
                    t if t == types::F32 => {
                        let low = b.ins().ireduce(types::I32, raw);
                        b.ins().bitcast(types::F32, MemFlagsData::new(), low)
                    }
                    t if t == types::I64 => raw,
                    t => b.ins().ireduce(t, raw),
                };
                cells.insert(*addr, vec![v]);
            }
        }
        let outlined_state = if outlined { Some(super::parallel::Outlined { parent_env: params[5], refused: None, may_fail: false }) } else { None };
        let exit_block = b.create_block();
        let err_block = b.create_block();
        b.append_block_param(err_block, types::I64);
        b.set_cold_block(err_block);
        Ok(FunctionCx {
            b,
            module,
            f,
            typed,
            facts,
            info,
            links,
            vars,
            tags,
            ret_vars,
            ret_tag,
            env,
            ret_ptr,
            exit_block,
            err_block,
            loops: Vec::new(),
            helpers: HashMap::new(),
            self_id,
            tramps: Vec::new(),
            fp_deferred: false,
            fp_pending: None,
            scope: Scope::default(),
            fp_replay: false,
            np_via_ufunc: false,
            prints: Vec::new(),
            ufunc_sites: Vec::new(),
            np_sites: Vec::new(),
            long_running: false,
            py_callbacks: false,
            owned_floor: None,
            writes_visible: false,
            pow_chains: HashMap::new(),
            cur_stmt: None,
            warn_base: None,
            stmt_reports: false,
            points: Vec::new(),
            point_ids: HashMap::new(),
            spill_vars: Vec::new(),
            spill_hidden: Vec::new(),
            stmt_calls: Vec::new(),
            groups: Vec::new(),
            cond_depth: 0,
            spill_ss: None,
            ret_ss: None,
            span_stack: Vec::new(),
            sites: Vec::new(),
            site_ids: HashMap::new(),
            cells,
            entry_params: params,
            entry_id: self_id,
            depth_param,
            depth: None,
            outlined: outlined_state,
            parallel_notes: Vec::new(),
            vector_notes: Vec::new(),
            par_runs: 0,
        })
    }

    /// At a loop back-edge (and the entry of a recursive function): when a signal came during
    /// the call, run the Python handlers (see `runtime::signals`). One load and test of the
    /// call's own `Env` on the hot path.
    pub fn poll_signals(&mut self, line: u32) {
        let i = types::I64;
        if let Some(parent) = self.outlined.as_ref().map(|o| o.parent_env) {
            // An outlined body: a signal stops it with status 3 (the serial loop then handles
            // it); not a failure of `Outlined::may_fail`.
            let pending = self.b.ins().load(i, MemFlagsData::trusted(), parent, abi::ENV_SIG_PENDING);
            let signal = self.b.ins().band_imm_u(pending, 1);
            let (cold, ok) = self.branch_cold(signal);
            self.switch_to(cold);
            let three = self.iconst(3);
            self.b.ins().jump(self.err_block, &[ir::BlockArg::Value(three)]);
            self.switch_to(ok);
            return;
        }
        let pending = self.b.ins().load(i, MemFlagsData::trusted(), self.env, abi::ENV_SIG_PENDING);
        let (cold, ok) = self.branch_cold(pending);
        self.switch_to(cold);
        let signal = self.b.ins().band_imm_u(pending, 1);
        let (sig_blk, after_sig) = self.branch_cold(signal);
        self.switch_to(sig_blk);
        self.call_tramp("heron_check_signals", &[]);
        self.fail_if_env_raised(line);
        self.b.ins().jump(after_sig, &[]);
        self.switch_to(after_sig);
        // Arrays made in the loop: let go of those no variable points into.
        let pending = self.b.ins().load(i, MemFlagsData::trusted(), self.env, abi::ENV_SIG_PENDING);
        let trim = self.b.ins().band_imm_u(pending, abi::PENDING_TRIM);
        let (trim_blk, done) = self.branch_cold(trim);
        self.switch_to(trim_blk);
        let mut ptrs = Vec::new();
        for v in 0..self.vars.len() {
            let Some(t) = self.typed.vars[v].ty.clone() else { continue };
            let reprs = crate::abi::repr(&t);
            let mut off = 0;
            array_offsets(&t, &mut off, &mut ptrs, v);
            let _ = reprs;
        }
        let n = ptrs.len().max(1);
        let ss = self.b.create_sized_stack_slot(cranelift_codegen::ir::StackSlotData::new(cranelift_codegen::ir::StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
        for (k, (v, off)) in ptrs.iter().enumerate() {
            if let Some(var) = self.vars[*v].get(*off).copied() {
                let p = self.b.use_var(var);
                self.b.ins().stack_store(i, p, ss, (8 * k) as i32);
            }
        }
        let p = self.b.ins().stack_addr(i, ss, 0);
        let count = self.iconst(ptrs.len() as i64);
        let env = self.env;
        let floor = self.owned_floor.expect("read at entry");
        self.call_tramp("heron_trim_owned", &[env, p, count, floor]);
        self.b.ins().jump(done, &[]);
        self.switch_to(done);
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
    }

    /// Emit the whole body, the normal exit and the error exit.
    pub(super) fn body(&mut self) -> CResult<()> {
        let floor = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.env, abi::ENV_OWNED_LEN);
        self.owned_floor = Some(floor);
        let recursive = self.is_recursive();
        if recursive {
            let params = self.entry_params.clone();
            self.recursion_prologue(&params);
        }
        let body = &self.f.body;
        self.block(body)?;
        if !self.is_terminated() {
            // Falling off the end returns None.
            self.emit_return(None, self.f.span.line)?;
        }
        // Normal exit: local arrays die with the call.
        self.switch_to(self.exit_block);
        for v in 0..self.facts.local_arrays.len() {
            if self.facts.local_arrays[v] {
                self.free_local_array(v)?;
            }
        }
        let mut vals = Vec::new();
        for v in self.ret_vars.clone() {
            vals.push(self.b.use_var(v));
        }
        if let Some(t) = self.ret_tag {
            vals.push(self.b.use_var(t));
        }
        let mut rets = vec![self.b.ins().iconst(types::I64, 0)];
        match self.ret_ptr {
            Some(p) => {
                for (i, v) in vals.into_iter().enumerate() {
                    let v = widen_to_slot(&mut self.b, v);
                    self.b.ins().store(MemFlagsData::trusted(), v, p, (8 * i) as i32);
                }
            }
            None => rets.extend(vals),
        }
        self.b.ins().return_(&rets);
        // Error exit: status in the block parameter, results zero.
        self.switch_to(self.err_block);
        let status = self.b.block_params(self.err_block)[0];
        let mut rets = vec![status];
        if self.ret_ptr.is_none() {
            for t in ret_reprs(&self.typed.ret_type(), self.ret_tag.is_some()) {
                rets.push(self.zero(t));
            }
        }
        self.b.ins().return_(&rets);
        Ok(())
    }

    pub fn zero(&mut self, t: ir::Type) -> Value {
        if t == types::F64 {
            self.b.ins().f64const(0.0)
        } else if t == types::F32 {
            self.b.ins().f32const(0.0)
        } else {
            self.b.ins().iconst(t, 0)
        }
    }

    pub fn iconst(&mut self, v: i64) -> Value {
        self.b.ins().iconst(types::I64, v)
    }

    /// Is the current block already terminated (after return/break/raise)?
    pub(super) fn is_terminated(&self) -> bool {
        match self.b.current_block() {
            None => true,
            Some(blk) => self.b.func.layout.last_inst(blk).map(|i| self.b.func.dfg.insts[i].opcode().is_terminator()).unwrap_or(false),
        }
    }

    /// Switch to `blk` and seal it. Every block except a loop header has all its
    /// predecessors when codegen switches to it; sealing then (rather than all at the end)
    /// lets Cranelift's SSA construction (Braun et al. 2013) avoid block parameters that
    /// would turn out redundant but stay as loop-carried values, and spills, otherwise.
    pub fn switch_to(&mut self, blk: ir::Block) {
        self.b.switch_to_block(blk);
        self.b.seal_block(blk);
    }

    /// After a terminator: continue emitting into a fresh, unreachable block.
    pub(super) fn start_dead_block(&mut self) {
        let blk = self.b.create_block();
        self.switch_to(blk);
    }

    /// Branch on `bad` to a new cold block, else to a new continuation block; returns
    /// (cold block, continuation block). Codegen switches to neither.
    pub fn branch_cold(&mut self, bad: Value) -> (ir::Block, ir::Block) {
        let cold = self.b.create_block();
        let ok = self.b.create_block();
        self.b.set_cold_block(cold);
        self.b.ins().brif(bad, cold, &[], ok, &[]);
        (cold, ok)
    }

    /// Record an error in `Env` and leave through the error exit, if `fail` is true.
    pub fn fail_if(&mut self, fail: Value, code: ErrCode, line: u32, details: &[Value]) {
        let (fail_blk, ok_blk) = self.branch_cold(fail);
        self.switch_to(fail_blk);
        self.raise(code, line, details);
        self.switch_to(ok_blk);
    }

    /// Record an error in `Env` and jump to the error exit (terminates the current block); a
    /// deoptimization code hands the call to the interpreter instead (see `deopt`).
    pub fn raise(&mut self, code: ErrCode, line: u32, details: &[Value]) {
        if self.outlined.is_some() {
            self.outlined_fail();
            return;
        }
        if deopt::is_deopt(code) {
            self.deopt_exit(code, line, None);
            return;
        }
        let flags = MemFlagsData::trusted();
        let c = self.iconst(code as i64);
        self.b.ins().store(flags, c, self.env, abi::ENV_ERR_CODE);
        for (i, d) in details.iter().enumerate().take(3) {
            self.b.ins().store(flags, *d, self.env, abi::ENV_ERR_A + 8 * i as i32);
        }
        self.leave_with_error(line);
    }

    /// Record where the error happened (line, function) in `Env` and jump to the error exit;
    /// the error code is already in `Env` (terminates the current block).
    pub fn leave_with_error(&mut self, line: u32) {
        if self.outlined.is_some() {
            self.outlined_fail();
            return;
        }
        let flags = MemFlagsData::trusted();
        let l = self.iconst(line as i64);
        self.b.ins().store(flags, l, self.env, abi::ENV_ERR_LINE);
        let site = self.site();
        let sv = self.iconst(site);
        self.b.ins().store(flags, sv, self.env, abi::ENV_ERR_SITE);
        let fi = self.iconst(self.info as *const FuncInfo as i64);
        self.b.ins().store(flags, fi, self.env, abi::ENV_ERR_FUNC);
        let one = self.iconst(1);
        self.b.ins().jump(self.err_block, &[BlockArg::Value(one)]);
    }

    /// Mark the call as having visible side effects (no re-run by the interpreter after this).
    pub fn mark_effect(&mut self) {
        let one = self.iconst(1);
        self.b.ins().store(MemFlagsData::trusted(), one, self.env, abi::ENV_EFFECTS);
    }

    /// Call a helper of `TRAMPOLINED` through its `preserve_all` trampoline (no result).
    pub fn call_tramp(&mut self, name: &str, args: &[Value]) {
        if self.outlined.is_some() {
            // Every trampolined helper is a cold path's report or handover: in an outlined
            // body, the end of the parallel run.
            self.outlined_fail();
            self.start_dead_block();
            return;
        }
        if name == "heron_np_fp" || name == "heron_np_warn" {
            self.stmt_reports = true;
        }
        let k = TRAMPOLINED.iter().position(|n| *n == name).expect("a trampolined helper");
        let f = self.module.declare_func_in_func(self.tramps[k], self.b.func);
        self.b.ins().call(f, args);
    }

    /// Import a runtime or libm function by symbol.
    pub fn helper(&mut self, name: &str, params: &[ir::Type], rets: &[ir::Type]) -> CResult<ir::FuncRef> {
        self.outlined_helper(name);
        if let Some(f) = self.helpers.get(name) {
            return Ok(*f);
        }
        let mut sig = self.module.make_signature();
        for p in params {
            sig.params.push(AbiParam::new(*p));
        }
        for r in rets {
            sig.returns.push(AbiParam::new(*r));
        }
        let id = self.module.declare_function(name, Linkage::Import, &sig).map_err(cg_err)?;
        let fref = self.module.declare_func_in_func(id, self.b.func);
        self.helpers.insert(name.to_string(), fref);
        Ok(fref)
    }

    pub fn call_helper(&mut self, name: &str, params: &[ir::Type], rets: &[ir::Type], args: &[Value]) -> CResult<Vec<Value>> {
        let f = self.helper(name, params, rets)?;
        let call = self.b.ins().call(f, args);
        Ok(self.b.inst_results(call).to_vec())
    }

    pub(super) fn var_type(&self, v: VarId) -> Type {
        self.typed.vars[v].ty.clone().expect("typed variable")
    }

    /// Store `val` (of static type `t`, from expression `src` if any) into variable `v`,
    /// converting to the variable's representation and setting its tag.
    pub fn assign_var(&mut self, v: VarId, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
        let dead = match self.cur_stmt {
            Some(s) => self.facts.dead_stores.contains(&(s.id, v)),
            None => !self.facts.live.iter().any(|l| l[v]),
        };
        if dead {
            // Never read after this store: see `keep_for_fp_flags`.
            self.keep_for_fp_flags(&val);
        }
        if self.facts.local_arrays[v] {
            // The variable's previous array dies here (0 when it had none).
            self.free_local_array(v)?;
        }
        let dst = Slot { vars: self.vars[v].clone(), tag: self.tags[v], members: self.typed.vars[v].members.clone(), ty: self.var_type(v) };
        self.store_slot(&dst, val, t, src, line)
    }

    /// Store into a variable or the return value: convert to its representation, and set its
    /// tag from the stored type, or, when copying another variable that changes type, from
    /// that variable's tag (remapped to this slot's member order).
    pub(super) fn store_slot(&mut self, dst: &Slot, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
        let src_union = match src {
            Some(Expr { kind: ExprKind::Var(s), .. }) => self.tags[*s].map(|tag| (*s, tag)),
            _ => None,
        };
        let from = match src_union {
            Some((s, _)) => self.var_type(s),
            None => t.clone(),
        };
        let conv = if from == Type::None && dst.ty != Type::None {
            // `return None` where other paths return a scalar: any bits, the tag says None.
            crate::abi::repr(&dst.ty).into_iter().map(|t| self.zero_of(t)).collect()
        } else {
            self.merge_convert(val, &from, &dst.ty, line)?
        };
        for (var, x) in dst.vars.iter().zip(conv) {
            self.b.def_var(*var, x);
        }
        let Some(dtag) = dst.tag else { return Ok(()) };
        let tag = match src_union {
            Some((s, stag)) => {
                let stagv = self.b.use_var(stag);
                let mut out = self.b.ins().iconst(types::I8, 0);
                for (i, m) in self.typed.vars[s].members.iter().enumerate() {
                    let di = dst.members.iter().position(|x| x == m).unwrap_or(0) as i64;
                    let is = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, stagv, i as i64);
                    let dv = self.b.ins().iconst(types::I8, di);
                    out = self.b.ins().select(is, dv, out);
                }
                out
            }
            None => {
                let i = dst.members.iter().position(|m| m == t).unwrap_or(0);
                self.b.ins().iconst(types::I8, i as i64)
            }
        };
        self.b.def_var(dtag, tag);
        Ok(())
    }

    /// A zero of machine type `t`.
    pub(super) fn zero_of(&mut self, t: ir::Type) -> Value {
        if t == types::F64 {
            self.b.ins().f64const(0.0)
        } else if t == types::F32 {
            self.b.ins().f32const(0.0)
        } else {
            self.b.ins().iconst(t, 0)
        }
    }

    /// Free the memory of the array local variable `v` holds (see `analysis::escape`).
    pub(super) fn free_local_array(&mut self, v: VarId) -> CResult<()> {
        let p = self.b.use_var(self.vars[v][0]);
        let env = self.env;
        self.call_helper("heron_buf_free", &[types::I64, types::I64], &[], &[env, p])?;
        Ok(())
    }

    pub fn load_var(&mut self, v: VarId) -> CVal {
        self.vars[v].clone().into_iter().map(|var| self.b.use_var(var)).collect()
    }
}

/// The positions, in the flattened representation of a value of type `t` starting at `*off`, of
/// the data pointers of the arrays it holds (pushed as `(v, position)`).
fn array_offsets(t: &Type, off: &mut usize, out: &mut Vec<(VarId, usize)>, v: VarId) {
    match t {
        Type::Array(_) => {
            out.push((v, *off));
            *off += crate::abi::repr(t).len();
        }
        Type::Tuple(ts) => {
            for t in ts {
                array_offsets(t, off, out, v);
            }
        }
        _ => *off += crate::abi::repr(t).len(),
    }
}

/// A comprehension's block while it is emitted (`codegen::stmt`).
pub struct CompGroup {
    /// Its first statement: what is live there is what a deoptimization in the block hands
    /// over (`deopt_point`).
    pub first: usize,
    /// The line of a call with side effects in it, and whether a deoptimization point was
    /// made in it: together they refuse the function.
    pub effects: Option<u32>,
    pub deopts: bool,
    /// The warning count state to put back after the block, and the count read at its start
    /// (its statements run again as one: they count their warnings from there).
    pub restore: (Option<(ir::Inst, Value)>, bool),
    pub base: Option<(ir::Inst, Value)>,
    /// Its last statement (the original one, `ir::Function::comp_ends`) is being emitted: a
    /// comprehension in that statement's body starts a block of its own.
    pub ending: bool,
}
