//! FP semantics edge cases, and the soft-float path checked against the host path.
use super::arith::*;

const D_MIN_NORMAL: u64 = 0x0010_0000_0000_0000;
const ONE_MINUS_ULP_D: u64 = 0x3fef_ffff_ffff_ffff; // 1 - 2^-53
const S_MIN_NORMAL: u64 = 0x0080_0000;
const ONE_MINUS_ULP_S: u64 = 0x3f7f_ffff; // 1 - 2^-24
const SNAN_S: u64 = 0x7f80_0001;
const QNAN_S: u64 = 0x7fc0_1234;
const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
const INF_D: u64 = 0x7ff0_0000_0000_0000;

fn s(x: f32) -> u64 {
    x.to_bits() as u64
}
fn d(x: f64) -> u64 {
    x.to_bits()
}

#[test]
fn nan_results_are_canonical_and_signal_only_for_snan() {
    assert_eq!(arith(Arith::Add, false, SNAN_S, s(1.0), 0, 0), (CANON_S, NV));
    assert_eq!(arith(Arith::Add, false, QNAN_S, s(1.0), 0, 0), (CANON_S, 0));
    assert_eq!(arith(Arith::Sub, true, INF_D, INF_D, 0, 0), (CANON_D, NV));
    assert_eq!(arith(Arith::Mul, true, d(0.0), INF_D, 0, 0), (CANON_D, NV));
    assert_eq!(arith(Arith::Div, true, d(0.0), d(-0.0), 0, 0), (CANON_D, NV));
    assert_eq!(arith(Arith::Sqrt, true, d(-1.0), 0, 0, 0), (CANON_D, NV));
    assert_eq!(arith(Arith::Sqrt, true, d(-0.0), 0, 0, 0), (d(-0.0), 0));
    assert_eq!(arith(Arith::Sqrt, false, SNAN_S, 0, 0, 0), (CANON_S, NV));
    // ∞ × 0 + qNaN raises NV (as Spike and QEMU do); qNaN × 1 + 1 does not.
    assert_eq!(arith(Arith::Fma, true, INF_D, d(0.0), CANON_D | 5, 0), (CANON_D, NV));
    assert_eq!(arith(Arith::Fma, true, CANON_D, d(1.0), d(1.0), 0), (CANON_D, 0));
    assert_eq!(arith(Arith::Fma, true, CANON_D, d(1.0), SNAN_D, 0), (CANON_D, NV));
}

#[test]
fn flags_of_ordinary_operations() {
    assert_eq!(arith(Arith::Div, true, d(1.0), d(0.0), 0, 0), (INF_D, DZ));
    assert_eq!(arith(Arith::Div, true, d(-1.0), d(0.0), 0, 0), (INF_D | 1 << 63, DZ));
    assert_eq!(arith(Arith::Add, false, s(1.0), s(2f32.powi(-30)), 0, 0), (s(1.0), NX));
    assert_eq!(arith(Arith::Add, false, s(1.0), s(2f32.powi(-30)), 0, 3), (s(1.0) + 1, NX));
    assert_eq!(arith(Arith::Mul, true, d(f64::MAX), d(2.0), 0, 0), (INF_D, OF | NX));
    assert_eq!(arith(Arith::Mul, true, d(f64::MAX), d(2.0), 0, 1), (d(f64::MAX), OF | NX));
    assert_eq!(arith(Arith::Mul, true, d(f64::MIN_POSITIVE), d(0.5), 0, 0), (d(f64::MIN_POSITIVE / 2.0), 0));
    assert_eq!(arith(Arith::Mul, true, d(5e-324), d(0.5), 0, 0), (0, UF | NX));
    assert_eq!(arith(Arith::Add, true, d(1.0), d(-1.0), 0, 2), (d(-0.0), 0));
    assert_eq!(arith(Arith::Add, true, d(1.0), d(-1.0), 0, 0), (d(0.0), 0));
    assert_eq!(arith(Arith::Sqrt, true, d(2.0), 0, 0, 0), (d(2f64.sqrt()), NX));
    // sqrt(2) rounded to nearest is above the exact value: RUP keeps it, RDN steps down.
    assert_eq!(arith(Arith::Sqrt, true, d(2.0), 0, 0, 3), (d(2f64.sqrt()), NX));
    assert_eq!(arith(Arith::Sqrt, true, d(2.0), 0, 0, 2), (d(2f64.sqrt()) - 1, NX));
    assert_eq!(super::soft::sqrt(true, d(2.0), 2), (d(2f64.sqrt()) - 1, NX));
    assert_eq!(arith(Arith::Sqrt, false, s(4.0), 0, 0, 1), (s(2.0), 0));
}

#[test]
fn tininess_is_detected_after_rounding() {
    // (1 - 2^-53) * MIN_NORMAL rounds to MIN_NORMAL in the format, but with an unbounded
    // exponent it is exact and below MIN_NORMAL: tiny, inexact, so UF.
    for rm in [0, 3, 4] {
        let want = (D_MIN_NORMAL, UF | NX);
        assert_eq!(arith(Arith::Mul, true, ONE_MINUS_ULP_D, D_MIN_NORMAL, 0, rm), want, "rm {rm}");
        assert_eq!(arith_soft(Arith::Mul, true, ONE_MINUS_ULP_D, D_MIN_NORMAL, 0, rm), want, "rm {rm}");
        let want = (S_MIN_NORMAL, UF | NX);
        assert_eq!(arith(Arith::Mul, false, ONE_MINUS_ULP_S, S_MIN_NORMAL, 0, rm), want, "rm {rm}");
        assert_eq!(arith_soft(Arith::Mul, false, ONE_MINUS_ULP_S, S_MIN_NORMAL, 0, rm), want, "rm {rm}");
    }
    // Just above the halfway point of the unbounded grid: rounds to MIN_NORMAL either way.
    let a = 0x3fef_ffff_ffff_fffe_u64; // 1 - 2^-52
    let c = 0x0000_0000_0000_0001_u64; // 2^-1074
    let want = arith_soft(Arith::Fma, true, a, D_MIN_NORMAL, c, 0);
    assert_eq!(arith(Arith::Fma, true, a, D_MIN_NORMAL, c, 0), want);
    // fcvt.s.d of a double just below MIN_NORMAL(f32) that rounds up to it.
    let x = (f32::MIN_POSITIVE as f64) * (1.0 - 2f64.powi(-24));
    assert_eq!(d_to_s(d(x), 0), (S_MIN_NORMAL, UF | NX));
    let x = (f32::MIN_POSITIVE as f64) * (1.0 - 2f64.powi(-26));
    assert_eq!(d_to_s(d(x), 0), (S_MIN_NORMAL, NX));
}

#[test]
fn min_max_compare_classify() {
    assert_eq!(min_max(false, s(-0.0), s(0.0), false), (s(-0.0), 0));
    assert_eq!(min_max(false, s(0.0), s(-0.0), false), (s(-0.0), 0));
    assert_eq!(min_max(false, s(-0.0), s(0.0), true), (s(0.0), 0));
    assert_eq!(min_max(true, d(0.0), d(-0.0), true), (d(0.0), 0));
    assert_eq!(min_max(false, SNAN_S, s(1.0), false), (s(1.0), NV));
    assert_eq!(min_max(false, QNAN_S, s(1.0), true), (s(1.0), 0));
    assert_eq!(min_max(false, QNAN_S, SNAN_S, true), (CANON_S, NV));
    assert_eq!(compare(false, QNAN_S, s(1.0), 0), (0, 0));
    assert_eq!(compare(false, SNAN_S, s(1.0), 0), (0, NV));
    assert_eq!(compare(false, QNAN_S, s(1.0), 1), (0, NV));
    assert_eq!(compare(true, d(-0.0), d(0.0), 0), (1, 0));
    assert_eq!(compare(true, d(-0.0), d(0.0), 1), (0, 0));
    assert_eq!(compare(true, d(-0.0), d(0.0), 2), (1, 0));
    let cases: [(u64, u64); 10] = [
        (d(f64::NEG_INFINITY), 1 << 0),
        (d(-1.0), 1 << 1),
        (d(-5e-324), 1 << 2),
        (d(-0.0), 1 << 3),
        (d(0.0), 1 << 4),
        (d(5e-324), 1 << 5),
        (d(1.0), 1 << 6),
        (INF_D, 1 << 7),
        (SNAN_D, 1 << 8),
        (CANON_D, 1 << 9),
    ];
    for (x, want) in cases {
        assert_eq!(classify(true, x), want, "{x:#x}");
    }
    let singles: [u64; 10] =
        [0xff80_0000, s(-1.0), 0x8000_0001, s(-0.0), 0, 1, s(1.0), 0x7f80_0000, SNAN_S, QNAN_S];
    for (k, x) in singles.into_iter().enumerate() {
        assert_eq!(classify(false, x), 1 << k, "{x:#x}");
    }
}

#[test]
fn conversions_saturate_and_flag() {
    assert_eq!(to_int(false, CANON_S, Int::W, 0), (0x7fff_ffff, NV));
    assert_eq!(to_int(false, CANON_S, Int::Wu, 0), (u64::MAX, NV));
    assert_eq!(to_int(false, s(-1.0), Int::Wu, 0), (0, NV));
    assert_eq!(to_int(false, s(-0.5), Int::Wu, 1), (0, NX));
    assert_eq!(to_int(true, d(3e9), Int::W, 0), (0x7fff_ffff, NV));
    assert_eq!(to_int(true, d(-3e9), Int::W, 0), (0xffff_ffff_8000_0000, NV));
    assert_eq!(to_int(true, d(4294967295.0), Int::Wu, 0), (u64::MAX, 0));
    assert_eq!(to_int(true, d(f64::NEG_INFINITY), Int::L, 0), (1 << 63, NV));
    assert_eq!(to_int(true, d(f64::INFINITY), Int::Lu, 0), (u64::MAX, NV));
    assert_eq!(to_int(true, d(2.5), Int::L, 0), (2, NX));
    assert_eq!(to_int(true, d(2.5), Int::L, 4), (3, NX));
    assert_eq!(to_int(true, d(-2.5), Int::L, 2), (-3i64 as u64, NX));
    assert_eq!(to_int(true, d(-2.5), Int::L, 3), (-2i64 as u64, NX));
    assert_eq!(to_int(true, d(9223372036854775808.0), Int::L, 0), (i64::MAX as u64, NV));
    assert_eq!(to_int(true, d(9223372036854775808.0), Int::Lu, 0), (1 << 63, 0));
    assert_eq!(from_int(false, u64::MAX, Int::Lu, 0), (s(18446744073709551616.0), NX));
    assert_eq!(from_int(false, u64::MAX, Int::Lu, 1), (s(18446744073709551616.0) - 1, NX));
    assert_eq!(from_int(true, (1 << 53) + 1, Int::L, 3), (d(9007199254740994.0), NX));
    assert_eq!(from_int(true, (1 << 53) + 1, Int::L, 2), (d(9007199254740992.0), NX));
    assert_eq!(from_int(true, 0xffff_ffff, Int::W, 0), (d(-1.0), 0));
    assert_eq!(from_int(true, 0xffff_ffff, Int::Wu, 0), (d(4294967295.0), 0));
    assert_eq!(s_to_d(SNAN_S), (CANON_D, NV));
    assert_eq!(d_to_s(SNAN_D, 0), (CANON_S, NV));
    assert_eq!(d_to_s(d(1e300), 1), (s(f32::MAX), OF | NX));
}

/// A generator of operands that likes special values and the edges of each binade.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn operand(&mut self, dbl: bool) -> u64 {
        let r = self.next();
        let (ebits, mbits) = if dbl { (11, 52) } else { (8, 23) };
        let emax = (1u64 << ebits) - 1;
        let bias = emax >> 1;
        let e = match r % 8 {
            0 => 0,
            1 => 1,
            2 => emax,
            3 => emax - 1,
            4 => bias + (r >> 8) % 5 - 2,
            _ => (r >> 8) % (emax + 1),
        };
        let m = match (r >> 20) % 6 {
            0 => 0,
            1 => (1 << mbits) - 1,
            2 => 1,
            _ => self.next() & ((1 << mbits) - 1),
        };
        let sign = (r >> 40) & 1;
        (sign << (ebits + mbits)) | (e << mbits) | m
    }
}

#[test]
fn soft_path_matches_host_path() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let ops = [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div, Arith::Sqrt, Arith::Fma];
    for n in 0..300_000 {
        let dbl = n % 2 == 0;
        let op = ops[(n / 2) % ops.len()];
        let (a, b, mut c) = (g.operand(dbl), g.operand(dbl), g.operand(dbl));
        // Products near the addend make fma cancel.
        if op == Arith::Fma && n % 3 == 0 {
            c = arith(Arith::Mul, dbl, a, b, 0, 0).0 ^ if dbl { 1 << 63 } else { 1 << 31 };
        }
        if n % 4 == 1 {
            let full = arith(op, dbl, a, b, c, 0);
            let quick = if dbl {
                quick_d(op, f64::from_bits(a), f64::from_bits(b), f64::from_bits(c))
            } else {
                let f = |x: u64| f32::from_bits(x as u32);
                quick_s(op, f(a), f(b), f(c))
            };
            if let Some(q) = quick {
                assert_eq!(q, full.0, "quick {op:?} d={dbl} a={a:#x} b={b:#x} c={c:#x}");
                assert_eq!(full.1 & !NX, 0, "quick {op:?} d={dbl} a={a:#x} b={b:#x} c={c:#x}");
            }
        }
        let rm = (g.next() % 4) as u8;
        let hard = arith(op, dbl, a, b, c, rm);
        let soft = arith_soft(op, dbl, a, b, c, rm);
        assert_eq!(hard, soft, "{op:?} d={dbl} rm={rm} a={a:#x} b={b:#x} c={c:#x}");
        if dbl && n % 16 == 0 {
            let hard = d_to_s(a, rm);
            let soft = super::soft::d_to_s(a, rm);
            if !is_nan(true, a) {
                assert_eq!(hard, soft, "d_to_s rm={rm} a={a:#x}");
            }
        }
    }
}
