//! Server enclaves (docs/ipc.md): created by the host (driver CREATE with `SERVER_ENCLAVE`,
//! monitor fid 90) and run only inside `call_enclave` from other enclaves (ipc.rs).
//!
//! A server is built like a normal enclave (ELF, stack, optional host shm) but has no print
//! buffer of its own and is measured without one; its name is unique among live servers. It
//! is RUNNABLE from creation on; the host cannot run, stop or attest it; destroy frees it unless
//! it is part of a call in flight.
use super::consts::*;
use super::enclave::{self, CreateError, CreateParams, Enclave};
use super::{EnclaveCell, Monitor, State};
use std::sync::Arc;

impl Monitor {
    /// Creates a server enclave; the name (up to its first NUL) must be non-empty and unique
    /// among live servers.
    pub fn create_server(&self, elf_bytes: &[u8], p: &CreateParams, shm: Option<&[u8]>) -> Result<Arc<EnclaveCell>, CreateError> {
        let key_len = p.name.iter().position(|&b| b == 0).unwrap_or(16);
        if key_len == 0 {
            return Err(CreateError::Param("a server enclave needs a name (acquire_enclave finds it by name)".into()));
        }
        if self.server_by_name(&p.name[..key_len]).is_some() {
            return Err(CreateError::Param(format!(
                "a server enclave named {:?} exists already",
                String::from_utf8_lossy(&p.name[..key_len])
            )));
        }
        let info = enclave::parse(elf_bytes)?;
        let pages = enclave::block_pages(&info, p.stack_size)?;
        let bytes = pages * PAGE;
        if !self.reserve(bytes) {
            let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
            return Err(CreateError::NoMemory { need: bytes, free });
        }
        let mut enc = match Enclave::build_with_shm(elf_bytes, &info, p, pages, shm) {
            Ok(e) => e,
            Err(err) => {
                self.release(bytes);
                return Err(err);
            }
        };
        let mut t = self.tables();
        // Checked again under the lock: two creates of one name may race.
        if t.eids.iter().flatten().any(|c| c.kind == SERVER_ENCLAVE && c.name_key() == &p.name[..key_len]) {
            t.used -= bytes;
            return Err(CreateError::Param(format!(
                "a server enclave named {:?} exists already",
                String::from_utf8_lossy(&p.name[..key_len])
            )));
        }
        let Some(id) = t.free_id() else {
            t.used -= bytes;
            return Err(CreateError::NoId);
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, p.name, SERVER_ENCLAVE, None, State::Runnable, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// Host destroy of a server (fid 89): -1 while it is part of a call in flight (or gone),
    /// else it is freed: 0.
    pub(super) fn destroy_server(&self, cell: &EnclaveCell) -> i32 {
        {
            let ipc = self.ipc();
            if ipc_busy(&ipc, cell) {
                return -1;
            }
            let mut c = cell.ctl.lock().unwrap();
            if matches!(c.state, State::Invalid | State::Destroyed) {
                return -1;
            }
            c.state = State::Invalid;
        }
        let enc = cell.inner.lock().unwrap().take();
        if let Some(enc) = enc {
            self.free(cell, enc);
        }
        cell.cv.notify_all();
        0
    }
}

fn ipc_busy(ipc: &super::ipc::Ipc, cell: &EnclaveCell) -> bool {
    ipc.is_busy(cell.eid)
}
