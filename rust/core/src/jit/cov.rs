//! Fuzzing coverage and cmplog in compiled code (`hart/cov.rs` has the interpreter's side).
//!
//! A hart with coverage on runs *instrumented* code: a different function from the one a hart
//! without coverage runs for the same instructions (the code cache keys on the mode, see
//! `cache::key`), so code compiled for ordinary harts carries no trace of any of this. The
//! instrumented code leaves exactly the hit map bytes and cmplog records the interpreter
//! would, at every budget cut and trap, because it counts each thing where the interpreter's
//! run loop or handler does:
//!
//! - **Entry edge**: the run loop counts the edge into a block before it runs it, compiled or
//!   not (nothing here).
//! - **Edges between compiled blocks**: the chaining loop (`Hart::jit_run`) follows the same
//!   link the run loop would and counts the link's interned edge id ([`chain`]) only when it
//!   really enters the next block compiled; otherwise it returns and the run loop follows the
//!   link and counts it itself.
//! - **Self-loop back edge**: a block that jumps back to its own start goes round inside the
//!   compiled code. Each round counts the edge block -> block inline ([`emit_back_edge`]: one
//!   saturating byte increment of a cell whose address `ctx.cov.loop_cell` holds). The first
//!   round of each entry finds the cell empty and calls [`back_edge`], which does what the run
//!   loop does at that point: follow the block's link to itself, or intern the edge
//!   (start pc, start pc) and link it. Interning lazily keeps ids in the interpreter's order of
//!   discovery, which is what makes the maps byte-identical.
//! - **Cmplog**: `beq..bgeu` (and the compressed forms, which decode to them), `slt/sltu/slti/
//!   sltiu` record (pc, operands) before they execute, as the interpreter's logging handlers do,
//!   through a cold call to [`cmp`]. Compiled code tests `ctx.cov.cmp_room` first, so once the
//!   log is full (`CMPLOG_CAP`, which a loop reaches quickly) or with cmplog off, a compare
//!   costs one load and a not-taken branch.
use super::Ctx;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use crate::hart::cov::CMPLOG_CAP;
use crate::hart::decode_cache::Block;
use crate::hart::Hart;
use crate::isa::Op;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, Value};
use cranelift_frontend::FunctionBuilder;

const I64: cranelift_codegen::ir::Type = types::I64;

/// The coverage part of [`Ctx`] (its field `cov`).
#[repr(C)]
pub(crate) struct CovCtx {
    /// The hit-map cell of the running block's self-loop edge; null until its first round in
    /// this entry (then [`back_edge`] fills it).
    loop_cell: *mut u8,
    /// Non-zero while cmplog is on and the log has room.
    cmp_room: u64,
    /// The block being run (its link to itself is the self-loop edge).
    block: Block,
    /// The hit map's first cell (null without coverage) and its length - 1, so the chaining
    /// loop counts an edge without going through the hart's `Coverage`.
    map: *const AtomicU8,
    mask: usize,
}

impl CovCtx {
    /// The state for entering `block` on hart `h` (all zero without coverage).
    #[inline(always)]
    pub(crate) fn new(h: &Hart, block: Block) -> CovCtx {
        match &h.cov {
            None => CovCtx { loop_cell: std::ptr::null_mut(), cmp_room: 0, block, map: std::ptr::null(), mask: 0 },
            Some(c) => CovCtx {
                loop_cell: std::ptr::null_mut(),
                cmp_room: (c.cmplog_enabled() && c.cmps().len() < CMPLOG_CAP) as u64,
                block,
                map: c.hits().as_mut_ptr() as *const AtomicU8,
                mask: c.hits().len() - 1,
            },
        }
    }
}

fn off(field: usize) -> i32 {
    (std::mem::offset_of!(Ctx, cov) + field) as i32
}

fn loop_cell_offset() -> i32 {
    off(std::mem::offset_of!(CovCtx, loop_cell))
}

fn cmp_room_offset() -> i32 {
    off(std::mem::offset_of!(CovCtx, cmp_room))
}

/// The chaining loop enters compiled block `to` through a link with edge id `edge`: count the
/// edge, as the run loop would when following that link, and make `to` the running block.
#[inline(always)]
pub(crate) fn chain(_h: &Hart, ctx: &mut Ctx, to: Block, edge: u32) {
    let c = &mut ctx.cov;
    if !c.map.is_null() {
        // SAFETY: `map` is the first of `mask + 1` cells of the hart's hit map, which its
        // `Coverage` keeps alive for the whole run (`HitMap::bump`, the same count).
        let cell = unsafe { &*c.map.add(edge as usize & c.mask) };
        cell.store(cell.load(Relaxed).saturating_add(1), Relaxed);
        c.block = to;
        c.loop_cell = std::ptr::null_mut();
    }
}

/// First self-loop round of an entry: the edge id the run loop would count here (the block's
/// link to itself at `pc`, created with a freshly interned edge if missing), as the address of
/// its hit-map cell. Compiled code increments the cell.
pub(crate) extern "C" fn back_edge(ctx: *mut Ctx) -> u64 {
    // SAFETY: compiled code passes the context its caller gave it, whose hart is live and
    // unaliased for the duration of the block; `ctx.cov.block` is the block being run,
    // allocated until the run loop's next `collect`.
    let ctx = unsafe { &mut *ctx };
    let (h, pc) = unsafe { (&mut *ctx.hart, ctx.pc0) };
    let b = unsafe { &mut *ctx.cov.block };
    let epoch = h.code.epoch();
    // Instrumented code runs only on harts with coverage (switching it drops all code); were
    // that ever broken, count into a scratch cell rather than unwind out of compiled code.
    let Some(cov) = h.cov.as_deref_mut() else {
        static SCRATCH: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        return SCRATCH.as_ptr() as u64;
    };
    let edge = match b.follow_edge(pc, epoch) {
        Some((_, e)) => e,
        None => {
            let e = cov.edge_id(pc, pc);
            b.link(pc, ctx.cov.block, epoch, e);
            e
        }
    };
    let map = cov.hits();
    // SAFETY: masked to the map's length (a power of two).
    let cell = unsafe { map.as_mut_ptr().add(edge as usize & (map.len() - 1)) };
    ctx.cov.loop_cell = cell;
    cell as u64
}

/// Logs one comparison, as the interpreter's logging handler does; clears `ctx.cov.cmp_room`
/// once the log is full.
pub(crate) extern "C" fn cmp(ctx: *mut Ctx, delta: u64, a: u64, b: u64) -> u64 {
    // SAFETY: as in `back_edge`.
    let ctx = unsafe { &mut *ctx };
    let (h, pc) = unsafe { (&mut *ctx.hart, ctx.pc0.wrapping_add(delta)) };
    if let Some(c) = h.cov.as_deref_mut() {
        c.log_cmp(pc, a, b);
        if c.cmps().len() >= CMPLOG_CAP {
            ctx.cov.cmp_room = 0;
        }
    }
    0
}

/// The ops the interpreter's cmplog handlers log (`execute::handler_for_cmplog`).
pub(crate) fn logged(op: Op) -> bool {
    matches!(op, Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu | Op::Slt | Op::Sltu | Op::Slti | Op::Sltiu)
}

fn sig(b: &FunctionBuilder, params: usize) -> Signature {
    let mut s = Signature::new(b.func.signature.call_conv);
    s.params.extend((0..params).map(|_| AbiParam::new(I64)));
    s.returns.push(AbiParam::new(I64));
    s
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// One round of a self-loop is about to start (the run loop would follow the back edge now):
/// count the edge block -> block. `ctx` is the compiled function's argument.
pub(crate) fn emit_back_edge(b: &mut FunctionBuilder, ctx: Value) {
    let cell = b.ins().load(I64, flags(), ctx, loop_cell_offset());
    let slow = b.create_block();
    let bump = b.create_block();
    let at = b.append_block_param(bump, I64);
    b.ins().brif(cell, bump, &[cell.into()], slow, &[]);
    b.switch_to_block(slow);
    b.seal_block(slow);
    b.set_cold_block(slow);
    let s = b.import_signature(sig(b, 1));
    let f = b.ins().iconst(I64, back_edge as *const () as i64);
    let call = b.ins().call_indirect(s, f, &[ctx]);
    let cell = b.inst_results(call)[0];
    b.ins().jump(bump, &[cell.into()]);
    b.switch_to_block(bump);
    b.seal_block(bump);
    // The hit map's saturating byte increment (`HitMap::bump`).
    let v = b.ins().uload8(I64, flags(), at, 0);
    let below = b.ins().icmp_imm_s(IntCC::NotEqual, v, 255);
    let inc = b.ins().uextend(I64, below);
    let v = b.ins().iadd(v, inc);
    b.ins().istore8(flags(), v, at, 0);
}

/// A logged comparison of `x` and `y` by the instruction `delta` bytes after the region's entry
/// pc (before it executes).
pub(crate) fn emit_cmp(b: &mut FunctionBuilder, ctx: Value, delta: u64, x: Value, y: Value) {
    let room = b.ins().load(I64, flags(), ctx, cmp_room_offset());
    let log = b.create_block();
    let cont = b.create_block();
    b.ins().brif(room, log, &[], cont, &[]);
    b.switch_to_block(log);
    b.seal_block(log);
    b.set_cold_block(log);
    let s = b.import_signature(sig(b, 4));
    let f = b.ins().iconst(I64, cmp as *const () as i64);
    let delta = b.ins().iconst(I64, delta as i64);
    b.ins().call_indirect(s, f, &[ctx, delta, x, y]);
    b.ins().jump(cont, &[]);
    b.switch_to_block(cont);
    b.seal_block(cont);
}
