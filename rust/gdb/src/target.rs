//! The gdbstub `Target` over a [`Debuggee`]: registers, memory through the guest's current
//! translation, breakpoints and watchpoints kept by the hart (no guest memory is patched),
//! stepping, continuing (forwards and backwards, see [`crate::history`]), and `monitor`
//! commands.
use crate::arch::{CoreRegs, Reg, Riscv64};
use crate::history::History;
use crate::{Debuggee, RunStop};
use gdbstub::common::Signal;
use gdbstub::stub::SingleThreadStopReason;
use gdbstub::target::ext::base::reverse_exec::{
    ReplayLogPosition, ReverseCont, ReverseContOps, ReverseStep, ReverseStepOps,
};
use gdbstub::target::ext::base::single_register_access::{SingleRegisterAccess, SingleRegisterAccessOps};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep, SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::monitor_cmd::{outputln, ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use pltvm_core::hart::trigger::{DebugHit, WatchKind as HartWatch};
use pltvm_core::hart::Priv;
use pltvm_core::mmu::Access;

pub type Stop = SingleThreadStopReason<u64>;

/// At most this many host breakpoints and watchpoints each (gdb asks for hardware ones
/// against this limit; the hart itself has no fixed limit).
pub const MAX_HW: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    Continue,
    Step,
    ReverseStep,
    ReverseCont,
}

pub struct DebugTarget<'a, D: Debuggee> {
    pub d: &'a mut D,
    /// Checkpoints and the console tape, for reverse execution.
    pub hist: History<D::Snapshot>,
    sw: Vec<u64>,
    hw: Vec<u64>,
    watches: Vec<(u64, u64, HartWatch)>,
    pub resume: Resume,
    /// The guest's exit code once it exited.
    pub exited: Option<i64>,
    /// Asked between slices of a continue: true stops the session (the host's Ctrl-C).
    pub host_interrupt: Box<dyn FnMut() -> bool + 'a>,
    /// Set when `host_interrupt` answered true.
    pub host_interrupted: bool,
}

fn hart_kind(k: WatchKind) -> HartWatch {
    match k {
        WatchKind::Write => HartWatch::Write,
        WatchKind::Read => HartWatch::Read,
        WatchKind::ReadWrite => HartWatch::Access,
    }
}

fn gdb_kind(k: HartWatch) -> WatchKind {
    match k {
        HartWatch::Write => WatchKind::Write,
        HartWatch::Read => WatchKind::Read,
        HartWatch::Access => WatchKind::ReadWrite,
    }
}

/// The signal gdb shows for a trap nobody handled (user machine faults).
pub fn fault_signal(cause: u64) -> Signal {
    match cause {
        0 | 4 | 6 => Signal::SIGBUS,
        2 => Signal::SIGILL,
        3 => Signal::SIGTRAP,
        _ => Signal::SIGSEGV,
    }
}

impl<'a, D: Debuggee> DebugTarget<'a, D> {
    pub fn new(d: &'a mut D) -> Self {
        let hist = History::start(d);
        DebugTarget {
            d,
            hist,
            sw: Vec::new(),
            hw: Vec::new(),
            watches: Vec::new(),
            resume: Resume::Continue,
            exited: None,
            host_interrupt: Box::new(|| false),
            host_interrupted: false,
        }
    }

    /// The end of the session: the guest gets its own console back.
    pub fn end(&mut self) {
        self.hist.stop(self.d);
    }

    /// gdb changed the guest's registers or memory.
    fn changed(&mut self) {
        self.hist.changed(self.d);
    }

    /// The stop gdb gets for a host breakpoint or watchpoint the guest stands before.
    fn hit_stop(&self, hit: DebugHit) -> Stop {
        match hit {
            DebugHit::Breakpoint(pc) => {
                if self.hw.contains(&pc) && !self.sw.contains(&pc) { Stop::HwBreak(()) } else { Stop::SwBreak(()) }
            }
            DebugHit::Watch { kind, addr } => Stop::Watch { tid: (), kind: gdb_kind(kind), addr },
        }
    }

    /// `reverse-stepi`: one step back, or the beginning of the history.
    pub fn reverse_step(&mut self) -> Result<Stop, String> {
        Ok(match self.hist.reverse_step(self.d)? {
            true => Stop::DoneStep,
            false => Stop::ReplayLog { tid: None, pos: ReplayLogPosition::Begin },
        })
    }

    /// `reverse-continue`: back to the previous breakpoint or watchpoint hit, or the beginning.
    pub fn reverse_cont(&mut self) -> Result<Stop, String> {
        Ok(match self.hist.reverse_cont(self.d)? {
            Some(hit) => self.hit_stop(hit),
            None => Stop::ReplayLog { tid: None, pos: ReplayLogPosition::Begin },
        })
    }

    fn sync_breakpoint(&mut self, pc: u64) {
        let hart = self.d.hart();
        if self.sw.contains(&pc) || self.hw.contains(&pc) {
            hart.add_breakpoint(pc);
        } else {
            hart.remove_breakpoint(pc);
        }
    }

    fn finish(&mut self, r: RunStop) -> Option<Stop> {
        match r {
            RunStop::Budget => None,
            RunStop::Exited(code) => {
                self.exited = Some(code);
                Some(Stop::Exited(code as u8))
            }
            RunStop::Fault { cause, .. } => Some(Stop::Signal(fault_signal(cause))),
            RunStop::Timeout => Some(Stop::Signal(Signal::SIGXCPU)),
        }
    }

    /// Runs `n` instructions with the host's breakpoints and watchpoints ignored.
    fn run_skipping(&mut self, n: u64) -> RunStop {
        self.d.hart().set_skip_host_debug(true);
        let r = self.d.run(n);
        self.d.hart().set_skip_host_debug(false);
        r
    }

    /// Executes one instruction (or takes one trap). A breakpoint on it is stepped over; a
    /// watchpoint it touches lets it complete and is reported.
    pub fn step_one(&mut self) -> Option<Stop> {
        let s = self.step_one_inner();
        self.hist.forward(self.d);
        s
    }

    fn step_one_inner(&mut self) -> Option<Stop> {
        let r = self.d.run(1);
        if let Some(s) = self.finish(r) {
            return Some(s);
        }
        match self.d.hart().take_debug_hit() {
            None => None,
            Some(DebugHit::Breakpoint(_)) => {
                let r = self.run_skipping(1);
                self.finish(r)
            }
            Some(DebugHit::Watch { kind, addr }) => {
                let r = self.run_skipping(1);
                Some(self.finish(r).unwrap_or(Stop::Watch { tid: (), kind: gdb_kind(kind), addr }))
            }
        }
    }

    /// Runs up to `n` instructions; returns a stop reason if something stopped the guest.
    pub fn run_chunk(&mut self, n: u64) -> Option<Stop> {
        let s = self.run_chunk_inner(n);
        self.hist.forward(self.d);
        s
    }

    fn run_chunk_inner(&mut self, n: u64) -> Option<Stop> {
        let r = self.d.run(n);
        if let Some(s) = self.finish(r) {
            return Some(s);
        }
        match self.d.hart().take_debug_hit() {
            None => None,
            Some(hit @ DebugHit::Breakpoint(_)) => Some(self.hit_stop(hit)),
            Some(DebugHit::Watch { kind, addr }) => {
                let r = self.run_skipping(1);
                Some(self.finish(r).unwrap_or(Stop::Watch { tid: (), kind: gdb_kind(kind), addr }))
            }
        }
    }

    /// Reads guest virtual memory through the current translation; returns the bytes read.
    pub fn read_virtual(&mut self, va: u64, data: &mut [u8]) -> usize {
        let mut done = 0;
        while done < data.len() {
            let addr = va.wrapping_add(done as u64);
            let in_page = (4096 - (addr & 0xfff) as usize).min(data.len() - done);
            let (hart, bus) = self.d.parts();
            let Ok(pa) = hart.translate(addr, Access::Load, bus) else { break };
            if !bus.read(pa, &mut data[done..done + in_page]) {
                break;
            }
            done += in_page;
        }
        done
    }

    /// Writes guest virtual memory (read-only pages too: the debugger may patch code).
    pub fn write_virtual(&mut self, va: u64, data: &[u8]) -> bool {
        let mut done = 0;
        while done < data.len() {
            let addr = va.wrapping_add(done as u64);
            let in_page = (4096 - (addr & 0xfff) as usize).min(data.len() - done);
            let (hart, bus) = self.d.parts();
            let Ok(pa) = hart.translate(addr, Access::Load, bus) else { return false };
            if !hart.host_write(bus, pa, &data[done..done + in_page]) {
                return false;
            }
            done += in_page;
        }
        true
    }

    fn read_reg(&mut self, r: Reg) -> Option<u64> {
        let (hart, bus) = self.d.parts();
        Some(match r {
            Reg::X(i) => hart.x[i as usize],
            Reg::Pc => hart.pc,
            Reg::F(i) => hart.fp.f[i as usize],
            Reg::Csr(n) => hart.csr_read(n, bus).ok()?,
            Reg::Priv => hart.prv as u64,
        })
    }

    fn write_reg(&mut self, r: Reg, v: u64) -> bool {
        let hart = self.d.hart();
        match r {
            Reg::X(0) => {}
            Reg::X(i) => hart.x[i as usize] = v,
            Reg::Pc => hart.pc = v,
            Reg::F(i) => hart.fp.f[i as usize] = v,
            Reg::Csr(n) => return hart.csr_write(n, v).is_ok(),
            Reg::Priv => {
                hart.prv = Priv::from_bits(v);
                // Cached translations were made for the old privilege.
                hart.release_caches();
            }
        }
        true
    }
}

impl<D: Debuggee> Target for DebugTarget<'_, D> {
    type Arch = Riscv64;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }

    // gdb must use our Z0/Z1 packets rather than writing ebreaks into guest memory (which
    // would change the enclave's measured pages and copy-on-write frames).
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }
}

impl<D: Debuggee> SingleThreadBase for DebugTarget<'_, D> {
    fn read_registers(&mut self, regs: &mut CoreRegs) -> TargetResult<(), Self> {
        let hart = self.d.hart();
        regs.x = hart.x;
        regs.pc = hart.pc;
        Ok(())
    }

    fn write_registers(&mut self, regs: &CoreRegs) -> TargetResult<(), Self> {
        let hart = self.d.hart();
        hart.x = regs.x;
        hart.x[0] = 0;
        hart.pc = regs.pc;
        self.changed();
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, (), Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        match self.read_virtual(start, data) {
            0 if !data.is_empty() => Err(TargetError::NonFatal),
            n => Ok(n),
        }
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        let ok = self.write_virtual(start, data);
        self.changed();
        if ok { Ok(()) } else { Err(TargetError::NonFatal) }
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SingleRegisterAccess<()> for DebugTarget<'_, D> {
    fn read_register(&mut self, _tid: (), reg: Reg, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let v = self.read_reg(reg).ok_or(TargetError::NonFatal)?;
        let n = reg.size().min(buf.len());
        buf[..n].copy_from_slice(&v.to_le_bytes()[..n]);
        Ok(n)
    }

    fn write_register(&mut self, _tid: (), reg: Reg, val: &[u8]) -> TargetResult<(), Self> {
        let mut b = [0u8; 8];
        let n = val.len().min(8);
        b[..n].copy_from_slice(&val[..n]);
        let ok = self.write_reg(reg, u64::from_le_bytes(b));
        self.changed();
        if ok { Ok(()) } else { Err(TargetError::NonFatal) }
    }
}

impl<D: Debuggee> SingleThreadResume for DebugTarget<'_, D> {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.resume = Resume::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    // Offered only when the guest can be checkpointed; otherwise gdb says the target does
    // not support reverse execution, and `monitor checkpoints` says why.
    fn support_reverse_step(&mut self) -> Option<ReverseStepOps<'_, (), Self>> {
        if self.hist.enabled() { Some(self) } else { None }
    }

    fn support_reverse_cont(&mut self) -> Option<ReverseContOps<'_, (), Self>> {
        if self.hist.enabled() { Some(self) } else { None }
    }
}

impl<D: Debuggee> ReverseStep<()> for DebugTarget<'_, D> {
    fn reverse_step(&mut self, _tid: ()) -> Result<(), Self::Error> {
        self.resume = Resume::ReverseStep;
        Ok(())
    }
}

impl<D: Debuggee> ReverseCont<()> for DebugTarget<'_, D> {
    fn reverse_cont(&mut self) -> Result<(), Self::Error> {
        self.resume = Resume::ReverseCont;
        Ok(())
    }
}

impl<D: Debuggee> SingleThreadSingleStep for DebugTarget<'_, D> {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.resume = Resume::Step;
        Ok(())
    }
}

impl<D: Debuggee> Breakpoints for DebugTarget<'_, D> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SwBreakpoint for DebugTarget<'_, D> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if !self.sw.contains(&addr) {
            self.sw.push(addr);
        }
        self.sync_breakpoint(addr);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let had = self.sw.contains(&addr);
        self.sw.retain(|&a| a != addr);
        self.sync_breakpoint(addr);
        Ok(had)
    }
}

impl<D: Debuggee> HwBreakpoint for DebugTarget<'_, D> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.hw.len() >= MAX_HW && !self.hw.contains(&addr) {
            return Ok(false);
        }
        if !self.hw.contains(&addr) {
            self.hw.push(addr);
        }
        self.sync_breakpoint(addr);
        Ok(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let had = self.hw.contains(&addr);
        self.hw.retain(|&a| a != addr);
        self.sync_breakpoint(addr);
        Ok(had)
    }
}

impl<D: Debuggee> HwWatchpoint for DebugTarget<'_, D> {
    fn add_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        let w = (addr, len.max(1), hart_kind(kind));
        if self.watches.len() >= MAX_HW || len == 0 || addr.checked_add(len - 1).is_none() {
            return Ok(false);
        }
        if !self.watches.contains(&w) {
            self.watches.push(w);
        }
        self.d.hart().add_watchpoint(w.0, w.1, w.2);
        Ok(true)
    }

    fn remove_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        let w = (addr, len.max(1), hart_kind(kind));
        let had = self.watches.contains(&w);
        self.watches.retain(|x| *x != w);
        self.d.hart().remove_watchpoint(w.0, w.1, w.2);
        Ok(had)
    }
}

impl<D: Debuggee> MonitorCmd for DebugTarget<'_, D> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), Self::Error> {
        let cmd = String::from_utf8_lossy(cmd);
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.as_slice() {
            ["checkpoints"] => return Ok(outputln!(out, "{}", self.hist.report(self.d))),
            ["checkpoints", "interval", n] => {
                match n.parse::<u64>() {
                    Ok(n) if n > 0 => {
                        self.hist.interval = n;
                        outputln!(out, "a checkpoint every {n} steps")
                    }
                    _ => outputln!(out, "interval: a number of steps, at least 1"),
                }
                return Ok(());
            }
            ["checkpoints", "cap", n] => {
                match n.parse::<u64>() {
                    Ok(n) if n > 0 && n <= (1 << 30) => {
                        self.hist.cap = n << 20;
                        outputln!(out, "checkpoints hold at most {n} MiB")
                    }
                    _ => outputln!(out, "cap: a number of MiB, 1 to 2^30"),
                }
                return Ok(());
            }
            _ => {}
        }
        let hart = self.d.hart();
        match words.as_slice() {
            ["instret"] => outputln!(out, "{}", hart.retired),
            ["privilege"] | ["priv"] => {
                let name = match hart.prv {
                    Priv::M => "M",
                    Priv::S => "S",
                    Priv::U => "U",
                };
                outputln!(out, "{name} ({})", hart.prv as u8)
            }
            ["tlb", "flush"] => {
                hart.release_caches();
                outputln!(out, "TLB and decoded code flushed")
            }
            ["breakpoints"] => {
                outputln!(out, "software {:x?}, hardware {:x?}, watchpoints {:x?}", self.sw, self.hw, self.watches)
            }
            _ => {
                outputln!(out, "pltvm monitor commands:");
                outputln!(out, "  instret       instructions retired since reset");
                outputln!(out, "  privilege     the hart's privilege level (M, S or U)");
                outputln!(out, "  tlb flush     drop cached translations and decoded code");
                outputln!(out, "  breakpoints   the breakpoints and watchpoints the stub holds");
                outputln!(out, "  checkpoints   reverse execution's history and memory");
                outputln!(out, "  checkpoints interval N   a checkpoint every N steps");
                outputln!(out, "  checkpoints cap M        checkpoints hold at most M MiB");
            }
        }
        Ok(())
    }
}
