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

/// Listens on `host:port` (port 0: any free port) and calls `ready(port)` once listening.
fn listen(host: &str, port: u16, ready: Option<Bound<'_, PyAny>>) -> PyResult<TcpListener> {
    let listener = TcpListener::bind((host, port))
        .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?.port();
    if let Some(cb) = ready {
        cb.call1((bound,))?;
    }
    Ok(listener)
}

/// The Ctrl-C check of a session that runs with the GIL released: true once a signal handler
/// raised; its exception waits in `pending` to be raised when the session is over.
fn signal_check(pending: &Mutex<Option<PyErr>>) -> impl Fn() -> bool + Copy + Send + Sync + '_ {
    move || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *pending.lock().unwrap() = Some(e);
                true
            }
        })
    }
}

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
    let listener = listen(host, port, ready)?;
    let mut guard = machine.lock()?;
    let m: &mut pltvm_core::machine::Machine = &mut guard;
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let interrupted = signal_check(&pending);
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
    let listener = listen(host, port, ready)?;
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let interrupted = signal_check(&pending);
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

/// A fuzz target's input under gdb, set up exactly as an execution of the campaign sets it up
/// (`Target::prepare`: a fork of the template or the deferred snapshot with the input in its
/// shm), with the target's instruction budget (one SIGXCPU stop when it runs out) and the
/// second `pl_fuzz_input` ending the input. A fault stops gdb at the faulting instruction
/// (replayed, see pltvm_gdb::enclave). Output goes to stdout. Returns `(outcome, value,
/// fault, timed_out)`: outcome "exited" (value = exit value), "fault" (fault = (cause, pc,
/// tval)), "detached" or "killed"; `timed_out` says whether the budget ran out under gdb.
#[pyfunction]
#[pyo3(signature = (target, data, host, port, ready=None))]
fn gdb_serve_fuzz(
    py: Python<'_>,
    target: &crate::fuzz::FuzzTarget,
    data: Vec<u8>,
    host: &str,
    port: u16,
    ready: Option<Bound<'_, PyAny>>,
) -> PyResult<(&'static str, Option<u64>, Option<(u64, u64, u64)>, bool)> {
    use pltvm_core::monitor::run::StdoutHost;
    use pltvm_core::monitor::snapshot::FUZZ_INPUT;
    use pltvm_gdb::enclave::{EnclaveDebuggee, Ended, Respawn};
    use std::sync::OnceLock;
    if host.is_empty() {
        return Err(Error::Argument("host must not be empty".into()).into());
    }
    let t = std::sync::Arc::clone(target.core());
    let monitor = t.monitor();
    let (cell, entry) = t.prepare(&data).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let listener = match listen(host, port, ready) {
        Ok(l) => l,
        Err(e) => {
            monitor.destroy(&cell);
            return Err(e);
        }
    };
    let served = (|| -> PyResult<_> {
        let pending: Mutex<Option<PyErr>> = Mutex::new(None);
        let interrupted = signal_check(&pending);
        let slot: OnceLock<std::sync::Arc<pltvm_core::monitor::EnclaveCell>> = OnceLock::new();
        let result = py.detach(|| -> Result<Option<(Outcome, Option<Ended>, bool)>, String> {
            let mut check = interrupted;
            let Some(conn) = pltvm_gdb::accept(&listener, &mut check).map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            let mut out = StdoutHost;
            // The fuzzer hands no other OCALL to the host: any other id answers -1.
            let mut answer = |_: u64, _: [u64; 3]| Some(u64::MAX);
            let make = Box::new(|| t.prepare(&data).map_err(|e| e.to_string()));
            let mut d = EnclaveDebuggee::new(monitor, &cell, entry, &mut out, &mut answer)?
                .with_limit(t.max_instructions)
                .ending_at_ocall(FUZZ_INPUT)
                .with_respawn(Respawn { slot: &slot, make });
            let r = pltvm_gdb::serve(&mut d, conn, Box::new(interrupted));
            if let Some(why) = &d.replay_error {
                // gdb saw only the fault pc; say why the registers were not there.
                eprintln!("pltvm: the fault could not be replayed ({why}); gdb saw its pc only");
            }
            let (ended, timed_out) = (d.ended.clone(), d.timed_out);
            drop(d);
            Ok(Some((r?, ended, timed_out)))
        });
        if let Some(c) = slot.get() {
            monitor.destroy(c);
        }
        if let Some(e) = pending.lock().unwrap().take() {
            return Err(e);
        }
        result.map_err(PyOSError::new_err)
    })();
    // Gone already when it exited or faulted; destroyed here when gdb left it standing.
    monitor.destroy(&cell);
    match served? {
        None | Some((Outcome::Interrupted, _, _)) => {
            Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("gdb session interrupted"))
        }
        Some((_, Some(Ended::Fault { cause, tval, pc }), to)) => Ok(("fault", None, Some((cause, pc, tval)), to)),
        Some((Outcome::Exited(_), Some(Ended::Exited(v)), to)) => Ok(("exited", Some(v), None, to)),
        Some((Outcome::Exited(code), _, to)) => Ok(("exited", Some(code as u64), None, to)),
        Some((Outcome::Killed, _, to)) => Ok(("killed", None, None, to)),
        Some((Outcome::Detached, _, to)) => Ok(("detached", None, None, to)),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gdb_serve, m)?)?;
    m.add_function(wrap_pyfunction!(gdb_serve_enclave, m)?)?;
    m.add_function(wrap_pyfunction!(gdb_serve_fuzz, m)?)
}
