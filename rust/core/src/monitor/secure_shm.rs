//! Secure shared memory between enclaves (docs/ipc.md, "Secure shared memory"): a segment of
//! secure pages named by an integer key that every enclave attached to it maps read-write and
//! sees change in place. OCALLs `SHM_GET` (9), `SHM_DETACH` (10), `SHM_DESTROY` (11) and the
//! calls `SHM_ATTACH` (84) and `SHM_STAT` (83).
//!
//! Model. A segment's pages are one [`SharedFrames`] allocation; each attached enclave maps it
//! through a shared window of its own bus (its own physical space, like all its memory), so a
//! store by one enclave is a store into the same host bytes another enclave reads: not a copy,
//! never copied on write. The segment's record (key, size, who is attached where, whether it is
//! being destroyed) is monitor-global, in the IPC state (its lock is never held while an enclave
//! executes). Penglai's driver would allocate the block (`size + 4096` rounded up to a power of
//! two of pages, the first page holding the monitor's attachment table); pltvm's modelled driver
//! serves that itself, so `SHM_GET` does not leave the enclave. The whole block is charged to the
//! secure pool while the segment exists.
//!
//! Lifetime. The reference count is the number of attached enclaves (the creator is attached by
//! `SHM_GET`). `SHM_DESTROY` marks a segment; a marked segment is freed when its last user
//! detaches or is destroyed (at once if nobody is attached), and until then can be neither
//! attached nor created again. An enclave that ends (exit, fault, destroy) is detached from every
//! segment; an unmarked segment outlives its users (an enclave may attach it later), as a
//! segment keyed by name does in Penglai.
use super::consts::*;
use super::enclave::Enclave;
use super::pt;
use super::Monitor;
use crate::shared_mem::SharedFrames;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Secure shm is mapped downward from here (the first segment ends at it).
pub const SECURE_SHM_TOP: u64 = 0x40_0000_0000;
const MINUS_ONE: u64 = u64::MAX;

/// Where one enclave maps a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct User {
    /// Monitor eid.
    eid: u32,
    va: u64,
    /// Start of the window in that enclave's physical space.
    pa: u64,
}

struct Segment {
    frames: Arc<SharedFrames>,
    /// Bytes charged to the secure pool: the driver's whole block.
    block: u64,
    users: Vec<User>,
    destroying: bool,
}

/// Every secure shm segment of a monitor, by key.
#[derive(Default)]
pub(super) struct Registry {
    segs: BTreeMap<u64, Segment>,
}

/// A segment as the host sees it (tests, introspection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShmInfo {
    pub key: u64,
    /// Bytes mapped in each attached enclave (what `SHM_STAT` reports as the size).
    pub size: u64,
    /// Monitor eids of the attached enclaves and their VAs, in attach order.
    pub users: Vec<(u32, u64)>,
    pub destroying: bool,
    /// Bytes charged to the secure pool.
    pub block: u64,
}

/// Pages of the block the driver allocates for `size` bytes (+1 metadata page), as for mmap:
/// `2^ceil(log2(size / 4096 + 1))`. `None` for a size that is 0, unaligned or absurd.
fn block_pages(size: u64) -> Option<u64> {
    if size == 0 || size % PAGE != 0 {
        return None;
    }
    let pages = (size / PAGE + 1).checked_next_power_of_two()?;
    pages.checked_mul(PAGE)?;
    Some(pages)
}

/// Where `pages` pages of a segment go in `e`: just below its lowest segment (`lowest`, or
/// [`SECURE_SHM_TOP`]), above its host shm, with the page tables the mapping needs available.
/// `None` if they do not fit. Looked at before anything is allocated.
fn place(e: &mut Enclave, lowest: u64, pages: u64) -> Option<u64> {
    let va = lowest.checked_sub(pages.checked_mul(PAGE)?)?;
    let floor = SHM_BASE + e.shm.map_or(0, |(_, size)| size);
    if va < floor || pt::tables_needed(&mut e.bus, e.root, va, pages) > e.free_table_pages() {
        return None;
    }
    Some(va)
}

/// Maps `frames` into `e` where [`place`] says. Everything that can fail is checked first;
/// `None` changes nothing.
fn map_into(e: &mut Enclave, frames: &Arc<SharedFrames>, lowest: u64) -> Option<(u64, u64)> {
    let bytes = frames.bytes();
    let va = place(e, lowest, frames.pages())?;
    // A free range of the enclave's physical space, then made a shared window instead of RAM.
    let pa = e.try_host_alloc(bytes)?;
    e.bus.remove_ram(pa, pa + bytes);
    let windowed = e.bus.map_shared(pa, Arc::clone(frames));
    debug_assert!(windowed, "the range was just free RAM");
    let mapped = e.map(va, pa, frames.pages(), PTE_DATA);
    debug_assert!(mapped, "tables were counted");
    Some((va, pa))
}

/// Unmaps a segment from `e` and closes its window; nothing of `e` points at the frames after.
fn unmap_from(e: &mut Enclave, u: User, pages: u64) {
    e.unmap(u.va, pages);
    e.bus.unmap_shared(u.pa);
    e.hart.host_unmapped(u.pa, u.pa + pages * PAGE);
}

impl Registry {
    /// The lowest VA at which `eid` maps a segment, or [`SECURE_SHM_TOP`].
    fn lowest(&self, eid: u32) -> u64 {
        self.segs.values().flat_map(|s| &s.users).filter(|u| u.eid == eid).map(|u| u.va).min().unwrap_or(SECURE_SHM_TOP)
    }

    /// Frees `key` if it is marked and nobody is attached: the pool bytes to give back.
    fn reap(&mut self, key: u64) -> u64 {
        match self.segs.get(&key) {
            Some(s) if s.destroying && s.users.is_empty() => self.segs.remove(&key).map_or(0, |s| s.block),
            _ => 0,
        }
    }
}

impl Monitor {
    /// `OCALL_SHM_GET(key, size)`: a new segment of at least `size` bytes mapped in `e`, its VA;
    /// -1 for a size that is 0, unaligned or larger than the pool, a key in use, or no room
    /// (pool, address space, page tables).
    pub(super) fn shm_get(&self, e: &mut Enclave, eid: u32, key: u64, size: u64) -> u64 {
        let Some(pages) = block_pages(size) else { return MINUS_ONE };
        let block = pages * PAGE;
        if block > self.config.secure_memory {
            return MINUS_ONE;
        }
        // The key and the room in `e` first: a refused request allocates nothing. (Only this
        // thread changes where `e` maps segments, so the place stays valid below.)
        let lowest = {
            let ipc = self.ipc();
            if ipc.shm.segs.contains_key(&key) {
                return MINUS_ONE;
            }
            ipc.shm.lowest(eid)
        };
        if place(e, lowest, pages - 1).is_none() || !self.reserve(block) {
            return MINUS_ONE;
        }
        let Some(frames) = SharedFrames::new(pages - 1) else {
            self.release(block);
            return MINUS_ONE;
        };
        let mut ipc = self.ipc();
        let reg = &mut ipc.shm;
        // Checked again: another thread may have made the key since.
        let placed = if reg.segs.contains_key(&key) { None } else { map_into(e, &frames, reg.lowest(eid)) };
        let Some((va, pa)) = placed else {
            drop(ipc);
            self.release(block);
            return MINUS_ONE;
        };
        reg.segs.insert(key, Segment { frames, block, users: vec![User { eid, va, pa }], destroying: false });
        va
    }

    /// `SHM_ATTACH(key)` (84): the segment's VA in `e` (the one it has if already attached); 0
    /// if the key is unknown or marked for destruction, or there is no room to map it.
    pub(super) fn shm_attach(&self, e: &mut Enclave, eid: u32, key: u64) -> u64 {
        let mut ipc = self.ipc();
        let lowest = ipc.shm.lowest(eid);
        let Some(seg) = ipc.shm.segs.get_mut(&key) else { return 0 };
        if seg.destroying {
            return 0;
        }
        if let Some(u) = seg.users.iter().find(|u| u.eid == eid) {
            return u.va;
        }
        match map_into(e, &seg.frames, lowest) {
            Some((va, pa)) => {
                seg.users.push(User { eid, va, pa });
                va
            }
            None => 0,
        }
    }

    /// `OCALL_SHM_DETACH(key)`: unmaps the segment from `e`, 0; frees it if it was marked and
    /// `e` was its last user. -1 if `e` is not attached to `key`.
    pub(super) fn shm_detach(&self, e: &mut Enclave, eid: u32, key: u64) -> u64 {
        let mut ipc = self.ipc();
        let Some(seg) = ipc.shm.segs.get_mut(&key) else { return MINUS_ONE };
        let Some(i) = seg.users.iter().position(|u| u.eid == eid) else { return MINUS_ONE };
        let u = seg.users.remove(i);
        unmap_from(e, u, seg.frames.pages());
        let freed = ipc.shm.reap(key);
        drop(ipc);
        self.release(freed);
        0
    }

    /// `OCALL_SHM_DESTROY(key)`: marks the segment (freed now if nobody is attached, else when
    /// the last user goes). Always 0, also for an unknown key.
    pub(super) fn shm_destroy(&self, key: u64) -> u64 {
        let mut ipc = self.ipc();
        if let Some(seg) = ipc.shm.segs.get_mut(&key) {
            seg.destroying = true;
        }
        let freed = ipc.shm.reap(key);
        drop(ipc);
        self.release(freed);
        0
    }

    /// `SHM_STAT(key, va)` (83): writes `{u64 ref_count; u64 size}` at `va`, 0; -1 if the key is
    /// unknown or any byte at `va` is unmapped (nothing written).
    pub(super) fn shm_stat(&self, e: &mut Enclave, key: u64, va: u64) -> u64 {
        let stat = {
            let ipc = self.ipc();
            let Some(seg) = ipc.shm.segs.get(&key) else { return MINUS_ONE };
            (seg.users.len() as u64, seg.frames.bytes())
        };
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&stat.0.to_le_bytes());
        b[8..].copy_from_slice(&stat.1.to_le_bytes());
        if e.write_va(va, &b) { 0 } else { MINUS_ONE }
    }

    /// The enclave `eid` ends: it is detached from every segment (marked ones whose last user
    /// it was are freed). Costs one branch for an enclave that never attached one.
    pub(super) fn shm_release_all(&self, eid: u32, e: &mut Enclave) {
        if !e.bus.has_shared() {
            return;
        }
        let mut freed = 0;
        let mut ipc = self.ipc();
        let keys: Vec<u64> = ipc.shm.segs.iter().filter(|(_, s)| s.users.iter().any(|u| u.eid == eid)).map(|(k, _)| *k).collect();
        for key in keys {
            let seg = ipc.shm.segs.get_mut(&key).expect("listed");
            let i = seg.users.iter().position(|u| u.eid == eid).expect("listed");
            let u = seg.users.remove(i);
            // The page tables go with the enclave; only the window (the frames' reference).
            e.bus.unmap_shared(u.pa);
            freed += ipc.shm.reap(key);
        }
        drop(ipc);
        e.hart.flush_tlb();
        self.release(freed);
    }

    /// Every secure shm segment, by key.
    pub fn secure_shm(&self) -> Vec<ShmInfo> {
        let ipc = self.ipc();
        ipc.shm
            .segs
            .iter()
            .map(|(&key, s)| ShmInfo {
                key,
                size: s.frames.bytes(),
                users: s.users.iter().map(|u| (u.eid, u.va)).collect(),
                destroying: s.destroying,
                block: s.block,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
