//! RISC-V F/D semantics on raw bit patterns, independent of the hart: every function takes
//! binary64 bits (`d`) or binary32 bits in the low 32 bits, and returns result bits and the
//! fflags it raises. NaN-boxing is the caller's business.
//!
//! NaN operands are decided here (the result is always the canonical NaN; NV for a signalling
//! operand, and for fma also for ∞ × 0 whatever the addend); everything else goes to the host
//! fast path when it can serve the rounding mode, else to the soft-float path. Both are exact.
use super::{hard, soft};

pub const NX: u8 = 1;
pub const UF: u8 = 2;
pub const OF: u8 = 4;
pub const DZ: u8 = 8;
pub const NV: u8 = 16;

pub const CANON_S: u64 = 0x7fc0_0000;
pub const CANON_D: u64 = 0x7ff8_0000_0000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Sqrt,
    /// `a * b + c` with one rounding.
    Fma,
}

/// Integer formats of the conversions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int {
    W,
    Wu,
    L,
    Lu,
}

#[inline(always)]
pub fn canon(d: bool) -> u64 {
    if d { CANON_D } else { CANON_S }
}

#[inline(always)]
pub fn sign(d: bool, a: u64) -> bool {
    if d { a >> 63 != 0 } else { (a >> 31) & 1 != 0 }
}

#[inline(always)]
fn exp_all_ones(d: bool, a: u64) -> bool {
    if d { a & 0x7ff0_0000_0000_0000 == 0x7ff0_0000_0000_0000 } else { a & 0x7f80_0000 == 0x7f80_0000 }
}

#[inline(always)]
fn frac(d: bool, a: u64) -> u64 {
    if d { a & 0x000f_ffff_ffff_ffff } else { a & 0x007f_ffff }
}

#[inline(always)]
pub fn is_nan(d: bool, a: u64) -> bool {
    exp_all_ones(d, a) && frac(d, a) != 0
}

#[inline(always)]
pub fn is_snan(d: bool, a: u64) -> bool {
    let quiet = if d { 1 << 51 } else { 1 << 22 };
    is_nan(d, a) && a & quiet == 0
}

#[inline(always)]
fn is_inf(d: bool, a: u64) -> bool {
    exp_all_ones(d, a) && frac(d, a) == 0
}

#[inline(always)]
fn is_zero(d: bool, a: u64) -> bool {
    if d { a << 1 == 0 } else { a << 33 == 0 }
}

/// The value as an f64 (exact for binary32).
#[inline(always)]
fn value(d: bool, a: u64) -> f64 {
    if d { f64::from_bits(a) } else { f32::from_bits(a as u32) as f64 }
}

/// Add, subtract, multiply, divide, square root (of `a`) or fused multiply-add under rounding
/// mode `rm` (0-4, already resolved).
pub fn arith(op: Arith, d: bool, a: u64, b: u64, c: u64, rm: u8) -> (u64, u8) {
    let nan_a = is_nan(d, a);
    let nan_b = op != Arith::Sqrt && is_nan(d, b);
    let nan_c = op == Arith::Fma && is_nan(d, c);
    if nan_a || nan_b || nan_c {
        let snan = is_snan(d, a) || (op != Arith::Sqrt && is_snan(d, b)) || (op == Arith::Fma && is_snan(d, c));
        let inf_zero = op == Arith::Fma
            && !nan_a
            && !nan_b
            && ((is_inf(d, a) && is_zero(d, b)) || (is_zero(d, a) && is_inf(d, b)));
        return (canon(d), if snan || inf_zero { NV } else { 0 });
    }
    let (r, f) = match hard::arith(op, d, a, b, c, rm) {
        Some(x) => x,
        None => soft::arith(op, d, a, b, c, rm),
    };
    if is_nan(d, r) { (canon(d), f) } else { (r, f) }
}

/// The common case without any status-register work: round to nearest even with NX already
/// accrued (as it is after the first inexact operation of almost any program) and a finite
/// result above the smallest normal number. Then the only flag the operation could raise is NX,
/// so the host's default arithmetic gives the result and nothing else is needed:
/// - NV only comes with a NaN result, DZ and (in this mode) OF only with an infinite one;
/// - UF needs a result tiny after rounding, so at most the smallest normal in magnitude;
/// - NaN or infinite operands never give a finite result above the smallest normal (x ± ∞,
///   x × ∞, ∞ / x, fma with an infinite factor or addend are ∞ or NaN; x / ∞ is 0), so the
///   operands need no test of their own.
///
/// This relies on the host's default floating-point environment (nearest-even, no FTZ/DAZ),
/// which Rust code may assume. `None`: use [`arith`].
#[inline(always)]
pub fn quick_d(op: Arith, a: f64, b: f64, c: f64) -> Option<u64> {
    let r = match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
        Arith::Sqrt => a.sqrt(),
        Arith::Fma => hard::fma_d(a, b, c)?,
    };
    const MIN: u64 = 0x0010_0000_0000_0000;
    const INF: u64 = 0x7ff0_0000_0000_0000;
    let mag = r.to_bits() & !(1 << 63);
    // MIN < mag < INF in one unsigned comparison.
    if mag.wrapping_sub(MIN + 1) < INF - MIN - 1 { Some(r.to_bits()) } else { None }
}

/// [`quick_d`] for binary32.
#[inline(always)]
pub fn quick_s(op: Arith, a: f32, b: f32, c: f32) -> Option<u64> {
    let r = match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
        Arith::Sqrt => a.sqrt(),
        Arith::Fma => hard::fma_s(a, b, c)?,
    };
    const MIN: u32 = 0x0080_0000;
    const INF: u32 = 0x7f80_0000;
    let mag = r.to_bits() & !(1 << 31);
    if mag.wrapping_sub(MIN + 1) < INF - MIN - 1 { Some(r.to_bits() as u64) } else { None }
}

/// The same through the soft-float path only (tests compare the two paths).
pub fn arith_soft(op: Arith, d: bool, a: u64, b: u64, c: u64, rm: u8) -> (u64, u8) {
    let nan = is_nan(d, a) || (op != Arith::Sqrt && is_nan(d, b)) || (op == Arith::Fma && is_nan(d, c));
    if nan {
        return arith(op, d, a, b, c, rm);
    }
    let (r, f) = soft::arith(op, d, a, b, c, rm);
    if is_nan(d, r) { (canon(d), f) } else { (r, f) }
}

/// fcvt.s.d
pub fn d_to_s(a: u64, rm: u8) -> (u64, u8) {
    if is_nan(true, a) {
        return (CANON_S, if is_snan(true, a) { NV } else { 0 });
    }
    match hard::d_to_s(a, rm) {
        Some(x) => x,
        None => soft::d_to_s(a, rm),
    }
}

/// fcvt.s.d through the soft-float path only (tests compare the two paths).
pub fn d_to_s_soft(a: u64, rm: u8) -> (u64, u8) {
    if is_nan(true, a) {
        return d_to_s(a, rm);
    }
    soft::d_to_s(a, rm)
}

/// fcvt.d.s (always exact)
pub fn s_to_d(a: u64) -> (u64, u8) {
    if is_nan(false, a) {
        return (CANON_D, if is_snan(false, a) { NV } else { 0 });
    }
    ((f32::from_bits(a as u32) as f64).to_bits(), 0)
}

/// fcvt.{w,wu,l,lu}.{s,d}: the integer result as the 64-bit register value (W forms
/// sign-extended); out of range or NaN saturates with NV.
pub fn to_int(d: bool, a: u64, kind: Int, rm: u8) -> (u64, u8) {
    let x = value(d, a);
    let (lo, hi) = match kind {
        Int::W => (-2147483648.0, 2147483648.0),
        Int::Wu => (0.0, 4294967296.0),
        Int::L => (-9223372036854775808.0, 9223372036854775808.0),
        Int::Lu => (0.0, 18446744073709551616.0),
    };
    let r = match rm {
        0 => x.round_ties_even(),
        1 => x.trunc(),
        2 => x.floor(),
        3 => x.ceil(),
        _ => x.round(),
    };
    if r >= lo && r < hi {
        let v = match kind {
            Int::W => r as i32 as i64 as u64,
            Int::Wu => r as u32 as i32 as i64 as u64,
            Int::L => r as i64 as u64,
            Int::Lu => r as u64,
        };
        return (v, if r != x { NX } else { 0 });
    }
    let neg = !x.is_nan() && x < 0.0;
    let v = match (kind, neg) {
        (Int::W, false) => i32::MAX as u64,
        (Int::W, true) => i32::MIN as i64 as u64,
        (Int::Wu, false) => u64::MAX, // 0xffff_ffff sign-extended
        (Int::L, false) => i64::MAX as u64,
        (Int::L, true) => i64::MIN as u64,
        (Int::Lu, false) => u64::MAX,
        (Int::Wu | Int::Lu, true) => 0,
    };
    (v, NV)
}

/// fcvt.{s,d}.{w,wu,l,lu}: `v` is the source register.
pub fn from_int(d: bool, v: u64, kind: Int, rm: u8) -> (u64, u8) {
    let n: i128 = match kind {
        Int::W => v as i32 as i128,
        Int::Wu => v as u32 as i128,
        Int::L => v as i64 as i128,
        Int::Lu => v as i128,
    };
    // `as` rounds to nearest, ties to even; an exact conversion is the same in every mode.
    let (bits, back) = if d {
        let r = n as f64;
        (r.to_bits(), r as i128)
    } else {
        let r = n as f32;
        (r.to_bits() as u64, r as i128)
    };
    if back == n {
        return (bits, 0);
    }
    if rm == 0 {
        return (bits, NX);
    }
    soft::from_int(d, n, rm)
}

/// fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber, -0 < +0).
pub fn min_max(d: bool, a: u64, b: u64, max: bool) -> (u64, u8) {
    let f = if is_snan(d, a) || is_snan(d, b) { NV } else { 0 };
    let r = match (is_nan(d, a), is_nan(d, b)) {
        (true, true) => canon(d),
        (true, false) => b,
        (false, true) => a,
        _ => {
            let (x, y) = (value(d, a), value(d, b));
            let pick_a = if x == y {
                sign(d, a) != max
            } else if max {
                x > y
            } else {
                x < y
            };
            if pick_a { a } else { b }
        }
    };
    (r, f)
}

/// feq (quiet), flt, fle (signalling).
pub fn compare(d: bool, a: u64, b: u64, which: u8) -> (u64, u8) {
    let nan = is_nan(d, a) || is_nan(d, b);
    let (x, y) = (value(d, a), value(d, b));
    match which {
        0 => ((x == y) as u64, if is_snan(d, a) || is_snan(d, b) { NV } else { 0 }),
        1 => ((x < y) as u64, if nan { NV } else { 0 }),
        _ => ((x <= y) as u64, if nan { NV } else { 0 }),
    }
}

/// fclass: one of bits 0-9.
pub fn classify(d: bool, a: u64) -> u64 {
    let neg = sign(d, a);
    let exp_zero = if d { a & 0x7ff0_0000_0000_0000 == 0 } else { a & 0x7f80_0000 == 0 };
    let bit = if is_inf(d, a) {
        if neg { 0 } else { 7 }
    } else if is_nan(d, a) {
        if is_snan(d, a) { 8 } else { 9 }
    } else if is_zero(d, a) {
        if neg { 3 } else { 4 }
    } else if exp_zero {
        if neg { 2 } else { 5 }
    } else if neg {
        1
    } else {
        6
    };
    1 << bit
}
