//! Codegen for recursive functions: the recursion depth counted as CPython counts it (same
//! limit, `RecursionError`), and a native stack that never overflows (see `runtime::stack`).
//!
//! At the entry of a function that calls itself, `Env::depth` is incremented and compared with
//! `Env::depth_limit`. Past it (rarely), a cold path: when the stack pointer is below
//! `Env::stack_limit`, the call goes on in a fresh stack segment (`heron_grow`, through the
//! function's own `entry` trampoline); else `runtime::stack::heron_recursion` checks the
//! depth against the part of `sys.getrecursionlimit()` the Python frames below leave, runs
//! pending signal handlers, and sets the next limit. The depth is a parameter of the function
//! (its self-calls pass their own), so counting costs no memory access.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind};
use cranelift_module::Module;

use super::{ret_by_pointer, ret_reprs, FunctionCx};
use crate::abi;



impl<'a, 'm> FunctionCx<'a, 'm> {
    /// Does this function call itself?
    pub fn is_recursive(&self) -> bool {
        self.typed.calls.values().any(|c| matches!(c, crate::types::infer::CallTarget::SelfRecursive))
    }

    /// The prologue of a recursive function (see the module documentation). `params` are the
    /// entry block's parameters (the flattened arguments, the result pointer, `env`). The hot
    /// path is the depth count and one compare with `Env::depth_limit`, which is the nearest
    /// depth where something must be looked at: the recursion limit, the next stack check
    /// (every `CHECK_EVERY` new levels), or at once when a signal came (the signal handler
    /// lowers it). The cold path looks at the stack and asks `heron_recursion` for the rest.
    pub fn recursion_prologue(&mut self, params: &[cranelift_codegen::ir::Value]) {
        let i = types::I64;
        let flags = MemFlagsData::trusted();
        let d = self.depth_param.expect("a recursive function's depth");
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        self.depth = Some(d1);
        let max = self.b.ins().load(i, flags, self.env, abi::ENV_DEPTH_LIMIT);
        let look = self.b.ins().icmp(IntCC::SignedGreaterThan, d1, max);
        let (cold, ok) = self.branch_cold(look);
        self.switch_to(cold);
        // 1. Stack: continue on a new segment when this one runs low (the red zone holds
        // `CHECK_EVERY` frames and more).
        let sp = self.b.ins().get_stack_pointer(i);
        let limit = self.b.ins().load(i, flags, self.env, abi::ENV_STACK_LIMIT);
        let stack_low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        let (grow, stack_ok) = self.branch_cold(stack_low);
        self.switch_to(grow);
        // The new segment's call counts this frame itself.
        self.b.ins().store(flags, d, self.env, abi::ENV_DEPTH);
        let n_args: usize = self.typed.args.iter().map(|t| super::repr(t).len()).sum();
        let args_ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n_args.max(1)) as u32, 3));
        for (k, v) in params[..n_args].iter().enumerate() {
            let w = super::widen_to_slot(&mut self.b, *v);
            self.b.ins().stack_store(i, w, args_ss, (8 * k) as i32);
        }
        let union = self.ret_tag.is_some();
        let reprs = ret_reprs(&self.typed.ret_type(), union);
        let by_ptr = ret_by_pointer(&self.typed.ret_type(), union);
        let ret_ss = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * reprs.len().max(1)) as u32, 3));
        let entry = self.module.declare_func_in_func(self.entry_id, self.b.func);
        let entry_addr = self.b.ins().func_addr(i, entry);
        let args_ptr = self.b.ins().stack_addr(i, args_ss, 0);
        let ret_ptr = match self.ret_ptr {
            Some(p) if by_ptr => p,
            _ => self.b.ins().stack_addr(i, ret_ss, 0),
        };
        let env = self.env;
        let status = self.call_helper("heron_grow", &[i; 4], &[i], &[env, entry_addr, args_ptr, ret_ptr]).expect("a runtime helper")[0];
        let mut rets = vec![status];
        if !by_ptr {
            for (k, t) in reprs.iter().enumerate() {
                let raw = self.b.ins().stack_load(i, i, ret_ss, (8 * k) as i32);
                rets.push(self.from_slot(raw, *t));
            }
        }
        self.b.ins().return_(&rets);
        self.switch_to(stack_ok);
        // 2. The recursion limit, signals, and the next depth to look at.
        let st = self.call_helper("heron_recursion", &[i, i], &[i], &[env, d1]).expect("a runtime helper")[0];
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, st, 0);
        let (fail, fine) = self.branch_cold(bad);
        self.switch_to(fail);
        let line = self.iconst(self.f.span.line as i64);
        self.b.ins().store(flags, line, self.env, abi::ENV_ERR_LINE);
        let fi = self.iconst(self.info as *const abi::FuncInfo as i64);
        self.b.ins().store(flags, fi, self.env, abi::ENV_ERR_FUNC);
        self.b.ins().jump(self.err_block, &[BlockArg::Value(st)]);
        self.switch_to(fine);
        self.b.ins().jump(ok, &[]);
        self.switch_to(ok);
    }
}
