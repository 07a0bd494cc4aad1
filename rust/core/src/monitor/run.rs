//! Running an enclave: entry (§2.1), the slice loop with stop/resume/destroy from other threads
//! and invisible preemption (§8, B40), and what each way of leaving means (§2.2).
use super::consts::*;
use super::consts::fid;
use super::ecall::{self, Ctx, Step};
use super::enclave::{Enclave, Pending};
use super::ipc::Calls;
use super::{EnclaveCell, Monitor, State};
use crate::hart::trap::cause;
use crate::hart::Event;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The host program's side of a run: where prints go, and a periodic chance to interrupt.
pub trait Host {
    /// Enclave output (one `OCALL_SYS_WRITE`). `false` aborts the run (enclave destroyed).
    fn output(&mut self, data: &[u8]) -> bool;
    /// Called between slices; `false` interrupts the run (enclave stays RUNNABLE).
    fn tick(&mut self) -> bool {
        true
    }
}

/// Output to the process's stdout, no interruption.
pub struct StdoutHost;

impl Host for StdoutHost {
    fn output(&mut self, data: &[u8]) -> bool {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(data).and_then(|_| out.flush()).is_ok()
    }
}

/// Collects output in memory.
#[derive(Default)]
pub struct BufferHost(pub Vec<u8>);

impl Host for BufferHost {
    fn output(&mut self, data: &[u8]) -> bool {
        self.0.extend_from_slice(data);
        true
    }
}

/// How to enter the enclave.
#[derive(Clone, Debug)]
pub enum Entry {
    /// First run of a FRESH enclave, optionally with a relay region (its contents).
    Start { relay: Option<Vec<u8>> },
    /// Re-run after `RETURN_USER_RELAY_PAGE`: region 0 comes back with these contents.
    RerunRelay { relay: Option<Vec<u8>> },
    /// Result of an OCALL forwarded to the host program (`a0`).
    OcallReturn(u64),
    /// Continue a RUNNABLE (budget/interrupted) or STOPPED enclave.
    Continue,
    /// First run of a FRESH enclave with the relay regions registered under its name by
    /// `asyn_enclave_call` (the driver's magic relay argument, §9.4 / ipc.rs); refused when
    /// there are none.
    StartInherit,
}

#[derive(Clone, Debug)]
pub struct RunRequest {
    pub entry: Entry,
    /// The host's current shm contents, copied in before entering.
    pub shm: Option<Vec<u8>>,
    /// At most this many instructions in this call (None: until the enclave leaves).
    pub budget: Option<u64>,
}

impl RunRequest {
    pub fn start() -> RunRequest {
        RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: None }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// `EAPP_RETURN(retval)`: the enclave is gone.
    Exited { retval: u64 },
    /// `OCALL_RETURN_RELAY_PAGE`: the host holds the relay pages; re-run with `RerunRelay`.
    Relay,
    /// Any exception, an unknown enclave call or a non-Penglai ecall (`ecall` = `(a6, a7)`):
    /// the enclave is destroyed (B25, B39).
    Fault { cause: u64, tval: u64, pc: u64, ecall: Option<(u64, u64)> },
    /// Destroyed by the host while this run was in flight (B23).
    Destroyed,
    /// An OCALL id registered by the host program: answer with `OcallReturn`.
    Ocall { id: u64, args: [u64; 3] },
    /// The request's budget is used; the enclave is RUNNABLE.
    Budget,
    /// `EAPP_YIELD` (fid 89): the enclave is RUNNABLE with its state intact; `Entry::Continue`
    /// goes on after the ecall with `a0` unchanged (the host sees `ENCLAVE_YIELD`, 3). Inside a
    /// call chain the innermost callee yielded and the continuation goes to it.
    Yield,
    /// `Host::tick` asked to stop; the enclave is RUNNABLE (or STOPPED).
    Interrupted,
    /// `Host::output` failed; the enclave is destroyed.
    Aborted,
    /// The monitor refused the run (no such enclave, wrong state, busy); nothing changed.
    Refused(String),
}

#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub exit: RunExit,
    /// The shm contents after the run (what the host sees through its mapping).
    pub shm: Option<Vec<u8>>,
    /// Contents of the relay regions handed back to the host (exit, fault, destroy, relay return).
    pub relay: Vec<Vec<u8>>,
    /// Instructions the enclave retired in this call (with those of the servers it called).
    pub instret: u64,
    /// The `call_enclave`s made during this call, nested ones too, in the order they ended
    /// (ipc.rs).
    pub calls: Vec<super::ipc::CallRecord>,
}

fn refused(msg: impl Into<String>) -> RunOutcome {
    RunOutcome { exit: RunExit::Refused(msg.into()), shm: None, relay: Vec::new(), instret: 0, calls: Vec::new() }
}

impl Monitor {
    /// Runs (or re-enters) an enclave on this thread until it leaves. Never holds the monitor
    /// lock while the enclave executes.
    pub fn run(&self, cell: &Arc<EnclaveCell>, req: RunRequest, host: &mut dyn Host) -> RunOutcome {
        {
            let mut c = cell.ctl.lock().unwrap();
            if c.runner {
                return refused("the enclave is already running in another thread");
            }
            if cell.kind == SERVER_ENCLAVE {
                return refused("a server enclave runs only inside call_enclave from another enclave");
            }
            let ok = match &req.entry {
                Entry::Start { .. } | Entry::StartInherit => c.state == State::Fresh && cell.kind == NORMAL_ENCLAVE,
                Entry::RerunRelay { .. } | Entry::OcallReturn(_) => c.state == State::Ocalling,
                Entry::Continue => matches!(c.state, State::Runnable | State::Stopped),
            };
            if !ok {
                return refused(format!("the enclave is {} and cannot be run this way", c.state.name()));
            }
            c.runner = true;
        }
        let mut guard = cell.inner.lock().unwrap();
        let Some(e) = guard.as_mut() else {
            drop(guard);
            self.end_runner(cell, None);
            return refused("the enclave no longer exists");
        };
        if let Err(msg) = self.enter(cell, e, req.entry) {
            drop(guard);
            self.end_runner(cell, None);
            return refused(msg);
        }
        if let Some(shm) = &req.shm {
            e.set_shm_bytes(shm);
        }
        {
            let mut c = cell.ctl.lock().unwrap();
            if c.state == State::Stopped {
                cell.poll.store(true, Ordering::Release);
            } else {
                c.state = State::Running;
            }
        }
        let start = e.hart.retired;
        let end = req.budget.map(|b| start.saturating_add(b));
        let mut spent = 0;
        let mut chain = self.open_calls(cell);
        let exit = self.execute(cell, e, host, end, &mut spent, &mut chain);
        let instret = e.hart.retired - start + spent;
        let calls = self.close_calls(cell, chain);
        let shm = if super::shadow::shm_unwanted() { None } else { e.shm_bytes() };
        let destroy_requested = cell.ctl.lock().unwrap().destroy;
        let ends = destroy_requested
            || matches!(exit, RunExit::Exited { .. } | RunExit::Fault { .. } | RunExit::Destroyed | RunExit::Aborted);
        let relay = if ends || exit == RunExit::Relay { e.take_relay() } else { Vec::new() };
        let exit = match exit {
            RunExit::Relay | RunExit::Ocall { .. } | RunExit::Budget | RunExit::Interrupted | RunExit::Yield
                if destroy_requested =>
            {
                RunExit::Destroyed
            }
            x => x,
        };
        let freed = if ends { guard.take() } else { None };
        if let Some(e) = guard.as_mut() {
            // The enclave waits for its host now, maybe for long: don't keep caches for it.
            e.hart.release_caches();
        }
        drop(guard);
        let next = match exit {
            RunExit::Relay | RunExit::Ocall { .. } => Some(State::Ocalling),
            RunExit::Budget | RunExit::Interrupted | RunExit::Yield => Some(State::Runnable),
            _ => Some(State::Invalid),
        };
        if let Some(enc) = freed {
            self.free(cell, enc);
        }
        self.end_runner(cell, next);
        RunOutcome { exit, shm, relay, instret, calls }
    }

    /// [`Monitor::run`] for hosts that treat a yield as Penglai's driver treats a timer exit
    /// (the C-API driver loop, a fuzzing executor): each `Yield` is continued at once, within
    /// what is left of the request's budget, so the outcome is never `Yield`. `instret`,
    /// `calls` and the relay regions add up over the continuations.
    pub fn run_through_yields(&self, cell: &Arc<EnclaveCell>, req: RunRequest, host: &mut dyn Host) -> RunOutcome {
        let budget = req.budget;
        let mut out = self.run(cell, req, host);
        while out.exit == RunExit::Yield {
            let left = budget.map(|b| b.saturating_sub(out.instret));
            if left == Some(0) {
                out.exit = RunExit::Budget;
                break;
            }
            let next = self.run(cell, RunRequest { entry: Entry::Continue, shm: None, budget: left }, host);
            out.instret += next.instret;
            out.calls.extend(next.calls);
            out.relay.extend(next.relay);
            out.exit = next.exit;
            if next.shm.is_some() {
                out.shm = next.shm;
            }
        }
        out
    }

    /// Entry work of each kind of run; `Err` refuses the run with nothing changed.
    fn enter(&self, cell: &EnclaveCell, e: &mut Enclave, entry: Entry) -> Result<(), String> {
        match entry {
            Entry::Start { relay } => {
                if let Some(data) = relay {
                    if data.is_empty() || data.len() as u64 % PAGE != 0 {
                        return Err("the relay region must be a non-zero multiple of 4096 bytes".into());
                    }
                    if self.name_taken(cell) {
                        return Err("another live enclave has the same name; relay pages need a unique name".into());
                    }
                    e.map_relay(&data)?;
                }
                let counter = self.next_run_counter();
                // B1: fork instances get the counter mod 5.
                e.set_entry_registers(if cell.shadow_of.is_some() { counter % 5 } else { counter });
            }
            Entry::RerunRelay { relay } => {
                if e.pending != Pending::Relay {
                    return Err("the enclave did not return its relay pages".into());
                }
                if let Some(data) = relay {
                    if !data.is_empty() {
                        e.map_relay(&data)?;
                    }
                }
                e.pending = Pending::None;
                e.hart.x[10] = 0;
            }
            Entry::OcallReturn(v) => {
                // Inside a call the innermost callee made the OCALL (ipc.rs).
                if let Some(r) = self.callee_ocall_return(cell, v) {
                    return r;
                }
                if e.pending != Pending::User {
                    return Err("the enclave is not waiting for a host OCALL".into());
                }
                e.pending = Pending::None;
                e.hart.x[10] = v;
            }
            Entry::Continue => {}
            Entry::StartInherit => {
                self.inherit_relay(cell, e)?;
                let counter = self.next_run_counter();
                e.set_entry_registers(if cell.shadow_of.is_some() { counter % 5 } else { counter });
            }
        }
        Ok(())
    }

    fn execute(&self, cell: &EnclaveCell, e: &mut Enclave, host: &mut dyn Host, end: Option<u64>, spent: &mut u64, chain: &mut Calls) -> RunExit {
        let slice = self.config.slice.max(1);
        // Calls to server enclaves in flight (ipc.rs): while there are any, the innermost
        // callee runs. `spent` counts the callees' instructions against the budget.
        loop {
            if cell.poll.load(Ordering::Acquire) {
                if let Some(x) = self.wait_if_stopped(cell, host) {
                    return x;
                }
            }
            if !host.tick() {
                return RunExit::Interrupted;
            }
            let done = e.hart.retired + *spent;
            let n = match end {
                Some(end) if done >= end => return RunExit::Budget,
                Some(end) => (end - done).min(slice),
                None => slice,
            };
            if !chain.is_empty() {
                if let Some(x) = self.run_callee(cell, e, chain, host, n, spent) {
                    return x;
                }
                continue;
            }
            e.hart.engine = self.config.engine;
            match e.hart.run(&mut e.bus, n) {
                Event::Budget | Event::Exit(_) => {
                    // A host debugger's breakpoint or watchpoint holds the hart before an
                    // instruction: the run goes back to the debugger (pltvm-gdb) as a budget end.
                    if e.hart.debug_hit().is_some() {
                        return RunExit::Budget;
                    }
                }
                Event::Trap(t) if t.cause == cause::ECALL_U && super::ipc::ecall_fid(e) == Some(fid::CALL) => {
                    self.call(cell.eid, e, chain);
                }
                Event::Trap(t) if t.cause == cause::ECALL_U => {
                    let mut cx = Ctx { monitor: self, eid: cell.eid, host: &mut *host };
                    if let Step::Leave(x) = ecall::ecall(e, &mut cx) {
                        return x;
                    }
                }
                Event::Trap(t) => return RunExit::Fault { cause: t.cause, tval: t.tval, pc: e.hart.pc, ecall: None },
            }
        }
    }

    /// Between slices: a stop parks the run until resume or destroy; a destroy ends it.
    fn wait_if_stopped(&self, cell: &EnclaveCell, host: &mut dyn Host) -> Option<RunExit> {
        let mut c = cell.ctl.lock().unwrap();
        cell.poll.store(false, Ordering::Release);
        loop {
            if c.destroy {
                return Some(RunExit::Destroyed);
            }
            if c.state != State::Stopped {
                c.state = State::Running;
                return None;
            }
            c = cell.wait(c, Some(Duration::from_millis(50)));
            if !c.destroy && c.state == State::Stopped {
                drop(c);
                if !host.tick() {
                    cell.poll.store(true, Ordering::Release);
                    return Some(RunExit::Interrupted);
                }
                c = cell.ctl.lock().unwrap();
            }
        }
    }

    fn end_runner(&self, cell: &EnclaveCell, next: Option<State>) {
        let mut c = cell.ctl.lock().unwrap();
        c.runner = false;
        match next {
            Some(State::Invalid) => c.state = State::Invalid,
            Some(s) if c.state != State::Stopped || s == State::Ocalling => c.state = s,
            _ => {}
        }
        cell.wake(&c);
    }
}
