//! One handler per F/D op, as the integer ops have (see `execute::handler_for`): decoded blocks
//! (and compiled code, which calls the same handlers) reach an F/D instruction in one indirect
//! call instead of the generic dispatch through `execute` and `execute_rare`. Each handler is
//! [`Hart::fp_op`] with the op a constant, so only that op's code (and its quick path) remains.
use super::super::csr::mstatus;
use super::super::execute::{Handler, TRAPPED};
use super::super::packed::Packed;
use super::super::Hart;
use super::arith::{self, Arith, NX};
use crate::bus::Bus;
use crate::isa::Op;
use crate::mem::{PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};

/// The handler: the quick case inline (no calls, so no registers to save), else the full
/// semantics out of line (a tail call).
fn fp<const OP: u8>(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    if let Some(next) = quick::<OP>(h, i, pc) {
        return next;
    }
    full::<OP>(h, bus, i, pc)
}

/// Everything [`Hart::fp_op`] does, for this op.
#[inline(never)]
fn full<const OP: u8>(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    // SAFETY: `handler_for` instantiates this only with the discriminant of a real F/D `Op`.
    let op = unsafe { std::mem::transmute::<u8, Op>(OP) };
    let len = i.len() as u8;
    match h.fp_op(bus, op, i.rd() as u8, i.rs1() as u8, i.rs2() as u8, i.imm(), len, pc) {
        Ok(()) => pc.wrapping_add(len as u64),
        Err(t) => {
            h.trapped = t;
            TRAPPED
        }
    }
}

/// The host address of `N` bytes at `va` if the TLB holds the page for this access: the same
/// hit test as `Hart::load`/`Hart::store` (mmu/access.rs), without their slow path, which
/// [`full`] takes on a miss.
#[inline(always)]
fn tlb_hit<const N: usize>(h: &Hart, va: u64, write: bool) -> Option<u64> {
    let vpn = va >> PAGE_SHIFT;
    let e = if write { h.tlb.write_entry(vpn) } else { h.tlb.read_entry(vpn) };
    let hit = e.tag == h.tlb.tag(vpn)
        && (va & PAGE_MASK) as usize <= PAGE_SIZE - N
        && !(h.misaligned_trap && va as usize % N != 0);
    if hit { Some(va.wrapping_add(e.addend)) } else { None }
}

/// The common cases, decided without any call: loads and stores that hit the TLB, and
/// arithmetic in round-to-nearest-even once NX has accrued whose host result is finite and
/// above the smallest normal (see [`arith::quick_d`]). `None`: take [`full`].
#[inline(always)]
fn quick<const OP: u8>(h: &mut Hart, i: &Packed, pc: u64) -> Option<u64> {
    // SAFETY: as in `full`.
    let op = unsafe { std::mem::transmute::<u8, Op>(OP) };
    if h.csr.mstatus & mstatus::FS == 0 {
        return None;
    }
    let next = pc.wrapping_add(i.len());
    let (rd, r1, r2) = (i.rd(), i.rs1(), i.rs2());
    let va = h.x[r1].wrapping_add(i.imm() as i64 as u64);
    use Op::*;
    let v = match op {
        Fld | Flw => {
            let v = if op == Fld {
                let p = tlb_hit::<8>(h, va, false)?;
                // SAFETY: a TLB hit maps the page to a live frame of this machine and the
                // bytes lie in it (as in `Hart::load`).
                unsafe { (p as *const u64).read_unaligned() }
            } else {
                let p = tlb_hit::<4>(h, va, false)?;
                // SAFETY: as above.
                0xffff_ffff_0000_0000 | unsafe { (p as *const u32).read_unaligned() } as u64
            };
            h.fp.f[rd] = v;
            h.csr.mstatus |= mstatus::FS;
            return Some(next);
        }
        Fsd | Fsw => {
            let v = h.fp.f[r2];
            if op == Fsd {
                let p = tlb_hit::<8>(h, va, true)?;
                // SAFETY: as above; write entries exist only for frames private to this machine.
                unsafe { (p as *mut u64).write_unaligned(v) };
            } else {
                let p = tlb_hit::<4>(h, va, true)?;
                // SAFETY: as above.
                unsafe { (p as *mut u32).write_unaligned(v as u32) };
            }
            return Some(next);
        }
        _ => {
            let (ar, d) = match op {
                FaddD => (Arith::Add, true),
                FsubD => (Arith::Sub, true),
                FmulD => (Arith::Mul, true),
                FdivD => (Arith::Div, true),
                FsqrtD => (Arith::Sqrt, true),
                FmaddD | FmsubD | FnmsubD | FnmaddD => (Arith::Fma, true),
                FaddS => (Arith::Add, false),
                FsubS => (Arith::Sub, false),
                FmulS => (Arith::Mul, false),
                FdivS => (Arith::Div, false),
                FsqrtS => (Arith::Sqrt, false),
                FmaddS | FmsubS | FnmsubS | FnmaddS => (Arith::Fma, false),
                _ => return None,
            };
            // Dynamic rounding mode 7 reads frm; both must come to round-to-nearest-even.
            let rm = i.imm() as u8 & 7;
            let rm = if rm == 7 { h.fp.frm } else { rm };
            if rm != 0 || h.fp.fflags & NX == 0 {
                return None;
            }
            let r3 = (i.imm() >> 3) as usize & 31;
            // fmsub: a*b - c; fnmsub: -(a*b) + c; fnmadd: -(a*b) - c.
            let (na, nc) = match op {
                FmsubD | FmsubS => (false, true),
                FnmsubD | FnmsubS => (true, false),
                FnmaddD | FnmaddS => (true, true),
                _ => (false, false),
            };
            if d {
                let neg = |x: u64, n: bool| if n { x ^ 1 << 63 } else { x };
                let f = |x: u64| f64::from_bits(x);
                let (a, b) = (neg(h.fp.f[r1], na), h.fp.f[r2]);
                let c = if ar == Arith::Fma { neg(h.fp.f[r3], nc) } else { 0 };
                arith::quick_d(ar, f(a), f(b), f(c))?
            } else {
                let (s1, s2) = (h.fp.s(r1), h.fp.s(r2));
                let neg = |x: u64, n: bool| if n { x ^ 1 << 31 } else { x };
                let f = |x: u64| f32::from_bits(x as u32);
                let (a, b) = (neg(s1, na), s2);
                let c = if ar == Arith::Fma { neg(h.fp.s(r3), nc) } else { 0 };
                0xffff_ffff_0000_0000 | arith::quick_s(ar, f(a), f(b), f(c))?
            }
        }
    };
    h.fp.f[rd] = v;
    h.csr.mstatus |= mstatus::FS;
    Some(next)
}

/// The handler of F/D op `op`, specialised for it.
pub(in crate::hart) fn handler_for(op: Op) -> Handler {
    macro_rules! specialised {
        ($($o:ident)*) => {
            match op {
                $(Op::$o => fp::<{ Op::$o as u8 }>,)*
                _ => unreachable!("{op:?} is not an F/D op"),
            }
        };
    }
    specialised!(
        Flw Fsw Fld Fsd
        FmaddS FmsubS FnmsubS FnmaddS FmaddD FmsubD FnmsubD FnmaddD
        FaddS FsubS FmulS FdivS FsqrtS FsgnjS FsgnjnS FsgnjxS FminS FmaxS
        FcvtWS FcvtWuS FcvtLS FcvtLuS FmvXW FclassS FeqS FltS FleS
        FcvtSW FcvtSWu FcvtSL FcvtSLu FmvWX
        FaddD FsubD FmulD FdivD FsqrtD FsgnjD FsgnjnD FsgnjxD FminD FmaxD
        FcvtSD FcvtDS
        FcvtWD FcvtWuD FcvtLD FcvtLuD FmvXD FclassD FeqD FltD FleD
        FcvtDW FcvtDWu FcvtDL FcvtDLu FmvDX
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Insn;
    use crate::machine::Machine;

    fn op_of(v: u8) -> Op {
        // SAFETY: the F/D ops are the contiguous tail of `Op`, Flw..=FmvDX.
        unsafe { std::mem::transmute::<u8, Op>(v) }
    }

    /// Every F/D op has a handler (a new op added to `Op` without one would panic at decode).
    #[test]
    fn every_fp_op_has_a_handler() {
        let mut n = 0;
        for v in Op::Flw as u8..=Op::FmvDX as u8 {
            assert!(op_of(v).is_fp());
            let _ = handler_for(op_of(v));
            n += 1;
        }
        assert_eq!(n, 62);
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

    /// Register values that reach every branch of the quick paths: specials, subnormals, both
    /// ends of the normal range, values whose results round, NaN-boxed and unboxed singles.
    fn value(r: &mut Rng) -> u64 {
        const BOX: u64 = 0xffff_ffff_0000_0000;
        let singles = [0u32, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7f80_0001, 1, 0x807f_ffff,
            0x0080_0000, 0x0080_0001, 0x7f7f_ffff, 0x3f80_0000, 0x3f80_0001, 0x3f7f_ffff, 0x4040_0000];
        let doubles = [0u64, 1 << 63, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000,
            0x7ff0_0000_0000_0001, 1, 0x000f_ffff_ffff_ffff, 0x0010_0000_0000_0000, 0x0010_0000_0000_0001,
            0x7fef_ffff_ffff_ffff, 0x3ff0_0000_0000_0000, 0x3ff0_0000_0000_0001, 0x3fef_ffff_ffff_ffff,
            0x4008_0000_0000_0000, 0x3fd5_5555_5555_5555];
        match r.next() % 6 {
            0 => BOX | r.pick(&singles) as u64,
            1 => r.pick(&doubles),
            2 => BOX | (r.next() & 0xffff_ffff),
            3 => r.next() & 0xffff_ffff, // an unboxed single: reads as the canonical NaN
            4 => (r.next() & 0x800f_ffff_ffff_ffff) | ((0x3f0 + r.next() % 32) << 52),
            _ => r.next(),
        }
    }

    /// The per-op handlers (quick path, then the full one) against `execute_fp` (the full path
    /// only, as `execute_rare` used to reach it): same next pc or trap, registers, fflags,
    /// mstatus and memory, for random instructions, operands, frm, fflags and FS.
    #[test]
    fn handlers_match_execute_fp() {
        let mut m = Machine::user(false);
        const BASE: u64 = 0x10000;
        m.load_segment(BASE, &[0; 0x2000], 0x2000).unwrap();
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let fs_states = [0u64, mstatus::FS & (1 << 13), mstatus::FS & (2 << 13), mstatus::FS];
        let mut quick_hits = 0;
        for n in 0..200_000 {
            let op = op_of(Op::Flw as u8 + (r.next() % 62) as u8);
            let mem = matches!(op, Op::Flw | Op::Fsw | Op::Fld | Op::Fsd);
            let fma = matches!(op, Op::FmaddS | Op::FmsubS | Op::FnmsubS | Op::FnmaddS
                | Op::FmaddD | Op::FmsubD | Op::FnmsubD | Op::FnmaddD);
            let rm = r.pick(&[0, 0, 0, 7, 7, 1, 2, 3, 4]);
            let imm = if mem {
                // Offsets that hit, straddle the page end and miss the mapped range.
                r.pick(&[0i32, 8, 12, 0xffc, 0xff9, 0x1ffc, 0x2000, -8, 3])
            } else if fma {
                rm | ((r.next() % 32) as i32) << 3
            } else {
                rm
            };
            let i = Insn { op, rd: (r.next() % 32) as u8, rs1: (r.next() % 32) as u8, rs2: (r.next() % 32) as u8, len: r.pick(&[2, 4]), imm };
            let packed = Packed::with(i, false);
            let mut f = [0u64; 32];
            for v in f.iter_mut() {
                *v = value(&mut r);
            }
            let mut x = [0u64; 32];
            for v in x.iter_mut() {
                *v = if r.next() % 2 == 0 { BASE } else { value(&mut r) };
            }
            x[0] = 0;
            let frm = r.pick(&[0u8, 0, 0, 1, 2, 3, 4, 5, 7]);
            let fflags = r.pick(&[0u8, 1, 1, 0x1f, 2, 0x11]);
            let fs = if n % 50 == 0 { r.pick(&fs_states) } else { mstatus::FS };
            let pc = 0x1000 + 2 * (r.next() % 64);
            let va = x[i.rs1 as usize].wrapping_add(imm as i64 as u64);
            let window: Vec<u64> = (0..24).map(|k| (va & !7).wrapping_sub(8).wrapping_add(k)).collect();
            let fill: Vec<u8> = window.iter().map(|_| r.next() as u8).collect();

            let run = |quick: bool, m: &mut Machine| {
                if mem {
                    for (&a, &b) in window.iter().zip(&fill) {
                        let _ = m.hart.store::<1>(&mut m.bus, a, b as u64);
                    }
                }
                let h = &mut m.hart;
                h.fp.f = f;
                h.x = x;
                h.fp.frm = frm;
                h.fp.fflags = fflags;
                h.csr.mstatus = (h.csr.mstatus & !mstatus::FS) | fs;
                let got = if quick {
                    let next = (packed.handler)(h, &mut m.bus, &packed, pc);
                    if next == TRAPPED { Err(h.trapped) } else { Ok(next) }
                } else {
                    h.pc = pc;
                    h.execute_fp(&mut m.bus, i).map(|()| h.pc)
                };
                let bytes: Vec<Option<u64>> = if mem {
                    window.iter().map(|&a| m.hart.load::<1>(&mut m.bus, a).ok()).collect()
                } else {
                    Vec::new()
                };
                let h = &m.hart;
                (got, h.fp.f, h.x, h.fp.fflags, h.csr.mstatus, bytes)
            };
            let want = run(false, &mut m);
            let got = run(true, &mut m);
            if got.0.is_ok() && fflags & NX != 0 && frm == 0 {
                quick_hits += 1;
            }
            assert!(got == want, "{op:?} {i:?} frm={frm} fflags={fflags:#x} fs={fs:#x}: {:?} vs {:?}", got.0, want.0);
        }
        assert!(quick_hits > 10_000, "{quick_hits}");
    }
}
