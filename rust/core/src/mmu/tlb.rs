//! The software TLB: virtual page -> host address, one table for reads and one for writes.

pub const TLB_ENTRIES: usize = 256;
const INVALID: u64 = u64::MAX;

#[derive(Clone, Copy)]
pub struct Entry {
    /// Virtual page number, or `INVALID`.
    pub tag: u64,
    /// Host address of the page minus its virtual address: `host = va + addend`.
    pub addend: u64,
    /// Physical page number, to drop entries when a frame changes role.
    pub ppn: u64,
}

const EMPTY: Entry = Entry { tag: INVALID, addend: 0, ppn: INVALID };

pub struct Tlb {
    pub read: [Entry; TLB_ENTRIES],
    pub write: [Entry; TLB_ENTRIES],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb { read: [EMPTY; TLB_ENTRIES], write: [EMPTY; TLB_ENTRIES] }
    }
}

#[inline(always)]
pub fn slot(vpn: u64) -> usize {
    vpn as usize & (TLB_ENTRIES - 1)
}

impl Tlb {
    pub fn flush(&mut self) {
        self.read = [EMPTY; TLB_ENTRIES];
        self.write = [EMPTY; TLB_ENTRIES];
    }

    /// Drops the write entries for physical page `ppn` (it now holds decoded code).
    pub fn drop_writes_to(&mut self, ppn: u64) {
        for e in self.write.iter_mut().filter(|e| e.ppn == ppn) {
            *e = EMPTY;
        }
    }

    pub fn fill(table: &mut [Entry; TLB_ENTRIES], va: u64, ppn: u64, base: *mut u8) {
        let vpn = va >> 12;
        table[slot(vpn)] = Entry { tag: vpn, addend: (base as u64).wrapping_sub(vpn << 12), ppn };
    }
}
