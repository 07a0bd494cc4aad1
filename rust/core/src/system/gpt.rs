//! The guarded page table (docs/system-mode.md, "Guarded page table"): the monitor is the only
//! writer of the host kernel's page tables.
//!
//! State: the PT area and its three sub-areas (PGD, PMD, PTE), the bitmap region, and the
//! secure-frame bitmap itself (one bit per RAM frame, kept here: the bitmap region is reserved
//! and made inaccessible by PMP, as in Penglai, but its contents are the monitor's business).
//!
//! Every rule refuses *before* it changes anything. Penglai stores a SET_PTE entry and then
//! reports the failed check (flags 1 and 3); here a refused entry is never stored.
use super::{mem, MONITOR_BASE, MONITOR_END};
use crate::bus::Bus;
use crate::hart::csr::mstatus;
use crate::hart::Hart;
use crate::mmu::pmp::{A_NAPOT, CFG_A_SHIFT, CFG_R};
use crate::mmu::sv39::{PTE_R, PTE_V, PTE_W, PTE_X};

pub const PAGE: u64 = 4096;
const HUGE: u64 = 512 * PAGE;
const PPN_MASK: u64 = (1 << 44) - 1;
/// The smallest bitmap region Penglai accepts: 512 pages.
pub const MIN_BITMAP: u64 = 512 * PAGE;
pub const ERR: i64 = -1;

pub const SET_PTE_ONE: u64 = 1;
pub const PTE_MEMSET: u64 = 2;
pub const PTE_MEMCPY: u64 = 3;
pub const SET_PTE_BATCH_ZERO: u64 = 4;
pub const SET_PTE_BATCH_SET: u64 = 5;

/// PMP entries the monitor programs (lowest number wins).
pub const PMP_MONITOR: usize = 0;
pub const PMP_PT_AREA: usize = 1;
pub const PMP_BITMAP: usize = 2;
pub const PMP_CLINT: usize = 6;
pub const PMP_ALL: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Pgd,
    Pmd,
    Pte,
    Outside,
}

#[derive(Clone, Copy, Debug, Default)]
struct Split {
    pgd_end: u64,
    pmd_end: u64,
}

#[derive(Debug, Default)]
pub struct Gpt {
    ram: (u64, u64),
    /// `[base, end)` of the PT area and of the bitmap region once SM_INIT succeeded.
    pt: Option<(u64, u64)>,
    bitmap_region: (u64, u64),
    split: Option<Split>,
    /// One bit per RAM frame: set = private (secure).
    secure: Vec<u64>,
    /// The relay pool SCHRODINGER_INIT accepted.
    pub schrodinger: Option<(u64, u64)>,
}

fn napot(pa: u64, size: u64) -> bool {
    size >= PAGE && size.is_power_of_two() && pa % size == 0
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn is_leaf(pte: u64) -> bool {
    pte & (PTE_R | PTE_W | PTE_X) != 0
}

fn target(pte: u64) -> u64 {
    ((pte >> 10) & PPN_MASK) << 12
}

/// pmpaddr value of a NAPOT region.
pub fn napot_addr(base: u64, size: u64) -> u64 {
    (base >> 2) | ((size >> 3) - 1)
}

/// Programs PMP entry `i` (M-mode writes through the CSR file, which rebuilds and flushes).
pub fn set_pmp(hart: &mut Hart, i: usize, cfg: u8, addr: u64) {
    let csr = 0x3a0 + 2 * (i as u16 / 8);
    let shift = 8 * (i % 8);
    let old = hart.csr.pmpcfg[i / 8];
    hart.csr_write(0x3b0 + i as u16, addr).expect("pmpaddr exists");
    let new = (old & !(0xff << shift)) | ((cfg as u64) << shift);
    hart.csr_write(csr, new).expect("pmpcfg exists");
}

impl Gpt {
    pub fn new(ram_start: u64, ram_end: u64) -> Gpt {
        Gpt { ram: (ram_start, ram_end), ..Gpt::default() }
    }

    pub fn installed(&self) -> bool {
        self.pt.is_some()
    }

    /// PT_AREA_SEPARATION succeeded (TVM is on).
    pub fn separated(&self) -> bool {
        self.split.is_some()
    }

    pub fn pt_area(&self) -> Option<(u64, u64)> {
        self.pt
    }

    pub fn bitmap_region(&self) -> Option<(u64, u64)> {
        self.pt.map(|_| self.bitmap_region)
    }

    /// `(pgd_end, pmd_end)` after PT_AREA_SEPARATION.
    pub fn sub_areas(&self) -> Option<(u64, u64)> {
        self.split.map(|s| (s.pgd_end, s.pmd_end))
    }

    fn frame_index(&self, pa: u64) -> Option<usize> {
        (pa >= self.ram.0 && pa < self.ram.1).then(|| ((pa - self.ram.0) / PAGE) as usize)
    }

    /// Whether the frame holding `pa` is private. Frames outside RAM never are.
    pub fn is_secure(&self, pa: u64) -> bool {
        match self.frame_index(pa) {
            Some(i) => self.secure.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0),
            None => false,
        }
    }

    /// Whether every frame of `[pa, pa + size)` is public (`size` > 0, no overflow).
    pub fn range_public(&self, pa: u64, size: u64) -> bool {
        let Some(end) = pa.checked_add(size) else { return false };
        if self.secure.is_empty() {
            return true;
        }
        let mut p = pa & !(PAGE - 1);
        while p < end {
            // Whole zero words skip 64 frames at a time.
            if let Some(i) = self.frame_index(p) {
                if i % 64 == 0 && self.secure.get(i / 64) == Some(&0) {
                    p = p.saturating_add(64 * PAGE);
                    continue;
                }
            }
            if self.is_secure(p) {
                return false;
            }
            p += PAGE;
        }
        true
    }

    fn mark(&mut self, pa: u64, size: u64, secure: bool) {
        let mut p = pa;
        while p < pa + size {
            if let Some(i) = self.frame_index(p) {
                let w = &mut self.secure[i / 64];
                if secure { *w |= 1 << (i % 64) } else { *w &= !(1 << (i % 64)) }
            }
            p += PAGE;
        }
    }

    pub fn area(&self, pa: u64) -> Area {
        match (self.pt, self.split) {
            (Some((base, end)), Some(s)) if pa >= base && pa < end => {
                if pa < s.pgd_end {
                    Area::Pgd
                } else if pa < s.pmd_end {
                    Area::Pmd
                } else {
                    Area::Pte
                }
            }
            _ => Area::Outside,
        }
    }

    /// Whether `[pa, pa + len)` lies in the PT area.
    fn in_pt(&self, pa: u64, len: u64) -> bool {
        let Some((base, end)) = self.pt else { return false };
        pa.checked_add(len).is_some_and(|e| pa >= base && e <= end)
    }

    /// Memory the monitor may read on S-mode's behalf: RAM outside the monitor and bitmap
    /// regions, every page public (Penglai checks the first page only; see the docs).
    pub fn host_readable(&self, bus: &Bus, pa: u64, len: u64) -> bool {
        let Some(end) = pa.checked_add(len.max(1)) else { return false };
        bus.is_ram_range(pa, end - pa)
            && !overlaps((pa, end), (MONITOR_BASE, MONITOR_END))
            && !(self.installed() && overlaps((pa, end), self.bitmap_region))
            && self.range_public(pa, end - pa)
    }

    /// Memory the monitor may write on S-mode's behalf: readable, and not the PT area.
    pub fn host_writable(&self, bus: &Bus, pa: u64, len: u64) -> bool {
        let Some(end) = pa.checked_add(len.max(1)) else { return false };
        self.host_readable(bus, pa, len) && !self.pt.is_some_and(|pt| overlaps((pa, end), pt))
    }

    /// SBI_SM_INIT: once only.
    pub fn sm_init(&mut self, hart: &mut Hart, bus: &mut Bus, pt: u64, pt_size: u64, bm: u64, bm_size: u64, flag: u64) -> i64 {
        if self.installed() {
            return ERR;
        }
        let frames = (self.ram.1 - self.ram.0) / PAGE;
        if !napot(pt, pt_size) || !napot(bm, bm_size) || bm_size < MIN_BITMAP.max(frames.saturating_mul(4)) {
            return ERR;
        }
        let (Some(pt_end), Some(bm_end)) = (pt.checked_add(pt_size), bm.checked_add(bm_size)) else { return ERR };
        let (pt_r, bm_r) = ((pt, pt_end), (bm, bm_end));
        let monitor = (MONITOR_BASE, MONITOR_END);
        if !bus.is_ram_range(pt, pt_size) || !bus.is_ram_range(bm, bm_size) {
            return ERR;
        }
        if overlaps(pt_r, monitor) || overlaps(bm_r, monitor) || overlaps(pt_r, bm_r) {
            return ERR;
        }
        let flag_r = (flag, flag.saturating_add(4));
        if flag % 4 != 0
            || !bus.is_ram_range(flag, 4)
            || overlaps(flag_r, monitor)
            || overlaps(flag_r, pt_r)
            || overlaps(flag_r, bm_r)
        {
            return ERR;
        }
        self.pt = Some(pt_r);
        self.bitmap_region = bm_r;
        self.secure = vec![0; frames.div_ceil(64) as usize];
        set_pmp(hart, PMP_PT_AREA, CFG_R | (A_NAPOT << CFG_A_SHIFT), napot_addr(pt, pt_size));
        set_pmp(hart, PMP_BITMAP, A_NAPOT << CFG_A_SHIFT, napot_addr(bm, bm_size));
        mem::write(hart, bus, flag, &1u32.to_le_bytes());
        0
    }

    /// SBI_SM_PT_AREA_SEPARATION: sub-area bounds, `__check_mapping`, then TVM on.
    pub fn separate(&mut self, hart: &mut Hart, bus: &mut Bus, pgd_order: u64, pmd_order: u64) -> i64 {
        let Some((base, end)) = self.pt else { return ERR };
        if self.separated() || pgd_order >= 40 || pmd_order >= 40 {
            return ERR;
        }
        let pgd_end = base + (PAGE << pgd_order);
        let Some(pmd_end) = pgd_end.checked_add(PAGE << pmd_order) else { return ERR };
        if pmd_end > end {
            return ERR;
        }
        let split = Split { pgd_end, pmd_end };
        let prev = self.split.replace(split);
        let ok = self.satp_ok(hart.csr.satp) && self.check_mapping(bus);
        if !ok {
            self.split = prev;
            return ERR;
        }
        hart.csr.mstatus |= mstatus::TVM;
        hart.flush_tlb();
        0
    }

    /// `__check_mapping`, over every page of the PGD and PMD sub-areas (not only the pages the
    /// current root reaches: any of them can be linked in later by a legal SET_PTE).
    fn check_mapping(&self, bus: &Bus) -> bool {
        let Some(s) = self.split else { return false };
        let (base, _) = self.pt.unwrap_or_default();
        for ppn in bus.mem.present_in(base / PAGE, s.pmd_end / PAGE) {
            let Some(frame) = bus.mem.get(ppn) else { continue };
            for (i, chunk) in frame.chunks_exact(8).enumerate() {
                let pte = u64::from_le_bytes(chunk.try_into().unwrap());
                if !self.location_ok(ppn * PAGE + 8 * i as u64, pte) {
                    return false;
                }
            }
        }
        true
    }

    /// After TVM: a `satp` value S-mode may install (Sv39, root strictly above the PT-area
    /// base and inside the PGD sub-area; the whole 44-bit PPN is checked).
    pub fn satp_ok(&self, satp: u64) -> bool {
        let (Some((base, _)), Some(s)) = (self.pt, self.split) else { return false };
        let root = (satp & PPN_MASK) << 12;
        satp >> 60 == 8 && root > base && root < s.pgd_end
    }

    /// `check_pt_location`: where an entry stored at `pte_pa` may point.
    fn location_ok(&self, pte_pa: u64, pte: u64) -> bool {
        if pte & PTE_V == 0 {
            return true;
        }
        let to = self.area(target(pte));
        match self.area(pte_pa) {
            Area::Pgd => to == Area::Pmd,
            Area::Pmd if !is_leaf(pte) => to == Area::Pte,
            _ => true,
        }
    }

    /// The full rule for storing `pte` at `pte_pa` (SET_PTE flags 1, 3, 5): inside the PT
    /// area, 8-aligned, legal location, and a valid leaf maps public frames only.
    pub fn entry_ok(&self, pte_pa: u64, pte: u64) -> bool {
        if pte_pa % 8 != 0 || !self.in_pt(pte_pa, 8) || !self.location_ok(pte_pa, pte) {
            return false;
        }
        if pte & PTE_V == 0 || !is_leaf(pte) {
            return true;
        }
        let size = match self.area(pte_pa) {
            Area::Pmd => HUGE,
            _ => PAGE,
        };
        self.range_public(target(pte), size)
    }

    /// SBI_SET_PTE. Flags 4/5: `pte_pa` is the PA of the list and `value` its length.
    pub fn set_pte(&mut self, hart: &mut Hart, bus: &mut Bus, flag: u64, pte_pa: u64, value: u64, size: u64) -> i64 {
        if !self.installed() {
            return ERR;
        }
        match flag {
            SET_PTE_ONE => {
                if !self.entry_ok(pte_pa, value) {
                    return ERR;
                }
                mem::write_u64(hart, bus, pte_pa, value);
            }
            PTE_MEMSET => {
                if value != 0 || size % 8 != 0 || pte_pa % 8 != 0 || !self.in_pt(pte_pa, size) {
                    return ERR;
                }
                mem::zero(hart, bus, pte_pa, size);
            }
            PTE_MEMCPY => {
                if size % 8 != 0 || pte_pa % 8 != 0 || !self.in_pt(pte_pa, size) || !self.host_readable(bus, value, size) {
                    return ERR;
                }
                let mut buf = vec![0u8; size as usize];
                if !bus.read(value, &mut buf) {
                    return ERR;
                }
                for (i, c) in buf.chunks_exact(8).enumerate() {
                    if !self.entry_ok(pte_pa + 8 * i as u64, u64::from_le_bytes(c.try_into().unwrap())) {
                        return ERR;
                    }
                }
                mem::write(hart, bus, pte_pa, &buf);
            }
            SET_PTE_BATCH_ZERO | SET_PTE_BATCH_SET => {
                let Some(bytes) = value.checked_mul(16) else { return ERR };
                if !self.host_readable(bus, pte_pa, bytes) {
                    return ERR;
                }
                for k in 0..value {
                    let a = bus.read_u64(pte_pa + 16 * k).unwrap_or(u64::MAX);
                    let b = bus.read_u64(pte_pa + 16 * k + 8).unwrap_or(u64::MAX);
                    if flag == SET_PTE_BATCH_SET {
                        if !self.entry_ok(a, b) {
                            return ERR;
                        }
                        mem::write_u64(hart, bus, a, b);
                    } else {
                        if a % 8 != 0 || b % 8 != 0 || !self.in_pt(a, b) {
                            return ERR;
                        }
                        mem::zero(hart, bus, a, b);
                    }
                }
            }
            _ => return ERR,
        }
        0
    }

    /// SBI_SM_MAP_PTE: the 2 MiB leaf at `pmd_entry` becomes a pointer to `new_page`, which
    /// gets 512 4 KiB leaves with the same attributes.
    pub fn map_pte(&mut self, hart: &mut Hart, bus: &mut Bus, pmd_entry: u64, new_page: u64) -> i64 {
        if pmd_entry % 8 != 0 || self.area(pmd_entry) != Area::Pmd {
            return ERR;
        }
        if new_page % PAGE != 0 || self.area(new_page) != Area::Pte {
            return ERR;
        }
        let Some(leaf) = bus.read_u64(pmd_entry) else { return ERR };
        if leaf & PTE_V == 0 || !is_leaf(leaf) || target(leaf) % HUGE != 0 {
            return ERR;
        }
        let mut page = vec![0u8; PAGE as usize];
        let ppn = (leaf >> 10) & PPN_MASK;
        for (i, c) in page.chunks_exact_mut(8).enumerate() {
            let pte = ((ppn + i as u64) << 10) | (leaf & 0x3ff);
            c.copy_from_slice(&pte.to_le_bytes());
        }
        mem::write(hart, bus, new_page, &page);
        mem::write_u64(hart, bus, pmd_entry, ((new_page >> 12) << 10) | PTE_V);
        hart.flush_tlb();
        0
    }

    /// A block the host gives away (enclave block, MEMORY_EXTEND): page-aligned RAM outside
    /// the monitor, PT and bitmap regions, all public, and no 2 MiB host leaf covering only
    /// part of it. Checked whole before anything changes.
    pub fn can_make_secure(&self, bus: &Bus, pa: u64, size: u64) -> bool {
        if !self.separated() || pa % PAGE != 0 || size % PAGE != 0 || size == 0 {
            return false;
        }
        let Some(end) = pa.checked_add(size) else { return false };
        if !bus.is_ram_range(pa, size)
            || overlaps((pa, end), (MONITOR_BASE, MONITOR_END))
            || overlaps((pa, end), self.pt.unwrap_or_default())
            || overlaps((pa, end), self.bitmap_region)
            || !self.range_public(pa, size)
        {
            return false;
        }
        self.leaves(bus, pa, end, |_, pte, huge| {
            let t = target(pte);
            !(huge && (t < pa || t + HUGE > end))
        })
    }

    /// Makes `[pa, pa + size)` private and clears V in every host leaf that maps it. The
    /// caller checked [`Gpt::can_make_secure`].
    pub fn make_secure(&mut self, hart: &mut Hart, bus: &mut Bus, pa: u64, size: u64) {
        self.mark(pa, size, true);
        self.rewrite_leaves(hart, bus, pa, pa + size, true);
    }

    /// The reverse: public again, V set again on every leaf that maps it (`remap_mm_region`).
    pub fn make_public(&mut self, hart: &mut Hart, bus: &mut Bus, pa: u64, size: u64) {
        self.mark(pa, size, false);
        self.rewrite_leaves(hart, bus, pa, pa + size, false);
    }

    fn rewrite_leaves(&self, hart: &mut Hart, bus: &mut Bus, start: u64, end: u64, clear: bool) {
        let mut changes = Vec::new();
        self.leaves(bus, start, end, |at, pte, _| {
            let valid = pte & PTE_V != 0;
            if valid == clear {
                changes.push((at, pte ^ PTE_V));
            }
            true
        });
        for (at, pte) in changes {
            mem::write_u64(hart, bus, at, pte);
        }
        hart.flush_tlb();
    }

    /// Calls `f(entry_pa, pte, huge)` for every leaf (valid or not) in the PMD and PTE
    /// sub-areas whose target overlaps `[start, end)`; stops when `f` says false. Only frames
    /// present in memory are scanned (absent ones read as zero: no leaves).
    fn leaves(&self, bus: &Bus, start: u64, end: u64, mut f: impl FnMut(u64, u64, bool) -> bool) -> bool {
        let (Some((_, pt_end)), Some(s)) = (self.pt, self.split) else { return true };
        for ppn in bus.mem.present_in(s.pgd_end / PAGE, pt_end / PAGE) {
            let huge = ppn * PAGE < s.pmd_end;
            let span = if huge { HUGE } else { PAGE };
            let Some(frame) = bus.mem.get(ppn) else { continue };
            for (i, c) in frame.chunks_exact(8).enumerate() {
                let pte = u64::from_le_bytes(c.try_into().unwrap());
                if !is_leaf(pte) {
                    continue;
                }
                let t = target(pte);
                if t < end && t.saturating_add(span) > start && !f(ppn * PAGE + 8 * i as u64, pte, huge) {
                    return false;
                }
            }
        }
        true
    }

    /// SBI_SCHRODINGER_INIT: the relay pool must be public host memory that no 2 MiB host
    /// leaf covers only in part. Nothing becomes secure here.
    pub fn schrodinger_init(&mut self, bus: &Bus, pa: u64, size: u64) -> i64 {
        if !self.installed() || pa % PAGE != 0 || size % PAGE != 0 || size == 0 || !self.host_writable(bus, pa, size) {
            return ERR;
        }
        let end = pa + size;
        let whole = self.leaves(bus, pa, end, |_, pte, huge| {
            let t = target(pte);
            !(huge && (t < pa || t + HUGE > end))
        });
        if !whole {
            return ERR;
        }
        self.schrodinger = Some((pa, size));
        0
    }
}
