//! Finding the block at `pc`: translate, find or create the page, decode the block.
use super::decode_cache::{ends_block, Block, MAX_BLOCK};
use super::trap::{cause, Trap};
use super::Hart;
use crate::bus::Bus;
use crate::isa::{decode, Insn, Op};
use crate::mmu::Access;

impl Hart {
    #[inline(always)]
    pub(super) fn block(&mut self, bus: &mut Bus) -> Result<Block, Trap> {
        match self.code.lookup(self.pc) {
            Some(b) => Ok(b),
            None => self.build_block(bus),
        }
    }

    #[inline(never)]
    fn build_block(&mut self, bus: &mut Bus) -> Result<Block, Trap> {
        let pc = self.pc;
        let vpn = pc >> 12;
        if !self.code.select(vpn) {
            let pa = self.fetch_pa(pc, bus)?;
            let ppn = pa >> 12;
            if self.code.install(vpn, ppn) {
                self.tlb.drop_writes_to(ppn);
            }
        }
        if let Some(b) = self.code.lookup(pc) {
            return Ok(b);
        }
        if let Some(b) = self.code.straddler(pc) {
            return Ok(b);
        }
        let page = self.code.current_ppn() << 12;
        let mut insns = [Insn::illegal(0, 4); MAX_BLOCK];
        // Each instruction's page offset (for execute triggers: the block may follow a jal).
        let mut offs = [0u64; MAX_BLOCK];
        let mut n = 0;
        let mut off = pc & 0xfff;
        loop {
            let mut raw = fetch_half(bus, page | off);
            if raw & 3 == 3 {
                if off == 0xffe {
                    break;
                }
                raw |= fetch_half(bus, page | (off + 2)) << 16;
            }
            let insn = decode(raw);
            insns[n] = insn;
            offs[n] = off;
            n += 1;
            if n == MAX_BLOCK {
                break;
            }
            if insn.op == Op::Jal {
                // A direct jump within the page: the block follows it (the executor takes the
                // next pc from each instruction, so the target's code simply comes next).
                let target = off.wrapping_add(insn.imm as i64 as u64);
                if target < 0x1000 {
                    off = target;
                    continue;
                }
                break;
            }
            off += insn.len as u64;
            if ends_block(insn.op) || off >= 0x1000 {
                break;
            }
        }
        if n > 0 {
            let cmplog = self.cmplog_on();
            let b = self.code.add_block(pc, &insns[..n], cmplog);
            if self.exec_triggers_armed() {
                self.arm_block(b, pc & !0xfff, &offs[..n]);
            }
            return Ok(b);
        }
        // The first instruction straddles the page boundary; its upper half may map anywhere
        // or fault, so it has its own small cache, emptied on any translation or code change.
        let hi = self.fetch_pa(pc.wrapping_add(2), bus)?;
        let hi_ppn = hi >> 12;
        if self.code.page(hi_ppn).1 {
            // The upper half's frame now counts as code: writes to it take the slow path.
            self.tlb.drop_writes_to(hi_ppn);
        }
        let raw = fetch_half(bus, page | 0xffe) | (fetch_half(bus, hi) << 16);
        let cmplog = self.cmplog_on();
        let b = self.code.add_straddler(pc, decode(raw), cmplog);
        if self.exec_triggers_armed() {
            self.arm_block(b, pc & !0xfff, &[pc & 0xfff]);
        }
        Ok(b)
    }

    fn fetch_pa(&mut self, va: u64, bus: &mut Bus) -> Result<u64, Trap> {
        let pa = self.translate(va, Access::Fetch, bus)?;
        if !bus.is_ram(pa) {
            return Err(Trap::new(cause::FETCH_ACCESS, va));
        }
        Ok(pa)
    }

    /// The raw bits of the instruction at `pc` (for `mtval` on illegal-instruction traps
    /// raised after decoding, e.g. a privileged instruction in the wrong mode).
    pub(super) fn raw_insn(&mut self, bus: &mut Bus, len: u8) -> u64 {
        let Ok(pa) = self.fetch_pa(self.pc, bus) else { return 0 };
        let lo = fetch_half(bus, pa) as u64;
        if len == 2 {
            return lo;
        }
        match self.fetch_pa(self.pc.wrapping_add(2), bus) {
            Ok(hi) => lo | (fetch_half(bus, hi) as u64) << 16,
            Err(_) => lo,
        }
    }
}

fn fetch_half(bus: &mut Bus, pa: u64) -> u32 {
    let mut b = [0u8; 2];
    bus.read(pa, &mut b);
    u16::from_le_bytes(b) as u32
}
