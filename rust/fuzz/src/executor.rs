//! LibAFL executors around a [`Runner`]: fork → write input → run → classify → destroy, no
//! Python on the way unless the campaign has a Python oracle.
//!
//! [`CovExecutor`] runs with edge coverage: its map observer sees only the prefix of the hit
//! map that holds interned edge ids (a `VariableMapObserver` whose size is the number of ids
//! so far), so resetting, classifying and comparing the map costs what the target's edges
//! cost, not 64 KiB per run. [`CmpExecutor`] runs with cmplog for LibAFL's tracing stage and
//! turns the logged comparisons into `CmpValuesMetadata` for the input-to-state mutator.
use crate::target::{Fault, Outcome, Runner, TargetError};
use libafl::executors::{Executor, ExitKind, HasObservers};
use libafl::inputs::BytesInput;
use libafl::observers::cmp::{CmpValues, CmpValuesMetadata};
use libafl::observers::Observer;
use libafl::state::HasExecutions;
use libafl::{Error, HasMetadata};
use libafl_bolts::tuples::RefIndexable;
use libafl_bolts::Named;
use pltvm_core::hart::cov::Cmp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A crash or timeout the campaign found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// "crash" or "timeout".
    pub kind: &'static str,
    pub input: Vec<u8>,
    pub outcome: Outcome,
    /// Why the oracle (`check`) rejected the run, if it was the oracle.
    pub message: Option<String>,
}

/// A Python-side (or any) oracle: `Err(message)` turns an ok run into a crash finding.
pub type Check = Arc<dyn Fn(&Outcome, &[u8], &[u8]) -> Result<(), String> + Send + Sync>;

/// What every executor of one campaign shares: the run budget and the stop flag.
pub struct Budget {
    /// Runs so far. Without a run limit, up to [`FLUSH`] - 1 runs per executor are added
    /// late (progress figures lag by that much); exact once the executors are dropped.
    pub executions: AtomicU64,
    /// Total runs allowed (u64::MAX: no limit).
    pub limit: u64,
    pub stop: AtomicBool,
    /// A finding stops the campaign (set by the executor that finds it, so no other run
    /// starts after it on that worker).
    pub stop_on_finding: bool,
}

impl Budget {
    pub fn new(limit: Option<u64>, stop_on_finding: bool) -> Arc<Budget> {
        Arc::new(Budget {
            executions: AtomicU64::new(0),
            limit: limit.unwrap_or(u64::MAX),
            stop: AtomicBool::new(false),
            stop_on_finding,
        })
    }

    /// Claims one run, or says the campaign is over. `unflushed`: the caller's runs not yet
    /// added to `executions` (see [`FLUSH`]).
    fn claim(&self, unflushed: &mut u64) -> Result<(), Error> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Error::shutting_down());
        }
        if self.limit == u64::MAX {
            *unflushed += 1;
            if *unflushed == FLUSH {
                self.executions.fetch_add(FLUSH, Ordering::Relaxed);
                *unflushed = 0;
            }
            return Ok(());
        }
        let n = self.executions.fetch_add(1, Ordering::Relaxed);
        if n >= self.limit {
            self.executions.fetch_sub(1, Ordering::Relaxed);
            self.stop.store(true, Ordering::Relaxed);
            return Err(Error::shutting_down());
        }
        Ok(())
    }
}

/// Runs counted by one executor before it adds them to the campaign's count, when the
/// campaign has no run limit (a limit needs every run claimed at once, to stop exactly there).
/// The count is a cache line every job writes: adding to it once per execution would move that
/// line between the cores with every execution.
const FLUSH: u64 = 64;

/// Runs one input, classifies it, records findings.
struct Core {
    runner: Runner,
    budget: Arc<Budget>,
    check: Option<Check>,
    findings: Vec<Finding>,
    /// Runs done and not yet added to `budget.executions` ([`FLUSH`]).
    unflushed: u64,
}

impl Drop for Core {
    /// The campaign's count is exact once its executors are gone.
    fn drop(&mut self) {
        self.budget.executions.fetch_add(self.unflushed, Ordering::Relaxed);
    }
}

impl Core {
    fn new(runner: Runner, budget: Arc<Budget>, check: Option<Check>) -> Core {
        Core { runner, budget, check, findings: Vec::new(), unflushed: 0 }
    }

    fn run(&mut self, input: &BytesInput) -> Result<ExitKind, Error> {
        self.budget.claim(&mut self.unflushed)?;
        let bytes: &Vec<u8> = input.as_ref();
        let bytes = bytes.as_slice();
        let (mut outcome, _) = self.runner.exec(bytes).map_err(|e| Error::illegal_state(e.to_string()))?;
        let mut message = None;
        if let (Some(check), Outcome::Ok { .. }) = (&self.check, &outcome) {
            if let Err(m) = check(&outcome, bytes, self.runner.output()) {
                message = Some(m);
                outcome = Outcome::Crash(Fault { cause: crate::target::CAUSE_DESTROYED - 1, pc: 0, tval: 0, ecall: None });
            }
        }
        let kind = match outcome {
            Outcome::Ok { .. } => return Ok(ExitKind::Ok),
            Outcome::Crash(_) => ExitKind::Crash,
            Outcome::Timeout => ExitKind::Timeout,
        };
        let input = bytes[..bytes.len().min(self.runner.target().max_len)].to_vec();
        self.findings.push(Finding { kind: outcome.kind(), input, outcome, message });
        if self.budget.stop_on_finding {
            self.budget.stop.store(true, Ordering::Relaxed);
        }
        Ok(kind)
    }
}

/// The fuzzing executor: edge coverage, observers `OT`.
pub struct CovExecutor<OT> {
    core: Core,
    observers: OT,
    /// The map observer's length (ids interned so far); its address is fixed (boxed).
    size: Box<usize>,
}

impl<OT> CovExecutor<OT> {
    /// `make_observers` gets the hit map's pointer, its length and the pointer to the live
    /// size it must use (see the module comment).
    pub fn new(
        runner: Runner,
        budget: Arc<Budget>,
        check: Option<Check>,
        make_observers: impl FnOnce(*mut u8, usize, *mut usize) -> OT,
    ) -> Self {
        let mut size = Box::new(0usize);
        let hits = runner.hits();
        let observers = make_observers(hits.as_mut_ptr(), hits.len(), &mut *size);
        CovExecutor { core: Core::new(runner, budget, check), observers, size }
    }

    pub fn observers_ref(&self) -> &OT {
        &self.observers
    }

    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.core.findings)
    }
}

impl<EM, S, Z, OT> Executor<EM, BytesInput, S, Z> for CovExecutor<OT>
where
    S: HasExecutions,
{
    fn run_target(&mut self, _f: &mut Z, state: &mut S, _m: &mut EM, input: &BytesInput) -> Result<ExitKind, Error> {
        let r = self.core.run(input);
        if r.is_ok() {
            *state.executions_mut() += 1;
        }
        let t = self.core.runner.target();
        *self.size = t.edge_ids.len().min(self.core.runner.hits().len());
        r
    }
}

impl<OT> HasObservers for CovExecutor<OT> {
    type Observers = OT;
    fn observers(&self) -> RefIndexable<&OT, OT> {
        RefIndexable::from(&self.observers)
    }
    fn observers_mut(&mut self) -> RefIndexable<&mut OT, OT> {
        RefIndexable::from(&mut self.observers)
    }
}

/// Turns the logged comparisons into LibAFL's metadata, narrowest width that holds both
/// operands (a byte compared with a constant is a `U8` pair, a `lw`'d word a `U32` one).
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct CmpObserver {
    #[serde(skip)]
    cmps: Vec<Cmp>,
}

impl Named for CmpObserver {
    fn name(&self) -> &Cow<'static, str> {
        static NAME: Cow<'static, str> = Cow::Borrowed("cmplog");
        &NAME
    }
}

fn values(c: &Cmp) -> CmpValues {
    let fits = |bits: u32| {
        let m = (1u64 << bits) - 1;
        let ok = |v: u64| v <= m || (v as i64) >= -(1i64 << (bits - 1)) && (v as i64) < 0;
        ok(c.a) && ok(c.b)
    };
    if fits(8) {
        CmpValues::U8((c.a as u8, c.b as u8, false))
    } else if fits(16) {
        CmpValues::U16((c.a as u16, c.b as u16, false))
    } else if c.size == 4 {
        CmpValues::U32((c.a as u32, c.b as u32, false))
    } else {
        CmpValues::U64((c.a, c.b, false))
    }
}

impl<I, S: HasMetadata> Observer<I, S> for CmpObserver {
    fn post_exec(&mut self, state: &mut S, _input: &I, _exit: &ExitKind) -> Result<(), Error> {
        let meta = state.metadata_or_insert_with(CmpValuesMetadata::new);
        meta.list.clear();
        // Operands equal already: nothing to learn (and loops would flood the list).
        meta.list.extend(self.cmps.iter().filter(|c| c.a != c.b).map(values));
        Ok(())
    }
}

/// The cmplog executor for the tracing stage.
pub struct CmpExecutor {
    core: Core,
    observers: (CmpObserver, ()),
}

impl CmpExecutor {
    pub fn new(runner: Runner, budget: Arc<Budget>) -> Self {
        CmpExecutor { core: Core::new(runner, budget, None), observers: (CmpObserver::default(), ()) }
    }
}

impl<EM, S, Z> Executor<EM, BytesInput, S, Z> for CmpExecutor
where
    S: HasExecutions,
{
    fn run_target(&mut self, _f: &mut Z, state: &mut S, _m: &mut EM, input: &BytesInput) -> Result<ExitKind, Error> {
        let r = self.core.run(input);
        if r.is_ok() {
            *state.executions_mut() += 1;
        }
        // A finding shows up again when the main executor runs the input; don't report twice.
        self.core.findings.clear();
        let obs = &mut self.observers.0.cmps;
        obs.clear();
        obs.extend_from_slice(self.core.runner.cmps());
        r
    }
}

impl HasObservers for CmpExecutor {
    type Observers = (CmpObserver, ());
    fn observers(&self) -> RefIndexable<&Self::Observers, Self::Observers> {
        RefIndexable::from(&self.observers)
    }
    fn observers_mut(&mut self) -> RefIndexable<&mut Self::Observers, Self::Observers> {
        RefIndexable::from(&mut self.observers)
    }
}

/// Maps a runner error into the campaign's error type.
pub fn target_error(e: Error) -> TargetError {
    TargetError::Monitor(e.to_string())
}
