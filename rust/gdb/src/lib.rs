//! pltvm's gdb remote stub, on the `gdbstub` crate: a pltvm hart under gdb (`target remote`).
//!
//! What gdb gets: the general registers, pc, the F/D registers with fcsr, every CSR and the
//! privilege level (a target description with gdb's RISC-V features, see [`arch`]); memory
//! read and written through the guest's current translation; software and hardware
//! breakpoints and read/write/access watchpoints held by the hart (the run loop checks them:
//! guest memory is never patched, so measurements and copy-on-write sharing are untouched);
//! single step; continue, interrupted by gdb's Ctrl-C; the guest's exit status (`W` packet);
//! `monitor` commands (`instret`, `privilege`, `tlb flush`, `breakpoints`, `checkpoints`); and
//! reverse execution (`reverse-stepi`, `reverse-continue`) from copy-on-write checkpoints
//! (see [`history`]).
//!
//! This crate has no Python in it: the bindings call [`serve`] with the GIL released.
pub mod arch;
pub mod enclave;
pub mod history;
pub mod tape;
pub mod target;

use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::run_blocking::{BlockingEventLoop, Event, WaitForStopReasonError};
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason};
use pltvm_core::bus::Bus;
use pltvm_core::device::console::Console;
use pltvm_core::hart::Hart;
use pltvm_core::machine::{Checkpoint, Exit, Machine};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use target::{DebugTarget, Resume, Stop};

/// Instructions per slice of a continue; between slices the stub looks for gdb's Ctrl-C.
pub const SLICE: u64 = 1 << 16;

/// Why a run of the debuggee returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStop {
    /// The budget is spent, or a host breakpoint/watchpoint stopped the hart (see
    /// [`Hart::take_debug_hit`]).
    Budget,
    Exited(i64),
    /// A trap nobody handles (user machines).
    Fault { cause: u64, tval: u64 },
    /// The debuggee's own instruction limit ran out (the fuzzer's timeout, see
    /// [`enclave::EnclaveDebuggee::with_limit`]): gdb gets SIGXCPU.
    Timeout,
}

/// Something gdb can debug: one hart, its bus, and a way to run it.
pub trait Debuggee {
    /// A checkpoint of the guest, for reverse execution.
    type Snapshot;
    fn parts(&mut self) -> (&mut Hart, &mut Bus);
    /// Runs at most `budget` steps (see [`Hart::steps`]): exactly that many unless the guest
    /// exits, faults, or a host breakpoint/watchpoint holds it.
    fn run(&mut self, budget: u64) -> RunStop;
    fn hart(&mut self) -> &mut Hart {
        self.parts().0
    }
    /// A checkpoint of the guest now, or why there cannot be one (no reverse execution then).
    fn snapshot(&mut self) -> Result<Self::Snapshot, String> {
        Err("this guest cannot be checkpointed".into())
    }
    /// Puts the guest back to `s` (console, breakpoints and watchpoints stay).
    fn restore(&mut self, _s: &Self::Snapshot) {}
    /// Frames `s` holds that `newer` (None: the live guest) does not share.
    fn frames_not_in(&mut self, _s: &Self::Snapshot, _newer: Option<&Self::Snapshot>) -> usize {
        0
    }
    /// Bytes of a checkpoint besides its frames.
    fn state_bytes(_s: &Self::Snapshot) -> usize {
        0
    }
    /// The guest's console, which reverse execution records and plays back.
    fn console(&mut self) -> Option<&mut Box<dyn Console>> {
        None
    }
}

impl Debuggee for Machine {
    type Snapshot = Checkpoint;

    fn parts(&mut self) -> (&mut Hart, &mut Bus) {
        (&mut self.hart, &mut self.bus)
    }

    fn run(&mut self, budget: u64) -> RunStop {
        match Machine::run(self, budget) {
            Exit::Budget => RunStop::Budget,
            Exit::Exited(c) => RunStop::Exited(c),
            Exit::Fault { cause, tval, .. } => RunStop::Fault { cause, tval },
        }
    }

    fn snapshot(&mut self) -> Result<Checkpoint, String> {
        self.checkpoint().map_err(|e| e.to_string())
    }

    fn restore(&mut self, s: &Checkpoint) {
        Machine::restore(self, s)
    }

    fn frames_not_in(&mut self, s: &Checkpoint, newer: Option<&Checkpoint>) -> usize {
        s.frames_not_in(newer.map_or(&self.bus.mem, |n| n.mem()))
    }

    fn state_bytes(s: &Checkpoint) -> usize {
        s.state_bytes()
    }

    fn console(&mut self) -> Option<&mut Box<dyn Console>> {
        Some(&mut self.bus.console)
    }
}

/// How a debugging session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest exited with this code (gdb was told).
    Exited(i64),
    /// gdb detached or disconnected; the guest stays where it stopped.
    Detached,
    /// gdb killed the guest.
    Killed,
    /// The host asked to stop (Ctrl-C in the process serving gdb).
    Interrupted,
}

struct EventLoop<'a, D: Debuggee>(std::marker::PhantomData<&'a mut D>);

impl<'a, D: Debuggee> BlockingEventLoop for EventLoop<'a, D> {
    type Target = DebugTarget<'a, D>;
    type Connection = TcpStream;
    type StopReason = SingleThreadStopReason<u64>;

    fn wait_for_stop_reason(
        target: &mut Self::Target,
        conn: &mut TcpStream,
    ) -> Result<Event<Stop>, WaitForStopReasonError<String, io::Error>> {
        match target.resume {
            Resume::Step => return Ok(Event::TargetStopped(target.step_one().unwrap_or(Stop::DoneStep))),
            Resume::ReverseStep => return target.reverse_step().map(Event::TargetStopped).map_err(WaitForStopReasonError::Target),
            Resume::ReverseCont => return target.reverse_cont().map(Event::TargetStopped).map_err(WaitForStopReasonError::Target),
            Resume::Continue => {}
        }
        // The first instruction runs on its own: a breakpoint where the guest stands is the
        // one gdb is continuing from.
        if let Some(s) = target.step_one() {
            return Ok(Event::TargetStopped(s));
        }
        loop {
            if conn.peek().map_err(WaitForStopReasonError::Connection)?.is_some() {
                let byte = conn.read().map_err(WaitForStopReasonError::Connection)?;
                return Ok(Event::IncomingData(byte));
            }
            if (target.host_interrupt)() {
                target.host_interrupted = true;
                return Err(WaitForStopReasonError::Target("interrupted by the host".into()));
            }
            if let Some(s) = target.run_chunk(SLICE) {
                return Ok(Event::TargetStopped(s));
            }
        }
    }

    fn on_interrupt(_target: &mut Self::Target) -> Result<Option<Stop>, String> {
        Ok(Some(Stop::Signal(Signal::SIGINT)))
    }
}

/// Waits for gdb on `listener` (polling `interrupted` every 50 ms) and serves one session.
pub fn accept(listener: &TcpListener, interrupted: &mut dyn FnMut() -> bool) -> io::Result<Option<TcpStream>> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                return Ok(Some(s));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if interrupted() {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Serves one gdb session on `conn` for `d`. `interrupted` is asked between run slices and
/// while waiting for gdb's packets is not possible (the stub blocks on the socket then; gdb
/// drives). Errors are the connection's or a protocol failure, as text.
pub fn serve<D: Debuggee>(
    d: &mut D,
    conn: TcpStream,
    interrupted: Box<dyn FnMut() -> bool + '_>,
) -> Result<Outcome, String> {
    let mut target = DebugTarget::new(d);
    target.host_interrupt = interrupted;
    let stub = GdbStub::new(conn);
    let r = stub.run_blocking::<EventLoop<'_, D>>(&mut target);
    target.end();
    if target.host_interrupted {
        return Ok(Outcome::Interrupted);
    }
    match r {
        Ok(DisconnectReason::TargetExited(_)) => Ok(Outcome::Exited(target.exited.unwrap_or(0))),
        Ok(DisconnectReason::Kill) => Ok(Outcome::Killed),
        Ok(_) => Ok(Outcome::Detached),
        Err(e) if e.is_connection_error() => Ok(Outcome::Detached),
        Err(e) => Err(format!("gdb stub: {e}")),
    }
}
