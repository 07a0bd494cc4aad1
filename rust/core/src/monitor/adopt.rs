//! Enclaves whose block an S-mode host built in its own RAM (the system machine's CREATE,
//! fid 99): the monitor's half of creation (§1.5) on a block the host loaded as Penglai's
//! driver does, then the same registration as [`Monitor::create`]. The caller (crate::system)
//! checked the create parameters and the block's layout and makes the block secure.
use super::consts::*;
use super::enclave::{CreateError, Enclave, Pending};
use super::rng::SplitMix;
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
        if !self.reserve(bytes) {
            let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
            return Err(CreateError::NoMemory { need: bytes, free });
        }
        let mut enc = match Self::block_enclave(b, bytes) {
            Ok(e) => e,
            Err(err) => {
                self.release(bytes);
                return Err(err);
            }
        };
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

    fn block_enclave(b: Block<'_>, bytes: u64) -> Result<Enclave, CreateError> {
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
        let kb = e.try_host_alloc(KBUFFER_SIZE).ok_or_else(full)?;
        e.kbuffer_pa = kb;
        if !e.map(KBUFFER, kb, 1, PTE_DATA) {
            return Err(full());
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
