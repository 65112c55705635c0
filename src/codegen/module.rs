//! The JIT module of one compiled unit: the host ISA, the runtime helpers every module
//! declares (in one fixed order) and their `preserve_all` trampolines, the inlining of small
//! callees, `compile` (one specialization to machine code) and its `entry` trampoline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData, Signature, Value};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use once_cell::sync::OnceCell;

use super::{repr, ret_by_pointer, ret_reprs, widen_to_slot, FunctionCx};
use crate::abi::{self, FuncInfo, PrintDesc};
use crate::analysis::Facts;
use crate::ir::{CResult, CompileError, Function};
use crate::types::infer::Typed;
use crate::types::Type;

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
    /// Ufunc call sites native code points to.
    _ufunc_sites: Vec<Box<crate::abi::UfuncSite>>,
    /// NumPy call sites native code points to.
    _np_sites: Vec<Box<crate::abi::NpCallSite>>,
    /// Callee units this code calls directly.
    _callees: Vec<Arc<CompiledUnit>>,
    /// Whether the code has loops or calls (worth releasing the GIL for).
    pub long_running: bool,
    /// Native code (or a callee's) calls back into Python for NumPy objects (see
    /// `FunctionCx::py_callbacks`).
    pub py_callbacks: bool,
    /// It calls itself (needs the stack limit and the recursion depth, see `recursion`).
    pub recursive: bool,
    /// No visible side effects (a caller may speculate on its result and re-run).
    pub pure: bool,
    /// Writes memory the caller can see (argument arrays), itself or in a callee: then the
    /// dispatcher keeps the GIL while it runs (DESIGN.md "Concurrency"), unless `nogil`.
    pub writes_visible: bool,
    /// NumPy floating-point reports are deferred to the dispatcher (see `fp::np_fp_check`),
    /// here or in a callee.
    pub fp_deferred: bool,
    /// The foreign functions this code calls directly (`libm.so.6:j0`), here or in a callee,
    /// for the report (issue 16).
    pub foreign: Vec<String>,
    /// What became of each candidate parallel loop (issue 14), for the report.
    pub parallel_notes: Vec<String>,
    /// The loops that run two iterations at a time in vector lanes (issue 15), for the report.
    pub vector_notes: Vec<String>,
    /// How many times a parallel loop of this code ran on the pool (`runtime::parallel`).
    pub parallel_runs: Box<std::sync::atomic::AtomicU64>,
    /// The function's Cranelift IR as text, each instruction with its source line (`@` and
    /// the line in hex), calls named by symbol; kept only for the annotated report
    /// (`HERON_REPORT=*.html`, see `keep_ir`).
    pub ir_text: Option<String>,
}

/// Whether compiled units keep their IR text: the report asked for is an HTML page (the
/// annotated source, `heron._annotate`), or `HERON_KEEP_IR` is set.
fn keep_ir() -> bool {
    if std::env::var_os("HERON_KEEP_IR").is_some() {
        return true;
    }
    std::env::var("HERON_REPORT").map(|r| {
        let r = r.trim().to_ascii_lowercase();
        r.ends_with(".html") || r.ends_with(".htm")
    }).unwrap_or(false)
}

/// `func`'s text with each `u0:N` (a function the module declared) replaced by its symbol.
fn named_ir(func: &ir::Function, module: &JITModule) -> String {
    let names: HashMap<u32, String> = module.declarations().get_functions()
        .map(|(id, decl)| (id.as_u32(), decl.linkage_name(id).into_owned())).collect();
    let text = func.display().to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("u0:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 3..];
        let digits = tail.bytes().take_while(|c| c.is_ascii_digit()).count();
        match tail[..digits].parse::<u32>().ok().and_then(|n| names.get(&n)) {
            Some(name) if digits > 0 => out.push_str(&format!("%{name}")),
            _ => out.push_str(&rest[at..at + 3 + digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
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

/// The host's Cranelift target (made once).
pub(crate) fn isa() -> CResult<OwnedTargetIsa> {
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

/// The signature of each runtime helper (see `runtime::symbols`), and of the registry's own
/// (`builtins::Helper`).
fn helper_signature(name: &str) -> (Vec<ir::Type>, Vec<ir::Type>) {
    if let Some(h) = crate::builtins::helpers().find(|h| h.sym == name) {
        return (h.params.to_vec(), h.rets.to_vec());
    }
    let (f, i, f32t) = (types::F64, types::I64, types::F32);
    match name {
        "copysign" | "fmod" | "pow" | "remainder" | "nextafter" | "heron_m_atan2" | "heron_float_floordiv" | "heron_float_mod" | "heron_np_power_f64" => {
            (vec![f, f], vec![f])
        }
        "powf" | "fmodf" => (vec![f32t, f32t], vec![f32t]),
        "heron_float_pow" => (vec![f, f, i], vec![f]),
        "heron_cmp_int_float" => (vec![i, f], vec![i]),
        "heron_print" => (vec![i, i, i, i], vec![i]),
        "heron_round_ndigits" => (vec![f, i, i], vec![f]),
        "heron_alloc" | "heron_buf_alloc" => (vec![i, i, i, i, i, i], vec![i]),
        "heron_buf_free" => (vec![i, i], vec![]),
        "heron_trim_owned" => (vec![i, i, i, i], vec![]),
        "heron_np_fp" => (vec![i, i, i, i, f, f, f], vec![i]),
        "heron_deopt" | "heron_ufunc" | "heron_np_call" => (vec![i, i, i, i, i], vec![i]),
        "heron_push_frame" => (vec![i, i, i], vec![]),
        "heron_np_warn" | "heron_ufunc_scalar" => (vec![i, i, i, i], vec![i]),
        "heron_np_defer" => (vec![], vec![]),
        "heron_check_signals" => (vec![], vec![]),
        "heron_grow" => (vec![i, i, i, i], vec![i]),
        "heron_recursion" => (vec![i, i], vec![i]),
        "heron_parallel_for" => (vec![i; 10], vec![i]),
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
pub const TRAMPOLINED: [&str; 5] = ["heron_np_fp", "heron_check_signals", "heron_deopt", "heron_np_warn", "heron_trim_owned"];

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
    // Its lines are the callee's, not the caller's: inlined, its instructions carry no line in
    // the caller's IR (the annotated report would show them at the caller's lines otherwise).
    c.func.srclocs.clear();
    Some(c.func)
}

pub(super) fn cg_err(e: impl std::fmt::Display) -> CompileError {
    CompileError::new(format!("code generation failed: {e}"), 0)
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
    for c in typed.calls.values() {
        if let crate::types::infer::CallTarget::CFunc(cf) = c {
            jb.symbol(super::cnative::foreign_symbol(cf.addr), cf.addr as *const u8);
        }
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
    let ufunc_sites;
    let np_sites;
    let writes_visible;
    let points;
    let sites;
    let long_running;
    let py_callbacks;
    let fp_deferred;
    let parallel_notes;
    let vector_notes;
    let parallel_runs = Box::new(std::sync::atomic::AtomicU64::new(0));
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mut cx = FunctionCx::new(b, &mut module, f, typed, facts, &info, links, inner_id, ret_union, false)?;
        cx.tramps = tramps;
        cx.par_runs = &*parallel_runs as *const std::sync::atomic::AtomicU64 as i64;
        cx.entry_id = entry_id;
        if typed.threaded {
            // Called from a parallel loop's body: every exit that needs the interpreter fails
            // with a status instead, as in the body itself (`codegen::parallel`).
            cx.outlined = Some(super::parallel::Outlined { parent_env: cx.env, refused: None, may_fail: false });
        }
        cx.body()?;
        if let Some(why) = cx.outlined.as_ref().and_then(|o| o.refused.clone()) {
            return Err(CompileError::new(why, f.span.line));
        }
        prints = std::mem::take(&mut cx.prints);
        ufunc_sites = std::mem::take(&mut cx.ufunc_sites);
        np_sites = std::mem::take(&mut cx.np_sites);
        points = std::mem::take(&mut cx.points);
        sites = std::mem::take(&mut cx.sites);
        long_running = cx.long_running;
        py_callbacks = cx.py_callbacks || callees.iter().any(|c| c.py_callbacks);
        writes_visible = cx.writes_visible;
        fp_deferred = cx.fp_deferred || callees.iter().any(|c| c.fp_deferred);
        parallel_notes = std::mem::take(&mut cx.parallel_notes);
        vector_notes = std::mem::take(&mut cx.vector_notes);
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
    let ir_text = if keep_ir() { Some(named_ir(&ctx.func, &module)) } else { None };
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
    let mut foreign: Vec<String> = callees.iter().flat_map(|c| c.foreign.iter().cloned()).collect();
    for c in typed.calls.values() {
        if let crate::types::infer::CallTarget::CFunc(cf) = c {
            foreign.push(cf.name.clone());
        }
    }
    foreign.sort();
    foreign.dedup();
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
        _ufunc_sites: ufunc_sites,
        _np_sites: np_sites,
        _callees: callees,
        long_running,
        py_callbacks,
        recursive,
        pure: facts.pure,
        writes_visible,
        fp_deferred,
        foreign,
        parallel_notes,
        vector_notes,
        parallel_runs,
        ir_text,
    })
}
