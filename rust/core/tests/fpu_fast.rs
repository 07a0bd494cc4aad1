//! The host fast paths of the F/D unit are exact: every operation that runs on the host's
//! floating-point hardware (hart/fpu/hard.rs: SSE/FMA with MXCSR rounding and flags; the quick
//! nearest-even paths in arith.rs; the conversions, comparisons, min/max and classification that
//! use host arithmetic) gives the same result bits AND the same fflags as a software reference,
//! in every rounding mode (RNE, RTZ, RDN, RUP, RMM), on random bit patterns plus a corpus of
//! special and boundary operands.
//!
//! References: the crate's soft-float path (rustc_apfloat plus the RISC-V tininess/overflow
//! fix-ups) for add/sub/mul/div/sqrt/fma and fcvt.s.d; rustc_apfloat directly for the integer
//! conversions, fcvt.d.s, comparisons and classification; the spec's words for fmin/fmax.
//!
//! Size: `PLTVM_FPU_SAMPLES` operand tuples per test (default 100,000, each run in all five
//! rounding modes and, for arithmetic, all six operations); set it to millions for a long run.
use pltvm_core::hart::fpu::arith::*;
use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status};

fn samples() -> u64 {
    std::env::var("PLTVM_FPU_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Format parameters: fraction bits, exponent bits.
fn fmt(d: bool) -> (u32, u32) {
    if d { (52, 11) } else { (23, 8) }
}

fn pack(d: bool, sign: u64, exp: u64, frac: u64) -> u64 {
    let (m, e) = fmt(d);
    (sign << (m + e)) | ((exp & ((1 << e) - 1)) << m) | (frac & ((1 << m) - 1))
}

fn exp_of(d: bool, a: u64) -> u64 {
    let (m, e) = fmt(d);
    (a >> m) & ((1 << e) - 1)
}

fn specials(d: bool) -> Vec<u64> {
    let (m, e) = fmt(d);
    let emax = (1u64 << e) - 1;
    let bias = emax >> 1;
    let fmax = (1u64 << m) - 1;
    let quiet = 1u64 << (m - 1);
    let mut v = vec![
        pack(d, 0, 0, 0),
        pack(d, 0, emax, 0),
        pack(d, 0, emax, quiet),           // canonical qNaN
        pack(d, 0, emax, quiet | 0x1234),  // qNaN with payload
        pack(d, 0, emax, 1),               // sNaN
        pack(d, 0, emax, quiet >> 1),      // sNaN
        pack(d, 0, 0, 1),                  // smallest subnormal
        pack(d, 0, 0, fmax),               // largest subnormal
        pack(d, 0, 0, quiet),              // subnormal, half the smallest normal
        pack(d, 0, 1, 0),                  // smallest normal
        pack(d, 0, 1, 1),
        pack(d, 0, emax - 1, fmax),        // largest normal
        pack(d, 0, emax - 1, fmax - 1),
        pack(d, 0, bias, 0),               // 1
        pack(d, 0, bias, 1),               // 1 + ulp
        pack(d, 0, bias - 1, fmax),        // 1 - ulp/2
        pack(d, 0, bias - 1, 0),           // 0.5
        pack(d, 0, bias, quiet),           // 1.5
        pack(d, 0, bias + 1, quiet >> 1),  // 2.5
        pack(d, 0, bias + 1, quiet),       // 3
    ];
    // Integer-conversion boundaries 2^31, 2^32, 2^63, 2^64 and their neighbours.
    for k in [31u64, 32, 63, 64] {
        v.push(pack(d, 0, bias + k, 0));
        v.push(pack(d, 0, bias + k - 1, fmax));
        v.push(pack(d, 0, bias + k, 1));
    }
    // 2^31 - 0.5, 2^32 - 0.5 (ties at the top of the W/WU ranges; exact in binary64 only).
    if d {
        v.push((2147483647.5f64).to_bits());
        v.push((4294967295.5f64).to_bits());
        v.push((-2147483648.5f64).to_bits());
    }
    let n = v.len();
    for k in 0..n {
        v.push(v[k] | 1 << (m + e)); // the negatives
    }
    v
}

/// An operand: a special, a binade edge (biased exponent 0, 1, max, near the bias, random) with a
/// patterned or random fraction, or plain random bits.
fn operand(r: &mut Rng, d: bool, sp: &[u64]) -> u64 {
    let (m, e) = fmt(d);
    let emax = (1u64 << e) - 1;
    let bias = emax >> 1;
    match r.next() % 8 {
        0 | 1 => r.pick(sp),
        2 => r.next() & if d { u64::MAX } else { 0xffff_ffff },
        _ => {
            let x = r.next();
            let exp = match x % 8 {
                0 => 0,
                1 => 1,
                2 => emax,
                3 => emax - 1,
                4 | 5 => bias + (x >> 8) % 9 - 4,
                _ => (x >> 8) % (emax + 1),
            };
            let frac = match (x >> 20) % 6 {
                0 => 0,
                1 => (1 << m) - 1,
                2 => 1,
                3 => ((1 << m) - 1) ^ (1 << (r.next() % m as u64)),
                _ => r.next(),
            };
            pack(d, (x >> 40) & 1, exp, frac)
        }
    }
}

/// `b` placed relative to `a` so that `op` lands on a rounding boundary, in the underflow zone
/// or next to overflow (plain random operands seldom do).
fn partner(r: &mut Rng, d: bool, op: Arith, a: u64) -> u64 {
    let (m, e) = fmt(d);
    let emax = (1u64 << e) - 1;
    let bias = emax >> 1;
    let ea = exp_of(d, a);
    let frac = match r.next() % 3 {
        0 => 0,
        1 => 1 << (m - 1),
        _ => r.next(),
    };
    let sign = r.next() & 1;
    let exp = match op {
        // Half an ulp of `a` and around: ties and sticky bits.
        Arith::Add | Arith::Sub | Arith::Fma => ea.wrapping_sub(m as u64 + 1 + r.next() % 3),
        // Products/quotients whose exponent is near the bottom or the top of the range.
        Arith::Mul => {
            if r.next() % 2 == 0 { (bias + 1).wrapping_sub(ea).wrapping_add(r.next() % 5).wrapping_sub(2) }
            else { (emax - 1 + bias).wrapping_sub(ea).wrapping_add(r.next() % 3).wrapping_sub(1) }
        }
        Arith::Div => {
            if r.next() % 2 == 0 { ea.wrapping_add(bias).wrapping_sub(1).wrapping_add(r.next() % 5).wrapping_sub(2) }
            else { ea.wrapping_sub(bias - 1).wrapping_add(r.next() % 3).wrapping_sub(1) }
        }
        Arith::Sqrt => r.next(),
    };
    if exp >= emax { pack(d, sign, r.next() % emax, frac) } else { pack(d, sign, exp, frac) }
}

const OPS: [Arith; 6] = [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div, Arith::Sqrt, Arith::Fma];

fn quick(op: Arith, d: bool, a: u64, b: u64, c: u64) -> Option<u64> {
    if d {
        quick_d(op, f64::from_bits(a), f64::from_bits(b), f64::from_bits(c))
    } else {
        let f = |x: u64| f32::from_bits(x as u32);
        quick_s(op, f(a), f(b), f(c))
    }
}

/// Host path (MXCSR, when it serves the mode) and quick path against the soft-float path.
#[test]
fn host_arithmetic_matches_soft_float_in_every_mode() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let (spd, sps) = (specials(true), specials(false));
    let (mut quick_taken, mut flagged) = (0u64, [0u64; 5]);
    for n in 0..samples() {
        let d = n % 2 == 0;
        let sp = if d { &spd } else { &sps };
        for op in OPS {
            let a = operand(&mut r, d, sp);
            let b = if r.next() % 3 == 0 { partner(&mut r, d, op, a) } else { operand(&mut r, d, sp) };
            let mut c = operand(&mut r, d, sp);
            if op == Arith::Fma && r.next() % 3 == 0 {
                // The negated rounded product (± a few ulps): the residual decides everything.
                let p = arith_soft(Arith::Mul, d, a, b, 0, 0).0 ^ if d { 1 << 63 } else { 1 << 31 };
                c = p.wrapping_add(r.next() % 5).wrapping_sub(2);
            }
            for rm in 0..=4u8 {
                let want = arith_soft(op, d, a, b, c, rm);
                let got = arith(op, d, a, b, c, rm);
                assert_eq!(got, want, "{op:?} d={d} rm={rm} a={a:#x} b={b:#x} c={c:#x} (bits, fflags)");
                for (k, f) in flagged.iter_mut().enumerate() {
                    *f += (want.1 >> k) as u64 & 1;
                }
                if rm == 0 {
                    if let Some(q) = quick(op, d, a, b, c) {
                        quick_taken += 1;
                        assert_eq!(q, want.0, "quick {op:?} d={d} a={a:#x} b={b:#x} c={c:#x}");
                        assert_eq!(want.1 & !NX, 0, "quick {op:?} d={d} a={a:#x} b={b:#x} c={c:#x} raised {:#x}", want.1);
                    }
                }
            }
        }
    }
    // The corpus really reaches every flag and the quick path (else this test proves little).
    let n = samples();
    assert!(quick_taken > n, "quick path taken {quick_taken} times");
    for (k, f) in flagged.iter().enumerate() {
        assert!(*f > n / 100, "fflags bit {k} raised only {f} times");
    }
}

#[test]
fn host_narrowing_matches_soft_float_in_every_mode() {
    let mut r = Rng(0x1234_5678_9abc_def1);
    let sp = specials(true);
    for _ in 0..samples() {
        let mut a = operand(&mut r, true, &sp);
        if r.next() % 2 == 0 {
            // Doubles near the binary32 range's ends and rounding points.
            let e = r.pick(&[1023 - 126, 1023 - 127, 1023 - 149, 1023 - 150, 1023 + 127, 1023 + 128, 1023]);
            let any = r.next();
            a = pack(true, r.next() & 1, e, r.pick(&[0, 1 << 28, (1 << 28) + 1, (1 << 28) - 1, any]));
        }
        for rm in 0..=4u8 {
            assert_eq!(d_to_s(a, rm), d_to_s_soft(a, rm), "fcvt.s.d rm={rm} a={a:#x}");
        }
    }
}

fn round(rm: u8) -> Round {
    [Round::NearestTiesToEven, Round::TowardZero, Round::TowardNegative, Round::TowardPositive, Round::NearestTiesToAway]
        [rm as usize]
}

fn flags(s: Status) -> u8 {
    let mut f = 0;
    for (st, bit) in [(Status::INVALID_OP, NV), (Status::DIV_BY_ZERO, DZ), (Status::OVERFLOW, OF), (Status::UNDERFLOW, UF), (Status::INEXACT, NX)] {
        if s.contains(st) {
            f |= bit;
        }
    }
    f
}

/// fcvt to an integer by the spec: round in `rm`; NaN and out-of-range saturate with NV only.
fn ref_to_int<F: Float>(x: F, kind: Int, rm: u8) -> (u64, u8) {
    // Unsigned kinds are converted as signed one bit wider, so negative inputs are visible.
    let (width, lo, hi): (usize, i128, i128) = match kind {
        Int::W => (32, i32::MIN as i128, i32::MAX as i128),
        Int::Wu => (33, 0, u32::MAX as i128),
        Int::L => (64, i64::MIN as i128, i64::MAX as i128),
        Int::Lu => (65, 0, u64::MAX as i128),
    };
    let enc = |v: i128| match kind {
        Int::W | Int::Wu => v as i32 as i64 as u64,
        _ => v as u64,
    };
    if x.is_nan() {
        return (enc(hi), NV);
    }
    let res = x.to_i128_r(width, round(rm), &mut false);
    if res.status.contains(Status::INVALID_OP) || res.value < lo || res.value > hi {
        return (enc(if x.is_negative() { lo } else { hi }), NV);
    }
    (enc(res.value), flags(res.status))
}

fn ref_from_int<F: Float>(n: i128, rm: u8) -> (u64, u8) {
    let r = F::from_i128_r(n, round(rm));
    (r.value.to_bits() as u64, flags(r.status))
}

#[test]
fn conversions_match_apfloat_in_every_mode() {
    let mut r = Rng(0x0bad_5eed_dead_beef);
    let (spd, sps) = (specials(true), specials(false));
    let kinds = [Int::W, Int::Wu, Int::L, Int::Lu];
    for n in 0..samples() {
        let d = n % 2 == 0;
        let a = operand(&mut r, d, if d { &spd } else { &sps });
        // Integers near the binary32/binary64 precision limits and the register widths.
        let any = r.next();
        let base = r.pick(&[0u64, 1 << 24, 1 << 31, 1 << 32, 1 << 53, 1 << 54, 1 << 63, u64::MAX, any]);
        let v = if r.next() % 2 == 0 { base.wrapping_add(r.next() % 9).wrapping_sub(4) } else { base.wrapping_neg() };
        for rm in 0..=4u8 {
            for kind in kinds {
                let want = if d { ref_to_int(Double::from_bits(a as u128), kind, rm) } else { ref_to_int(Single::from_bits(a as u32 as u128), kind, rm) };
                assert_eq!(to_int(d, a, kind, rm), want, "fcvt.{kind:?} d={d} rm={rm} a={a:#x}");
                let nv: i128 = match kind {
                    Int::W => v as i32 as i128,
                    Int::Wu => v as u32 as i128,
                    Int::L => v as i64 as i128,
                    Int::Lu => v as i128,
                };
                let want = if d { ref_from_int::<Double>(nv, rm) } else { ref_from_int::<Single>(nv, rm) };
                assert_eq!(from_int(d, v, kind, rm), want, "fcvt.from.{kind:?} d={d} rm={rm} v={v:#x}");
            }
        }
        if !d {
            let x = Single::from_bits(a as u32 as u128);
            let want = if x.is_nan() {
                (CANON_D, if x.is_signaling() { NV } else { 0 })
            } else {
                let w: rustc_apfloat::StatusAnd<Double> = x.convert(&mut false);
                (w.value.to_bits() as u64, flags(w.status))
            };
            assert_eq!(s_to_d(a), want, "fcvt.d.s a={a:#x}");
        }
    }
}

fn ref_compare<F: Float>(a: F, b: F, which: u8) -> (u64, u8) {
    let any_nan = a.is_nan() || b.is_nan();
    let snan = a.is_signaling() || b.is_signaling();
    let ord = a.partial_cmp(&b);
    use std::cmp::Ordering::*;
    match which {
        0 => ((ord == Some(Equal)) as u64, if snan { NV } else { 0 }),
        1 => ((ord == Some(Less)) as u64, if any_nan { NV } else { 0 }),
        _ => (matches!(ord, Some(Less | Equal)) as u64, if any_nan { NV } else { 0 }),
    }
}

/// fmin/fmax by the spec: NaN operands are ignored (both NaN: canonical NaN), -0 < +0, NV for
/// any signalling operand.
fn ref_min_max<F: Float>(d: bool, a: u64, b: u64, max: bool, fa: F, fb: F) -> (u64, u8) {
    let f = if fa.is_signaling() || fb.is_signaling() { NV } else { 0 };
    let v = match (fa.is_nan(), fb.is_nan()) {
        (true, true) => canon(d),
        (true, false) => b,
        (false, true) => a,
        _ => {
            use std::cmp::Ordering::*;
            let ord = match fa.partial_cmp(&fb).unwrap() {
                Equal => fb.is_negative().cmp(&fa.is_negative()), // -0 < +0
                o => o,
            };
            if (ord == Less) != max { a } else { b }
        }
    };
    (v, f)
}

fn ref_classify<F: Float>(x: F) -> u64 {
    let neg = x.is_negative();
    let bit = if x.is_infinite() {
        if neg { 0 } else { 7 }
    } else if x.is_nan() {
        if x.is_signaling() { 8 } else { 9 }
    } else if x.is_zero() {
        if neg { 3 } else { 4 }
    } else if x.is_denormal() {
        if neg { 2 } else { 5 }
    } else if neg {
        1
    } else {
        6
    };
    1 << bit
}

#[test]
fn comparisons_min_max_classify_match_the_reference() {
    let mut r = Rng(0x7777_1111_3333_5555);
    let (spd, sps) = (specials(true), specials(false));
    for n in 0..samples() {
        let d = n % 2 == 0;
        let sp = if d { &spd } else { &sps };
        let a = operand(&mut r, d, sp);
        // Equal values, ±0 pairs and neighbours matter most for these.
        let b = match r.next() % 4 {
            0 => a,
            1 => a ^ if d { 1 << 63 } else { 1 << 31 },
            2 => a.wrapping_add(1) & if d { u64::MAX } else { 0xffff_ffff },
            _ => operand(&mut r, d, sp),
        };
        for which in 0..3 {
            let want = if d { ref_compare(Double::from_bits(a as u128), Double::from_bits(b as u128), which) } else { ref_compare(Single::from_bits(a as u128), Single::from_bits(b as u128), which) };
            assert_eq!(compare(d, a, b, which), want, "compare {which} d={d} a={a:#x} b={b:#x}");
        }
        for max in [false, true] {
            let want = if d { ref_min_max(d, a, b, max, Double::from_bits(a as u128), Double::from_bits(b as u128)) } else { ref_min_max(d, a, b, max, Single::from_bits(a as u128), Single::from_bits(b as u128)) };
            assert_eq!(min_max(d, a, b, max), want, "min_max max={max} d={d} a={a:#x} b={b:#x}");
        }
        let want = if d { ref_classify(Double::from_bits(a as u128)) } else { ref_classify(Single::from_bits(a as u128)) };
        assert_eq!(classify(d, a), want, "fclass d={d} a={a:#x}");
    }
}
