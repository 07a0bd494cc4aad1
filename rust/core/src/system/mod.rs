//! The system machine's M-mode: the Rust monitor under an untrusted S-mode host kernel
//! (docs/system-mode.md). Nothing here runs as guest code: every trap that would enter M-mode
//! comes back from the hart ([`Hart::host_traps`]) and is serviced by [`System::trap`]:
//!
//! * `ecall` from S: SBI, table-driven ([`sbi`]), including the Penglai host extension
//!   ([`host`]);
//! * an illegal-instruction trap of a `satp` access or `sfence.vma` while `mstatus.TVM` is
//!   set: emulated under the guarded-page-table rules ([`tvm`], [`gpt`]);
//! * the machine timer interrupt: handed to S-mode as STIP (SBI TIME);
//! * anything else: redirected to S-mode exactly as a delegated trap, or, if S-mode has no
//!   trap handler (`stvec` = 0), the end of the run with the fault.
mod enclave;
pub mod gpt;
mod host;
pub mod mem;
mod relay;
mod sbi;
mod server;
mod shadow;
mod tvm;

use crate::bus::Bus;
use crate::device::clint;
use crate::hart::csr::{mip, FS_INITIAL};
use crate::hart::trap::{cause, Trap};
use crate::hart::{Hart, Priv};
use crate::machine::Exit;
use crate::monitor::{Config, Monitor};
use crate::mmu::pmp::{A_NAPOT, CFG_A_SHIFT, CFG_R, CFG_W, CFG_X};
use gpt::{napot_addr, set_pmp, Gpt};

/// Base of RAM and of the monitor region (PMP entry 0: no S/U access).
pub const MONITOR_BASE: u64 = 0x8000_0000;
pub const MONITOR_SIZE: u64 = 2 << 20;
pub const MONITOR_END: u64 = MONITOR_BASE + MONITOR_SIZE;
/// Where the host kernel's image may start.
pub const KERNEL_BASE: u64 = MONITOR_END;

/// The monitor's state for one system machine.
pub struct System {
    pub gpt: Gpt,
    /// Bytes of secure memory enclaves may hold at once.
    pub secure_memory: u64,
    /// Regions given to the monitor with MEMORY_EXTEND (secure, never returned).
    pub extended: Vec<(u64, u64)>,
    /// The same monitor model `pltvm.Device` uses, for the host's enclaves.
    pub monitor: Monitor,
    enclaves: enclave::Enclaves,
}

impl System {
    pub fn new(ram_start: u64, ram_end: u64, secure_memory: u64) -> System {
        let config = Config { secure_memory, slice: enclave::SLICE, ..Config::default() };
        System {
            gpt: Gpt::new(ram_start, ram_end),
            secure_memory,
            extended: Vec::new(),
            monitor: Monitor::new(config),
            enclaves: Default::default(),
        }
    }

    /// The hand-over a firmware does: PMP (monitor region and CLINT closed to S/U, the rest
    /// open), S-mode, `a0` = hart id 0, `a1` = 0 (no device tree), supervisor interrupts
    /// delegated, no exceptions delegated (the monitor sees each first and redirects it).
    pub fn boot(&self, hart: &mut Hart) {
        hart.host_traps = true;
        hart.pmp.enforce = true;
        set_pmp(hart, gpt::PMP_MONITOR, A_NAPOT << CFG_A_SHIFT, napot_addr(MONITOR_BASE, MONITOR_SIZE));
        set_pmp(hart, gpt::PMP_CLINT, A_NAPOT << CFG_A_SHIFT, napot_addr(clint::BASE, clint::SIZE));
        set_pmp(hart, gpt::PMP_ALL, CFG_R | CFG_W | CFG_X | (A_NAPOT << CFG_A_SHIFT), (1 << 54) - 1);
        hart.csr.mideleg = mip::S_ALL;
        hart.csr.medeleg = 0;
        hart.csr.mstatus |= FS_INITIAL;
        // S-mode may read time, cycle and instret.
        hart.csr.mcounteren = 0b111;
        hart.x = [0; 32];
        hart.set_priv(Priv::S);
    }

    /// Services a trap that would enter M-mode. `Some` ends the run.
    pub fn trap(&mut self, hart: &mut Hart, bus: &mut Bus, t: Trap) -> Option<Exit> {
        if t.is_interrupt() {
            match t.cause & !cause::INTERRUPT {
                // SBI TIME: the machine timer becomes the supervisor's.
                7 => {
                    hart.csr.mie &= !mip::MTIP;
                    hart.csr.mip |= mip::STIP;
                }
                // Nobody sends M-mode software or external interrupts: drop them.
                3 => {
                    if let Some(c) = &mut bus.clint {
                        c.msip = false;
                    }
                }
                _ => hart.csr.mie &= !(1 << (t.cause & 63)),
            }
            return None;
        }
        match t.cause {
            cause::ECALL_S => sbi::ecall(self, hart, bus),
            cause::ILLEGAL_INSN if tvm::emulate(self, hart, t.tval) => None,
            _ => redirect(hart, t),
        }
    }
}

/// Hands an exception to S-mode as a delegated trap would arrive (what OpenSBI's
/// `sbi_trap_redirect` does). With no S-mode handler the run ends with the fault instead of
/// looping on a fetch fault at address 0.
fn redirect(hart: &mut Hart, t: Trap) -> Option<Exit> {
    if hart.csr.stvec == 0 || hart.prv == Priv::M {
        return Some(Exit::Fault { cause: t.cause, tval: t.tval, pc: hart.pc });
    }
    let saved = hart.csr.medeleg;
    hart.csr.medeleg = 1 << t.cause;
    hart.take_trap(t);
    hart.csr.medeleg = saved;
    None
}

/// The end of every instruction the monitor performs for S-mode (ecall, emulated CSR access).
fn retire(hart: &mut Hart) {
    hart.pc = hart.pc.wrapping_add(4);
    hart.retired += 1;
}

#[cfg(test)]
mod enclave_tests;
#[cfg(test)]
mod kinds_tests;
#[cfg(test)]
mod tests;
