//! `pltvm._core.RunResult` and the Python side of a run (`PyHost`): output to Python, Ctrl-C
//! checks, interpreter shutdown.
use crate::enclave::Enclave;
use pltvm_core::monitor::{self as core, Host, RunExit, RunRequest};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Output flushed to the Python sink at least this often while an enclave prints.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
const FLUSH_BYTES: usize = 4096;
/// Ctrl-C is looked at this often during a run.
const SIGNALS_EVERY: Duration = Duration::from_millis(50);

#[pyclass(module = "pltvm._core", frozen, get_all)]
pub struct RunResult {
    reason: &'static str,
    retval: Option<u64>,
    cause: Option<u64>,
    tval: Option<u64>,
    pc: Option<u64>,
    syscall: Option<u64>,
    ocall_id: Option<u64>,
    ocall_args: Option<(u64, u64, u64)>,
    message: Option<String>,
    shm: Option<Py<PyBytes>>,
    relay: Vec<Py<PyBytes>>,
    instret: u64,
    /// The `call_enclave`s made during the run, in the order they ended: (caller eid, callee
    /// handle, result, resp_val, depth).
    calls: Vec<(u32, u64, i64, u64, u32)>,
    /// What the enclave printed during the run, for `run(capture=True)` (else None).
    output: Option<Py<PyBytes>>,
}

#[pymethods]
impl RunResult {
    fn __repr__(&self) -> String {
        let mut s = format!("RunResult(reason={:?}", self.reason);
        let hex = |v: u64| format!("{v:#x}");
        for (k, v) in [("retval", self.retval), ("cause", self.cause), ("tval", self.tval), ("pc", self.pc), ("syscall", self.syscall), ("ocall_id", self.ocall_id)] {
            if let Some(v) = v {
                s += &format!(", {k}={}", hex(v));
            }
        }
        if let Some(m) = &self.message {
            s += &format!(", message={m:?}");
        }
        s + &format!(", instret={})", self.instret)
    }
}

/// The Python side of a run: buffered output to an optional callable, Ctrl-C checks.
///
/// A run may be on a daemon thread that is still going when the interpreter exits. Once CPython
/// finalises, a thread that takes the GIL (to call the output callable, or to return from the
/// run) is ended with `pthread_exit` (3.10 to 3.13): the forced unwind through these Rust frames
/// aborts the process ("FATAL: exception not rethrown"), and after finalisation pyo3 panics. So
/// an `atexit` hook (exit callbacks run after the non-daemon threads are joined, before
/// finalisation) raises `SHUTTING_DOWN` and, with the GIL released, waits until every run on
/// another thread has either come back to Python or parked: such a run drops its output, is
/// interrupted at its next time slice, and parks the thread for good instead of taking the GIL
/// back (as CPython 3.14 does itself). The process is about to end anyway.
struct PyHost {
    output: Option<Py<PyAny>>,
    /// `run(capture=True)`: everything printed stays in `buf` and is returned with the
    /// result (no Python call, no GIL round trip per flush).
    capture: bool,
    buf: Vec<u8>,
    last_flush: Instant,
    last_tick: Instant,
    err: Option<PyErr>,
    /// The output callable raised: the enclave is destroyed, the exception propagates.
    sink_failed: bool,
    /// The run is on Python's main thread, the only one that handles signals (checking them
    /// elsewhere takes the GIL for nothing) and the one that finalises the interpreter.
    main_thread: bool,
    /// Counted in `RUNS` (a run on another thread that has not come back or parked yet).
    counted: bool,
}

/// Set by the `atexit` hook: the interpreter is shutting down.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// `threading.main_thread().ident` (0: not looked up yet) and the process it belongs to.
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);
static MAIN_THREAD_PID: AtomicU32 = AtomicU32::new(0);

extern "C" {
    /// What `threading.get_ident()` returns; in the stable ABI, not declared by pyo3-ffi.
    fn PyThread_get_thread_ident() -> std::os::raw::c_ulong;
}
static HOOKED: AtomicBool = AtomicBool::new(false);
/// Runs on threads other than the main one that the hook waits for: (process id, count). The
/// id makes a child of `fork()` start from zero (the parent's threads do not exist there).
static RUNS: Mutex<(u32, usize)> = Mutex::new((0, 0));
static RUNS_DONE: Condvar = Condvar::new();
/// How long the hook waits at most (a run reaches its next time slice within milliseconds; an
/// output callable blocked for good would otherwise hang the exit).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

impl PyHost {
    fn new(py: Python<'_>, output: Option<Py<PyAny>>, capture: bool) -> PyHost {
        // No Once: blocking on one while holding the GIL can deadlock with its initialiser.
        if !HOOKED.swap(true, Ordering::AcqRel) {
            if let Err(e) = PyHost::hook_atexit(py) {
                e.write_unraisable(py, None);
            }
        }
        let now = Instant::now();
        let main_thread = PyHost::on_main_thread(py).unwrap_or(true);
        if !main_thread {
            let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
            let pid = std::process::id();
            if runs.0 != pid {
                *runs = (pid, 0);
            }
            runs.1 += 1;
        }
        PyHost {
            output,
            capture,
            buf: Vec::new(),
            last_flush: now,
            last_tick: now,
            err: None,
            sink_failed: false,
            main_thread,
            counted: !main_thread,
        }
    }

    fn hook_atexit(py: Python<'_>) -> PyResult<()> {
        let hook = PyCFunction::new_closure(py, Some(c"pltvm_shutting_down"), None, |args, _| {
            SHUTTING_DOWN.store(true, Ordering::Release);
            args.py().detach(|| {
                let runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
                let pid = std::process::id();
                let _ = RUNS_DONE.wait_timeout_while(runs, SHUTDOWN_WAIT, |r| r.0 == pid && r.1 > 0);
            });
        })?;
        py.import("atexit")?.call_method1("register", (hook,))?;
        Ok(())
    }

    /// Whether this is Python's main thread. Every run asks, so the main thread's ident is
    /// looked up once per process (a child of `fork()` has its own) and compared with this
    /// thread's: no Python calls on the way into a run.
    fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
        let pid = std::process::id();
        let mut main = MAIN_THREAD.load(Ordering::Acquire);
        if main == 0 || MAIN_THREAD_PID.load(Ordering::Acquire) != pid {
            main = py.import("threading")?.call_method0("main_thread")?.getattr("ident")?.extract::<u64>()?;
            MAIN_THREAD_PID.store(pid, Ordering::Release);
            MAIN_THREAD.store(main, Ordering::Release);
        }
        // SAFETY: a plain query of the calling thread, in the stable ABI; the GIL is held.
        Ok(unsafe { PyThread_get_thread_ident() } as u64 == main)
    }

    /// The interpreter shuts down and this run is not on the main thread (the one finalising,
    /// which may still call into Python, e.g. from a later exit callback).
    fn shutting_down(&self) -> bool {
        !self.main_thread && SHUTTING_DOWN.load(Ordering::Acquire)
    }

    fn uncount(&mut self) {
        if std::mem::take(&mut self.counted) {
            let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
            if runs.0 == std::process::id() {
                runs.1 = runs.1.saturating_sub(1);
            }
            RUNS_DONE.notify_all();
        }
    }

    fn flush(&mut self) -> bool {
        if self.buf.is_empty() || self.capture {
            return true;
        }
        let data = std::mem::take(&mut self.buf);
        self.last_flush = Instant::now();
        match &self.output {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&data).and_then(|_| out.flush());
                true
            }
            Some(_) if self.shutting_down() => true,
            Some(f) => Python::try_attach(|py| match f.call1(py, (PyBytes::new(py, &data),)) {
                Ok(_) => true,
                Err(e) => {
                    self.err = Some(e);
                    self.sink_failed = true;
                    false
                }
            })
            .unwrap_or(true),
        }
    }

    /// The end of the run, with the GIL still released: the last output, and, once the
    /// interpreter shuts down, no return to Python.
    fn finish(&mut self) {
        self.flush();
        if self.shutting_down() {
            self.uncount();
            loop {
                std::thread::park();
            }
        }
    }
}

impl Drop for PyHost {
    /// The run is back in Python (the GIL held): the exit hook need not wait for it any more.
    fn drop(&mut self) {
        self.uncount();
    }
}

impl Host for PyHost {
    fn output(&mut self, data: &[u8]) -> bool {
        self.buf.extend_from_slice(data);
        if self.capture {
            return true;
        }
        if self.buf.len() >= FLUSH_BYTES || self.last_flush.elapsed() >= FLUSH_EVERY {
            return self.flush();
        }
        true
    }

    fn tick(&mut self) -> bool {
        if self.shutting_down() {
            return false;
        }
        if self.last_tick.elapsed() < SIGNALS_EVERY {
            return true;
        }
        self.last_tick = Instant::now();
        if !self.flush() {
            return false;
        }
        if !self.main_thread {
            return true;
        }
        Python::try_attach(|py| match py.check_signals() {
            Ok(()) => true,
            Err(e) => {
                self.err = Some(e);
                false
            }
        })
        .unwrap_or(false)
    }
}

impl Enclave {
    /// One `Monitor::run` with the GIL released: the outcome and what was captured.
    pub(crate) fn run_request(&self, py: Python<'_>, req: RunRequest, output: Option<Py<PyAny>>, capture: bool) -> PyResult<(core::RunOutcome, Vec<u8>)> {
        let mut host = PyHost::new(py, output, capture);
        let (m, cell) = (&self.monitor, &self.cell);
        let out = py.detach(|| {
            let out = m.run(cell, req, &mut host);
            host.finish();
            if host.sink_failed {
                m.destroy(cell);
            }
            out
        });
        if let Some(e) = host.err.take() {
            return Err(e);
        }
        Ok((out, std::mem::take(&mut host.buf)))
    }
}

/// The binding's RunResult of a run (`output`: what `run(capture=True)` collected).
pub(crate) fn run_result(py: Python<'_>, out: core::RunOutcome, output: Option<Vec<u8>>) -> RunResult {
    let mut r = RunResult {
        reason: "",
        retval: None,
        cause: None,
        tval: None,
        pc: None,
        syscall: None,
        ocall_id: None,
        ocall_args: None,
        message: None,
        shm: out.shm.map(|s| PyBytes::new(py, &s).unbind()),
        relay: out.relay.iter().map(|b| PyBytes::new(py, b).unbind()).collect(),
        instret: out.instret,
        calls: out.calls.iter().map(|c| (c.caller, c.callee, c.result, c.resp_val, c.depth)).collect(),
        output: output.map(|b| PyBytes::new(py, &b).unbind()),
    };
    r.reason = match out.exit {
        RunExit::Exited { retval } => {
            r.retval = Some(retval);
            "exit"
        }
        RunExit::Relay => "relay",
        RunExit::Fault { cause, tval, pc, ecall } => {
            (r.cause, r.tval, r.pc, r.syscall) = (Some(cause), Some(tval), Some(pc), ecall.map(|(_, a7)| a7));
            "fault"
        }
        RunExit::Destroyed => "destroyed",
        RunExit::Ocall { id, args } => {
            (r.ocall_id, r.ocall_args) = (Some(id), Some((args[0], args[1], args[2])));
            "ocall"
        }
        RunExit::Budget => "budget",
        RunExit::Yield => "yield",
        RunExit::Interrupted => "interrupted",
        RunExit::Aborted => "aborted",
        RunExit::Refused(msg) => {
            r.message = Some(msg);
            "refused"
        }
    };
    r
}
