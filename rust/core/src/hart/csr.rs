//! The CSR file of M and S mode, with the WARL legalisation of every writable field.
//!
//! Reads and writes here are the architectural effect only; privilege, read-only and TVM checks
//! are in [`Hart::csr_access`], so the debugger interface can reuse them as M-mode.
use super::{Hart, Priv};
use crate::bus::Bus;

pub mod mstatus {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const MPP_SHIFT: u64 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    pub const FS: u64 = 3 << 13;
    pub const XS: u64 = 3 << 15;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    pub const UXL_SXL_64: u64 = (2 << 32) | (2 << 34);
    pub const SD: u64 = 1 << 63;
    pub const WRITABLE: u64 =
        SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    /// The fields sstatus shows, and the ones it may write.
    pub const S_VIEW: u64 = SIE | SPIE | SPP | FS | XS | SUM | MXR | (3 << 32) | SD;
    pub const S_WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
}

pub mod mip {
    pub const SSIP: u64 = 1 << 1;
    pub const MSIP: u64 = 1 << 3;
    pub const STIP: u64 = 1 << 5;
    pub const MTIP: u64 = 1 << 7;
    pub const SEIP: u64 = 1 << 9;
    pub const MEIP: u64 = 1 << 11;
    pub const S_ALL: u64 = SSIP | STIP | SEIP;
    pub const ALL: u64 = S_ALL | MSIP | MTIP | MEIP;
}

pub mod num {
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const PMPCFG0: u16 = 0x3a0;
    pub const PMPADDR0: u16 = 0x3b0;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
}

/// RV64 (MXL = 2) with A, C, D, F, I, M, S, U.
pub const MISA: u64 =
    (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
/// mstatus.FS = Initial (what a Linux process starts with).
pub const FS_INITIAL: u64 = 1 << 13;
/// Exceptions that may be delegated: all defined causes except ecall from M (11).
const MEDELEG_WRITABLE: u64 = 0xb3ff;
const COUNTEREN_WRITABLE: u64 = 0b111;
const COUNTINHIBIT_WRITABLE: u64 = 0b101;
const SATP_PPN: u64 = (1 << 44) - 1;
const SATP_MODE_SV39: u64 = 8;
const PMP_ENTRIES: usize = 16;

#[derive(Clone, Debug)]
pub struct CsrFile {
    pub mstatus: u64,
    pub medeleg: u64,
    pub mideleg: u64,
    pub mie: u64,
    /// The software-writable pending bits (SSIP, STIP, SEIP); MSIP/MTIP come from the CLINT.
    pub mip: u64,
    pub mtvec: u64,
    pub stvec: u64,
    pub mepc: u64,
    pub sepc: u64,
    pub mcause: u64,
    pub scause: u64,
    pub mtval: u64,
    pub stval: u64,
    pub mscratch: u64,
    pub sscratch: u64,
    pub mcounteren: u64,
    pub scounteren: u64,
    pub mcountinhibit: u64,
    pub satp: u64,
    pub pmpcfg: [u64; 2],
    pub pmpaddr: [u64; PMP_ENTRIES],
    /// mcycle = retired + cycle_offset while counting; see [`Hart::counter`].
    pub cycle_offset: u64,
    pub instret_offset: u64,
}

impl Default for CsrFile {
    fn default() -> Self {
        CsrFile {
            mstatus: mstatus::UXL_SXL_64,
            medeleg: 0,
            mideleg: 0,
            mie: 0,
            mip: 0,
            mtvec: 0,
            stvec: 0,
            mepc: 0,
            sepc: 0,
            mcause: 0,
            scause: 0,
            mtval: 0,
            stval: 0,
            mscratch: 0,
            sscratch: 0,
            mcounteren: 0,
            scounteren: 0,
            mcountinhibit: 0,
            satp: 0,
            pmpcfg: [0; 2],
            pmpaddr: [0; PMP_ENTRIES],
            cycle_offset: 0,
            instret_offset: 0,
        }
    }
}

/// Why a CSR access is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CsrError {
    /// No such CSR: illegal instruction (and KeyError for the debugger).
    Absent,
    /// Exists, but not at this privilege or not writable: illegal instruction.
    Denied,
}

fn with_sd(s: u64) -> u64 {
    let dirty = (s & mstatus::FS) == mstatus::FS || (s & mstatus::XS) == mstatus::XS;
    if dirty { s | mstatus::SD } else { s & !mstatus::SD }
}

fn legal_tvec(v: u64) -> u64 {
    if v & 3 >= 2 { v & !3 } else { v }
}

/// pmpcfg bytes: R=0,W=1 is reserved and becomes R=W=0; locked entries keep their value.
fn legal_pmpcfg(old: u64, new: u64) -> u64 {
    let mut out = 0u64;
    for i in 0..8 {
        let o = (old >> (8 * i)) as u8;
        let mut n = (new >> (8 * i)) as u8 & 0x9f;
        if o & 0x80 != 0 {
            n = o;
        } else if n & 0b11 == 0b10 {
            n &= !0b11;
        }
        out |= (n as u64) << (8 * i);
    }
    out
}

impl Hart {
    /// mip as software sees it: the writable bits plus the CLINT's MSIP and MTIP.
    pub fn read_mip(&self, bus: &Bus) -> u64 {
        let mut v = self.csr.mip;
        if let Some(clint) = &bus.clint {
            if clint.msip {
                v |= mip::MSIP;
            }
            if self.mtime() >= clint.mtimecmp {
                v |= mip::MTIP;
            }
        }
        v
    }

    /// mcycle (`which == 0`) or minstret (`which == 2`).
    fn counter(&self, which: u16) -> u64 {
        let offset = if which == 0 { self.csr.cycle_offset } else { self.csr.instret_offset };
        if self.csr.mcountinhibit & (1 << which) != 0 {
            offset
        } else {
            self.retired.wrapping_add(offset)
        }
    }

    /// Sets mcycle/minstret so that the *next* instruction reads `value`: the writing
    /// instruction's own retirement does not count (as in Spike).
    fn set_counter(&mut self, which: u16, value: u64) {
        let inhibited = self.csr.mcountinhibit & (1 << which) != 0;
        let offset = if inhibited { value } else { value.wrapping_sub(self.retired.wrapping_add(1)) };
        if which == 0 {
            self.csr.cycle_offset = offset;
        } else {
            self.csr.instret_offset = offset;
        }
    }

    /// Checks that the current privilege may access CSR `n` (writing if `write`).
    pub fn csr_access(&self, n: u16, write: bool) -> Result<(), CsrError> {
        if !csr_exists(n) {
            return Err(CsrError::Absent);
        }
        let min_priv = (n >> 8) & 3;
        if (self.prv as u16) < min_priv || (write && n >> 10 == 3) {
            return Err(CsrError::Denied);
        }
        if n == num::SATP && self.prv == Priv::S && self.csr.mstatus & mstatus::TVM != 0 {
            return Err(CsrError::Denied);
        }
        // The FP CSRs are illegal while mstatus.FS is Off.
        if n <= num::FCSR && self.csr.mstatus & mstatus::FS == 0 {
            return Err(CsrError::Denied);
        }
        if (0xc00..0xc20).contains(&n) {
            let bit = 1u64 << (n - 0xc00);
            let ok = match self.prv {
                Priv::M => true,
                Priv::S => self.csr.mcounteren & bit != 0,
                Priv::U => self.csr.mcounteren & self.csr.scounteren & bit != 0,
            };
            if !ok {
                return Err(CsrError::Denied);
            }
        }
        Ok(())
    }

    /// Reads CSR `n` without privilege checks.
    pub fn csr_read(&self, n: u16, bus: &Bus) -> Result<u64, CsrError> {
        let c = &self.csr;
        Ok(match n {
            num::FFLAGS => self.fp.fflags as u64,
            num::FRM => self.fp.frm as u64,
            num::FCSR => self.fp.fcsr(),
            num::SSTATUS => with_sd(c.mstatus) & mstatus::S_VIEW,
            num::SIE => c.mie & c.mideleg,
            num::STVEC => c.stvec,
            num::SCOUNTEREN => c.scounteren,
            num::SENVCFG | num::MENVCFG => 0,
            num::SSCRATCH => c.sscratch,
            num::SEPC => c.sepc,
            num::SCAUSE => c.scause,
            num::STVAL => c.stval,
            num::SIP => self.read_mip(bus) & c.mideleg,
            num::SATP => c.satp,
            num::MSTATUS => with_sd(c.mstatus),
            num::MISA => MISA,
            num::MEDELEG => c.medeleg,
            num::MIDELEG => c.mideleg,
            num::MIE => c.mie,
            num::MTVEC => c.mtvec,
            num::MCOUNTEREN => c.mcounteren,
            num::MCOUNTINHIBIT => c.mcountinhibit,
            num::MSCRATCH => c.mscratch,
            num::MEPC => c.mepc,
            num::MCAUSE => c.mcause,
            num::MTVAL => c.mtval,
            num::MIP => self.read_mip(bus),
            0x3a0 | 0x3a2 => c.pmpcfg[(n as usize - 0x3a0) / 2],
            0x3b0..=0x3bf => c.pmpaddr[n as usize - 0x3b0],
            num::MCYCLE | num::CYCLE => self.counter(0),
            num::MINSTRET | num::INSTRET => self.counter(2),
            num::TIME => self.mtime(),
            num::MVENDORID | num::MARCHID | num::MIMPID | num::MHARTID | num::MCONFIGPTR => 0,
            0x7a0..=0x7a4 => self.trigger_csr_read(n),
            _ if csr_exists(n) => 0,
            _ => return Err(CsrError::Absent),
        })
    }

    /// Writes CSR `n` without privilege checks, legalising the value. Returns whether the
    /// write can change translation (the caller flushes the TLB).
    pub fn csr_write(&mut self, n: u16, v: u64) -> Result<(), CsrError> {
        let c = &mut self.csr;
        match n {
            // Writing any of them makes the FP state Dirty.
            num::FFLAGS | num::FRM | num::FCSR => {
                let fcsr = match n {
                    num::FFLAGS => (self.fp.fcsr() & !0x1f) | (v & 0x1f),
                    num::FRM => (self.fp.fcsr() & 0x1f) | ((v & 7) << 5),
                    _ => v & 0xff,
                };
                self.fp.fflags = fcsr as u8 & 0x1f;
                self.fp.frm = (fcsr >> 5) as u8 & 7;
                c.mstatus |= mstatus::FS;
            }
            num::SSTATUS => {
                c.mstatus = (c.mstatus & !mstatus::S_WRITABLE) | (v & mstatus::S_WRITABLE);
                self.flush_translation();
            }
            num::SIE => c.mie = (c.mie & !c.mideleg) | (v & c.mideleg),
            num::STVEC => c.stvec = legal_tvec(v),
            num::SCOUNTEREN => c.scounteren = v & COUNTEREN_WRITABLE,
            num::SENVCFG | num::MENVCFG => {}
            num::SSCRATCH => c.sscratch = v,
            num::SEPC => c.sepc = v & !1,
            num::SCAUSE => c.scause = v,
            num::STVAL => c.stval = v,
            num::SIP => {
                let m = mip::SSIP & c.mideleg;
                c.mip = (c.mip & !m) | (v & m);
            }
            num::SATP => {
                let mode = v >> 60;
                if mode == 0 || mode == SATP_MODE_SV39 {
                    c.satp = (mode << 60) | (v & SATP_PPN);
                    self.flush_translation();
                }
            }
            num::MSTATUS => {
                let mut nv = v & mstatus::WRITABLE;
                if (nv & mstatus::MPP) >> mstatus::MPP_SHIFT == 2 {
                    nv &= !mstatus::MPP;
                }
                c.mstatus = (c.mstatus & !mstatus::WRITABLE) | nv;
                self.flush_translation();
            }
            num::MISA | num::MVENDORID | num::MARCHID | num::MIMPID | num::MHARTID => {}
            num::MEDELEG => c.medeleg = v & MEDELEG_WRITABLE,
            num::MIDELEG => c.mideleg = v & mip::S_ALL,
            num::MIE => c.mie = v & mip::ALL,
            num::MTVEC => c.mtvec = legal_tvec(v),
            num::MCOUNTEREN => c.mcounteren = v & COUNTEREN_WRITABLE,
            num::MCOUNTINHIBIT => {
                let cycle = self.counter(0);
                let instret = self.counter(2);
                self.csr.mcountinhibit = v & COUNTINHIBIT_WRITABLE;
                // Keep the visible values continuous across inhibit changes.
                self.csr.cycle_offset = 0;
                self.csr.instret_offset = 0;
                self.set_counter_now(0, cycle);
                self.set_counter_now(2, instret);
            }
            num::MSCRATCH => c.mscratch = v,
            num::MEPC => c.mepc = v & !1,
            num::MCAUSE => c.mcause = v,
            num::MTVAL => c.mtval = v,
            num::MIP => c.mip = (c.mip & !mip::S_ALL) | (v & mip::S_ALL),
            0x3a0 | 0x3a2 => {
                let i = (n as usize - 0x3a0) / 2;
                c.pmpcfg[i] = legal_pmpcfg(c.pmpcfg[i], v);
                self.pmp_changed();
            }
            0x3b0..=0x3bf => {
                let i = n as usize - 0x3b0;
                let locked = (c.pmpcfg[i / 8] >> (8 * (i % 8))) & 0x80 != 0;
                if !locked {
                    c.pmpaddr[i] = v & ((1 << 54) - 1);
                    self.pmp_changed();
                }
            }
            num::MCYCLE => self.set_counter(0, v),
            num::MINSTRET => self.set_counter(2, v),
            0x7a0..=0x7a4 => self.trigger_csr_write(n, v),
            _ if csr_exists(n) => {}
            _ => return Err(CsrError::Absent),
        }
        Ok(())
    }

    /// Sets a counter's current value (no instruction retiring around it).
    fn set_counter_now(&mut self, which: u16, value: u64) {
        let inhibited = self.csr.mcountinhibit & (1 << which) != 0;
        let offset = if inhibited { value } else { value.wrapping_sub(self.retired) };
        if which == 0 {
            self.csr.cycle_offset = offset;
        } else {
            self.csr.instret_offset = offset;
        }
    }
}

/// Every CSR this hart implements (some read as zero).
pub fn csr_exists(n: u16) -> bool {
    matches!(n,
        0x001..=0x003 | 0x100 | 0x104 | 0x105 | 0x106 | 0x10a | 0x140..=0x144 | 0x180
        | 0x300..=0x306 | 0x30a | 0x320 | 0x323..=0x33f | 0x340..=0x344
        | 0x3a0 | 0x3a2 | 0x3a4 | 0x3a6 | 0x3a8 | 0x3aa | 0x3ac | 0x3ae | 0x3b0..=0x3ef
        | 0x7a0..=0x7a4
        | 0xb00 | 0xb02..=0xb1f | 0xc00..=0xc1f
        | 0xf11..=0xf15)
}
