//! A region of decoded blocks (`region`) to host code through Cranelift.
//!
//! The compiled function is `fn(ctx) -> u64` (`jit::Ctx`: the hart, the bus, `ctx.pc0` the
//! entry's pc, and what else helpers and the chaining loop share with the code), and does what the run loop does with `Hart::run_block` for the region's blocks, one after the
//! other, starting at member `ctx.entry` (the entry, or a later member of the entry's page
//! run from its own start, see `Slot::install`): it returns the next pc
//! (even) after the last block it ran, with `ctx.base` = `retired` after it and `ctx.exit` =
//! which member that was, or an odd exit status from a helper (see `helpers`), in which case
//! the helper already set `pc`, `retired` and the trap.
//!
//! - Each member is a Cranelift block; a member goes to the next one directly when the run
//!   loop would run that block next: the target is a member, the whole block fits before the
//!   slice's end (`ctx.limit`, which a helper that sees a stop request zeroes). Otherwise the
//!   region returns the target pc and the chaining loop or the interpreter goes on from there,
//!   so budgets end at exactly the interpreter's instruction.
//! - Guest registers are loaded into SSA variables at entry, kept there across members, and
//!   stored back at every exit (those the region writes), so a trap in the middle leaves
//!   exactly the writes of the instructions before it.
//! - `retired` at the start of the current member is an SSA value too; helpers get it through
//!   `ctx.base`, stored before each call, and count their instruction from it.
//! - Every pc is the entry pc plus a constant: the same frame may be mapped at several virtual
//!   addresses, and the interpreter computes `auipc`, links and targets from the run-time pc.
//! - Loads and stores check the base register's page slot (`jit::PageSlots`), then the hart's
//!   TLB (the same entries the interpreter's fast path uses), and require natural alignment
//!   there; anything else calls the helper, which runs the interpreter's own
//!   `Hart::load`/`Hart::store`.
//! - F/D instructions are emitted by `fp` (inline where the host's answer is exactly the
//!   interpreter's, else their handler). Instructions without a translation (A, CSRs, system)
//!   call their interpreter handler through `helpers::exec`, with registers written back
//!   before and reloaded after.
use super::helpers::{self, info};
use super::thunk::{self, Call};
use super::{PageSlots, CTX_BASE_OFFSETS};
use crate::hart::packed::Packed;
use crate::hart::Hart;
use crate::isa::Op;
use crate::mmu::tlb::RAW_MASK;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, SigRef, UserFuncName, Value};
use cranelift_codegen::ir::{Function, JumpTableData, Type};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{control::ControlPlane, Context};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

// F/D emitters: a child module, so they reach `Tx` as this module's own code does.
#[path = "fp.rs"]
mod fp;
// Dirty registers at heads and loops: a child module, beside `fp`, whose register fields it reads.
#[path = "flow.rs"]
mod flow;
use flow::{head_dirty, loops, Loop};

const I64: Type = types::I64;
const I32: Type = types::I32;

/// Hart fields the compiled code touches directly.
fn x_offset(r: usize) -> i32 {
    (std::mem::offset_of!(Hart, x) + 8 * r) as i32
}

/// Every helper compiled code calls is `fn(ctx) -> u64` (its other arguments go through ctx).
struct Sigs {
    /// The C convention: direct calls.
    helper: SigRef,
    /// The `PreserveAll` signature of the slow-path thunks (`thunk`), if the process has
    /// them; else slow paths call the helpers directly (`thunk::calls` says which).
    thunks: Option<SigRef>,
}

struct Tx<'a> {
    b: FunctionBuilder<'a>,
    /// The function's one argument (`jit::Ctx`). The hart and the entry pc are read from it
    /// where they are used (`hart`, `pc`), not kept in registers: outside F/D code they are
    /// used only on exits and slow paths, and holding them cost spills in hot loops.
    ctx: Value,
    /// The hart, loaded at the head of a member with F/D instructions (they read and write f
    /// registers in the hart throughout).
    hv: Option<Value>,
    vars: [Option<Variable>; 32],
    /// Registers that may differ from the hart's copy: at the start of a member those of
    /// `head_dirty`, then tracked.
    dirty: u32,
    /// Every register some instruction of the region writes.
    written: u32,
    /// Per member, the registers that may be dirty at its head (`head_dirty`).
    head_dirty: Vec<u32>,
    /// The region's loops (`Loop`): an edge out of one reloads what it does not use.
    loops: Vec<Loop>,
    /// The f registers the region names, as F64 variables (raw bits: loads, stores and moves
    /// of F64 values keep NaN payloads), loaded at entry and after an `exec` call, stored at
    /// exits like the x registers (`fp::fget`/`fset`).
    fvars: [Option<Variable>; 32],
    /// The f registers that may differ from the hart's copy (as `dirty`).
    fdirty: u32,
    /// Per member, the f registers that may be dirty at its head.
    head_fdirty: Vec<u32>,
    sigs: Sigs,
    /// `retired` at the start of the member being translated.
    ret: Variable,
    /// `ctx.limit` and `ctx.xlimit` (if the region has foreign members), reloaded after every
    /// helper call (a helper that sees a stop request zeroes them).
    lim: Variable,
    xlim: Option<Variable>,
    /// The member being translated (its index in the region).
    bi: usize,
    heads: Vec<cranelift_codegen::ir::Block>,
    /// Each member's offset from the entry, length, and whether it is foreign (`region`).
    shape: Vec<(u64, u64, bool)>,
    /// Coverage and cmplog instrumentation (`jit::cov`); regions are single blocks then.
    instr: bool,
    /// What the F/D emitters (`fp`) know at this point of the member.
    fp: fp::Known,
}

/// How a member ends: into the member (or out of the region) at a known offset, a branch
/// between two, or a pc known only at run time (`jalr`, a handler's next pc).
enum End {
    To(u64),
    Branch(Value, u64, u64),
    Dynamic(Value),
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Guest memory: may be unaligned; the TLB entry guarantees it is mapped.
fn guest_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl Tx<'_> {
    fn get(&mut self, r: usize) -> Value {
        match self.vars[r] {
            Some(v) if r != 0 => self.b.use_var(v),
            _ => self.b.ins().iconst(I64, 0),
        }
    }

    fn set(&mut self, r: usize, v: Value) {
        if r == 0 {
            return;
        }
        let var = self.vars[r].expect("every register the region names has a variable");
        self.b.def_var(var, v);
        self.dirty |= 1 << r;
    }

    /// The hart (`ctx.hart`).
    fn hart(&mut self) -> Value {
        match self.hv {
            Some(h) => h,
            None => self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.hart),
        }
    }

    /// Stores the registers (x and f) written since the last flush.
    fn flush(&mut self) {
        if self.dirty & !1 == 0 && self.fdirty == 0 {
            return;
        }
        let h = self.hart();
        self.store_x(h, self.dirty);
        fp::flush(self, h, self.fdirty);
    }

    /// Stores the x registers of `mask` to the hart `h`.
    fn store_x(&mut self, h: Value, mask: u32) {
        for r in 1..32 {
            if mask & (1 << r) != 0 {
                let v = self.get(r);
                self.b.ins().store(flags(), v, h, x_offset(r));
            }
        }
    }

    /// Loads every register (x and f) the region uses from the hart (at entry and after a
    /// handler call).
    fn reload(&mut self) {
        let h = self.hart();
        self.load_x(h, u32::MAX);
        self.dirty = 0;
        fp::reload(self, h, u32::MAX);
    }

    /// Loads the x registers of `mask` that the region uses from the hart `h`.
    fn load_x(&mut self, h: Value, mask: u32) {
        for r in 1..32 {
            if let Some(var) = self.vars[r].filter(|_| mask & (1 << r) != 0) {
                let v = self.b.ins().load(I64, flags(), h, x_offset(r));
                self.b.def_var(var, v);
            }
        }
    }

    /// Before a helper call: helpers count `retired` from `ctx.base` (the member's start).
    fn before_call(&mut self) {
        let ret = self.b.use_var(self.ret);
        self.b.ins().store(flags(), ret, self.ctx, CTX_BASE_OFFSETS.base);
    }

    /// After a helper call that carries on. Nothing to reload: the TLB view (tables, epoch) and
    /// the slice's end are read from ctx at each use (`tlb`, `goto`), and a helper that
    /// refills or flushes the TLB, or sees a stop request or a decode-cache change (which
    /// zeroes `ctx.limit`, see `helpers::refresh`), updates ctx. Keeping them in SSA values
    /// instead cost four or five registers across every loop, i.e. spills in the hot path.
    fn after_call(&mut self) {
        self.load_limits();
    }

    fn load_limits(&mut self) {
        let o = CTX_BASE_OFFSETS;
        let v = self.b.ins().load(I64, flags(), self.ctx, o.limit);
        self.b.def_var(self.lim, v);
        if let Some(x) = self.xlim {
            let v = self.b.ins().load(I64, flags(), self.ctx, o.xlimit);
            self.b.def_var(x, v);
        }
    }

    /// Leaves the region after the current member: registers to the hart, `ctx.base` = the
    /// count after it, `ctx.exit` = which member it was, and `pc` returned.
    fn leave(&mut self, pc: Value, end: Value) {
        self.flush();
        self.b.ins().store(flags(), end, self.ctx, CTX_BASE_OFFSETS.base);
        let bi = self.b.ins().iconst(I64, self.bi as i64);
        self.b.ins().store(flags(), bi, self.ctx, CTX_BASE_OFFSETS.exit);
        self.b.ins().return_(&[pc]);
    }

    /// Control goes to `delta` after the current member, `end` being `retired` after it: into
    /// the member starting there if there is one and the run loop would run it next (the
    /// whole member fits before the slice's end, no stop seen), else out of the region.
    fn goto(&mut self, delta: u64, end: Value) {
        let Some(j) = self.shape.iter().position(|&(d, _, _)| d == delta) else {
            let pc = self.pc(delta);
            self.leave(pc, end);
            return;
        };
        debug_assert_eq!(self.dirty & !self.written, 0);
        debug_assert_eq!(self.fdirty & !self.head_fdirty[j], 0, "an edge head_dirty missed (f): member {} -> {j}", self.bi);
        let need = self.b.ins().iadd_imm_s(end, self.shape[j].1 as i64);
        // A block of the neighbouring page only while the chaining loop's check holds (`xlimit`).
        let lim = match (self.shape[j].2, self.xlim) {
            (true, Some(x)) => self.b.use_var(x),
            _ => self.b.use_var(self.lim),
        };
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, need, lim);
        let go = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(fits, go, &[], out, &[]);
        self.b.switch_to_block(go);
        self.b.seal_block(go);
        // Registers member j takes as clean (`head_dirty`: entering a loop that does not
        // write them) are stored on the way.
        let clean = self.dirty & !self.head_dirty[j];
        // Leaving a loop: registers clean here that it does not use are read again from the
        // hart, which holds their value, so their old values are not live through the loop.
        let (from, to) = (self.shape[self.bi].0 as i64, self.shape[j].0 as i64);
        let unused = self.loops.iter().filter(|l| l.holds(from) && !l.holds(to)).fold(0, |m, l| m | !l.uses);
        let declared = (1..32).filter(|&r| self.vars[r].is_some()).fold(0u32, |m, r| m | 1 << r);
        let reload = unused & declared & !(self.dirty & self.head_dirty[j]);
        if clean | reload != 0 {
            let h = self.hart();
            self.store_x(h, clean);
            self.load_x(h, reload);
        }
        self.b.def_var(self.ret, end);
        if self.instr {
            // Coverage regions are single blocks: this is the self-loop's back edge, which the
            // run loop would count when following the block's link to itself.
            super::cov::emit_back_edge(&mut self.b, self.ctx);
        }
        self.b.ins().jump(self.heads[j], &[]);
        self.b.switch_to_block(out);
        self.b.seal_block(out);
        let pc = self.pc(delta);
        self.leave(pc, end);
    }

    /// The pc `delta` bytes after the region's entry pc (`ctx.pc0`).
    fn pc(&mut self, delta: u64) -> Value {
        let pc0 = self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.pc0);
        self.b.ins().iadd_imm_s(pc0, delta as i64)
    }

    fn imm(&mut self, v: i64) -> Value {
        self.b.ins().iconst(I64, v)
    }

    /// If `status` is non-zero: store the dirty registers and return `status`.
    fn exit_if(&mut self, status: Value) {
        let exit = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(status, exit, &[], cont, &[]);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        self.b.set_cold_block(exit);
        let saved = self.dirty;
        self.flush();
        self.b.ins().return_(&[status]);
        self.dirty = saved;
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// The inline TLB check for an `n`-byte access at `va` in the read or write table:
    /// returns (hit, host pointer when hit). One compare checks the page, the epoch and the
    /// alignment (`mmu::tlb`): the tag is `page | epoch` with bits 0..3 clear, so keeping the
    /// address's low `n - 1` bits in the compared value makes a misaligned access miss. Aligned
    /// accesses never cross the page; the others take the helper, which does exactly what the
    /// interpreter does with them (split, trap or complete). The table and the epoch are read
    /// from ctx here (L1 hits) rather than kept in registers across the region. (Loading the
    /// addend only after the branch, with the epoch compare first, measured 2-3% more host
    /// instructions on sieve and matmul.)
    /// Returns (hit, page, addend): `page` is the address with the low bits cleared but those
    /// that make a misaligned access miss, `addend` the host address minus the guest's.
    fn tlb(&mut self, va: Value, n: u64, write: bool) -> (Value, Value, Value) {
        let o = CTX_BASE_OFFSETS;
        let b = &mut self.b;
        // The entry's byte offset: page number times 16, masked (`Tlb::raw`: the tables compiled
        // code sees always have `TLB_ENTRIES` entries).
        let idx = b.ins().ushr_imm_s(va, 8);
        let off = b.ins().band_imm_s(idx, RAW_MASK as i64);
        let tbl = b.ins().load(I64, flags(), self.ctx, if write { o.write } else { o.read });
        let e = b.ins().iadd(tbl, off);
        let tag = b.ins().load(I64, flags(), e, 0);
        let addend = b.ins().load(I64, flags(), e, 8);
        // Loaded last, right before its one use, so that it folds into the `or` (one register
        // fewer in the hot path).
        let epoch = b.ins().load(I64, flags(), self.ctx, o.epoch);
        let page = b.ins().band_imm_s(va, !0xfff | (n as i64 - 1));
        let want = b.ins().bor(page, epoch);
        let hit = b.ins().icmp(IntCC::Equal, tag, want);
        (hit, page, addend)
    }

    /// Calls a slow-path helper (`Call::Load`, `Store` or `Exec`) through its thunk if the
    /// process has thunks, else directly, `ctx.base` set first; returns its status. The thunk
    /// clobbers no register, so the hot path around it keeps its values in registers; it
    /// leaves the status in `ctx.status`.
    fn slow_call(&mut self, which: Call) -> Value {
        self.before_call();
        let f = self.callee(which);
        match self.sigs.thunks {
            Some(tsig) => {
                self.b.ins().call_indirect(tsig, f, &[self.ctx]);
                self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.status)
            }
            None => {
                let call = self.b.ins().call_indirect(self.sigs.helper, f, &[self.ctx]);
                self.b.inst_results(call)[0]
            }
        }
    }

    /// The address a call site calls, from `ctx.calls` (not a constant: see `Ctx::calls`).
    fn callee(&mut self, which: Call) -> Value {
        self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.calls + 8 * which as i32)
    }

    /// `helpers::exec`'s arguments for instruction `k` (at `delta`) of the current member: its
    /// pc in `ctx.va` and its index in `ctx.info`.
    fn exec_args(&mut self, k: usize, delta: u64) {
        let o = CTX_BASE_OFFSETS;
        let pc = self.pc(delta);
        self.b.ins().store(flags(), pc, self.ctx, o.va);
        let kk = self.imm(helpers::exec_index(self.bi, k) as i64);
        self.b.ins().store(flags(), kk, self.ctx, o.info);
    }

    fn load(&mut self, k: usize, i: &Packed, delta: u64, n: u64, signed: bool) {
        let v = self.load_value(k, i, delta, n, signed);
        self.set(i.rd(), v);
    }

    /// The value an `n`-byte load (instruction `k`: base `rs1`, offset `imm`) reads, inline
    /// through the TLB or through the helper (which may leave the region with a trap).
    fn load_value(&mut self, k: usize, i: &Packed, delta: u64, n: u64, signed: bool) -> Value {
        let host = self.access(k, i, delta, n, signed, None);
        let ins = self.b.ins();
        match (n, signed) {
            (8, _) if i.op() == Op::Fld => ins.load(types::F64, guest_flags(), host, 0),
            (1, false) => ins.uload8(I64, guest_flags(), host, 0),
            (1, true) => ins.sload8(I64, guest_flags(), host, 0),
            (2, false) => ins.uload16(I64, guest_flags(), host, 0),
            (2, true) => ins.sload16(I64, guest_flags(), host, 0),
            (4, false) => ins.uload32(guest_flags(), host, 0),
            (4, true) => ins.sload32(guest_flags(), host, 0),
            _ => ins.load(I64, guest_flags(), host, 0),
        }
    }

    fn store(&mut self, k: usize, i: &Packed, delta: u64, n: u64) {
        let value = self.get(i.rs2());
        self.store_value(k, i, delta, n, value);
    }

    /// An `n`-byte store of `value` (instruction `k`: base `rs1`, offset `imm`), inline through
    /// the TLB or through the helper (which may leave the region with a trap).
    fn store_value(&mut self, k: usize, i: &Packed, delta: u64, n: u64, value: Value) {
        let host = self.access(k, i, delta, n, false, Some(value));
        let ins = self.b.ins();
        match n {
            1 => ins.istore8(guest_flags(), value, host, 0),
            2 => ins.istore16(guest_flags(), value, host, 0),
            4 => ins.istore32(guest_flags(), value, host, 0),
            _ => ins.store(guest_flags(), value, host, 0),
        };
    }

    /// Where an `n`-byte load (`store`: None) or store of a value (instruction `k`: base `rs1`,
    /// offset `imm`) goes: on a hit the guest's bytes in host memory; on a miss the helper
    /// does the whole access (or leaves the region with a trap) and the address is `ctx.val`,
    /// which holds a load's value as loaded (and takes a store's bytes harmlessly). So the
    /// access itself, and the value stored, are emitted once, after the paths join, and
    /// nothing the hot path computes is computed again after the join.
    ///
    /// The hot path checks the base register's page slot (`jit::PageSlots`): the page an
    /// earlier access through the same register found in the TLB since the last helper call
    /// (helpers clear the slots: only they change the TLB or mappings), one compare against
    /// memory instead of the TLB lookup. A slot miss does the full TLB check out of line and
    /// records the page; a TLB miss calls the helper.
    fn access(&mut self, k: usize, i: &Packed, delta: u64, n: u64, signed: bool, store: Option<Value>) -> Value {
        let o = CTX_BASE_OFFSETS;
        let r = i.rs1();
        let write = store.is_some();
        let base = self.get(r);
        let va = self.b.ins().iadd_imm_s(base, i.imm() as i64);
        let join = self.b.create_block();
        // The addend: host address = va + addend (so the access folds the add into its address).
        let at = self.b.append_block_param(join, I64);
        let (read_off, write_off, add_off) = PageSlots::offsets(r);
        let tag_off = if write { write_off } else { read_off };

        let want = self.b.ins().band_imm_s(va, !0xfff | (n as i64 - 1));
        let tag = self.b.ins().load(I64, flags(), self.ctx, tag_off);
        let same = self.b.ins().icmp(IntCC::Equal, want, tag);
        let near = self.b.create_block();
        let full = self.b.create_block();
        self.b.ins().brif(same, near, &[], full, &[]);
        self.b.switch_to_block(near);
        self.b.seal_block(near);
        let addend = self.b.ins().load(I64, flags(), self.ctx, add_off);
        self.b.ins().jump(join, &[addend.into()]);

        // Not this slot's page: the TLB.
        self.b.switch_to_block(full);
        self.b.seal_block(full);
        self.b.set_cold_block(full);
        let (hit, page, addend) = self.tlb(va, n, write);
        let record = self.b.create_block();
        let slow = self.b.create_block();
        self.b.ins().brif(hit, record, &[], slow, &[]);
        self.b.switch_to_block(record);
        self.b.seal_block(record);
        self.b.set_cold_block(record);
        // A write hit allows reads of the page too (W implies R, and the write table leaves out
        // code pages only); a read hit clears the write tag, which may name another page whose
        // addend this one replaces.
        let none = self.imm(super::NO_PAGE as i64);
        self.b.ins().store(flags(), page, self.ctx, read_off);
        self.b.ins().store(flags(), if write { page } else { none }, self.ctx, write_off);
        self.b.ins().store(flags(), addend, self.ctx, add_off);
        self.b.ins().jump(join, &[addend.into()]);

        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        self.b.set_cold_block(slow);
        // The helper's arguments go through ctx: a call argument would pin `va` (and the value)
        // to an argument register, and the hot path's allocation with it.
        self.b.ins().store(flags(), va, self.ctx, o.va);
        let inf = self.imm(info(delta, k, i.len(), n, signed) as i64);
        self.b.ins().store(flags(), inf, self.ctx, o.info);
        let status = match store {
            None => self.slow_call(Call::Load),
            Some(value) => {
                self.b.ins().store(flags(), value, self.ctx, o.val);
                self.slow_call(Call::Store)
            }
        };
        self.exit_if(status);
        // The rest of the slow path is cold too (`exit_if` made a new block).
        let cont = self.b.current_block().expect("exit_if leaves a block to go on in");
        self.b.set_cold_block(cont);
        self.after_call();
        let val = self.b.ins().load(I64, flags(), self.ctx, o.val_at);
        let addend = self.b.ins().isub(val, va);
        self.b.ins().jump(join, &[addend.into()]);

        self.b.switch_to_block(join);
        self.b.seal_block(join);
        self.b.ins().iadd(va, at)
    }

    /// Instruction `k` of the current member through its interpreter handler (found at run
    /// time, see `helpers::exec`). Returns the next pc it reported.
    fn exec(&mut self, k: usize, delta: u64) -> Value {
        self.flush();
        self.dirty = 0;
        self.fdirty = 0;
        self.exec_args(k, delta);
        let f = self.callee(Call::ExecC);
        self.before_call();
        let call = self.b.ins().call_indirect(self.sigs.helper, f, &[self.ctx]);
        let next = self.b.inst_results(call)[0];
        // Odd: an exit status; registers are already in the hart (flushed before the call).
        let odd = self.b.ins().band_imm_s(next, 1);
        let status = odd_status(&mut self.b, odd, next);
        self.exit_if(status);
        self.reload();
        self.after_call();
        next
    }

    fn div_guard(&mut self, a: Value, bv: Value, ty: Type, signed: bool) -> (Value, Value) {
        // Cranelift's division traps on zero (and signed overflow); RISC-V does not. Divide by
        // 1 instead where the result is defined separately (zero) or equals a / 1 (MIN / -1).
        let b = &mut self.b;
        let zero = b.ins().icmp_imm_s(IntCC::Equal, bv, 0);
        let one = b.ins().iconst(ty, 1);
        let mut bad = zero;
        if signed {
            let min = if ty == I32 { i32::MIN as i64 } else { i64::MIN };
            let amin = b.ins().icmp_imm_s(IntCC::Equal, a, min);
            let bneg = b.ins().icmp_imm_s(IntCC::Equal, bv, -1);
            let ovf = b.ins().band(amin, bneg);
            bad = b.ins().bor(zero, ovf);
        }
        let safe = b.ins().select(bad, one, bv);
        (safe, zero)
    }

    /// `op` on two 64- or 32-bit operands (RV64M), result as the guest sees it (64-bit).
    fn muldiv(&mut self, op: Op, a: Value, bv: Value) -> Value {
        let word = matches!(op, Op::Mulw | Op::Divw | Op::Divuw | Op::Remw | Op::Remuw);
        let (a, bv, ty) = if word {
            (self.b.ins().ireduce(I32, a), self.b.ins().ireduce(I32, bv), I32)
        } else {
            (a, bv, I64)
        };
        let r = match op {
            Op::Mul | Op::Mulw => self.b.ins().imul(a, bv),
            Op::Mulh => self.b.ins().smulhi(a, bv),
            Op::Mulhu => self.b.ins().umulhi(a, bv),
            Op::Mulhsu => {
                // signed a times unsigned b: umulhi(a, b) - (a < 0 ? b : 0).
                let hi = self.b.ins().umulhi(a, bv);
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, a, 0);
                let zero = self.b.ins().iconst(ty, 0);
                let corr = self.b.ins().select(neg, bv, zero);
                self.b.ins().isub(hi, corr)
            }
            Op::Div | Op::Divw => {
                let (safe, zero) = self.div_guard(a, bv, ty, true);
                let q = self.b.ins().sdiv(a, safe);
                let m1 = self.b.ins().iconst(ty, -1);
                self.b.ins().select(zero, m1, q)
            }
            Op::Divu | Op::Divuw => {
                let (safe, zero) = self.div_guard(a, bv, ty, false);
                let q = self.b.ins().udiv(a, safe);
                let m1 = self.b.ins().iconst(ty, -1);
                self.b.ins().select(zero, m1, q)
            }
            Op::Rem | Op::Remw => {
                let (safe, zero) = self.div_guard(a, bv, ty, true);
                let r = self.b.ins().srem(a, safe);
                self.b.ins().select(zero, a, r)
            }
            _ => {
                let (safe, zero) = self.div_guard(a, bv, ty, false);
                let r = self.b.ins().urem(a, safe);
                self.b.ins().select(zero, a, r)
            }
        };
        if word { self.b.ins().sextend(I64, r) } else { r }
    }

    /// 32-bit op then sign extension (the RV64 *W forms).
    fn word(&mut self, a: Value, bv: Value, f: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value) -> Value {
        let a = self.b.ins().ireduce(I32, a);
        let bv = self.b.ins().ireduce(I32, bv);
        let r = f(&mut self.b, a, bv);
        self.b.ins().sextend(I64, r)
    }
}

/// `next` when `odd` is set (an exit status), else 0.
fn odd_status(b: &mut FunctionBuilder, odd: Value, next: Value) -> Value {
    let zero = b.ins().iconst(I64, 0);
    b.ins().select(odd, next, zero)
}

/// `fn(ctx) -> u64` in the host's C convention: compiled functions, and how they and the
/// thunks call the Rust helpers.
pub(super) fn helper_sig(isa: &OwnedTargetIsa) -> Signature {
    let mut s = Signature::new(isa.default_call_conv());
    s.params.push(AbiParam::new(I64));
    s.returns.push(AbiParam::new(I64));
    s
}

/// Machine code for a region (its members' offsets from the entry, whether they are foreign
/// (`region`), and instructions; the entry first), or None if Cranelift fails or the code would need relocations (we place it
/// ourselves, so it must be position-independent as it is). `instr`: instrumented for
/// coverage (`cov`; single-block regions only).
pub fn compile(isa: &OwnedTargetIsa, members: &[(u64, bool, &[Packed])], instr: bool) -> Option<(Vec<u8>, usize)> {
    debug_assert!(!members.is_empty() && (!instr || members.len() == 1));
    let sig = helper_sig(isa);
    let mut func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let helper = b.import_signature(helper_sig(isa));
    let thunks = thunk::get(isa).map(|_| b.import_signature(thunk::signature()));
    let sigs = Sigs { helper, thunks };
    let ret = b.declare_var(I64);
    let lim = b.declare_var(I64);
    let xlim = members.iter().any(|m| m.1).then(|| b.declare_var(I64));
    let heads = members.iter().map(|_| b.create_block()).collect();
    let shape = members.iter().map(|&(d, foreign, insns)| (d, insns.len() as u64, foreign)).collect();
    let loops = loops(members);
    let mut tx = Tx {
        b,
        ctx: p[0],
        hv: None,
        vars: [None; 32],
        dirty: 0,
        written: 0,
        head_dirty: head_dirty(members, &loops),
        loops,
        fvars: [None; 32],
        fdirty: 0,
        head_fdirty: fp::head_fdirty(members),
        sigs,
        ret,
        lim,
        xlim,
        bi: 0,
        heads,
        shape,
        instr,
        fp: fp::Known::default(),
    };
    for i in members.iter().flat_map(|m| m.2.iter()) {
        // An F/D instruction's other register fields name f registers (`fvars`, below).
        let (x, rd) = if i.op().is_fp() {
            let [x_in, x_out] = fp::x_regs(i);
            ([x_in, x_out, 0], x_out)
        } else {
            ([i.rd(), i.rs1(), i.rs2()], i.rd())
        };
        for r in x {
            if r != 0 && tx.vars[r].is_none() {
                tx.vars[r] = Some(tx.b.declare_var(I64));
            }
        }
        if rd != 0 {
            tx.written |= 1 << rd;
        }
        if i.op().is_fp() {
            let (fr, _) = fp::f_regs(i);
            for r in 0..32 {
                if fr & (1 << r) != 0 && tx.fvars[r].is_none() {
                    tx.fvars[r] = Some(tx.b.declare_var(types::F64));
                }
            }
        }
    }
    tx.fp.gates = members.iter().flat_map(|m| m.2.iter()).any(fp::uses_gate);
    tx.reload();
    fp::store_gates(&mut tx);
    let base = tx.b.ins().load(I64, flags(), tx.ctx, CTX_BASE_OFFSETS.base);
    tx.b.def_var(ret, base);
    tx.load_limits();
    tx.dispatch(members);
    for (bi, &(start, _, insns)) in members.iter().enumerate() {
        tx.member(bi, start, insns);
    }
    tx.b.seal_all_blocks();
    tx.b.finalize(isa.frontend_config());

    machine_code(isa, func)
}

/// `func` compiled for the host, or None if Cranelift fails or the code would need relocations
/// (we place it ourselves, so it must be position-independent as it is). The bytes start with
/// padding (`int3`) up to the function's entry, at the offset returned (`layout`).
pub(super) fn machine_code(isa: &OwnedTargetIsa, func: Function) -> Option<(Vec<u8>, usize)> {
    let mut ctx = Context::for_function(func);
    let code = ctx.compile(&**isa, &mut ControlPlane::default()).ok()?;
    if !code.buffer.relocs().is_empty() {
        return None;
    }
    let body = code.code_buffer();
    let pad = match cfg!(target_arch = "x86_64") {
        true => super::layout::offset(&code.bb_starts, &code.bb_edges, body.len()),
        false => 0,
    };
    let mut bytes = vec![0xcc; pad];
    bytes.extend_from_slice(body);
    Some((bytes, pad))
}

impl Tx<'_> {
    /// Goes to the member the run starts at: `ctx.entry`, the entry (0) or a later member of
    /// the entry's own page (`Slot::install`); foreign members are never entries.
    fn dispatch(&mut self, members: &[(u64, bool, &[Packed])]) {
        let head = self.heads[0];
        if members.iter().skip(1).all(|m| m.1) {
            self.b.ins().jump(head, &[]);
            return;
        }
        // The entry itself first, without the table: it is the common case.
        let entry = self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.entry);
        let table = self.b.create_block();
        self.b.ins().brif(entry, table, &[], head, &[]);
        self.b.switch_to_block(table);
        self.b.seal_block(table);
        let index = self.b.ins().ireduce(I32, entry);
        let def = self.b.func.dfg.block_call(head, &[]);
        let calls: Vec<_> = members
            .iter()
            .zip(&self.heads)
            .map(|(m, &h)| self.b.func.dfg.block_call(if m.1 { head } else { h }, &[]))
            .collect();
        let jt = self.b.create_jump_table(JumpTableData::new(def, &calls));
        self.b.ins().br_table(index, jt);
    }

    /// Member `bi` (starting `start` bytes after the entry): its instructions, then where it
    /// goes (`goto`, `leave`).
    fn member(&mut self, bi: usize, start: u64, insns: &[Packed]) {
        self.bi = bi;
        let head = self.heads[bi];
        self.b.switch_to_block(head);
        // Entered from the function's entry (every register just loaded) or from other
        // members: what `head_dirty` found may differ from the hart's copy here.
        self.dirty = self.head_dirty[bi];
        self.fdirty = self.head_fdirty[bi];
        debug_assert_eq!(self.dirty & !self.written, 0);
        self.hv = None;
        if insns.iter().any(|i| i.op().is_fp()) {
            self.hv = Some(self.hart());
        }
        let tx = self;
        let mut delta = start;
        let last = insns.len() - 1;
        let mut end = None;
        for (k, i) in insns.iter().enumerate() {
            let next_delta = delta.wrapping_add(i.len());
            let (rd, imm) = (i.rd(), i.imm() as i64);
            let a = tx.get(i.rs1());
            let bv = tx.get(i.rs2());
            if tx.instr && super::cov::logged(i.op()) {
                // Cmplog, as the interpreter's logging handler: before the compare executes.
                let y = if matches!(i.op(), Op::Slti | Op::Sltiu) { tx.imm(imm) } else { bv };
                super::cov::emit_cmp(&mut tx.b, tx.ctx, delta, a, y);
            }
            let v: Option<Value> = match i.op() {
                Op::Lui => Some(tx.imm(imm)),
                Op::Auipc => Some(tx.pc(delta.wrapping_add(imm as u64))),
                Op::Jal => {
                    let link = tx.pc(next_delta);
                    tx.set(rd, link);
                    // Inside a block, a jal to the same page continues the block there.
                    let target = delta.wrapping_add(imm as u64);
                    if k == last {
                        end = Some(End::To(target));
                    }
                    delta = target;
                    None
                }
                Op::Jalr => {
                    let t = tx.b.ins().iadd_imm_s(a, imm);
                    let t = tx.b.ins().band_imm_s(t, !1);
                    let link = tx.pc(next_delta);
                    tx.set(rd, link);
                    if k == last {
                        end = Some(End::Dynamic(t));
                    }
                    None
                }
                Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                    let cc = match i.op() {
                        Op::Beq => IntCC::Equal,
                        Op::Bne => IntCC::NotEqual,
                        Op::Blt => IntCC::SignedLessThan,
                        Op::Bge => IntCC::SignedGreaterThanOrEqual,
                        Op::Bltu => IntCC::UnsignedLessThan,
                        _ => IntCC::UnsignedGreaterThanOrEqual,
                    };
                    let c = tx.b.ins().icmp(cc, a, bv);
                    if k == last {
                        end = Some(End::Branch(c, delta.wrapping_add(imm as u64), next_delta));
                    }
                    None
                }
                Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu => {
                    let (n, s) = match i.op() {
                        Op::Lb => (1, true),
                        Op::Lh => (2, true),
                        Op::Lw => (4, true),
                        Op::Ld => (8, false),
                        Op::Lbu => (1, false),
                        Op::Lhu => (2, false),
                        _ => (4, false),
                    };
                    tx.load(k, i, delta, n, s);
                    None
                }
                Op::Sb | Op::Sh | Op::Sw | Op::Sd => {
                    let n = match i.op() {
                        Op::Sb => 1,
                        Op::Sh => 2,
                        Op::Sw => 4,
                        _ => 8,
                    };
                    tx.store(k, i, delta, n);
                    None
                }
                Op::Addi => Some(tx.b.ins().iadd_imm_s(a, imm)),
                Op::Slti => Some(cmp(&mut tx.b, IntCC::SignedLessThan, a, Some(imm), bv)),
                Op::Sltiu => Some(cmp(&mut tx.b, IntCC::UnsignedLessThan, a, Some(imm), bv)),
                Op::Xori => Some(tx.b.ins().bxor_imm_s(a, imm)),
                Op::Ori => Some(tx.b.ins().bor_imm_s(a, imm)),
                Op::Andi => Some(tx.b.ins().band_imm_s(a, imm)),
                Op::Slli => Some(tx.b.ins().ishl_imm_s(a, imm & 63)),
                Op::Srli => Some(tx.b.ins().ushr_imm_s(a, imm & 63)),
                Op::Srai => Some(tx.b.ins().sshr_imm_s(a, imm & 63)),
                Op::Add => Some(tx.b.ins().iadd(a, bv)),
                Op::Sub => Some(tx.b.ins().isub(a, bv)),
                // Cranelift masks shift amounts to the type's width, as RISC-V does.
                Op::Sll => Some(tx.b.ins().ishl(a, bv)),
                Op::Slt => Some(cmp(&mut tx.b, IntCC::SignedLessThan, a, None, bv)),
                Op::Sltu => Some(cmp(&mut tx.b, IntCC::UnsignedLessThan, a, None, bv)),
                Op::Xor => Some(tx.b.ins().bxor(a, bv)),
                Op::Srl => Some(tx.b.ins().ushr(a, bv)),
                Op::Sra => Some(tx.b.ins().sshr(a, bv)),
                Op::Or => Some(tx.b.ins().bor(a, bv)),
                Op::And => Some(tx.b.ins().band(a, bv)),
                Op::Addiw => {
                    let s = tx.b.ins().iadd_imm_s(a, imm);
                    let s = tx.b.ins().ireduce(I32, s);
                    Some(tx.b.ins().sextend(I64, s))
                }
                Op::Slliw => Some(tx.word(a, bv, |b, a, _| b.ins().ishl_imm_s(a, imm & 31))),
                Op::Srliw => Some(tx.word(a, bv, |b, a, _| b.ins().ushr_imm_s(a, imm & 31))),
                Op::Sraiw => Some(tx.word(a, bv, |b, a, _| b.ins().sshr_imm_s(a, imm & 31))),
                Op::Addw => Some(tx.word(a, bv, |b, a, c| b.ins().iadd(a, c))),
                Op::Subw => Some(tx.word(a, bv, |b, a, c| b.ins().isub(a, c))),
                Op::Sllw => Some(tx.word(a, bv, |b, a, c| b.ins().ishl(a, c))),
                Op::Srlw => Some(tx.word(a, bv, |b, a, c| b.ins().ushr(a, c))),
                Op::Sraw => Some(tx.word(a, bv, |b, a, c| b.ins().sshr(a, c))),
                op @ (Op::Mul | Op::Mulh | Op::Mulhsu | Op::Mulhu | Op::Div | Op::Divu | Op::Rem | Op::Remu
                | Op::Mulw | Op::Divw | Op::Divuw | Op::Remw | Op::Remuw) => Some(tx.muldiv(op, a, bv)),
                Op::Fence => None,
                op if op.is_fp() => {
                    fp::emit(tx, k, i, delta, &insns[..k]);
                    None
                }
                op => {
                    debug_assert!(!super::region::translated(op), "{op:?} is translated above");
                    let n = tx.exec(k, delta);
                    if k == last {
                        end = Some(End::Dynamic(n));
                    }
                    None
                }
            };
            if let Some(v) = v {
                tx.set(rd, v);
            }
            if i.op() != Op::Jal {
                delta = next_delta;
            }
        }
        // A block cut at its size limit or the page end goes on with the next instruction.
        let end = end.unwrap_or(End::To(delta));
        let ret = tx.b.use_var(tx.ret);
        let after = tx.b.ins().iadd_imm_s(ret, insns.len() as i64);
        match end {
            End::To(d) => tx.goto(d, after),
            End::Dynamic(pc) => tx.leave(pc, after),
            End::Branch(c, taken, fall) => {
                let t = tx.b.create_block();
                let f = tx.b.create_block();
                tx.b.ins().brif(c, t, &[], f, &[]);
                tx.b.switch_to_block(t);
                tx.b.seal_block(t);
                tx.goto(taken, after);
                tx.b.switch_to_block(f);
                tx.b.seal_block(f);
                tx.goto(fall, after);
            }
        }
    }
}

/// `a < b` (or `a < imm`) as 0/1.
fn cmp(b: &mut FunctionBuilder, cc: IntCC, a: Value, imm: Option<i64>, bv: Value) -> Value {
    let c = match imm {
        Some(i) => b.ins().icmp_imm_s(cc, a, i),
        None => b.ins().icmp(cc, a, bv),
    };
    b.ins().uextend(I64, c)
}
