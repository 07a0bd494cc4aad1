//! The one place core errors become Python exceptions.
use pltvm_core::hart::csr::CsrError;
use pltvm_core::machine::LoadError;
use pltvm_core::monitor::Error as CreateError;
use pyo3::exceptions::{PyKeyError, PyMemoryError, PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::PyErr;

pyo3::create_exception!(
    pltvm._core,
    LimitError,
    PyValueError,
    "A size or address argument is beyond a limit of the monitor or the ABI (the relay pool, the \
     enclave's address space, the page tables of its block); the message names the argument."
);

pub enum Error {
    Load(LoadError),
    Csr(u16, CsrError),
    /// Guest memory that is not backed.
    Memory { addr: u64, len: u64 },
    /// Another thread is running this machine.
    Busy,
    Argument(String),
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Load(e) => PyValueError::new_err(e.to_string()),
            Error::Csr(n, _) => PyKeyError::new_err(format!("no CSR {n:#x}")),
            Error::Memory { addr, len } => {
                PyValueError::new_err(format!("guest memory [{addr:#x}, +{len:#x}) is not backed"))
            }
            Error::Busy => PyRuntimeError::new_err("the machine is running in another thread"),
            Error::Argument(msg) => PyValueError::new_err(msg),
        }
    }
}

/// Enclave creation and fork errors: ValueError (bad ELF or parameter), MemoryError (the pool
/// is exhausted, or a size exceeds the whole pool), LimitError (a ValueError: a size beyond an
/// ABI or enclave limit), NotImplementedError, RuntimeError (no free id).
pub fn create_error(e: CreateError) -> PyErr {
    use CreateError as E;
    let msg = e.to_string();
    match e {
        E::Elf(_) | E::Param(_) => PyValueError::new_err(msg),
        E::NoMemory { .. } | E::ExceedsPool(_) => PyMemoryError::new_err(msg),
        E::Limit(_) => LimitError::new_err(msg),
        E::Unsupported(_) => PyNotImplementedError::new_err(msg),
        E::NoId => PyRuntimeError::new_err(msg),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LimitError", m.py().get_type::<LimitError>())
}
