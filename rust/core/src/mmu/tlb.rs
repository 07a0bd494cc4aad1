//! The software TLB: virtual page -> host address, one table for reads and one for writes.
//!
//! Direct-mapped. A flush bumps an epoch kept in the tag's top bits instead of clearing the
//! tables, so the frequent flushes (every trap and privilege change) cost nothing; the tables
//! are really cleared once every 4096 flushes.

pub const TLB_ENTRIES: usize = 1024;
const EPOCH_SHIFT: u32 = 52;
const EPOCH_MASK: u64 = !((1 << EPOCH_SHIFT) - 1);
const INVALID: u64 = u64::MAX;

#[derive(Clone, Copy)]
pub struct Entry {
    /// `vpn | epoch`, or `INVALID`.
    pub tag: u64,
    /// Host address of the page minus its virtual address: `host = va + addend`.
    pub addend: u64,
}

const EMPTY: Entry = Entry { tag: INVALID, addend: 0 };

pub struct Tlb {
    pub read: Box<[Entry; TLB_ENTRIES]>,
    pub write: Box<[Entry; TLB_ENTRIES]>,
    /// The physical page behind each write entry, to drop entries when a frame gets code.
    write_ppn: Box<[u64; TLB_ENTRIES]>,
    /// Current epoch, pre-shifted into the tag's top bits; never all ones.
    pub epoch: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            read: Box::new([EMPTY; TLB_ENTRIES]),
            write: Box::new([EMPTY; TLB_ENTRIES]),
            write_ppn: Box::new([INVALID; TLB_ENTRIES]),
            epoch: 0,
        }
    }
}

#[inline(always)]
pub fn slot(vpn: u64) -> usize {
    vpn as usize & (TLB_ENTRIES - 1)
}

impl Tlb {
    /// The tag a virtual page number has in the current epoch.
    #[inline(always)]
    pub fn tag(&self, vpn: u64) -> u64 {
        (vpn & !EPOCH_MASK) | self.epoch
    }

    pub fn flush(&mut self) {
        self.epoch = self.epoch.wrapping_add(1 << EPOCH_SHIFT);
        if self.epoch == EPOCH_MASK {
            *self.read = [EMPTY; TLB_ENTRIES];
            *self.write = [EMPTY; TLB_ENTRIES];
            self.epoch = 0;
        }
    }

    /// Drops the write entries for physical page `ppn` (it now holds decoded code).
    pub fn drop_writes_to(&mut self, ppn: u64) {
        for (e, p) in self.write.iter_mut().zip(self.write_ppn.iter_mut()) {
            if *p == ppn {
                *e = EMPTY;
                *p = INVALID;
            }
        }
    }

    pub fn fill_read(&mut self, va: u64, base: *mut u8) {
        let vpn = va >> 12;
        self.read[slot(vpn)] = Entry { tag: self.tag(vpn), addend: (base as u64).wrapping_sub(vpn << 12) };
    }

    pub fn fill_write(&mut self, va: u64, ppn: u64, base: *mut u8) {
        let vpn = va >> 12;
        self.write[slot(vpn)] = Entry { tag: self.tag(vpn), addend: (base as u64).wrapping_sub(vpn << 12) };
        self.write_ppn[slot(vpn)] = ppn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_invalidates_by_epoch_and_wraps_with_a_real_clear() {
        let mut t = Tlb::default();
        let mut page = [0u8; 4096];
        t.fill_read(0x5000, page.as_mut_ptr());
        assert_eq!(t.read[slot(5)].tag, t.tag(5));
        t.flush();
        assert_ne!(t.read[slot(5)].tag, t.tag(5));
        for _ in 0..5000 {
            t.fill_write(0x7000, 9, page.as_mut_ptr());
            t.flush();
            assert_ne!(t.write[slot(7)].tag, t.tag(7), "stale after flush at epoch {:#x}", t.epoch);
        }
        t.fill_write(0x7000, 9, page.as_mut_ptr());
        t.drop_writes_to(9);
        assert_ne!(t.write[slot(7)].tag, t.tag(7));
    }
}
