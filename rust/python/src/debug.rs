//! `pltvm._core.gdb_serve`: a gdb remote stub session for a machine (crate `pltvm-gdb`), with
//! the GIL released while gdb drives; the host's Ctrl-C is checked while waiting for gdb and
//! between run slices.
use crate::error::Error;
use crate::machine::Machine;
use pltvm_gdb::Outcome;
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use std::net::TcpListener;
use std::sync::Mutex;

/// Listens on `host:port` (port 0: any free port), calls `ready(port)` once listening, serves
/// one gdb session and returns `(outcome, exit_code)`: ("exited", code), ("detached", None)
/// or ("killed", None). Ctrl-C raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (machine, host, port, ready=None))]
fn gdb_serve(
    py: Python<'_>,
    machine: &Machine,
    host: &str,
    port: u16,
    ready: Option<Bound<'_, PyAny>>,
) -> PyResult<(&'static str, Option<i64>)> {
    if host.is_empty() {
        return Err(Error::Argument("host must not be empty".into()).into());
    }
    let listener = TcpListener::bind((host, port))
        .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?.port();
    if let Some(cb) = ready {
        cb.call1((bound,))?;
    }
    let mut guard = machine.lock()?;
    let m: &mut pltvm_core::machine::Machine = &mut guard;
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let interrupted = || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *pending.lock().unwrap() = Some(e);
                true
            }
        })
    };
    let result = py.detach(|| -> Result<Option<Outcome>, String> {
        let mut check = interrupted;
        let Some(conn) = pltvm_gdb::accept(&listener, &mut check).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        pltvm_gdb::serve(m, conn, Box::new(interrupted)).map(Some)
    });
    if let Some(e) = pending.lock().unwrap().take() {
        return Err(e);
    }
    match result.map_err(PyOSError::new_err)? {
        None | Some(Outcome::Interrupted) => Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("gdb session interrupted")),
        Some(Outcome::Exited(code)) => Ok(("exited", Some(code))),
        Some(Outcome::Detached) => Ok(("detached", None)),
        Some(Outcome::Killed) => Ok(("killed", None)),
    }
}

/// Like `gdb_serve`, for one enclave of a monitor: `entry` is "start" (a FRESH enclave) or
/// "continue" (RUNNABLE or STOPPED). The enclave's output goes to the process's stdout; its
/// host OCALLs call `ocall(id, a1, a2, a3)`, whose int answer the enclave gets in a0. Returns
/// ("exited", value), ("fault", None), ("detached", None) or ("killed", None).
#[pyfunction]
#[pyo3(signature = (enclave, host, port, entry, ready=None, ocall=None))]
fn gdb_serve_enclave(
    py: Python<'_>,
    enclave: &crate::enclave::Enclave,
    host: &str,
    port: u16,
    entry: &str,
    ready: Option<Bound<'_, PyAny>>,
    ocall: Option<Py<PyAny>>,
) -> PyResult<(&'static str, Option<i64>)> {
    use pltvm_core::monitor::run::{Entry, StdoutHost};
    use pltvm_gdb::enclave::{EnclaveDebuggee, Ended};
    let entry = match entry {
        "start" => Entry::Start { relay: None },
        "continue" => Entry::Continue,
        other => return Err(Error::Argument(format!("entry must be \"start\" or \"continue\", not {other:?}")).into()),
    };
    if host.is_empty() {
        return Err(Error::Argument("host must not be empty".into()).into());
    }
    let (monitor, cell) = enclave.core_parts();
    // Refused before listening: gdb would connect to nothing it could debug.
    match cell.try_inner() {
        Ok(_) => {}
        Err(true) => return Err(PyRuntimeError::new_err("the enclave is running in another thread")),
        Err(false) => return Err(PyRuntimeError::new_err("the enclave no longer exists")),
    }
    let listener = TcpListener::bind((host, port))
        .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?.port();
    if let Some(cb) = ready {
        cb.call1((bound,))?;
    }
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let interrupted = || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *pending.lock().unwrap() = Some(e);
                true
            }
        })
    };
    let mut answer = |id: u64, a: [u64; 3]| -> Option<u64> {
        let Some(f) = &ocall else { return Some(u64::MAX) };
        Python::attach(|py| match f.call1(py, (id, a[0], a[1], a[2])).and_then(|v| v.extract::<i64>(py)) {
            Ok(v) => Some(v as u64),
            Err(e) => {
                *pending.lock().unwrap() = Some(e);
                None
            }
        })
    };
    let result = py.detach(|| -> Result<Option<(Outcome, Option<Ended>)>, String> {
        let mut check = interrupted;
        let Some(conn) = pltvm_gdb::accept(&listener, &mut check).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let mut out = StdoutHost;
        let mut d = EnclaveDebuggee::new(monitor, cell, entry, &mut out, &mut answer)?;
        let r = pltvm_gdb::serve(&mut d, conn, Box::new(interrupted))?;
        Ok(Some((r, d.ended.clone())))
    });
    if let Some(e) = pending.lock().unwrap().take() {
        return Err(e);
    }
    match result.map_err(PyOSError::new_err)? {
        None | Some((Outcome::Interrupted, _)) => {
            Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("gdb session interrupted"))
        }
        Some((Outcome::Exited(code), _)) => Ok(("exited", Some(code))),
        Some((_, Some(Ended::Fault { .. }))) => Ok(("fault", None)),
        Some((Outcome::Killed, _)) => Ok(("killed", None)),
        Some((Outcome::Detached, _)) => Ok(("detached", None)),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gdb_serve, m)?)?;
    m.add_function(wrap_pyfunction!(gdb_serve_enclave, m)?)
}
