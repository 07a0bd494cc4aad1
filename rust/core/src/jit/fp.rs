//! F/D instructions in compiled code (a child module of `translate`, whose `Tx` it extends).
//!
//! The interpreter's handlers (`hart/fpu`) are the reference, and stay the slow path: an
//! instruction is done inline only in the cases where the host's answer is provably the
//! interpreter's, decided at run time by a few compares on the operands, the result, `frm`,
//! `fflags` and `mstatus.FS`; every other case calls the instruction's interpreter handler
//! (`helpers::exec`). Results, `fflags`, `mstatus.FS` and traps are therefore the interpreter's
//! in every case. The inline cases:
//!
//! - **FS.** Every F/D instruction is illegal with `mstatus.FS` = Off, and one that writes an f
//!   register (or raises a flag) sets FS to Dirty. The inline code checks FS != Off and sets
//!   Dirty as the interpreter does, except where FS is already known to be Dirty: after an
//!   earlier instruction of the same member that writes an f register, with nothing between
//!   them that can change `mstatus` (only instructions run by their handler can).
//! - **Arithmetic** (`fadd`/`fsub`/`fmul`/`fdiv`/`fsqrt`, the four fused multiply-adds,
//!   `fcvt.s.d`; single and double): when the rounding mode resolves to round-to-nearest-even,
//!   `fflags.NX` has already accrued, and the host result is finite and above the smallest
//!   normal number in magnitude, the only flag the operation can raise is NX (see
//!   `hart::fpu::arith::quick_d`, the interpreter's own quick path under the same condition),
//!   so the host's default arithmetic is the whole answer. Singles also need their operands
//!   properly NaN-boxed (else they read as the canonical NaN). The check is one compare per
//!   result: its biased exponent plus a gate kept in `ctx.fgate` (mode and NX, `gate`) must
//!   fall in [2, max - 1], a subset of "finite and above the smallest normal".
//! - **No rounding, no flags unless NaN:** `fmin`/`fmax`, `feq`/`flt`/`fle` with neither
//!   operand a NaN; `fcvt.d.s` of a non-NaN; `fcvt.d.w`/`fcvt.d.wu` (always exact) and
//!   `fcvt.d.l`/`fcvt.d.lu` of values within 2^53 (exact), with a valid rounding mode.
//! - **Conversions to integers** with the static mode RTZ (what C casts compile to), when the
//!   value is in the target's range: the host's truncation, NX accrued inline if inexact.
//! - **Bit moves**: `fld`/`flw`/`fsd`/`fsw` (through the translator's own inline TLB path and
//!   load/store helpers), `fmv.*`, `fsgnj*` (singles unboxed and reboxed as the spec says).
//!
//! F registers live in F64 SSA variables (`fget`/`fset`) within a region, as x registers do:
//! loaded from the hart (`h.fp.f`) at entry and after an `exec` call, stored at every exit
//! (those that may differ from the hart's copy: `Tx::fdirty`, `head_fdirty`). The handlers
//! read and write them in the hart, so before a handler call the f registers it names that
//! may be dirty are stored (its operands, and its destination, so that an exit after the
//! call stores nothing over what the handler wrote), and after it the destination is
//! reloaded; likewise the x register it reads (if any) is stored and the one it writes (if
//! any) reloaded.
use super::{flags, odd_status, x_offset, Tx, I32, I64};
use crate::hart::csr::mstatus;
use crate::hart::packed::Packed;
use crate::hart::Hart;
use crate::isa::Op;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use std::mem::offset_of;

const F64: cranelift_codegen::ir::Type = types::F64;
const F32: cranelift_codegen::ir::Type = types::F32;

/// NaN-boxing: a single lives in the low half of an f register whose upper half is all ones.
const BOX: u64 = 0xffff_ffff_0000_0000;
const NX: i64 = 1;

fn f_offset(r: usize) -> i32 {
    (offset_of!(Hart, fp.f) + 8 * r) as i32
}
const MSTATUS: i32 = offset_of!(Hart, csr.mstatus) as i32;
const FFLAGS: i32 = offset_of!(Hart, fp.fflags) as i32;
const FRM: i32 = offset_of!(Hart, fp.frm) as i32;

/// Whether Cranelift lowers `fma` to one host instruction here (else it would call a libm
/// routine, a relocation `compile` refuses, so the region would not compile at all).
fn native_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        cfg!(target_arch = "aarch64")
    }
}

/// F/D ops that write an f register whenever they complete (and so leave FS Dirty).
fn writes_f(op: Op) -> bool {
    use Op::*;
    op.is_fp()
        && !matches!(
            op,
            Fsw | Fsd | FmvXW | FmvXD | FclassS | FclassD | FeqS | FltS | FleS | FeqD | FltD | FleD | FcvtWS
                | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD
        )
}

/// F/D ops that read x register `rs1` (an address base or the value moved/converted).
fn reads_x(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Flw | Fsw | Fld | Fsd | FmvWX | FmvDX | FcvtSW | FcvtSWu | FcvtSL | FcvtSLu | FcvtDW | FcvtDWu | FcvtDL
            | FcvtDLu
    )
}

/// F/D ops that write x register `rd`.
pub(super) fn writes_x(op: Op) -> bool {
    op.is_fp() && !writes_f(op) && !matches!(op, Op::Fsw | Op::Fsd)
}

/// The x registers an F/D instruction names (0 for none): its other register fields are f
/// registers (`f_regs`), which have variables of their own (`Tx::fvars`).
pub(super) fn x_regs(i: &Packed) -> [usize; 2] {
    [if reads_x(i.op()) { i.rs1() } else { 0 }, if writes_x(i.op()) { i.rd() } else { 0 }]
}

/// The f registers instruction `i` names (reads or writes) and those it writes (a mask each).
pub(super) fn f_regs(i: &Packed) -> (u32, u32) {
    use Op::*;
    let op = i.op();
    if !op.is_fp() {
        return (0, 0);
    }
    let (rd, r1, r2, r3) = (i.rd(), i.rs1(), i.rs2(), (i.imm() >> 3) as usize & 31);
    let fma = matches!(op, FmaddD | FmsubD | FnmsubD | FnmaddD | FmaddS | FmsubS | FnmsubS | FnmaddS);
    let mut named = 0u32;
    if !reads_x(op) {
        named |= 1 << r1;
    }
    if matches!(op, Fsw | Fsd) || (!reads_x(op) && !matches!(op, FsqrtD | FsqrtS | FcvtSD | FcvtDS) && !unary_x(op)) {
        named |= 1 << r2;
    }
    if fma {
        named |= 1 << r3;
    }
    let writes = if writes_f(op) { 1 << rd } else { 0 };
    (named | writes, writes)
}

/// F/D ops with one f operand (rs1) whose result goes to an x register (their rs2 field
/// selects the op).
fn unary_x(op: Op) -> bool {
    use Op::*;
    matches!(op, FmvXW | FmvXD | FclassS | FclassD | FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD)
}

/// Per member, the f registers that may differ from the hart's copy at its head (as
/// `translate::head_dirty` for x registers).
pub(super) fn head_fdirty(members: &[(u64, bool, &[Packed])]) -> Vec<u32> {
    super::flow::head_dirty_by(members, |i| f_regs(i).1)
}

/// F register `r`'s value (F64, raw bits).
fn fget(tx: &mut Tx, r: usize) -> Value {
    let var = tx.fvars[r].expect("every f register the region names has a variable");
    tx.b.use_var(var)
}

/// F register `r`'s value as its 64 bits.
fn fget_bits(tx: &mut Tx, r: usize) -> Value {
    let v = fget(tx, r);
    tx.b.ins().bitcast(I64, MemFlagsData::new(), v)
}

/// Writes f register `r` (an F64, or an I64 of its bits).
fn fset(tx: &mut Tx, r: usize, v: Value) {
    let v = if tx.b.func.dfg.value_type(v) == I64 { tx.b.ins().bitcast(F64, MemFlagsData::new(), v) } else { v };
    let var = tx.fvars[r].expect("every f register the region names has a variable");
    tx.b.def_var(var, v);
    tx.fdirty |= 1 << r;
}

/// Stores the f registers of `mask` (to the hart `h`).
pub(super) fn flush(tx: &mut Tx, h: Value, mask: u32) {
    for r in 0..32 {
        if mask & (1 << r) != 0 {
            let v = fget(tx, r);
            tx.b.ins().store(flags(), v, h, f_offset(r));
        }
    }
}

/// Loads the f registers of `mask` that the region names from the hart `h`, and marks them
/// clean.
pub(super) fn reload(tx: &mut Tx, h: Value, mask: u32) {
    for r in 0..32 {
        if let (true, Some(var)) = (mask & (1 << r) != 0, tx.fvars[r]) {
            let v = tx.b.ins().load(F64, flags(), h, f_offset(r));
            tx.b.def_var(var, v);
            tx.fdirty &= !(1 << r);
        }
    }
}

/// Whether `mstatus.FS` is Dirty when the instruction after `before` (the earlier
/// instructions of its member) starts: some earlier one wrote an f register (so it completed
/// with FS Dirty, inline or through its handler), and none after it ran through an
/// interpreter handler other than an F/D one (only those could write `mstatus`; the load and
/// store helpers leave it alone or leave the region with a trap).
fn fs_dirty_before(before: &[Packed]) -> bool {
    for i in before.iter().rev() {
        let op = i.op();
        if writes_f(op) {
            return true;
        }
        if !op.is_fp() && !super::super::region::translated(op) {
            return false;
        }
    }
    false
}

/// What the F/D emitters know about the region: whether some inline arithmetic reads the
/// gates in `ctx.fgate` (`gate`), which are then stored at entry and wherever `frm` or
/// `fflags` may have changed (`store_gates`).
#[derive(Default)]
pub(super) struct Known {
    pub(super) gates: bool,
}

/// The instruction being translated.
struct At<'i> {
    /// The instruction.
    i: &'i Packed,
    k: usize,
    delta: u64,
    /// FS is known to be Dirty here (no check, nothing to set).
    dirty: bool,
}

/// Emits F/D instruction `i` (instruction `k` of the current member, at `delta`; `before`:
/// the member's instructions before it). Every F/D op is handled here, inline or through its
/// handler.
pub(super) fn emit(tx: &mut Tx, k: usize, i: &Packed, delta: u64, before: &[Packed]) {
    use Op::*;
    let at = At { i, k, delta, dirty: fs_dirty_before(before) };
    let op = i.op();
    let (rd, r1, r2) = (i.rd(), i.rs1(), i.rs2());
    match op {
        Fld | Flw => {
            let n = if op == Fld { 8 } else { 4 };
            guard(tx, &at, None, Some(r1), None, |tx| {
                let v = tx.load_value(at.k, i, at.delta, n, false);
                let v = if n == 4 { tx.b.ins().bor_imm_s(v, BOX as i64) } else { v };
                fset(tx, rd, v);
                set_dirty(tx, &at);
            });
        }
        Fsd | Fsw => {
            let n = if op == Fsd { 8 } else { 4 };
            guard(tx, &at, None, Some(r1), None, |tx| {
                let v = if n == 8 { fget(tx, r2) } else { fget_bits(tx, r2) };
                tx.store_value(at.k, i, at.delta, n, v);
            });
        }
        FmvXD | FmvXW => guard(tx, &at, None, None, Some(rd), |tx| {
            let v = fget_bits(tx, r1);
            let v = if op == FmvXW {
                let w = tx.b.ins().ireduce(I32, v);
                tx.b.ins().sextend(I64, w)
            } else {
                v
            };
            tx.set(rd, v);
        }),
        FmvDX | FmvWX => guard(tx, &at, None, Some(r1), None, |tx| {
            let v = tx.get(r1);
            let v = if op == FmvWX { box_low(tx, v) } else { v };
            fset(tx, rd, v);
            set_dirty(tx, &at);
        }),
        FsgnjD | FsgnjnD | FsgnjxD | FsgnjS | FsgnjnS | FsgnjxS => guard(tx, &at, None, None, None, |tx| {
            let d = matches!(op, FsgnjD | FsgnjnD | FsgnjxD);
            let (a, b) = if d {
                (fget_bits(tx, r1), fget_bits(tx, r2))
            } else {
                (unbox(tx, r1), unbox(tx, r2))
            };
            let sign = if d { 1u64 << 63 } else { 1 << 31 };
            let bs = tx.b.ins().band_imm_s(b, sign as i64);
            let v = match op {
                FsgnjD | FsgnjS | FsgnjnD | FsgnjnS => {
                    let mag = tx.b.ins().band_imm_s(a, !sign as i64);
                    let s = if matches!(op, FsgnjnD | FsgnjnS) { tx.b.ins().bxor_imm_s(bs, sign as i64) } else { bs };
                    tx.b.ins().bor(mag, s)
                }
                _ => tx.b.ins().bxor(a, bs),
            };
            let v = if d { v } else { tx.b.ins().bor_imm_s(v, BOX as i64) };
            fset(tx, rd, v);
            set_dirty(tx, &at);
        }),
        FaddD | FsubD | FmulD | FdivD | FsqrtD | FmaddD | FmsubD | FnmsubD | FnmaddD | FaddS | FsubS | FmulS
        | FdivS | FsqrtS | FmaddS | FmsubS | FnmsubS | FnmaddS | FcvtSD => arith(tx, &at, i),
        FminD | FmaxD | FminS | FmaxS => {
            let d = matches!(op, FminD | FmaxD);
            let (a, ba) = operand(tx, r1, d);
            let (b, bb) = operand(tx, r2, d);
            let mut ok = tx.b.ins().fcmp(FloatCC::Ordered, a, b);
            for c in [ba, bb].into_iter().flatten() {
                ok = tx.b.ins().band(ok, c);
            }
            // Cranelift's fmin/fmax order -0 below +0, as RISC-V does; NaNs take the handler.
            let r = if matches!(op, FminD | FminS) { tx.b.ins().fmin(a, b) } else { tx.b.ins().fmax(a, b) };
            guard(tx, &at, Some(ok), None, None, |tx| {
                store_result(tx, rd, r, d);
                set_dirty(tx, &at);
            });
        }
        FeqD | FltD | FleD | FeqS | FltS | FleS => {
            let d = matches!(op, FeqD | FltD | FleD);
            let (a, ba) = operand(tx, r1, d);
            let (b, bb) = operand(tx, r2, d);
            let mut ok = tx.b.ins().fcmp(FloatCC::Ordered, a, b);
            for c in [ba, bb].into_iter().flatten() {
                ok = tx.b.ins().band(ok, c);
            }
            let cc = match op {
                FeqD | FeqS => FloatCC::Equal,
                FltD | FltS => FloatCC::LessThan,
                _ => FloatCC::LessThanOrEqual,
            };
            let c = tx.b.ins().fcmp(cc, a, b);
            let v = tx.b.ins().uextend(I64, c);
            guard(tx, &at, Some(ok), None, Some(rd), |tx| tx.set(rd, v));
        }
        FcvtDS => {
            let Some(rm_ok) = rm_valid(tx, i) else { return handler(tx, &at, None, None) };
            let (a, boxed) = operand(tx, r1, false);
            let ordered = tx.b.ins().fcmp(FloatCC::Ordered, a, a);
            let mut ok = tx.b.ins().band(ordered, boxed.expect("a single has a boxing check"));
            if let Some(c) = rm_ok {
                ok = tx.b.ins().band(ok, c);
            }
            let r = tx.b.ins().fpromote(F64, a);
            guard(tx, &at, Some(ok), None, None, |tx| {
                store_result(tx, rd, r, true);
                set_dirty(tx, &at);
            });
        }
        FcvtDW | FcvtDWu | FcvtDL | FcvtDLu => {
            let Some(rm_ok) = rm_valid(tx, i) else { return handler(tx, &at, Some(r1), None) };
            let x = tx.get(r1);
            // Exact conversions (every int32, and int64 within 2^53) round the same in every
            // mode and raise nothing.
            let (r, exact) = match op {
                FcvtDW => {
                    let w = tx.b.ins().ireduce(I32, x);
                    (tx.b.ins().fcvt_from_sint(F64, w), None)
                }
                FcvtDWu => {
                    let w = tx.b.ins().ireduce(I32, x);
                    (tx.b.ins().fcvt_from_uint(F64, w), None)
                }
                FcvtDL => {
                    let s = tx.b.ins().iadd_imm_s(x, 1 << 53);
                    let e = tx.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, s, 1 << 54);
                    (tx.b.ins().fcvt_from_sint(F64, x), Some(e))
                }
                _ => {
                    let e = tx.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, x, 1 << 53);
                    (tx.b.ins().fcvt_from_uint(F64, x), Some(e))
                }
            };
            let ok = and_opt(tx, rm_ok, exact);
            guard(tx, &at, ok, Some(r1), None, |tx| {
                store_result(tx, rd, r, true);
                set_dirty(tx, &at);
            });
        }
        FcvtWD | FcvtWuD | FcvtLD | FcvtLuD if i.imm() & 7 == 1 => to_int_rtz(tx, &at, i),
        _ => {
            let x_in = if reads_x(op) { Some(r1) } else { None };
            let x_out = if writes_x(op) { Some(rd) } else { None };
            handler(tx, &at, x_in, x_out);
        }
    }
}

/// `a && b` where either may be absent (always true).
fn and_opt(tx: &mut Tx, a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (Some(a), Some(b)) => Some(tx.b.ins().band(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Whether FS is not Off (None: known Dirty).
fn fs_on(tx: &mut Tx, at: &At) -> Option<Value> {
    if at.dirty {
        return None;
    }
    let hv = tx.hart();
    let ms = tx.b.ins().load(I64, flags(), hv, MSTATUS);
    let fs = tx.b.ins().band_imm_s(ms, mstatus::FS as i64);
    Some(tx.b.ins().icmp_imm_s(IntCC::NotEqual, fs, 0))
}

/// `mstatus.FS = Dirty`, as the interpreter sets it when an f register is written.
fn set_dirty(tx: &mut Tx, at: &At) {
    if at.dirty {
        return;
    }
    let hv = tx.hart();
    let ms = tx.b.ins().load(I64, flags(), hv, MSTATUS);
    let ms = tx.b.ins().bor_imm_s(ms, mstatus::FS as i64);
    let hv = tx.hart();
    tx.b.ins().store(flags(), ms, hv, MSTATUS);
}

/// Inline `fast` when `ok` (None: always) and FS is not Off, else the interpreter handler
/// (which reads x register `x_in` and writes `x_out`, if any).
fn guard<'a>(
    tx: &mut Tx<'a>,
    at: &At,
    ok: Option<Value>,
    x_in: Option<usize>,
    x_out: Option<usize>,
    fast: impl FnOnce(&mut Tx<'a>),
) {
    let fs = fs_on(tx, at);
    let Some(ok) = and_opt(tx, ok, fs) else {
        return fast(tx);
    };
    let fast_b = tx.b.create_block();
    let slow_b = tx.b.create_block();
    let join = tx.b.create_block();
    tx.b.ins().brif(ok, fast_b, &[], slow_b, &[]);
    let (dirty, fdirty) = (tx.dirty, tx.fdirty);

    tx.b.switch_to_block(fast_b);
    tx.b.seal_block(fast_b);
    fast(tx);
    tx.b.ins().jump(join, &[]);
    let (dirty_fast, fdirty_fast) = (tx.dirty, tx.fdirty);

    tx.dirty = dirty;
    tx.fdirty = fdirty;
    tx.b.switch_to_block(slow_b);
    tx.b.seal_block(slow_b);
    tx.b.set_cold_block(slow_b);
    handler(tx, at, x_in, x_out);
    // The rest of the slow path (`exit_if` made a new block) is cold too.
    let cont = tx.b.current_block().expect("handler leaves a block to go on in");
    tx.b.set_cold_block(cont);
    tx.b.ins().jump(join, &[]);

    // A register either path may have left different from the hart's copy.
    tx.dirty |= dirty_fast | dirty;
    tx.fdirty |= fdirty_fast | fdirty;
    tx.b.switch_to_block(join);
    tx.b.seal_block(join);
}

/// The instruction through its interpreter handler (`helpers::exec`). F/D handlers touch no x
/// register but `x_in` (read) and `x_out` (written), so only those cross the call; on a trap
/// the region leaves with every register written back (`exit_if`).
fn handler(tx: &mut Tx, at: &At, x_in: Option<usize>, x_out: Option<usize>) {
    if let Some(r) = x_in.filter(|&r| r != 0 && tx.dirty & (1 << r) != 0) {
        let v = tx.get(r);
        let hv = tx.hart();
        tx.b.ins().store(flags(), v, hv, x_offset(r));
    }
    // The f registers it reads, and the one it writes: stored if they may be dirty (so that
    // the exit below, if taken, stores none of them over the handler's write).
    let (named, writes) = f_regs(at.i);
    let store = named & tx.fdirty;
    let hv = tx.hart();
    flush(tx, hv, store);
    tx.fdirty &= !store;
    // Through the `PreserveAll` thunk (pc and index in ctx): the call clobbers no register,
    // so the values the region keeps in registers (f registers above all: a C call clobbers
    // every vector register) stay there across it.
    tx.exec_args(at.k, at.delta);
    let next = tx.slow_call(super::Call::Exec);
    let odd = tx.b.ins().band_imm_s(next, 1);
    let status = odd_status(&mut tx.b, odd, next);
    tx.exit_if(status);
    tx.after_call();
    if let Some(r) = x_out.filter(|&r| r != 0) {
        let hv = tx.hart();
        let v = tx.b.ins().load(I64, flags(), hv, x_offset(r));
        tx.set(r, v);
    }
    let hv = tx.hart();
    reload(tx, hv, writes);
}

/// `BOX | low 32 bits of v`.
fn box_low(tx: &mut Tx, v: Value) -> Value {
    let w = tx.b.ins().ireduce(I32, v);
    let w = tx.b.ins().uextend(I64, w);
    tx.b.ins().bor_imm_s(w, BOX as i64)
}

/// Single operand `r` as its 32 bits in an I64: the low half if properly boxed, else the
/// canonical NaN (as `FpState::s`).
fn unbox(tx: &mut Tx, r: usize) -> Value {
    let v = fget_bits(tx, r);
    let boxed = tx.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, v, BOX as i64);
    let low = tx.b.ins().band_imm_s(v, 0xffff_ffff);
    let canon = tx.imm(0x7fc0_0000);
    tx.b.ins().select(boxed, low, canon)
}

/// Operand `r` as a float of the op's format; for a single, also whether it is properly
/// boxed (an unboxed one is the canonical NaN: the caller sends it to the handler).
fn operand(tx: &mut Tx, r: usize, d: bool) -> (Value, Option<Value>) {
    if d {
        return (fget(tx, r), None);
    }
    let v = fget_bits(tx, r);
    let boxed = tx.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, v, BOX as i64);
    let w = tx.b.ins().ireduce(I32, v);
    (tx.b.ins().bitcast(F32, MemFlagsData::new(), w), Some(boxed))
}

/// Stores float `r` to f register `rd` (a single NaN-boxed).
fn store_result(tx: &mut Tx, rd: usize, r: Value, d: bool) {
    let v = if d {
        r
    } else {
        let w = tx.b.ins().bitcast(I32, MemFlagsData::new(), r);
        let w = tx.b.ins().uextend(I64, w);
        tx.b.ins().bor_imm_s(w, BOX as i64)
    };
    fset(tx, rd, v);
}

/// Whether the instruction's rounding mode field is usable: Some(None) for a static mode
/// (0-4), Some(Some(frm <= 4)) for the dynamic one, None for 5 and 6 (always illegal: the
/// handler traps).
fn rm_valid(tx: &mut Tx, i: &Packed) -> Option<Option<Value>> {
    match i.imm() & 7 {
        0..=4 => Some(None),
        7 => {
            let hv = tx.hart();
            let frm = tx.b.ins().uload8(I64, flags(), hv, FRM);
            Some(Some(tx.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, frm, 4)))
        }
        _ => None,
    }
}

/// Whether `i` is arithmetic done inline in some case, which reads a gate (`gate`).
pub(super) fn uses_gate(i: &Packed) -> bool {
    use Op::*;
    let fma = matches!(i.op(), FmaddD | FmsubD | FnmsubD | FnmaddD | FmaddS | FmsubS | FnmsubS | FnmaddS);
    let arith = fma
        || matches!(
            i.op(),
            FaddD | FsubD | FmulD | FdivD | FsqrtD | FaddS | FsubS | FmulS | FdivS | FsqrtS | FcvtSD
        );
    arith && (!fma || native_fma()) && matches!(i.imm() & 7, 0 | 7)
}

/// The gate an inline arithmetic instruction reads (None: its static mode is another one
/// than nearest-even, so never inline): the offset in ctx of an I64 that is -2 when the
/// rounding mode resolves to nearest-even and NX has already accrued, and at least
/// 0x1000 - 2 otherwise, so that `in_range` folds the condition into its one comparison (as
/// a memory operand of its add: a value kept in a register, or a spill slot, cost more).
fn gate(i: &Packed) -> Option<i32> {
    match i.imm() & 7 {
        0 => Some(super::CTX_BASE_OFFSETS.fgate),
        7 => Some(super::CTX_BASE_OFFSETS.fgate + 8),
        _ => None,
    }
}

/// Stores both gates (static nearest-even, dynamic) in `ctx.fgate` from the hart's `frm` and
/// `fflags` at region entry, if the region has inline arithmetic (as `helpers::fp_gates`
/// computes them). Within the region, `frm` can change and NX be cleared only by an
/// instruction run through its handler (a CSR write), and `helpers::exec` stores the gates
/// again after every handler (F/D ones too, which may raise NX). Inline code only ever adds
/// NX (`to_int_rtz`): a gate left stale then only sends arithmetic to its handler, which
/// brings it up to date.
pub(super) fn store_gates(tx: &mut Tx) {
    if !tx.fp.gates {
        return;
    }
    let hv = tx.hart();
    let fflags = tx.b.ins().uload8(I64, flags(), hv, FFLAGS);
    let nx = tx.b.ins().band_imm_s(fflags, NX);
    let frm = tx.b.ins().uload8(I64, flags(), hv, FRM);
    let frm = tx.b.ins().ishl_imm_s(frm, 8);
    // both == NX exactly when the mode is nearest-even (frm == 0 for dyn) and NX is set.
    let both = tx.b.ins().bor(frm, nx);
    for (k, v) in [nx, both].into_iter().enumerate() {
        // ((v ^ NX) << 12) - 2: -2 when v == NX, else at least 0x1000 - 2 (v < 2^11).
        let off = tx.b.ins().bxor_imm_s(v, NX);
        let off = tx.b.ins().ishl_imm_s(off, 12);
        let g = tx.b.ins().iadd_imm_s(off, -2);
        tx.b.ins().store(flags(), g, tx.ctx, super::CTX_BASE_OFFSETS.fgate + 8 * k as i32);
    }
}

/// Whether float `r` is finite with a biased exponent of at least 2 (so at least twice the
/// smallest normal number in magnitude, which leaves out every result that is or might have
/// been rounded from a tiny one) and `gate` is -2 (see `gate`): `e + gate` unsigned below
/// `max_e - 1`, `e` the biased exponent and `max_e` that of infinity, in one comparison.
fn in_range(tx: &mut Tx, r: Value, d: bool, gate: i32) -> Value {
    let (e, limit) = if d {
        let bits = tx.b.ins().bitcast(I64, MemFlagsData::new(), r);
        let e = tx.b.ins().ushr_imm_s(bits, 52);
        (tx.b.ins().band_imm_s(e, 0x7ff), 0x7fd)
    } else {
        let bits = tx.b.ins().bitcast(I32, MemFlagsData::new(), r);
        let bits = tx.b.ins().uextend(I64, bits);
        let e = tx.b.ins().ushr_imm_s(bits, 23);
        (tx.b.ins().band_imm_s(e, 0xff), 0xfd)
    };
    // e in [2, max_e - 1] <=> e - 2 in [0, max_e - 3]; with gate >= 0x1000 - 2, never.
    let gate = tx.b.ins().load(I64, flags(), tx.ctx, gate);
    let t = tx.b.ins().iadd(e, gate);
    tx.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, t, limit)
}

/// add/sub/mul/div/sqrt/fma (single or double) and fcvt.s.d: inline in nearest-even with NX
/// accrued and a result finite and at least twice the smallest normal (`in_range`); else the
/// handler.
fn arith(tx: &mut Tx, at: &At, i: &Packed) {
    use Op::*;
    let op = i.op();
    let fma = matches!(op, FmaddD | FmsubD | FnmsubD | FnmaddD | FmaddS | FmsubS | FnmsubS | FnmaddS);
    if fma && !native_fma() {
        return handler(tx, at, None, None);
    }
    let Some(g) = gate(i) else { return handler(tx, at, None, None) };
    let d = matches!(op, FaddD | FsubD | FmulD | FdivD | FsqrtD | FmaddD | FmsubD | FnmsubD | FnmaddD);
    let (r1, r2, r3) = (i.rs1(), i.rs2(), (i.imm() >> 3) as usize & 31);
    // fcvt.s.d reads a double and rounds it to a single.
    let (a, ba) = operand(tx, r1, d || op == FcvtSD);
    let mut boxes = [ba, None, None];
    let r = match op {
        FsqrtD | FsqrtS => tx.b.ins().sqrt(a),
        FcvtSD => tx.b.ins().fdemote(F32, a),
        _ => {
            let (b, bb) = operand(tx, r2, d);
            boxes[1] = bb;
            match op {
                FaddD | FaddS => tx.b.ins().fadd(a, b),
                FsubD | FsubS => tx.b.ins().fsub(a, b),
                FmulD | FmulS => tx.b.ins().fmul(a, b),
                FdivD | FdivS => tx.b.ins().fdiv(a, b),
                _ => {
                    let (c, bc) = operand(tx, r3, d);
                    boxes[2] = bc;
                    // fmsub: a*b - c; fnmsub: -(a*b) + c; fnmadd: -(a*b) - c (signs flipped
                    // on the operands' bits, as the interpreter does).
                    let (na, nc) = match op {
                        FmsubD | FmsubS => (false, true),
                        FnmsubD | FnmsubS => (true, false),
                        FnmaddD | FnmaddS => (true, true),
                        _ => (false, false),
                    };
                    let a = if na { tx.b.ins().fneg(a) } else { a };
                    let c = if nc { tx.b.ins().fneg(c) } else { c };
                    tx.b.ins().fma(a, b, c)
                }
            }
        }
    };
    let rd_double = d;
    let mut ok = in_range(tx, r, rd_double, g);
    for c in boxes.into_iter().flatten() {
        ok = tx.b.ins().band(ok, c);
    }
    let rd = i.rd();
    if !at.dirty {
        return guard(tx, at, Some(ok), None, None, |tx| {
            store_result(tx, rd, r, rd_double);
            set_dirty(tx, at);
        });
    }
    // FS known Dirty: the fast path only defines rd, so it is done before the branch (one
    // block fewer per instruction); the slow path puts rd's variable and dirty bit back first.
    let var = tx.fvars[rd].expect("every f register the region names has a variable");
    let (old, fdirty) = (tx.b.use_var(var), tx.fdirty);
    store_result(tx, rd, r, rd_double);
    let fdirty_fast = tx.fdirty;
    let slow_b = tx.b.create_block();
    let join = tx.b.create_block();
    tx.b.ins().brif(ok, join, &[], slow_b, &[]);
    tx.b.switch_to_block(slow_b);
    tx.b.seal_block(slow_b);
    tx.b.set_cold_block(slow_b);
    tx.b.def_var(var, old);
    tx.fdirty = fdirty;
    handler(tx, at, None, None);
    let cont = tx.b.current_block().expect("handler leaves a block to go on in");
    tx.b.set_cold_block(cont);
    tx.b.ins().jump(join, &[]);
    tx.fdirty |= fdirty_fast;
    tx.b.switch_to_block(join);
    tx.b.seal_block(join);
}

/// fcvt.{w,wu,l,lu}.d with the static mode RTZ: inline when the value truncates into the
/// target's range (NaN never does), NX accrued when it was not an integer; else the handler.
fn to_int_rtz(tx: &mut Tx, at: &At, i: &Packed) {
    use Op::*;
    let op = i.op();
    let (rd, r1) = (i.rd(), i.rs1());
    let (x, _) = operand(tx, r1, true);
    // trunc(x) in [lo, hi) <=> lo_excl < x < hi (or lo <= x where lo is exact and nothing
    // between lo - 1 and lo is a double).
    let (lo, lo_cc, hi) = match op {
        FcvtWD => (-2147483649.0, FloatCC::GreaterThan, 2147483648.0),
        FcvtWuD | FcvtLuD => (-1.0, FloatCC::GreaterThan, if op == FcvtWuD { 4294967296.0 } else { 18446744073709551616.0 }),
        _ => (-9223372036854775808.0, FloatCC::GreaterThanOrEqual, 9223372036854775808.0),
    };
    let lo = tx.b.ins().f64const(lo);
    let hi = tx.b.ins().f64const(hi);
    let above = tx.b.ins().fcmp(lo_cc, x, lo);
    let below = tx.b.ins().fcmp(FloatCC::LessThan, x, hi);
    let ok = tx.b.ins().band(above, below);
    let signed = matches!(op, FcvtWD | FcvtLD);
    let (n, back) = if signed {
        let n = tx.b.ins().fcvt_to_sint_sat(I64, x);
        (n, tx.b.ins().fcvt_from_sint(F64, n))
    } else {
        let n = tx.b.ins().fcvt_to_uint_sat(I64, x);
        (n, tx.b.ins().fcvt_from_uint(F64, n))
    };
    // The W forms write the 32-bit result sign-extended.
    let v = if op == FcvtWuD {
        let w = tx.b.ins().ireduce(I32, n);
        tx.b.ins().sextend(I64, w)
    } else {
        n
    };
    let inexact = tx.b.ins().fcmp(FloatCC::NotEqual, back, x);
    guard(tx, at, Some(ok), None, Some(rd), |tx| {
        tx.set(rd, v);
        // fflags |= NX if inexact; a raised flag makes FS Dirty.
        let hv = tx.hart();
        let ff = tx.b.ins().uload8(I64, flags(), hv, FFLAGS);
        let nx = tx.b.ins().uextend(I64, inexact);
        let ff = tx.b.ins().bor(ff, nx);
        let hv = tx.hart();
        tx.b.ins().istore8(flags(), ff, hv, FFLAGS);
        if !at.dirty {
            let hv = tx.hart();
            let ms = tx.b.ins().load(I64, flags(), hv, MSTATUS);
            let fs = tx.imm(mstatus::FS as i64);
            let zero = tx.imm(0);
            let add = tx.b.ins().select(inexact, fs, zero);
            let ms = tx.b.ins().bor(ms, add);
            let hv = tx.hart();
            tx.b.ins().store(flags(), ms, hv, MSTATUS);
        }
    });
}
