//! The deferred snapshot: a target that calls the guest SDK's `pl_fuzz_input` initialises
//! once, pauses in that OCALL, and every input then runs in a fork of the paused state.
//!
//! When a [`Target`](crate::Target) is made, one instance runs the empty input (length 0 in
//! its shm) with the `pl_fuzz_input` OCALL handed to the host, on a hart without coverage, with
//! its own instruction budget (`max_init_instructions`):
//! - it stops in that OCALL: the monitor snapshots it (`Monitor::snapshot`, `a0` = 0, "an
//!   input is in the shm") and the snapshot becomes the template of every execution. Each
//!   execution forks it, writes the input into the fork's shm and continues after the call;
//!   the instruction budget counts from there. A second `pl_fuzz_input` in one execution ends
//!   that input (outcome ok, return value 0).
//! - it ends any other way (exit, fault, budget): the target does not use the deferred
//!   snapshot and every execution runs from the entry, as before. What it printed and how it
//!   ended are kept for the caller to report.
//!
//! Coverage: the initialisation is not part of any execution, so its edges are not in the
//! map; code it shares with the per-input path counts when an execution runs it. Each
//! execution's fork is charged only what follows the snapshot.
use crate::target::{Outcome, TargetError};
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::monitor::snapshot::{SnapshotParams, FUZZ_INPUT};
use pltvm_core::monitor::{BufferHost, EnclaveCell, Entry, Monitor, RunExit, RunRequest};
use std::sync::Arc;

/// Default instruction budget of the initialisation run.
pub const DEFAULT_MAX_INIT_INSTRUCTIONS: u64 = 1 << 30;

/// How the initialisation run ended.
#[derive(Clone)]
pub struct Init {
    /// The snapshot taken at the first `pl_fuzz_input` (None: not deferred).
    pub snapshot: Option<Arc<EnclaveCell>>,
    /// Instructions the run retired (up to the pause, or to its end).
    pub instret: u64,
    /// What it printed (at most [`crate::target::OUTPUT_CAP`] bytes).
    pub output: Vec<u8>,
    /// How it ended when it did not pause (None when it did).
    pub ended: Option<Outcome>,
}

/// Runs the initialisation (see the module comment). `shm_size` is the targets' shm size.
pub(crate) fn probe(monitor: &Monitor, template: &Arc<EnclaveCell>, shm_size: usize, budget: u64) -> Result<Init, TargetError> {
    let monitor_err = |e: &dyn std::fmt::Display| TargetError::Monitor(format!("initialisation run: {e}"));
    let p = ForkParams { name: *b"pltvm-fuzz-init\0", shm: Some(vec![0; shm_size]), persistency: None };
    let cell = monitor.fork(template, &p).map_err(|e| monitor_err(&e))?;
    match cell.try_inner() {
        Ok(mut g) => g.as_mut().expect("present").user_ocalls = vec![FUZZ_INPUT],
        Err(_) => return Err(monitor_err(&"the new instance is not available")),
    }
    let mut host = BufferHost::default();
    // A yield during the initialisation is no exit of it: continued within the budget.
    let out = monitor.run_through_yields(&cell, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(budget) }, &mut host);
    let mut output = host.0;
    output.truncate(crate::target::OUTPUT_CAP);
    let ended = match out.exit {
        RunExit::Ocall { id: FUZZ_INPUT, .. } => None,
        RunExit::Exited { retval } => Some(Outcome::Ok { retval }),
        RunExit::Budget => Some(Outcome::Timeout),
        RunExit::Fault { cause, tval, pc, ecall } => Some(Outcome::Crash(crate::target::Fault { cause, pc, tval, ecall })),
        RunExit::Refused(m) => return Err(monitor_err(&m)),
        // A relay return or an OCALL of another id cannot happen here (none is handed to the
        // host); destroyed or aborted: the monitor ended it.
        _ => Some(Outcome::Crash(crate::target::Fault { cause: crate::target::CAUSE_DESTROYED, pc: 0, tval: 0, ecall: None })),
    };
    let snapshot = if ended.is_none() {
        let s = monitor
            .snapshot(&cell, &SnapshotParams { name: *b"pltvm-fuzz-snap\0", ocall_result: 0, shm: None, user_ocalls: None })
            .map_err(|e| monitor_err(&e));
        monitor.destroy(&cell);
        Some(s?)
    } else {
        monitor.destroy(&cell);
        None
    };
    Ok(Init { snapshot, instret: out.instret, output, ended })
}
