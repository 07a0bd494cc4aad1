//! The compiling tier (issue 12): decoded blocks that run often become host code (Cranelift).
//!
//! The interpreter stays the reference and runs everything cold. Each decoded block
//! (`hart::decode_cache::BlockData`) carries a [`Slot`]: an execution count and, once the count
//! reaches [`THRESHOLD`], the block's compiled code. Because the code hangs off the decoded
//! block, every way the decode cache drops a block (a write to its page, `fence.i`, a cache
//! reset, a fork keeping only shared frames) drops the compiled code with it.
//!
//! Exactness, by construction:
//! - A compiled block runs only when the slice's remaining budget covers the whole block
//!   (the interpreter's `n == len` case); otherwise the interpreter runs it, so budgets, timer
//!   deadlines and single-stepping stop at exactly the same instruction.
//! - It does what `Hart::run_block` does: same `pc` and `retired` at the end, and on a trap in
//!   the middle the faulting instruction's pc, `retired` before it, and only the register
//!   writes of the instructions before it. Loads and stores hit the same TLB entries as the
//!   interpreter's fast path and call the interpreter's `load`/`store` otherwise, so MMIO,
//!   code-page writes (which end the block after the store, as in the interpreter), page
//!   faults and misaligned accesses behave identically.
//! - Instructions it does not translate (A, F/D, CSRs, system) run through their interpreter
//!   handler from compiled code; interrupts are still only taken between slices.
//! - Triggers (debugger breakpoints/watchpoints, Sdtrig) force the interpreter. Coverage and
//!   cmplog run in compiled code instrumented for them (`cov`), counting what the interpreter
//!   counts; code for harts without coverage carries no instrumentation.
mod cache;
mod cov;
mod exec_mem;
mod helpers;
mod layout;
mod region;
mod thunk;
mod translate;
mod worker;

pub use worker::{drain, pause as pause_worker, pending as pending_compiles, QUEUE_CAP};

use crate::bus::Bus;
use crate::hart::decode_cache::{Block, DecodeCache};
use crate::hart::trap::Trap;
use crate::hart::Hart;
use crate::mmu::tlb::Entry;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use exec_mem::ExecMem;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// Which tier runs a hart's code. The default is [`Engine::HOST_DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The interpreter only.
    Interp,
    /// Hot blocks compiled to host code, the interpreter for the rest.
    Jit,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::HOST_DEFAULT
    }
}

impl Engine {
    /// `Jit` on the hosts the compiling tier is built and tested for (x86-64, aarch64),
    /// `Interp` elsewhere (Cranelift may know other hosts, but nothing here tests them).
    pub const HOST_DEFAULT: Engine =
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) { Engine::Jit } else { Engine::Interp };

    /// `"interp"` or `"jit"`.
    pub fn parse(s: &str) -> Option<Engine> {
        match s {
            "interp" => Some(Engine::Interp),
            "jit" => Some(Engine::Jit),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }

    /// Whether this host can compile (Cranelift knows its ISA). Where it cannot, `Jit` still
    /// runs, entirely in the interpreter.
    pub fn jit_supported() -> bool {
        isa().is_some()
    }
}

/// Executions of a block before it is compiled, by default. Compiling a block costs about as
/// much as interpreting 10^5 instructions, so only blocks that clearly repeat are worth it.
pub const THRESHOLD: u32 = 200;

static THRESHOLD_NOW: AtomicU32 = AtomicU32::new(THRESHOLD);

/// Sets the process-wide compile threshold (at least 1). Tests use 1, so that even short
/// programs run nearly everything compiled; benches may try others. It also makes compiling
/// synchronous (see [`set_background`]) on every thread that did not choose for itself: a test
/// that sets the threshold counts compiles, and those counts must not depend on timing.
pub fn set_threshold(n: u32) {
    THRESHOLD_NOW.store(n.max(1), Relaxed);
    THRESHOLD_SET.store(true, Relaxed);
}

static THRESHOLD_SET: AtomicBool = AtomicBool::new(false);

/// Whether blocks are compiled on a background thread by default ([`set_background`]): yes,
/// see "Compile time" in docs/jit.md for the measurement. The environment variable
/// `PLTVM_JIT_BACKGROUND=0` (or `1`) overrides it for the process.
pub const BACKGROUND: bool = true;

/// The process-wide choice: 0 not read yet, 1 synchronous, 2 background.
static BACKGROUND_NOW: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// This thread's own choice ([`set_background`]): 0 none, 1 synchronous, 2 background.
    static BACKGROUND_HERE: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// Compile hot regions on a background thread (`true`: the hart keeps interpreting a block
/// until its code is ready, then takes it; results are the same either way, only the speed
/// differs) or on the hart's own thread when the block reaches the threshold (`false`:
/// deterministic compile counts, for tests). Applies to harts run on the calling thread; the
/// default is [`BACKGROUND`] (synchronous once [`set_threshold`] was called).
pub fn set_background(on: bool) {
    BACKGROUND_HERE.with(|c| c.set(1 + on as u8));
}

/// Whether harts on this thread compile in the background now.
pub fn background() -> bool {
    match BACKGROUND_HERE.with(|c| c.get()) {
        0 => {}
        here => return here == 2,
    }
    if THRESHOLD_SET.load(Relaxed) {
        return false;
    }
    let mut now = BACKGROUND_NOW.load(Relaxed);
    if now == 0 {
        let on = match std::env::var("PLTVM_JIT_BACKGROUND").as_deref() {
            Ok("0") => false,
            Ok("1") => true,
            _ => BACKGROUND,
        };
        now = 1 + on as u8;
        BACKGROUND_NOW.store(now, Relaxed);
    }
    now == 2
}

/// Compiled code's one argument: the hart, the bus and the entry pc (read from here where
/// they are used, so they take no register across a region's loops), the TLB tables as of
/// entry (helpers refresh them), the slice's `retired` at block entry, and a helper's loaded
/// value.
#[repr(C)]
pub(crate) struct Ctx {
    hart: *mut Hart,
    bus: *mut Bus,
    /// The region's entry pc for this call: every pc in it is this plus a constant.
    pc0: u64,
    read: *const Entry,
    write: *const Entry,
    mask: u64,
    epoch: u64,
    base: u64,
    /// A slow-path load's value, as loaded; a slow-path store's value.
    val: u64,
    /// A slow path's address and `helpers::info` (for `helpers::exec`: the instruction's pc
    /// and `helpers::exec_index`), stored by compiled code before the call (in memory, so the
    /// call pins no hot value to an argument register).
    va: u64,
    info: u64,
    /// The slice's end (`Hart::slice_end`): a self-loop goes round again only if the whole
    /// block fits before it.
    limit: u64,
    /// Non-zero once a helper saw a stop request or a decode-cache change (see `helpers`).
    halt: u64,
    /// The decode cache's epoch at entry.
    code_epoch: u64,
    /// The members of the region being run: compiled code is shared between regions with the
    /// same instructions (`cache`), so a helper finds an instruction's interpreter handler
    /// here, never through a pointer baked into the code.
    region: *const region::Member,
    /// Set by compiled code when it returns a pc: the member it left from.
    exit: u64,
    /// A slow-path helper's status, stored by its thunk (`thunk`).
    status: u64,
    /// The slice's end for entering the region's foreign members: `limit` if the chaining loop
    /// found them still current (`Slot::cross_ok`), else 0 (so none fits); zeroed with `limit`.
    xlimit: u64,
    /// The member the region is entered at (`Slot::entry`); the pc argument is then the
    /// region's entry pc, that member's pc minus its offset.
    entry: u64,
    /// The F/D arithmetic gates (`translate`'s `fp::gate`) for the static nearest-even mode
    /// and the dynamic one, stored at region entry and wherever `frm` or `fflags` may have
    /// changed (`fp::store_gates`), read by the arithmetic (a memory operand of the range
    /// check's add, so they take no register).
    fgate: [u64; 2],
    /// Coverage/cmplog state of instrumented code (`cov`).
    cov: cov::CovCtx,
    /// Per x register: the page an access through it last found in the TLB (`translate`'s
    /// `access`). Only valid between helper calls: every helper clears them (`helpers::refresh`).
    slots: PageSlots,
    /// What compiled code calls (`thunk::calls`) and the address of `val`: loaded where used.
    /// As constants, Cranelift's egraph merged the copies of every slow path into one value
    /// at the function's entry, which then stayed live through every loop (matmul's inner
    /// loop reloaded two such values from the stack and spilled them back each round).
    calls: [u64; 4],
    val_at: u64,
}

/// What compiled code last found in the TLB for accesses through each base register (x0..x31):
/// the page (the address with the offset bits cleared) readable, and writable, at
/// `va + addend`. `NO_PAGE` matches no access (an access's compared value has bits 3..11
/// clear), and an addend is read only after its page matched, so clearing touches the tags
/// alone (512 bytes of 0xff, a memset: jit_run clears them at every entry from the run loop).
#[repr(C)]
pub(crate) struct PageSlots {
    /// [read page, write page] per register.
    tags: [[u64; 2]; 32],
    addends: std::mem::MaybeUninit<[u64; 32]>,
}

pub(crate) const NO_PAGE: u64 = u64::MAX;

impl PageSlots {
    fn new() -> PageSlots {
        PageSlots { tags: [[NO_PAGE; 2]; 32], addends: std::mem::MaybeUninit::uninit() }
    }

    pub(crate) fn clear(&mut self) {
        self.tags = [[NO_PAGE; 2]; 32];
    }

    /// Byte offsets in [`Ctx`] of x register `r`'s read page, write page and addend.
    pub(crate) const fn offsets(r: usize) -> (i32, i32, i32) {
        let s = CTX_BASE_OFFSETS.slots;
        let tags = s + std::mem::offset_of!(PageSlots, tags) as i32 + 16 * r as i32;
        (tags, tags + 8, s + std::mem::offset_of!(PageSlots, addends) as i32 + 8 * r as i32)
    }
}

/// Byte offsets of [`Ctx`] fields, for the translator.
pub(crate) struct CtxOffsets {
    hart: i32,
    pc0: i32,
    read: i32,
    write: i32,
    epoch: i32,
    val: i32,
    va: i32,
    info: i32,
    base: i32,
    limit: i32,
    exit: i32,
    status: i32,
    calls: i32,
    val_at: i32,
    xlimit: i32,
    entry: i32,
    fgate: i32,
    slots: i32,
}

pub(crate) const CTX_BASE_OFFSETS: CtxOffsets = CtxOffsets {
    hart: std::mem::offset_of!(Ctx, hart) as i32,
    pc0: std::mem::offset_of!(Ctx, pc0) as i32,
    read: std::mem::offset_of!(Ctx, read) as i32,
    write: std::mem::offset_of!(Ctx, write) as i32,
    epoch: std::mem::offset_of!(Ctx, epoch) as i32,
    val: std::mem::offset_of!(Ctx, val) as i32,
    va: std::mem::offset_of!(Ctx, va) as i32,
    info: std::mem::offset_of!(Ctx, info) as i32,
    base: std::mem::offset_of!(Ctx, base) as i32,
    limit: std::mem::offset_of!(Ctx, limit) as i32,
    exit: std::mem::offset_of!(Ctx, exit) as i32,
    status: std::mem::offset_of!(Ctx, status) as i32,
    calls: std::mem::offset_of!(Ctx, calls) as i32,
    val_at: std::mem::offset_of!(Ctx, val_at) as i32,
    xlimit: std::mem::offset_of!(Ctx, xlimit) as i32,
    entry: std::mem::offset_of!(Ctx, entry) as i32,
    fgate: std::mem::offset_of!(Ctx, fgate) as i32,
    slots: std::mem::offset_of!(Ctx, slots) as i32,
};

type Compiled = unsafe extern "C" fn(*mut Ctx) -> u64;

/// One block's host code, shared by every decoded block with the same instructions.
pub(crate) struct Code {
    f: Compiled,
    _mem: ExecMem,
}

/// A block's execution count and compiled code.
#[derive(Default)]
pub struct Slot {
    /// `code`'s entry, kept beside it so the chaining loop reaches it with one load instead of
    /// two dependent ones (through the `Arc`).
    f: Option<Compiled>,
    code: Option<Arc<Code>>,
    /// The blocks `code` was compiled from, its entry first (see `region`): blocks of this
    /// block's decoded page, which lives as long as this block.
    region: Box<[region::Member]>,
    /// This block's index in `region` (0: its entry) and its offset from the entry: any
    /// member of the entry's own page runs the region's code from its own start
    /// ([`Slot::install`]).
    entry: u32,
    delta: u64,
    hits: u32,
    /// Compiling failed once; the block stays interpreted.
    failed: bool,
    /// `hits` when `job` was queued.
    queued_at: u32,
    /// The region's compile job on the background worker, until its code is taken; `region`
    /// holds the region it was formed from. With `region` empty: the job of a region this
    /// block is a later member of (see `Slot::tier_up`), which it waits for before queueing
    /// its own.
    job: Option<Arc<worker::Job>>,
    /// The region's foreign members, if it has any (see `region`).
    cross: Option<Box<Cross>>,
}

/// What a region's foreign members were compiled from, and the last check that they are
/// still what the decode cache gives at their pcs.
#[derive(Clone)]
struct Cross {
    /// Per foreign member: its index in the region and its instructions.
    members: Box<[(usize, Box<[crate::isa::Insn]>)]>,
    /// The decode-cache epoch and entry pc of the last check, and its outcome.
    epoch: u64,
    pc: u64,
    ok: bool,
}

impl Cross {
    /// Copies the foreign members' instructions (`None`: the region has none). Call it while
    /// the blocks are live (right after `region::form`).
    fn new(region: &[region::Member]) -> Option<Box<Cross>> {
        let members: Box<[_]> = region
            .iter()
            .enumerate()
            .filter(|(_, m)| m.foreign)
            .map(|(k, m)| (k, m.insns().iter().map(|p| p.unpack()).collect()))
            .collect();
        (!members.is_empty()).then(|| Box::new(Cross { members, epoch: u64::MAX, pc: 0, ok: false }))
    }
}

/// A block that has run this many times looks for code another block with the same
/// instructions already has (a fork finds its template's code long before it would compile
/// its own); capped by the threshold.
const PROBE: u32 = 8;

/// Past the threshold, a block not compiled yet (its job pending on the worker, or the queue
/// full) looks again every this many runs (every run under a lower threshold, as in tests).
const POLL: u32 = 16;

thread_local! {
    static COMPILED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static JOINED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static REUSED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

static COMPILED: AtomicU64 = AtomicU64::new(0);
static COMPILED_INSNS: AtomicU64 = AtomicU64::new(0);
static COMPILE_NANOS: AtomicU64 = AtomicU64::new(0);
static REUSED: AtomicU64 = AtomicU64::new(0);
static BACKGROUND_COMPILED: AtomicU64 = AtomicU64::new(0);
static WAITED_INSNS: AtomicU64 = AtomicU64::new(0);

/// Blocks compiled so far by harts running on this thread (for tests and benches: a test
/// asserts that what it checks really ran compiled).
pub fn compiled_on_this_thread() -> u64 {
    COMPILED_HERE.with(|c| c.get())
}

/// Blocks on this thread that joined a region as a later member (not its entry), in code
/// compiled or reused: tests check that the regions they mean to test really formed.
pub fn joined_on_this_thread() -> u64 {
    JOINED_HERE.with(|c| c.get())
}

/// Blocks on this thread that took code compiled earlier for the same instructions (by
/// another block, hart or fork) instead of compiling.
pub fn reused_on_this_thread() -> u64 {
    REUSED_HERE.with(|c| c.get())
}

/// Process-wide compile figures since start (benches and `pltvm exec --stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blocks compiled.
    pub compiled: u64,
    /// Guest instructions in those blocks.
    pub compiled_insns: u64,
    /// Wall-clock time spent compiling them (translation, Cranelift, mapping), in ns.
    pub compile_nanos: u64,
    /// Blocks that reused code compiled for the same instructions.
    pub reused: u64,
    /// Of `compiled`, those compiled on the background worker (their `compile_nanos` were
    /// spent there, beside the run, not in it).
    pub background: u64,
    /// Guest instructions run interpreted in blocks whose code was queued and not ready yet
    /// (counted when the code is taken).
    pub waited_insns: u64,
}

pub fn stats() -> Stats {
    Stats {
        compiled: COMPILED.load(Relaxed),
        compiled_insns: COMPILED_INSNS.load(Relaxed),
        compile_nanos: COMPILE_NANOS.load(Relaxed),
        reused: REUSED.load(Relaxed),
        background: BACKGROUND_COMPILED.load(Relaxed),
        waited_insns: WAITED_INSNS.load(Relaxed),
    }
}

/// Compiles a region (members' offsets from the entry and instructions) to mapped code and
/// counts it in [`stats`]; `background`: on the worker. None if Cranelift fails.
fn build(members: &[(u64, bool, &[crate::hart::packed::Packed])], instr: bool, background: bool) -> Option<Arc<Code>> {
    let isa = isa()?;
    let t0 = std::time::Instant::now();
    let (bytes, entry) = translate::compile(isa, members, instr)?;
    let mem = ExecMem::new(&bytes)?;
    // SAFETY: `mem` holds, at `entry`, a function Cranelift compiled with this signature for
    // this host.
    let f: Compiled = unsafe { std::mem::transmute::<*const u8, Compiled>(mem.as_ptr().add(entry)) };
    COMPILE_NANOS.fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
    COMPILED.fetch_add(1, Relaxed);
    COMPILED_INSNS.fetch_add(members.iter().map(|m| m.2.len() as u64).sum(), Relaxed);
    if background {
        BACKGROUND_COMPILED.fetch_add(1, Relaxed);
    }
    Some(Arc::new(Code { f, _mem: mem }))
}

fn isa() -> Option<&'static OwnedTargetIsa> {
    static ISA: OnceLock<Option<OwnedTargetIsa>> = OnceLock::new();
    ISA.get_or_init(|| {
        if cfg!(not(target_endian = "little")) {
            return None;
        }
        let mut f = settings::builder();
        f.set("opt_level", "speed").ok()?;
        // The verifier checks our IR on every compile; tests keep it, release builds skip it.
        f.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }).ok()?;
        // Block starts and edges, for where to place the code (`layout`).
        f.set("machine_code_cfg_info", "true").ok()?;
        cranelift_native::builder().ok()?.finish(settings::Flags::new(f)).ok()
    })
    .as_ref()
}

impl Slot {
    /// Counts one interpreted run; true when it is time to look for code ([`PROBE`] runs), to
    /// compile (the threshold), or past it every [`POLL`] runs to look whether the worker's
    /// code is ready. A failed compile is not retried.
    #[inline(always)]
    fn count(&mut self) -> bool {
        self.hits = self.hits.saturating_add(1);
        let threshold = THRESHOLD_NOW.load(Relaxed);
        !self.failed
            && (self.hits == PROBE.min(threshold)
                || (self.hits >= threshold && (self.hits - threshold) % POLL.min(threshold) == 0))
    }

    /// Takes `code` for `region`; `compiled`: this block is the one that compiled it (counted
    /// as compiled on this thread, else as reused).
    fn install(&mut self, code: Arc<Code>, region: Box<[region::Member]>, compiled: bool) {
        JOINED_HERE.with(|c| c.set(c.get() + region.len() as u64 - 1));
        if compiled {
            COMPILED_HERE.with(|c| c.set(c.get() + 1));
        } else {
            REUSED.fetch_add(1, Relaxed);
            REUSED_HERE.with(|c| c.set(c.get() + 1));
        }
        // Every other member of the entry's page runs this code from its own start too, so a
        // loop entered at another of its blocks (after a call, a return, a trap) does not
        // compile an overlapping region of its own: lz compiled 32 regions, ~10 distinct.
        // The members live as long as this block (same page); foreign ones do not.
        for (j, m) in region.iter().enumerate().skip(1).filter(|(_, m)| !m.foreign) {
            // SAFETY: as in `region::Member::insns`; these slots belong to this hart (and
            // thread), like `self`, and are other blocks than this one (other offsets).
            let s = unsafe { &mut (*m.block).jit };
            if s.f.is_none() {
                s.f = Some(code.f);
                s.code = Some(code.clone());
                s.region = region.clone();
                (s.entry, s.delta) = (j as u32, m.delta);
                s.cross = self.cross.clone();
                s.job = None;
            }
        }
        self.f = Some(code.f);
        self.code = Some(code);
        self.region = region;
        (self.entry, self.delta) = (0, 0);
    }

    /// The block's job is queued: takes its code if the worker is done.
    fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        let Some(outcome) = job.outcome() else {
            if !worker::available() {
                // Forked away from the worker: compile here at the next poll.
                self.job = None;
            }
            return;
        };
        if self.region.is_empty() {
            // The region that holds this block got its code (or failed): from now on this
            // block counts and queues as any other.
            self.job = None;
            return;
        }
        let waited = (self.hits - self.queued_at) as u64 * self.region[0].insns().len() as u64;
        WAITED_INSNS.fetch_add(waited, Relaxed);
        match outcome.clone() {
            Some(code) => {
                let compiled = job.claim();
                let region = std::mem::take(&mut self.region);
                self.install(code, region, compiled);
            }
            None => {
                self.failed = true;
                self.region = Box::default();
            }
        }
        self.job = None;
    }

    /// Takes the code compiled for the same region if there is any (`cache`); at the
    /// threshold, compiles it (and shares it): on the background worker if [`background`],
    /// else here. `instr`: the hart has coverage on, so the code is instrumented (`cov`) and
    /// the region is this block alone.
    #[cold]
    fn tier_up(&mut self, region: Vec<region::Member>, instr: bool) {
        self.cross = Cross::new(&region);
        let key = cache::key(&region, instr);
        if let Some(code) = cache::get(&key) {
            self.install(code, region.into_boxed_slice(), false);
            return;
        }
        if self.hits < THRESHOLD_NOW.load(Relaxed) {
            return;
        }
        if background() {
            match worker::submit(&key, &region, instr) {
                Ok(job) => {
                    // The later members wait for this region instead of queueing regions of
                    // their own meanwhile: once it runs compiled, they mostly run inside it
                    // and stop counting, as after a synchronous compile; without this, a hot
                    // loop's blocks all reach the threshold while the entry's job waits and
                    // each queues an overlapping region (lz: 49 compiles instead of 32).
                    for m in &region[1..] {
                        // SAFETY: as in `region::Member::insns`; these slots belong to this
                        // hart (and thread), like `self`.
                        let s = unsafe { &mut (*m.block).jit };
                        if s.f.is_none() && s.job.is_none() {
                            s.job = Some(job.clone());
                            s.region = Box::default();
                        }
                    }
                    self.job = Some(job);
                    self.queued_at = self.hits;
                    self.region = region.into_boxed_slice();
                    return;
                }
                Err(worker::Refused::Later) => return,
                Err(worker::Refused::NoWorker) => {}
            }
        }
        self.failed = true;
        let members: Vec<(u64, bool, &[crate::hart::packed::Packed])> =
            region.iter().map(|m| (m.delta, m.foreign, m.insns())).collect();
        let Some(code) = build(&members, instr, false) else { return };
        cache::put(key, code.clone());
        self.failed = false;
        self.install(code, region.into_boxed_slice(), true);
    }

    pub fn is_compiled(&self) -> bool {
        self.code.is_some()
    }

    /// Whether the region's foreign members may be entered from `pc` now: true if it has some and
    /// the decode cache (`code`) still gives, at each one's pc, a block with the instructions
    /// it was compiled from. Checked once per decode-cache epoch and entry pc: the epoch moves
    /// whenever a block is added or dropped or translations change.
    #[inline(always)]
    fn cross_ok(&mut self, code: &DecodeCache, pc: u64) -> bool {
        let pc = pc.wrapping_sub(self.delta);
        match &self.cross {
            None => false,
            Some(x) if x.epoch == code.epoch() && x.pc == pc => x.ok,
            Some(_) => self.check_cross(code, pc),
        }
    }

    /// The check of [`Slot::cross_ok`]. Each foreign member takes the block found (the
    /// chaining loop follows its links and `helpers::exec` runs its instructions), never
    /// trusting the old pointer: that block may have been dropped and its memory reused.
    #[cold]
    #[inline(never)]
    fn check_cross(&mut self, code: &DecodeCache, pc: u64) -> bool {
        let Some(x) = self.cross.as_deref_mut() else { return false };
        let mut ok = true;
        for (k, insns) in x.members.iter() {
            let m = &mut self.region[*k];
            let at = pc.wrapping_add(m.delta);
            // Where the run loop would find the block at `at`: its page, else the straddlers.
            let found = code.page_of(at >> 12).and_then(|p| p.block_at(at & 0xfff)).or_else(|| code.straddler_at(at));
            match found {
                // SAFETY: a block the decode cache holds now.
                Some(b) if unsafe { (*b).insns.iter().map(|p| p.unpack()).eq(insns.iter().copied()) } => m.block = b,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        (x.epoch, x.pc, x.ok) = (code.epoch(), pc, ok);
        ok
    }
}

impl Hart {
    /// Runs `block` compiled if the engine is Jit, the budget covers all of it (`n` is its
    /// length) and nothing forces the interpreter; None means "interpret it". Otherwise returns
    /// the outcome and the last block run: after a compiled block, the compiled blocks that
    /// follow it (by the decode cache's links) run too, for as long as the run loop itself
    /// would go on (no stop request, budget left for the whole next block).
    /// The `u64` is the pc at which that last block was entered (coverage: the source of the
    /// next edge).
    #[inline(always)]
    pub(crate) fn jit_block(&mut self, bus: &mut Bus, block: Block, n: usize) -> Option<(Result<(), Trap>, Block, u64)> {
        if self.engine != Engine::Jit {
            return None;
        }
        self.jit_run(bus, block, n)
    }

    #[inline(never)]
    fn jit_run(&mut self, bus: &mut Bus, mut block: Block, n: usize) -> Option<(Result<(), Trap>, Block, u64)> {
        // SAFETY: the run loop hands us a live block (freed only at its next `collect`).
        let b = unsafe { &mut *block };
        if n != b.insns.len() || self.trig.is_some() {
            return None;
        }
        let (mut f, mut entry, mut delta) = match b.jit.f {
            Some(f) => (f, b.jit.entry, b.jit.delta),
            None => {
                if b.jit.count() {
                    self.tier_up(block);
                }
                return None;
            }
        };
        let (read, write, mask, epoch) = self.tlb.raw();
        let code_epoch = self.code.epoch();
        let mut ctx = Ctx {
            hart: std::ptr::null_mut(),
            bus: std::ptr::null_mut(),
            pc0: 0,
            read,
            write,
            mask,
            epoch,
            base: self.retired,
            val: 0,
            va: 0,
            info: 0,
            limit: self.slice_end,
            halt: 0,
            code_epoch,
            region: b.jit.region.as_ptr(),
            exit: 0,
            status: 0,
            calls: thunk::calls(),
            val_at: 0,
            xlimit: if b.jit.cross_ok(&self.code, self.pc) { self.slice_end } else { 0 },
            entry: 0,
            // Closed (never -2) until a region with inline F/D arithmetic stores them.
            fgate: [1 << 12; 2],
            cov: cov::CovCtx::new(self, block),
            slots: PageSlots::new(),
        };
        ctx.val_at = std::ptr::addr_of_mut!(ctx.val) as u64;
        loop {
            let pc = self.pc;
            // `code_epoch` and `halt` still hold: a helper that saw the epoch move or a stop
            // set `halt`, and then the loop below has already returned.
            ctx.base = self.retired;
            ctx.entry = entry as u64;
            let pc0 = pc.wrapping_sub(delta);
            // Fresh pointers for each call: `self` and `bus` are used directly in between.
            ctx.hart = self;
            ctx.bus = bus;
            ctx.pc0 = pc0;
            // SAFETY: compiled from this block's region for this host; it touches the hart, the
            // bus and ctx only as the interpreter would (see `translate`).
            let next = unsafe { f(&mut ctx) };
            if next & 1 != 0 {
                let r = if next == helpers::EXIT_TRAP { Err(self.trapped) } else { Ok(()) };
                return Some((r, block, pc));
            }
            // The region left from member `ctx.exit`: the block whose links lead on.
            // SAFETY: compiled code sets `exit` to one of its members; `region` is the running
            // block's, allocated until the next `collect`.
            let m = unsafe { *ctx.region.add(ctx.exit as usize) };
            block = m.block;
            let from = pc0.wrapping_add(m.delta);
            self.pc = next;
            self.retired = ctx.base;
            // The run loop's own condition for running another block.
            if self.stop || self.retired >= self.slice_end {
                return Some((Ok(()), block, from));
            }
            // SAFETY: as above; a link is only followed while its epoch holds, so it leads to a
            // live block.
            let linked = unsafe { (*block).follow_edge(next, self.code.epoch()) };
            let Some((to, edge)) = linked.or_else(|| if ctx.halt == 0 { self.relink(block, next) } else { None }) else {
                return Some((Ok(()), block, from));
            };
            // SAFETY: as above.
            let t = unsafe { &*to };
            match t.jit.f {
                Some(g) if t.insns.len() as u64 <= self.slice_end - self.retired => {
                    cov::chain(self, &mut ctx, to, edge);
                    (f, entry, delta) = (g, t.jit.entry, t.jit.delta);
                    ctx.region = t.jit.region.as_ptr();
                    // SAFETY: as above.
                    ctx.xlimit = if unsafe { (*to).jit.cross_ok(&self.code, next) } { ctx.limit } else { 0 };
                    block = to;
                }
                _ => return Some((Ok(()), block, from)),
            }
        }
    }

    /// No link of `block` leads to `next`: the block the run loop would find there without
    /// decoding or translating (the decode cache's page for `next`, if its index knows it),
    /// linked from `block` as the run loop would link it. Only while no helper saw a stop or
    /// a decode-cache change (`ctx.halt`); else the run loop goes on with a fresh `Ctx`.
    /// Returns do not stay linked (more callers than links), and going back to the run loop
    /// for each cost nbody a `Ctx` per return. Not with coverage: the run loop counts edges.
    #[inline(never)]
    fn relink(&mut self, block: Block, next: u64) -> Option<(Block, u32)> {
        if self.cov.is_some() {
            return None;
        }
        let to = match self.code.lookup(next) {
            Some(b) => b,
            None if self.code.select(next >> 12) => self.code.lookup(next)?,
            None => return None,
        };
        // SAFETY: as in `jit_run`: `block` is live until the next `collect`.
        unsafe { (*block).link(next, to, self.code.epoch(), 0) };
        Some((to, 0))
    }

    /// `block` (at `self.pc`) has run often enough to look for or compile code: forms its
    /// region from the blocks of its decoded page (a single block on harts with coverage).
    #[cold]
    #[inline(never)]
    fn tier_up(&mut self, block: Block) {
        // SAFETY: as in `jit_run`.
        let slot = unsafe { &mut (*block).jit };
        if slot.job.is_some() {
            return slot.poll();
        }
        let instr = self.cov.is_some();
        let page = self.code.page_holding(self.pc, block);
        let vpn = self.pc >> 12;
        let near = [vpn.checked_sub(1).and_then(|v| self.code.page_of(v)), self.code.page_of(vpn + 1)];
        // Instructions straddling the end of the previous, this or the next page.
        let mut straddlers = [(0, std::ptr::null_mut()); 3];
        let mut n = 0;
        for end in [(vpn << 12).wrapping_sub(2), (vpn << 12) + 0xffe, (vpn << 12) + 0x1ffe] {
            if let Some(b) = self.code.straddler_at(end) {
                straddlers[n] = (end.wrapping_sub(self.pc), b);
                n += 1;
            }
        }
        let region = region::form(page, near, &straddlers[..n], block, self.pc & 0xfff, instr);
        // SAFETY: as in `jit_run`.
        unsafe { (*block).jit.tier_up(region, instr) };
    }
}
