//! Shadow enclaves (templates, fid 86, §5.1) and fork (`run_shadow_enclave`, fid 87, §5.2) with
//! copy-on-write instead of Penglai's eager copy.
//!
//! A template is built like a normal enclave with no stack, no kbuffer and no shm, and measured
//! (image only). Then, once, a *fork skeleton* is added to the template's physical memory
//! beside the measured tables: a second root page (a copy of the template root) whose extra
//! entries map a 64 KiB stack and a kbuffer at fixed physical addresses, and empty tables for
//! the relay (`0x38_0000_0000`) and shm (`0x39_0000_0000`) areas. The template's own root, and
//! so its measurement, are untouched; the stack and kbuffer frames are absent (they read as
//! zero and cost nothing until written).
//!
//! Forking clones the template's [`PhysMem`] (one `Arc`), gives the instance a fresh hart with
//! `satp` on the skeleton root, and maps the instance's shm. Every frame stays shared until the
//! instance writes it; the first write copies that frame alone (and the radix-tree nodes above
//! it). What the instance can observe — memory contents at every VA, registers, its
//! measurement (the template's hash, B36) — is what Penglai's eager copy gives it; only the
//! physical addresses differ, and enclaves cannot see those. Because nothing is copied, an
//! image of any size can be forked (B35).
//!
//! Locking: the monitor lock is taken twice per fork, each time only for table bookkeeping
//! (find the template recipe; insert the instance). Destroying a template while instances
//! live is safe: instances hold their own references to the frames.
use super::consts::*;
use super::enclave::{CreateError, CreateParams, Enclave, Pending};
use super::pt;
use super::rng::SplitMix;
use super::run::{BufferHost, Entry, Host, RunExit, RunOutcome, RunRequest};
use super::{EnclaveCell, Monitor, State, Tables};
use crate::bus::Bus;
use crate::hart::csr::num::SATP;
use crate::hart::{Hart, Priv};
use crate::mem::PhysMem;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Everything a fork needs, immutable once built and shared by every fork of one template.
pub struct Template {
    /// The template's physical memory with the fork skeleton.
    pub mem: PhysMem,
    pub regions: Vec<(u64, u64)>,
    pub entry: u64,
    /// Root of the instances' page table (the skeleton root).
    pub root: u64,
    /// PA of the instances' kbuffer page (its stack is the 16 pages below it).
    pub kbuffer_pa: u64,
    pub block_pa: u64,
    pub block_pages: u64,
    /// The monitor's free list left for an instance's own page tables.
    pub free_pages: std::ops::Range<u64>,
    pub measurement: [u8; 32],
    /// Driver id of the template.
    pub id: u32,
    /// Harts of destroyed instances, their decoded code scrubbed as in [`dispose`], for the
    /// next forks: an instance run from Python one at a time then does not decode again what
    /// every instance executes (the batch API has its own per-thread [`Recycler`]).
    pub(super) spare: Mutex<Vec<Box<Hart>>>,
    /// A snapshot (snapshot.rs): its forks resume from a paused OCALL instead of the entry.
    pub resume: Option<Arc<super::snapshot::Resume>>,
}

/// Spare harts a template keeps: one per thread that forks from it concurrently is what
/// matters; more would only hold decoded code.
const SPARE_HARTS: usize = 4;

impl Template {
    fn take_spare(&self) -> Option<Box<Hart>> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }
}

/// What a fork gets from the host at run time (§5.2 `shadow_enclave_run_param`).
#[derive(Clone, Debug, Default)]
pub struct ForkParams {
    pub name: [u8; 16],
    /// Host shm contents (non-zero multiple of 4096 bytes), mapped at `0x39_0000_0000`.
    pub shm: Option<Vec<u8>>,
    pub persistency: Option<PathBuf>,
}

/// Frame accounting of the live enclaves (`Monitor::stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live normal enclaves and fork instances.
    pub enclaves: usize,
    /// Of these, fork instances.
    pub instances: usize,
    pub templates: usize,
    /// Enclaves being run by a thread at the moment (not counted in the frame figures).
    pub busy: usize,
    /// Frames owned by exactly one enclave or instance.
    pub frames_private: usize,
    /// Frames that instances share with their template or siblings, counted once per instance.
    pub frames_shared: usize,
    /// Frames held by templates (shared with their instances).
    pub frames_template: usize,
}

/// (private, shared) frames of one enclave's physical memory.
pub fn frame_counts(bus: &Bus) -> (usize, usize) {
    let (mut private, mut shared) = (0, 0);
    for &(s, e) in bus.ram_regions() {
        for ppn in s >> 12..e >> 12 {
            if bus.mem.get(ppn).is_some() {
                if bus.mem.is_shared(ppn) {
                    shared += 1;
                } else {
                    private += 1;
                }
            }
        }
    }
    (private, shared)
}

/// Takes a zeroed page from a free list (for page tables).
fn take(free: &mut std::ops::Range<u64>, bus: &mut Bus) -> Option<u64> {
    let pa = free.start;
    if pa >= free.end {
        return None;
    }
    free.start += PAGE;
    bus.write(pa, &[0u8; PAGE as usize]).then_some(pa)
}

/// Adds the fork skeleton to a freshly built template (see the module comment).
pub(super) fn build_template(e: &mut Enclave) -> Option<Template> {
    let mut free = e.free_pages.clone();
    let bus = &mut e.bus;
    // The stack and kbuffer frames sit right after the block (a power of two of at least 512
    // pages, so this starts a leaf of the frame tree of their own, under the same upper nodes
    // as the image): they stay absent, i.e. zero, until an instance writes them, and the first
    // stack write copies a near-empty tree leaf instead of the image's.
    let stack_pa = e.block_pa + e.block_pages * PAGE;
    let kbuffer_pa = stack_pa + DEFAULT_STACK_SIZE;
    bus.add_ram(stack_pa, kbuffer_pa + KBUFFER_SIZE);
    let root = take(&mut free, bus)?;
    let mut table = vec![0u8; PAGE as usize];
    if !bus.read(e.root, &mut table) || !bus.write(root, &table) {
        return None;
    }
    let mut alloc = |bus: &mut Bus| take(&mut free, bus);
    let stack_pages = DEFAULT_STACK_SIZE / PAGE;
    if !pt::map_range(bus, root, STACK_BASE - DEFAULT_STACK_SIZE, stack_pa, stack_pages, PTE_DATA, &mut alloc)
        || !pt::map_range(bus, root, KBUFFER, kbuffer_pa, 1, PTE_DATA, &mut alloc)
    {
        return None;
    }
    // Empty tables for the relay and shm areas, so mapping them later copies one table page.
    pt::walk_create(bus, root, MM_ARG_BASE, &mut alloc)?;
    pt::walk_create(bus, root, SHM_BASE, &mut alloc)?;
    Some(Template {
        id: 0,
        mem: bus.mem.clone(),
        regions: bus.ram_regions().to_vec(),
        entry: e.entry,
        root,
        kbuffer_pa,
        block_pa: e.block_pa,
        block_pages: e.block_pages,
        free_pages: free,
        measurement: e.measurement,
        spare: Mutex::new(Vec::new()),
        resume: None,
    })
}

/// The live template a freed instance can leave its hart to (for [`dispose`]): none if its
/// template is gone. An instance that never ran leaves its hart too: it has no decoded code to
/// pass on, but a hart is a box (moving it costs a pointer), and the next fork then resets a
/// few fields instead of allocating and zeroing a new hart with its TLB (and the destroy frees
/// none of it): about a third of a fork + destroy.
pub(super) fn spare_home(t: &Tables, cell: &EnclaveCell) -> Option<Arc<Template>> {
    let tcell = t.ids.get(&cell.shadow_of?)?;
    match t.shadows.get(tcell.eid as usize) {
        Some(Some((c, tpl))) if Arc::ptr_eq(c, tcell) => Some(Arc::clone(tpl)),
        _ => None,
    }
}

/// Clears a template's slot in the shadow table (on destroy).
pub(super) fn free_slot(t: &mut Tables, cell: &EnclaveCell) {
    if let Some(slot) = t.shadows.get_mut(cell.eid as usize) {
        if slot.as_ref().is_some_and(|(c, _)| std::ptr::eq(&**c, cell)) {
            *slot = None;
        }
    }
    if t.ids.get(&cell.id).is_some_and(|c| std::ptr::eq(&**c, cell)) {
        t.ids.remove(&cell.id);
    }
}

impl Monitor {
    /// Creates a shadow template (driver CREATE with `SHADOW_ENCLAVE` + monitor fid 86): the ELF
    /// loaded with no stack, no kbuffer and no shm, measured, in the shadow table; its driver id
    /// is what the host sees in `user_param.eid`. Resets the run counter (B1).
    pub fn create_shadow(&self, elf_bytes: &[u8], p: &CreateParams) -> Result<Arc<EnclaveCell>, CreateError> {
        self.tables().eapp_args = 0;
        self.create_shadow_copy(elf_bytes, p)
    }

    /// [`Monitor::create_shadow`] without resetting the run counter: a private copy of a
    /// template (same ELF, so the same image, layout and measurement, but no frame or tree
    /// node in common) for one thread that forks from it all the time, e.g. a fuzzing job.
    /// Forks of a shared template bump reference counts in the template's tree, which then
    /// move between the cores of the threads forking it.
    pub fn create_shadow_copy(&self, elf_bytes: &[u8], p: &CreateParams) -> Result<Arc<EnclaveCell>, CreateError> {
        let info = super::enclave::parse(elf_bytes)?;
        let pages = super::enclave::block_pages(&info, 0)?;
        let bytes = pages * PAGE;
        if !self.reserve(bytes) {
            let free = self.config.secure_memory.saturating_sub(self.secure_memory_used());
            return Err(CreateError::NoMemory { need: bytes, free });
        }
        let params = CreateParams { name: p.name, kind: SHADOW_ENCLAVE, stack_size: 0, shm: None, persistency: None };
        let built = Enclave::build(elf_bytes, &info, &params, pages).and_then(|mut e| {
            let t = build_template(&mut e)
                .ok_or_else(|| CreateError::Elf("the enclave block is too small for the fork page tables".into()))?;
            Ok((e, t))
        });
        let (enc, template) = match built {
            Ok(x) => x,
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
        let sid = t.free_sid();
        let cell = EnclaveCell::new(sid as u32, id, p.name, SHADOW_ENCLAVE, None, State::Fresh, enc);
        t.shadows[sid] = Some((Arc::clone(&cell), Arc::new(Template { id, ..template })));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// The fork recipe of a live template.
    pub fn template(&self, cell: &EnclaveCell) -> Option<Arc<Template>> {
        if cell.kind != SHADOW_ENCLAVE {
            return None;
        }
        let t = self.tables();
        match t.shadows.get(cell.eid as usize) {
            Some(Some((c, tpl))) if std::ptr::eq(&**c, cell) => Some(Arc::clone(tpl)),
            _ => None,
        }
    }

    /// Forks a FRESH instance of a template (fid 87 up to, not including, entering it): its own
    /// monitor eid and driver id, a fresh zero 64 KiB stack, its own kbuffer, the given shm;
    /// memory shared copy-on-write with the template. Run it with `Entry::Start` (which maps the
    /// relay region and sets the entry registers, `a2` = run counter mod 5).
    pub fn fork(&self, template: &EnclaveCell, p: &ForkParams) -> Result<Arc<EnclaveCell>, CreateError> {
        self.fork_with(template, p, None)
    }

    fn fork_with(&self, template: &EnclaveCell, p: &ForkParams, hart: Option<Box<Hart>>) -> Result<Arc<EnclaveCell>, CreateError> {
        let Some(tpl) = self.template(template) else {
            return Err(CreateError::Param("not a live shadow enclave".into()));
        };
        self.fork_from(template, tpl, p, hart)
    }

    /// [`Monitor::fork_with`] with the template's recipe already looked up (in this same call:
    /// a template destroyed since then must not be forked from).
    fn fork_from(&self, template: &EnclaveCell, tpl: Arc<Template>, p: &ForkParams, hart: Option<Box<Hart>>) -> Result<Arc<EnclaveCell>, CreateError> {
        let hart = hart.or_else(|| tpl.take_spare());
        if let Some(r) = &tpl.resume {
            return self.fork_snapshot(template, &tpl, r, p, hart);
        }
        let mut enc = instantiate_with(&tpl, p, hart)?;
        let mut t = self.tables();
        let Some(id) = t.free_id() else {
            return Err(CreateError::NoId);
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, p.name, NORMAL_ENCLAVE, Some(template.id), State::Fresh, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// [`Monitor::destroy`] of a normal enclave or instance that no thread is running, at
    /// once; `None` (nothing done) if a thread runs it, another thread holds its state, or it
    /// is of another kind. For callers that must not wait: a binding that holds Python's GIL,
    /// which the running thread may need before its run can end.
    pub fn destroy_idle(&self, cell: &EnclaveCell) -> Option<i32> {
        let mut c = cell.ctl.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(c.state, State::Invalid | State::Destroyed) {
            return Some(-1);
        }
        if c.runner || cell.kind != NORMAL_ENCLAVE {
            return None;
        }
        // Never blocks: with the control lock held, a run cannot start meanwhile.
        let Ok(mut g) = cell.inner.try_lock() else { return None };
        c.state = State::Invalid;
        drop(c);
        let enc = g.take();
        drop(g);
        if let Some(enc) = enc {
            self.free(cell, enc);
        }
        Some(0)
    }

    /// Frame accounting over every live enclave and template.
    pub fn stats(&self) -> Stats {
        let (cells, templates): (Vec<Arc<EnclaveCell>>, Vec<Arc<Template>>) = {
            let t = self.tables();
            (t.eids.iter().flatten().cloned().collect(), t.shadows.iter().flatten().map(|(_, tpl)| Arc::clone(tpl)).collect())
        };
        let mut s = Stats { templates: templates.len(), ..Stats::default() };
        for tpl in &templates {
            s.frames_template += tpl.mem.frames();
        }
        for cell in cells {
            s.enclaves += 1;
            if cell.shadow_of.is_some() {
                s.instances += 1;
            }
            match cell.try_inner() {
                Ok(g) => {
                    let (private, shared) = frame_counts(&g.as_ref().expect("present").bus);
                    s.frames_private += private;
                    s.frames_shared += shared;
                }
                Err(true) => s.busy += 1,
                Err(false) => s.enclaves -= 1,
            }
        }
        s
    }

    /// Fork, run to the end and destroy, `n` times, on this thread (the throughput path:
    /// nothing crosses into Python per instance). Output goes to `host`. Returns how many
    /// instances exited with `EAPP_RETURN`; stops at the first fork that fails.
    pub fn fork_run_destroy(
        &self,
        template: &EnclaveCell,
        p: &ForkParams,
        relay: Option<&[u8]>,
        n: u64,
        host: &mut dyn Host,
    ) -> Result<u64, CreateError> {
        let mut exited = 0;
        self.fork_run_destroy_each(template, p, relay, n, host, &mut |x| {
            if matches!(x, RunExit::Exited { .. }) {
                exited += 1
            }
        })?;
        Ok(exited)
    }

    /// The batch loop; `each` sees every run's exit. One hart serves the whole batch: after
    /// each instance its decoded code is kept except for the pages of frames the instance
    /// changed (copied, created or host-allocated), so the next fork does not decode again
    /// what every fork of the template executes.
    pub fn fork_run_destroy_each(
        &self,
        template: &EnclaveCell,
        p: &ForkParams,
        relay: Option<&[u8]>,
        n: u64,
        host: &mut dyn Host,
        each: &mut dyn FnMut(&RunExit),
    ) -> Result<(), CreateError> {
        let Some(tpl) = self.template(template) else {
            return Err(CreateError::Param("not a live shadow enclave".into()));
        };
        // A snapshot's forks continue from its OCALL (no relay region: snapshot.rs).
        let resume = tpl.resume.is_some();
        if resume && relay.is_some() {
            return Err(CreateError::Param("relay: a snapshot's forks continue from its OCALL and take no relay region".into()));
        }
        RECYCLER.with(|r| *r.borrow_mut() = Some(Recycler { tpl, hart: None }));
        let result = (|| {
            for _ in 0..n {
                let hart = RECYCLER.with(|r| r.borrow_mut().as_mut().and_then(|x| x.hart.take()));
                let cell = self.fork_with(template, p, hart)?;
                let entry = if resume { Entry::Continue } else { Entry::Start { relay: relay.map(|r| r.to_vec()) } };
                let req = RunRequest { entry, shm: None, budget: None };
                // To the end: a yield is continued at once.
                let out = self.run_through_yields(&cell, req, host);
                each(&out.exit);
                if !matches!(out.exit, RunExit::Exited { .. } | RunExit::Fault { .. } | RunExit::Destroyed | RunExit::Aborted) {
                    self.destroy(&cell);
                }
            }
            Ok(())
        })();
        RECYCLER.with(|r| *r.borrow_mut() = None);
        result
    }

    /// [`Monitor::fork_run_destroy`] collecting the output in memory.
    pub fn fork_run_destroy_buffered(
        &self,
        template: &EnclaveCell,
        p: &ForkParams,
        relay: Option<&[u8]>,
        n: u64,
    ) -> Result<(u64, Vec<u8>), CreateError> {
        let mut host = BufferHost::default();
        let k = self.fork_run_destroy(template, p, relay, n, &mut host)?;
        Ok((k, host.0))
    }
}

impl Monitor {
    /// One fork-run-destroy, reusing `hart` (a hart of an earlier instance of this template,
    /// or a fresh one carrying e.g. fuzzing coverage) and leaving the instance's hart there for
    /// the next call, with its decoded code kept as in [`Monitor::fork_run_destroy_each`]. For
    /// executors that must look at the hart between runs (coverage maps). `budget` bounds the
    /// run (exceeding it ends in `RunExit::Budget`, the instance destroyed). A run that stops
    /// in a host OCALL or relay return is destroyed too. The outcome's `shm` is None (the
    /// instance's shm is not copied out).
    pub fn fork_run_one(
        &self,
        template: &EnclaveCell,
        p: &ForkParams,
        budget: Option<u64>,
        host: &mut dyn Host,
        hart: &mut Option<Box<Hart>>,
    ) -> Result<RunOutcome, CreateError> {
        let Some(tpl) = self.template(template) else {
            return Err(CreateError::Param("not a live shadow enclave".into()));
        };
        let entry = if tpl.resume.is_some() { Entry::Continue } else { Entry::Start { relay: None } };
        // One lookup of the template per call (each takes the monitor lock, which the jobs of
        // a fuzzing campaign share).
        RECYCLER.with(|r| *r.borrow_mut() = Some(Recycler { tpl: Arc::clone(&tpl), hart: None }));
        let result = self.fork_from(template, tpl, p, hart.take()).map(|cell| {
            // A yield is continued at once, within the budget (the executors never see it).
            let out = self.run_through_yields(&cell, RunRequest { entry, shm: None, budget }, host);
            if !matches!(out.exit, RunExit::Exited { .. } | RunExit::Fault { .. } | RunExit::Destroyed | RunExit::Aborted) {
                self.destroy(&cell);
            }
            out
        });
        *hart = RECYCLER.with(|r| r.borrow_mut().take().and_then(|x| x.hart));
        result
    }
}

/// A hart kept by a batch (`fork_run_destroy`) on this thread between instances.
struct Recycler {
    tpl: Arc<Template>,
    hart: Option<Box<Hart>>,
}

thread_local! {
    static RECYCLER: std::cell::RefCell<Option<Recycler>> = const { std::cell::RefCell::new(None) };
}

/// This thread runs a batch or [`Monitor::fork_run_one`], whose callers never look at a run's
/// shm contents: `Monitor::run` then does not copy them out (a page-sized allocation, zeroing
/// and copy per instance).
pub(super) fn shm_unwanted() -> bool {
    RECYCLER.with(|r| r.try_borrow().is_ok_and(|r| r.is_some()))
}

/// The last of a freed enclave (`Monitor::free`; `tpl`: see [`spare_home`]). Its hart goes to
/// the next fork of the same template, with the decoded pages of every frame it does not share
/// with the template dropped: decoded code is keyed by physical page, and all instances use
/// the same physical layout. During a batch on this thread the batch's [`Recycler`] takes it;
/// otherwise the template's spare harts, if there are not enough.
pub(super) fn dispose(cell: &EnclaveCell, enc: Enclave, tpl: Option<Arc<Template>>) {
    let enc = RECYCLER.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else { return Some(enc) };
        let Some(rc) = r.as_mut() else { return Some(enc) };
        if rc.hart.is_some() || cell.shadow_of != Some(rc.tpl.id) {
            return Some(enc);
        }
        rc.hart = scrubbed_hart(enc, &rc.tpl);
        None
    });
    let (Some(enc), Some(tpl)) = (enc, tpl) else { return };
    if tpl.spare.lock().unwrap_or_else(|p| p.into_inner()).len() >= SPARE_HARTS {
        return;
    }
    // A hart carrying a fuzzer's coverage map belongs to that fuzzer: an ordinary fork that
    // reused it would write into the fuzzer's map.
    if let Some(hart) = scrubbed_hart(enc, &tpl).filter(|h| h.coverage().is_none()) {
        let mut spare = tpl.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_HARTS {
            spare.push(hart);
        }
    }
}

/// The hart of an instance of `tpl` with the decoded code of every page that may differ from
/// the template's dropped, or None if the instance does not have the template's layout.
/// Decoded code is kept only for frames in the template's regions that the instance still
/// shares with the template (the same frame, so the same bytes) or that neither has (zero);
/// pages of host allocations (shm, relay, mmap) are dropped whole. This holds whichever
/// template `tpl` is, so a driver id reused by another template cannot bring in stale code.
/// It looks only at the pages the hart decoded (a few), not at every frame.
fn scrubbed_hart(enc: Enclave, tpl: &Template) -> Option<Box<Hart>> {
    if enc.root != tpl.root || enc.entry != tpl.entry {
        return None;
    }
    let Enclave { mut hart, bus, .. } = enc;
    hart.code.retain_pages(|ppn| {
        let pa = ppn << 12;
        tpl.regions.iter().any(|&(s, e)| s <= pa && pa < e)
            && match (bus.mem.get(ppn), tpl.mem.get(ppn)) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    });
    Some(hart)
}

/// The instance's machine state: a clone of the template's memory, a fresh hart on the
/// skeleton root, and its shm.
pub fn instantiate(tpl: &Template, p: &ForkParams) -> Result<Enclave, CreateError> {
    instantiate_with(tpl, p, None)
}

/// [`instantiate`] reusing a hart of an earlier instance of the same template (reset to the
/// state a fresh hart has; its decoded code stays).
fn instantiate_with(tpl: &Template, p: &ForkParams, hart: Option<Box<Hart>>) -> Result<Enclave, CreateError> {
    let bus = Bus::with_ram(tpl.mem.clone(), &tpl.regions);
    let mut hart = match hart {
        Some(mut h) => {
            h.reset_keeping_code();
            h
        }
        None => Box::default(),
    };
    hart.prv = Priv::U;
    hart.host_traps = true;
    let _ = hart.csr_write(SATP, (8u64 << 60) | (tpl.root >> 12));
    hart.pc = tpl.entry;
    let mut e = Enclave {
        hart,
        bus,
        entry: tpl.entry,
        root: tpl.root,
        block_pa: tpl.block_pa,
        block_pages: tpl.block_pages,
        free_pages: tpl.free_pages.clone(),
        host_pa: HOST_PA,
        kbuffer_pa: tpl.kbuffer_pa,
        shm: None,
        relay: Vec::new(),
        mmaps: Vec::new(),
        heap: Vec::new(),
        heap_top: HEAP_BASE,
        rng: SplitMix(0),
        // Copy-on-write: an instance holds no secure memory of its own until it grows a heap
        // or mmap region (Penglai takes a 2 MiB block per instance, B35).
        secure_bytes: 0,
        persistency: p.persistency.clone(),
        user_ocalls: Vec::new(),
        pending: Pending::None,
        measurement: tpl.measurement,
        warnings: Vec::new(),
    };
    if let Some(shm) = &p.shm {
        let size = shm.len() as u64;
        if size != 0 && size % PAGE == 0 {
            let pa = e.host_alloc(size);
            e.bus.write(pa, shm);
            if !e.map(SHM_BASE, pa, size / PAGE, PTE_DATA) {
                return Err(CreateError::Elf("no free page-table pages for the shm mapping".into()));
            }
            e.shm = Some((pa, size));
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests;
