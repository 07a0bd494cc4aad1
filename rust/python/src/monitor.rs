//! `pltvm._core.Monitor`: the Penglai-TVM monitor model of `pltvm_core::monitor` for Python.
//! Conversion, locking and GIL release only; enclaves are in enclave.rs, runs in run.rs.
use crate::enclave::Enclave;
use crate::error::{create_error, Error, LimitError};
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::rng::RngMode;
use pltvm_core::monitor as core;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use std::sync::Arc;

#[pyclass(module = "pltvm._core", frozen)]
pub struct Monitor {
    inner: Arc<core::Monitor>,
}

pub(crate) fn name16(name: &[u8]) -> [u8; 16] {
    let mut n = [0u8; 16];
    let k = name.len().min(16);
    n[..k].copy_from_slice(&name[..k]);
    n
}

#[pymethods]
impl Monitor {
    #[staticmethod]
    #[pyo3(signature = (secure_memory=core::DEFAULT_SECURE_MEMORY, rng="seeded", seed=0, slice=core::DEFAULT_SLICE, caller_id_compat=false, engine=None))]
    fn new(secure_memory: u64, rng: &str, seed: u64, slice: u64, caller_id_compat: bool, engine: Option<&str>) -> PyResult<Monitor> {
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
        // None: the host's default (pltvm_core::jit::Engine::HOST_DEFAULT), as for every hart.
        let engine = match engine {
            Some(e) => crate::machine::engine_arg(e)?,
            None => pltvm_core::jit::Engine::default(),
        };
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
pub(crate) fn check_relay(size: u64) -> PyResult<()> {
    use pltvm_core::monitor::consts::RELAY_POOL;
    if size > RELAY_POOL {
        return Err(LimitError::new_err(format!("relay region of {size:#x} bytes exceeds the relay pool ({RELAY_POOL:#x} bytes)")));
    }
    Ok(())
}

