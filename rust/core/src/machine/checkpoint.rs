//! Copy-on-write checkpoints of a machine, for the debugger's reverse execution.
//!
//! A checkpoint is the hart's architectural state plus a clone of the physical memory tree
//! (one `Arc`: frames are shared until the live machine writes them, see `crate::mem`), the RAM
//! map, the CLINT, HTIF and the user machine's program break. Restoring one puts the machine
//! back exactly: running it again from there takes the same steps (the machine's time is
//! derived from the step count, so nothing else feeds it), except for what the console returns
//! to reads, which the debugger records and plays back itself.
//!
//! What is not in a checkpoint, on purpose: the console (the host's side), the host debugger's
//! breakpoints and watchpoints (they belong to the debugging session, not the guest), coverage,
//! and the caches (TLB, decoded code), which are rebuilt or kept where still valid.
use super::{Kind, Machine};
use crate::bus::Bus;
use crate::device::clint::Clint;
use crate::device::console::HostConsole;
use crate::device::htif::Htif;
use crate::hart::csr::CsrFile;
use crate::hart::fpu::FpState;
use crate::hart::trigger::{num, DISABLED, N_TRIGGERS};
use crate::hart::Priv;
use crate::mem::{PhysMem, MAX_PPN};
use crate::mmu::pmp::Pmp;
use std::sync::Arc;

/// Why a machine cannot be checkpointed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoCheckpoints(pub &'static str);

impl std::fmt::Display for NoCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The guest-visible state of a machine at one step (see [`Machine::checkpoint`]).
#[derive(Clone)]
pub struct Checkpoint {
    steps: u64,
    x: [u64; 32],
    pc: u64,
    prv: Priv,
    csr: CsrFile,
    fp: FpState,
    retired: u64,
    unretired: u64,
    mtime: u64,
    misaligned_trap: bool,
    host_traps: bool,
    reservation: Option<u64>,
    pmp: Pmp,
    /// tselect, then (tdata1, tdata2) of each trigger, as the guest programmed them.
    tselect: u64,
    triggers: [(u64, u64); N_TRIGGERS],
    mem: PhysMem,
    regions: Vec<(u64, u64)>,
    clint: Option<Clint>,
    htif: Option<Htif>,
    user: super::user::UserState,
}

/// Whether page `ppn` is the same frame (or absent) in both trees.
fn same_frame(a: &PhysMem, b: &PhysMem, ppn: u64) -> bool {
    match (a.get(ppn), b.get(ppn)) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

impl Checkpoint {
    /// The machine's [`Machine::steps`] when this was taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The frames this checkpoint holds that `newer` (a later checkpoint, or the live
    /// machine's memory) does not share: what keeping it costs, 4 KiB each.
    pub fn frames_not_in(&self, newer: &PhysMem) -> usize {
        self.mem.present_in(0, MAX_PPN).into_iter().filter(|&p| !same_frame(&self.mem, newer, p)).count()
    }

    /// The memory tree, to compare with a newer checkpoint's.
    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    /// Bytes of the checkpoint itself, frames not counted.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Checkpoint>() + self.regions.len() * 16
    }
}

impl Machine {
    /// Steps since reset (see [`crate::hart::Hart::steps`]): the position reverse execution
    /// replays to.
    pub fn steps(&self) -> u64 {
        self.hart.steps()
    }

    /// A checkpoint of the guest's state now. Costs the hart's state and one `Arc`: memory is
    /// shared with the live machine until either writes. System machines are refused (the
    /// monitor's own tables are not checkpointed).
    pub fn checkpoint(&mut self) -> Result<Checkpoint, NoCheckpoints> {
        if self.kind == Kind::System || self.system.is_some() {
            return Err(NoCheckpoints("system machines cannot be checkpointed (the secure monitor's state is not)"));
        }
        let h = &mut self.hart;
        let tselect = h.trigger_csr_read(num::TSELECT);
        let mut triggers = [(0, 0); N_TRIGGERS];
        if h.trig.is_some() {
            for (i, t) in triggers.iter_mut().enumerate() {
                h.trigger_csr_write(num::TSELECT, i as u64);
                *t = (h.trigger_csr_read(num::TDATA1), h.trigger_csr_read(num::TDATA2));
            }
            h.trigger_csr_write(num::TSELECT, tselect);
        } else {
            triggers = [(h.trigger_csr_read(num::TDATA1), h.trigger_csr_read(num::TDATA2)); N_TRIGGERS];
        }
        let cp = Checkpoint {
            steps: h.steps(),
            x: h.x,
            pc: h.pc,
            prv: h.prv,
            csr: h.csr.clone(),
            fp: h.fp.clone(),
            retired: h.retired,
            unretired: h.unretired,
            mtime: h.mtime(),
            misaligned_trap: h.misaligned_trap,
            host_traps: h.host_traps,
            reservation: h.reservation,
            pmp: h.pmp.clone(),
            tselect,
            triggers,
            mem: self.bus.mem.clone(),
            regions: self.bus.ram_regions().to_vec(),
            clint: self.bus.clint.clone(),
            htif: self.bus.htif,
            user: self.user.clone(),
        };
        // The TLB's write entries point into frames the checkpoint now shares: drop them, so
        // the next write to each frame copies it first.
        self.hart.flush_tlb();
        Ok(cp)
    }

    /// Puts the machine back to `cp` (taken from this machine). The console, the host's
    /// breakpoints and watchpoints and coverage stay as they are; decoded code is kept for the
    /// pages whose frame is the same in both states.
    pub fn restore(&mut self, cp: &Checkpoint) {
        let old = std::mem::take(&mut self.bus.mem);
        self.hart.code.retain_pages(|ppn| same_frame(&old, &cp.mem, ppn));
        drop(old);
        let console = std::mem::replace(&mut self.bus.console, Box::new(HostConsole));
        self.bus = Bus::with_ram(cp.mem.clone(), &cp.regions);
        self.bus.console = console;
        self.bus.clint = cp.clint.clone();
        self.bus.htif = cp.htif;
        self.user = cp.user.clone();

        let h = &mut self.hart;
        h.x = cp.x;
        h.pc = cp.pc;
        h.prv = cp.prv;
        h.csr = cp.csr.clone();
        h.fp = cp.fp.clone();
        h.retired = cp.retired;
        h.unretired = cp.unretired;
        h.set_mtime(cp.mtime);
        h.misaligned_trap = cp.misaligned_trap;
        h.host_traps = cp.host_traps;
        h.reservation = cp.reservation;
        h.pmp = cp.pmp.clone();
        // Trigger CSRs are written only where they differ: a write drops all decoded code.
        let untouched = h.trig.is_none() && cp.tselect == 0 && cp.triggers == [(DISABLED, 0); N_TRIGGERS];
        for (i, &(t1, t2)) in cp.triggers.iter().enumerate().filter(|_| !untouched) {
            h.trigger_csr_write(num::TSELECT, i as u64);
            if h.trigger_csr_read(num::TSELECT) != i as u64 {
                break;
            }
            if h.trigger_csr_read(num::TDATA1) != t1 {
                h.trigger_csr_write(num::TDATA1, t1);
            }
            if h.trigger_csr_read(num::TDATA2) != t2 {
                h.trigger_csr_write(num::TDATA2, t2);
            }
        }
        if !untouched {
            h.trigger_csr_write(num::TSELECT, cp.tselect);
        }
        h.take_debug_hit();
        // Translations (and the frames the TLB points at) belong to the state left behind.
        h.flush_translation();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Exit, RAM_BASE};

    /// Bare M-mode with a timer interrupt every 37 ticks (the first at mtime 100):
    /// ```text
    /// _start:  la t0, handler; csrw mtvec, t0
    ///          li t0, 0x2004000; li t1, 100; sd t1, 0(t0)       # mtimecmp = 100
    ///          li t1, 0x80; csrw mie, t1; csrsi mstatus, 8      # MTIE, MIE
    ///          lui t4, 0x80001; slli t4, t4, 32; srli t4, t4, 32
    /// loop:    addi a0, a0, 1; sd a0, 0(t4); j loop
    /// handler: addi a1, a1, 1; li t0, 0x2004000; ld t1, 0(t0); addi t1, t1, 37; sd t1, 0(t0); mret
    /// ```
    const TIMER: [u32; 21] = [
        0x00000297, 0x03c28293, 0x30529073, 0x020042b7, 0x06400313, 0x0062b023, 0x08000313, 0x30431073, 0x30046073,
        0x80001eb7, 0x020e9e93, 0x020ede93, 0x00150513, 0x00aeb023, 0xff9ff06f, 0x00158593, 0x020042b7, 0x0002b303,
        0x02530313, 0x0062b023, 0x30200073,
    ];

    fn timer_machine() -> Machine {
        let mut m = Machine::bare(1 << 20, false);
        let bytes: Vec<u8> = TIMER.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert!(m.mem_write(RAM_BASE, &bytes));
        m
    }

    fn view(m: &mut Machine) -> (u64, [u64; 32], u64, u64, u64, u64, Vec<u8>) {
        let mut data = vec![0u8; 8];
        assert!(m.mem_read(RAM_BASE + 0x1000, &mut data));
        (m.steps(), m.hart.x, m.hart.pc, m.hart.csr.mcause, m.hart.csr.mepc, m.hart.mtime(), data)
    }

    #[test]
    fn a_run_cut_anywhere_takes_the_same_steps_as_one_run() {
        let mut whole = timer_machine();
        assert_eq!(whole.run(600), Exit::Budget);
        let want = view(&mut whole);
        assert!(want.1[11] >= 10, "the timer interrupted the loop: {} times", want.1[11]);
        assert_eq!(want.0, 600);
        for cut in 0..600 {
            let mut m = timer_machine();
            assert_eq!(m.run(cut), Exit::Budget);
            assert_eq!(m.steps(), cut);
            assert_eq!(m.run(600 - cut), Exit::Budget);
            assert_eq!(view(&mut m), want, "cut at {cut}");
        }
    }

    #[test]
    fn restore_puts_back_registers_csrs_time_and_memory() {
        let mut m = timer_machine();
        assert_eq!(m.run(250), Exit::Budget);
        let at = view(&mut m);
        let cp = m.checkpoint().unwrap();
        assert_eq!(cp.steps(), 250);
        assert_eq!(m.run(333), Exit::Budget);
        let later = view(&mut m);
        assert_ne!(later.6, at.6, "the loop wrote its counter since");
        assert!(cp.frames_not_in(&m.bus.mem) >= 1, "the checkpoint holds the page written since");
        m.restore(&cp);
        assert_eq!(view(&mut m), at);
        assert_eq!(m.run(333), Exit::Budget);
        assert_eq!(view(&mut m), later, "the same steps again");
        assert_eq!(cp.frames_not_in(cp.mem()), 0);
    }

    #[test]
    fn guest_triggers_come_back_with_a_checkpoint() {
        let mut m = timer_machine();
        let cp = m.checkpoint().unwrap();
        m.hart.csr_write(num::TSELECT, 2).unwrap();
        m.hart.csr_write(num::TDATA1, (6 << 60) | crate::hart::trigger::M | crate::hart::trigger::STORE).unwrap();
        m.hart.csr_write(num::TDATA2, 0x1234).unwrap();
        let armed = m.checkpoint().unwrap();
        m.restore(&cp);
        m.hart.csr_write(num::TSELECT, 2).unwrap();
        assert_eq!(m.hart.csr_read(num::TDATA1, &m.bus).unwrap(), DISABLED);
        m.restore(&armed);
        assert_eq!(m.hart.csr_read(num::TSELECT, &m.bus).unwrap(), 2);
        assert_eq!(m.hart.csr_read(num::TDATA2, &m.bus).unwrap(), 0x1234);
    }

    #[test]
    fn system_machines_are_refused_with_the_reason() {
        let mut m = Machine::system(64 << 20, 16 << 20);
        let e = m.checkpoint().err().unwrap();
        assert!(e.to_string().contains("system machines cannot be checkpointed"), "{e}");
    }
}
