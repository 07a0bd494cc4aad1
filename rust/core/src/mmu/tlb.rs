//! The software TLB: virtual page -> host address, one table for reads and one for writes.
//!
//! Direct-mapped. A flush bumps an epoch kept in the tag's top bits instead of clearing the
//! tables, so the frequent flushes (every trap and privilege change) cost nothing; the tables
//! are really cleared once every 4096 flushes.
//!
//! The tables start as one empty entry and grow to full size on the first fill, and
//! [`Tlb::release`] shrinks them again: an idle hart (one of thousands of forked enclave
//! instances) then costs a few bytes here instead of 40 KiB.

pub const TLB_ENTRIES: usize = 1024;
pub(crate) const EPOCH_SHIFT: u32 = 52;
const EPOCH_MASK: u64 = !((1 << EPOCH_SHIFT) - 1);
const INVALID: u64 = u64::MAX;
/// Read fills remembered between flushes (a short run touches fewer pages than this).
const RECENT: usize = 32;
/// Page-table frames remembered for the walker (root, a few middle and leaf tables).
const PT_FRAMES: usize = 16;
/// Upper halves of recent walks remembered (one per 2 MiB of virtual space).
const UPPERS: usize = 8;

/// The two pointer PTEs (levels 2 and 1) a walk of some 2 MiB virtual region read: where they
/// are (host address of each PTE word), the values read, and the leaf table they lead to. A
/// later walk in the region re-reads both words and, if they still hold these values, goes
/// straight to the leaf table: the same PTE values give the same walk, so a PTE changed in
/// place, even without `sfence.vma`, is seen as before.
#[derive(Clone, Copy)]
pub(crate) struct Upper {
    /// `(va >> 21) | epoch`, or `INVALID`.
    tag: u64,
    pub ptes: [(u64, u64); 2],
    pub table: u64,
}

const NO_UPPER: Upper = Upper { tag: INVALID, ptes: [(0, 0); 2], table: 0 };

/// `repr(C)`: compiled code (`jit`) reads `tag` at offset 0 and `addend` at offset 8.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Entry {
    /// `vpn | epoch`, or `INVALID`.
    pub tag: u64,
    /// Host address of the page minus its virtual address: `host = va + addend`.
    pub addend: u64,
}

const EMPTY: Entry = Entry { tag: INVALID, addend: 0 };

pub struct Tlb {
    /// `mask + 1` entries each: 1 (never valid) while released, else `TLB_ENTRIES`.
    read: Box<[Entry]>,
    write: Box<[Entry]>,
    /// The physical page behind each write entry, to drop entries when a frame gets code.
    write_ppn: Box<[u64]>,
    /// The physical page behind each read entry, to drop entries when its frame is replaced.
    read_ppn: Box<[u64]>,
    /// Read slots filled since the last flush, the first [`RECENT`] of them: every valid read
    /// entry is in this list unless `recent_n > RECENT`.
    recent: [u16; RECENT],
    recent_n: usize,
    mask: usize,
    /// Current epoch, pre-shifted into the tag's top bits; never all ones.
    pub epoch: u64,
    /// Host addresses of the frames holding page tables the walker read, direct-mapped by
    /// physical page: `(ppn | epoch, base)`. They follow the read entries' rules (gone with a
    /// flush, with `drop_reads_to` of their page, with `release`), so a cached frame is as
    /// valid as a read entry; the walker still reads every PTE from it, so a PTE changed in
    /// place is seen at once, as before. Saves a bus lookup (RAM check and frame-tree walk)
    /// per PTE: three per refill under Sv39.
    pt: [(u64, u64); PT_FRAMES],
    /// Upper walk levels by 2 MiB virtual region, with the same lifetime as `pt` (their PTE
    /// addresses point into page-table frames).
    upper: [Upper; UPPERS],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            read: Box::new([EMPTY]),
            write: Box::new([EMPTY]),
            write_ppn: Box::new([INVALID]),
            read_ppn: Box::new([INVALID]),
            recent: [0; RECENT],
            recent_n: 0,
            mask: 0,
            epoch: 0,
            pt: [(INVALID, 0); PT_FRAMES],
            upper: [NO_UPPER; UPPERS],
        }
    }
}

impl Tlb {
    #[inline(always)]
    fn slot(&self, vpn: u64) -> usize {
        vpn as usize & self.mask
    }

    /// The read entry for `vpn`'s slot (valid only if its tag matches [`Tlb::tag`]).
    #[inline(always)]
    pub fn read_entry(&self, vpn: u64) -> Entry {
        // SAFETY: every table has exactly `mask + 1` entries.
        unsafe { *self.read.get_unchecked(self.slot(vpn)) }
    }

    #[inline(always)]
    pub fn write_entry(&self, vpn: u64) -> Entry {
        // SAFETY: as in `read_entry`.
        unsafe { *self.write.get_unchecked(self.slot(vpn)) }
    }

    #[inline(always)]
    fn grow(&mut self) {
        if self.mask == 0 {
            self.grow_tables();
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_tables(&mut self) {
        self.read = vec![EMPTY; TLB_ENTRIES].into_boxed_slice();
        self.write = vec![EMPTY; TLB_ENTRIES].into_boxed_slice();
        self.write_ppn = vec![INVALID; TLB_ENTRIES].into_boxed_slice();
        self.read_ppn = vec![INVALID; TLB_ENTRIES].into_boxed_slice();
        self.mask = TLB_ENTRIES - 1;
    }

    /// Drops every entry and the tables' memory (they grow again on the next fill).
    pub fn release(&mut self) {
        *self = Tlb { epoch: self.epoch, ..Tlb::default() };
    }

    /// The tag a virtual page number has in the current epoch.
    #[inline(always)]
    pub fn tag(&self, vpn: u64) -> u64 {
        (vpn & !EPOCH_MASK) | self.epoch
    }

    pub fn flush(&mut self) {
        self.recent_n = 0;
        self.epoch = self.epoch.wrapping_add(1 << EPOCH_SHIFT);
        if self.epoch == EPOCH_MASK {
            self.read.fill(EMPTY);
            self.write.fill(EMPTY);
            self.pt = [(INVALID, 0); PT_FRAMES];
            self.upper = [NO_UPPER; UPPERS];
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

    /// What compiled code needs for an inline lookup: the read and write tables, the slot mask
    /// and the epoch (valid until the next fill, flush or release).
    pub(crate) fn raw(&self) -> (*const Entry, *const Entry, u64, u64) {
        (self.read.as_ptr(), self.write.as_ptr(), self.mask as u64, self.epoch)
    }

    /// Drops the read entries for physical page `ppn` (its frame was replaced: created or
    /// copied on write), in place, without a flush. False if it cannot tell which entries those
    /// are (more than [`RECENT`] fills since the last flush): the caller must flush.
    pub fn drop_reads_to(&mut self, ppn: u64) -> bool {
        let pt = &mut self.pt[ppn as usize % PT_FRAMES];
        if pt.0 & !EPOCH_MASK == ppn {
            *pt = (INVALID, 0);
        }
        // An upper walk may point into this frame (even one no longer in `pt`); which ones is
        // not worth tracking on this rare path.
        self.upper = [NO_UPPER; UPPERS];
        if self.recent_n > RECENT {
            return false;
        }
        for &s in &self.recent[..self.recent_n] {
            let s = s as usize;
            if self.read_ppn[s] == ppn {
                self.read[s] = EMPTY;
                self.read_ppn[s] = INVALID;
            }
        }
        true
    }

    /// The host address of page-table frame `ppn`, if cached since the last flush.
    #[inline(always)]
    pub fn pt_frame(&self, ppn: u64) -> Option<*const u8> {
        let (tag, base) = self.pt[ppn as usize % PT_FRAMES];
        (tag == self.tag(ppn)).then_some(base as *const u8)
    }

    /// Caches the frame at `base` as page-table page `ppn` (a RAM frame, shared or zero).
    pub fn fill_pt(&mut self, ppn: u64, base: *const u8) {
        self.pt[ppn as usize % PT_FRAMES] = (self.tag(ppn), base as u64);
    }

    /// The upper walk levels cached for the 2 MiB region `region` (`va >> 21`).
    #[inline(always)]
    pub(crate) fn upper(&self, region: u64) -> Option<Upper> {
        let u = self.upper[region as usize % UPPERS];
        (u.tag == self.tag(region)).then_some(u)
    }

    /// Caches a walk's two pointer PTEs `(host address, value)` for region `region`; `table`
    /// is the leaf table they lead to. Their frames must be in the page-table frame cache.
    pub(crate) fn fill_upper(&mut self, region: u64, ptes: [(u64, u64); 2], table: u64) {
        self.upper[region as usize % UPPERS] = Upper { tag: self.tag(region), ptes, table };
    }

    #[inline]
    pub fn fill_read(&mut self, va: u64, ppn: u64, base: *mut u8) {
        self.grow();
        let vpn = va >> 12;
        let slot = self.slot(vpn);
        self.read[slot] = Entry { tag: self.tag(vpn), addend: (base as u64).wrapping_sub(vpn << 12) };
        self.read_ppn[slot] = ppn;
        if self.recent_n < RECENT {
            self.recent[self.recent_n] = slot as u16;
        }
        self.recent_n = (self.recent_n + 1).min(RECENT + 1);
    }

    #[inline]
    pub fn fill_write(&mut self, va: u64, ppn: u64, base: *mut u8) {
        self.grow();
        let vpn = va >> 12;
        let slot = self.slot(vpn);
        self.write[slot] = Entry { tag: self.tag(vpn), addend: (base as u64).wrapping_sub(vpn << 12) };
        self.write_ppn[slot] = ppn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_invalidates_by_epoch_and_wraps_with_a_real_clear() {
        let mut t = Tlb::default();
        let mut page = [0u8; 4096];
        assert_ne!(t.read_entry(5).tag, t.tag(5), "a released table matches nothing");
        t.fill_read(0x5000, 5, page.as_mut_ptr());
        assert_eq!(t.read_entry(5).tag, t.tag(5));
        t.flush();
        assert_ne!(t.read_entry(5).tag, t.tag(5));
        for _ in 0..5000 {
            t.fill_write(0x7000, 9, page.as_mut_ptr());
            t.flush();
            assert_ne!(t.write_entry(7).tag, t.tag(7), "stale after flush at epoch {:#x}", t.epoch);
        }
        t.fill_write(0x7000, 9, page.as_mut_ptr());
        t.drop_writes_to(9);
        assert_ne!(t.write_entry(7).tag, t.tag(7));
        t.fill_read(0x5000, 5, page.as_mut_ptr());
        t.release();
        assert_ne!(t.read_entry(5).tag, t.tag(5), "released entries are gone");
    }
}
