//! One enclave of the Penglai monitor under gdb: its hart and its own address space (gdb reads
//! and writes through the enclave's page table, so the enclave ELF's symbols work as they
//! are), run by the monitor as any run is (`Monitor::run`), so the monitor's OCALLs (prints,
//! mmap, sbrk, ...) are served as usual and the host program's own OCALL ids go to a handler
//! of the caller's while gdb waits. The enclave's exit value reaches gdb as the exit status.
//!
//! No reverse execution: an enclave's state includes the monitor's tables (secure memory,
//! ids, relay pages), which are not checkpointed; gdb is told the target does not support it
//! and `monitor checkpoints` says why.
use crate::{Debuggee, RunStop};
use pltvm_core::bus::Bus;
use pltvm_core::hart::Hart;
use pltvm_core::monitor::enclave::Enclave;
use pltvm_core::monitor::run::{Entry, Host, RunExit, RunRequest};
use pltvm_core::monitor::{EnclaveCell, Monitor};
use std::sync::{Arc, MutexGuard};

/// Answers an OCALL id the host program registered: `(id, [a1, a2, a3])` to the value the
/// enclave gets in `a0`, or `None` to end the session (the handler failed).
pub type OcallHandler<'a> = dyn FnMut(u64, [u64; 3]) -> Option<u64> + 'a;

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
        Ok(EnclaveDebuggee { monitor, cell, host, ocall, guard: None, entry: Some(entry), gone: None, ended: None })
    }

    fn end(&mut self, e: Ended, code: i64) -> RunStop {
        self.ended = Some(e);
        RunStop::Exited(code)
    }

    /// One `Monitor::run` of at most `budget` instructions, OCALLs to the host answered.
    fn run_enclave(&mut self, budget: u64) -> RunStop {
        if self.ended.is_some() {
            return RunStop::Exited(-1);
        }
        self.guard = None;
        let entry = self.entry.take().unwrap_or(Entry::Continue);
        let out = self.monitor.run(self.cell, RunRequest { entry, shm: None, budget: Some(budget) }, self.host);
        match out.exit {
            // A yield is a stop point only for the host program: the debugger goes on.
            RunExit::Budget | RunExit::Yield => RunStop::Budget,
            RunExit::Ocall { id, args } => match (self.ocall)(id, args) {
                Some(v) => {
                    // Back in with the answer in a0 and no budget: the enclave stands after its
                    // ecall, RUNNABLE, as a forward step over the ecall leaves it.
                    let back = self.monitor.run(
                        self.cell,
                        RunRequest { entry: Entry::OcallReturn(v), shm: None, budget: Some(0) },
                        self.host,
                    );
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
                RunStop::Fault { cause, tval }
            }
            other => self.end(Ended::Other(format!("{other:?}")), -1),
        }
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
        self.run_enclave(budget)
    }

    fn snapshot(&mut self) -> Result<(), String> {
        Err("enclaves are not checkpointed (the secure monitor's tables would have to be too)".into())
    }
}
