//! RV64F and RV64D: the floating-point registers, fcsr, and execution of every F/D instruction.
//!
//! Decisions (all as the RISC-V unprivileged spec states them):
//! - Registers are 64 bits; single-precision values are NaN-boxed (upper 32 bits all ones) when
//!   written, and a single-precision operand that is not properly boxed reads as the canonical
//!   NaN. `fsw` and `fmv.x.w` move the low 32 bits whatever the upper ones are.
//! - Every NaN result is the canonical NaN (0x7fc00000 / 0x7ff8000000000000).
//! - `mstatus.FS = Off` makes every F/D instruction (and the FP CSRs) illegal. Writing an f
//!   register, or raising a flag, sets FS to Dirty (like Spike: an FP instruction that raises no
//!   flag and writes only an x register or memory leaves FS alone).
//! - Rounding mode 7 reads `frm`; `frm` holding 5, 6 or 7 makes such an instruction illegal.
//!
//! Arithmetic is in [`arith`]: NaN cases decided there, then the host's SSE/FMA unit with the
//! rounding mode and flags in MXCSR ([`hard`], x86-64) or `rustc_apfloat` ([`soft`]).
pub mod arith;
mod exec;
mod hard;
mod soft;

use super::csr::mstatus;
use super::trap::{cause, Trap};
use super::Hart;
use crate::bus::Bus;
use crate::isa::{Insn, Op};
use arith::{Arith, Int};
pub(super) use exec::handler_for;

/// The F/D register file and fcsr.
#[derive(Clone, Debug, Default)]
pub struct FpState {
    pub f: [u64; 32],
    /// Accrued exceptions (NV DZ OF UF NX = bits 4..0).
    pub fflags: u8,
    /// Dynamic rounding mode (3 bits; 5-7 are stored but make dynamic-rm instructions illegal).
    pub frm: u8,
}

const BOX: u64 = 0xffff_ffff_0000_0000;

impl FpState {
    /// A single-precision operand: the low word if properly NaN-boxed, else the canonical NaN.
    #[inline(always)]
    pub fn s(&self, r: usize) -> u64 {
        let v = self.f[r];
        if v & BOX == BOX { v & 0xffff_ffff } else { arith::CANON_S }
    }

    pub fn fcsr(&self) -> u64 {
        ((self.frm as u64) << 5) | self.fflags as u64
    }
}

impl Hart {
    #[inline(always)]
    fn fs_dirty(&mut self) {
        self.csr.mstatus |= mstatus::FS;
    }

    #[inline(always)]
    fn set_fd(&mut self, rd: usize, v: u64) {
        self.fp.f[rd] = v;
        self.fs_dirty();
    }

    #[inline(always)]
    fn set_fs(&mut self, rd: usize, v: u64) {
        self.set_fd(rd, BOX | (v & 0xffff_ffff));
    }

    #[inline(always)]
    fn accrue(&mut self, flags: u8) {
        if flags != 0 {
            self.fp.fflags |= flags;
            self.fs_dirty();
        }
    }

    #[inline(always)]
    fn set_x(&mut self, rd: usize, v: u64) {
        self.x[rd] = v;
        self.x[0] = 0;
    }

    /// binary64 arithmetic: the quick path inline, everything else out of line.
    #[inline(always)]
    fn arith_d(&mut self, op: Arith, rd: usize, a: u64, b: u64, c: u64, rm: u8) {
        if rm == 0 && self.fp.fflags & arith::NX != 0 {
            if let Some(v) = arith::quick_d(op, f64::from_bits(a), f64::from_bits(b), f64::from_bits(c)) {
                return self.set_fd(rd, v);
            }
        }
        self.arith_full(op, true, rd, a, b, c, rm);
    }

    /// binary32 arithmetic, as [`Hart::arith_d`].
    #[inline(always)]
    fn arith_s(&mut self, op: Arith, rd: usize, a: u64, b: u64, c: u64, rm: u8) {
        if rm == 0 && self.fp.fflags & arith::NX != 0 {
            let f = |x: u64| f32::from_bits(x as u32);
            if let Some(v) = arith::quick_s(op, f(a), f(b), f(c)) {
                return self.set_fs(rd, v);
            }
        }
        self.arith_full(op, false, rd, a, b, c, rm);
    }

    /// NaN operands, the host path with MXCSR, or soft-float: kept out of the per-op handlers.
    #[inline(never)]
    fn arith_full(&mut self, op: Arith, d: bool, rd: usize, a: u64, b: u64, c: u64, rm: u8) {
        let (v, f) = arith::arith(op, d, a, b, c, rm);
        self.accrue(f);
        if d { self.set_fd(rd, v) } else { self.set_fs(rd, v) }
    }

    #[cold]
    #[inline(never)]
    fn fp_illegal(&mut self, bus: &mut Bus, pc: u64, len: u8) -> Trap {
        self.pc = pc;
        Trap::new(cause::ILLEGAL_INSN, self.raw_insn(bus, len))
    }

    /// Executes an F/D instruction at `self.pc`; on success `self.pc` is the next instruction.
    #[inline(never)]
    pub(super) fn execute_fp(&mut self, bus: &mut Bus, i: Insn) -> Result<(), Trap> {
        let pc = self.pc;
        self.fp_op(bus, i.op, i.rd, i.rs1, i.rs2, i.imm, i.len, pc)?;
        self.pc = pc.wrapping_add(i.len as u64);
        Ok(())
    }

    /// Executes F/D instruction `op` (fields as in [`Insn`]) at `pc`, leaving `self.pc` alone
    /// unless it traps. Inlined into each per-op handler ([`exec`]), where `op` is a constant
    /// and the match below folds to one arm.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fp_op(&mut self, bus: &mut Bus, op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32, len: u8, pc: u64) -> Result<(), Trap> {
        if self.csr.mstatus & mstatus::FS == 0 {
            return Err(self.fp_illegal(bus, pc, len));
        }
        let (rd, r1, r2) = (rd as usize & 31, rs1 as usize & 31, rs2 as usize & 31);
        let addr = self.x[r1].wrapping_add(imm as i64 as u64);
        // The resolved rounding mode, for the ops that have one.
        let mut rm = (imm & 7) as u8;
        if rm == 7 {
            rm = self.fp.frm;
        }
        let needs_rm = !matches!(
            op,
            Op::Flw | Op::Fsw | Op::Fld | Op::Fsd
                | Op::FsgnjS | Op::FsgnjnS | Op::FsgnjxS | Op::FminS | Op::FmaxS
                | Op::FsgnjD | Op::FsgnjnD | Op::FsgnjxD | Op::FminD | Op::FmaxD
                | Op::FmvXW | Op::FclassS | Op::FeqS | Op::FltS | Op::FleS | Op::FmvWX
                | Op::FmvXD | Op::FclassD | Op::FeqD | Op::FltD | Op::FleD | Op::FmvDX
        );
        if needs_rm && rm > 4 {
            return Err(self.fp_illegal(bus, pc, len));
        }
        let fp = &self.fp;
        let (s1, s2, d1, d2) = (fp.s(r1), fp.s(r2), fp.f[r1], fp.f[r2]);
        use Op::*;
        match op {
            Flw => {
                let v = self.load::<4>(bus, addr)?;
                self.set_fs(rd, v);
            }
            Fld => {
                let v = self.load::<8>(bus, addr)?;
                self.set_fd(rd, v);
            }
            Fsw => self.store::<4>(bus, addr, d2)?,
            Fsd => self.store::<8>(bus, addr, d2)?,
            FmaddS | FmsubS | FnmsubS | FnmaddS | FmaddD | FmsubD | FnmsubD | FnmaddD => {
                let d = matches!(op, FmaddD | FmsubD | FnmsubD | FnmaddD);
                let r3 = (imm >> 3) as usize & 31;
                let (a, b, c) = if d { (d1, d2, self.fp.f[r3]) } else { (s1, s2, self.fp.s(r3)) };
                let sbit = if d { 1 << 63 } else { 1 << 31 };
                // fmsub: a*b - c; fnmsub: -(a*b) + c; fnmadd: -(a*b) - c.
                let (na, nc) = match op {
                    FmaddS | FmaddD => (0, 0),
                    FmsubS | FmsubD => (0, sbit),
                    FnmsubS | FnmsubD => (sbit, 0),
                    _ => (sbit, sbit),
                };
                let (a, c) = (a ^ na, c ^ nc);
                if d { self.arith_d(Arith::Fma, rd, a, b, c, rm) } else { self.arith_s(Arith::Fma, rd, a, b, c, rm) }
            }
            FaddS | FsubS | FmulS | FdivS | FsqrtS => {
                let op = match op {
                    FaddS => Arith::Add,
                    FsubS => Arith::Sub,
                    FmulS => Arith::Mul,
                    FdivS => Arith::Div,
                    _ => Arith::Sqrt,
                };
                self.arith_s(op, rd, s1, s2, 0, rm);
            }
            FaddD | FsubD | FmulD | FdivD | FsqrtD => {
                let op = match op {
                    FaddD => Arith::Add,
                    FsubD => Arith::Sub,
                    FmulD => Arith::Mul,
                    FdivD => Arith::Div,
                    _ => Arith::Sqrt,
                };
                self.arith_d(op, rd, d1, d2, 0, rm);
            }
            FsgnjS => self.set_fs(rd, (s1 & 0x7fff_ffff) | (s2 & 0x8000_0000)),
            FsgnjnS => self.set_fs(rd, (s1 & 0x7fff_ffff) | (!s2 & 0x8000_0000)),
            FsgnjxS => self.set_fs(rd, s1 ^ (s2 & 0x8000_0000)),
            FsgnjD => self.set_fd(rd, (d1 & !(1 << 63)) | (d2 & (1 << 63))),
            FsgnjnD => self.set_fd(rd, (d1 & !(1 << 63)) | (!d2 & (1 << 63))),
            FsgnjxD => self.set_fd(rd, d1 ^ (d2 & (1 << 63))),
            FminS | FmaxS => {
                let (v, f) = arith::min_max(false, s1, s2, op == FmaxS);
                self.accrue(f);
                self.set_fs(rd, v);
            }
            FminD | FmaxD => {
                let (v, f) = arith::min_max(true, d1, d2, op == FmaxD);
                self.accrue(f);
                self.set_fd(rd, v);
            }
            FeqS | FltS | FleS | FeqD | FltD | FleD => {
                let d = matches!(op, FeqD | FltD | FleD);
                let which = match op {
                    FeqS | FeqD => 0,
                    FltS | FltD => 1,
                    _ => 2,
                };
                let (v, f) = if d { arith::compare(true, d1, d2, which) } else { arith::compare(false, s1, s2, which) };
                self.accrue(f);
                self.set_x(rd, v);
            }
            FclassS => self.set_x(rd, arith::classify(false, s1)),
            FclassD => self.set_x(rd, arith::classify(true, d1)),
            FmvXW => self.set_x(rd, d1 as u32 as i32 as i64 as u64),
            FmvXD => self.set_x(rd, d1),
            FmvWX => self.set_fs(rd, self.x[r1]),
            FmvDX => self.set_fd(rd, self.x[r1]),
            FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD => {
                let (d, kind) = match op {
                    FcvtWS => (false, Int::W),
                    FcvtWuS => (false, Int::Wu),
                    FcvtLS => (false, Int::L),
                    FcvtLuS => (false, Int::Lu),
                    FcvtWD => (true, Int::W),
                    FcvtWuD => (true, Int::Wu),
                    FcvtLD => (true, Int::L),
                    _ => (true, Int::Lu),
                };
                let (v, f) = arith::to_int(d, if d { d1 } else { s1 }, kind, rm);
                self.accrue(f);
                self.set_x(rd, v);
            }
            FcvtSW | FcvtSWu | FcvtSL | FcvtSLu | FcvtDW | FcvtDWu | FcvtDL | FcvtDLu => {
                let (d, kind) = match op {
                    FcvtSW => (false, Int::W),
                    FcvtSWu => (false, Int::Wu),
                    FcvtSL => (false, Int::L),
                    FcvtSLu => (false, Int::Lu),
                    FcvtDW => (true, Int::W),
                    FcvtDWu => (true, Int::Wu),
                    FcvtDL => (true, Int::L),
                    _ => (true, Int::Lu),
                };
                let (v, f) = arith::from_int(d, self.x[r1], kind, rm);
                self.accrue(f);
                if d { self.set_fd(rd, v) } else { self.set_fs(rd, v) }
            }
            FcvtSD => {
                let (v, f) = arith::d_to_s(d1, rm);
                self.accrue(f);
                self.set_fs(rd, v);
            }
            FcvtDS => {
                let (v, f) = arith::s_to_d(s1);
                self.accrue(f);
                self.set_fd(rd, v);
            }
            _ => unreachable!("only F/D ops come here"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
