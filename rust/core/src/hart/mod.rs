//! One RV64IMAC hart: architectural state, the run loop with its instruction budget, and the
//! decoded-code cache.
pub mod cov;
pub mod csr;
pub(crate) mod decode_cache;
pub(crate) mod execute;
mod fetch;
pub mod fpu;
pub(crate) mod packed;
pub mod trap;
pub mod trigger;

use crate::bus::Bus;
use crate::mmu::Tlb;
use csr::CsrFile;
use decode_cache::{Block, DecodeCache};
use trap::{cause, Trap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Priv {
    U = 0,
    S = 1,
    M = 3,
}

impl Priv {
    /// Legalises a 2-bit privilege field: the reserved value 2 reads as U.
    pub fn from_bits(bits: u64) -> Priv {
        match bits & 3 {
            3 => Priv::M,
            1 => Priv::S,
            _ => Priv::U,
        }
    }
}

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The instruction budget is used up.
    Budget,
    /// The guest asked to exit (HTIF) with this code.
    Exit(i64),
    /// A trap that would enter M-mode while the host owns M-mode (`host_traps`): `pc` still
    /// points at the trapping instruction and no architectural state changed.
    Trap(Trap),
}

pub struct Hart {
    pub x: [u64; 32],
    pub pc: u64,
    pub prv: Priv,
    pub csr: CsrFile,
    /// F/D registers and fcsr.
    pub fp: fpu::FpState,
    /// Instructions retired since reset (counts even when mcountinhibit stops minstret).
    pub retired: u64,
    /// Budget units spent without retiring an instruction (traps and interrupts taken, traps a
    /// host serviced): `retired + unretired` counts every step, so it names a point of a run
    /// exactly (the debugger's reverse execution replays to it).
    pub unretired: u64,
    /// Ticks `wfi` skipped; `mtime = retired + time_skip`.
    time_skip: u64,
    /// Misaligned loads/stores trap (cause 4/6) instead of completing.
    pub misaligned_trap: bool,
    /// Traps that would enter M-mode are returned from `run` as [`Event::Trap`] instead.
    pub host_traps: bool,
    pub(crate) tlb: Tlb,
    pub(crate) code: DecodeCache,
    pub(crate) reservation: Option<u64>,
    /// The inner loop runs blocks while `retired < slice_end` and `stop` is clear.
    pub(crate) slice_end: u64,
    /// Set by anything that must be looked at between instructions: a pending event, a change
    /// to what is pending or enabled, a change of translation.
    pub(crate) stop: bool,
    /// The trap of the instruction whose handler returned `TRAPPED`.
    pub(crate) trapped: Trap,
    event: Option<Event>,
    /// Fuzzing coverage (`set_coverage`); None on every ordinary hart.
    pub(crate) cov: Option<Box<cov::Coverage>>,
    /// Sdtrig triggers and the host debugger's breakpoints (None until first used: idle harts
    /// pay one pointer).
    pub(crate) trig: Option<Box<trigger::Triggers>>,
    /// Decoded PMP entries; enforced only on the system machine (see `mmu::pmp`).
    pub pmp: crate::mmu::pmp::Pmp,
    /// Interpreter only, or hot blocks compiled (see `crate::jit`).
    pub engine: crate::jit::Engine,
}

impl Default for Hart {
    fn default() -> Self {
        Hart {
            x: [0; 32],
            pc: 0,
            prv: Priv::M,
            csr: CsrFile::default(),
            fp: fpu::FpState::default(),
            retired: 0,
            unretired: 0,
            time_skip: 0,
            misaligned_trap: false,
            host_traps: false,
            tlb: Tlb::default(),
            code: DecodeCache::default(),
            reservation: None,
            slice_end: 0,
            stop: false,
            trapped: Trap::STOP,
            event: None,
            cov: None,
            trig: None,
            pmp: crate::mmu::pmp::Pmp::default(),
            engine: crate::jit::Engine::default(),
        }
    }
}

impl Hart {
    /// The state of a fresh hart, keeping what a new one would only allocate again: the TLB
    /// (flushed), the decoded code, the engine and a fuzzer's coverage map. For a hart passed
    /// from one enclave instance to the next: nothing of the first may reach the second
    /// (debugger triggers, pending events, counters), so the pattern names every field and a
    /// new field cannot be forgotten here.
    pub(crate) fn reset_keeping_code(&mut self) {
        let Hart {
            x,
            pc,
            prv,
            csr,
            fp,
            retired,
            unretired,
            time_skip,
            misaligned_trap,
            host_traps,
            tlb: _,
            code: _,
            reservation,
            slice_end,
            stop,
            trapped,
            event,
            cov: _,
            trig,
            pmp,
            engine: _,
        } = self;
        *x = [0; 32];
        *pc = 0;
        *prv = Priv::M;
        *csr = CsrFile::default();
        *fp = fpu::FpState::default();
        (*retired, *unretired, *time_skip, *slice_end) = (0, 0, 0, 0);
        (*misaligned_trap, *host_traps, *stop) = (false, false, false);
        *reservation = None;
        *trapped = Trap::STOP;
        *event = None;
        *trig = None;
        *pmp = crate::mmu::pmp::Pmp::default();
        self.flush_translation();
    }

    /// Steps since reset: instructions retired plus traps taken without retiring one. Every
    /// unit of a run's budget is one step.
    pub fn steps(&self) -> u64 {
        self.retired.wrapping_add(self.unretired)
    }

    pub fn mtime(&self) -> u64 {
        self.retired.wrapping_add(self.time_skip)
    }

    pub(crate) fn set_mtime(&mut self, t: u64) {
        self.time_skip = t.wrapping_sub(self.retired);
    }

    pub(crate) fn set_priv(&mut self, p: Priv) {
        if p != self.prv {
            self.prv = p;
            self.flush_translation();
        }
    }

    /// A pmpcfg/pmpaddr CSR was written: decode the entries again and drop every cached
    /// translation, since TLB hits skip the PMP check.
    pub(crate) fn pmp_changed(&mut self) {
        self.pmp.rebuild(&self.csr.pmpcfg, &self.csr.pmpaddr);
        self.flush_translation();
    }

    /// Stops the inner loop after the current instruction.
    pub(crate) fn end_slice(&mut self) {
        self.stop = true;
    }

    pub(crate) fn raise(&mut self, e: Event) {
        self.event = Some(e);
        self.end_slice();
    }

    pub(crate) fn flush_tlb(&mut self) {
        self.tlb.flush();
        self.code.forget_translations();
    }

    /// Translation inputs changed (satp, privilege, mstatus): drop cached translations and
    /// re-check interrupts after this instruction.
    pub(crate) fn flush_translation(&mut self) {
        self.flush_tlb();
        self.end_slice();
    }

    /// Frees the TLB tables and decoded code (they are rebuilt on demand). For harts that sit
    /// idle between runs, e.g. thousands of forked enclave instances.
    pub fn release_caches(&mut self) {
        self.tlb.release();
        self.code.release();
    }

    /// Physical page `ppn` was written: decoded instructions from it are stale. The current
    /// block may still finish (the ISA only promises new code after `fence.i`).
    pub(crate) fn forget_code(&mut self, ppn: u64) {
        if self.code.forget_page(ppn) {
            self.end_slice();
        }
    }

    /// `fence.i`: drop every decoded instruction.
    pub(crate) fn forget_all_code(&mut self) {
        self.code.clear();
        self.end_slice();
    }

    /// Turns coverage on (`Some`) or off. Decoded code is dropped, since blocks decoded for
    /// cmplog have other handlers and links carry edge ids of one id table.
    pub fn set_coverage(&mut self, c: Option<Box<cov::Coverage>>) {
        self.cov = c;
        self.code.clear();
    }

    pub fn coverage(&self) -> Option<&cov::Coverage> {
        self.cov.as_deref()
    }

    pub fn coverage_mut(&mut self) -> Option<&mut cov::Coverage> {
        self.cov.as_deref_mut()
    }

    #[inline(always)]
    fn cmplog_on(&self) -> bool {
        self.cov.as_ref().is_some_and(|c| c.cmplog_enabled())
    }

    /// Runs until `budget` is spent, an exit, or (with `host_traps`) a trap into M-mode. Every
    /// retired instruction and every trap taken spends one unit, so a guest caught in a trap
    /// loop (e.g. `mtvec` pointing at unmapped memory) still returns. Interrupts are checked
    /// between slices; a slice ends at the budget, at the next timer deadline, or after any
    /// instruction that may change what is pending or enabled.
    pub fn run(&mut self, bus: &mut Bus, budget: u64) -> Event {
        // Two instances of the loop: without coverage it has no trace of it.
        if self.cov.is_some() {
            self.run_loop::<true>(bus, budget)
        } else {
            self.run_loop::<false>(bus, budget)
        }
    }

    /// [`Hart::run`]; with `COV`, every block entered counts its edge (see `cov`).
    #[inline(always)]
    fn run_loop<const COV: bool>(&mut self, bus: &mut Bus, budget: u64) -> Event {
        let mut end = self.retired.saturating_add(budget);
        loop {
            self.code.collect();
            if let Some(e) = self.event.take() {
                return e;
            }
            // The budget first: `run(n)` takes exactly n steps, so a run cut in pieces takes
            // the same steps as one run (an interrupt pending at the cut is taken by the next
            // piece, where one run would take it too).
            if self.retired >= end {
                return Event::Budget;
            }
            if let Some(irq) = self.pending_interrupt(bus) {
                let t = Trap::new(cause::INTERRUPT | irq, 0);
                if self.host_traps && self.traps_to_m(t) {
                    return Event::Trap(t);
                }
                self.take_trap(t);
                end = end.saturating_sub(1);
                self.unretired += 1;
                if self.retired >= end {
                    return Event::Budget;
                }
            }
            self.slice_end = end.min(self.next_timer_deadline(bus));
            self.stop = false;
            // The block just run, to follow its links instead of looking the pc up.
            let mut prev: Option<Block> = None;
            // With COV: the start pc of `prev` (the source of the next edge).
            let mut prev_pc = cov::NOWHERE;
            while !self.stop && self.retired < self.slice_end {
                let epoch = self.code.epoch();
                let linked = if COV {
                    // SAFETY: as below.
                    prev.and_then(|p| unsafe { (*p).follow_edge(self.pc, epoch) }).map(|(b, edge)| {
                        if let Some(c) = &self.cov {
                            c.hit(edge);
                        }
                        b
                    })
                } else {
                    // SAFETY: blocks stay allocated until `collect`, at the top of the outer loop.
                    prev.and_then(|p| unsafe { (*p).follow(self.pc, epoch) })
                };
                let block = match linked {
                    Some(b) => b,
                    None => match self.block(bus) {
                        Ok(b) => {
                            let mut edge = 0;
                            if COV {
                                if let Some(c) = &mut self.cov {
                                    let from = if prev.is_some() { prev_pc } else { cov::NOWHERE };
                                    edge = c.edge_id(from, self.pc);
                                    c.hit(edge);
                                }
                            }
                            if let Some(p) = prev {
                                // SAFETY: as above; a link is only followed while its epoch holds.
                                unsafe { (*p).link(self.pc, b, self.code.epoch(), edge) };
                            }
                            b
                        }
                        Err(t) => {
                            prev = None;
                            if self.host_traps && self.traps_to_m(t) {
                                return Event::Trap(t);
                            }
                            self.take_trap(t);
                            end = end.saturating_sub(1);
                            self.unretired += 1;
                            continue;
                        }
                    },
                };
                // SAFETY: as above.
                let insns = unsafe { &(*block).insns };
                let n = insns.len().min((self.slice_end - self.retired) as usize);
                if COV {
                    prev_pc = self.pc;
                }
                // With COV the entry edge is counted above; compiled code counts the rest.
                let (ran, last) = match self.jit_block(bus, block, n) {
                    Some((r, last, last_pc)) => {
                        // Compiled code may have chained on: the next edge leaves `last`.
                        if COV {
                            prev_pc = last_pc;
                        }
                        (r, last)
                    }
                    None => (self.run_block(bus, insns.as_ptr(), n), block),
                };
                match ran {
                    Ok(()) => prev = Some(last),
                    Err(t) => {
                        prev = None;
                        if self.host_traps && self.traps_to_m(t) {
                            return Event::Trap(t);
                        }
                        self.take_trap(t);
                        end = end.saturating_sub(1);
                        self.unretired += 1;
                    }
                }
            }
        }
    }

    /// Executes `n` instructions of a block. On a trap, `pc` is the trapping instruction's and
    /// `retired` counts the ones before it. `retired` is exact during every instruction (CSR
    /// and CLINT reads see it); it is a plain store per instruction, not a dependency chain.
    /// Only the last instruction of a block, or a store returning [`Trap::STOP`], can ask the
    /// loop to stop, so `stop` is not tested per instruction.
    #[inline(always)]
    fn run_block(&mut self, bus: &mut Bus, start: *const packed::Packed, n: usize) -> Result<(), Trap> {
        let mut pc = self.pc;
        let base = self.retired;
        for k in 0..n {
            // SAFETY: the block stays allocated until the next `collect`, which only the outer
            // loop calls; `k < n <= len`.
            let insn = unsafe { &*start.add(k) };
            self.retired = base + k as u64;
            let next = (insn.handler)(self, bus, insn, pc);
            if next == execute::TRAPPED {
                let t = self.trapped;
                if t == Trap::STOP {
                    self.pc = pc.wrapping_add(insn.len());
                    self.retired = base + k as u64 + 1;
                    return Ok(());
                }
                if t == trigger::HOLD {
                    // A host breakpoint/watchpoint: stop before this instruction, which did nothing.
                    self.pc = pc;
                    self.retired = base + k as u64;
                    self.raise(Event::Budget);
                    return Ok(());
                }
                self.pc = pc;
                return Err(t);
            }
            pc = next;
        }
        self.pc = pc;
        self.retired = base + n as u64;
        Ok(())
    }

    /// The `retired` count at which the timer interrupt becomes pending, if it could be taken.
    fn next_timer_deadline(&self, bus: &Bus) -> u64 {
        match &bus.clint {
            Some(c) if self.csr.mie & csr::mip::MTIP != 0 && c.mtimecmp > self.mtime() => {
                self.retired + (c.mtimecmp - self.mtime())
            }
            _ => u64::MAX,
        }
    }

    fn traps_to_m(&self, t: Trap) -> bool {
        let code = t.cause & !cause::INTERRUPT;
        let deleg = if t.is_interrupt() { self.csr.mideleg } else { self.csr.medeleg };
        !(self.prv <= Priv::S && code < 64 && (deleg >> code) & 1 != 0)
    }

    /// `wfi`: if nothing enabled is pending, let time pass to the timer deadline. With no
    /// deadline either, nothing could ever wake the hart and `wfi` is a no-op (the spec allows
    /// it to complete at any time).
    pub(crate) fn wait_for_interrupt(&mut self, bus: &Bus) {
        if self.interrupt_waiting(bus) {
            return;
        }
        if let Some(c) = &bus.clint {
            if self.csr.mie & csr::mip::MTIP != 0 && c.mtimecmp != u64::MAX && c.mtimecmp > self.mtime() {
                self.set_mtime(c.mtimecmp);
                self.end_slice();
            }
        }
    }

}
