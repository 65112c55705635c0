//! The `random` module on the interpreter's own state: `random.random()`, `uniform`, `randint`,
//! `randrange`, `getrandbits` compiled natively, drawing from the Mersenne Twister state of
//! `random._inst` (the instance behind the module's functions) in place, so a seeded stream is
//! CPython's whether drawn in compiled code or in Python (Numba's `random` is a generator of its
//! own, seeded apart).
//!
//! The state is CPython's `RandomObject` (Modules/_randommodule.c: after the object header, an
//! `int index` and `uint32_t state[624]`); the resolver checks that layout against
//! `random.getstate()` before any code uses it (`set_instance`). The algorithms are MT19937's
//! (Matsumoto and Nishimura, 1998) and CPython's: `random()` is 53 bits from two 32-bit words,
//! `getrandbits(k)` takes words least significant first, `randrange` rejects draws of
//! `n.bit_length()` bits that are `>= n`. Native code touching the state holds the GIL.

use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::{cerr, Builtin, Helper, Lower};
use crate::abi::ErrCode;
use crate::ir::{CResult, Expr};
use crate::types::{Form, Type};

/// Offsets in CPython's `RandomObject`: `index`, then the 624 words.
pub const INDEX_OFFSET: usize = 16;
pub const STATE_OFFSET: usize = 20;
const N: usize = 624;
const M: usize = 397;

/// The address of `random._inst` once its layout was checked (0: not yet).
static INSTANCE: AtomicUsize = AtomicUsize::new(0);

/// Record the checked address of `random._inst` (see the module docs).
pub fn set_instance(addr: usize) {
    INSTANCE.store(addr, Ordering::Relaxed);
}

const fn entry(name: &'static str, rule: super::RuleFn, lower: super::LowerFn) -> Builtin {
    Builtin { name, form: Form::Call, since: 0, sym: "", dtype: None, rule, lower: Some(lower) }
}

/// The functions of `random` compiled natively.
pub static RANDOM: &[Builtin] = &[
    entry("random.random", random_type, lower_random),
    entry("random.uniform", uniform_type, lower_uniform),
    entry("random.randint", randint_type, lower_randint),
    entry("random.randrange", randrange_type, lower_randrange),
    entry("random.getrandbits", getrandbits_type, lower_getrandbits),
];

/// The helpers the lowerings call.
pub static HELPERS: &[Helper] = &[
    Helper { sym: "heron_random_random", addr: || heron_random_random as *const u8, params: &[types::I64], rets: &[types::F64] },
    Helper { sym: "heron_random_below", addr: || heron_random_below as *const u8, params: &[types::I64, types::I64], rets: &[types::I64] },
    Helper { sym: "heron_random_bits", addr: || heron_random_bits as *const u8, params: &[types::I64, types::I64], rets: &[types::I64] },
];

/// `random.<name>`, if compiled natively.
pub fn random_fn(name: &str) -> Option<&'static Builtin> {
    RANDOM.iter().find(|b| b.name.strip_prefix("random.") == Some(name))
}

unsafe fn next_u32(inst: usize) -> u32 {
    let index = (inst + INDEX_OFFSET) as *mut i32;
    let mt = std::slice::from_raw_parts_mut((inst + STATE_OFFSET) as *mut u32, N);
    const MAG: [u32; 2] = [0, 0x9908_b0df];
    if *index as usize >= N {
        for k in 0..N {
            let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % N] & 0x7fff_ffff);
            mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ MAG[(y & 1) as usize];
        }
        *index = 0;
    }
    let mut y = mt[*index as usize];
    *index += 1;
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

/// `random.random()`: 53 random bits as a float in [0, 1).
pub extern "C" fn heron_random_random(inst: i64) -> f64 {
    unsafe {
        let a = (next_u32(inst as usize) >> 5) as f64;
        let b = (next_u32(inst as usize) >> 6) as f64;
        (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
    }
}

/// `random.getrandbits(k)` for 0 <= k <= 63.
pub extern "C" fn heron_random_bits(inst: i64, k: i64) -> i64 {
    let k = k as u32;
    unsafe {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return (next_u32(inst as usize) >> (32 - k)) as i64;
        }
        let low = next_u32(inst as usize) as u64;
        let high = (next_u32(inst as usize) >> (64 - k)) as u64;
        (low | (high << 32)) as i64
    }
}

/// `random._randbelow(n)` for n >= 1: draws of `n.bit_length()` bits until one is below `n`.
pub extern "C" fn heron_random_below(inst: i64, n: i64) -> i64 {
    let k = 64 - (n as u64).leading_zeros() as i64;
    loop {
        let r = heron_random_bits(inst, k);
        if r < n {
            return r;
        }
    }
}

fn instance(cx: &mut dyn Lower<'_>) -> Value {
    let addr = INSTANCE.load(Ordering::Relaxed);
    cx.iconst(addr as i64)
}

fn is_int(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Bool)
}

fn random_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if !args.is_empty() {
        return cerr("random.random() takes no arguments", line);
    }
    Ok(Type::Float)
}

fn lower_random(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, _: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let inst = instance(cx);
    cx.note_py_callback();
    let r = cx.call_helper("heron_random_random", &[types::I64], &[types::F64], &[inst])?;
    cx.made_call(e, &r);
    Ok(r)
}

fn uniform_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match args {
        [Type::Float, Type::Float] => Ok(Type::Float),
        _ => cerr("random.uniform() of two floats is compiled; convert the bounds with float()", line),
    }
}

/// `a + (b - a) * random()` (Lib/random.py).
fn lower_uniform(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let a = cx.expr(&args[0])?[0];
    let b = cx.expr(&args[1])?[0];
    let inst = instance(cx);
    cx.note_py_callback();
    let r = cx.call_helper("heron_random_random", &[types::I64], &[types::F64], &[inst])?[0];
    let w = cx.ins().fsub(b, a);
    let s = cx.ins().fmul(w, r);
    let v = vec![cx.ins().fadd(a, s)];
    cx.made_call(e, &v);
    Ok(v)
}

fn randint_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match args {
        [a, b] if is_int(a) && is_int(b) => Ok(Type::Int),
        _ => cerr("random.randint() of two ints is compiled", line),
    }
}

/// `start + _randbelow(width)`; an empty range (or one wider than 63 bits) is left to the
/// interpreter (a deoptimization before any draw), which raises Python's ValueError.
fn below_from(cx: &mut dyn Lower<'_>, e: &Expr, start: Value, width: Value, line: u32) -> CResult<Vec<Value>> {
    use cranelift_codegen::ir::condcodes::IntCC;
    let bad = cx.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, width, 0);
    cx.fail_if(bad, ErrCode::Deopt, line, &[]);
    let inst = instance(cx);
    cx.note_py_callback();
    let r = cx.call_helper("heron_random_below", &[types::I64, types::I64], &[types::I64], &[inst, width])?[0];
    let v = vec![cx.ins().iadd(start, r)];
    cx.made_call(e, &v);
    Ok(v)
}

fn lower_randint(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let (ta, tb) = (cx.ty(&args[0]), cx.ty(&args[1]));
    let a = cx.expr(&args[0])?;
    let a = cx.to_i64(a, &ta);
    let b = cx.expr(&args[1])?;
    let b = cx.to_i64(b, &tb);
    // width = b - a + 1, deoptimizing when it overflows.
    let (d, o1) = cx.ins().ssub_overflow(b, a);
    let one = cx.iconst(1);
    let (w, o2) = cx.ins().sadd_overflow(d, one);
    let o = cx.ins().bor(o1, o2);
    cx.fail_if(o, ErrCode::Deopt, line, &[]);
    below_from(cx, e, a, w, line)
}

fn randrange_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match args {
        [a] if is_int(a) => Ok(Type::Int),
        [a, b] if is_int(a) && is_int(b) => Ok(Type::Int),
        _ => cerr("random.randrange() of one or two ints is compiled", line),
    }
}

fn lower_randrange(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let ta = cx.ty(&args[0]);
    let a = cx.expr(&args[0])?;
    let a = cx.to_i64(a, &ta);
    if args.len() == 1 {
        let zero = cx.iconst(0);
        return below_from(cx, e, zero, a, line);
    }
    let tb = cx.ty(&args[1]);
    let b = cx.expr(&args[1])?;
    let b = cx.to_i64(b, &tb);
    let (w, o) = cx.ins().ssub_overflow(b, a);
    cx.fail_if(o, ErrCode::Deopt, line, &[]);
    below_from(cx, e, a, w, line)
}

fn getrandbits_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    match args {
        [a] if is_int(a) => Ok(Type::Int),
        _ => cerr("random.getrandbits() of an int is compiled", line),
    }
}

fn lower_getrandbits(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    use cranelift_codegen::ir::condcodes::IntCC;
    let t = cx.ty(&args[0]);
    let k = cx.expr(&args[0])?;
    let k = cx.to_i64(k, &t);
    // Beyond 63 bits (or negative: Python's ValueError) the interpreter takes over.
    let bad = cx.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, k, 63);
    cx.fail_if(bad, ErrCode::Deopt, line, &[]);
    let inst = instance(cx);
    cx.note_py_callback();
    let v = cx.call_helper("heron_random_bits", &[types::I64, types::I64], &[types::I64], &[inst, k])?;
    cx.made_call(e, &v);
    Ok(v)
}
