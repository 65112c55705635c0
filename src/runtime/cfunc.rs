//! C callbacks (issue 16, `heron.cfunc`): a compiled function behind a C-callable address, for
//! libraries that take function pointers (`qsort`, ODE solvers, `scipy.LowLevelCallable`).
//!
//! The address is a small wrapper made with Cranelift per callback: it takes the C arguments
//! in the C calling convention, writes them as the compiled function's argument slots (a C
//! `double` becomes a Python float, a C integer a Python int, a `T *` a C pointer, as ctypes'
//! own callbacks give them to Python), and calls `heron_cfunc_run`, which runs the compiled
//! code through its `entry` (without the GIL unless the code calls back into Python). The C
//! result comes back as ctypes would convert the Python result.
//!
//! When native code cannot finish the call on its own (it raised, it must deoptimize, a NumPy
//! floating-point report is due, or a global it relies on changed) and it has done nothing
//! visible yet, the wrapper calls the *ctypes* callback of the Python function instead, with
//! the same C arguments: the interpreter runs it, and ctypes converts, raises and reports
//! ("Exception ignored on calling ctypes callback function") exactly as without Heron. After
//! visible effects the call finishes in the interpreter from where it stopped (the
//! dispatcher's deoptimization), and an exception is reported as unraisable.

use std::sync::{Arc, Mutex};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::dispatch::{Dispatcher, Spec};
use crate::abi::{Env, MAX_RET_SLOTS, STATUS_BOXED};
use crate::codegen::cnative::abi_param;
use crate::codegen::CompiledUnit;
use crate::ir::{CResult, CompileError};
use crate::types::cnative::CType;
use crate::types::{DType, Type};

/// What `heron_cfunc_run` needs for one callback (boxed, so its address is stable).
pub struct CallbackData {
    unit: Arc<CompiledUnit>,
    spec: Arc<Spec>,
    dispatcher: Py<Dispatcher>,
    /// The compiled function's parameter types (what the C arguments become).
    params: Vec<Type>,
    ret: CType,
}

/// A compiled C callback: its address, and the machine code behind it (freed with it).
#[pyclass(frozen, module = "heron._native")]
pub struct CCallback {
    _data: Box<CallbackData>,
    module: Mutex<Option<JITModule>>,
    /// The C-callable address of the wrapper.
    #[pyo3(get)]
    address: usize,
}

// The JIT module sits behind a Mutex and is only freed on drop; the data is read-only.
unsafe impl Send for CCallback {}
unsafe impl Sync for CCallback {}

impl Drop for CCallback {
    fn drop(&mut self) {
        if let Ok(mut m) = self.module.lock() {
            if let Some(m) = m.take() {
                // Safety: whoever held the address held this object (heron._cnative.CFunc).
                unsafe { m.free_memory() };
            }
        }
    }
}

/// The Heron argument type a C parameter becomes, as a ctypes callback hands it to Python;
/// `None` for a parameter a compiled callback does not take (a `uint64` may not fit an int).
pub fn param_type(c: CType) -> Option<Type> {
    Some(match c {
        CType::F32 | CType::F64 => Type::Float,
        CType::Int { bits: 64, signed: false } => return None,
        CType::Int { .. } | CType::VoidPtr => Type::Int,
        CType::Bool => Type::Bool,
        CType::Ptr(d) => Type::CPtr(Some(d)),
        CType::Void | CType::CharPtr | CType::NdPtr { .. } | CType::CdataPtr(_) => return None,
    })
}

/// Can the compiled result type `t` become the C result `c` without Python, the way ctypes
/// converts a callback's Python result (a float into an integer is ctypes' `TypeError`)?
pub fn result_convertible(t: &Type, c: CType) -> bool {
    match c {
        CType::Void => *t == Type::None,
        CType::F32 | CType::F64 => t.is_scalar(),
        CType::Int { .. } => matches!(t, Type::Int | Type::Bool) || matches!(t, Type::Np(d) if d.is_int() || *d == DType::Bool),
        CType::Bool => t.is_scalar(),
        _ => false,
    }
}

/// The C result's bits (in the low bytes) from the compiled result's raw slot.
fn c_bits(raw: u64, t: &Type, c: CType) -> u64 {
    let as_f64 = || -> f64 {
        match t {
            Type::Float | Type::Np(DType::F64) => f64::from_bits(raw),
            Type::Np(DType::F32) => f32::from_bits(raw as u32) as f64,
            Type::Bool | Type::Np(DType::Bool) => (raw as u8 != 0) as i64 as f64,
            Type::Np(DType::U64) => raw as f64,
            _ => raw as i64 as f64,
        }
    };
    match c {
        CType::F64 => as_f64().to_bits(),
        CType::F32 => (as_f64() as f32).to_bits() as u64,
        CType::Bool => match t {
            Type::Float | Type::Np(DType::F64) | Type::Np(DType::F32) => {
                let x = as_f64();
                (x != 0.0 || x.is_nan()) as u64
            }
            Type::Bool | Type::Np(DType::Bool) => (raw as u8 != 0) as u64,
            _ => (raw != 0) as u64,
        },
        CType::Int { .. } => match t {
            Type::Bool | Type::Np(DType::Bool) => (raw as u8 != 0) as u64,
            _ => raw,
        },
        _ => 0,
    }
}

/// Run callback `data` with its argument slots `args`; write the C result to `ret`. Returns 0
/// when done, 1 when the wrapper must call the ctypes callback instead (see the module's
/// documentation).
extern "C" fn heron_cfunc_run(data: *const CallbackData, args: *const u64, ret: *mut u64) -> i64 {
    let d = unsafe { &*data };
    if !d.spec.is_valid() {
        return 1;
    }
    if d.unit.py_callbacks {
        return Python::attach(|py| run(d, args, ret, Some(py)));
    }
    run(d, args, ret, None)
}

fn run(d: &CallbackData, args: *const u64, ret: *mut u64, py: Option<Python<'_>>) -> i64 {
    let unit = &d.unit;
    let mut slots = [0u64; MAX_RET_SLOTS];
    let mut owned: Vec<Py<PyAny>> = Vec::new();
    let mut bufs = super::alloc::Buffers::default();
    let mut frames: Vec<(usize, i64)> = Vec::new();
    let mut env = Env {
        owned: &mut owned as *mut Vec<Py<PyAny>> as i64,
        bufs: &mut bufs as *mut super::alloc::Buffers as i64,
        frames: &mut frames as *mut Vec<(usize, i64)> as i64,
        fp_deferred: unit.fp_deferred as i64,
        stack_limit: if unit.recursive { super::stack::limit_here() } else { 0 },
        ..Env::default()
    };
    let entry: extern "C" fn(*const u64, *mut u64, *mut Env) -> i64 = unsafe { std::mem::transmute(unit.entry) };
    if unit.fp_deferred {
        super::fp::flags_clear();
    }
    let status = entry(args, slots.as_mut_ptr(), &mut env);
    d.dispatcher.get().note_native_call();
    let write = |bits: u64| unsafe { *ret = bits };
    // A flag NumPy may report was raised: the GIL is needed to ask NumPy's error state.
    let flagged = unit.fp_deferred && super::fp::flags_raised(super::fp::REPORTED | super::fp::UNDERFLOW);
    if status == 0 && owned.is_empty() && !flagged {
        write(c_bits(slots[0], &unit.ret_type, d.ret));
        return 0;
    }
    let mut finish = |py: Python<'_>| -> i64 {
        let owned = std::mem::take(&mut owned);
        if unit.fp_deferred && env.effects == 0 && super::fp::deferred_report_due(py) {
            return 1;
        }
        if status == 0 {
            write(c_bits(slots[0], &unit.ret_type, d.ret));
            drop(owned);
            return 0;
        }
        if env.effects == 0 && status != STATUS_BOXED {
            return 1;
        }
        let result = if status == STATUS_BOXED {
            super::deopt::take_boxed(py, &mut env).map(|o| o.unbind()).ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("heron: a callback's result was lost"))
        } else {
            boxed_args(py, d, args).and_then(|t| d.dispatcher.get().native_error(py, &env, &frames, &t, None))
        };
        drop(owned);
        let code = super::super::types::cnative::ctype_code(d.ret);
        let bits = result.and_then(|obj| {
            crate::runtime::import(py, "heron._cnative")?.getattr("c_result_bits")?.call1((obj, code))?.extract::<u64>()
        });
        match bits {
            Ok(b) => write(b),
            Err(e) => {
                let func = d.dispatcher.get().func(py).ok();
                e.write_unraisable(py, func.as_ref());
                write(0);
            }
        }
        0
    };
    match py {
        Some(py) => finish(py),
        None => Python::attach(finish),
    }
}

/// The C arguments as the Python values the interpreter continues with.
fn boxed_args<'py>(py: Python<'py>, d: &CallbackData, args: *const u64) -> PyResult<Bound<'py, PyTuple>> {
    let raw = unsafe { std::slice::from_raw_parts(args, d.params.len()) };
    let env = Env::default();
    let items = d
        .params
        .iter()
        .zip(raw)
        .map(|(t, r)| {
            let mut k = 0;
            super::deopt::box_flat(py, &env, t, std::slice::from_ref(r), &mut k)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

/// Make the C-callable wrapper of specialization `spec` of `dispatcher` for C parameters
/// `params` and result `ret`; `fallback` is the address of the ctypes callback of the Python
/// function with the same C signature. Errors: what Cranelift reports.
pub fn make(py: Python<'_>, dispatcher: Py<Dispatcher>, spec: Arc<Spec>, params: Vec<CType>, ret: CType, fallback: usize) -> CResult<CCallback> {
    let _ = py;
    let unit = spec.unit.as_ref().map_err(|e| e.clone())?.clone();
    let heron_params = params.iter().map(|p| param_type(*p).expect("checked by the caller")).collect();
    let data = Box::new(CallbackData { unit, spec, dispatcher, params: heron_params, ret });
    let data_addr = &*data as *const CallbackData as i64;
    let cg = |e: cranelift_module::ModuleError| CompileError::new(format!("code generation failed: {e}"), 0);
    let mut jb = JITBuilder::with_isa(crate::codegen::module::isa()?, default_libcall_names());
    jb.symbol("heron_cfunc_run", heron_cfunc_run as *const u8);
    let mut module = JITModule::new(jb);
    let mut sig = module.make_signature();
    sig.params.extend(params.iter().filter_map(|p| abi_param(*p)));
    sig.returns.extend(abi_param(ret));
    let id = module.declare_function("cfunc", Linkage::Local, &sig).map_err(cg)?;
    let mut run_sig = module.make_signature();
    run_sig.params.extend([AbiParam::new(types::I64); 3]);
    run_sig.returns.push(AbiParam::new(types::I64));
    let run_id = module.declare_function("heron_cfunc_run", Linkage::Import, &run_sig).map_err(cg)?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let blk = b.create_block();
        b.append_block_params_for_function_params(blk);
        b.switch_to_block(blk);
        let cargs = b.block_params(blk).to_vec();
        let n = params.len().max(1);
        let args_ss = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
        let ret_ss = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        for (i, (p, v)) in params.iter().zip(&cargs).enumerate() {
            let w = match p {
                CType::F32 => b.ins().fpromote(types::F64, *v),
                CType::Int { bits, signed } if *bits < 64 => {
                    if *signed {
                        b.ins().sextend(types::I64, *v)
                    } else {
                        b.ins().uextend(types::I64, *v)
                    }
                }
                CType::Bool => {
                    let t = b.ins().icmp_imm_s(IntCC::NotEqual, *v, 0);
                    b.ins().uextend(types::I64, t)
                }
                _ => *v,
            };
            b.ins().stack_store(types::I64, w, args_ss, (8 * i) as i32);
        }
        let zero = b.ins().iconst(types::I64, 0);
        b.ins().stack_store(types::I64, zero, ret_ss, 0);
        let run_ref = module.declare_func_in_func(run_id, b.func);
        let dv = b.ins().iconst(types::I64, data_addr);
        let ap = b.ins().stack_addr(types::I64, args_ss, 0);
        let rp = b.ins().stack_addr(types::I64, ret_ss, 0);
        let call = b.ins().call(run_ref, &[dv, ap, rp]);
        let r = b.inst_results(call)[0];
        let ok = b.create_block();
        let fb = b.create_block();
        b.ins().brif(r, fb, &[], ok, &[]);
        b.switch_to_block(ok);
        let flags = MemFlagsData::new();
        let out: Vec<_> = match ret {
            CType::Void => vec![],
            CType::F64 => vec![b.ins().stack_load(types::I64, types::F64, ret_ss, 0)],
            CType::F32 => vec![b.ins().stack_load(types::I64, types::F32, ret_ss, 0)],
            CType::Bool => vec![b.ins().stack_load(types::I64, types::I8, ret_ss, 0)],
            CType::Int { bits, .. } => {
                let ty = match bits {
                    8 => types::I8,
                    16 => types::I16,
                    32 => types::I32,
                    _ => types::I64,
                };
                vec![b.ins().stack_load(types::I64, ty, ret_ss, 0)]
            }
            _ => {
                let p = b.ins().stack_addr(types::I64, ret_ss, 0);
                vec![b.ins().load(types::I64, flags, p, 0)]
            }
        };
        b.ins().return_(&out);
        b.switch_to_block(fb);
        let sref = b.import_signature(sig.clone());
        let fp = b.ins().iconst(types::I64, fallback as i64);
        let call = b.ins().call_indirect(sref, fp, &cargs);
        let rs = b.inst_results(call).to_vec();
        b.ins().return_(&rs);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    module.define_function(id, &mut ctx).map_err(|e| CompileError::new(format!("code generation failed: {e:?}"), 0))?;
    module.clear_context(&mut ctx);
    module.finalize_definitions().map_err(cg)?;
    let address = module.get_finalized_function(id) as usize;
    Ok(CCallback { _data: data, module: Mutex::new(Some(module)), address })
}
