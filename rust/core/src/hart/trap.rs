//! Exceptions and interrupts: causes, delegation, priorities, entry and `xret`.
use super::csr::{mip, mstatus};
use super::{Hart, Priv};
use crate::bus::Bus;

pub mod cause {
    pub const INSN_MISALIGNED: u64 = 0;
    pub const FETCH_ACCESS: u64 = 1;
    pub const ILLEGAL_INSN: u64 = 2;
    pub const BREAKPOINT: u64 = 3;
    pub const LOAD_MISALIGNED: u64 = 4;
    pub const LOAD_ACCESS: u64 = 5;
    pub const STORE_MISALIGNED: u64 = 6;
    pub const STORE_ACCESS: u64 = 7;
    pub const ECALL_U: u64 = 8;
    pub const ECALL_S: u64 = 9;
    pub const ECALL_M: u64 = 11;
    pub const FETCH_PAGE_FAULT: u64 = 12;
    pub const LOAD_PAGE_FAULT: u64 = 13;
    pub const STORE_PAGE_FAULT: u64 = 15;
    pub const INTERRUPT: u64 = 1 << 63;
}

/// An exception raised by an instruction (it does not retire) or an interrupt being taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    pub cause: u64,
    pub tval: u64,
}

impl Trap {
    /// Not a trap: a store completed and asks the run loop to stop after it (HTIF, CLINT or
    /// code written). Never reaches `take_trap`.
    pub const STOP: Trap = Trap { cause: u64::MAX, tval: 0 };

    pub const fn new(cause: u64, tval: u64) -> Trap {
        Trap { cause, tval }
    }

    pub fn is_interrupt(&self) -> bool {
        self.cause & cause::INTERRUPT != 0
    }
}

/// Interrupt numbers in the order the privileged spec gives them priority.
const PRIORITY: [u64; 6] = [11, 3, 7, 9, 1, 5];

impl Hart {
    /// The highest-priority interrupt that is pending, enabled and not masked at the current
    /// privilege, if any.
    pub fn pending_interrupt(&self, bus: &Bus) -> Option<u64> {
        let pending = self.read_mip(bus) & self.csr.mie;
        if pending == 0 {
            return None;
        }
        let mstatus = self.csr.mstatus;
        let m_enabled = self.prv < Priv::M || mstatus & mstatus::MIE != 0;
        let s_enabled = self.prv < Priv::S || (self.prv == Priv::S && mstatus & mstatus::SIE != 0);
        let to_m = pending & !self.csr.mideleg;
        let to_s = pending & self.csr.mideleg;
        for irq in PRIORITY {
            let bit = 1 << irq;
            if (to_m & bit != 0 && m_enabled) || (to_s & bit != 0 && s_enabled && self.prv <= Priv::S) {
                return Some(irq);
            }
        }
        None
    }

    /// Whether any enabled interrupt is pending, ignoring the global enables (what `wfi` waits for).
    pub fn interrupt_waiting(&self, bus: &Bus) -> bool {
        self.read_mip(bus) & self.csr.mie & mip::ALL != 0
    }

    /// Enters the trap handler: M-mode, or S-mode when delegated from S or U.
    pub fn take_trap(&mut self, trap: Trap) {
        let code = trap.cause & !cause::INTERRUPT;
        let deleg = if trap.is_interrupt() { self.csr.mideleg } else { self.csr.medeleg };
        let to_s = self.prv <= Priv::S && code < 64 && (deleg >> code) & 1 != 0;
        let status = self.csr.mstatus;
        if to_s {
            self.csr.scause = trap.cause;
            self.csr.sepc = self.pc;
            self.csr.stval = trap.tval;
            let mut s = status & !(mstatus::SPP | mstatus::SPIE | mstatus::SIE);
            if self.prv == Priv::S {
                s |= mstatus::SPP;
            }
            if status & mstatus::SIE != 0 {
                s |= mstatus::SPIE;
            }
            self.csr.mstatus = s;
            self.pc = vector(self.csr.stvec, trap);
            self.set_priv(Priv::S);
        } else {
            self.csr.mcause = trap.cause;
            self.csr.mepc = self.pc;
            self.csr.mtval = trap.tval;
            let mut s = status & !(mstatus::MPP | mstatus::MPIE | mstatus::MIE);
            s |= (self.prv as u64) << mstatus::MPP_SHIFT;
            if status & mstatus::MIE != 0 {
                s |= mstatus::MPIE;
            }
            self.csr.mstatus = s;
            self.pc = vector(self.csr.mtvec, trap);
            self.set_priv(Priv::M);
        }
        self.reservation = None;
        self.end_slice();
    }

    pub fn mret(&mut self) {
        let s = self.csr.mstatus;
        let prev = Priv::from_bits((s & mstatus::MPP) >> mstatus::MPP_SHIFT);
        let mut n = s & !(mstatus::MPP | mstatus::MIE);
        if s & mstatus::MPIE != 0 {
            n |= mstatus::MIE;
        }
        n |= mstatus::MPIE;
        if prev != Priv::M {
            n &= !mstatus::MPRV;
        }
        self.csr.mstatus = n;
        self.pc = self.csr.mepc;
        self.reservation = None;
        self.set_priv(prev);
        // Interrupt enables changed: pending interrupts are re-checked before the next block.
        self.end_slice();
    }

    pub fn sret(&mut self) {
        let s = self.csr.mstatus;
        let prev = if s & mstatus::SPP != 0 { Priv::S } else { Priv::U };
        let mut n = s & !(mstatus::SPP | mstatus::SIE | mstatus::MPRV);
        if s & mstatus::SPIE != 0 {
            n |= mstatus::SIE;
        }
        n |= mstatus::SPIE;
        self.csr.mstatus = n;
        self.pc = self.csr.sepc;
        self.reservation = None;
        self.set_priv(prev);
        self.end_slice();
    }
}

fn vector(tvec: u64, trap: Trap) -> u64 {
    let base = tvec & !3;
    if tvec & 1 == 1 && trap.is_interrupt() {
        base.wrapping_add(4 * (trap.cause & !cause::INTERRUPT))
    } else {
        base
    }
}
