//! The one place core errors become Python exceptions.
use pltvm_core::hart::csr::CsrError;
use pltvm_core::machine::LoadError;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

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
