//! The calls compiled code makes back into the interpreter: the slow paths of loads and stores
//! (TLB miss, misaligned, MMIO, code-page writes, faults) and whole instructions the
//! translator does not emit itself. Each mirrors what `Hart::run_block` does for that
//! instruction, so a compiled block leaves the hart exactly as the interpreter would.
//!
//! Every helper first sets `retired` to the count before its instruction (CSR and CLINT reads
//! see it; compiled code stores `retired` at the start of the current region member in
//! `ctx.base` before each call), and on a trap or an early stop leaves `pc`, `retired` and
//! `trapped` as the interpreter would and returns an odd status the compiled code passes
//! straight back.
use super::Ctx;
use crate::bus::Bus;
use crate::hart::execute::TRAPPED;
use crate::hart::packed::Packed;
use crate::hart::trap::Trap;
use crate::hart::{trigger, Event, Hart};

/// Helper status: carry on with the next instruction.
pub const CONTINUE: u64 = 0;
/// The instruction trapped: `pc` is its pc, `retired` counts the ones before it, the trap is
/// in `trapped`.
pub const EXIT_TRAP: u64 = 1;
/// The block ended early without a trap (a store asked the loop to stop, or a host
/// breakpoint): `pc` and `retired` are set.
pub const EXIT_OK: u64 = 3;

/// `info` packs the instruction's offset from the region's entry pc (bits 32..64, signed), its
/// index in the block (bits 16..32), its length (bits 8..16), and for loads the access size in
/// bytes (bits 0..4) and whether it sign-extends (bit 4).
pub const fn info(delta: u64, k: usize, len: u64, size: u64, signed: bool) -> u64 {
    // A region spans three pages and a block fewer than 2^16 instructions.
    debug_assert!(delta as i64 == delta as i32 as i64 && k < 1 << 16);
    (delta as i32 as u32 as u64) << 32 | (k as u64) << 16 | len << 8 | size | (signed as u64) << 4
}

/// The hart, the bus and the context of a call from compiled code.
///
/// # Safety
/// `ctx` is the context compiled code was called with: its hart and bus are live and
/// unaliased for the duration of the call.
unsafe fn parts<'a>(ctx: *mut Ctx) -> (&'a mut Hart, &'a mut Bus, &'a mut Ctx) {
    let ctx = &mut *ctx;
    (&mut *ctx.hart, &mut *ctx.bus, ctx)
}

/// The pc of the instruction `info` describes.
fn pc_of(ctx: &Ctx, info: u64) -> u64 {
    ctx.pc0.wrapping_add((info as i64 >> 32) as u64)
}

/// The TLB may have been refilled, grown or flushed: compiled code reads its view from ctx.
/// Also records in `ctx.halt` whether the hart now wants the run loop to look at it, and then
/// zeroes `ctx.limit`, the slice's end as compiled code sees it, so that no further member
/// fits.
#[inline(always)]
fn refresh(ctx: &mut Ctx, h: &Hart) {
    let (r, w, mask, epoch) = h.tlb.raw();
    ctx.read = r;
    ctx.write = w;
    ctx.mask = mask;
    ctx.epoch = epoch;
    // The TLB or a mapping may have changed (a refill, a flush, a frame copied on write).
    ctx.slots.clear();
    // A block that loops on itself goes round again only where the run loop would follow its
    // link back to it: no stop request and the decode cache unchanged (same epoch).
    if h.stop || h.code.epoch() != ctx.code_epoch {
        ctx.halt = 1;
        ctx.limit = 0;
        ctx.xlimit = 0;
    }
}

/// What `run_block` does when instruction `k` (at `pc`, `len` bytes) returns `t`.
fn finish(h: &mut Hart, ctx: &Ctx, t: Trap, pc: u64, k: u64, len: u64) -> u64 {
    if t == Trap::STOP {
        h.pc = pc.wrapping_add(len);
        h.retired = ctx.base + k + 1;
        return EXIT_OK;
    }
    if t == trigger::HOLD {
        h.pc = pc;
        h.retired = ctx.base + k;
        h.raise(Event::Budget);
        return EXIT_OK;
    }
    h.trapped = t;
    h.pc = pc;
    h.retired = ctx.base + k;
    EXIT_TRAP
}

/// A load (at `ctx.va`, `ctx.info`) that missed the inline TLB check; the value goes to
/// `ctx.val` as loaded (zero-extended: compiled code then reads it from there with the
/// instruction's own width and extension, as it reads guest memory on a hit).
pub extern "C" fn load(ctx: *mut Ctx) -> u64 {
    // SAFETY: compiled code passes the context its caller gave it (`parts`).
    let (h, bus, ctx) = unsafe { parts(ctx) };
    let (va, info, pc) = (ctx.va, ctx.info, pc_of(ctx, ctx.info));
    let k = (info >> 16) & 0xffff;
    h.retired = ctx.base + k;
    let r = match info & 15 {
        1 => h.load::<1>(bus, va),
        2 => h.load::<2>(bus, va),
        4 => h.load::<4>(bus, va),
        _ => h.load::<8>(bus, va),
    };
    refresh(ctx, h);
    match r {
        Ok(v) => {
            ctx.val = v;
            CONTINUE
        }
        Err(t) => finish(h, ctx, t, pc, k, (info >> 8) & 0xff),
    }
}

/// A store (of `ctx.val` at `ctx.va`, `ctx.info`) that missed the inline TLB check (or goes to
/// a page holding code, MMIO or HTIF).
pub extern "C" fn store(ctx: *mut Ctx) -> u64 {
    // SAFETY: as in `load`.
    let (h, bus, ctx) = unsafe { parts(ctx) };
    let (va, value, info, pc) = (ctx.va, ctx.val, ctx.info, pc_of(ctx, ctx.info));
    let k = (info >> 16) & 0xffff;
    h.retired = ctx.base + k;
    let r = match info & 15 {
        1 => h.store::<1>(bus, va, value),
        2 => h.store::<2>(bus, va, value),
        4 => h.store::<4>(bus, va, value),
        _ => h.store::<8>(bus, va, value),
    };
    refresh(ctx, h);
    match r {
        Ok(()) => CONTINUE,
        Err(t) => finish(h, ctx, t, pc, k, (info >> 8) & 0xff),
    }
}

/// `exec`'s instruction argument: instruction `k` of member `member` of the region.
pub const fn exec_index(member: usize, k: usize) -> u64 {
    (member as u64) << 16 | k as u64
}

/// Runs instruction `ctx.info` (`exec_index(m, k)`) of the region (`ctx.region`), at pc
/// `ctx.va`, through its interpreter handler. Compiled code has written every register back before the call and reloads them
/// after it. Returns the next pc (even), or an exit status (odd).
pub extern "C" fn exec(ctx: *mut Ctx) -> u64 {
    // SAFETY: as in `load`.
    let (h, bus, ctx) = unsafe { parts(ctx) };
    let (pc, index) = (ctx.va, ctx.info);
    let k = index & 0xffff;
    // SAFETY: `ctx.region` holds the members of the region being run, compiled from the same
    // instructions (so the member and `k` are in it); they stay allocated until the run loop's
    // next `collect`.
    let insn: &Packed = unsafe { &(*(*ctx.region.add((index >> 16) as usize)).block).insns[k as usize] };
    h.retired = ctx.base + k;
    let next = (insn.handler)(h, bus, insn, pc);
    refresh(ctx, h);
    // The handler may have written frm or fflags (a CSR write, an F/D instruction's flags).
    ctx.fgate = fp_gates(h);
    if next == TRAPPED {
        let t = h.trapped;
        return finish(h, ctx, t, pc, k, insn.len());
    }
    next
}

/// The F/D arithmetic's gates for the static nearest-even mode and the dynamic one (see
/// `translate`'s `fp::gate`, and `fp::store_gates`, which computes the same in compiled code):
/// -2 when the mode is nearest-even and NX has accrued, at least 0x1000 - 2 otherwise.
pub(crate) fn fp_gates(h: &Hart) -> [u64; 2] {
    let nx = (h.fp.fflags & 1) as u64;
    let both = (h.fp.frm as u64) << 8 | nx;
    [nx, both].map(|v| ((v ^ 1) << 12).wrapping_sub(2))
}
