//! Reverse execution: copy-on-write checkpoints of the guest every `interval` steps, and
//! deterministic re-execution from the nearest one.
//!
//! A position is the guest's step count ([`pltvm_core::hart::Hart::steps`]: instructions
//! retired plus traps taken without retiring one), so "one instruction back" is "replay from
//! the nearest checkpoint to the step before this one". `reverse-continue` replays the stretch
//! between the last checkpoint and here with the breakpoints and watchpoints armed, remembers
//! the last hit, and goes there; with no hit, the stretch before, and so on back to the first
//! checkpoint (the beginning of the history gdb sees).
//!
//! Memory is bounded: each checkpoint costs its hart state plus the frames it holds that the
//! next newer one does not share. Over the cap (or over `max_entries`), checkpoints are thinned,
//! the old ones first (spacing grows with age, so recent history stays quick to step back in),
//! and when two are left, the oldest goes (the history then begins later).
//!
//! Anything the guest gets from outside is its console (see [`crate::tape`]): recorded and
//! played back. A guest that cannot be checkpointed (a system machine, an enclave) gets no
//! reverse execution, and `monitor checkpoints` says why.
use crate::tape::{Tape, TapeConsole};
use crate::{Debuggee, RunStop};
use pltvm_core::hart::trigger::DebugHit;
use std::sync::{Arc, Mutex, MutexGuard};

/// Steps between checkpoints: at about 100 million steps a second, a step back replays at
/// most ~10 ms.
pub const DEFAULT_INTERVAL: u64 = 1 << 20;
/// Memory the checkpoints may hold (frames they alone hold, plus their state).
pub const DEFAULT_CAP: u64 = 256 << 20;
/// At most this many checkpoints, whatever their memory.
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

struct Entry<S> {
    steps: u64,
    snap: S,
    /// The console tape's cursor at `steps`.
    cursor: usize,
    /// Frames this checkpoint holds that the next newer one does not (None: not known yet,
    /// the newest one, whose neighbour is the live guest).
    frames: Option<usize>,
}

pub struct History<S> {
    entries: Vec<Entry<S>>,
    pub interval: u64,
    pub cap: u64,
    pub max_entries: usize,
    tape: Arc<Mutex<Tape>>,
    /// Why there is no reverse execution (None: there is).
    off: Option<String>,
    /// Checkpoints dropped to stay under the cap.
    pub thinned: u64,
}

fn lock(t: &Mutex<Tape>) -> MutexGuard<'_, Tape> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

fn steps<D: Debuggee>(d: &mut D) -> u64 {
    d.hart().steps()
}

impl<S> History<S> {
    /// Starts the history where `d` stands (its first checkpoint) and puts the console tape in
    /// place; or records why `d` cannot go backwards.
    pub fn start<D: Debuggee<Snapshot = S>>(d: &mut D) -> History<S> {
        let mut h = History {
            entries: Vec::new(),
            interval: DEFAULT_INTERVAL,
            cap: DEFAULT_CAP,
            max_entries: DEFAULT_MAX_ENTRIES,
            tape: Tape::new(),
            off: None,
            thinned: 0,
        };
        match d.snapshot() {
            Ok(snap) => {
                let at = steps(d);
                h.entries.push(Entry { steps: at, snap, cursor: 0, frames: None });
                if let Some(c) = d.console() {
                    TapeConsole::install(&h.tape, c);
                }
            }
            Err(why) => h.off = Some(why),
        }
        h
    }

    /// Gives the guest its console back (the end of the session).
    pub fn stop<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) {
        if let Some(c) = d.console() {
            TapeConsole::uninstall(&self.tape, c);
        }
    }

    pub fn enabled(&self) -> bool {
        self.off.is_none()
    }

    /// Why reverse execution is not available, if it is not.
    pub fn why_off(&self) -> Option<&str> {
        self.off.as_deref()
    }

    /// The index of the last checkpoint at or before `at`.
    fn at_or_before(&self, at: u64) -> Option<usize> {
        self.entries.partition_point(|e| e.steps <= at).checked_sub(1)
    }

    /// Takes a checkpoint where `d` stands (unless one is there) and keeps the total in bounds.
    fn take<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) {
        let at = steps(d);
        let i = self.entries.partition_point(|e| e.steps < at);
        if self.entries.get(i).is_some_and(|e| e.steps == at) {
            return;
        }
        let Ok(snap) = d.snapshot() else { return };
        let cursor = lock(&self.tape).cursor;
        self.entries.insert(i, Entry { steps: at, snap, cursor, frames: None });
        self.recount(d, i);
        if i > 0 {
            self.recount(d, i - 1);
        }
        self.thin(d);
    }

    /// Recomputes what entry `i` alone holds, against its newer neighbour (the newest: unknown
    /// until a newer one exists).
    fn recount<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D, i: usize) {
        let frames = match self.entries.get(i + 1) {
            Some(next) => Some(d.frames_not_in(&self.entries[i].snap, Some(&next.snap))),
            None => None,
        };
        self.entries[i].frames = frames;
    }

    /// Bytes the checkpoints hold (the newest one's frames counted against `live` if given).
    fn bytes<D: Debuggee<Snapshot = S>>(&self, d: &mut D, live: bool) -> u64 {
        let n = self.entries.len();
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let frames = match e.frames {
                    Some(f) => f,
                    None if live && i + 1 == n => d.frames_not_in(&e.snap, None),
                    None => 0,
                };
                frames as u64 * 4096 + D::state_bytes(&e.snap) as u64
            })
            .sum()
    }

    /// Drops checkpoints until the memory and count are within bounds: of the inner ones, the
    /// one whose removal makes the smallest gap relative to its age; with two left, the first.
    fn thin<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) {
        let now = steps(d).max(self.entries.last().map_or(0, |e| e.steps));
        while self.entries.len() > 1 && (self.entries.len() > self.max_entries || self.bytes(d, false) > self.cap) {
            let victim = if self.entries.len() > 2 {
                let e = &self.entries;
                let cost = |i: usize| {
                    let gap = (e[i + 1].steps - e[i - 1].steps) as f64;
                    gap / ((now - e[i].steps) as f64 + self.interval as f64)
                };
                (1..e.len() - 1).min_by(|&a, &b| cost(a).total_cmp(&cost(b))).unwrap_or(1)
            } else {
                0
            };
            self.entries.remove(victim);
            self.thinned += 1;
            if victim > 0 {
                self.recount(d, victim - 1);
            }
        }
    }

    /// After the guest ran forward to where it stands: a checkpoint if the last one is
    /// `interval` steps back (and none is here already, from an earlier pass).
    pub fn forward<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) {
        if self.off.is_some() {
            return;
        }
        let at = steps(d);
        if let Some(i) = self.at_or_before(at) {
            if at - self.entries[i].steps >= self.interval {
                self.take(d);
            }
        }
    }

    /// gdb changed the guest (registers or memory) where it stands: the history after this
    /// point no longer follows, so it goes, and a checkpoint of the changed state starts the
    /// rest. Before this point the history is what really ran.
    pub fn changed<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) {
        if self.off.is_some() {
            return;
        }
        let at = steps(d);
        self.entries.retain(|e| e.steps < at);
        if let Some(last) = self.entries.last_mut() {
            last.frames = None;
        }
        lock(&self.tape).truncate();
        self.take(d);
    }

    /// Puts the guest back to `entry` and the tape with it.
    fn restore<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D, i: usize) {
        d.restore(&self.entries[i].snap);
        lock(&self.tape).cursor = self.entries[i].cursor;
    }

    /// Runs forward to step `target` with the host's breakpoints ignored, leaving checkpoints
    /// where the gaps are wider than `interval` (so stepping back again near here is quick).
    fn replay_to<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D, target: u64) -> Result<(), String> {
        d.hart().set_skip_host_debug(true);
        let r = (|| {
            while steps(d) < target {
                let n = (target - steps(d)).min(self.interval);
                let r = d.run(n);
                if r != RunStop::Budget {
                    return Err(format!("reverse execution: the replay ended early ({r:?}) at step {}", steps(d)));
                }
                let at = steps(d);
                if at < target {
                    let next = self.entries.get(self.entries.partition_point(|e| e.steps <= at)).map(|e| e.steps);
                    if next.is_none_or(|n| n - at >= self.interval) {
                        self.take(d);
                    }
                }
            }
            Ok(())
        })();
        d.hart().set_skip_host_debug(false);
        r?;
        d.hart().take_debug_hit();
        match steps(d) {
            s if s == target => Ok(()),
            s => Err(format!("reverse execution: the replay reached step {s}, not {target}")),
        }
    }

    /// Moves the guest to step `target` of its history (at or after the first checkpoint).
    pub fn goto<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D, target: u64) -> Result<(), String> {
        let Some(i) = self.at_or_before(target) else {
            return Err(format!("step {target} is before the history"));
        };
        self.restore(d, i);
        self.replay_to(d, target)
    }

    /// One step back. `Ok(false)`: already at the beginning of the history (nothing moved).
    pub fn reverse_step<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) -> Result<bool, String> {
        let at = steps(d);
        match self.entries.first() {
            Some(first) if at > first.steps => {}
            _ => return Ok(false),
        }
        self.goto(d, at - 1)?;
        Ok(true)
    }

    /// Back to the last step before this one where a host breakpoint or watchpoint hits (the
    /// guest stands before that instruction, as a forward run stops there). `Ok(None)`: no
    /// hit in the whole history; the guest is at its beginning.
    pub fn reverse_cont<D: Debuggee<Snapshot = S>>(&mut self, d: &mut D) -> Result<Option<DebugHit>, String> {
        let mut hi = steps(d);
        let Some(mut i) = self.entries.partition_point(|e| e.steps < hi).checked_sub(1) else {
            return Ok(None);
        };
        loop {
            self.restore(d, i);
            let mut last: Option<(u64, DebugHit)> = None;
            while steps(d) < hi {
                let left = hi - steps(d);
                let r = d.run(left);
                if let Some(hit) = d.hart().take_debug_hit() {
                    last = Some((steps(d), hit));
                    // Past the instruction that hit, as a forward continue steps over it.
                    d.hart().set_skip_host_debug(true);
                    let r = d.run(1);
                    d.hart().set_skip_host_debug(false);
                    if r != RunStop::Budget {
                        return Err(format!("reverse execution: the replay ended early ({r:?})"));
                    }
                    continue;
                }
                if r != RunStop::Budget {
                    return Err(format!("reverse execution: the replay ended early ({r:?}) at step {}", steps(d)));
                }
            }
            if let Some((at, hit)) = last {
                self.goto(d, at)?;
                return Ok(Some(hit));
            }
            if i == 0 {
                self.restore(d, 0);
                return Ok(None);
            }
            hi = self.entries[i].steps;
            i -= 1;
        }
    }

    /// `monitor checkpoints`: where the history begins and ends, and what it costs.
    pub fn report<D: Debuggee<Snapshot = S>>(&self, d: &mut D) -> String {
        if let Some(why) = &self.off {
            return format!("reverse execution is not available: {why}");
        }
        let (first, last) = (self.entries[0].steps, self.entries[self.entries.len() - 1].steps);
        let bytes = self.bytes(d, true);
        let (calls, data) = lock(&self.tape).size();
        format!(
            "{} checkpoints every {} steps, steps {}..{} (now at {}); {:.1} MiB held (cap {} MiB, {} thinned); console tape {} calls, {} bytes",
            self.entries.len(),
            self.interval,
            first,
            last,
            steps(d),
            bytes as f64 / (1 << 20) as f64,
            self.cap >> 20,
            self.thinned,
            calls,
            data
        )
    }

    /// (checkpoints, bytes held): for tests and benchmarks.
    pub fn usage<D: Debuggee<Snapshot = S>>(&self, d: &mut D) -> (usize, u64) {
        (self.entries.len(), if self.off.is_some() { 0 } else { self.bytes(d, true) })
    }

    /// The steps of every checkpoint, oldest first.
    pub fn positions(&self) -> Vec<u64> {
        self.entries.iter().map(|e| e.steps).collect()
    }
}
