//! `pltvm._core.Machine` and `Exit`: argument conversion, locking and GIL release only.
use crate::error::Error;
use pltvm_core::machine::{self as core, Kind};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Mutex, MutexGuard};

/// `_core.jit_stats()`: the compiling tier's process-wide figures since start (blocks
/// compiled, guest instructions in them, nanoseconds spent compiling, blocks that reused code
/// compiled for the same instructions).
#[pyfunction]
pub(crate) fn jit_stats() -> (u64, u64, u64, u64) {
    let s = pltvm_core::jit::stats();
    (s.compiled, s.compiled_insns, s.compile_nanos, s.reused)
}

/// Instructions per GIL-free slice; between slices the run checks for Ctrl-C.
const SLICE: u64 = 1 << 26;

#[pyclass(module = "pltvm._core", frozen, get_all)]
pub struct Exit {
    reason: &'static str,
    code: Option<i64>,
    pc: u64,
    cause: Option<u64>,
    tval: Option<u64>,
    instret: u64,
}

#[pymethods]
impl Exit {
    fn __repr__(&self) -> String {
        format!(
            "Exit(reason={:?}, code={:?}, pc={:#x}, cause={:?}, tval={:?}, instret={})",
            self.reason, self.code, self.pc, self.cause, self.tval, self.instret
        )
    }
}

#[pyclass(module = "pltvm._core", frozen)]
pub struct Machine {
    inner: Mutex<core::Machine>,
}

fn misaligned_trap(mode: &str) -> Result<bool, Error> {
    match mode {
        "emulate" => Ok(false),
        "trap" => Ok(true),
        other => Err(Error::Argument(format!("misaligned must be \"emulate\" or \"trap\", not {other:?}"))),
    }
}

/// `engine=` as the bindings take it: "interp" or "jit".
pub(crate) fn engine_arg(engine: &str) -> Result<pltvm_core::jit::Engine, Error> {
    pltvm_core::jit::Engine::parse(engine)
        .ok_or_else(|| Error::Argument(format!("engine must be \"interp\" or \"jit\", not {engine:?}")))
}

impl Machine {
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, core::Machine>, Error> {
        self.inner.try_lock().map_err(|_| Error::Busy)
    }
}

#[pymethods]
impl Machine {
    #[staticmethod]
    fn bare(ram_size: u64, misaligned: &str) -> PyResult<Machine> {
        if ram_size == 0 || ram_size > 1 << 40 {
            return Err(Error::Argument(format!("ram_size {ram_size:#x} must be in (0, 1 TiB]")).into());
        }
        let m = core::Machine::bare(ram_size, misaligned_trap(misaligned)?);
        Ok(Machine { inner: Mutex::new(m) })
    }

    /// An S-mode host kernel under the Rust monitor (docs/system-mode.md).
    #[staticmethod]
    fn system(ram_size: u64, secure_memory: u64) -> PyResult<Machine> {
        let min = pltvm_core::system::MONITOR_SIZE + 4096;
        if ram_size < min || ram_size > 1 << 40 {
            return Err(Error::Argument(format!(
                "ram_size {ram_size:#x} must be in [{min:#x} (the monitor's 2 MiB and one page), 1 TiB]"
            ))
            .into());
        }
        if secure_memory > 1 << 40 {
            return Err(Error::Argument(format!("secure_memory {secure_memory:#x} must be at most 1 TiB")).into());
        }
        Ok(Machine { inner: Mutex::new(core::Machine::system(ram_size, secure_memory)) })
    }

    #[staticmethod]
    fn user(misaligned: &str) -> PyResult<Machine> {
        let m = core::Machine::user(misaligned_trap(misaligned)?);
        Ok(Machine { inner: Mutex::new(m) })
    }

    /// "interp" (the interpreter only) or "jit" (hot blocks compiled; see docs/jit.md).
    #[getter]
    fn engine(&self) -> PyResult<&'static str> {
        Ok(self.lock()?.hart.engine.name())
    }

    #[setter]
    fn set_engine(&self, engine: &str) -> PyResult<()> {
        let e = engine_arg(engine)?;
        self.lock()?.hart.engine = e;
        Ok(())
    }

    #[getter]
    fn kind(&self) -> PyResult<&'static str> {
        Ok(match self.lock()?.kind {
            Kind::Bare => "bare",
            Kind::User => "user",
            Kind::System => "system",
        })
    }

    #[getter]
    fn ram_base(&self) -> PyResult<u64> {
        Ok(self.lock()?.ram_base())
    }

    #[getter]
    fn ram_size(&self) -> PyResult<u64> {
        Ok(self.lock()?.ram_size())
    }

    fn load_segment(&self, vaddr: u64, data: &[u8], memsz: u64) -> PyResult<()> {
        Ok(self.lock()?.load_segment(vaddr, data, memsz).map_err(Error::Load)?)
    }

    #[pyo3(signature = (tohost, fromhost))]
    fn set_htif(&self, tohost: u64, fromhost: Option<u64>) -> PyResult<()> {
        self.lock()?.set_htif(tohost, fromhost);
        Ok(())
    }

    fn setup_stack(&self, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>, auxv: Vec<(u64, u64)>) -> PyResult<u64> {
        let mut m = self.lock()?;
        if m.kind != Kind::User {
            return Err(Error::Argument("setup_stack needs a user machine".into()).into());
        }
        Ok(m.setup_stack(&argv, &envp, &auxv)
            .ok_or_else(|| Error::Argument("arguments and environment do not fit on the stack".into()))?)
    }

    fn set_brk(&self, addr: u64) -> PyResult<()> {
        self.lock()?.set_brk(addr);
        Ok(())
    }

    #[getter]
    fn get_pc(&self) -> PyResult<u64> {
        Ok(self.lock()?.hart.pc)
    }

    #[setter]
    fn set_pc(&self, pc: u64) -> PyResult<()> {
        self.lock()?.hart.pc = pc & !1;
        Ok(())
    }

    #[getter]
    fn instret(&self) -> PyResult<u64> {
        Ok(self.lock()?.hart.retired)
    }

    fn get_x(&self, i: usize) -> PyResult<u64> {
        let m = self.lock()?;
        m.hart.x.get(i).copied().ok_or_else(|| Error::Argument(format!("no register x{i}")).into())
    }

    fn set_x(&self, i: usize, value: u64) -> PyResult<()> {
        if i >= 32 {
            return Err(Error::Argument(format!("no register x{i}")).into());
        }
        if i != 0 {
            self.lock()?.hart.x[i] = value;
        }
        Ok(())
    }

    fn csr_read(&self, number: u16) -> PyResult<u64> {
        let m = self.lock()?;
        Ok(m.hart.csr_read(number, &m.bus).map_err(|e| Error::Csr(number, e))?)
    }

    fn csr_write(&self, number: u16, value: u64) -> PyResult<()> {
        let mut m = self.lock()?;
        Ok(m.hart.csr_write(number, value).map_err(|e| Error::Csr(number, e))?)
    }

    /// The range is checked before the result is allocated (straight into the bytes object).
    fn mem_read<'py>(&self, py: Python<'py>, addr: u64, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut m = self.lock()?;
        let unbacked = || PyErr::from(Error::Memory { addr, len: n as u64 });
        if !m.bus.is_ram_range(addr, n as u64) {
            return Err(unbacked());
        }
        PyBytes::new_with(py, n, |buf| if m.mem_read(addr, buf) { Ok(()) } else { Err(unbacked()) })
    }

    fn mem_write(&self, addr: u64, data: &[u8]) -> PyResult<()> {
        if !self.lock()?.mem_write(addr, data) {
            return Err(Error::Memory { addr, len: data.len() as u64 }.into());
        }
        Ok(())
    }

    /// Runs in GIL-free slices; between slices Ctrl-C (or any pending signal handler that
    /// raises) stops the run and the exception propagates.
    #[pyo3(signature = (max_instructions=None))]
    fn run(&self, py: Python<'_>, max_instructions: Option<u64>) -> PyResult<Exit> {
        let mut guard = self.lock()?;
        let m: &mut core::Machine = &mut guard;
        let start = m.hart.retired;
        loop {
            let done = m.hart.retired - start;
            let left = max_instructions.map_or(u64::MAX, |max| max.saturating_sub(done));
            let exit = py.detach(|| m.run(left.min(SLICE)));
            let instret = m.hart.retired - start;
            let pc = m.hart.pc;
            let (reason, code, cause, tval) = match exit {
                core::Exit::Budget if left > SLICE => {
                    py.check_signals()?;
                    continue;
                }
                core::Exit::Budget => ("budget", None, None, None),
                core::Exit::Exited(c) => ("exit", Some(c), None, None),
                core::Exit::Fault { cause, tval, .. } => ("fault", None, Some(cause), Some(tval)),
            };
            return Ok(Exit { reason, code, pc, cause, tval, instret });
        }
    }
}
