//! `pltvm._core.Monitor`, `Enclave` and `RunResult`: the Penglai-TVM monitor model of
//! `pltvm_core::monitor` for Python. Conversion, locking and GIL release only.
use crate::error::{create_error, Error, LimitError};
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::rng::RngMode;
use pltvm_core::monitor::{self as core, EnclaveCell, Entry, Host, RunExit, RunRequest};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyCFunction};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Output flushed to the Python sink at least this often while an enclave prints.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
const FLUSH_BYTES: usize = 4096;
/// Ctrl-C is looked at this often during a run.
const SIGNALS_EVERY: Duration = Duration::from_millis(50);

#[pyclass(module = "pltvm._core", frozen)]
pub struct Monitor {
    inner: Arc<core::Monitor>,
}

#[pyclass(module = "pltvm._core", frozen)]
pub struct Enclave {
    monitor: Arc<core::Monitor>,
    cell: Arc<EnclaveCell>,
    /// Default names handed out by `fork_default`/`next_fork_name` (a shadow template).
    forks: AtomicU64,
}

impl Enclave {
    fn new(monitor: &Arc<core::Monitor>, cell: Arc<EnclaveCell>) -> Enclave {
        Enclave { monitor: Arc::clone(monitor), cell, forks: AtomicU64::new(0) }
    }

    /// The next default fork name of this template: `fork<id hex>-<n>` from n = 1, cut to 16
    /// bytes (unique among its forks while it fits).
    fn next_name(&self) -> [u8; 16] {
        let n = self.forks.fetch_add(1, Ordering::Relaxed) + 1;
        let mut buf = [0u8; 40];
        let mut w = &mut buf[..];
        let _ = write!(w, "fork{:x}-{n}", self.cell.id);
        let len = 40 - w.len();
        name16(&buf[..len])
    }
}

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
    fn run_request(&self, py: Python<'_>, req: RunRequest, output: Option<Py<PyAny>>, capture: bool) -> PyResult<(core::RunOutcome, Vec<u8>)> {
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
fn run_result(py: Python<'_>, out: core::RunOutcome, output: Option<Vec<u8>>) -> RunResult {
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
        RunExit::Interrupted => "interrupted",
        RunExit::Aborted => "aborted",
        RunExit::Refused(msg) => {
            r.message = Some(msg);
            "refused"
        }
    };
    r
}

fn name16(name: &[u8]) -> [u8; 16] {
    let mut n = [0u8; 16];
    let k = name.len().min(16);
    n[..k].copy_from_slice(&name[..k]);
    n
}

#[pymethods]
impl Monitor {
    #[staticmethod]
    #[pyo3(signature = (secure_memory=core::DEFAULT_SECURE_MEMORY, rng="seeded", seed=0, slice=core::DEFAULT_SLICE, caller_id_compat=false, engine="interp"))]
    fn new(secure_memory: u64, rng: &str, seed: u64, slice: u64, caller_id_compat: bool, engine: &str) -> PyResult<Monitor> {
        let rng = match rng {
            "seeded" => RngMode::Seeded,
            "penglai-lcg" => RngMode::PenglaiLcg,
            "os" => RngMode::Os,
            other => {
                return Err(Error::Argument(format!("rng must be \"seeded\", \"penglai-lcg\" or \"os\", not {other:?}")).into())
            }
        };
        if slice == 0 {
            return Err(Error::Argument("slice must be positive".into()).into());
        }
        let engine = crate::machine::engine_arg(engine)?;
        let config = core::Config { secure_memory, rng, seed, slice, caller_id_compat, engine };
        Ok(Monitor { inner: Arc::new(core::Monitor::new(config)) })
    }

    /// The engine enclave harts run with: "interp" or "jit".
    #[getter]
    fn engine(&self) -> &'static str {
        self.inner.config.engine.name()
    }

    #[getter]
    fn secure_memory(&self) -> u64 {
        self.inner.config.secure_memory
    }

    #[getter]
    fn secure_memory_used(&self) -> u64 {
        self.inner.secure_memory_used()
    }

    #[getter]
    fn eapp_args(&self) -> u64 {
        self.inner.eapp_args()
    }

    fn ids(&self) -> Vec<u32> {
        self.inner.ids()
    }

    fn lookup(&self, id: i64) -> Option<Enclave> {
        let id = u32::try_from(id).ok()?;
        self.inner.lookup(id).map(|cell| Enclave::new(&self.inner, cell))
    }

    #[pyo3(signature = (elf, *, name=Vec::new(), r#type=0, stack_size=0x10000, shm=None, persistency=None))]
    fn create(
        &self,
        py: Python<'_>,
        elf: Vec<u8>,
        name: Vec<u8>,
        r#type: u32,
        stack_size: u64,
        shm: Option<PyBackedBytes>,
        persistency: Option<std::path::PathBuf>,
    ) -> PyResult<Enclave> {
        // The shm is borrowed from the Python object (not copied): its size is checked before
        // the monitor allocates anything for it.
        let p = CreateParams { name: name16(&name), kind: r#type, stack_size, shm: None, persistency };
        let m = Arc::clone(&self.inner);
        let cell = py.detach(|| m.create_with_shm(&elf, &p, shm.as_deref())).map_err(create_error)?;
        Ok(Enclave::new(&self.inner, cell))
    }

    /// Raises what `create`/`fork`/`run` would for a host region of `size` bytes, before the
    /// caller allocates it: MemoryError for a shm larger than the whole pool, LimitError for a
    /// relay region larger than the driver's relay pool.
    fn check_region(&self, what: &str, size: u64) -> PyResult<()> {
        match what {
            "shm" => self.inner.check_region("shm", size).map_err(create_error),
            "relay" => check_relay(size),
            other => Err(Error::Argument(format!("what must be \"shm\" or \"relay\", not {other:?}")).into()),
        }
    }

    /// Platform keys for attestation (bodies in attest.rs).
    #[pyo3(signature = (device_key=None, sm_key=None, *, test=false))]
    fn set_keys(&self, device_key: Option<Vec<u8>>, sm_key: Option<Vec<u8>>, test: bool) -> PyResult<()> {
        crate::attest::set_keys(&self.inner, device_key.as_deref(), sm_key.as_deref(), test)
    }

    fn platform<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        crate::attest::platform(py, &self.inner)
    }

    fn attest_hash<'py>(&self, py: Python<'py>, hash: &[u8], nonce: u64) -> PyResult<Bound<'py, PyBytes>> {
        crate::attest::attest_hash(py, &self.inner, hash, nonce)
    }

    /// A shadow template (type 2): `create(elf, type=2)`.
    #[pyo3(signature = (elf, *, name=Vec::new()))]
    fn create_shadow(&self, py: Python<'_>, elf: Vec<u8>, name: Vec<u8>) -> PyResult<Enclave> {
        self.create(py, elf, name, 2, 0, None, None)
    }

    /// Frame accounting of the live enclaves, instances and templates.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let m = Arc::clone(&self.inner);
        let s = py.detach(|| m.stats());
        let d = pyo3::types::PyDict::new(py);
        d.set_item("enclaves", s.enclaves)?;
        d.set_item("instances", s.instances)?;
        d.set_item("templates", s.templates)?;
        d.set_item("busy", s.busy)?;
        d.set_item("frames_private", s.frames_private)?;
        d.set_item("frames_shared", s.frames_shared)?;
        d.set_item("frames_template", s.frames_template)?;
        d.set_item("frame_size", 4096)?;
        Ok(d)
    }

    /// Secure shm segments (enclave-to-enclave shared memory) by key: `(key, size, users,
    /// destroying, block)` with `users` = `[(eid, va), ...]`.
    #[allow(clippy::type_complexity)]
    fn secure_shm(&self) -> Vec<(u64, u64, Vec<(u32, u64)>, bool, u64)> {
        self.inner.secure_shm().into_iter().map(|s| (s.key, s.size, s.users, s.destroying, s.block)).collect()
    }
}

/// A relay region the monitor would refuse (it also checks this when it maps one).
fn check_relay(size: u64) -> PyResult<()> {
    use pltvm_core::monitor::consts::RELAY_POOL;
    if size > RELAY_POOL {
        return Err(LimitError::new_err(format!("relay region of {size:#x} bytes exceeds the relay pool ({RELAY_POOL:#x} bytes)")));
    }
    Ok(())
}

/// Fork instances per GIL-free batch of `fork_run_destroy`: Ctrl-C is looked at in between.
const FORK_BATCH: u64 = 1024;
/// A fork copying a shm larger than this releases the GIL meanwhile.
const FORK_GIL_FREE_SHM: usize = 1 << 20;

impl Enclave {
    /// The monitor and the enclave's cell, for the gdb stub (debug.rs).
    pub(crate) fn core_parts(&self) -> (&Arc<core::Monitor>, &Arc<EnclaveCell>) {
        (&self.monitor, &self.cell)
    }

    /// A fork's shm, checked against the pool before it is copied.
    fn shm_arg(&self, shm: Option<PyBackedBytes>) -> PyResult<Option<Vec<u8>>> {
        let Some(shm) = shm else { return Ok(None) };
        self.monitor.check_region("shm", shm.len() as u64).map_err(create_error)?;
        Ok(Some(shm.to_vec()))
    }

    fn with<R>(&self, f: impl FnOnce(&mut pltvm_core::monitor::enclave::Enclave) -> R) -> PyResult<R> {
        match self.cell.try_inner() {
            Ok(mut g) => Ok(f(g.as_mut().expect("present"))),
            Err(true) => Err(Error::Busy.into()),
            Err(false) => Err(PyRuntimeError::new_err("the enclave no longer exists")),
        }
    }
}

#[pymethods]
impl Enclave {
    #[getter]
    fn id(&self) -> u32 {
        self.cell.id
    }

    #[getter]
    fn eid(&self) -> u32 {
        self.cell.eid
    }

    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let n = self.cell.name.iter().position(|&b| b == 0).unwrap_or(16);
        PyBytes::new(py, &self.cell.name[..n])
    }

    #[getter]
    fn r#type(&self) -> u32 {
        self.cell.kind
    }

    #[getter]
    fn state(&self) -> &'static str {
        self.cell.state().name()
    }

    #[getter]
    fn warnings(&self) -> PyResult<Vec<String>> {
        self.with(|e| e.warnings.clone())
    }

    #[getter]
    fn measurement<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let m = self.with(|e| e.measurement)?;
        Ok(PyBytes::new(py, &m))
    }

    #[getter]
    fn pc(&self) -> PyResult<u64> {
        self.with(|e| e.hart.pc)
    }

    #[getter]
    fn instret(&self) -> PyResult<u64> {
        self.with(|e| e.hart.retired)
    }

    fn get_x(&self, i: usize) -> PyResult<u64> {
        if i >= 32 {
            return Err(Error::Argument(format!("no register x{i}")).into());
        }
        self.with(|e| e.hart.x[i])
    }

    /// Enclave virtual memory, translated through the enclave's page tables. The range is
    /// checked before the result is allocated (straight into the bytes object).
    fn read<'py>(&self, py: Python<'py>, va: u64, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let unmapped = || PyErr::from(Error::Memory { addr: va, len: n as u64 });
        self.with(|e| {
            if !e.va_mapped(va, n) {
                return Err(unmapped());
            }
            PyBytes::new_with(py, n, |buf| if e.read_va_into(va, buf) { Ok(()) } else { Err(unmapped()) })
        })?
    }

    fn write(&self, va: u64, data: &[u8]) -> PyResult<()> {
        if !self.with(|e| e.write_va(va, data))? {
            return Err(Error::Memory { addr: va, len: data.len() as u64 }.into());
        }
        Ok(())
    }

    fn set_user_ocalls(&self, ids: Vec<u64>) -> PyResult<()> {
        self.with(|e| e.user_ocalls = ids)
    }

    fn stop(&self, py: Python<'_>) -> i32 {
        py.detach(|| self.monitor.stop(&self.cell))
    }

    fn resume(&self, py: Python<'_>) -> i32 {
        py.detach(|| self.monitor.resume(&self.cell))
    }

    fn destroy(&self, py: Python<'_>) -> i32 {
        // Gone already, or not running: done at once with the GIL held (releasing it costs
        // about as much as the destroy). Only a destroy that must wait for a run in another
        // thread (which may need the GIL to end) releases it.
        if let Some(r) = self.monitor.destroy_idle(&self.cell) {
            return r;
        }
        py.detach(|| self.monitor.destroy(&self.cell))
    }

    fn forget(&self, py: Python<'_>) {
        py.detach(|| self.monitor.forget(&self.cell))
    }

    /// Fork instance: the driver id of its template (Penglai's `isShadow = 1`), else None.
    #[getter]
    fn shadow_of(&self) -> Option<u32> {
        self.cell.shadow_of
    }

    /// Bytes of memory this enclave owns alone (frames not shared with its template or a
    /// sibling).
    #[getter]
    fn private_bytes(&self) -> PyResult<u64> {
        self.with(|e| pltvm_core::monitor::shadow::frame_counts(&e.bus).0 as u64 * 4096)
    }

    /// Bytes of memory this enclave shares with its template or siblings.
    #[getter]
    fn shared_bytes(&self) -> PyResult<u64> {
        self.with(|e| pltvm_core::monitor::shadow::frame_counts(&e.bus).1 as u64 * 4096)
    }

    /// Fork a FRESH instance of this shadow template (copy-on-write); run it with `run()`.
    #[pyo3(signature = (*, name=None, shm=None, persistency=None))]
    fn fork(
        &self,
        py: Python<'_>,
        name: Option<PyBackedBytes>,
        shm: Option<PyBackedBytes>,
        persistency: Option<std::path::PathBuf>,
    ) -> PyResult<Enclave> {
        // The name is borrowed (bytes) rather than extracted as a list of ints into a Vec.
        let name = name16(name.as_deref().unwrap_or_default());
        let shm = self.shm_arg(shm)?;
        let large = shm.as_ref().is_some_and(|s| s.len() > FORK_GIL_FREE_SHM);
        let p = pltvm_core::monitor::shadow::ForkParams { name, shm, persistency };
        let (m, cell) = (&self.monitor, &self.cell);
        // A fork never waits for a run or for Python (the monitor's locks are held only for
        // bookkeeping), so the GIL stays held unless a large shm is to be copied: releasing
        // and taking it back costs about as much as the fork itself.
        let inst = if large { py.detach(|| m.fork(cell, &p)) } else { m.fork(cell, &p) }.map_err(create_error)?;
        Ok(Enclave::new(&self.monitor, inst))
    }

    /// `fork(name=next_fork_name())` with no shm and no persistency, for the per-instance hot
    /// path (no keyword arguments to match, the name made here).
    fn fork_default(&self) -> PyResult<Enclave> {
        let p = pltvm_core::monitor::shadow::ForkParams { name: self.next_name(), shm: None, persistency: None };
        let inst = self.monitor.fork(&self.cell, &p).map_err(create_error)?;
        Ok(Enclave::new(&self.monitor, inst))
    }

    /// The next default name for a fork of this template: `fork<id hex>-<n>` (n = 1, 2, ...,
    /// shared with `fork_default`), cut to 16 bytes.
    fn next_fork_name<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let n = self.next_name();
        let len = n.iter().position(|&b| b == 0).unwrap_or(16);
        PyBytes::new(py, &n[..len])
    }

    /// Fork, run to the end and destroy `n` instances of this template without returning to
    /// Python in between (Ctrl-C is looked at every 1024 instances): (instances that exited
    /// with EAPP_RETURN, their output).
    #[pyo3(signature = (n, *, name=Vec::new(), shm=None, relay=None))]
    fn fork_run_destroy<'py>(
        &self,
        py: Python<'py>,
        n: u64,
        name: Vec<u8>,
        shm: Option<PyBackedBytes>,
        relay: Option<PyBackedBytes>,
    ) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        let shm = self.shm_arg(shm)?;
        if let Some(r) = &relay {
            check_relay(r.len() as u64)?;
        }
        let p = pltvm_core::monitor::shadow::ForkParams { name: name16(&name), shm, persistency: None };
        let (m, cell) = (&self.monitor, &self.cell);
        let (mut exited, mut out, mut left) = (0, Vec::new(), n);
        while left > 0 {
            let k = left.min(FORK_BATCH);
            let (x, o) = py.detach(|| m.fork_run_destroy_buffered(cell, &p, relay.as_deref(), k)).map_err(create_error)?;
            exited += x;
            out.extend_from_slice(&o);
            left -= k;
            if left > 0 {
                py.check_signals()?;
            }
        }
        Ok((exited, PyBytes::new(py, &out)))
    }

    /// Host attestation (fid 98): report_t bytes (attest.rs).
    fn attest<'py>(&self, py: Python<'py>, nonce: u64) -> PyResult<Bound<'py, PyBytes>> {
        crate::attest::attest(py, &self.monitor, &self.cell, nonce)
    }

    #[pyo3(signature = (entry="start", *, relay=None, shm=None, budget=None, output=None, ocall_result=0, capture=false))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        entry: &str,
        relay: Option<Vec<u8>>,
        shm: Option<Vec<u8>>,
        budget: Option<u64>,
        output: Option<Py<PyAny>>,
        ocall_result: i64,
        capture: bool,
    ) -> PyResult<RunResult> {
        let entry = match entry {
            "start" => Entry::Start { relay },
            "rerun_relay" => Entry::RerunRelay { relay },
            "ocall_return" => Entry::OcallReturn(ocall_result as u64),
            "continue" => Entry::Continue,
            "start_inherit" => Entry::StartInherit,
            other => {
                return Err(Error::Argument(format!(
                    "entry must be \"start\", \"start_inherit\", \"rerun_relay\", \"ocall_return\" or \"continue\", not {other:?}"
                ))
                .into())
            }
        };
        let (out, buf) = self.run_request(py, RunRequest { entry, shm, budget }, output, capture)?;
        Ok(run_result(py, out, capture.then_some(buf)))
    }

    /// `run("start", capture=True)` for the per-instance hot path: a run that ends in
    /// `EAPP_RETURN` with no call records and no relay region comes back as the tuple
    /// `(value as a signed 64-bit int, output, instret)`; any other outcome as the RunResult
    /// `run` gives (e.g. "refused" for an enclave that is not FRESH, nothing changed).
    fn run_capture(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (out, buf) = self.run_request(py, RunRequest::start(), None, true)?;
        if let RunExit::Exited { retval } = out.exit {
            if out.calls.is_empty() && out.relay.is_empty() && out.shm.is_none() {
                let t = (retval as i64, PyBytes::new(py, &buf), out.instret);
                return Ok(t.into_pyobject(py)?.into_any().unbind());
            }
        }
        Ok(Py::new(py, run_result(py, out, Some(buf)))?.into_any())
    }

    /// A shadow template of this enclave paused in a host OCALL (core monitor/snapshot.rs):
    /// its forks resume after the OCALL with `a0 = ocall_result`; `shm` (the shm's size)
    /// replaces the snapshot's shm contents. RuntimeError when the enclave is not paused in a
    /// host OCALL, gone, busy or holds relay regions; MemoryError when the pool is full.
    #[pyo3(signature = (*, name=Vec::new(), ocall_result=0, shm=None))]
    fn snapshot(&self, py: Python<'_>, name: Vec<u8>, ocall_result: i64, shm: Option<Vec<u8>>) -> PyResult<Enclave> {
        use pltvm_core::monitor::snapshot::{SnapshotError, SnapshotParams};
        // Forks hand no OCALL to their host until Python registers handlers for them (each
        // run sends the ids the Enclave object handles).
        let p = SnapshotParams { name: name16(&name), ocall_result: ocall_result as u64, shm, user_ocalls: Some(Vec::new()) };
        let (m, cell) = (&self.monitor, &self.cell);
        match py.detach(|| m.snapshot(cell, &p)) {
            Ok(snap) => Ok(Enclave::new(&self.monitor, snap)),
            Err(SnapshotError::Create(e)) => Err(create_error(e)),
            Err(e) => Err(PyRuntimeError::new_err(e.to_string())),
        }
    }

    /// A snapshot template: the pc its forks resume at; else None.
    #[getter]
    fn snapshot_pc(&self) -> Option<u64> {
        self.monitor.snapshot_of(&self.cell).map(|r| r.pc())
    }

    /// A snapshot template: the driver id of the enclave it was taken of; else None.
    #[getter]
    fn snapshot_source(&self) -> Option<u32> {
        self.monitor.snapshot_of(&self.cell).map(|r| r.source)
    }

    fn __repr__(&self) -> String {
        format!("Enclave(id={:#x}, eid={}, state={})", self.cell.id, self.cell.eid, self.cell.state().name())
    }
}
