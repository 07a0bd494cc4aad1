//! `pltvm._core.Enclave`: one enclave, instance or shadow template of the monitor model.
//! Conversion, locking and GIL release only.
use crate::error::{create_error, Error};
use crate::monitor::{check_relay, name16};
use crate::run::{run_result, RunResult};
use pltvm_core::monitor::{self as core, EnclaveCell, Entry, RunExit, RunRequest};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[pyclass(module = "pltvm._core", frozen)]
pub struct Enclave {
    pub(crate) monitor: Arc<core::Monitor>,
    pub(crate) cell: Arc<EnclaveCell>,
    /// Default names handed out by `fork_default`/`next_fork_name` (a shadow template).
    forks: AtomicU64,
}

impl Enclave {
    pub(crate) fn new(monitor: &Arc<core::Monitor>, cell: Arc<EnclaveCell>) -> Enclave {
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
