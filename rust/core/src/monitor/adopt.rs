//! Enclaves whose block an S-mode host built in its own RAM (the system machine's CREATE,
//! fid 99; CREATE_SERVER, fid 90; CREATE_SHADOW, fid 86): the monitor's half of creation on a
//! block the host loaded as Penglai's driver does, then the same registration as
//! [`Monitor::create`], [`Monitor::create_server`] and [`Monitor::create_shadow`]. Fork
//! instances of such a template (RUN_SHADOW, fid 87) come from [`Monitor::fork`] with the
//! host's instance block counted against the secure pool. The caller (crate::system) checked
//! the create parameters and the block's layout and makes the block secure.
use super::consts::*;
use super::enclave::{CreateError, Enclave, Pending};
use super::rng::SplitMix;
use super::shadow::{build_template, ForkParams, Template};
use super::{EnclaveCell, Monitor, State};
use crate::bus::Bus;
use crate::hart::csr::num::SATP;
use crate::hart::Priv;
use std::sync::Arc;

/// A block prepared by the host: `bus` holds it at `[block_pa, block_pa + pages * 4096)`
/// (root table at page 1), with the image already loaded and mapped.
pub struct Block<'a> {
    pub name: [u8; 16],
    pub bus: Bus,
    pub block_pa: u64,
    pub pages: u64,
    pub entry: u64,
    /// First page of the monitor's free list (§1.5 step 6).
    pub free_mem: u64,
    /// Host shm contents, mapped at `SHM_BASE` (§1.5 step 10).
    pub shm: Option<&'a [u8]>,
}

impl Monitor {
    /// Creates a normal enclave from a host-built block: kbuffer and shm mappings, entry
    /// state, measurement (§1.5 steps 9–11), then a table slot and a driver id.
    pub fn adopt_block(&self, b: Block<'_>) -> Result<Arc<EnclaveCell>, CreateError> {
        let bytes = b.pages * PAGE;
        let name = b.name;
        self.reserve_or_err(bytes)?;
        let mut enc = self.built(Self::block_enclave(b, bytes, true), bytes)?;
        let mut t = self.tables();
        let Some(id) = t.free_id() else {
            t.used -= bytes;
            return Err(CreateError::NoId);
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, name, NORMAL_ENCLAVE, None, State::Fresh, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// Creates a server enclave from a host-built block (§9.1): no kbuffer (a server prints
    /// through its top caller's), measured without one, RUNNABLE from the start; the name (up
    /// to its first NUL) must be non-empty and unique among live servers.
    pub fn adopt_server_block(&self, b: Block<'_>) -> Result<Arc<EnclaveCell>, CreateError> {
        let bytes = b.pages * PAGE;
        let name = b.name;
        let key_len = name.iter().position(|&c| c == 0).unwrap_or(16);
        if key_len == 0 {
            return Err(CreateError::Param("a server enclave needs a name".into()));
        }
        self.reserve_or_err(bytes)?;
        let mut enc = self.built(Self::block_enclave(b, bytes, false), bytes)?;
        let mut t = self.tables();
        let taken = t.eids.iter().flatten().any(|c| c.kind == SERVER_ENCLAVE && c.name_key() == &name[..key_len]);
        let id = if taken { None } else { t.free_id() };
        let Some(id) = id else {
            t.used -= bytes;
            return Err(if taken { CreateError::Param("a server enclave of that name exists".into()) } else { CreateError::NoId });
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, name, SERVER_ENCLAVE, None, State::Runnable, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// Creates a shadow template from a host-built block loaded with no stack (§5.1): no
    /// kbuffer, no shm, measured; the fork skeleton added as for [`Monitor::create_shadow`];
    /// a slot of the shadow table (the cell's `eid` is the shadow eid). Resets the run
    /// counter (B1).
    pub fn adopt_shadow_block(&self, b: Block<'_>) -> Result<Arc<EnclaveCell>, CreateError> {
        let bytes = b.pages * PAGE;
        let name = b.name;
        self.reserve_or_err(bytes)?;
        let built = Self::block_enclave(b, bytes, false).and_then(|mut e| {
            let tpl = build_template(&mut e)
                .ok_or_else(|| CreateError::Limit("the shadow block has no free pages left for the fork page tables".into()))?;
            Ok((e, tpl))
        });
        let (enc, template) = self.built(built, bytes)?;
        let mut t = self.tables();
        t.eapp_args = 0;
        let Some(id) = t.free_id() else {
            t.used -= bytes;
            return Err(CreateError::NoId);
        };
        let sid = t.free_sid();
        let cell = EnclaveCell::new(sid as u32, id, name, SHADOW_ENCLAVE, None, State::Fresh, enc);
        t.shadows[sid] = Some((Arc::clone(&cell), Arc::new(Template { id, ..template })));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// Forks a FRESH instance of `template` (fid 87) for a host that gave `block_bytes` of its
    /// RAM as the instance block: those bytes count against the secure pool for the
    /// instance's life (its frames are the template's, copy-on-write).
    pub fn adopt_fork(&self, template: &EnclaveCell, p: &ForkParams, block_bytes: u64) -> Result<Arc<EnclaveCell>, CreateError> {
        self.reserve_or_err(block_bytes)?;
        let cell = match self.fork(template, p) {
            Ok(cell) => cell,
            Err(e) => {
                self.release(block_bytes);
                return Err(e);
            }
        };
        // Nobody else can hold the new instance yet.
        if let Some(e) = cell.inner.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            e.secure_bytes += block_bytes;
        }
        Ok(cell)
    }

    fn reserve_or_err(&self, bytes: u64) -> Result<(), CreateError> {
        if self.reserve(bytes) {
            return Ok(());
        }
        let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
        Err(CreateError::NoMemory { need: bytes, free })
    }

    /// `r`, giving the reserved bytes back if it is an error.
    fn built<T>(&self, r: Result<T, CreateError>, bytes: u64) -> Result<T, CreateError> {
        r.inspect_err(|_| self.release(bytes))
    }

    /// The enclave of a host-built block; `kbuffer`: map the monitor's print buffer (normal
    /// enclaves; servers and templates have none).
    fn block_enclave(b: Block<'_>, bytes: u64, kbuffer: bool) -> Result<Enclave, CreateError> {
        let full = || CreateError::Limit("the enclave block has no free pages left for page tables".into());
        let block_end = b.block_pa + bytes;
        let mut e = Enclave {
            hart: Default::default(),
            bus: b.bus,
            entry: b.entry,
            root: b.block_pa + PAGE,
            block_pa: b.block_pa,
            block_pages: b.pages,
            free_pages: b.free_mem..block_end,
            host_pa: HOST_PA,
            kbuffer_pa: 0,
            shm: None,
            relay: Vec::new(),
            mmaps: Vec::new(),
            heap: Vec::new(),
            heap_top: HEAP_BASE,
            rng: SplitMix(0),
            secure_bytes: bytes,
            persistency: None,
            user_ocalls: Vec::new(),
            pending: Pending::None,
            measurement: [0; 32],
            warnings: Vec::new(),
        };
        e.hart.prv = Priv::U;
        e.hart.host_traps = true;
        if kbuffer {
            let kb = e.try_host_alloc(KBUFFER_SIZE).ok_or_else(full)?;
            e.kbuffer_pa = kb;
            if !e.map(KBUFFER, kb, 1, PTE_DATA) {
                return Err(full());
            }
        }
        if let Some(shm) = b.shm {
            e.map_shm(shm)?;
        }
        let _ = e.hart.csr_write(SATP, (8u64 << 60) | (e.root >> 12));
        e.hart.pc = e.entry;
        e.measurement = super::measure::measure(&e.bus, e.root, e.entry, 0);
        Ok(e)
    }
}
