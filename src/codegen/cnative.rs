//! Calls to foreign functions (issue 16): a direct machine call to a ctypes or cffi function's
//! address in the C calling convention, each argument converted as the library converts it
//! (`types::cnative` decided which arguments it takes), and the C result made a Heron value
//! as the library makes it a Python one. No Python runs in between: the call costs what the C
//! function costs plus its argument moves.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Value};
use cranelift_module::Module;

use super::{CVal, FunctionCx};
use crate::abi::{CResultBoxing, ErrCode};
use crate::ir::{CResult, CompileError, Expr};
use crate::types::cnative::{CFunc, CType, Flavour};
use crate::types::{DType, Type};

/// The symbol a foreign function is imported by (its address, given to the JIT's symbol table
/// by `module::compile`).
pub fn foreign_symbol(addr: usize) -> String {
    format!("heron_cfn_{addr:x}")
}

/// The machine type of a C type in the C calling convention, with its extension to a register.
pub fn abi_param(t: CType) -> Option<AbiParam> {
    Some(match t {
        CType::Void => return None,
        CType::Bool => AbiParam::new(types::I8).uext(),
        CType::Int { bits, signed } => {
            let ty = match bits {
                8 => types::I8,
                16 => types::I16,
                32 => types::I32,
                _ => types::I64,
            };
            match (bits < 64, signed) {
                (true, true) => AbiParam::new(ty).sext(),
                (true, false) => AbiParam::new(ty).uext(),
                _ => AbiParam::new(ty),
            }
        }
        CType::F32 => AbiParam::new(types::F32),
        CType::F64 => AbiParam::new(types::F64),
        CType::VoidPtr | CType::CharPtr | CType::Ptr(_) | CType::NdPtr { .. } | CType::CdataPtr(_) => AbiParam::new(types::I64),
    })
}

impl<'a, 'm> FunctionCx<'a, 'm> {
    /// `f(args...)` for a foreign function `f`.
    pub fn foreign_call(&mut self, e: &Expr, cf: &CFunc, args: &[Expr], line: u32) -> CResult<CVal> {
        self.refuse_outlined(|| format!("it calls the foreign function `{}`", cf.name));
        let mut vals = Vec::new();
        for (a, &p) in args.iter().zip(&cf.params) {
            let t = self.typed.ty(a).clone();
            let v = self.expr(a)?;
            vals.push(self.to_c(cf, v, &t, p, line)?);
        }
        let mut sig = self.module.make_signature();
        sig.params.extend(cf.params.iter().filter_map(|p| abi_param(*p)));
        sig.returns.extend(abi_param(cf.ret));
        let id = self
            .module
            .declare_function(&foreign_symbol(cf.addr), cranelift_module::Linkage::Import, &sig)
            .map_err(|e| CompileError::new(format!("code generation failed: {e}"), line))?;
        let fref = self.module.declare_func_in_func(id, self.b.func);
        let call = self.b.ins().call(fref, &vals);
        let r = self.b.inst_results(call).first().copied();
        // What the foreign function did cannot be undone: the call is not re-run whole.
        self.mark_effect();
        // A pointer lets the callee write the caller's arrays; a PyDLL function uses the C API.
        if cf.keeps_gil || cf.params.iter().any(|p| p.is_pointer()) {
            self.writes_visible = true;
        }
        self.long_running = true;
        let ty = crate::types::cnative::result_type(cf).map_err(|why| CompileError::new(why, line))?;
        let out = match (cf.ret, r) {
            (CType::Void, _) | (_, None) => vec![],
            (CType::Bool, Some(r)) => {
                // A C `_Bool` is 0 or 1; ctypes and cffi read any nonzero byte as True.
                let nz = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
                vec![nz]
            }
            (CType::Int { bits, signed }, Some(r)) => {
                if bits == 64 {
                    vec![r]
                } else if signed {
                    vec![self.b.ins().sextend(types::I64, r)]
                } else {
                    vec![self.b.ins().uextend(types::I64, r)]
                }
            }
            (CType::F32, Some(r)) => vec![self.b.ins().fpromote(types::F64, r)],
            (_, Some(r)) => vec![r],
        };
        self.note_made_call(e.span, &out, &ty);
        let (boxing, cond) = match cf.ret {
            // A `uint64` (`size_t`) result past 2**63 - 1 is no compiled int: the statement
            // goes on in the interpreter, given the result as the Python int it is.
            CType::Int { bits: 64, signed: false } => (CResultBoxing::Unsigned, IntCC::SignedLessThan),
            // A ctypes `c_void_p` result is an int, or None for NULL: NULL goes on there too.
            CType::VoidPtr => (CResultBoxing::NoneIfNull, IntCC::Equal),
            _ => (CResultBoxing::Plain, IntCC::Equal),
        };
        if boxing != CResultBoxing::Plain {
            if let Some(c) = self.stmt_calls.last_mut() {
                c.boxing = boxing;
            }
            let handed_over = self.b.ins().icmp_imm_s(cond, out[0], 0);
            self.fail_if(handed_over, ErrCode::Deopt, line, &[]);
        }
        Ok(out)
    }

    /// `heron.carray(pointer, shape[, dtype])`: the array `at` (C-contiguous) at the pointer's
    /// address. A negative extent continues in the interpreter (NumPy's ValueError).
    pub fn carray(&mut self, args: &[Expr], at: crate::types::ArrayType, line: u32) -> CResult<CVal> {
        let p = self.expr(&args[0])?[0];
        let shape = self.expr(&args[1])?;
        for &n in &shape {
            let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, n, 0);
            self.fail_if(neg, ErrCode::Deopt, line, &[]);
        }
        if let Some(d) = args.get(2) {
            let _ = d; // a dtype name: nothing to evaluate
        }
        let mut strides = vec![self.iconst(at.dtype.itemsize()); shape.len()];
        for k in (0..shape.len().saturating_sub(1)).rev() {
            strides[k] = self.b.ins().imul(strides[k + 1], shape[k + 1]);
        }
        let mut out = vec![p];
        out.extend(shape);
        out.extend(strides);
        Ok(out)
    }

    /// The address of `p[i]` for a C pointer `p` to `d`s (C's pointer arithmetic: no bounds).
    pub fn pointer_element(&mut self, base: &Expr, i: &Expr, d: DType) -> CResult<Value> {
        let p = self.expr(base)?[0];
        let it = self.typed.ty(i).clone();
        let iv = self.expr(i)?[0];
        let iv = if it == Type::Bool { self.b.ins().uextend(types::I64, iv) } else { iv };
        let off = self.b.ins().imul_imm_s(iv, d.itemsize());
        Ok(self.b.ins().iadd(p, off))
    }

    /// Load `*addr` of C type `d` as the Python number ctypes makes of it.
    pub fn load_pointee(&mut self, addr: Value, d: DType) -> Value {
        let flags = cranelift_codegen::ir::MemFlagsData::new();
        let b = &mut self.b;
        match d {
            DType::F64 => b.ins().load(types::F64, flags, addr, 0),
            DType::F32 => {
                let x = b.ins().load(types::F32, flags, addr, 0);
                b.ins().fpromote(types::F64, x)
            }
            DType::Bool => {
                let x = b.ins().load(types::I8, flags, addr, 0);
                b.ins().icmp_imm_s(IntCC::NotEqual, x, 0)
            }
            DType::I64 | DType::U64 => b.ins().load(types::I64, flags, addr, 0),
            DType::I32 => b.ins().sload32(flags, addr, 0),
            DType::U32 => b.ins().uload32(flags, addr, 0),
            DType::I16 => b.ins().sload16(types::I64, flags, addr, 0),
            DType::U16 => b.ins().uload16(types::I64, flags, addr, 0),
            DType::I8 => b.ins().sload8(types::I64, flags, addr, 0),
            DType::U8 => b.ins().uload8(types::I64, flags, addr, 0),
        }
    }

    /// `*addr = v` for a C pointer to `d`s, converted as ctypes converts a value stored
    /// through a pointer (its `from_param` rules, see `to_c`).
    pub fn store_pointee(&mut self, addr: Value, d: DType, v: CVal, t: &Type, line: u32) -> CResult<()> {
        let conv = CFunc { addr: 0, params: vec![], ret: CType::Void, keeps_gil: false, name: String::new(), flavour: Flavour::Ctypes };
        let x = self.to_c(&conv, v, t, crate::types::cnative::pointee_ctype(d), line)?;
        self.b.ins().store(cranelift_codegen::ir::MemFlagsData::new(), x, addr, 0);
        self.mark_effect();
        Ok(())
    }

    /// One argument as the C parameter `p` takes it: ctypes' conversions (integers keep their
    /// low bits; a float parameter takes the number's `float()`; `_Bool` its truth value), or
    /// cffi's (an integer out of the C type's range continues in the interpreter, where cffi
    /// raises `OverflowError`).
    fn to_c(&mut self, cf: &CFunc, v: CVal, t: &Type, p: CType, line: u32) -> CResult<Value> {
        let b = &mut self.b;
        Ok(match p {
            CType::F64 | CType::F32 => {
                let x = match t {
                    Type::Float | Type::Np(DType::F64) => v[0],
                    Type::Np(DType::F32) => b.ins().fpromote(types::F64, v[0]),
                    Type::Bool | Type::Np(DType::Bool) => {
                        let w = b.ins().uextend(types::I64, v[0]);
                        b.ins().fcvt_from_uint(types::F64, w)
                    }
                    Type::Np(DType::U64) => b.ins().fcvt_from_uint(types::F64, v[0]),
                    _ => b.ins().fcvt_from_sint(types::F64, v[0]),
                };
                // ctypes and cffi make a C float from the double (`(float)x`).
                if p == CType::F32 {
                    b.ins().fdemote(types::F32, x)
                } else {
                    x
                }
            }
            CType::Int { bits, signed } => {
                let w = match t {
                    Type::Bool | Type::Np(DType::Bool) => b.ins().uextend(types::I64, v[0]),
                    _ => v[0],
                };
                if cf.flavour == Flavour::Cffi && (bits < 64 || !signed) {
                    let (lo, hi): (i64, i64) = match (bits, signed) {
                        (64, false) => (0, i64::MAX),
                        (b, true) => (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1),
                        (b, false) => (0, (1i64 << b) - 1),
                    };
                    let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, w, lo);
                    let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, w, hi);
                    let out = self.b.ins().bor(below, above);
                    self.fail_if(out, ErrCode::Deopt, line, &[]);
                }
                let b = &mut self.b;
                match bits {
                    8 => b.ins().ireduce(types::I8, w),
                    16 => b.ins().ireduce(types::I16, w),
                    32 => b.ins().ireduce(types::I32, w),
                    _ => w,
                }
            }
            CType::Bool => match t {
                Type::Float | Type::Np(DType::F64) | Type::Np(DType::F32) => {
                    let zero = if *t == Type::Np(DType::F32) { b.ins().f32const(0.0) } else { b.ins().f64const(0.0) };
                    // NaN is true, as `bool(nan)` is.
                    b.ins().fcmp(FloatCC::NotEqual, v[0], zero)
                }
                Type::Bool | Type::Np(DType::Bool) => v[0],
                _ => b.ins().icmp_imm_s(IntCC::NotEqual, v[0], 0),
            },
            CType::VoidPtr | CType::CharPtr | CType::Ptr(_) | CType::NdPtr { .. } | CType::CdataPtr(_) => match t {
                Type::None => b.ins().iconst(types::I64, 0),
                Type::Bool => b.ins().uextend(types::I64, v[0]),
                _ => v[0],
            },
            CType::Void => return Err(CompileError::new("a void parameter", line)),
        })
    }
}
