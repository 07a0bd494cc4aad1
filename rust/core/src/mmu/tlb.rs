//! The software TLB: virtual page -> host address, one table for reads and one for writes.
//!
//! Direct-mapped. A tag is the page's virtual address with an epoch in its low bits
//! (`va & !0xfff | epoch`). A flush bumps the epoch instead of clearing the tables, so the
//! frequent flushes (every trap and privilege change) cost next to nothing; the tables are
//! really cleared once every 511 flushes.
//!
//! The epoch sits in bits 3..12 and bits 0..3 of a valid tag are zero, so a lookup for an
//! `n`-byte access can compare the tag with `va & (!0xfff | (n - 1)) | epoch` (compiled code
//! does, `jit::translate`): an address that is not `n`-aligned keeps a set bit below bit 3
//! and matches no entry, so the one compare checks the page, the epoch and the alignment.
//! Nothing is added to `va` there, so addresses near 2^64 cannot wrap into another page.
//!
//! The tables start as one empty entry and grow to full size on the first fill, and
//! [`Tlb::release`] shrinks them again: an idle hart (one of thousands of forked enclave
//! instances) then costs a few bytes here instead of 40 KiB.

pub const TLB_ENTRIES: usize = 1024;
/// The epoch's lowest bit; below it, the bits an aligned access of up to 8 bytes leaves clear.
pub(crate) const EPOCH_SHIFT: u32 = 3;
/// Bits 3..12: the epoch; the last value (all ones) is never used, so no tag is `INVALID`.
const EPOCH_MASK: u64 = 0xfff & !((1 << EPOCH_SHIFT) - 1);
/// Matches no lookup: its low three bits are set.
const INVALID: u64 = u64::MAX;
/// Read fills remembered between flushes (a short run touches fewer pages than this).
const RECENT: usize = 32;
/// Page-table frames remembered for the walker (root, a few middle and leaf tables).
const PT_FRAMES: usize = 16;
/// Upper halves of recent walks remembered (one per 2 MiB of virtual space).
const UPPERS: usize = 8;

/// The two pointer PTEs (levels 2 and 1) a walk of some 2 MiB virtual region read: where they
/// are (host address of each PTE word), the values read, and the host address of the leaf
/// table they lead to. A later walk in the region re-reads both words and, if they still hold
/// these values, reads the leaf PTE straight from that table: the same PTE values give the
/// same walk, so a PTE changed in place, even without `sfence.vma`, is seen as before.
///
/// The tag holds all of `va`'s bits 63..21 (`(va >> 21) << 12` keeps them: 43 bits shifted by
/// 12), and only a walk of a canonical address fills an entry, so a non-canonical address never
/// matches one: the fast path needs no canonical check of its own.
#[derive(Clone, Copy)]
pub(crate) struct Upper {
    /// `tag(va >> 21)`, or `INVALID`.
    tag: u64,
    pub ptes: [(u64, u64); 2],
    /// Host address of the leaf table's first PTE (its frame is live as long as the PTE
    /// addresses' frames are: same lifetime rules).
    pub leaf: u64,
}

const NO_UPPER: Upper = Upper { tag: INVALID, ptes: [(0, 0); 2], leaf: 0 };

/// `repr(C)`: compiled code (`jit`) reads `tag` at offset 0 and `addend` at offset 8.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Entry {
    /// `vpn << 12 | epoch` ([`Tlb::tag`]), or `INVALID`.
    pub tag: u64,
    /// Host address of the page minus its virtual address: `host = va + addend`.
    pub addend: u64,
}

const EMPTY: Entry = Entry { tag: INVALID, addend: 0 };

/// The byte offset mask of an entry in a table of [`TLB_ENTRIES`] (`Tlb::raw`); the lookup's
/// `(va >> 8) & RAW_MASK` relies on 16-byte entries and 4 KiB pages.
pub(crate) const RAW_MASK: u64 = ((TLB_ENTRIES - 1) * std::mem::size_of::<Entry>()) as u64;
const _: () = assert!(std::mem::size_of::<Entry>() == 16 && TLB_ENTRIES.is_power_of_two());

/// What compiled code looks up in while the tables are released: matches nothing.
static EMPTY_TABLE: [Entry; TLB_ENTRIES] = [EMPTY; TLB_ENTRIES];

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
    /// Current epoch, pre-shifted into the tag's bits 3..12; never all ones there.
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

    /// The tag a virtual page number (or a page-table frame's or 2 MiB region's number, for
    /// the walker's caches; all below 2^52) has in the current epoch.
    #[inline(always)]
    pub fn tag(&self, vpn: u64) -> u64 {
        vpn << 12 | self.epoch
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
    /// in bytes ([`RAW_MASK`]: an entry's byte offset is `(va >> 8) & RAW_MASK`) and the epoch
    /// (valid until the next fill, flush or release). The tables always have [`TLB_ENTRIES`]
    /// entries: a released TLB's are one shared table of empty entries, so compiled code needs
    /// no mask register.
    pub(crate) fn raw(&self) -> (*const Entry, *const Entry, u64, u64) {
        if self.mask == 0 {
            return (EMPTY_TABLE.as_ptr(), EMPTY_TABLE.as_ptr(), RAW_MASK, self.epoch);
        }
        (self.read.as_ptr(), self.write.as_ptr(), RAW_MASK, self.epoch)
    }

    /// Drops the read entries for physical page `ppn` (its frame was replaced: created or
    /// copied on write), in place, without a flush. False if it cannot tell which entries those
    /// are (more than [`RECENT`] fills since the last flush): the caller must flush.
    pub fn drop_reads_to(&mut self, ppn: u64) -> bool {
        let pt = &mut self.pt[ppn as usize % PT_FRAMES];
        if pt.0 >> 12 == ppn {
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

    /// Caches a walk's two pointer PTEs `(host address, value)` for region `region` (`va >> 21`
    /// of a canonical `va`); `leaf` is the host address of the leaf table they lead to. All
    /// three frames must have been read through the page-table frame cache since the last
    /// flush (so `drop_reads_to` and flushes drop this entry with them).
    pub(crate) fn fill_upper(&mut self, region: u64, ptes: [(u64, u64); 2], leaf: u64) {
        self.upper[region as usize % UPPERS] = Upper { tag: self.tag(region), ptes, leaf };
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

    /// The compare compiled code makes (see the module comment): `n`-byte access at `va`.
    fn jit_hit(t: &Tlb, va: u64, n: u64, write: bool) -> bool {
        let (r, w, mask, epoch) = t.raw();
        // SAFETY: the byte mask keeps the offset inside the table.
        let e = unsafe { *(if write { w } else { r } as *const u8).add(((va >> 8) & mask) as usize).cast::<Entry>() };
        e.tag == va & (!0xfff | (n - 1)) | epoch
    }

    #[test]
    fn one_compare_checks_page_epoch_and_alignment_up_to_the_top_of_the_address_space() {
        let mut t = Tlb::default();
        let mut page = [0u8; 4096];
        for flushes in 0..1100 {
            for vpage in [0x5000u64, 0x3ff000, 1 << 40, (1 << 63) - 0x1000, 1 << 63, u64::MAX & !0xfff] {
                // This page alone is valid (the flushes also wrap the epoch many times).
                t.flush();
                t.fill_read(vpage, 5, page.as_mut_ptr());
                t.fill_write(vpage, 5, page.as_mut_ptr());
                for write in [false, true] {
                    for n in [1u64, 2, 4, 8] {
                        for off in (0..16).chain(4080..4096) {
                            let va = vpage + off;
                            assert_eq!(jit_hit(&t, va, n, write), off % n == 0, "va {va:#x} n {n} write {write} flushes {flushes}");
                            // Other pages in the same slot, and the neighbouring pages, miss.
                            for other in [va ^ (1024 << 12), va.wrapping_add(0x1000), va.wrapping_sub(0x1000), va ^ (1 << 63)] {
                                assert!(!jit_hit(&t, other, n, write), "va {other:#x} hit the entry of {vpage:#x}");
                            }
                        }
                    }
                }
            }
            t.flush();
            for write in [false, true] {
                assert!(!jit_hit(&t, 0x5000, 1, write) && !jit_hit(&t, u64::MAX & !0xfff, 1, write), "a flush drops every entry");
            }
        }
        t.release();
        assert!(!jit_hit(&t, 0x5000, 1, false) && !jit_hit(&t, 0, 1, true), "a released table matches nothing");
    }
}
