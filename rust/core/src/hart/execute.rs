//! Executes one decoded instruction: the hot path.
use super::csr::{mstatus, CsrError};
use super::trap::{cause, Trap};
use super::{Hart, Priv};
use crate::bus::Bus;
use super::packed::Packed;
use crate::isa::{Insn, Op};

#[inline(always)]
fn sext32(v: u64) -> u64 {
    v as i32 as i64 as u64
}

fn div(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i64, b as i64);
    if b == 0 { u64::MAX } else { a.wrapping_div(b) as u64 }
}
#[inline(always)]
fn branch(taken: bool, pc: u64, imm: u64, next: u64) -> u64 {
    if taken { pc.wrapping_add(imm) } else { next }
}

fn divu(a: u64, b: u64) -> u64 {
    if b == 0 { u64::MAX } else { a / b }
}
fn rem(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i64, b as i64);
    if b == 0 { a as u64 } else { a.wrapping_rem(b) as u64 }
}
fn remu(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { a % b }
}
fn divw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i32, b as i32);
    (if b == 0 { -1 } else { a.wrapping_div(b) }) as i64 as u64
}
fn divuw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as u32, b as u32);
    sext32(if b == 0 { u32::MAX } else { a / b } as u64)
}
fn remw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i32, b as i32);
    (if b == 0 { a } else { a.wrapping_rem(b) }) as i64 as u64
}
fn remuw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as u32, b as u32);
    sext32(if b == 0 { a } else { a % b } as u64)
}

/// Executes one instruction and returns the next pc, or [`TRAPPED`] with the trap (or
/// [`Trap::STOP`]) in `Hart::trapped`.
pub type Handler = fn(&mut Hart, &mut Bus, &Packed, u64) -> u64;

/// Not a pc (pcs are even): the handler left a trap in `Hart::trapped`.
pub const TRAPPED: u64 = 1;

/// `execute` specialised for one op: the match folds away and only that op's code remains.
fn handler<const OP: u8>(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    // SAFETY: `handler_for` instantiates this only with the discriminant of a real `Op`.
    let op = unsafe { std::mem::transmute::<u8, Op>(OP) };
    match h.execute(bus, op, i, pc) {
        Ok(next) => next,
        Err(t) => {
            h.trapped = t;
            TRAPPED
        }
    }
}

/// For the rare ops: dispatches on the stored op at run time.
fn generic(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    match h.execute(bus, i.op(), i, pc) {
        Ok(next) => next,
        Err(t) => {
            h.trapped = t;
            TRAPPED
        }
    }
}

/// `ecall`: always traps (cause by privilege). Its own handler because enclaves make one per
/// enclave call (two per call between enclaves), and the generic path dispatches on the op
/// twice (`execute`, then `execute_rare`) to get here.
fn ecall(h: &mut Hart, _bus: &mut Bus, _i: &Packed, pc: u64) -> u64 {
    let c = match h.prv {
        Priv::U => cause::ECALL_U,
        Priv::S => cause::ECALL_S,
        Priv::M => cause::ECALL_M,
    };
    h.pc = pc;
    h.trapped = Trap::new(c, 0);
    TRAPPED
}

pub fn handler_for(op: Op) -> Handler {
    macro_rules! specialised {
        ($($o:ident)*) => {
            match op {
                Op::Ecall => ecall,
                $(Op::$o => handler::<{ Op::$o as u8 }>,)*
                _ if op.is_fp() => super::fpu::handler_for(op),
                _ => generic,
            }
        };
    }
    specialised!(
        Lui Auipc Jal Jalr Beq Bne Blt Bge Bltu Bgeu Lb Lh Lw Ld Lbu Lhu Lwu Sb Sh Sw Sd
        Addi Slti Sltiu Xori Ori Andi Slli Srli Srai Add Sub Sll Slt Sltu Xor Srl Sra Or And
        Addiw Slliw Srliw Sraiw Addw Subw Sllw Srlw Sraw Mul Mulh Mulhsu Mulhu Div Divu Rem Remu
        Mulw Divw Divuw Remw Remuw Fence
    )
}

/// A comparison op with logging: records its operands in the hart's cmplog, then executes it.
/// Only blocks decoded while cmplog is on hold these (`Packed::with`).
fn cmp_handler<const OP: u8>(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    let a = h.x[i.rs1()];
    let b = if OP == Op::Slti as u8 || OP == Op::Sltiu as u8 { i.imm() as i64 as u64 } else { h.x[i.rs2()] };
    if let Some(c) = h.cov.as_deref_mut() {
        c.log_cmp(pc, a, b);
    }
    handler::<OP>(h, bus, i, pc)
}

/// [`handler_for`], with logging handlers for the comparisons cmplog records.
pub fn handler_for_cmplog(op: Op) -> Handler {
    macro_rules! logged {
        ($($o:ident)*) => {
            match op {
                $(Op::$o => cmp_handler::<{ Op::$o as u8 }>,)*
                _ => handler_for(op),
            }
        };
    }
    logged!(Beq Bne Blt Bge Bltu Bgeu Slt Sltu Slti Sltiu)
}

impl Hart {
    /// Executes `i` at `pc` and returns the next pc. Only the rare instructions read or write
    /// `self.pc` (they set it to `pc` first).
    #[inline(always)]
    pub(super) fn execute(&mut self, bus: &mut Bus, op: Op, i: &Packed, pc: u64) -> Result<u64, Trap> {
        let next = pc.wrapping_add(i.len());
        let rs1 = self.x[i.rs1()];
        let rs2 = self.x[i.rs2()];
        let imm = i.imm() as i64 as u64;
        let rd = i.rd();
        let v: u64 = match op {
            Op::Lui => imm,
            Op::Auipc => pc.wrapping_add(imm),
            Op::Jal => {
                self.x[rd] = next;
                self.x[0] = 0;
                return Ok(pc.wrapping_add(imm));
            }
            Op::Jalr => {
                let target = rs1.wrapping_add(imm) & !1;
                self.x[rd] = next;
                self.x[0] = 0;
                return Ok(target);
            }
            Op::Beq => return Ok(branch(rs1 == rs2, pc, imm, next)),
            Op::Bne => return Ok(branch(rs1 != rs2, pc, imm, next)),
            Op::Blt => return Ok(branch((rs1 as i64) < (rs2 as i64), pc, imm, next)),
            Op::Bge => return Ok(branch((rs1 as i64) >= (rs2 as i64), pc, imm, next)),
            Op::Bltu => return Ok(branch(rs1 < rs2, pc, imm, next)),
            Op::Bgeu => return Ok(branch(rs1 >= rs2, pc, imm, next)),
            Op::Lb => self.load::<1>(bus, rs1.wrapping_add(imm))? as i8 as i64 as u64,
            Op::Lh => self.load::<2>(bus, rs1.wrapping_add(imm))? as i16 as i64 as u64,
            Op::Lw => self.load::<4>(bus, rs1.wrapping_add(imm))? as i32 as i64 as u64,
            Op::Ld => self.load::<8>(bus, rs1.wrapping_add(imm))?,
            Op::Lbu => self.load::<1>(bus, rs1.wrapping_add(imm))?,
            Op::Lhu => self.load::<2>(bus, rs1.wrapping_add(imm))?,
            Op::Lwu => self.load::<4>(bus, rs1.wrapping_add(imm))?,
            Op::Sb => return self.store::<1>(bus, rs1.wrapping_add(imm), rs2).map(|_| next),
            Op::Sh => return self.store::<2>(bus, rs1.wrapping_add(imm), rs2).map(|_| next),
            Op::Sw => return self.store::<4>(bus, rs1.wrapping_add(imm), rs2).map(|_| next),
            Op::Sd => return self.store::<8>(bus, rs1.wrapping_add(imm), rs2).map(|_| next),
            Op::Addi => rs1.wrapping_add(imm),
            Op::Slti => ((rs1 as i64) < (imm as i64)) as u64,
            Op::Sltiu => (rs1 < imm) as u64,
            Op::Xori => rs1 ^ imm,
            Op::Ori => rs1 | imm,
            Op::Andi => rs1 & imm,
            Op::Slli => rs1 << (imm & 63),
            Op::Srli => rs1 >> (imm & 63),
            Op::Srai => ((rs1 as i64) >> (imm & 63)) as u64,
            Op::Add => rs1.wrapping_add(rs2),
            Op::Sub => rs1.wrapping_sub(rs2),
            Op::Sll => rs1 << (rs2 & 63),
            Op::Slt => ((rs1 as i64) < (rs2 as i64)) as u64,
            Op::Sltu => (rs1 < rs2) as u64,
            Op::Xor => rs1 ^ rs2,
            Op::Srl => rs1 >> (rs2 & 63),
            Op::Sra => ((rs1 as i64) >> (rs2 & 63)) as u64,
            Op::Or => rs1 | rs2,
            Op::And => rs1 & rs2,
            Op::Addiw => sext32(rs1.wrapping_add(imm)),
            Op::Slliw => sext32(((rs1 as u32) << (imm & 31)) as u64),
            Op::Srliw => sext32(((rs1 as u32) >> (imm & 31)) as u64),
            Op::Sraiw => ((rs1 as i32) >> (imm & 31)) as i64 as u64,
            Op::Addw => sext32(rs1.wrapping_add(rs2)),
            Op::Subw => sext32(rs1.wrapping_sub(rs2)),
            Op::Sllw => sext32(((rs1 as u32) << (rs2 & 31)) as u64),
            Op::Srlw => sext32(((rs1 as u32) >> (rs2 & 31)) as u64),
            Op::Sraw => ((rs1 as i32) >> (rs2 & 31)) as i64 as u64,
            Op::Mul => rs1.wrapping_mul(rs2),
            Op::Mulh => ((rs1 as i64 as i128 * rs2 as i64 as i128) >> 64) as u64,
            Op::Mulhsu => ((rs1 as i64 as i128).wrapping_mul(rs2 as i128) >> 64) as u64,
            Op::Mulhu => ((rs1 as u128 * rs2 as u128) >> 64) as u64,
            Op::Div => div(rs1, rs2),
            Op::Divu => divu(rs1, rs2),
            Op::Rem => rem(rs1, rs2),
            Op::Remu => remu(rs1, rs2),
            Op::Mulw => sext32(rs1.wrapping_mul(rs2)),
            Op::Divw => divw(rs1, rs2),
            Op::Divuw => divuw(rs1, rs2),
            Op::Remw => remw(rs1, rs2),
            Op::Remuw => remuw(rs1, rs2),
            Op::Fence => 0,
            _ => {
                self.pc = pc;
                self.execute_rare(bus, i.unpack())?;
                return Ok(self.pc);
            }
        };
        self.x[rd] = v;
        self.x[0] = 0;
        Ok(next)
    }

    /// Atomics, system instructions and CSRs: rarer, kept out of the hot function.
    #[inline(never)]
    fn execute_rare(&mut self, bus: &mut Bus, i: Insn) -> Result<(), Trap> {
        let next = self.pc.wrapping_add(i.len as u64);
        let rs1 = self.x[i.rs1 as usize & 31];
        let rs2 = self.x[i.rs2 as usize & 31];
        let rd = i.rd as usize & 31;
        let v = match i.op {
            Op::Illegal => return Err(Trap::new(cause::ILLEGAL_INSN, i.imm as u32 as u64)),
            Op::FenceI => {
                self.forget_all_code();
                0
            }
            Op::Ecall => {
                let c = match self.prv {
                    Priv::U => cause::ECALL_U,
                    Priv::S => cause::ECALL_S,
                    Priv::M => cause::ECALL_M,
                };
                return Err(Trap::new(c, 0));
            }
            Op::Ebreak => return Err(Trap::new(cause::BREAKPOINT, self.pc)),
            Op::Mret => {
                if self.prv != Priv::M {
                    return Err(self.illegal(bus, i));
                }
                self.mret();
                return Ok(());
            }
            Op::Sret => {
                let tsr = self.csr.mstatus & mstatus::TSR != 0;
                if self.prv == Priv::U || (self.prv == Priv::S && tsr) {
                    return Err(self.illegal(bus, i));
                }
                self.sret();
                return Ok(());
            }
            Op::Wfi => {
                let tw = self.csr.mstatus & mstatus::TW != 0;
                if self.prv == Priv::U || (self.prv == Priv::S && tw) {
                    return Err(self.illegal(bus, i));
                }
                self.wait_for_interrupt(bus);
                0
            }
            Op::SfenceVma => {
                let tvm = self.csr.mstatus & mstatus::TVM != 0;
                if self.prv == Priv::U || (self.prv == Priv::S && tvm) {
                    return Err(self.illegal(bus, i));
                }
                self.flush_tlb();
                0
            }
            Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
                return self.csr_op(bus, i, rs1, next);
            }
            Op::LrW | Op::LrD => {
                let n = if i.op == Op::LrW { 4 } else { 8 };
                if rs1 % n != 0 {
                    return Err(Trap::new(cause::LOAD_MISALIGNED, rs1));
                }
                let v = if n == 4 { sext32(self.load::<4>(bus, rs1)?) } else { self.load::<8>(bus, rs1)? };
                self.reservation = Some(rs1 | (n >> 3));
                v
            }
            Op::ScW | Op::ScD => {
                let n = if i.op == Op::ScW { 4 } else { 8 };
                if rs1 % n != 0 {
                    return Err(Trap::new(cause::STORE_MISALIGNED, rs1));
                }
                let ok = self.reservation == Some(rs1 | (n >> 3));
                if ok {
                    if n == 4 { self.store_within::<4>(bus, rs1, rs2)? } else { self.store_within::<8>(bus, rs1, rs2)? }
                }
                self.reservation = None;
                !ok as u64
            }
            op if op.is_fp() => return self.execute_fp(bus, i),
            op => self.amo(bus, op, rs1, rs2)?,
        };
        self.x[rd] = v;
        self.x[0] = 0;
        self.pc = next;
        Ok(())
    }

    fn amo(&mut self, bus: &mut Bus, op: Op, addr: u64, src: u64) -> Result<u64, Trap> {
        let word = matches!(
            op,
            Op::AmoswapW | Op::AmoaddW | Op::AmoxorW | Op::AmoandW | Op::AmoorW
                | Op::AmominW | Op::AmomaxW | Op::AmominuW | Op::AmomaxuW
        );
        let n = if word { 4 } else { 8 };
        if addr % n != 0 {
            return Err(Trap::new(cause::STORE_MISALIGNED, addr));
        }
        self.probe_store(bus, addr)?;
        let (old, b) = if word {
            (sext32(self.load::<4>(bus, addr)?), sext32(src))
        } else {
            (self.load::<8>(bus, addr)?, src)
        };
        let new = match op {
            Op::AmoswapW | Op::AmoswapD => b,
            Op::AmoaddW | Op::AmoaddD => old.wrapping_add(b),
            Op::AmoxorW | Op::AmoxorD => old ^ b,
            Op::AmoandW | Op::AmoandD => old & b,
            Op::AmoorW | Op::AmoorD => old | b,
            Op::AmominW | Op::AmominD => (old as i64).min(b as i64) as u64,
            Op::AmomaxW | Op::AmomaxD => (old as i64).max(b as i64) as u64,
            Op::AmominuW | Op::AmominuD => if word { (old as u32).min(b as u32) as u64 } else { old.min(b) },
            Op::AmomaxuW | Op::AmomaxuD => if word { (old as u32).max(b as u32) as u64 } else { old.max(b) },
            _ => unreachable!("execute_rare routes only AMOs here"),
        };
        if word { self.store_within::<4>(bus, addr, new)? } else { self.store_within::<8>(bus, addr, new)? }
        Ok(old)
    }

    fn csr_op(&mut self, bus: &mut Bus, i: Insn, rs1: u64, next: u64) -> Result<(), Trap> {
        let n = i.imm as u16 & 0xfff;
        let src = match i.op {
            Op::Csrrwi | Op::Csrrsi | Op::Csrrci => i.rs1 as u64,
            _ => rs1,
        };
        let writes = match i.op {
            Op::Csrrw | Op::Csrrwi => true,
            _ => i.rs1 != 0,
        };
        let reads = !matches!(i.op, Op::Csrrw | Op::Csrrwi) || i.rd != 0;
        if let Err(CsrError::Absent | CsrError::Denied) = self.csr_access(n, writes) {
            return Err(self.illegal(bus, i));
        }
        let old = if reads || writes { self.csr_read(n, bus).unwrap_or(0) } else { 0 };
        if writes {
            let new = match i.op {
                Op::Csrrw | Op::Csrrwi => src,
                Op::Csrrs | Op::Csrrsi => old | src,
                _ => old & !src,
            };
            if self.csr_write(n, new).is_err() {
                return Err(self.illegal(bus, i));
            }
            self.end_slice();
        }
        self.x[i.rd as usize & 31] = old;
        self.x[0] = 0;
        self.pc = next;
        Ok(())
    }

    fn illegal(&mut self, bus: &mut Bus, i: Insn) -> Trap {
        Trap::new(cause::ILLEGAL_INSN, self.raw_insn(bus, i.len))
    }
}
