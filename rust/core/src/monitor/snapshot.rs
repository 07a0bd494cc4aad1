//! Snapshots (beyond Penglai): an enclave paused in a host OCALL made a shadow template whose
//! forks resume from that OCALL. Used by the fuzzer's deferred snapshot (`pl_fuzz_input`, the
//! [`FUZZ_INPUT`] OCALL): the enclave initialises once, pauses, and every input then runs in a
//! copy-on-write fork of the paused state.
//!
//! What a snapshot is:
//! - Its memory is the source's physical memory at the snapshot (one `Arc` clone, as for a
//!   fork): image, stack, kbuffer, shm, heap and mmap blocks, page tables. The source keeps
//!   running (or is destroyed) without affecting it, and its forks never see each other's
//!   writes or the source's later ones.
//! - Its forks are born RUNNABLE (not FRESH): they continue at the instruction after the
//!   OCALL's `ecall`, with the source's registers and `a0` = the value chosen at the snapshot
//!   (what the OCALL returns in every fork). Run them with [`Entry::Continue`](super::Entry).
//! - The host shm stays mapped where it was; a fork given shm contents must give exactly the
//!   snapshot's shm size (they replace the contents, as the host writing its shm before a run).
//! - Measurement: a snapshot is *not* the measured enclave. Its stored measurement is a fresh
//!   §6.1 measurement of the paused address space (everything mapped, nonce 0: what the
//!   enclave's own `get_report(0, …)` would see at that moment), so host attestation of the
//!   snapshot or of its forks, and keys derived in its forks, never claim the original
//!   measurement once memory changed.
//! - Accounting: the snapshot template holds its block and the source's heap/mmap blocks
//!   from the secure pool; each fork is charged its inherited heap/mmap blocks (it may free
//!   them), not the image it shares.
//!
//! Refused (typed [`SnapshotError`]s, nothing changed): an enclave that is not paused in a
//! host OCALL (fresh, running, stopped, runnable after a budget, paused in a relay-page
//! return), a destroyed one, one that holds relay regions (they are the host's pages, lent to
//! one named enclave), one attached to secure shm (its forks would share the segment), a template
//! itself.
use super::consts::*;
use super::enclave::{CreateError, Enclave, Pending, Region};
use super::rng::SplitMix;
use super::shadow::{ForkParams, Template};
use super::{EnclaveCell, Monitor, State};
use crate::bus::Bus;
use crate::hart::csr::CsrFile;
use crate::hart::fpu::FpState;
use crate::hart::{Hart, Priv};
use std::sync::{Arc, Mutex};

/// The OCALL of the guest SDK's `pl_fuzz_input` (a pltvm extension, see `consts::ocall`).
pub const FUZZ_INPUT: u64 = super::consts::ocall::PL_FUZZ_INPUT;

/// What a snapshot's forks start from besides its memory.
pub struct Resume {
    x: [u64; 32],
    pc: u64,
    csr: CsrFile,
    fp: FpState,
    retired: u64,
    mtime: u64,
    misaligned_trap: bool,
    shm: Option<(u64, u64)>,
    host_pa: u64,
    mmaps: Vec<Region>,
    heap: Vec<Region>,
    heap_top: u64,
    user_ocalls: Vec<u64>,
    warnings: Vec<String>,
    /// Secure bytes of the inherited heap and mmap blocks (charged to each fork).
    blocks: u64,
    /// Driver id of the enclave the snapshot was taken of.
    pub source: u32,
}

impl Resume {
    /// The pc forks resume at (after the OCALL's `ecall`).
    pub fn pc(&self) -> u64 {
        self.pc
    }

    /// The host shm (PA, size) forks inherit.
    pub fn shm(&self) -> Option<(u64, u64)> {
        self.shm
    }
}

/// Why a snapshot was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// The enclave is not paused in a host OCALL (the message says what it is).
    State(String),
    /// Another thread holds the enclave.
    Busy,
    /// The enclave no longer exists.
    Gone,
    /// The enclave cannot be snapshotted as it is (relay regions, ...).
    Refused(String),
    /// The pool or the id space cannot hold the new template.
    Create(CreateError),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::State(m) | SnapshotError::Refused(m) => f.write_str(m),
            SnapshotError::Busy => f.write_str("the enclave is being used by another thread"),
            SnapshotError::Gone => f.write_str("the enclave no longer exists"),
            SnapshotError::Create(e) => write!(f, "{e}"),
        }
    }
}

/// What the snapshot's forks get: `a0` after the OCALL, and optionally new shm contents for the
/// snapshot (the host's view of its shm, which it may have written during the OCALL).
#[derive(Clone, Debug, Default)]
pub struct SnapshotParams {
    pub name: [u8; 16],
    /// The OCALL's return value in every fork (`a0`).
    pub ocall_result: u64,
    /// Replaces the shm contents of the snapshot (exactly the shm's size).
    pub shm: Option<Vec<u8>>,
    /// The OCALL ids forks hand to their host (None: the source's).
    pub user_ocalls: Option<Vec<u64>>,
}

/// Secure bytes of heap and mmap blocks.
fn block_bytes(e: &Enclave) -> u64 {
    e.mmaps.iter().chain(&e.heap).map(|r| r.pages * PAGE).sum()
}

/// Writes `data` over the shm at `pa` page by page, skipping pages that already hold those
/// bytes (a fuzz input of a few bytes in a large shm copies one frame, not all of them).
fn write_shm(hart: &mut Hart, bus: &mut Bus, pa: u64, data: &[u8]) {
    for (i, page) in data.chunks(PAGE as usize).enumerate() {
        let at = pa + i as u64 * PAGE;
        let same = match bus.mem.get(at >> 12) {
            Some(f) => f[..] == *page,
            None => page.iter().all(|&b| b == 0),
        };
        if same {
            continue;
        }
        hart.host_write(bus, at, page);
    }
}

impl Monitor {
    /// Makes an enclave paused in a host OCALL (state OCALLING, waiting for the host's answer)
    /// a shadow template whose forks resume from that OCALL (see the module comment). The
    /// source is left as it was: answer its OCALL, run it on, or destroy it.
    pub fn snapshot(&self, cell: &Arc<EnclaveCell>, p: &SnapshotParams) -> Result<Arc<EnclaveCell>, SnapshotError> {
        let user_ocalls = |e: &Enclave| p.user_ocalls.clone().unwrap_or_else(|| e.user_ocalls.clone());
        let (enc, resume, reserve) = {
            // The control block is held while the source is copied: no run, stop or destroy
            // can start meanwhile. The machine state is only tried (a run holds it while it
            // takes the control block).
            let c = cell.ctl.lock().unwrap();
            if cell.kind == SHADOW_ENCLAVE {
                return Err(SnapshotError::State("a shadow template cannot be snapshotted (fork it first)".into()));
            }
            match c.state {
                State::Ocalling if !c.runner => {}
                State::Invalid | State::Destroyed => return Err(SnapshotError::Gone),
                s => {
                    return Err(SnapshotError::State(format!(
                        "the enclave is {}; only an enclave paused in a host OCALL can be snapshotted",
                        s.name()
                    )))
                }
            }
            let mut g = match cell.try_inner() {
                Ok(g) => g,
                Err(true) => return Err(SnapshotError::Busy),
                Err(false) => return Err(SnapshotError::Gone),
            };
            let e = g.as_mut().expect("present");
            if e.pending != Pending::User {
                return Err(SnapshotError::State(
                    "the enclave is paused in a relay-page return, not a host OCALL; only a host OCALL can be snapshotted".into(),
                ));
            }
            if !e.relay.is_empty() {
                return Err(SnapshotError::Refused(format!(
                    "the enclave holds {} relay region(s): relay pages are lent to one enclave and cannot be copied",
                    e.relay.len()
                )));
            }
            if e.bus.has_shared() {
                return Err(SnapshotError::Refused(
                    "the enclave is attached to secure shm: forks would share one segment with the source and each other \
                     (not independent copies); detach it before the snapshot"
                        .into(),
                ));
            }
            let mut bus = Bus::default();
            bus.mem = e.bus.mem.clone();
            for &(s, end) in e.bus.ram_regions() {
                bus.add_ram(s, end);
            }
            if let Some(data) = &p.shm {
                let Some((pa, size)) = e.shm else {
                    return Err(SnapshotError::Refused("shm: the enclave has no shm".into()));
                };
                if data.len() as u64 != size {
                    return Err(SnapshotError::Refused(format!(
                        "shm: the enclave's shm is {size:#x} bytes, the contents given are {:#x}",
                        data.len()
                    )));
                }
                let mut scratch = Hart::default();
                write_shm(&mut scratch, &mut bus, pa, data);
            }
            let h = &e.hart;
            let mut x = h.x;
            x[10] = p.ocall_result;
            let resume = Resume {
                x,
                pc: h.pc,
                csr: h.csr.clone(),
                fp: h.fp.clone(),
                retired: h.retired,
                mtime: h.mtime(),
                misaligned_trap: h.misaligned_trap,
                shm: e.shm,
                host_pa: e.host_pa,
                mmaps: e.mmaps.clone(),
                heap: e.heap.clone(),
                heap_top: e.heap_top,
                user_ocalls: user_ocalls(e),
                warnings: e.warnings.clone(),
                blocks: block_bytes(e),
                source: cell.id,
            };
            let measurement = super::measure::measure(&bus, e.root, e.entry, 0);
            let reserve = e.block_pages * PAGE + resume.blocks;
            let enc = Enclave {
                hart: Box::default(),
                bus,
                entry: e.entry,
                root: e.root,
                block_pa: e.block_pa,
                block_pages: e.block_pages,
                free_pages: e.free_pages.clone(),
                host_pa: e.host_pa,
                kbuffer_pa: e.kbuffer_pa,
                shm: e.shm,
                relay: Vec::new(),
                mmaps: e.mmaps.clone(),
                heap: e.heap.clone(),
                heap_top: e.heap_top,
                rng: SplitMix(0),
                secure_bytes: reserve,
                persistency: None,
                user_ocalls: user_ocalls(e),
                pending: Pending::None,
                measurement,
                warnings: e.warnings.clone(),
            };
            (enc, resume, reserve)
        };
        if !self.reserve(reserve) {
            let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
            return Err(SnapshotError::Create(CreateError::NoMemory { need: reserve, free }));
        }
        let template = Template {
            mem: enc.bus.mem.clone(),
            regions: enc.bus.ram_regions().to_vec(),
            entry: enc.entry,
            root: enc.root,
            kbuffer_pa: enc.kbuffer_pa,
            block_pa: enc.block_pa,
            block_pages: enc.block_pages,
            free_pages: enc.free_pages.clone(),
            measurement: enc.measurement,
            id: 0,
            spare: Mutex::new(Vec::new()),
            resume: Some(Arc::new(resume)),
        };
        let mut t = self.tables();
        let Some(id) = t.free_id() else {
            t.used = t.used.saturating_sub(reserve);
            return Err(SnapshotError::Create(CreateError::NoId));
        };
        let sid = t.free_sid();
        let snap = EnclaveCell::new(sid as u32, id, p.name, SHADOW_ENCLAVE, None, State::Fresh, enc);
        t.shadows[sid] = Some((Arc::clone(&snap), Arc::new(Template { id, ..template })));
        t.ids.insert(id, Arc::clone(&snap));
        Ok(snap)
    }

    /// A fork of a snapshot template (called by `fork_with` for templates with a
    /// [`Resume`]): RUNNABLE, at the snapshot's pc and registers, charged its inherited blocks.
    pub(super) fn fork_snapshot(
        &self,
        template: &EnclaveCell,
        tpl: &Template,
        r: &Resume,
        p: &ForkParams,
        hart: Option<Box<Hart>>,
    ) -> Result<Arc<EnclaveCell>, CreateError> {
        let shm = match (&p.shm, r.shm) {
            (None, _) => None,
            (Some(data), Some((pa, size))) if data.len() as u64 == size => Some((pa, data)),
            (Some(data), Some((_, size))) => {
                return Err(CreateError::Limit(format!(
                    "shm of {:#x} bytes: a fork of this snapshot has the snapshot's shm of {size:#x} bytes",
                    data.len()
                )))
            }
            (Some(_), None) => {
                return Err(CreateError::Param("shm: the snapshot has no shm, so its forks cannot be given one".into()))
            }
        };
        let mut hart = hart.unwrap_or_default();
        hart.reset_keeping_code();
        hart.x = r.x;
        hart.pc = r.pc;
        hart.csr = r.csr.clone();
        hart.fp = r.fp.clone();
        hart.retired = r.retired;
        hart.set_mtime(r.mtime);
        hart.misaligned_trap = r.misaligned_trap;
        hart.prv = Priv::U;
        hart.host_traps = true;
        hart.flush_translation();
        let mut bus = Bus::default();
        bus.mem = tpl.mem.clone();
        for &(s, e) in &tpl.regions {
            bus.add_ram(s, e);
        }
        if let Some((pa, data)) = shm {
            write_shm(&mut hart, &mut bus, pa, data);
        }
        if r.blocks > 0 && !self.reserve(r.blocks) {
            let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
            return Err(CreateError::NoMemory { need: r.blocks, free });
        }
        let mut enc = Enclave {
            hart,
            bus,
            entry: tpl.entry,
            root: tpl.root,
            block_pa: tpl.block_pa,
            block_pages: tpl.block_pages,
            free_pages: tpl.free_pages.clone(),
            host_pa: r.host_pa,
            kbuffer_pa: tpl.kbuffer_pa,
            shm: r.shm,
            relay: Vec::new(),
            mmaps: r.mmaps.clone(),
            heap: r.heap.clone(),
            heap_top: r.heap_top,
            rng: SplitMix(0),
            secure_bytes: r.blocks,
            persistency: p.persistency.clone(),
            user_ocalls: r.user_ocalls.clone(),
            pending: Pending::None,
            measurement: tpl.measurement,
            warnings: r.warnings.clone(),
        };
        let mut t = self.tables();
        let Some(id) = t.free_id() else {
            t.used = t.used.saturating_sub(r.blocks);
            return Err(CreateError::NoId);
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, p.name, NORMAL_ENCLAVE, Some(template.id), State::Runnable, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// The resume record of a live snapshot template (None for other cells).
    pub fn snapshot_of(&self, cell: &EnclaveCell) -> Option<Arc<Resume>> {
        self.template(cell).and_then(|t| t.resume.clone())
    }
}

#[cfg(test)]
mod tests;
