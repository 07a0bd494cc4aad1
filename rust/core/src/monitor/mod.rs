//! The Penglai-TVM secure monitor model (docs/abi.md): a secure-memory pool, the enclave
//! table and state machine (§5.4), normal-enclave creation exactly as the driver and monitor do
//! it (§1.3–§1.5), enclave calls and OCALLs (§3), and runs on the hart in U-mode with M-mode
//! handled here natively (§2, §8).
//!
//! Identifier spaces: the *monitor eid* is the lowest free slot of the enclave table (what
//! `get_enclave_id()` returns); the *driver id* is what the host program sees in
//! `user_param.eid`, lowest free in `[0x1000, 0xFFFF)`.
//!
//! Locking: the monitor's tables are behind one mutex that is held only for bookkeeping, never
//! while an enclave executes. Each enclave has a small control block (state, stop/destroy
//! requests, a condvar) and its machine state behind its own mutex, held by the thread that runs
//! it. Stop/resume/destroy from other threads go through the control block; the running thread
//! looks at it between instruction slices.
mod adopt;
pub mod attest;
mod call_arg;
pub mod consts;
mod ecall;
pub mod elf;
pub mod enclave;
pub mod ipc;
mod ipc_move;
mod kbuffer;
pub mod keys;
pub mod measure;
pub mod pt;
mod relay_names;
pub mod rng;
pub mod run;
pub mod secure_shm;
mod server;
pub mod shadow;
pub mod snapshot;

use consts::*;
use enclave::{CreateError, CreateParams, Enclave};
use rng::{RngMode, SplitMix};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub use adopt::Block;
pub use enclave::CreateError as Error;
pub use run::{BufferHost, Entry, Host, RunExit, RunOutcome, RunRequest, StdoutHost};

/// Enclave states (§5.4, Appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum State {
    Destroyed = -1,
    Invalid = 0,
    Fresh = 1,
    Runnable = 2,
    Running = 3,
    Stopped = 4,
    Attesting = 5,
    Ocalling = 6,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Destroyed => "DESTROYED",
            State::Invalid => "INVALID",
            State::Fresh => "FRESH",
            State::Runnable => "RUNNABLE",
            State::Running => "RUNNING",
            State::Stopped => "STOPPED",
            State::Attesting => "ATTESTING",
            State::Ocalling => "OCALLING",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of secure memory enclaves may hold (blocks, mmap and heap blocks).
    pub secure_memory: u64,
    pub rng: RngMode,
    /// Seed of the per-enclave generators (`RngMode::Seeded`).
    pub seed: u64,
    /// Instructions per slice: the granularity of invisible preemption, stop and destroy.
    pub slice: u64,
    /// `get_caller_id` returns 0 like Penglai (B2) instead of -1 outside a call.
    pub caller_id_compat: bool,
    /// The engine every enclave hart runs with (`crate::jit`).
    pub engine: crate::jit::Engine,
}

pub const DEFAULT_SECURE_MEMORY: u64 = 1 << 30;
pub const DEFAULT_SLICE: u64 = 1 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_memory: DEFAULT_SECURE_MEMORY,
            rng: RngMode::Seeded,
            seed: 0,
            slice: DEFAULT_SLICE,
            caller_id_compat: false,
            engine: crate::jit::Engine::HOST_DEFAULT,
        }
    }
}

struct Ctl {
    state: State,
    /// A thread is inside `Monitor::run` for this enclave.
    runner: bool,
    /// Destroy requested while running.
    destroy: bool,
    /// Threads waiting on the cell's condvar ([`EnclaveCell::wait`]), so that [`EnclaveCell::wake`]
    /// can skip the wake when there are none: a condvar's notify is a futex system call even
    /// with nobody waiting, and every run ends with a wake (a fork + run + destroy, or a fuzzing
    /// execution, would pay one system call for it).
    waiters: u32,
}

/// One enclave as the monitor and driver know it. Shared (`Arc`) between the monitor's tables
/// and the host objects that refer to it.
pub struct EnclaveCell {
    /// Monitor eid (table slot).
    pub eid: u32,
    /// Driver id (`user_param.eid`).
    pub id: u32,
    pub name: [u8; 16],
    pub kind: u32,
    /// The stored measurement (§6.2): `Enclave::measurement` at creation (a fork instance: its
    /// template's hash). Kept here so host attestation works while a thread holds the enclave.
    pub measurement: [u8; 32],
    /// A fork instance: the driver id of its shadow template (Penglai's `isShadow = 1`).
    pub shadow_of: Option<u32>,
    ctl: Mutex<Ctl>,
    cv: Condvar,
    /// Something for the running thread to look at between slices.
    poll: AtomicBool,
    inner: Mutex<Option<Enclave>>,
}

impl EnclaveCell {
    /// A registered enclave's cell, holding `enc`, in `state` (FRESH for a new enclave, RUNNABLE
    /// for servers and snapshot forks), with nobody running it.
    fn new(eid: u32, id: u32, name: [u8; 16], kind: u32, shadow_of: Option<u32>, state: State, enc: Enclave) -> Arc<EnclaveCell> {
        Arc::new(EnclaveCell {
            eid,
            id,
            name,
            kind,
            measurement: enc.measurement,
            shadow_of,
            ctl: Mutex::new(Ctl { state, runner: false, destroy: false, waiters: 0 }),
            cv: Condvar::new(),
            poll: AtomicBool::new(false),
            inner: Mutex::new(Some(enc)),
        })
    }

    pub fn state(&self) -> State {
        self.ctl.lock().unwrap().state
    }

    /// The enclave's machine state, unless a thread is running it (`Err(true)`) or it is gone
    /// (`Err(false)`).
    pub fn try_inner(&self) -> Result<MutexGuard<'_, Option<Enclave>>, bool> {
        match self.inner.try_lock() {
            Ok(g) if g.is_some() => Ok(g),
            Ok(_) => Err(false),
            Err(_) => Err(true),
        }
    }

    /// Waits on the control block's condvar (at most `timeout`, if given), counted in
    /// `Ctl::waiters` while it waits. Spurious wakeups are possible: callers loop.
    fn wait<'a>(&self, mut c: MutexGuard<'a, Ctl>, timeout: Option<std::time::Duration>) -> MutexGuard<'a, Ctl> {
        c.waiters += 1;
        let mut c = match timeout {
            Some(t) => self.cv.wait_timeout(c, t).unwrap_or_else(|p| p.into_inner()).0,
            None => self.cv.wait(c).unwrap_or_else(|p| p.into_inner()),
        };
        c.waiters -= 1;
        c
    }

    /// Wakes every thread in [`EnclaveCell::wait`], if there is one. `c` is the held control
    /// block: a waiter counts itself under the same lock before it sleeps, so none is missed.
    fn wake(&self, c: &Ctl) {
        if c.waiters > 0 {
            self.cv.notify_all();
        }
    }

    fn name_key(&self) -> &[u8] {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(16);
        &self.name[..n]
    }
}

struct Tables {
    eids: Vec<Option<Arc<EnclaveCell>>>,
    ids: BTreeMap<u32, Arc<EnclaveCell>>,
    used: u64,
    /// Monitor-global run counter passed in `a2` (B1).
    eapp_args: u64,
    lcg: u32,
    creates: u64,
    /// Shadow templates by shadow eid (their own table, §5.1) with their fork recipe.
    shadows: Vec<Option<(Arc<EnclaveCell>, Arc<shadow::Template>)>>,
}

impl Tables {
    /// The lowest driver id (the host's handle) not in use.
    fn free_id(&self) -> Option<u32> {
        (DRIVER_ID_MIN..DRIVER_ID_END).find(|i| !self.ids.contains_key(i))
    }

    /// A free slot of the eid table, grown by one when every slot is taken.
    fn free_eid(&mut self) -> usize {
        free_slot(&mut self.eids)
    }

    /// A free slot of the shadow table, grown by one when every slot is taken.
    fn free_sid(&mut self) -> usize {
        free_slot(&mut self.shadows)
    }

    /// The generator of the next enclave made: distinct per enclave, the same sequence for the
    /// same seed and order of creation (design decision 4, determinism).
    fn next_rng(&mut self, seed: u64) -> SplitMix {
        self.creates += 1;
        SplitMix(seed ^ self.creates.wrapping_mul(0xD134_2543_DE82_EF95))
    }
}

fn free_slot<T>(slots: &mut Vec<Option<T>>) -> usize {
    slots.iter().position(Option::is_none).unwrap_or_else(|| {
        slots.push(None);
        slots.len() - 1
    })
}

pub struct Monitor {
    pub config: Config,
    tables: Mutex<Tables>,
    /// Platform keys and the filled platform block (attest.rs).
    attest: attest::AttestState,
    /// Calls between enclaves in flight (ipc.rs).
    ipc: Mutex<ipc::Ipc>,
}

impl Monitor {
    pub fn new(config: Config) -> Monitor {
        Monitor {
            config,
            tables: Mutex::new(Tables {
                eids: Vec::new(),
                ids: BTreeMap::new(),
                used: 0,
                eapp_args: 0,
                lcg: rng::LCG_SEED,
                creates: 0,
                shadows: Vec::new(),
            }),
            attest: attest::AttestState::default(),
            ipc: Mutex::new(ipc::Ipc::default()),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn secure_memory_used(&self) -> u64 {
        self.tables().used
    }

    pub fn eapp_args(&self) -> u64 {
        self.tables().eapp_args
    }

    /// Driver ids in use, ascending.
    pub fn ids(&self) -> Vec<u32> {
        self.tables().ids.keys().copied().collect()
    }

    pub fn lookup(&self, id: u32) -> Option<Arc<EnclaveCell>> {
        self.tables().ids.get(&id).cloned()
    }

    /// Takes `bytes` from the secure-memory pool.
    pub(crate) fn reserve(&self, bytes: u64) -> bool {
        let mut t = self.tables();
        if t.used.saturating_add(bytes) > self.config.secure_memory {
            return false;
        }
        t.used += bytes;
        true
    }

    pub(crate) fn release(&self, bytes: u64) {
        let mut t = self.tables();
        t.used = t.used.saturating_sub(bytes);
    }

    pub(crate) fn with_lcg<R>(&self, f: impl FnOnce(&mut u32) -> R) -> R {
        f(&mut self.tables().lcg)
    }

    fn next_run_counter(&self) -> u64 {
        let mut t = self.tables();
        let v = t.eapp_args;
        t.eapp_args += 1;
        v
    }

    fn name_taken(&self, cell: &EnclaveCell) -> bool {
        let t = self.tables();
        t.eids.iter().flatten().any(|c| c.eid != cell.eid && c.name_key() == cell.name_key())
    }

    /// Refuses a host region (`what`: "shm", ...) larger than the whole secure pool before
    /// anyone allocates it. Penglai takes host shm from kernel memory, not the pool; here it is
    /// memory the emulator must back, and the pool is the memory budget the host gave enclaves.
    /// A shm past the enclave's address space is refused too (`Limit`), however large the pool.
    pub fn check_region(&self, what: &str, size: u64) -> Result<(), CreateError> {
        let pool = self.config.secure_memory;
        if size > pool {
            return Err(CreateError::ExceedsPool(format!(
                "{what} of {size:#x} bytes exceeds the secure memory pool ({pool:#x} bytes)"
            )));
        }
        if what == "shm" && size > SHM_LIMIT {
            return Err(CreateError::Limit(format!(
                "shm of {size:#x} bytes does not fit the enclave's address space ({SHM_LIMIT:#x} bytes from {SHM_BASE:#x})"
            )));
        }
        Ok(())
    }

    /// Creates a normal enclave from ELF file bytes (driver CREATE + monitor fid 99).
    pub fn create(&self, elf_bytes: &[u8], p: &CreateParams) -> Result<Arc<EnclaveCell>, CreateError> {
        self.create_with_shm(elf_bytes, p, p.shm.as_deref())
    }

    /// [`Monitor::create`] with the host shm contents borrowed (`p.shm` is not looked at).
    pub fn create_with_shm(&self, elf_bytes: &[u8], p: &CreateParams, shm: Option<&[u8]>) -> Result<Arc<EnclaveCell>, CreateError> {
        if let Some(shm) = shm {
            self.check_region("shm", shm.len() as u64)?;
        }
        match p.kind {
            NORMAL_ENCLAVE => {}
            SERVER_ENCLAVE => return self.create_server(elf_bytes, p, shm),
            SHADOW_ENCLAVE => return self.create_shadow(elf_bytes, p),
            k => return Err(CreateError::Param(format!("unknown enclave type {k}"))),
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
        let Some(id) = t.free_id() else {
            t.used -= bytes;
            return Err(CreateError::NoId);
        };
        let eid = t.free_eid();
        enc.rng = t.next_rng(self.config.seed);
        let cell = EnclaveCell::new(eid as u32, id, p.name, p.kind, None, State::Fresh, enc);
        t.eids[eid] = Some(Arc::clone(&cell));
        t.ids.insert(id, Arc::clone(&cell));
        Ok(cell)
    }

    /// Returns an enclave's resources and frees its table slot and driver id.
    fn free(&self, cell: &EnclaveCell, mut enc: Enclave) {
        // Secure shm segments it is attached to lose this user (secure_shm.rs).
        self.shm_release_all(cell.eid, &mut enc);
        // Calls this enclave made that are still in flight end with it (ipc.rs).
        if cell.kind == NORMAL_ENCLAVE {
            self.abort_chain(cell.eid);
        }
        let mut t = self.tables();
        t.used = t.used.saturating_sub(enc.secure_bytes);
        if cell.kind == SHADOW_ENCLAVE {
            shadow::free_slot(&mut t, cell);
        } else if let Some(slot) = t.eids.get_mut(cell.eid as usize) {
            if slot.as_ref().is_some_and(|c| std::ptr::eq(&**c, cell)) {
                *slot = None;
            }
        }
        if t.ids.get(&cell.id).is_some_and(|c| std::ptr::eq(&**c, cell)) {
            t.ids.remove(&cell.id);
        }
        let tpl = shadow::spare_home(&t, cell);
        drop(t);
        shadow::dispose(cell, enc, tpl);
    }

    /// Host stop (fid 96): 0 or -1 (§5.4).
    pub fn stop(&self, cell: &EnclaveCell) -> i32 {
        let mut c = cell.ctl.lock().unwrap();
        if cell.kind == SERVER_ENCLAVE {
            return -1;
        }
        match c.state {
            State::Runnable | State::Stopped => {
                c.state = State::Stopped;
                0
            }
            State::Running => {
                c.state = State::Stopped;
                cell.poll.store(true, Ordering::Release);
                0
            }
            _ => -1,
        }
    }

    /// Host resume with reason "stop" (wake): STOPPED -> RUNNABLE, 0; else -1.
    pub fn resume(&self, cell: &EnclaveCell) -> i32 {
        let mut c = cell.ctl.lock().unwrap();
        if c.state != State::Stopped {
            return -1;
        }
        c.state = State::Runnable;
        cell.poll.store(true, Ordering::Release);
        cell.wake(&c);
        0
    }

    /// Host destroy (fid 94): frees the enclave at once, or, when a thread is running it,
    /// makes that run end (it returns `RunExit::Destroyed`) and waits until it has. 0 or -1.
    pub fn destroy(&self, cell: &EnclaveCell) -> i32 {
        if cell.kind == SERVER_ENCLAVE {
            return self.destroy_server(cell);
        }
        let mut c = cell.ctl.lock().unwrap();
        if matches!(c.state, State::Invalid | State::Destroyed) {
            return -1;
        }
        if c.runner {
            c.destroy = true;
            cell.poll.store(true, Ordering::Release);
            cell.wake(&c);
            while c.state != State::Invalid {
                c = cell.wait(c, None);
            }
            return 0;
        }
        c.state = State::Invalid;
        drop(c);
        let enc = cell.inner.lock().unwrap().take();
        if let Some(enc) = enc {
            self.free(cell, enc);
        }
        0
    }

    /// The driver drops its record of the enclave (a failed wake does this, §4.4). The
    /// enclave, which Penglai would leak, is destroyed unless a thread is running it (that run
    /// finishes normally).
    pub fn forget(&self, cell: &EnclaveCell) {
        {
            let mut t = self.tables();
            if t.ids.get(&cell.id).is_some_and(|c| std::ptr::eq(&**c, cell)) {
                t.ids.remove(&cell.id);
            }
        }
        if !cell.ctl.lock().unwrap().runner {
            self.destroy(cell);
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod test_support;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod ipc_tests;
#[cfg(test)]
mod tests;
