//! Sdtrig: the trigger module (`tselect`, `tdata1`..`tdata3`, `tinfo`) and the host debugger's
//! breakpoints and watchpoints, which share its checks.
//!
//! [`N_TRIGGERS`] triggers, each of type `mcontrol` (2) or `mcontrol6` (6), or disabled (15).
//! Supported: address matches (`select` = 0) on execute, load and store with `match` equal (0),
//! greater-or-equal (2) or less-than (3), any access size, `action` 0 (breakpoint exception,
//! cause 3, `tval` = the matched address), timing "before". Everything else legalises to a
//! supported value (WARL): `dmode`, `hit`, `chain`, `select`, `size`, `timing`, `vs`/`vu`,
//! `uncertainen` read as 0, and an unsupported `match` becomes 0. `tdata3` (textra) reads 0
//! (no extra conditions). `tinfo` reports version 1 with types 2, 6 and 15.
//!
//! `tcontrol` is not implemented (its number is an illegal instruction). Re-entrancy of triggers
//! that would fire inside their own trap handler is prevented the other way the spec allows:
//! in M-mode a trigger fires only while `mstatus.MIE` = 1, and in S-mode, when breakpoints are
//! delegated (`medeleg[3]`), only while `mstatus.SIE` = 1. Trap entry clears those bits.
//!
//! Cost when nothing is armed: none on the hot path. Execute triggers and host breakpoints
//! patch the handler of the matching instructions when their block is decoded (all decoded code
//! is dropped when a trigger changes); load/store triggers and host watchpoints keep the pages
//! they watch out of the TLB, so only accesses to those pages reach the slow path, which checks.
use super::csr::mstatus;
use super::execute::{handler_for, handler_for_cmplog, TRAPPED};
use super::packed::Packed;
use super::trap::{cause, Trap};
use super::{Hart, Priv};
use crate::bus::Bus;

pub const N_TRIGGERS: usize = 4;

pub mod num {
    pub const TSELECT: u16 = 0x7a0;
    pub const TDATA1: u16 = 0x7a1;
    pub const TDATA2: u16 = 0x7a2;
    pub const TDATA3: u16 = 0x7a3;
    pub const TINFO: u16 = 0x7a4;
}

const TYPE_SHIFT: u32 = 60;
const TYPE_MCONTROL: u64 = 2;
const TYPE_MCONTROL6: u64 = 6;
const TYPE_DISABLED: u64 = 15;
/// tdata1 after writing 0 (or an unsupported type): disabled, every other field 0.
pub const DISABLED: u64 = TYPE_DISABLED << TYPE_SHIFT;

// Fields at the same place in mcontrol and mcontrol6.
pub const LOAD: u64 = 1 << 0;
pub const STORE: u64 = 1 << 1;
pub const EXECUTE: u64 = 1 << 2;
pub const U: u64 = 1 << 3;
pub const S: u64 = 1 << 4;
pub const M: u64 = 1 << 6;
const MATCH_SHIFT: u32 = 7;
pub const MATCH_EQ: u64 = 0;
pub const MATCH_GE: u64 = 2;
pub const MATCH_LT: u64 = 3;
/// The bits a write keeps as written (besides `type` and a supported `match`).
const KEEP: u64 = M | S | U | EXECUTE | STORE | LOAD;

/// tinfo: version 1 (Sdtrig 1.0), types mcontrol, mcontrol6 and disabled.
pub const TINFO: u64 = (1 << 24) | (1 << TYPE_MCONTROL) | (1 << TYPE_MCONTROL6) | (1 << TYPE_DISABLED);

/// Above this many watched pages, data checks give up on the TLB entirely (every access takes
/// the slow path) instead of keeping a long page list.
const MAX_WATCHED_PAGES: usize = 64;

/// The legal value of tdata1 after writing `v` (from M-mode; there is no Debug Mode).
pub fn legal_tdata1(v: u64) -> u64 {
    let ty = v >> TYPE_SHIFT;
    if ty != TYPE_MCONTROL && ty != TYPE_MCONTROL6 {
        return DISABLED;
    }
    let mut m = (v >> MATCH_SHIFT) & 0xf;
    if !matches!(m, MATCH_EQ | MATCH_GE | MATCH_LT) {
        m = MATCH_EQ;
    }
    (ty << TYPE_SHIFT) | (m << MATCH_SHIFT) | (v & KEEP)
}

/// Which accesses a host watchpoint stops on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Write,
    Read,
    Access,
}

/// Why the hart stopped for the host debugger (see [`Hart::take_debug_hit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugHit {
    /// Before executing the instruction at this pc.
    Breakpoint(u64),
    /// Before the access that touches the watchpoint starting at `addr`: the instruction has
    /// not run yet (the debugger steps it with [`Hart::set_skip_host_debug`]).
    Watch { kind: WatchKind, addr: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watch {
    addr: u64,
    len: u64,
    kind: WatchKind,
}

/// "Stop before this instruction" for the host debugger: the handler made no change and the
/// run loop returns with the pc on it. Never reaches `take_trap`.
pub const HOLD: Trap = Trap::new(u64::MAX - 1, 0);

#[derive(Clone, Debug)]
pub struct Triggers {
    select: usize,
    tdata1: [u64; N_TRIGGERS],
    tdata2: [u64; N_TRIGGERS],
    breakpoints: Vec<u64>,
    watches: Vec<Watch>,
    /// The host's breakpoints and watchpoints are ignored until cleared (stepping over one).
    skip_host: bool,
    hit: Option<DebugHit>,
    /// Summaries, recomputed on every change.
    exec_armed: bool,
    data_armed: bool,
    data_all: bool,
    data_pages: Vec<u64>,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            select: 0,
            tdata1: [DISABLED; N_TRIGGERS],
            tdata2: [0; N_TRIGGERS],
            breakpoints: Vec::new(),
            watches: Vec::new(),
            skip_host: false,
            hit: None,
            exec_armed: false,
            data_armed: false,
            data_all: false,
            data_pages: Vec::new(),
        }
    }
}

fn is_address_trigger(t1: u64) -> bool {
    matches!(t1 >> TYPE_SHIFT, TYPE_MCONTROL | TYPE_MCONTROL6)
}

/// Whether any byte of `[lo, lo + len)` (wrapping at 2^64) satisfies the trigger's comparison.
fn address_matches(t1: u64, t2: u64, lo: u64, len: u64) -> bool {
    let wraps = lo.checked_add(len - 1).is_none();
    match (t1 >> MATCH_SHIFT) & 0xf {
        MATCH_GE => wraps || lo.wrapping_add(len - 1) >= t2,
        MATCH_LT => lo < t2 || (wraps && t2 != 0),
        _ => t2.wrapping_sub(lo) < len,
    }
}

impl Triggers {
    fn recompute(&mut self) {
        let t1 = self.tdata1;
        let armed = |bits: u64| (0..N_TRIGGERS).filter(move |&i| is_address_trigger(t1[i]) && t1[i] & bits != 0);
        self.exec_armed = armed(EXECUTE).next().is_some() || !self.breakpoints.is_empty();
        let data: Vec<usize> = armed(LOAD | STORE).collect();
        self.data_armed = !data.is_empty() || !self.watches.is_empty();
        self.data_all = false;
        self.data_pages.clear();
        for i in data {
            if (self.tdata1[i] >> MATCH_SHIFT) & 0xf != MATCH_EQ {
                self.data_all = true;
            } else {
                self.data_pages.push(self.tdata2[i] >> 12);
            }
        }
        for w in &self.watches {
            let last = w.addr.saturating_add(w.len - 1) >> 12;
            let first = w.addr >> 12;
            if last - first >= MAX_WATCHED_PAGES as u64 {
                self.data_all = true;
            } else {
                self.data_pages.extend(first..=last);
            }
        }
        if self.data_pages.len() > MAX_WATCHED_PAGES {
            self.data_all = true;
        }
    }

    /// Whether the trigger `i` (action 0) is enabled at this privilege, with the MIE/SIE rule.
    fn enabled_in(&self, i: usize, prv: Priv, status: u64, medeleg: u64) -> bool {
        let t1 = self.tdata1[i];
        match prv {
            Priv::M => t1 & M != 0 && status & mstatus::MIE != 0,
            Priv::S => t1 & S != 0 && (medeleg & (1 << cause::BREAKPOINT) == 0 || status & mstatus::SIE != 0),
            Priv::U => t1 & U != 0,
        }
    }
}

impl Hart {
    fn triggers(&mut self) -> &mut Triggers {
        self.trig.get_or_insert_with(Default::default)
    }

    /// Something armed changed: decoded code may lack (or carry stale) execute checks and the
    /// TLB may map watched pages.
    fn triggers_changed(&mut self) {
        if let Some(t) = self.trig.as_deref_mut() {
            t.recompute();
        }
        self.forget_all_code();
        self.flush_tlb();
    }

    pub(crate) fn trigger_csr_read(&self, n: u16) -> u64 {
        let t = self.trig.as_deref();
        let sel = t.map_or(0, |t| t.select);
        match n {
            num::TSELECT => sel as u64,
            num::TDATA1 => t.map_or(DISABLED, |t| t.tdata1[sel]),
            num::TDATA2 => t.map_or(0, |t| t.tdata2[sel]),
            num::TINFO => TINFO,
            _ => 0, // tdata3: textra with every condition off
        }
    }

    pub(crate) fn trigger_csr_write(&mut self, n: u16, v: u64) {
        match n {
            num::TSELECT => {
                // WARL: an index with no trigger is ignored, so the old index reads back.
                if v < N_TRIGGERS as u64 {
                    self.triggers().select = v as usize;
                }
            }
            num::TDATA1 => {
                let t = self.triggers();
                let sel = t.select;
                t.tdata1[sel] = legal_tdata1(v);
                self.triggers_changed();
            }
            num::TDATA2 => {
                let t = self.triggers();
                let sel = t.select;
                t.tdata2[sel] = v;
                self.triggers_changed();
            }
            _ => {} // tdata3 and tinfo: nothing writable
        }
    }

    /// Whether decoded instructions need the execute check (see [`exec_check`]).
    #[inline]
    pub(crate) fn exec_triggers_armed(&self) -> bool {
        self.trig.as_deref().is_some_and(|t| t.exec_armed)
    }

    /// Whether an instruction at `pc` could ever fire an execute trigger or a host breakpoint
    /// (privilege and MIE are looked at when it runs).
    pub(crate) fn exec_may_match(&self, pc: u64, len: u64) -> bool {
        let Some(t) = self.trig.as_deref() else { return false };
        t.breakpoints.contains(&pc)
            || (0..N_TRIGGERS).any(|i| {
                is_address_trigger(t.tdata1[i]) && t.tdata1[i] & EXECUTE != 0 && address_matches(t.tdata1[i], t.tdata2[i], pc, len)
            })
    }

    /// Gives the instructions of a just-decoded block that may match (page base `page`, page
    /// offsets `offs`) the checking handler [`exec_check`].
    pub(super) fn arm_block(&mut self, b: super::decode_cache::Block, page: u64, offs: &[u64]) {
        // SAFETY: `b` was just returned by the decode cache and stays allocated until the next
        // `collect`; nothing else refers to its instructions yet.
        let insns = unsafe { &mut (*b).insns };
        for (insn, &off) in insns.iter_mut().zip(offs) {
            if self.exec_may_match(page | off, insn.len()) {
                insn.handler = exec_check;
            }
        }
    }

    /// Whether loads and stores to the page of `va` must take the slow path (no TLB entry).
    #[inline]
    pub(crate) fn data_watched(&self, va: u64) -> bool {
        self.trig.as_deref().is_some_and(|t| t.data_armed && (t.data_all || t.data_pages.contains(&(va >> 12))))
    }

    /// The execute check before the instruction at `pc`: a host breakpoint stops the run
    /// ([`HOLD`]), an enabled execute trigger raises a breakpoint exception with `tval = pc`.
    fn exec_trigger(&mut self, pc: u64, len: u64) -> Option<Trap> {
        let (prv, status, medeleg) = (self.prv, self.csr.mstatus, self.csr.medeleg);
        let t = self.trig.as_deref_mut()?;
        if !t.skip_host && t.breakpoints.contains(&pc) {
            t.hit = Some(DebugHit::Breakpoint(pc));
            return Some(HOLD);
        }
        for i in 0..N_TRIGGERS {
            let t1 = t.tdata1[i];
            if is_address_trigger(t1)
                && t1 & EXECUTE != 0
                && address_matches(t1, t.tdata2[i], pc, len)
                && t.enabled_in(i, prv, status, medeleg)
            {
                return Some(Trap::new(cause::BREAKPOINT, pc));
            }
        }
        None
    }

    /// The load/store check of `[va, va + n)`, before translation (address breakpoints come
    /// before page faults and misalignment). Called from the slow paths only.
    #[inline(never)]
    pub(crate) fn data_trigger(&mut self, va: u64, n: usize, store: bool) -> Result<(), Trap> {
        let (prv, status, medeleg) = (self.prv, self.csr.mstatus, self.csr.medeleg);
        let Some(t) = self.trig.as_deref_mut() else { return Ok(()) };
        if !t.data_armed {
            return Ok(());
        }
        let n = n as u64;
        if !t.skip_host {
            for w in &t.watches {
                let kind_ok = match w.kind {
                    WatchKind::Write => store,
                    WatchKind::Read => !store,
                    WatchKind::Access => true,
                };
                // [va, va + n) and [addr, addr + len) overlap.
                let overlap = w.addr.wrapping_sub(va) < n || va.wrapping_sub(w.addr) < w.len;
                if kind_ok && overlap {
                    t.hit = Some(DebugHit::Watch { kind: w.kind, addr: w.addr });
                    return Err(HOLD);
                }
            }
        }
        let bit = if store { STORE } else { LOAD };
        for i in 0..N_TRIGGERS {
            let (t1, t2) = (t.tdata1[i], t.tdata2[i]);
            if is_address_trigger(t1) && t1 & bit != 0 && address_matches(t1, t2, va, n) && t.enabled_in(i, prv, status, medeleg) {
                // tval: the accessed address that matched (the lowest one for ge/lt).
                let tval = if (t1 >> MATCH_SHIFT) & 0xf == MATCH_EQ { t2 } else { va };
                return Err(Trap::new(cause::BREAKPOINT, tval));
            }
        }
        Ok(())
    }

    // ---- The host debugger's side ----

    /// Stops before executing `pc` (software breakpoint: guest memory is not patched).
    pub fn add_breakpoint(&mut self, pc: u64) {
        let t = self.triggers();
        if !t.breakpoints.contains(&pc) {
            t.breakpoints.push(pc);
        }
        self.triggers_changed();
    }

    /// Returns whether a breakpoint at `pc` existed.
    pub fn remove_breakpoint(&mut self, pc: u64) -> bool {
        let Some(t) = self.trig.as_deref_mut() else { return false };
        let before = t.breakpoints.len();
        t.breakpoints.retain(|&b| b != pc);
        let removed = t.breakpoints.len() != before;
        if removed {
            self.triggers_changed();
        }
        removed
    }

    /// Stops before an access of `kind` touching `[addr, addr + len)` (`len` >= 1).
    pub fn add_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) {
        let w = Watch { addr, len: len.max(1), kind };
        let t = self.triggers();
        if !t.watches.contains(&w) {
            t.watches.push(w);
        }
        self.triggers_changed();
    }

    pub fn remove_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> bool {
        let w = Watch { addr, len: len.max(1), kind };
        let Some(t) = self.trig.as_deref_mut() else { return false };
        let before = t.watches.len();
        t.watches.retain(|x| *x != w);
        let removed = t.watches.len() != before;
        if removed {
            self.triggers_changed();
        }
        removed
    }

    /// While set, host breakpoints and watchpoints do not stop the hart (to step over one).
    pub fn set_skip_host_debug(&mut self, skip: bool) {
        if let Some(t) = self.trig.as_deref_mut() {
            t.skip_host = skip;
        }
    }

    /// What stopped the last run for the host debugger, if anything (left in place).
    pub fn debug_hit(&self) -> Option<DebugHit> {
        self.trig.as_deref().and_then(|t| t.hit)
    }

    /// What stopped the last run for the host debugger, if anything (cleared by reading).
    pub fn take_debug_hit(&mut self) -> Option<DebugHit> {
        self.trig.as_deref_mut().and_then(|t| t.hit.take())
    }
}

/// The handler of an instruction that may fire an execute trigger or host breakpoint: checks,
/// then runs the instruction's own handler.
pub(super) fn exec_check(h: &mut Hart, bus: &mut Bus, i: &Packed, pc: u64) -> u64 {
    if let Some(t) = h.exec_trigger(pc, i.len()) {
        h.trapped = t;
        return TRAPPED;
    }
    let real = if h.cmplog_on() { handler_for_cmplog(i.op()) } else { handler_for(i.op()) };
    real(h, bus, i, pc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legalisation_keeps_supported_fields_only() {
        assert_eq!(legal_tdata1(0), DISABLED);
        assert_eq!(legal_tdata1(3 << 60 | M), DISABLED, "icount is not supported");
        let t = (6 << 60) | (1 << 59) | (1 << 22) | (5 << 16) | (1 << 12) | (1 << 11) | (1 << 7) | M | EXECUTE;
        assert_eq!(legal_tdata1(t), (6 << 60) | M | EXECUTE);
        assert_eq!(legal_tdata1((2 << 60) | (3 << 7) | S | LOAD), (2 << 60) | (3 << 7) | S | LOAD);
    }

    #[test]
    fn address_comparisons_cover_every_byte_and_wrap() {
        let eq = 6 << 60;
        assert!(address_matches(eq, 0x1003, 0x1000, 4));
        assert!(!address_matches(eq, 0x1004, 0x1000, 4));
        assert!(!address_matches(eq, 0xfff, 0x1000, 4));
        assert!(address_matches(eq, 1, u64::MAX - 1, 4), "an access wrapping past 2^64");
        let ge = eq | (MATCH_GE << MATCH_SHIFT);
        assert!(address_matches(ge, 0x1007, 0x1000, 8));
        assert!(!address_matches(ge, 0x1008, 0x1000, 8));
        let lt = eq | (MATCH_LT << MATCH_SHIFT);
        assert!(address_matches(lt, 0x1001, 0x1000, 8));
        assert!(!address_matches(lt, 0x1000, 0x1000, 8));
    }
}
