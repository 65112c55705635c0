//! Codegen: typed Heron IR to Cranelift IR, and Cranelift IR to machine code in a `JITModule`
//! owned by one compiled unit (one specialization), freed when the unit is dropped.
//!
//! Calling convention of a compiled specialization (`inner`): the flattened argument values
//! (scalars in one register each; an array as data pointer, shape[ndim], strides[ndim] in bytes),
//! then `*mut Env`; it returns `(status: i64, result)` when the result is one machine value, and
//! otherwise `status` alone, writing the flattened result (and the type tag) to 8-byte slots at
//! a pointer passed before `env`. Status 0 is success; nonzero means `Env` holds an error. An `entry` trampoline with a fixed C signature
//! `fn(args: *const u64, ret: *mut u64, env: *mut Env) -> i64` lets Rust call any `inner`.

pub mod array;
pub mod call;
pub mod deopt;
pub mod num;
pub mod recursion;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cranelift_codegen::ir::{self, types, AbiParam, BlockArg, InstBuilder, MemFlagsData, Signature, Value};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use once_cell::sync::OnceCell;

use crate::ir::{CResult, CompileError};
use crate::ir::*;
use crate::abi::{self, ErrCode, FuncInfo, PrintDesc};
use crate::analysis::loop_facts::{GuardIndex, LoopFacts, Scope};
use crate::analysis::Facts;
use crate::types::infer::Typed;
use crate::types::Type;

/// A flattened value: one Cranelift value per machine word of the Heron type.
pub type CVal = Vec<Value>;

pub use crate::abi::{repr, scalar_repr};

/// One compiled specialization: its machine code and everything that code points into.
pub struct CompiledUnit {
    module: Mutex<Option<JITModule>>,
    /// `fn(args, ret, env) -> status`.
    pub entry: usize,
    /// The `inner` ABI entry, for direct calls from other compiled functions.
    pub inner: usize,
    pub arg_types: Vec<Type>,
    /// The return value's member types (several when it changes type; the tag says which).
    pub ret_members: Vec<Type>,
    pub ret_type: Type,
    /// Number of 8-byte slots `entry` writes.
    pub ret_slots: usize,
    pub info: Box<FuncInfo>,
    /// This specialization's CLIF body, kept when small enough to inline into callers.
    pub clif: Option<ir::Function>,
    /// `print` descriptions native code points to.
    _prints: Vec<Box<PrintDesc>>,
    /// Callee units this code calls directly.
    _callees: Vec<Arc<CompiledUnit>>,
    /// Whether the code has loops or calls (worth releasing the GIL for).
    pub long_running: bool,
    /// It calls itself (needs the stack limit and the recursion depth, see `recursion`).
    pub recursive: bool,
    /// No visible side effects (a caller may speculate on its result and re-run).
    pub pure: bool,
    /// Writes memory the caller can see (argument arrays), itself or in a callee: then the
    /// dispatcher keeps the GIL while it runs (DESIGN.md "Concurrency"), unless `nogil`.
    pub writes_visible: bool,
    /// NumPy floating-point reports are deferred to the dispatcher (see `num::np_fp_check`),
    /// here or in a callee.
    pub fp_deferred: bool,
}

// The raw pointers in FuncInfo/PrintDesc are only read; JITModule sits behind a Mutex.
unsafe impl Send for CompiledUnit {}
unsafe impl Sync for CompiledUnit {}

impl Drop for CompiledUnit {
    fn drop(&mut self) {
        if let Ok(mut m) = self.module.lock() {
            if let Some(m) = m.take() {
                // Safety: no pointer into this module survives the unit (callers hold an Arc).
                unsafe { m.free_memory() };
            }
        }
    }
}

fn isa() -> CResult<OwnedTargetIsa> {
    static ISA: OnceCell<OwnedTargetIsa> = OnceCell::new();
    ISA.get_or_try_init(|| {
        let mut fb = settings::builder();
        let set = |fb: &mut settings::Builder, k: &str, v: &str| fb.set(k, v).map_err(|e| CompileError::new(format!("cranelift flag {k}: {e}"), 0));
        set(&mut fb, "opt_level", "speed")?;
        set(&mut fb, "use_colocated_libcalls", "false")?;
        set(&mut fb, "is_pic", "false")?;
        let builder = cranelift_native::builder().map_err(|e| CompileError::new(format!("unsupported host: {e}"), 0))?;
        builder
            .finish(settings::Flags::new(fb))
            .map_err(|e| CompileError::new(format!("cranelift ISA: {e}"), 0))
    })
    .cloned()
}

/// The signature of each runtime helper (see `runtime::symbols`).
fn helper_signature(name: &str) -> (Vec<ir::Type>, Vec<ir::Type>) {
    let (f, i, f32t) = (types::F64, types::I64, types::F32);
    match name {
        "copysign" | "fmod" | "pow" | "heron_m_atan2" | "heron_float_floordiv" | "heron_float_mod" | "heron_np_power_f64" => {
            (vec![f, f], vec![f])
        }
        "powf" | "fmodf" => (vec![f32t, f32t], vec![f32t]),
        "heron_float_pow" => (vec![f, f, i], vec![f]),
        "heron_cmp_int_float" => (vec![i, f], vec![i]),
        "heron_print" => (vec![i, i, i, i], vec![i]),
        "heron_round_ndigits" => (vec![f, i, i], vec![f]),
        "heron_alloc" | "heron_buf_alloc" => (vec![i, i, i, i, i, i], vec![i]),
        "heron_buf_free" => (vec![i, i], vec![]),
        "heron_np_fp" => (vec![i, i, i, i, f, f, f], vec![i]),
        "heron_deopt" => (vec![i, i, i, i, i], vec![i]),
        "heron_push_frame" => (vec![i, i, i], vec![]),
        "heron_np_warn" => (vec![i, i, i, i], vec![i]),
        "heron_np_defer" => (vec![], vec![]),
        "heron_check_signals" => (vec![], vec![]),
        "heron_grow" => (vec![i, i, i, i], vec![i]),
        "heron_recursion" => (vec![i, i], vec![i]),
        _ => (vec![f], vec![f]),
    }
}

/// What codegen needs of the runtime, handed in by the dispatcher as data (codegen does not
/// import the runtime): the helpers native code calls, and a hook that makes one ready.
pub struct RuntimeLinks<'r> {
    /// `(symbol, address)` of every runtime and libm helper native code may call
    /// (`runtime::symbols`), always in the same order.
    pub symbols: &'r [(&'static str, *const u8)],
    /// Called before code that calls helper `name` is emitted, for helpers that need
    /// something looked up first (NumPy's power loop); an error is why the code cannot be made.
    pub prepare: &'r dyn Fn(&str) -> Result<(), String>,
}

/// Declare every runtime helper first, in one fixed order, so that each helper has the same
/// `FuncId` in every module: an inlined callee body refers to its helpers by that id.
fn declare_helpers(module: &mut JITModule, syms: &[(&'static str, *const u8)]) -> CResult<u32> {
    for (name, _) in syms {
        let (params, rets) = helper_signature(name);
        let mut sig = module.make_signature();
        sig.params.extend(params.into_iter().map(AbiParam::new));
        sig.returns.extend(rets.into_iter().map(AbiParam::new));
        module.declare_function(name, Linkage::Import, &sig).map_err(cg_err)?;
    }
    Ok(syms.len() as u32)
}

/// Runtime helpers called from cold paths inside loops through a `preserve_all` trampoline:
/// a call to one clobbers no register, so that the rare call in a hot loop costs the loop
/// nothing (a plain call would make every value live across the loop be saved around it, and
/// every float, for which the C calling convention keeps no register, be spilled). Their
/// results come back through `Env` (`err_code`, `deopt_status`), so the trampolines return
/// nothing. They are declared right after the helpers, in this order, so that their ids are
/// the same in every module and inlined bodies may call them.
pub const TRAMPOLINED: [&str; 4] = ["heron_np_fp", "heron_check_signals", "heron_deopt", "heron_np_warn"];

/// Define `<helper>_tramp` for each of `TRAMPOLINED`.
fn define_trampolines(module: &mut JITModule) -> CResult<Vec<FuncId>> {
    let mut ids = Vec::new();
    for name in TRAMPOLINED {
        let (params, rets) = helper_signature(name);
        let mut sig = module.make_signature();
        sig.call_conv = cranelift_codegen::isa::CallConv::PreserveAll;
        sig.params.extend(params.iter().copied().map(AbiParam::new));
        let id = module.declare_function(&format!("{name}_tramp"), Linkage::Local, &sig).map_err(cg_err)?;
        let mut ctx = module.make_context();
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            let args = b.block_params(blk).to_vec();
            let mut hsig = module.make_signature();
            hsig.params.extend(params.iter().copied().map(AbiParam::new));
            hsig.returns.extend(rets.iter().copied().map(AbiParam::new));
            let hid = module.declare_function(name, Linkage::Import, &hsig).map_err(cg_err)?;
            let href = module.declare_func_in_func(hid, b.func);
            b.ins().call(href, &args);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        module.define_function(id, &mut ctx).map_err(|e| cg_err(format!("{e:?}")))?;
        ids.push(id);
    }
    Ok(ids)
}

/// The symbol a compiled callee is imported by.
pub fn callee_symbol(ptr: usize) -> String {
    format!("heron_callee_{ptr:x}")
}

/// Largest callee body (in CLIF instructions) inlined into its callers.
const INLINE_MAX_INSTS: usize = 400;

/// Inlines direct calls to small compiled callees (Cranelift's inliner does the work; this
/// decides which calls).
struct Inliner<'u> {
    /// Callee import `FuncId` index -> that callee's body.
    bodies: HashMap<u32, &'u ir::Function>,
}

impl cranelift_codegen::inline::Inline for Inliner<'_> {
    fn inline(
        &mut self,
        caller: &ir::Function,
        _inst: ir::Inst,
        _opcode: ir::Opcode,
        callee: ir::FuncRef,
        _args: &[Value],
    ) -> cranelift_codegen::inline::InlineCommand<'_> {
        use cranelift_codegen::inline::InlineCommand;
        if let ir::ExternalName::User(r) = caller.dfg.ext_funcs[callee].name {
            let name = &caller.params.user_named_funcs()[r];
            if let Some(body) = self.bodies.get(&name.index) {
                return InlineCommand::Inline { callee: std::borrow::Cow::Borrowed(*body), visit_callee: false };
            }
        }
        InlineCommand::KeepCall
    }
}

/// A body worth keeping for inlining: small, and calling nothing but runtime helpers (whose ids
/// are below `n_helpers` in every module).
fn inlinable(func: &ir::Function, n_helpers: u32) -> bool {
    if func.dfg.num_insts() > INLINE_MAX_INSTS {
        return false;
    }
    func.dfg.ext_funcs.values().all(|ext| match ext.name {
        ir::ExternalName::User(r) => func.params.user_named_funcs()[r].index < n_helpers,
        _ => false,
    })
}

/// A copy of `func` fit to be inlined: without unreachable blocks (the inliner walks blocks in
/// dominance order and must see every definition before its uses).
fn inline_body(func: &ir::Function, isa: &dyn cranelift_codegen::isa::TargetIsa) -> Option<ir::Function> {
    let mut c = cranelift_codegen::Context::for_function(func.clone());
    c.compute_cfg();
    c.compute_domtree();
    c.eliminate_unreachable_code(isa).ok()?;
    // The inliner maps values one by one and does not follow aliases (which the frontend's
    // SSA construction leaves behind for loop variables).
    c.func.dfg.resolve_all_aliases();
    Some(c.func)
}

fn cg_err(e: impl std::fmt::Display) -> CompileError {
    CompileError::new(format!("code generation failed: {e}"), 0)
}

/// The flattened result of a specialization: its machine values, plus the tag when the return
/// value changes type.
pub fn ret_reprs(ret: &Type, ret_union: bool) -> Vec<ir::Type> {
    let mut r = repr(ret);
    if ret_union {
        r.push(types::I8);
    }
    r
}

/// Does the result go through an out-pointer (more than one machine value)?
pub fn ret_by_pointer(ret: &Type, ret_union: bool) -> bool {
    ret_reprs(ret, ret_union).len() > 1
}

/// The signature of a specialization's `inner` function.
/// `recursive`: the function calls itself, and takes its recursion depth (an i64, before `env`;
/// see `recursion`).
pub fn inner_signature(module: &JITModule, args: &[Type], ret: &Type, ret_union: bool, recursive: bool) -> Signature {
    let mut sig = module.make_signature();
    for a in args {
        for t in repr(a) {
            sig.params.push(AbiParam::new(t));
        }
    }
    let by_ptr = ret_by_pointer(ret, ret_union);
    if by_ptr {
        sig.params.push(AbiParam::new(types::I64)); // result slots
    }
    if recursive {
        sig.params.push(AbiParam::new(types::I64)); // depth
    }
    sig.params.push(AbiParam::new(types::I64)); // env
    sig.returns.push(AbiParam::new(types::I64)); // status
    if !by_ptr {
        for t in ret_reprs(ret, ret_union) {
            sig.returns.push(AbiParam::new(t));
        }
    }
    sig
}

/// Compile one typed specialization of `f` to machine code.
///
/// `callees` are the units of other compiled functions that `typed.calls` points to (kept alive
/// by the new unit); `links` what the code calls in the runtime. Errors: a `CompileError` for
/// constructs codegen does not support.
pub fn compile(f: &Function, typed: &Typed, facts: &Facts, info: FuncInfo, callees: Vec<Arc<CompiledUnit>>, links: &RuntimeLinks<'_>) -> CResult<CompiledUnit> {
    let mut jb = JITBuilder::with_isa(isa()?, default_libcall_names());
    for &(name, ptr) in links.symbols {
        jb.symbol(name, ptr);
    }
    for c in &callees {
        jb.symbol(callee_symbol(c.inner), c.inner as *const u8);
    }
    let mut module = JITModule::new(jb);
    let n_helpers = declare_helpers(&mut module, links.symbols)?;
    let tramps = define_trampolines(&mut module)?;
    // Ids below this are the same in every module (helpers, then the trampoline).
    let n_fixed = n_helpers + tramps.len() as u32;
    let ret_type = typed.ret_type();
    let ret_union = typed.ret.is_union();
    let recursive = typed.calls.values().any(|c| matches!(c, crate::types::infer::CallTarget::SelfRecursive));
    let inner_sig = inner_signature(&module, &typed.args, &ret_type, ret_union, recursive);
    let inner_id = module.declare_function("inner", Linkage::Local, &inner_sig).map_err(cg_err)?;
    let mut entry_sig = module.make_signature();
    for _ in 0..3 {
        entry_sig.params.push(AbiParam::new(types::I64));
    }
    entry_sig.returns.push(AbiParam::new(types::I64));
    let entry_id = module.declare_function("entry", Linkage::Local, &entry_sig).map_err(cg_err)?;

    let mut info = Box::new(info);
    info.ret_type = typed.ret_type();
    info.ret_members = typed.ret.members.clone();
    info.pure = facts.pure;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    ctx.func.signature = inner_sig.clone();
    let prints;
    let writes_visible;
    let points;
    let sites;
    let long_running;
    let fp_deferred;
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mut cx = FunctionCx::new(b, &mut module, f, typed, facts, &info, links, inner_id, ret_union)?;
        cx.tramps = tramps;
        cx.entry_id = entry_id;
        cx.body()?;
        prints = std::mem::take(&mut cx.prints);
        points = std::mem::take(&mut cx.points);
        sites = std::mem::take(&mut cx.sites);
        long_running = cx.long_running;
        writes_visible = cx.writes_visible;
        fp_deferred = cx.fp_deferred || callees.iter().any(|c| c.fp_deferred);
        cx.b.seal_all_blocks();
        let target = cx.module.target_config();
        cx.b.finalize(target);
    }
    info.points = points;
    info.sites = sites;
    info.fp_deferred = fp_deferred;
    // Inline small callees, then keep this body for inlining into callers when it qualifies.
    let mut bodies = HashMap::new();
    for c in &callees {
        if let Some(body) = &c.clif {
            let (params, rets) = (body.signature.params.clone(), body.signature.returns.clone());
            let mut sig = module.make_signature();
            sig.params = params;
            sig.returns = rets;
            if let Ok(id) = module.declare_function(&callee_symbol(c.inner), Linkage::Import, &sig) {
                bodies.insert(id.as_u32(), body);
            }
        }
    }
    if !bodies.is_empty() {
        ctx.inline(Inliner { bodies }).map_err(|e| cg_err(format!("inlining: {e:?}")))?;
    }
    // Only loop-free bodies: Cranelift 0.135's inliner rejects (panics on) some loops that the
    // frontend builds, and small loop-free helpers are where inlining pays.
    let clif = if !long_running && inlinable(&ctx.func, n_fixed) { inline_body(&ctx.func, &*isa()?) } else { None };
    if std::env::var_os("HERON_DUMP_IR").is_some() {
        eprintln!("{}", ctx.func.display());
    }
    let dump_asm = std::env::var_os("HERON_DUMP_ASM").is_some();
    ctx.set_disasm(dump_asm);
    module.define_function(inner_id, &mut ctx).map_err(|e| cg_err(format!("{e:?}")))?;
    if dump_asm {
        if let Some(asm) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            eprintln!("{asm}");
        }
    }
    module.clear_context(&mut ctx);

    // The entry trampoline: unpack 8-byte slots, call inner, pack the results.
    ctx.func.signature = entry_sig;
    let ret_reprs = ret_reprs(&ret_type, ret_union);
    let by_ptr = ret_by_pointer(&ret_type, ret_union);
    if ret_reprs.len() > abi::MAX_RET_SLOTS {
        return Err(CompileError::new(format!("returning a {ret_type} (more than {} values) is not supported", abi::MAX_RET_SLOTS), f.span.line));
    }
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let blk = b.create_block();
        b.append_block_params_for_function_params(blk);
        b.switch_to_block(blk);
        let p = b.block_params(blk).to_vec();
        let (args_ptr, ret_ptr, env) = (p[0], p[1], p[2]);
        let mut args = Vec::new();
        let mut k = 0;
        for a in &typed.args {
            for t in repr(a) {
                args.push(b.ins().load(t, MemFlagsData::trusted(), args_ptr, (8 * k) as i32));
                k += 1;
            }
        }
        if by_ptr {
            args.push(ret_ptr);
        }
        if recursive {
            args.push(b.ins().load(types::I64, MemFlagsData::trusted(), env, abi::ENV_DEPTH));
        }
        args.push(env);
        let fref = module.declare_func_in_func(inner_id, b.func);
        let call = b.ins().call(fref, &args);
        let results = b.inst_results(call).to_vec();
        for (i, v) in results[1..].iter().enumerate() {
            let v = widen_to_slot(&mut b, *v);
            b.ins().store(MemFlagsData::trusted(), v, ret_ptr, (8 * i) as i32);
        }
        b.ins().return_(&[results[0]]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    module.define_function(entry_id, &mut ctx).map_err(|e| cg_err(format!("{e:?}")))?;
    module.clear_context(&mut ctx);
    module.finalize_definitions().map_err(cg_err)?;
    let entry = module.get_finalized_function(entry_id) as usize;
    let inner = module.get_finalized_function(inner_id) as usize;
    Ok(CompiledUnit {
        module: Mutex::new(Some(module)),
        entry,
        inner,
        arg_types: typed.args.clone(),
        ret_members: typed.ret.members.clone(),
        ret_type,
        ret_slots: ret_reprs.len(),
        info,
        clif,
        _prints: prints,
        _callees: callees,
        long_running,
        recursive,
        pure: facts.pure,
        writes_visible,
        fp_deferred,
    })
}

/// A scalar register value widened to a raw 8-byte slot (floats by their bits, small ints
/// zero-extended), the layout the dispatcher and the print callback read.
pub fn widen_to_slot(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let t = b.func.dfg.value_type(v);
    let flags = MemFlagsData::new();
    if t == types::F64 {
        b.ins().bitcast(types::I64, flags, v)
    } else if t == types::F32 {
        let i = b.ins().bitcast(types::I32, flags, v);
        b.ins().uextend(types::I64, i)
    } else if t == types::I64 {
        v
    } else {
        b.ins().uextend(types::I64, v)
    }
}

pub struct LoopCx {
    pub continue_block: ir::Block,
    pub break_block: ir::Block,
    /// The loop's hidden state, for a deoptimization in its body (None for `while`).
    pub hidden: Option<deopt::LoopHidden>,
}

/// Where a value is stored: a variable's (or the return value's) machine variables, its tag,
/// its member types and its representation type.
struct Slot {
    vars: Vec<Variable>,
    tag: Option<Variable>,
    members: Vec<Type>,
    ty: Type,
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
    /// operations wait for the one check at its end (see `num::fp_batched`).
    pub fp_pending: Option<usize>,
    /// The loop facts in force where code is being emitted (`analysis::loop_facts`).
    pub scope: Scope,
    /// Codegen is evaluating an expression again on the cold path of a batched check.
    pub fp_replay: bool,
    pub prints: Vec<Box<PrintDesc>>,
    pub long_running: bool,
    /// A store into an array the caller can see was emitted (or a callee makes one).
    pub writes_visible: bool,
    /// Power chains `x**k` (as `p + L`, see `num::pow_const`) already computed for a variable in
    /// the current statement, reused by later powers of the same variable. Cleared at every
    /// statement and around expressions that branch, so each value dominates its uses.
    /// Each entry: (x within 2**-100 < |x| < 2**100, the chain).
    pub pow_chains: HashMap<VarId, (Value, Vec<(Value, Value)>)>,
    /// The statement being emitted (deoptimization continues from it).
    pub cur_stmt: Option<&'a Stmt>,
    /// Deoptimization points made so far, and their index by (statement, calls made, boxed call).
    pub points: Vec<crate::abi::DeoptPoint>,
    pub point_ids: HashMap<(usize, usize, Option<Span>), usize>,
    /// The spill order of the point being emitted: variables, then hidden loop values.
    pub spill_vars: Vec<VarId>,
    pub spill_hidden: Vec<Value>,
    /// Calls with side effects made so far in the current statement (see `deopt::MadeCall`),
    /// whether one of them was made under a condition, and how deep in conditional parts of
    /// an expression codegen is.
    pub stmt_calls: Vec<deopt::MadeCall>,
    pub calls_uncertain: bool,
    pub cond_depth: usize,
    pub spill_ss: Option<ir::StackSlot>,
    pub ret_ss: Option<ir::StackSlot>,
    /// Source ranges of the expressions being emitted, innermost last (error sites).
    pub span_stack: Vec<Span>,
    /// Error sites by number (`FuncInfo::sites`).
    pub sites: Vec<Span>,
    pub site_ids: HashMap<Span, usize>,
    /// The values of live globals, read at entry, by cell address.
    pub cells: HashMap<usize, Value>,
    /// The entry block's parameters, and the `entry` trampoline (see `recursion`).
    pub entry_params: Vec<Value>,
    pub entry_id: FuncId,
    /// A recursive function's depth parameter, and its own depth (passed to its calls).
    pub depth_param: Option<Value>,
    pub depth: Option<Value>,
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    fn new(
        mut b: FunctionBuilder<'a>,
        module: &'m mut JITModule,
        f: &'a Function,
        typed: &'a Typed,
        facts: &'a Facts,
        info: &'a FuncInfo,
        links: &'a RuntimeLinks<'a>,
        self_id: FuncId,
        ret_union: bool,
    ) -> CResult<Self> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let env = *params.last().unwrap();
        let recursive = typed.calls.values().any(|c| matches!(c, crate::types::infer::CallTarget::SelfRecursive));
        let depth_param = if recursive { Some(params[params.len() - 2]) } else { None };
        let ret_ptr = if ret_by_pointer(&typed.ret_type(), ret_union) { Some(params[params.len() - 2 - recursive as usize]) } else { None };
        let mut vars = Vec::new();
        let mut tags = Vec::new();
        for vi in &typed.vars {
            let reprs = vi.ty.as_ref().map(repr).unwrap_or_default();
            vars.push(reprs.into_iter().map(|t| b.declare_var(t)).collect::<Vec<_>>());
            tags.push(if vi.is_union() { Some(b.declare_var(types::I8)) } else { None });
        }
        let ret_vars: Vec<Variable> = repr(&typed.ret_type()).into_iter().map(|t| b.declare_var(t)).collect();
        let ret_tag = if ret_union { Some(b.declare_var(types::I8)) } else { None };
        // Bind parameters.
        let mut k = 0;
        for (p, t) in f.params.iter().zip(&typed.args) {
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
                let raw = b.ins().load(types::I64, MemFlagsData::trusted(), a, 0);
                let v = match repr(ty)[0] {
                    t if t == types::F64 => b.ins().bitcast(types::F64, MemFlagsData::new(), raw),
                    t if t == types::I64 => raw,
                    t => b.ins().ireduce(t, raw),
                };
                cells.insert(*addr, v);
            }
        }
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
            prints: Vec::new(),
            long_running: false,
            writes_visible: false,
            pow_chains: HashMap::new(),
            cur_stmt: None,
            points: Vec::new(),
            point_ids: HashMap::new(),
            spill_vars: Vec::new(),
            spill_hidden: Vec::new(),
            stmt_calls: Vec::new(),
            calls_uncertain: false,
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
        })
    }

    /// At a loop back-edge (and the entry of a recursive function): when a signal came during
    /// the call, run the Python handlers (see `runtime::signals`). One load and test of the
    /// call's own `Env` on the hot path.
    pub fn poll_signals(&mut self, line: u32) {
        let i = types::I64;
        let pending = self.b.ins().load(i, MemFlagsData::trusted(), self.env, abi::ENV_SIG_PENDING);
        let (cold, ok) = self.branch_cold(pending);
        self.switch_to(cold);
        self.call_tramp("heron_check_signals", &[]);
        self.fail_if_env_error(line);
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
    }

    /// Emit the whole body, the normal exit and the error exit.
    fn body(&mut self) -> CResult<()> {
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
    fn is_terminated(&self) -> bool {
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
    fn start_dead_block(&mut self) {
        let blk = self.b.create_block();
        self.switch_to(blk);
    }

    pub fn block(&mut self, body: &'a [Stmt]) -> CResult<()> {
        let facts = self.scope.lower_bounds.len();
        for s in body {
            self.stmt(s)?;
            if self.is_terminated() {
                self.start_dead_block();
            }
            // After `if v < c: return`, the rest of the block has `v >= c` (see `loop_facts`).
            if let Some(f) = self.facts.loops.lower_bound_after[s.id] {
                self.scope.lower_bounds.push(f);
            }
        }
        self.scope.lower_bounds.truncate(facts);
        Ok(())
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
        let k = TRAMPOLINED.iter().position(|n| *n == name).expect("a trampolined helper");
        let f = self.module.declare_func_in_func(self.tramps[k], self.b.func);
        self.b.ins().call(f, args);
    }

    /// Import a runtime or libm function by symbol.
    pub fn helper(&mut self, name: &str, params: &[ir::Type], rets: &[ir::Type]) -> CResult<ir::FuncRef> {
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

    fn var_type(&self, v: VarId) -> Type {
        self.typed.vars[v].ty.clone().expect("typed variable")
    }

    /// Store `val` (of static type `t`, from expression `src` if any) into variable `v`,
    /// converting to the variable's representation and setting its tag.
    pub fn assign_var(&mut self, v: VarId, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
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
    fn store_slot(&mut self, dst: &Slot, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
        let src_union = match src {
            Some(Expr { kind: ExprKind::Var(s), .. }) => self.tags[*s].map(|tag| (*s, tag)),
            _ => None,
        };
        let from = match src_union {
            Some((s, _)) => self.var_type(s),
            None => t.clone(),
        };
        let conv = self.merge_convert(val, &from, &dst.ty, line)?;
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

    /// Free the memory of the array local variable `v` holds (see `analysis::escape`).
    fn free_local_array(&mut self, v: VarId) -> CResult<()> {
        let p = self.b.use_var(self.vars[v][0]);
        let env = self.env;
        self.call_helper("heron_buf_free", &[types::I64, types::I64], &[], &[env, p])?;
        Ok(())
    }

    pub fn load_var(&mut self, v: VarId) -> CVal {
        self.vars[v].clone().into_iter().map(|var| self.b.use_var(var)).collect()
    }

    fn emit_return(&mut self, e: Option<&Expr>, line: u32) -> CResult<()> {
        let (val, t) = match e {
            Some(e) => (self.expr(e)?, self.typed.ty(e).clone()),
            None => (vec![], Type::None),
        };
        let dst = Slot { vars: self.ret_vars.clone(), tag: self.ret_tag, members: self.typed.ret.members.clone(), ty: self.typed.ret_type() };
        self.store_slot(&dst, val, &t, e, line)?;
        self.b.ins().jump(self.exit_block, &[]);
        Ok(())
    }

    fn assign_target(&mut self, target: &Target, val: CVal, t: &Type, src: Option<&Expr>, line: u32) -> CResult<()> {
        match target {
            Target::Var(v) => self.assign_var(*v, val, t, src, line),
            Target::Index { base, index, span } => {
                // A store that fails is shown at its subscript, as the interpreter shows it.
                self.span_stack.push(*span);
                let r = self.store_index(base, index, val, t, line);
                self.span_stack.pop();
                r
            }
            Target::Tuple(ts) => {
                let Type::Tuple(elems) = t else { unreachable!("inference checked tuple unpacking") };
                let mut off = 0;
                for (tt, et) in ts.iter().zip(elems) {
                    let n = repr(et).len();
                    self.assign_target(tt, val[off..off + n].to_vec(), et, None, line)?;
                    off += n;
                }
                Ok(())
            }
        }
    }

    fn stmt(&mut self, s: &'a Stmt) -> CResult<()> {
        let saved = (self.cur_stmt.replace(s), std::mem::take(&mut self.stmt_calls), std::mem::replace(&mut self.calls_uncertain, false));
        let r = self.stmt_inner(s);
        (self.cur_stmt, self.stmt_calls, self.calls_uncertain) = saved;
        r
    }

    fn stmt_inner(&mut self, s: &'a Stmt) -> CResult<()> {
        let line = s.span.line;
        self.pow_chains.clear();
        match &s.kind {
            StmtKind::Assign { targets, value } => {
                let t = self.typed.ty(value).clone();
                let val = self.expr(value)?;
                for target in targets {
                    self.assign_target(target, val.clone(), &t, Some(value), line)?;
                }
            }
            StmtKind::AugAssign { target, op, value } => {
                let vt = self.typed.ty(value).clone();
                match target {
                    Target::Var(v) => {
                        let cur_t = self.var_type(*v);
                        let members = self.typed.vars[*v].members.clone();
                        // The result type is the same for every member (inference checked).
                        let rt = crate::types::infer::binop_type(*op, &members[0], &vt, line)?;
                        // `x += <expression>` on NumPy floats: one check for the statement.
                        let batch = self.fp_pending.is_none()
                            && !self.fp_replay
                            && matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul)
                            && matches!(rt, Type::Np(d) if d.is_float())
                            && self.fp_tree(value)
                            && self.fp_checks_inline();
                        let (v, op) = (*v, *op);
                        let eval = |cx: &mut Self| -> CResult<CVal> {
                            let cur = cx.load_var(v);
                            let rhs = cx.expr(value)?;
                            cx.binop(op, cur, &cur_t, rhs, &vt, &rt, line)
                        };
                        let r = if batch { self.fp_batched(&eval)? } else { eval(self)? };
                        self.assign_var(v, r, &rt, None, line)?;
                    }
                    Target::Index { base, index, .. } => {
                        let Type::Array(at) = self.typed.ty(base).clone() else { unreachable!() };
                        let (ptr, et) = self.element_address(base, index, at, line)?;
                        let cur = self.load_element(ptr, at.dtype);
                        let rhs = self.expr(value)?;
                        let rt = crate::types::infer::binop_type(*op, &et, &vt, line)?;
                        let r = self.binop(*op, cur, &et, rhs, &vt, &rt, line)?;
                        let local = self.is_local_array(base);
                        self.store_element(ptr, at.dtype, r, &rt, line, local)?;
                    }
                    Target::Tuple(_) => unreachable!(),
                }
            }
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::If { cond, then, orelse } => {
                let c = self.truth(cond)?;
                let then_blk = self.b.create_block();
                let else_blk = self.b.create_block();
                let join = self.b.create_block();
                self.b.ins().brif(c, then_blk, &[], else_blk, &[]);
                self.switch_to(then_blk);
                self.block(then)?;
                if !self.is_terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.switch_to(else_blk);
                self.block(orelse)?;
                if !self.is_terminated() {
                    self.b.ins().jump(join, &[]);
                }
                self.switch_to(join);
            }
            StmtKind::While { cond, body, orelse } => {
                self.long_running = true;
                let header = self.b.create_block();
                let body_blk = self.b.create_block();
                let latch = self.b.create_block();
                let else_blk = self.b.create_block();
                let exit = self.b.create_block();
                self.b.ins().jump(header, &[]);
                // A loop header gets its last predecessor (the back edge) later: sealed then.
                self.b.switch_to_block(header);
                let c = self.truth(cond)?;
                self.b.ins().brif(c, body_blk, &[], else_blk, &[]);
                self.switch_to(body_blk);
                self.loops.push(LoopCx { continue_block: latch, break_block: exit, hidden: None });
                self.scope.loops.push(LoopFacts::default());
                self.block(body)?;
                self.scope.loops.pop();
                self.loops.pop();
                if !self.is_terminated() {
                    self.b.ins().jump(latch, &[]);
                }
                // The back edge: signals are looked at here.
                self.switch_to(latch);
                self.poll_signals(line);
                self.b.ins().jump(header, &[]);
                self.b.seal_block(header);
                self.switch_to(else_blk);
                self.block(orelse)?;
                if !self.is_terminated() {
                    self.b.ins().jump(exit, &[]);
                }
                self.switch_to(exit);
            }
            StmtKind::ForRange { var, start, stop, step, body, orelse, origin } => {
                self.for_range(s.id, *var, start.as_ref(), stop, step.as_ref(), body, orelse, *origin, line)?;
            }
            StmtKind::Break => {
                let blk = self.loops.last().expect("break outside loop").break_block;
                self.b.ins().jump(blk, &[]);
            }
            StmtKind::Continue => {
                let blk = self.loops.last().expect("continue outside loop").continue_block;
                self.b.ins().jump(blk, &[]);
            }
            StmtKind::Return(e) => self.emit_return(e.as_ref(), line)?,
            StmtKind::Pass => {}
            StmtKind::Raise { exc, msg } => {
                let idx = self.info.raises.iter().position(|(n, m)| n == exc && m == msg).unwrap_or(0) as i64;
                let i = self.iconst(idx);
                self.raise(ErrCode::UserRaise, line, &[i]);
            }
            StmtKind::Assert { test, msg } => {
                let c = self.truth(test)?;
                let idx = self
                    .info
                    .raises
                    .iter()
                    .position(|(n, m)| n == "AssertionError" && m == msg)
                    .unwrap_or(0) as i64;
                let failed = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, c, 0);
                let i = self.iconst(idx);
                self.fail_if(failed, ErrCode::UserRaise, line, &[i]);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn for_range(
        &mut self,
        id: usize,
        var: VarId,
        start: Option<&Expr>,
        stop: &Expr,
        step: Option<&Expr>,
        body: &'a [Stmt],
        orelse: &'a [Stmt],
        origin: LoopOrigin,
        line: u32,
    ) -> CResult<()> {
        use ir::condcodes::IntCC;
        self.long_running = true;
        let start_v = match start {
            Some(e) => {
                let v = self.expr(e)?;
                let t = self.typed.ty(e).clone();
                self.to_i64(v, &t)
            }
            None => self.iconst(0),
        };
        let stop_v = {
            let v = self.expr(stop)?;
            let t = self.typed.ty(stop).clone();
            self.to_i64(v, &t)
        };
        let const_step = match step {
            None => Some(1),
            Some(Expr { kind: ExprKind::Const(Const::Int(k)), .. }) => Some(*k),
            Some(Expr { kind: ExprKind::Unary(UnaryOp::Neg, inner), .. }) => match inner.kind {
                ExprKind::Const(Const::Int(k)) => Some(-k),
                _ => None,
            },
            _ => None,
        };
        let step_v = match step {
            Some(e) if const_step.is_none() => {
                let v = self.expr(e)?;
                let t = self.typed.ty(e).clone();
                let s = self.to_i64(v, &t);
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
                self.fail_if(zero, ErrCode::RangeStepZero, line, &[]);
                s
            }
            _ => {
                let k = const_step.unwrap();
                if k == 0 {
                    let one = self.iconst(1);
                    let c = self.b.ins().icmp_imm_s(IntCC::Equal, one, 1);
                    self.fail_if(c, ErrCode::RangeStepZero, line, &[]);
                }
                self.iconst(k)
            }
        };
        // What the loop guarantees, and the accesses one test before it can prove in bounds
        // (`analysis::loop_facts`).
        let facts = self.facts.loops.for_loops[id].as_ref().expect("loop facts of a for loop");
        let guarded = facts.versioned.clone();
        let exit = self.b.create_block();
        if guarded.is_empty() {
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(false), origin, exit, line)?;
        } else {
            let mut all = self.iconst(1);
            for g in &guarded {
                let arr = self.load_var(g.array);
                let extent = arr[1 + g.axis];
                let ok = match g.index {
                    // v + k < extent for every v < stop: stop <= extent - k.
                    GuardIndex::LoopVar(k) => {
                        let lim = self.b.ins().iadd_imm_s(extent, -k);
                        self.b.ins().icmp(IntCC::SignedLessThanOrEqual, stop_v, lim)
                    }
                    GuardIndex::Var(u, k) => {
                        let uv = self.b.use_var(self.vars[u][0]);
                        let x = self.b.ins().iadd_imm_s(uv, k);
                        self.b.ins().icmp(IntCC::UnsignedLessThan, x, extent)
                    }
                    GuardIndex::Const(c) => self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, extent, c),
                };
                let ok = self.b.ins().uextend(types::I64, ok);
                all = self.b.ins().band(all, ok);
            }
            let fast = self.b.create_block();
            let slow = self.b.create_block();
            self.b.ins().brif(all, fast, &[], slow, &[]);
            self.switch_to(fast);
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(true), origin, exit, line)?;
            self.switch_to(slow);
            self.range_loop(var, start_v, stop_v, step_v, const_step, body, orelse, facts.copy(false), origin, exit, line)?;
        }
        self.switch_to(exit);
        Ok(())
    }

    /// Emit one copy of a `for ... in range(...)` loop (see `for_range`), ending at `exit`.
    #[allow(clippy::too_many_arguments)]
    fn range_loop(
        &mut self,
        var: VarId,
        start_v: Value,
        stop_v: Value,
        step_v: Value,
        const_step: Option<i64>,
        body: &'a [Stmt],
        orelse: &'a [Stmt],
        facts: LoopFacts,
        origin: LoopOrigin,
        exit: ir::Block,
        line: u32,
    ) -> CResult<()> {
        use ir::condcodes::IntCC;
        let cur = self.b.declare_var(types::I64);
        self.b.def_var(cur, start_v);
        let header = self.b.create_block();
        let body_blk = self.b.create_block();
        let cont = self.b.create_block();
        let else_blk = self.b.create_block();
        self.b.ins().jump(header, &[]);
        // A loop header gets its last predecessor (the back edge) later: sealed then.
        self.b.switch_to_block(header);
        let c = self.b.use_var(cur);
        let go = match const_step {
            Some(k) if k > 0 => self.b.ins().icmp(IntCC::SignedLessThan, c, stop_v),
            Some(_) => self.b.ins().icmp(IntCC::SignedGreaterThan, c, stop_v),
            None => {
                let up = self.b.ins().icmp(IntCC::SignedLessThan, c, stop_v);
                let down = self.b.ins().icmp(IntCC::SignedGreaterThan, c, stop_v);
                let pos = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, step_v, 0);
                self.b.ins().select(pos, up, down)
            }
        };
        self.b.ins().brif(go, body_blk, &[], else_blk, &[]);
        self.switch_to(body_blk);
        let iv = self.b.use_var(cur);
        self.assign_var(var, vec![iv], &Type::Int, None, line)?;
        // A deoptimization in the body continues the Python loop from its state here.
        let level = self.cur_stmt.and_then(|s| s.origin.as_ref()).map(|p| p.len() - 1);
        let hidden = level.map(|level| match origin {
            LoopOrigin::Range => deopt::LoopHidden::Range { level, cur, stop: stop_v, step: step_v },
            LoopOrigin::Each { iter, .. } => deopt::LoopHidden::Each { level, iter, index: var },
        });
        self.loops.push(LoopCx { continue_block: cont, break_block: exit, hidden });
        self.scope.loops.push(facts);
        self.block(body)?;
        self.scope.loops.pop();
        self.loops.pop();
        if !self.is_terminated() {
            self.b.ins().jump(cont, &[]);
        }
        self.switch_to(cont);
        self.poll_signals(line);
        let c = self.b.use_var(cur);
        if const_step == Some(1) {
            // c < stop <= i64::MAX: c + 1 cannot overflow.
            let next = self.b.ins().iadd_imm_s(c, 1);
            self.b.def_var(cur, next);
            self.b.ins().jump(header, &[]);
        } else {
            let (next, of) = self.b.ins().sadd_overflow(c, step_v);
            self.b.def_var(cur, next);
            // Overflow past i64 means the next value is beyond `stop`: the loop is over.
            self.b.ins().brif(of, else_blk, &[], header, &[]);
        }
        self.b.seal_block(header);
        self.switch_to(else_blk);
        self.block(orelse)?;
        if !self.is_terminated() {
            self.b.ins().jump(exit, &[]);
        }
        Ok(())
    }

    /// Evaluate an expression (its source range is the error site of what it emits).
    pub fn expr(&mut self, e: &Expr) -> CResult<CVal> {
        self.span_stack.push(e.span);
        let r = self.expr_inner(e);
        self.span_stack.pop();
        r
    }

    fn expr_inner(&mut self, e: &Expr) -> CResult<CVal> {
        let t = self.typed.ty(e).clone();
        let line = e.span.line;
        Ok(match &e.kind {
            ExprKind::Const(c) => self.constant(c),
            ExprKind::Var(v) => {
                if let (Some(&member), Some(tag)) = (self.typed.guards.get(&e.id), self.tags[*v]) {
                    // Speculated member (see infer::over_members): deoptimize otherwise.
                    let tv = self.b.use_var(tag);
                    let other = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::NotEqual, tv, member as i64);
                    self.fail_if(other, ErrCode::Deopt, line, &[]);
                }
                self.load_var(*v)
            }
            ExprKind::Global(_) => match self.typed.globals.get(&e.id) {
                Some(crate::types::infer::GlobalValue::Const(c)) => self.constant(&c.clone()),
                Some(crate::types::infer::GlobalValue::Cell { addr, .. }) => vec![self.cells[addr]],
                _ => return Err(CompileError::new("unsupported global", line)),
            },
            ExprKind::Attr(base, attr) => {
                if let Some(crate::types::infer::GlobalValue::Const(c)) = self.typed.globals.get(&e.id) {
                    return Ok(self.constant(&c.clone()));
                }
                self.attr(base, attr, line)?
            }
            ExprKind::BinOp(..) if self.fp_pending.is_none() && self.fp_batch_worthwhile(e) => self.fp_batched(&|cx: &mut Self| cx.expr(e))?,
            ExprKind::BinOp(op, a, b) => {
                if let (ExprKind::Const(Const::Int(x)), ExprKind::Const(Const::Int(y)), Type::Int) = (&a.kind, &b.kind, &t) {
                    if let Some(v) = num::fold_int(*op, *x, *y) {
                        return Ok(vec![self.iconst(v)]);
                    }
                }
                let ta = self.typed.ty(a).clone();
                let tb = self.typed.ty(b).clone();
                // `x ** n` with a small constant n: an exact fast path (see num::pow_small_int).
                if *op == BinOp::Pow {
                    if let ExprKind::Const(Const::Int(n)) = b.kind {
                        if let Some(v) = self.pow_const(a, &ta, n, &t, line)? {
                            return Ok(v);
                        }
                    }
                }
                let va = self.expr(a)?;
                let vb = self.expr(b)?;
                if t == Type::Int && ta == Type::Int && tb == Type::Int && self.scope.cannot_overflow(*op, a, b) {
                    let r = if *op == BinOp::Add { self.b.ins().iadd(va[0], vb[0]) } else { self.b.ins().isub(va[0], vb[0]) };
                    return Ok(vec![r]);
                }
                self.binop(*op, va, &ta, vb, &tb, &t, line)?
            }
            ExprKind::Unary(op, a) => {
                let ta = self.typed.ty(a).clone();
                if *op == UnaryOp::Not {
                    let c = self.truth(a)?;
                    let r = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, c, 0);
                    return Ok(vec![r]);
                }
                let va = self.expr(a)?;
                self.unary(*op, va, &ta, &t, line)?
            }
            ExprKind::Compare(first, rest) if rest.len() > 1 => {
                self.pow_chains.clear();
                let v = self.compare_chain(first, rest, &t, line)?;
                self.pow_chains.clear();
                v
            }
            ExprKind::Compare(first, rest) => match (&first.kind, rest.as_slice()) {
                // `x % y == 0` (or `!=`) on Python ints: Python's floored remainder is zero
                // exactly when the truncated one is, so the sign adjustment is not needed.
                (ExprKind::BinOp(BinOp::Mod, x, y), [(op @ (CmpOp::Eq | CmpOp::NotEq), Expr { kind: ExprKind::Const(Const::Int(0)), .. })])
                    if *self.typed.ty(x) == Type::Int
                        && *self.typed.ty(y) == Type::Int
                        && *self.typed.ty(first) == Type::Int
                        && !matches!(y.kind, ExprKind::Const(_)) =>
                {
                    let a = self.expr(x)?[0];
                    let b = self.expr(y)?[0];
                    let zero = self.b.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, b, 0);
                    self.fail_if(zero, ErrCode::IntModZero, line, &[]);
                    let rem = self.b.ins().srem(a, b);
                    let cc = if *op == CmpOp::Eq { ir::condcodes::IntCC::Equal } else { ir::condcodes::IntCC::NotEqual };
                    vec![self.b.ins().icmp_imm_s(cc, rem, 0)]
                }
                _ => self.compare_chain(first, rest, &t, line)?,
            },
            ExprKind::BoolOp(op, values) => {
                self.pow_chains.clear();
                let v = self.boolop(*op, values, &t)?;
                self.pow_chains.clear();
                v
            }
            ExprKind::IfExp(c, a, b2) => {
                self.pow_chains.clear();
                let cv = self.truth(c)?;
                let then_blk = self.b.create_block();
                let else_blk = self.b.create_block();
                let join = self.b.create_block();
                let reprs = repr(&t);
                for r in &reprs {
                    self.b.append_block_param(join, *r);
                }
                self.b.ins().brif(cv, then_blk, &[], else_blk, &[]);
                self.switch_to(then_blk);
                self.cond_depth += 1;
                let va = self.expr(a);
                self.cond_depth -= 1;
                let va = va?;
                let args: Vec<BlockArg> = va.iter().map(|v| BlockArg::Value(*v)).collect();
                self.b.ins().jump(join, &args);
                self.pow_chains.clear();
                self.switch_to(else_blk);
                self.cond_depth += 1;
                let vb = self.expr(b2);
                self.cond_depth -= 1;
                let vb = vb?;
                let args: Vec<BlockArg> = vb.iter().map(|v| BlockArg::Value(*v)).collect();
                self.b.ins().jump(join, &args);
                self.switch_to(join);
                self.pow_chains.clear();
                self.b.block_params(join).to_vec()
            }
            ExprKind::Index(base, index) => self.index(base, index, line)?,
            ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.extend(self.expr(i)?);
                }
                out
            }
            ExprKind::Call { args, kwargs, .. } => self.call(e, args, kwargs)?,
            ExprKind::FString(_) => return Err(CompileError::new("an f-string can only be printed in compiled code", line)),
            ExprKind::Slice(..) => return Err(CompileError::new("a slice can only be used as an array index", line)),
        })
    }

    pub fn constant(&mut self, c: &Const) -> CVal {
        match c {
            Const::Int(i) => vec![self.iconst(*i)],
            Const::Float(f) => vec![self.b.ins().f64const(*f)],
            Const::Bool(x) => vec![self.b.ins().iconst(types::I8, *x as i64)],
            Const::None | Const::Str(_) => vec![],
        }
    }

    fn boolop(&mut self, op: BoolOp, values: &[Expr], t: &Type) -> CResult<CVal> {
        // `a and b`: a if a is falsy else b. `a or b`: a if a is truthy else b.
        let join = self.b.create_block();
        let reprs = repr(t);
        for r in &reprs {
            self.b.append_block_param(join, *r);
        }
        for (i, v) in values.iter().enumerate() {
            self.cond_depth += (i > 0) as usize;
            let val = self.expr(v);
            self.cond_depth -= (i > 0) as usize;
            let val = val?;
            if i + 1 == values.len() {
                let args: Vec<BlockArg> = val.iter().map(|x| BlockArg::Value(*x)).collect();
                self.b.ins().jump(join, &args);
                break;
            }
            let truth = self.truth_of(&val, self.typed.ty(v))?;
            let next = self.b.create_block();
            let args: Vec<BlockArg> = val.iter().map(|x| BlockArg::Value(*x)).collect();
            match op {
                BoolOp::And => self.b.ins().brif(truth, next, &[], join, &args),
                BoolOp::Or => self.b.ins().brif(truth, join, &args, next, &[]),
            };
            self.switch_to(next);
        }
        self.switch_to(join);
        Ok(self.b.block_params(join).to_vec())
    }

    /// The truth value of a condition expression, as an i8 0/1.
    pub fn truth(&mut self, e: &Expr) -> CResult<Value> {
        let v = self.expr(e)?;
        let t = self.typed.ty(e).clone();
        self.truth_of(&v, &t)
    }

    pub fn truth_of(&mut self, v: &[Value], t: &Type) -> CResult<Value> {
        use ir::condcodes::{FloatCC, IntCC};
        Ok(match t {
            Type::None => self.b.ins().iconst(types::I8, 0),
            _ => {
                let x = v[0];
                let ty = self.b.func.dfg.value_type(x);
                if ty == types::F64 {
                    let z = self.b.ins().f64const(0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                } else if ty == types::F32 {
                    let z = self.b.ins().f32const(0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                } else {
                    self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0)
                }
            }
        })
    }
}
