//! `pltvm._core`: the module declaration only; each class lives in its own file.
use pyo3::prelude::*;

mod attest;
mod debug;
mod error;
mod fuzz;
mod machine;
mod monitor;
mod enclave;
mod run;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", pltvm_core::version())?;
    m.add("__all__", ["Enclave", "Exit", "Machine", "Monitor", "RunResult"])?;
    m.add_class::<machine::Machine>()?;
    m.add_class::<machine::Exit>()?;
    m.add_class::<monitor::Monitor>()?;
    m.add_class::<enclave::Enclave>()?;
    m.add_class::<run::RunResult>()?;
    m.add_function(wrap_pyfunction!(machine::jit_stats, m)?)?;
    attest::register(m)?;
    debug::register(m)?;
    error::register(m)?;
    fuzz::register(m)?;
    Ok(())
}
