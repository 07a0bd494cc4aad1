//! One enclave of the Penglai monitor under gdb: its hart and its own address space (gdb reads
//! and writes through the enclave's page table, so the enclave ELF's symbols work as they
//! are), run by the monitor as any run is (`Monitor::run`), so the monitor's OCALLs (prints,
//! mmap, sbrk, ...) are served as usual and the host program's own OCALL ids go to a handler
//! of the caller's while gdb waits. The enclave's exit value reaches gdb as the exit status.
//!
//! Options for drivers that run one input their own way (the fuzzer's reproduction under gdb):
//! - an instruction limit ([`EnclaveDebuggee::with_limit`]): when the enclave has retired that
//!   many instructions (counted as `Monitor::run` counts them, so as the fuzzer's budget does)
//!   gdb gets one SIGXCPU stop; a further continue runs on past it;
//! - an OCALL id that ends the run as an exit with value 0 ([`EnclaveDebuggee::ending_at_ocall`]:
//!   the fuzzer's second `pl_fuzz_input`);
//! - a way to make the same instance again ([`Respawn`]): a fault destroys the enclave (the
//!   monitor frees it), so gdb would see nothing of it; with a respawn, the fault is followed by
//!   a replay of a fresh instance to exactly the faulting instruction (same number of
//!   instructions, the host OCALL answers played back from a tape, the run counter in `a2`
//!   set as the first run had it, output discarded since it was printed already), and gdb sees
//!   that instance: pc at the faulting instruction, registers and memory as they were before it.
//!
//! No reverse execution: an enclave's state includes the monitor's tables (secure memory,
//! ids, relay pages, mmap and heap regions), which are not checkpointed; gdb is told the target
//! does not support it and `monitor checkpoints` says why.
use crate::{Debuggee, RunStop};
use pltvm_core::bus::Bus;
use pltvm_core::hart::Hart;
use pltvm_core::monitor::enclave::Enclave;
use pltvm_core::monitor::run::{BufferHost, Entry, Host, RunExit, RunRequest};
use pltvm_core::monitor::{EnclaveCell, Monitor};
use std::sync::{Arc, MutexGuard, OnceLock};

/// Answers an OCALL id the host program registered: `(id, [a1, a2, a3])` to the value the
/// enclave gets in `a0`, or `None` to end the session (the handler failed).
pub type OcallHandler<'a> = dyn FnMut(u64, [u64; 3]) -> Option<u64> + 'a;

/// Makes a fresh instance set up as the debugged one was (same template, same shm), and how
/// its first run enters.
pub type Make<'a> = dyn FnMut() -> Result<(Arc<EnclaveCell>, Entry), String> + 'a;

/// How to stand again at a fault (see the module comment). The replayed instance goes into
/// `slot`; the caller destroys it after the session (`Monitor::destroy`).
pub struct Respawn<'a> {
    pub slot: &'a OnceLock<Arc<EnclaveCell>>,
    pub make: Box<Make<'a>>,
}

/// How the enclave's run ended, besides the exit code gdb gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(u64),
    Fault { cause: u64, tval: u64, pc: u64 },
    /// Destroyed, aborted, refused or the OCALL handler failed: the message says which.
    Other(String),
}

pub struct EnclaveDebuggee<'a> {
    monitor: &'a Monitor,
    /// The instance gdb sees: the debugged one, or after a fault its replay.
    cell: &'a Arc<EnclaveCell>,
    host: &'a mut dyn Host,
    ocall: &'a mut OcallHandler<'a>,
    /// The enclave while gdb looks at it (released for each run).
    guard: Option<MutexGuard<'a, Option<Enclave>>>,
    /// How the next run enters.
    entry: Option<Entry>,
    /// Once the run has ended: the hart and bus gdb still sees (the enclave is gone).
    gone: Option<(Box<Hart>, Bus)>,
    pub ended: Option<Ended>,
    /// Instructions retired so far, as `Monitor::run` counts them.
    pub retired: u64,
    /// The instruction limit, until it has been reported.
    limit: Option<u64>,
    /// The limit was reached (and reported to gdb as SIGXCPU).
    pub timed_out: bool,
    end_ocall: Option<u64>,
    respawn: Option<Respawn<'a>>,
    /// Host OCALL answers, in order (played back by a replay).
    tape: Vec<u64>,
    /// `a2` (the monitor's run counter) as the first run set it.
    run_counter: Option<u64>,
    /// Why a fault could not be replayed, if it could not.
    pub replay_error: Option<String>,
}

impl<'a> EnclaveDebuggee<'a> {
    /// `entry`: how the first run enters (`Entry::Start {..}` for a FRESH enclave,
    /// `Entry::Continue` for a RUNNABLE one). Fails if the enclave is running in another
    /// thread or gone.
    pub fn new(
        monitor: &'a Monitor,
        cell: &'a Arc<EnclaveCell>,
        entry: Entry,
        host: &'a mut dyn Host,
        ocall: &'a mut OcallHandler<'a>,
    ) -> Result<Self, String> {
        match cell.try_inner() {
            Ok(_) => {}
            Err(true) => return Err("the enclave is running in another thread".into()),
            Err(false) => return Err("the enclave no longer exists".into()),
        }
        // A FRESH enclave is entered now, with no budget: gdb sees it at its first instruction
        // with the entry registers (a0/a1 = shm, a2 = run counter, sp) the monitor sets.
        let mut run_counter = None;
        let mut entry = entry;
        if matches!(entry, Entry::Start { .. } | Entry::StartInherit) {
            let a2 = Self::start(monitor, cell, entry, host).map_err(|x| format!("the enclave could not be entered: {x:?}"))?;
            run_counter = Some(a2);
            entry = Entry::Continue;
        }
        Ok(EnclaveDebuggee {
            monitor,
            cell,
            host,
            ocall,
            guard: None,
            entry: Some(entry),
            gone: None,
            ended: None,
            retired: 0,
            limit: None,
            timed_out: false,
            end_ocall: None,
            respawn: None,
            tape: Vec::new(),
            run_counter,
            replay_error: None,
        })
    }

    /// Stops once with SIGXCPU when `limit` instructions have retired (see the module comment).
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// An OCALL of this id ends the run as an exit with value 0.
    pub fn ending_at_ocall(mut self, id: u64) -> Self {
        self.end_ocall = Some(id);
        self
    }

    /// After a fault, replay a fresh instance to the faulting instruction.
    pub fn with_respawn(mut self, r: Respawn<'a>) -> Self {
        self.respawn = Some(r);
        self
    }

    fn end(&mut self, e: Ended, code: i64) -> RunStop {
        self.ended = Some(e);
        RunStop::Exited(code)
    }

    /// Enters a FRESH instance with no budget (the monitor sets the entry registers) and
    /// returns its `a2`, so later runs only ever continue. Nothing else differs from entering
    /// and running in one call (the run counter is taken once either way).
    fn start(monitor: &Monitor, cell: &Arc<EnclaveCell>, entry: Entry, host: &mut dyn Host) -> Result<u64, RunExit> {
        let out = monitor.run(cell, RunRequest { entry, shm: None, budget: Some(0) }, host);
        match out.exit {
            RunExit::Budget => Ok(cell.try_inner().map(|g| g.as_ref().map_or(0, |e| e.hart.x[12])).unwrap_or(0)),
            x => Err(x),
        }
    }

    /// One `Monitor::run` of at most `budget` instructions, OCALLs to the host answered.
    fn run_enclave(&mut self, budget: u64) -> RunStop {
        if self.ended.is_some() {
            return RunStop::Exited(-1);
        }
        self.guard = None;
        let entry = self.entry.take().unwrap_or(Entry::Continue);
        let out = self.monitor.run(self.cell, RunRequest { entry, shm: None, budget: Some(budget) }, self.host);
        self.retired += out.instret;
        match out.exit {
            // A yield is a stop point only for the host program: the debugger goes on.
            RunExit::Budget | RunExit::Yield => RunStop::Budget,
            RunExit::Ocall { id, .. } if Some(id) == self.end_ocall => self.end(Ended::Exited(0), 0),
            RunExit::Ocall { id, args } => match (self.ocall)(id, args) {
                Some(v) => {
                    self.tape.push(v);
                    // Back in with the answer in a0 and no budget: the enclave stands after its
                    // ecall, RUNNABLE, as a forward step over the ecall leaves it.
                    let back = self.monitor.run(
                        self.cell,
                        RunRequest { entry: Entry::OcallReturn(v), shm: None, budget: Some(0) },
                        self.host,
                    );
                    self.retired += back.instret;
                    match back.exit {
                        RunExit::Budget | RunExit::Yield => RunStop::Budget,
                        x => self.finish(x),
                    }
                }
                None => self.end(Ended::Other(format!("the handler of OCALL {id} failed")), -1),
            },
            RunExit::Relay => {
                self.entry = Some(Entry::RerunRelay { relay: None });
                RunStop::Budget
            }
            x => self.finish(x),
        }
    }

    fn finish(&mut self, x: RunExit) -> RunStop {
        match x {
            RunExit::Exited { retval } => self.end(Ended::Exited(retval), retval as i64),
            RunExit::Fault { cause, tval, pc, .. } => {
                self.ended = Some(Ended::Fault { cause, tval, pc });
                if self.respawn.is_some() {
                    if let Err(e) = self.replay_to(pc) {
                        self.replay_error = Some(e);
                    }
                }
                if self.guard.is_none() && self.gone.is_none() && self.cell.try_inner().is_err() {
                    // Not replayed: gdb at least sees where it faulted.
                    let mut h = Box::<Hart>::default();
                    h.pc = pc;
                    self.gone = Some((h, Bus::default()));
                }
                RunStop::Fault { cause, tval }
            }
            other => self.end(Ended::Other(format!("{other:?}")), -1),
        }
    }

    /// Replays a fresh instance for exactly the instructions retired before the fault, so it
    /// stands at the faulting instruction `pc`; gdb then sees it.
    fn replay_to(&mut self, pc: u64) -> Result<(), String> {
        let r = self.respawn.as_mut().expect("checked");
        let slot: &'a OnceLock<Arc<EnclaveCell>> = r.slot;
        let (fresh, first) = (r.make)()?;
        slot.set(fresh).map_err(|_| "the fault was replayed already".to_string())?;
        let cell: &'a Arc<EnclaveCell> = slot.get().expect("just set");
        let mut quiet = BufferHost::default();
        let mut entry = first;
        if matches!(entry, Entry::Start { .. } | Entry::StartInherit) {
            Self::start(self.monitor, cell, entry, &mut quiet).map_err(|x| format!("the replay could not start: {x:?}"))?;
            if let (Some(a2), Ok(mut g)) = (self.run_counter, cell.try_inner()) {
                if let Some(e) = g.as_mut() {
                    e.hart.x[12] = a2;
                }
            }
            entry = Entry::Continue;
        }
        let mut tape = self.tape.iter();
        let mut done = 0;
        while done < self.retired {
            let out = self.monitor.run(cell, RunRequest { entry, shm: None, budget: Some(self.retired - done) }, &mut quiet);
            done += out.instret;
            entry = match out.exit {
                RunExit::Budget => Entry::Continue,
                RunExit::Relay => Entry::RerunRelay { relay: None },
                RunExit::Ocall { id, .. } => {
                    let v = *tape.next().ok_or_else(|| format!("the replay made an OCALL ({id}) the run did not"))?;
                    let back = self.monitor.run(cell, RunRequest { entry: Entry::OcallReturn(v), shm: None, budget: Some(0) }, &mut quiet);
                    done += back.instret;
                    match back.exit {
                        RunExit::Budget => Entry::Continue,
                        x => return Err(format!("the replay ended differently: {x:?}")),
                    }
                }
                x => return Err(format!("the replay ended differently: {x:?} after {done} instructions")),
            };
        }
        let at = cell.try_inner().map_err(|_| "the replayed instance is gone".to_string())?.as_ref().map_or(0, |e| e.hart.pc);
        if at != pc {
            // Not the state the fault saw (the instance read something that differs between
            // instances, e.g. its own id): gdb must not be shown it as if it were.
            return Err(format!("the replay stopped at pc={at:#x}, not at the fault pc={pc:#x}"));
        }
        // From now on gdb sees the replayed instance.
        self.cell = cell;
        self.guard = None;
        self.gone = None;
        Ok(())
    }
}

impl Debuggee for EnclaveDebuggee<'_> {
    type Snapshot = ();

    fn parts(&mut self) -> (&mut Hart, &mut Bus) {
        if self.guard.is_none() && self.gone.is_none() {
            match self.cell.try_inner() {
                Ok(g) => self.guard = Some(g),
                Err(_) => self.gone = Some((Box::default(), Bus::default())),
            }
        }
        if let Some(e) = self.guard.as_mut().and_then(|g| g.as_mut()) {
            return (&mut e.hart, &mut e.bus);
        }
        let (h, b) = self.gone.get_or_insert_with(|| (Box::default(), Bus::default()));
        (h, b)
    }

    fn run(&mut self, budget: u64) -> RunStop {
        // A fault ends the enclave (the monitor destroys it): report it again, never re-run.
        if let Some(Ended::Fault { cause, tval, .. }) = self.ended {
            return RunStop::Fault { cause, tval };
        }
        let mut budget = budget;
        if let Some(limit) = self.limit {
            if self.retired >= limit {
                self.limit = None;
                self.timed_out = true;
                return RunStop::Timeout;
            }
            budget = budget.min(limit - self.retired);
        }
        self.run_enclave(budget)
    }

    fn snapshot(&mut self) -> Result<(), String> {
        Err("enclaves are not checkpointed (the secure monitor's tables would have to be too)".into())
    }
}
