//! One decoded block to host code through Cranelift.
//!
//! The compiled function is `fn(hart, bus, ctx, pc) -> u64` and does what `Hart::run_block`
//! does for the whole block: it returns the next pc (even) after the last instruction, or an
//! odd exit status from a helper (see `helpers`), in which case the helper already set `pc`,
//! `retired` and the trap.
//!
//! - Guest registers are loaded into SSA variables at entry and stored back at every exit
//!   (only those the block wrote), so a trap in the middle leaves exactly the writes of the
//!   instructions before it.
//! - Every pc is the entry pc plus a constant: the same frame may be mapped at several virtual
//!   addresses, and the interpreter computes `auipc`, links and targets from the run-time pc.
//! - Loads and stores check the hart's TLB inline (the same entries the interpreter's fast
//!   path uses) and require natural alignment there; anything else calls the helper, which
//!   runs the interpreter's own `Hart::load`/`Hart::store`.
//! - Instructions without a translation here (A, F/D, CSRs, system) call their interpreter
//!   handler through `helpers::exec`, with registers written back before and reloaded after.
use super::helpers::{self, info};
use super::CTX_BASE_OFFSETS;
use crate::hart::packed::Packed;
use crate::hart::Hart;
use crate::isa::Op;
use crate::mmu::tlb::EPOCH_SHIFT;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, SigRef, UserFuncName, Value};
use cranelift_codegen::ir::{Function, Type};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{control::ControlPlane, Context};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

const I64: Type = types::I64;
const I32: Type = types::I32;

/// Hart fields the compiled code touches directly.
fn x_offset(r: usize) -> i32 {
    (std::mem::offset_of!(Hart, x) + 8 * r) as i32
}

struct Sigs {
    load: SigRef,
    store: SigRef,
    exec: SigRef,
}

struct Tx<'a> {
    b: FunctionBuilder<'a>,
    h: Value,
    bus: Value,
    ctx: Value,
    pc0: Value,
    vars: [Option<Variable>; 32],
    /// Registers written since they were last stored to the hart.
    dirty: u32,
    sigs: Sigs,
    /// Coverage and cmplog instrumentation (`jit::cov`).
    instr: bool,
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
        let var = self.vars[r].expect("every register the block names has a variable");
        self.b.def_var(var, v);
        self.dirty |= 1 << r;
    }

    /// Stores the registers written since the last flush.
    fn flush(&mut self) {
        for r in 1..32 {
            if self.dirty & (1 << r) != 0 {
                let v = self.get(r);
                self.b.ins().store(flags(), v, self.h, x_offset(r));
            }
        }
    }

    /// Loads every register the block uses from the hart (at entry and after a handler call).
    fn reload(&mut self) {
        for r in 1..32 {
            if let Some(var) = self.vars[r] {
                let v = self.b.ins().load(I64, flags(), self.h, x_offset(r));
                self.b.def_var(var, v);
            }
        }
        self.dirty = 0;
    }

    fn pc(&mut self, delta: u64) -> Value {
        self.b.ins().iadd_imm_s(self.pc0, delta as i64)
    }

    fn imm(&mut self, v: i64) -> Value {
        self.b.ins().iconst(I64, v)
    }

    /// At a taken jump back to the block's start: go round again if the run loop would run
    /// this block next - no stop request or decode-cache change seen by a helper
    /// (`ctx.halt`), and the whole block fits in the slice - else store the registers and
    /// return the entry pc. Leaves the builder in a fresh, unreachable-by-fallthrough block.
    fn again(&mut self, head: cranelift_codegen::ir::Block, len: i64) {
        let o = CTX_BASE_OFFSETS;
        let base = self.b.ins().load(I64, flags(), self.ctx, o.base);
        let next_base = self.b.ins().iadd_imm_s(base, len);
        // The run loop's test, as it makes it: len <= slice_end - retired (retired <= slice_end
        // here, since this round was entered under the same test).
        let limit = self.b.ins().load(I64, flags(), self.ctx, o.limit);
        let left = self.b.ins().isub(limit, next_base);
        let fits = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, left, len);
        let halt = self.b.ins().load(I64, flags(), self.ctx, o.halt);
        let calm = self.b.ins().icmp_imm_s(IntCC::Equal, halt, 0);
        let go = self.b.ins().band(fits, calm);
        let round = self.b.create_block();
        let leave = self.b.create_block();
        self.b.ins().brif(go, round, &[], leave, &[]);
        self.b.switch_to_block(round);
        self.b.seal_block(round);
        self.b.ins().store(flags(), next_base, self.ctx, o.base);
        if self.instr {
            super::cov::emit_back_edge(&mut self.b, self.h, self.ctx, self.pc0);
        }
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(leave);
        self.b.seal_block(leave);
        self.flush();
        let pc = self.pc0;
        self.b.ins().return_(&[pc]);
    }

    /// If `status` is non-zero: store the dirty registers and return `status`.
    fn exit_if(&mut self, status: Value) {
        let exit = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(status, exit, &[], cont, &[]);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        let saved = self.dirty;
        self.flush();
        self.b.ins().return_(&[status]);
        self.dirty = saved;
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// The inline TLB check for an `n`-byte access at `va` in table `which` (ctx offset):
    /// returns (hit, host pointer when hit).
    fn tlb(&mut self, va: Value, n: u64, table: i32) -> (Value, Value) {
        let b = &mut self.b;
        let vpn = b.ins().ushr_imm_s(va, 12);
        let mask = b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.mask);
        let slot = b.ins().band(vpn, mask);
        let off = b.ins().ishl_imm_s(slot, 4);
        let tbl = b.ins().load(I64, flags(), self.ctx, table);
        let e = b.ins().iadd(tbl, off);
        let tag = b.ins().load(I64, flags(), e, 0);
        let epoch = b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.epoch);
        let low = b.ins().band_imm_s(vpn, ((1u64 << EPOCH_SHIFT) - 1) as i64);
        let want = b.ins().bor(low, epoch);
        let mut hit = b.ins().icmp(IntCC::Equal, tag, want);
        if n > 1 {
            // Aligned accesses never cross the page; the others take the helper, which does
            // exactly what the interpreter does with them (split, trap or complete).
            let low = b.ins().band_imm_s(va, (n - 1) as i64);
            let aligned = b.ins().icmp_imm_s(IntCC::Equal, low, 0);
            hit = b.ins().band(hit, aligned);
        }
        let addend = b.ins().load(I64, flags(), e, 8);
        let host = b.ins().iadd(va, addend);
        (hit, host)
    }

    fn load(&mut self, k: usize, i: &Packed, delta: u64, n: u64, signed: bool) {
        let base = self.get(i.rs1());
        let va = self.b.ins().iadd_imm_s(base, i.imm() as i64);
        let (hit, host) = self.tlb(va, n, CTX_BASE_OFFSETS.read);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        let v = self.b.append_block_param(join, I64);
        self.b.ins().brif(hit, fast, &[], slow, &[]);

        self.b.switch_to_block(fast);
        self.b.seal_block(fast);
        let ins = self.b.ins();
        let x = match (n, signed) {
            (1, false) => ins.uload8(I64, guest_flags(), host, 0),
            (1, true) => ins.sload8(I64, guest_flags(), host, 0),
            (2, false) => ins.uload16(I64, guest_flags(), host, 0),
            (2, true) => ins.sload16(I64, guest_flags(), host, 0),
            (4, false) => ins.uload32(guest_flags(), host, 0),
            (4, true) => ins.sload32(guest_flags(), host, 0),
            _ => ins.load(I64, guest_flags(), host, 0),
        };
        self.b.ins().jump(join, &[x.into()]);

        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let pc = self.pc(delta);
        let inf = self.imm(info(k, i.len(), n, signed) as i64);
        let f = self.imm(helpers::load as *const () as i64);
        let args = [self.h, self.bus, self.ctx, va, pc, inf];
        let call = self.b.ins().call_indirect(self.sigs.load, f, &args);
        let status = self.b.inst_results(call)[0];
        self.exit_if(status);
        let x = self.b.ins().load(I64, flags(), self.ctx, CTX_BASE_OFFSETS.val);
        self.b.ins().jump(join, &[x.into()]);

        self.b.switch_to_block(join);
        self.b.seal_block(join);
        self.set(i.rd(), v);
    }

    fn store(&mut self, k: usize, i: &Packed, delta: u64, n: u64) {
        let base = self.get(i.rs1());
        let value = self.get(i.rs2());
        let va = self.b.ins().iadd_imm_s(base, i.imm() as i64);
        let (hit, host) = self.tlb(va, n, CTX_BASE_OFFSETS.write);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.ins().brif(hit, fast, &[], slow, &[]);

        self.b.switch_to_block(fast);
        self.b.seal_block(fast);
        let ins = self.b.ins();
        match n {
            1 => ins.istore8(guest_flags(), value, host, 0),
            2 => ins.istore16(guest_flags(), value, host, 0),
            4 => ins.istore32(guest_flags(), value, host, 0),
            _ => ins.store(guest_flags(), value, host, 0),
        };
        self.b.ins().jump(join, &[]);

        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let pc = self.pc(delta);
        let inf = self.imm(info(k, i.len(), n, false) as i64);
        let f = self.imm(helpers::store as *const () as i64);
        let args = [self.h, self.bus, self.ctx, va, value, pc, inf];
        let call = self.b.ins().call_indirect(self.sigs.store, f, &args);
        let status = self.b.inst_results(call)[0];
        self.exit_if(status);
        self.b.ins().jump(join, &[]);

        self.b.switch_to_block(join);
        self.b.seal_block(join);
    }

    /// Instruction `k` through its interpreter handler (found at run time, see `helpers::exec`).
    /// Returns the next pc it reported.
    fn exec(&mut self, k: usize, delta: u64) -> Value {
        self.flush();
        self.dirty = 0;
        let pc = self.pc(delta);
        let kk = self.imm(k as i64);
        let f = self.imm(helpers::exec as *const () as i64);
        let args = [self.h, self.bus, self.ctx, pc, kk];
        let call = self.b.ins().call_indirect(self.sigs.exec, f, &args);
        let next = self.b.inst_results(call)[0];
        // Odd: an exit status; registers are already in the hart (flushed before the call).
        let odd = self.b.ins().band_imm_s(next, 1);
        let status = odd_status(&mut self.b, odd, next);
        self.exit_if(status);
        self.reload();
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

/// Whether the block's last instruction is a branch or `jal` back to the block's first.
fn self_loop(insns: &[Packed]) -> bool {
    let Some(l) = insns.last() else { return false };
    if !matches!(l.op(), Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu | Op::Jal) {
        return false;
    }
    // The offset of the last instruction from the entry, following in-page jal continuations.
    let mut delta = 0u64;
    for i in &insns[..insns.len() - 1] {
        delta = if i.op() == Op::Jal { delta.wrapping_add(i.imm() as i64 as u64) } else { delta.wrapping_add(i.len()) };
    }
    delta.wrapping_add(l.imm() as i64 as u64) == 0
}

/// `next` when `odd` is set (an exit status), else 0.
fn odd_status(b: &mut FunctionBuilder, odd: Value, next: Value) -> Value {
    let zero = b.ins().iconst(I64, 0);
    b.ins().select(odd, next, zero)
}

fn helper_sig(isa: &OwnedTargetIsa, params: usize) -> Signature {
    let mut s = Signature::new(isa.default_call_conv());
    s.params.extend((0..params).map(|_| AbiParam::new(I64)));
    s.returns.push(AbiParam::new(I64));
    s
}

/// Machine code for `insns` (one decoded block), or None if Cranelift fails or the code would
/// need relocations (we place it ourselves, so it must be position-independent as it is).
/// `instr`: with coverage and cmplog instrumentation (`jit::cov`).
pub fn compile(isa: &OwnedTargetIsa, insns: &[Packed], instr: bool) -> Option<Vec<u8>> {
    let sig = helper_sig(isa, 4);
    let mut func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let sigs = Sigs {
        load: b.import_signature(helper_sig(isa, 6)),
        store: b.import_signature(helper_sig(isa, 7)),
        exec: b.import_signature(helper_sig(isa, 5)),
    };
    let mut tx = Tx { b, h: p[0], bus: p[1], ctx: p[2], pc0: p[3], vars: [None; 32], dirty: 0, sigs, instr };
    for i in insns {
        for r in [i.rd(), i.rs1(), i.rs2()] {
            if r != 0 && tx.vars[r].is_none() {
                tx.vars[r] = Some(tx.b.declare_var(I64));
            }
        }
    }
    tx.reload();
    // The loop head: a block whose last instruction jumps back to its own start goes round
    // again inside the compiled code (see `self_loop`), with registers kept in variables.
    let head = tx.b.create_block();
    tx.b.ins().jump(head, &[]);
    tx.b.switch_to_block(head);
    let loops = self_loop(insns);
    if loops {
        // Registers written late in one round are not stored when the next round starts, so
        // every exit stores every register the block writes (their values, stored or not).
        for i in insns {
            if i.rd() != 0 {
                tx.dirty |= 1 << i.rd();
            }
        }
    }

    let mut delta = 0u64;
    let last = insns.len() - 1;
    let len = insns.len() as i64;
    let mut result = None;
    for (k, i) in insns.iter().enumerate() {
        let next_delta = delta.wrapping_add(i.len());
        let (rd, imm) = (i.rd(), i.imm() as i64);
        let a = tx.get(i.rs1());
        let bv = tx.get(i.rs2());
        let mut next = None;
        if tx.instr && super::cov::logged(i.op()) {
            // Cmplog, as the interpreter's logging handler: before the compare executes.
            let pc = tx.pc(delta);
            let y = if matches!(i.op(), Op::Slti | Op::Sltiu) { tx.imm(imm) } else { bv };
            super::cov::emit_cmp(&mut tx.b, tx.h, tx.ctx, pc, a, y);
        }
        let v: Option<Value> = match i.op() {
            Op::Lui => Some(tx.imm(imm)),
            Op::Auipc => Some(tx.pc(delta.wrapping_add(imm as u64))),
            Op::Jal => {
                let link = tx.pc(next_delta);
                tx.set(rd, link);
                let target = delta.wrapping_add(imm as u64);
                if k == last && loops {
                    tx.again(head, len);
                    let dead = tx.b.create_block();
                    tx.b.switch_to_block(dead);
                    tx.b.seal_block(dead);
                }
                if k == last {
                    next = Some(tx.pc(target));
                }
                delta = target;
                None
            }
            Op::Jalr => {
                let t = tx.b.ins().iadd_imm_s(a, imm);
                let t = tx.b.ins().band_imm_s(t, !1);
                let link = tx.pc(next_delta);
                tx.set(rd, link);
                next = Some(t);
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
                if loops {
                    let back = tx.b.create_block();
                    let out = tx.b.create_block();
                    tx.b.ins().brif(c, back, &[], out, &[]);
                    tx.b.switch_to_block(back);
                    tx.b.seal_block(back);
                    tx.again(head, len);
                    tx.b.switch_to_block(out);
                    tx.b.seal_block(out);
                }
                let taken = tx.pc(delta.wrapping_add(imm as u64));
                let fall = tx.pc(next_delta);
                next = Some(if loops { fall } else { tx.b.ins().select(c, taken, fall) });
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
            _ => {
                let n = tx.exec(k, delta);
                if k == last {
                    next = Some(n);
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
        if k == last {
            result = Some(match next {
                Some(n) => n,
                None => tx.pc(delta),
            });
        }
    }
    let result = result.expect("a block has at least one instruction");
    tx.flush();
    tx.b.ins().return_(&[result]);
    tx.b.seal_block(head);
    tx.b.finalize(isa.frontend_config());

    let mut ctx = Context::for_function(func);
    let code = ctx.compile(&**isa, &mut ControlPlane::default()).ok()?;
    if !code.buffer.relocs().is_empty() {
        return None;
    }
    Some(code.code_buffer().to_vec())
}

/// `a < b` (or `a < imm`) as 0/1.
fn cmp(b: &mut FunctionBuilder, cc: IntCC, a: Value, imm: Option<i64>, bv: Value) -> Value {
    let c = match imm {
        Some(i) => b.ins().icmp_imm_s(cc, a, i),
        None => b.ins().icmp(cc, a, bv),
    };
    b.ins().uextend(I64, c)
}
