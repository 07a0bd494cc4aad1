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
mod region;
mod translate;

use crate::bus::Bus;
use crate::hart::decode_cache::Block;
use crate::hart::trap::Trap;
use crate::hart::Hart;
use crate::mmu::tlb::Entry;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use exec_mem::ExecMem;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
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
/// programs run nearly everything compiled; benches may try others.
pub fn set_threshold(n: u32) {
    THRESHOLD_NOW.store(n.max(1), Relaxed);
}

/// What compiled code reads besides the hart: the TLB tables as of entry (helpers refresh
/// them), the slice's `retired` at block entry, and a helper's loaded value.
#[repr(C)]
pub(crate) struct Ctx {
    read: *const Entry,
    write: *const Entry,
    mask: u64,
    epoch: u64,
    base: u64,
    val: u64,
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
    /// Coverage/cmplog state of instrumented code (`cov`).
    cov: cov::CovCtx,
}

/// Byte offsets of [`Ctx`] fields, for the translator.
pub(crate) struct CtxOffsets {
    read: i32,
    write: i32,
    mask: i32,
    epoch: i32,
    val: i32,
    base: i32,
    limit: i32,
    halt: i32,
    exit: i32,
}

pub(crate) const CTX_BASE_OFFSETS: CtxOffsets = CtxOffsets {
    read: std::mem::offset_of!(Ctx, read) as i32,
    write: std::mem::offset_of!(Ctx, write) as i32,
    mask: std::mem::offset_of!(Ctx, mask) as i32,
    epoch: std::mem::offset_of!(Ctx, epoch) as i32,
    val: std::mem::offset_of!(Ctx, val) as i32,
    base: std::mem::offset_of!(Ctx, base) as i32,
    limit: std::mem::offset_of!(Ctx, limit) as i32,
    halt: std::mem::offset_of!(Ctx, halt) as i32,
    exit: std::mem::offset_of!(Ctx, exit) as i32,
};

type Compiled = unsafe extern "C" fn(*mut Hart, *mut Bus, *mut Ctx, u64) -> u64;

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
    /// The blocks `code` was compiled from, this block first (see `region`): blocks of this
    /// block's decoded page, which lives as long as this block.
    region: Box<[region::Member]>,
    hits: u32,
    /// Compiling failed once; the block stays interpreted.
    failed: bool,
}

/// A block that has run this many times looks for code another block with the same
/// instructions already has (a fork finds its template's code long before it would compile
/// its own); capped by the threshold.
const PROBE: u32 = 8;

thread_local! {
    static COMPILED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static JOINED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static REUSED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

static COMPILED: AtomicU64 = AtomicU64::new(0);
static COMPILED_INSNS: AtomicU64 = AtomicU64::new(0);
static COMPILE_NANOS: AtomicU64 = AtomicU64::new(0);
static REUSED: AtomicU64 = AtomicU64::new(0);

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
}

pub fn stats() -> Stats {
    Stats {
        compiled: COMPILED.load(Relaxed),
        compiled_insns: COMPILED_INSNS.load(Relaxed),
        compile_nanos: COMPILE_NANOS.load(Relaxed),
        reused: REUSED.load(Relaxed),
    }
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
        cranelift_native::builder().ok()?.finish(settings::Flags::new(f)).ok()
    })
    .as_ref()
}

impl Slot {
    /// Counts one interpreted run; true when it is time to look for code ([`PROBE`] runs) or
    /// to compile (the threshold). A failed compile is not retried.
    #[inline(always)]
    fn count(&mut self) -> bool {
        self.hits = self.hits.saturating_add(1);
        let threshold = THRESHOLD_NOW.load(Relaxed);
        !self.failed && (self.hits == PROBE.min(threshold) || self.hits >= threshold)
    }

    /// Takes the code compiled for the same region if there is any (`cache`); at the
    /// threshold, compiles (and shares) it. `instr`: the hart has coverage on, so the code is
    /// instrumented (`cov`) and the region is this block alone.
    #[cold]
    fn tier_up(&mut self, region: Vec<region::Member>, instr: bool) {
        let key = cache::key(&region, instr);
        if let Some(code) = cache::get(&key) {
            self.f = Some(code.f);
            self.code = Some(code);
            JOINED_HERE.with(|c| c.set(c.get() + region.len() as u64 - 1));
            self.region = region.into_boxed_slice();
            REUSED.fetch_add(1, Relaxed);
            REUSED_HERE.with(|c| c.set(c.get() + 1));
            return;
        }
        if self.hits < THRESHOLD_NOW.load(Relaxed) {
            return;
        }
        self.failed = true;
        if region::mostly_fp(region[0].insns()) {
            return;
        }
        let Some(isa) = isa() else { return };
        let t0 = std::time::Instant::now();
        let members: Vec<(u64, &[crate::hart::packed::Packed])> = region.iter().map(|m| (m.delta, m.insns())).collect();
        let Some(bytes) = translate::compile(isa, &members, instr) else { return };
        let (insns, joined) = (members.iter().map(|m| m.1.len()).sum::<usize>(), members.len() - 1);
        let Some(mem) = ExecMem::new(&bytes) else { return };
        // SAFETY: `mem` holds a function Cranelift compiled with this signature for this host.
        let f: Compiled = unsafe { std::mem::transmute::<*const u8, Compiled>(mem.as_ptr()) };
        let code = Arc::new(Code { f, _mem: mem });
        cache::put(key, code.clone());
        self.f = Some(f);
        self.code = Some(code);
        self.region = region.into_boxed_slice();
        self.failed = false;
        COMPILE_NANOS.fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
        COMPILED.fetch_add(1, Relaxed);
        COMPILED_INSNS.fetch_add(insns as u64, Relaxed);
        COMPILED_HERE.with(|c| c.set(c.get() + 1));
        JOINED_HERE.with(|c| c.set(c.get() + joined as u64));
    }

    pub fn is_compiled(&self) -> bool {
        self.code.is_some()
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
        let mut f = match b.jit.f {
            Some(f) => f,
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
            read,
            write,
            mask,
            epoch,
            base: self.retired,
            val: 0,
            limit: self.slice_end,
            halt: 0,
            code_epoch,
            region: b.jit.region.as_ptr(),
            exit: 0,
            cov: cov::CovCtx::new(self, block),
        };
        loop {
            let pc = self.pc;
            // `code_epoch` and `halt` still hold: a helper that saw the epoch move or a stop
            // set `halt`, and then the loop below has already returned.
            ctx.base = self.retired;
            // SAFETY: compiled from this block's region for this host; it touches the hart, the
            // bus and ctx only as the interpreter would (see `translate`).
            let next = unsafe { f(self, bus, &mut ctx, pc) };
            if next & 1 != 0 {
                let r = if next == helpers::EXIT_TRAP { Err(self.trapped) } else { Ok(()) };
                return Some((r, block, pc));
            }
            // The region left from member `ctx.exit`: the block whose links lead on.
            // SAFETY: compiled code sets `exit` to one of its members; `region` is the running
            // block's, allocated until the next `collect`.
            let m = unsafe { *ctx.region.add(ctx.exit as usize) };
            block = m.block;
            let from = pc.wrapping_add(m.delta);
            self.pc = next;
            self.retired = ctx.base;
            // The run loop's own condition for running another block.
            if self.stop || self.retired >= self.slice_end {
                return Some((Ok(()), block, from));
            }
            // SAFETY: as above; a link is only followed while its epoch holds, so it leads to a
            // live block.
            let Some((to, edge)) = (unsafe { (*block).follow_edge(next, self.code.epoch()) }) else {
                return Some((Ok(()), block, from));
            };
            // SAFETY: as above.
            let t = unsafe { &*to };
            match t.jit.f {
                Some(g) if t.insns.len() as u64 <= self.slice_end - self.retired => {
                    cov::chain(self, &mut ctx, to, edge);
                    f = g;
                    ctx.region = t.jit.region.as_ptr();
                    block = to;
                }
                _ => return Some((Ok(()), block, from)),
            }
        }
    }

    /// `block` (at `self.pc`) has run often enough to look for or compile code: forms its
    /// region from the blocks of its decoded page (a single block on harts with coverage).
    #[cold]
    #[inline(never)]
    fn tier_up(&mut self, block: Block) {
        let instr = self.cov.is_some();
        let page = self.code.page_holding(self.pc, block);
        let region = region::form(page, block, self.pc & 0xfff, instr);
        // SAFETY: as in `jit_run`.
        unsafe { (*block).jit.tier_up(region, instr) };
    }
}

#[cfg(test)]
mod tests {
    use super::region::mostly_fp;
    use crate::hart::packed::Packed;
    use crate::isa::decode;

    const FADD_D: u32 = 0x02b5_7553; // fadd.d fa0, fa0, fa1 (rm = dyn)
    const FMUL_D: u32 = 0x12b5_7553; // fmul.d fa0, fa0, fa1
    const ADDI: u32 = 0x0015_0513; // addi a0, a0, 1
    const BNE: u32 = 0xfe05_1ee3; // bne a0, zero, -4

    fn block(words: &[u32]) -> Vec<Packed> {
        words.iter().map(|&w| Packed::new(decode(w))).collect()
    }

    #[test]
    fn blocks_mostly_of_fp_instructions_stay_interpreted() {
        assert!(decode(FADD_D).op.is_fp() && decode(FMUL_D).op.is_fp() && !decode(ADDI).op.is_fp());
        assert!(mostly_fp(&block(&[FADD_D, FMUL_D, BNE])));
        assert!(!mostly_fp(&block(&[FADD_D, ADDI, BNE])), "one F/D instruction in three compiles");
        assert!(!mostly_fp(&block(&[FADD_D, ADDI])), "half and half compiles");
        assert!(!mostly_fp(&block(&[ADDI, BNE])));
    }
}
