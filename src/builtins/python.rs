//! Python's builtins compiled natively: `abs`, `min`, `max`, `int`, `float`, `bool`, `round`,
//! `len`, `divmod`, and `print` (typed here, emitted by `codegen::call` as a callback into the
//! runtime). Each has its type rule and its lowering next to each other.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::{cerr, Builtin, Lower};
use crate::abi::{ErrCode, NpWarn};
use crate::ir::{BinOp, CResult, CmpOp, Expr};
use crate::types::{DType, Form, Type};

const fn call(name: &'static str, rule: super::RuleFn, lower: super::LowerFn) -> Builtin {
    Builtin { name, form: Form::Call, since: 0, sym: "", dtype: None, rule, lower: Some(lower) }
}

/// `float`, `int` and `bool` also name a dtype (`numpy.zeros(n, dtype=int)`).
const fn scalar(name: &'static str, d: DType, rule: super::RuleFn, lower: super::LowerFn) -> Builtin {
    Builtin { name, form: Form::Call, since: 0, sym: "", dtype: Some(d), rule, lower: Some(lower) }
}

/// The Python builtins Heron compiles.
pub static BUILTINS: &[Builtin] = &[
    call("abs", abs_type, lower_abs),
    call("min", min_max_type, lower_min_max),
    call("max", min_max_type, lower_min_max),
    scalar("int", DType::I64, int_type, lower_int),
    scalar("float", DType::F64, float_type, lower_float),
    scalar("bool", DType::Bool, bool_type, lower_bool),
    call("round", round_type, lower_round),
    call("len", len_type, lower_len),
    Builtin { name: "print", form: Form::Print, since: 0, sym: "heron_print", dtype: None, rule: print_type, lower: None },
    call("divmod", divmod_type, lower_divmod),
    call("$is_none", is_none_type, lower_is_none),
    call("$true", true_type, lower_true),
    call("$sum_comp", sum_comp_type, lower_sum_comp),
    call("$sum_fixed", sum_fixed_type, lower_sum_fixed),
    call("$eager_items", eager_items_type, lower_true),
];

/// The Heron functions this family's lowerings call by symbol, besides the runtime's own (see
/// `super::Helper`).
pub static HELPERS: &[super::Helper] = &[];

/// The builtin by its name in the `builtins` module.
pub fn python(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().chain(super::complex::BUILTINS).find(|b| b.name == name)
}

/// `Ok` when `args` has `k` entries, else the error for it.
fn need(args: &[Type], k: usize, line: u32) -> CResult<()> {
    let n = args.len();
    if n == k {
        Ok(())
    } else {
        cerr(format!("this builtin takes {k} argument(s) here, got {n}"), line)
    }
}

// ---- abs --------------------------------------------------------------------------------

fn abs_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 1, line)?;
    match &args[0] {
        Type::Bool | Type::Int => Ok(Type::Int),
        Type::Float | Type::Complex => Ok(Type::Float),
        Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(args[0].clone()),
        t => cerr(format!("abs() of a {t} is not supported"), line),
    }
}

fn lower_abs(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let rt = cx.ty(e);
    let t0 = cx.ty(&args[0]);
    let v = cx.expr(&args[0])?;
    if t0 == Type::Complex {
        return super::complex::lower_abs(cx, v, line);
    }
    match &rt {
        Type::Float | Type::Np(DType::F64) | Type::Np(DType::F32) => Ok(vec![cx.ins().fabs(v[0])]),
        Type::Int | Type::Np(_) => {
            let x = cx.to_i64(v, &t0);
            let z = cx.iconst(0);
            let (neg, of) = cx.ins().ssub_overflow(z, x);
            let is_neg = cx.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
            let r = cx.ins().select(is_neg, neg, x);
            match rt {
                // NumPy: abs(MIN) is MIN, with "overflow encountered in scalar absolute".
                Type::Np(d) => {
                    let bad = if d == DType::I64 { of } else { cx.out_of_range(r, d) };
                    cx.np_warn_if(bad, NpWarn::Absolute, line);
                    Ok(vec![cx.wrap_to(r, d)])
                }
                _ => {
                    cx.fail_if(of, ErrCode::Overflow, line, &[]);
                    Ok(vec![r])
                }
            }
        }
        _ => cerr(format!("abs() of a {t0}"), line),
    }
}

// ---- min, max ---------------------------------------------------------------------------

fn min_max_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.len() < 2 {
        return cerr("min()/max() of a sequence is not supported yet; pass the values as arguments", line);
    }
    let t0 = &args[0];
    if !t0.is_scalar() {
        return cerr(format!("min()/max() of a {t0} is not supported"), line);
    }
    if t0 == &Type::Np(DType::U64) {
        return cerr("min()/max() of numpy.uint64 is not supported", line);
    }
    if let Some(t) = args.iter().find(|t| *t != t0) {
        // Python returns whichever argument wins, keeping its type: both types would be possible.
        return cerr(format!("min()/max() between a {t0} and a {t} returns either type; Heron needs one type (convert with float() or int())"), line);
    }
    Ok(t0.clone())
}

fn lower_min_max(cx: &mut dyn Lower<'_>, b: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    // Python keeps the first extreme: it replaces the current value only when the next one is
    // strictly smaller (min) or larger (max). NaN comparisons are false.
    let op = if b.name == "min" { CmpOp::Lt } else { CmpOp::Gt };
    let t = cx.ty(&args[0]);
    let mut cur = cx.expr(&args[0])?;
    for a in &args[1..] {
        let v = cx.expr(a)?;
        let better = cx.compare(op, v.clone(), &t, cur.clone(), &t, line)?;
        cur = vec![cx.ins().select(better, v[0], cur[0])];
    }
    Ok(cur)
}

// ---- int, float, bool -------------------------------------------------------------------

fn int_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 1, line)?;
    if !args[0].is_scalar() || args[0] == Type::Np(DType::U64) {
        return cerr(format!("int() of a {} is not supported", args[0]), line);
    }
    Ok(Type::Int)
}

fn lower_int(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let t0 = cx.ty(&args[0]);
    let v = cx.expr(&args[0])?;
    if t0.is_floatlike() {
        Ok(vec![cx.float_to_int(v[0], line)])
    } else {
        Ok(vec![cx.to_i64(v, &t0)])
    }
}

fn float_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.is_empty() {
        return Ok(Type::Float);
    }
    need(args, 1, line)?;
    if !args[0].is_scalar() {
        return cerr(format!("float() of a {} is not supported", args[0]), line);
    }
    Ok(Type::Float)
}

fn lower_float(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    if args.is_empty() {
        return Ok(vec![cx.ins().f64const(0.0)]);
    }
    let t0 = cx.ty(&args[0]);
    let v = cx.expr(&args[0])?;
    Ok(vec![cx.cast_scalar(v[0], &t0, DType::F64)])
}

fn bool_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.is_empty() {
        return Ok(Type::Bool);
    }
    need(args, 1, line)?;
    if !(args[0].is_scalar() || args[0] == Type::None || args[0] == Type::Complex) {
        return cerr(format!("bool() of a {} is not supported", args[0]), line);
    }
    Ok(Type::Bool)
}

fn lower_bool(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    if args.is_empty() {
        return Ok(vec![cx.ins().iconst(types::I8, 0)]);
    }
    let t0 = cx.ty(&args[0]);
    let v = cx.expr(&args[0])?;
    Ok(vec![cx.truth_of(&v, &t0)?])
}

// ---- round ------------------------------------------------------------------------------

fn round_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.len() == 2 {
        // float.__round__(ndigits): a float, correctly rounded (CPython's double_round).
        return match (&args[0], &args[1]) {
            (Type::Float, Type::Int | Type::Bool) => Ok(Type::Float),
            (a, b) => cerr(format!("round() of a {a} with {b} digits is not supported yet"), line),
        };
    }
    need(args, 1, line)?;
    match &args[0] {
        Type::Bool | Type::Int | Type::Float => Ok(Type::Int),
        Type::Np(d) if *d != DType::Bool && *d != DType::U64 => Ok(Type::Int),
        t => cerr(format!("round() of a {t} is not supported"), line),
    }
}

fn lower_round(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let t0 = cx.ty(&args[0]);
    if args.len() == 2 {
        // CPython's double_round, in the runtime (`heron_round_ndigits`).
        let t1 = cx.ty(&args[1]);
        let x = cx.expr(&args[0])?[0];
        let nv = cx.expr(&args[1])?;
        let n = cx.to_i64(nv, &t1);
        let env = cx.env();
        let f = types::F64;
        let r = cx.call_helper("heron_round_ndigits", &[f, types::I64, types::I64], &[f], &[x, n, env])?[0];
        cx.fail_if_env_error(line);
        return Ok(vec![r]);
    }
    let v = cx.expr(&args[0])?;
    if t0.is_floatlike() {
        // Round half to even, as float.__round__ (and numpy's) without ndigits.
        let r = cx.ins().nearest(v[0]);
        Ok(vec![cx.float_to_int(r, line)])
    } else {
        Ok(vec![cx.to_i64(v, &t0)])
    }
}

// ---- len --------------------------------------------------------------------------------

fn len_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 1, line)?;
    match &args[0] {
        Type::Array(a) if a.ndim >= 1 => Ok(Type::Int),
        Type::Tuple(_) => Ok(Type::Int),
        t => cerr(format!("len() of a {t} is not supported"), line),
    }
}

fn lower_len(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    match cx.ty(&args[0]) {
        Type::Tuple(items) => Ok(vec![cx.iconst(items.len() as i64)]),
        _ => {
            // An array is flattened as [data, shape..., strides...]: its length is shape[0].
            let v = cx.expr(&args[0])?;
            Ok(vec![v[1]])
        }
    }
}

// ---- divmod -----------------------------------------------------------------------------

fn divmod_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 2, line)?;
    match (&args[0], &args[1]) {
        (Type::Int | Type::Bool, Type::Int | Type::Bool) => Ok(Type::Tuple(vec![Type::Int, Type::Int])),
        (Type::Int | Type::Bool | Type::Float, Type::Int | Type::Bool | Type::Float) => Ok(Type::Tuple(vec![Type::Float, Type::Float])),
        (a, b) => cerr(format!("divmod() of a {a} and a {b} is not supported yet"), line),
    }
}

fn lower_divmod(cx: &mut dyn Lower<'_>, _: &Builtin, e: &Expr, args: &[Expr], line: u32) -> CResult<Vec<Value>> {
    let rt = cx.ty(e);
    let (t0, t1) = (cx.ty(&args[0]), cx.ty(&args[1]));
    let a = cx.expr(&args[0])?;
    let b = cx.expr(&args[1])?;
    let Type::Tuple(parts) = &rt else { unreachable!() };
    if parts[0] == Type::Float {
        // divmod of floats has its own message ("float divmod()").
        let fb = cx.cast_scalar(b[0], &t1, DType::F64);
        let z = cx.ins().f64const(0.0);
        let zero = cx.ins().fcmp(FloatCC::Equal, fb, z);
        cx.fail_if(zero, ErrCode::FloatDivmodZero, line, &[]);
    }
    let q = cx.binop(BinOp::FloorDiv, a.clone(), &t0, b.clone(), &t1, &parts[0], line)?;
    let r = cx.binop(BinOp::Mod, a, &t0, b, &t1, &parts[1], line)?;
    Ok(vec![q[0], r[0]])
}

// ---- print ------------------------------------------------------------------------------

/// `print(...)`'s values (its keywords are checked by inference): scalars, strings, None.
/// Codegen emits the call (`codegen::call::print`): the values go to a slot buffer and the
/// runtime's `heron_print` prints them with the GIL.
fn print_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    for t in args {
        if !(t.is_scalar() || *t == Type::Str || *t == Type::None || *t == Type::Complex) {
            return cerr(format!("printing a {t} is not supported yet"), line);
        }
    }
    Ok(Type::None)
}

// ---- x is None ----------------------------------------------------------------------------

/// `x is None` (the front end's `$is_none(x)`): a bool decided by the type of `x` (a value of
/// one type per specialization; a callee's None-or-number result is speculated first).
fn is_none_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 1, line)?;
    Ok(Type::Bool)
}

fn lower_is_none(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let none = cx.ty(&args[0]) == Type::None;
    cx.expr(&args[0])?;
    Ok(vec![cx.ins().iconst(cranelift_codegen::ir::types::I8, none as i64)])
}

// ---- comprehensions (heron._comprehensions) ---------------------------------------------

/// `$builtin_sum()` and the like: the name is the builtin (the resolver guards it), always true.
fn true_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 0, line)?;
    Ok(Type::Bool)
}

fn lower_true(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, _: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    Ok(vec![cx.ins().iconst(types::I8, 1)])
}

/// `$sum_comp(c, total, x)`: the compensation of `sum()` after adding `x` to `total`. From
/// CPython 3.12 on (gh-100425, Python/bltinmodule.c `builtin_sum_impl`), a sum that is a Python
/// float adds Python float items by Neumaier's algorithm: `t = total + x`; `c += (total - t)
/// + x` when `|total| >= |x|`, else `c += (x - t) + total`. Any other pair of types leaves `c`
/// as it is (the plain `PyNumber_Add` path). `total` may still be the int 0 it started as (a
/// variable that changes type, held as a float): its step gives `c` 0 (or NaN after an
/// infinite item, which CPython reaches at the next item and never adds either).
fn sum_comp_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    if args.len() != 4 {
        need(args, 3, line)?;
    }
    Ok(Type::Float)
}

fn lower_sum_comp(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let c = cx.expr(&args[0])?[0];
    let total = cx.expr(&args[1])?;
    let x = cx.expr(&args[2])?;
    if cx.ty(&args[1]) != Type::Float || cx.ty(&args[2]) != Type::Float {
        return Ok(vec![c]);
    }
    let (total, x) = (total[0], x[0]);
    let t = cx.ins().fadd(total, x);
    let at = cx.ins().fabs(total);
    let ax = cx.ins().fabs(x);
    let ge = cx.ins().fcmp(FloatCC::GreaterThanOrEqual, at, ax);
    let d1 = cx.ins().fsub(total, t);
    let d1 = cx.ins().fadd(d1, x);
    let d2 = cx.ins().fsub(x, t);
    let d2 = cx.ins().fadd(d2, total);
    let d = cx.ins().select(ge, d1, d2);
    Ok(vec![cx.ins().fadd(c, d)])
}

/// `$eager_items(x)`: `x` is an item of a list comprehension summed as it is made, which is
/// exact only when adding items cannot warn (not NumPy scalars: `sum([np.log(x) ...])` warns
/// for every log before any addition).
fn eager_items_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 1, line)?;
    if let Type::Np(_) = args[0] {
        return cerr("sum() of a list comprehension of NumPy scalars is not compiled yet (its warnings would come in another order); a generator expression is", line);
    }
    Ok(Type::Bool)
}

/// `$sum_fixed(total, c)`: the end of a compensated `sum()` (run only when `c` is finite and
/// nonzero, which needs a float total): `total + c` for a float, `total` itself otherwise.
/// Inference types it as `total`'s representation (not per member: see `infer_expr`).
fn sum_fixed_type(_: &Builtin, args: &[Type], line: u32) -> CResult<Type> {
    need(args, 2, line)?;
    Ok(args[0].clone())
}

fn lower_sum_fixed(cx: &mut dyn Lower<'_>, _: &Builtin, _: &Expr, args: &[Expr], _line: u32) -> CResult<Vec<Value>> {
    let total = cx.expr(&args[0])?;
    let c = cx.expr(&args[1])?[0];
    if cx.ty(&args[0]) != Type::Float {
        return Ok(total);
    }
    Ok(vec![cx.ins().fadd(total[0], c)])
}
