//! The exact slow path: `rustc_apfloat` (IEEE 754 in software, every rounding mode, status
//! flags), plus the two things it does not do the RISC-V way:
//!
//! - Tininess. RISC-V detects tininess after rounding (to the format's precision with an
//!   unbounded exponent). apfloat reports underflow only when its bounded result is subnormal, so
//!   it misses results that round up to the smallest normal number although the unbounded
//!   rounding would not have. Only such results (±MIN_NORMAL, inexact, no underflow) need a
//!   second look: the operation is redone toward zero in a wider format (Double for binary32,
//!   Quad for binary64) whose exact comparison with the thresholds decides.
//! - Square root, which apfloat lacks: the host's correctly rounded square root (IEEE 754
//!   requires it of every host), then an exact check of `r * r` against the operand to set the
//!   inexact flag and step to the neighbour the directed modes ask for.
//!
//! - Overflow. apfloat does not report overflow when the mode rounds an overflowing result to
//!   the largest finite number (IEEE 754 does); results of ±MAX that are inexact get the same
//!   wider-format second look.
//!
//! NaN operands never reach this module (see [`super::arith`]).
use super::arith::{Arith, DZ, NV, NX, OF, UF};
use rustc_apfloat::ieee::{Double, Quad, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

fn round(rm: u8) -> Round {
    match rm {
        0 => Round::NearestTiesToEven,
        1 => Round::TowardZero,
        2 => Round::TowardNegative,
        3 => Round::TowardPositive,
        _ => Round::NearestTiesToAway,
    }
}

fn flags(s: Status) -> u8 {
    let mut f = 0;
    if s.contains(Status::INVALID_OP) {
        f |= NV;
    }
    if s.contains(Status::DIV_BY_ZERO) {
        f |= DZ;
    }
    if s.contains(Status::OVERFLOW) {
        f |= OF;
    }
    if s.contains(Status::UNDERFLOW) {
        f |= UF;
    }
    if s.contains(Status::INEXACT) {
        f |= NX;
    }
    f
}

fn apply<F: Float>(op: Arith, a: F, b: F, c: F, r: Round) -> StatusAnd<F> {
    match op {
        Arith::Add => a.add_r(b, r),
        Arith::Sub => a.sub_r(b, r),
        Arith::Mul => a.mul_r(b, r),
        Arith::Div => a.div_r(b, r),
        Arith::Fma => a.mul_add_r(b, c, r),
        Arith::Sqrt => unreachable!("square root is not an apfloat operation"),
    }
}

/// Bits of `1.(ones ones) x 2^exp` in a format with `mbits` fraction bits and exponent `bias`.
const fn wide_bits(exp: i32, ones: u32, bias: i32, mbits: u32) -> u128 {
    (((exp + bias) as u128) << mbits) | (((1u128 << ones) - 1) << (mbits - ones))
}

/// binary32 thresholds as Doubles: T = MIN_NORMAL (1 - 2^-25), P = MIN_NORMAL (1 - 2^-24).
const S_T: u128 = wide_bits(-127, 24, 1023, 52);
const S_P: u128 = wide_bits(-127, 23, 1023, 52);
/// binary64 thresholds as Quads: T = MIN_NORMAL (1 - 2^-54), P = MIN_NORMAL (1 - 2^-53).
const D_T: u128 = wide_bits(-1023, 53, 16383, 112);
const D_P: u128 = wide_bits(-1023, 52, 16383, 112);

/// Whether an exact value `x` whose bounded rounding under `rm` gave ±MIN_NORMAL is tiny after
/// rounding. `w` is `x` rounded toward zero in a wider format, `exact` whether that was exact.
fn tiny_after_rounding<W: Float>(w: W, exact: bool, rm: u8, t: W, p: W) -> bool {
    let neg = w.is_negative();
    let w = w.abs();
    match rm {
        0 | 4 => w < t,
        2 if neg => w < p || (w == p && exact),
        3 if !neg => w < p || (w == p && exact),
        _ => false,
    }
}

const S_MIN_NORMAL: u64 = 0x0080_0000;
const D_MIN_NORMAL: u64 = 0x0010_0000_0000_0000;
const S_MAX: u64 = 0x7f7f_ffff;
const D_MAX: u64 = 0x7fef_ffff_ffff_ffff;
/// 2^128 as a Double and 2^1024 as a Quad: the smallest magnitudes that overflow when rounded
/// toward zero with an unbounded exponent.
const S_L: u128 = ((1023 + 128) as u128) << 52;
const D_L: u128 = ((16383 + 1024) as u128) << 112;

/// `op` (not square root) on binary64 (`d`) or binary32 operands; fma computes `a * b + c`.
pub fn arith(op: Arith, d: bool, a: u64, b: u64, c: u64, rm: u8) -> (u64, u8) {
    if op == Arith::Sqrt {
        return sqrt(d, a, rm);
    }
    let r = round(rm);
    if d {
        let (x, y, z) = (Double::from_bits(a as u128), Double::from_bits(b as u128), Double::from_bits(c as u128));
        let res = apply(op, x, y, z, r);
        let bits = res.value.to_bits() as u64;
        let mut f = flags(res.status);
        let mag = bits & !(1 << 63);
        let tiny_q = mag == D_MIN_NORMAL && f & (NX | UF) == NX;
        let huge_q = mag == D_MAX && f & (NX | OF) == NX;
        if tiny_q || huge_q {
            let q = |v: Double| -> Quad { v.convert(&mut false).value };
            let w = apply(op, q(x), q(y), q(z), Round::TowardZero);
            let exact = !w.status.contains(Status::INEXACT);
            if tiny_q && tiny_after_rounding(w.value, exact, rm, Quad::from_bits(D_T), Quad::from_bits(D_P)) {
                f |= UF;
            }
            if huge_q && w.value.abs() >= Quad::from_bits(D_L) {
                f |= OF;
            }
        }
        (bits, f)
    } else {
        let (x, y, z) = (Single::from_bits(a as u32 as u128), Single::from_bits(b as u32 as u128), Single::from_bits(c as u32 as u128));
        let res = apply(op, x, y, z, r);
        let bits = res.value.to_bits() as u64;
        let mut f = flags(res.status);
        let mag = bits & !(1 << 31);
        let tiny_q = mag == S_MIN_NORMAL && f & (NX | UF) == NX;
        let huge_q = mag == S_MAX && f & (NX | OF) == NX;
        if tiny_q || huge_q {
            let w8 = |v: Single| -> Double { v.convert(&mut false).value };
            let w = apply(op, w8(x), w8(y), w8(z), Round::TowardZero);
            let exact = !w.status.contains(Status::INEXACT);
            if tiny_q && tiny_after_rounding(w.value, exact, rm, Double::from_bits(S_T), Double::from_bits(S_P)) {
                f |= UF;
            }
            if huge_q && w.value.abs() >= Double::from_bits(S_L) {
                f |= OF;
            }
        }
        (bits, f)
    }
}

/// binary64 -> binary32 (not NaN).
pub fn d_to_s(a: u64, rm: u8) -> (u64, u8) {
    let x = Double::from_bits(a as u128);
    let res: StatusAnd<Single> = x.convert_r(round(rm), &mut false);
    let bits = res.value.to_bits() as u64;
    let mut f = flags(res.status);
    let mag = bits & !(1 << 31);
    if mag == S_MIN_NORMAL && f & (NX | UF) == NX
        && tiny_after_rounding(x, true, rm, Double::from_bits(S_T), Double::from_bits(S_P))
    {
        f |= UF;
    }
    if mag == S_MAX && f & (NX | OF) == NX && x.abs() >= Double::from_bits(S_L) {
        f |= OF;
    }
    (bits, f)
}

/// A signed or unsigned integer (as i128) to binary64 / binary32 under `rm`.
pub fn from_int(d: bool, v: i128, rm: u8) -> (u64, u8) {
    if d {
        let r = Double::from_i128_r(v, round(rm));
        (r.value.to_bits() as u64, flags(r.status))
    } else {
        let r = Single::from_i128_r(v, round(rm));
        (r.value.to_bits() as u64, flags(r.status))
    }
}

/// Square root (not NaN) under any rounding mode (ties cannot occur, so 4 equals 0).
pub fn sqrt(d: bool, a: u64, rm: u8) -> (u64, u8) {
    let sign = if d { a >> 63 } else { (a >> 31) & 1 };
    let mag = if d { a << 1 } else { (a as u32 as u64) << 33 };
    if mag == 0 {
        return (a, 0); // ±0
    }
    if sign == 1 {
        return (if d { super::arith::CANON_D } else { super::arith::CANON_S }, NV);
    }
    let down = rm == 1 || rm == 2;
    let up = rm == 3;
    if d {
        let x = f64::from_bits(a);
        if x.is_infinite() {
            return (a, 0);
        }
        // Scale tiny operands by an even power of two so the check below cannot underflow.
        let (xs, k): (f64, i64) = if x < f64::from_bits(0x07b0_0000_0000_0000) { (x * f64::from_bits((1023 + 108) << 52), -54) } else { (x, 0) };
        let mut r = xs.sqrt();
        let q = |v: f64| -> Quad { Double::from_bits(v.to_bits() as u128).convert(&mut false).value };
        let sq = q(r).mul_r(q(r), Round::NearestTiesToEven).value; // exact: 106 bits
        let ord = q(xs).partial_cmp(&sq).unwrap();
        let mut f = 0;
        if ord != core::cmp::Ordering::Equal {
            f = NX;
            if down && ord == core::cmp::Ordering::Less {
                r = f64::from_bits(r.to_bits() - 1);
            } else if up && ord == core::cmp::Ordering::Greater {
                r = f64::from_bits(r.to_bits() + 1);
            }
        }
        ((r * f64::from_bits(((1023 + k) as u64) << 52)).to_bits(), f)
    } else {
        let x = f32::from_bits(a as u32);
        if x.is_infinite() {
            return (a, 0);
        }
        let xd = x as f64;
        let mut r = xd.sqrt() as f32; // double rounding is innocuous for sqrt (53 >= 2*24+2)
        let rd = r as f64;
        let sq = rd * rd; // exact: 48 bits
        let mut f = 0;
        if sq != xd {
            f = NX;
            if down && sq > xd {
                r = f32::from_bits(r.to_bits() - 1);
            } else if up && sq < xd {
                r = f32::from_bits(r.to_bits() + 1);
            }
        }
        (r.to_bits() as u64, f)
    }
}
