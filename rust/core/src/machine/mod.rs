//! Machines: a hart, its bus and what services its traps. `bare` runs M-mode programs with the
//! CLINT and HTIF; `user` runs a static Linux ELF in U-mode with syscalls serviced here.
mod checkpoint;
mod user;

use crate::bus::Bus;
use crate::device::clint::Clint;
use crate::device::htif::Htif;
use crate::hart::trap::{cause, Trap};
use crate::hart::{Event, Hart, Priv};
use crate::mem::PAGE_MASK;
use crate::system::{System, KERNEL_BASE, MONITOR_SIZE};

pub use checkpoint::{Checkpoint, NoCheckpoints};
pub use user::{STACK_SIZE, STACK_TOP};

pub const RAM_BASE: u64 = 0x8000_0000;
/// RAM a bare machine can have: up to the end of the 48-bit physical space.
pub const MAX_RAM_SIZE: u64 = (crate::mem::MAX_PPN << 12) - RAM_BASE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bare,
    User,
    /// An S-mode host kernel under the Rust monitor (`crate::system`).
    System,
}

/// Why a run ended, as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Exited(i64),
    Budget,
    /// A trap nobody handles (user machine), with the trapping pc.
    Fault { cause: u64, tval: u64, pc: u64 },
}

#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Part of the range is not RAM (bare) or not mappable (user).
    OutsideMemory { addr: u64, size: u64 },
    Overlap { addr: u64 },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::OutsideMemory { addr, size } => {
                write!(f, "segment at {addr:#x} (size {size:#x}) is outside the machine's memory")
            }
            LoadError::Overlap { addr } => write!(f, "segment at {addr:#x} overlaps another one"),
        }
    }
}

pub struct Machine {
    pub hart: Hart,
    pub bus: Bus,
    pub kind: Kind,
    ram_size: u64,
    user: user::UserState,
    /// The monitor of a system machine.
    pub system: Option<Box<System>>,
}

impl Machine {
    /// An M-mode machine with `ram_size` bytes of RAM at [`RAM_BASE`] (rounded up to pages, at
    /// most [`MAX_RAM_SIZE`]), a CLINT and HTIF. RAM costs nothing until written.
    pub fn bare(ram_size: u64, misaligned_trap: bool) -> Machine {
        let mut bus = Bus::default();
        let ram_size = (ram_size.min(MAX_RAM_SIZE) + PAGE_MASK) & !PAGE_MASK;
        bus.add_ram(RAM_BASE, RAM_BASE + ram_size);
        bus.clint = Some(Clint::default());
        let mut hart = Hart::default();
        hart.misaligned_trap = misaligned_trap;
        hart.pc = RAM_BASE;
        Machine { hart, bus, kind: Kind::Bare, ram_size, user: Default::default(), system: None }
    }

    /// A U-mode machine for static Linux ELFs: no paging, every trap comes back to the host.
    pub fn user(misaligned_trap: bool) -> Machine {
        let mut hart = Hart::default();
        hart.misaligned_trap = misaligned_trap;
        hart.host_traps = true;
        hart.prv = Priv::U;
        // FP usable from the start, as Linux starts a process (FS = Initial).
        hart.csr.mstatus |= crate::hart::csr::FS_INITIAL;
        let mut bus = Bus::default();
        bus.add_ram(STACK_TOP - STACK_SIZE, STACK_TOP);
        Machine { hart, bus, kind: Kind::User, ram_size: 0, user: Default::default(), system: None }
    }

    /// A system machine: `ram_size` bytes of RAM at [`RAM_BASE`] (rounded up to pages, at
    /// least the monitor region plus one page), the first 2 MiB reserved for the monitor, a
    /// CLINT only M-mode reaches, and the hart in S-mode as a firmware hands over.
    /// `secure_memory` caps the bytes enclaves may hold at once.
    pub fn system(ram_size: u64, secure_memory: u64) -> Machine {
        let ram_size = ((ram_size.min(MAX_RAM_SIZE) + PAGE_MASK) & !PAGE_MASK).max(MONITOR_SIZE + PAGE_MASK + 1);
        let mut m = Machine::bare(ram_size, false);
        m.kind = Kind::System;
        m.hart.pc = KERNEL_BASE;
        let sys = System::new(RAM_BASE, RAM_BASE + m.ram_size, secure_memory);
        sys.boot(&mut m.hart);
        m.system = Some(Box::new(sys));
        m
    }

    pub fn ram_base(&self) -> u64 {
        if self.kind == Kind::User { 0 } else { RAM_BASE }
    }

    pub fn ram_size(&self) -> u64 {
        self.ram_size
    }

    /// Copies `data` to `addr` and zero-fills to `memsz`. The range is checked first; the
    /// zero fill allocates nothing for the whole pages it covers (see [`Machine::zero_fill`]),
    /// so a huge `.bss` costs memory only as the program touches it.
    pub fn load_segment(&mut self, addr: u64, data: &[u8], memsz: u64) -> Result<(), LoadError> {
        let memsz = memsz.max(data.len() as u64);
        let end = addr.checked_add(memsz).ok_or(LoadError::OutsideMemory { addr, size: memsz })?;
        match self.kind {
            Kind::Bare => {
                if addr < RAM_BASE || end > RAM_BASE + self.ram_size {
                    return Err(LoadError::OutsideMemory { addr, size: memsz });
                }
            }
            Kind::User => self.user.map_segment(&mut self.bus, addr, end)?,
            // The monitor region is not the host's to load into.
            Kind::System => {
                if addr < KERNEL_BASE || end > RAM_BASE + self.ram_size {
                    return Err(LoadError::OutsideMemory { addr, size: memsz });
                }
            }
        }
        if !self.hart.host_write(&mut self.bus, addr, data) {
            return Err(LoadError::OutsideMemory { addr, size: memsz });
        }
        self.zero_fill(addr + data.len() as u64, end);
        Ok(())
    }

    /// Zeroes RAM `[start, end)`: the partial pages at either end are written (if they have a
    /// frame: absent frames read as zero already), whole pages in between lose their frames.
    /// Cost: the frames present, not the size of the range.
    fn zero_fill(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let zeros = [0u8; PAGE_MASK as usize + 1];
        let first_full = (start + PAGE_MASK) & !PAGE_MASK;
        let last_full = end & !PAGE_MASK;
        let partial = |m: &mut Machine, s: u64, e: u64| {
            if s < e && m.bus.mem.get(s >> 12).is_some() {
                m.hart.host_write(&mut m.bus, s, &zeros[..(e - s) as usize]);
            }
        };
        if first_full >= last_full {
            // No whole page: at most the ends of two pages.
            let mid = first_full.min(end);
            partial(self, start, mid);
            partial(self, mid, end);
            return;
        }
        partial(self, start, first_full);
        partial(self, last_full, end);
        let removed = self.bus.mem.present_in(first_full >> 12, last_full >> 12);
        if removed.is_empty() {
            return;
        }
        // The hart's TLB holds pointers to frames and its decoded code is keyed by page.
        self.hart.host_unmapped(0, 0);
        for ppn in removed {
            self.bus.mem.remove(ppn);
            self.hart.forget_code(ppn);
        }
    }

    pub fn set_htif(&mut self, tohost: u64, fromhost: Option<u64>) {
        self.bus.htif = Some(Htif { tohost, fromhost });
    }

    /// User machine: the Linux initial stack; returns `sp`, or `None` if it does not fit.
    pub fn setup_stack(&mut self, argv: &[Vec<u8>], envp: &[Vec<u8>], auxv: &[(u64, u64)]) -> Option<u64> {
        self.user.setup_stack(&mut self.hart, &mut self.bus, argv, envp, auxv)
    }

    /// User machine: the initial program break.
    pub fn set_brk(&mut self, addr: u64) {
        self.user.set_brk(addr);
    }

    pub fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.bus.read(addr, buf)
    }

    pub fn mem_write(&mut self, addr: u64, data: &[u8]) -> bool {
        self.hart.host_write(&mut self.bus, addr, data)
    }

    /// Runs at most `budget` steps (instructions retired, and traps taken or serviced without
    /// retiring one: see [`Hart::steps`]); stops after exactly `budget` unless the guest exits,
    /// faults, or a host breakpoint/watchpoint holds it first.
    pub fn run(&mut self, budget: u64) -> Exit {
        let end = self.hart.steps().saturating_add(budget);
        loop {
            let left = end.saturating_sub(self.hart.steps());
            match self.hart.run(&mut self.bus, left) {
                Event::Budget => return Exit::Budget,
                Event::Exit(code) => return Exit::Exited(code),
                Event::Trap(t) => {
                    let before = self.hart.retired;
                    if let Some(exit) = self.service(t) {
                        return exit;
                    }
                    // A trap the host serviced without retiring anything (redirected to S,
                    // an interrupt) is still a step, so a trap loop spends the budget.
                    if self.hart.retired == before {
                        self.hart.unretired += 1;
                    }
                }
            }
        }
    }

    /// A trap the host owns: a syscall for the user machine, otherwise a fault.
    fn service(&mut self, t: Trap) -> Option<Exit> {
        if let Some(sys) = &mut self.system {
            return sys.trap(&mut self.hart, &mut self.bus, t);
        }
        if self.kind == Kind::User && t.cause == cause::ECALL_U {
            let exit = self.user.syscall(&mut self.hart, &mut self.bus);
            // The ecall completes, exit included: count it as retired.
            self.hart.retired += 1;
            if exit.is_none() {
                self.hart.pc += 4;
            }
            return exit;
        }
        Some(Exit::Fault { cause: t.cause, tval: t.tval, pc: self.hart.pc })
    }
}

#[cfg(test)]
mod tests;
