//! Instruction fetch on a decoded-cache miss: translate, find or create the page, decode a slot.
use super::trap::{cause, Trap};
use super::Hart;
use crate::bus::Bus;
use crate::isa::{decode, Insn};
use crate::mmu::Access;

impl Hart {
    #[inline(never)]
    pub(super) fn fetch_slow(&mut self, bus: &mut Bus) -> Result<Insn, Trap> {
        let pc = self.pc;
        let vpn = pc >> 12;
        if !self.code.select(vpn) {
            let pa = self.fetch_pa(pc, bus)?;
            let ppn = pa >> 12;
            if self.code.install(vpn, ppn) {
                self.tlb.drop_writes_to(ppn);
            }
        }
        let pa = (self.code.current_ppn() << 12) | (pc & 0xfff);
        let mut raw = fetch_half(bus, pa);
        if raw & 3 == 3 {
            if pc & 0xfff == 0xffe {
                // The upper half lives on the next page, which may map anywhere or fault: such
                // an instruction is decoded afresh each time and never cached.
                let hi = self.fetch_pa(pc.wrapping_add(2), bus)?;
                return Ok(decode(raw | (fetch_half(bus, hi) << 16)));
            }
            raw |= fetch_half(bus, pa + 2) << 16;
        }
        let insn = decode(raw);
        self.code.store(pc, insn);
        Ok(insn)
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
