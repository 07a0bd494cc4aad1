//! The physical address space a hart sees: RAM regions over [`PhysMem`], the CLINT, and HTIF.
use crate::device::clint::Clint;
use crate::device::console::{Console, HostConsole};
use crate::device::htif::Htif;
use crate::mem::{Frame, PhysMem, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};
use crate::shared_mem::SharedFrames;
use std::sync::Arc;

/// Reads of RAM that was never written see this frame, so sparse reads allocate nothing.
static ZERO_FRAME: Frame = [0; PAGE_SIZE];

pub struct Bus {
    pub mem: PhysMem,
    /// Sorted, disjoint `[start, end)` physical ranges that are RAM (page-aligned).
    regions: Vec<(u64, u64)>,
    pub clint: Option<Clint>,
    pub htif: Option<Htif>,
    pub console: Box<dyn Console>,
    /// Windows `(pa, frames)` of pages shared with other buses and written in place (secure
    /// shm, monitor/secure_shm.rs): RAM whose frames are not in `mem`. Empty for almost every
    /// bus, so the lookups below cost one branch.
    shared: Vec<(u64, Arc<SharedFrames>)>,
}

/// A frame's host address for the hart's TLB, and whether the frame was (re)created by this
/// request (so pointers to a previous frame at that address must be dropped).
pub struct FramePtr {
    pub base: *mut u8,
    pub replaced: bool,
}

impl Default for Bus {
    fn default() -> Self {
        Bus { mem: PhysMem::default(), regions: Vec::new(), clint: None, htif: None, console: Box::new(HostConsole), shared: Vec::new() }
    }
}

impl Bus {
    /// A bus over `mem` whose RAM is `regions` as another bus's [`Bus::ram_regions`] has them
    /// (sorted, disjoint, page-aligned): a fork's bus, built without merging again.
    pub fn with_ram(mem: PhysMem, regions: &[(u64, u64)]) -> Bus {
        debug_assert!(regions.windows(2).all(|w| w[0].1 < w[1].0) && regions.iter().all(|r| r.0 < r.1));
        Bus { mem, regions: regions.to_vec(), clint: None, htif: None, console: Box::new(HostConsole), shared: Vec::new() }
    }

    /// Adds RAM at `[start, end)` (rounded out to pages, the last page of the 64-bit space
    /// excluded); merges with neighbours.
    pub fn add_ram(&mut self, start: u64, end: u64) {
        let start = start & !PAGE_MASK;
        let end = end.saturating_add(PAGE_MASK) & !PAGE_MASK;
        if start >= end {
            return;
        }
        self.regions.push((start, end));
        self.regions.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.regions.len());
        for &(s, e) in &self.regions {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.regions = merged;
    }

    /// Removes RAM at `[start, end)` (page-aligned) and drops its frames (in time proportional
    /// to the frames present, whatever the size of the range).
    pub fn remove_ram(&mut self, start: u64, end: u64) {
        let mut kept = Vec::with_capacity(self.regions.len() + 1);
        for &(s, e) in &self.regions {
            if e <= start || s >= end {
                kept.push((s, e));
                continue;
            }
            if s < start {
                kept.push((s, start));
            }
            if e > end {
                kept.push((end, e));
            }
        }
        self.regions = kept;
        for ppn in self.mem.present_in(start >> PAGE_SHIFT, end >> PAGE_SHIFT) {
            self.mem.remove(ppn);
        }
    }

    pub fn is_ram(&self, pa: u64) -> bool {
        self.regions.iter().any(|&(s, e)| pa >= s && pa < e)
    }

    /// Whether every byte of `[start, start + len)` is RAM.
    pub fn is_ram_range(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else { return false };
        len == 0 || self.regions.iter().any(|&(s, e)| start >= s && end <= e)
    }

    pub fn ram_regions(&self) -> &[(u64, u64)] {
        &self.regions
    }

    /// Whether stores to this page must take the slow path (the HTIF `tohost` word lives there).
    pub fn write_watched(&self, ppn: u64) -> bool {
        self.htif.is_some_and(|h| h.tohost >> PAGE_SHIFT == ppn)
    }

    /// Host pointer to the RAM frame holding `pa`; for writes the frame is made private.
    pub fn frame(&mut self, pa: u64, write: bool) -> Option<FramePtr> {
        if !self.is_ram(pa) {
            return None;
        }
        if let Some(base) = self.shared_page(pa) {
            return Some(FramePtr { base, replaced: false });
        }
        let ppn = pa >> PAGE_SHIFT;
        if write {
            let (frame, replaced) = self.mem.get_mut(ppn)?;
            Some(FramePtr { base: frame.as_mut_ptr(), replaced })
        } else {
            let frame: &Frame = match self.mem.get(ppn) {
                Some(f) => f,
                None => &ZERO_FRAME,
            };
            Some(FramePtr { base: frame.as_ptr() as *mut u8, replaced: false })
        }
    }

    /// Reads `buf.len()` bytes of RAM at `pa`; false if any byte is not RAM.
    pub fn read(&mut self, mut pa: u64, buf: &mut [u8]) -> bool {
        let mut done = 0;
        while done < buf.len() {
            let off = (pa & PAGE_MASK) as usize;
            let n = (PAGE_SIZE - off).min(buf.len() - done);
            if !self.is_ram(pa) {
                return false;
            }
            if let Some(p) = self.shared_page(pa) {
                // SAFETY: a live shared page; `off + n` stays inside it.
                buf[done..done + n].copy_from_slice(unsafe { std::slice::from_raw_parts(p.add(off), n) });
                done += n;
                pa += n as u64;
                continue;
            }
            match self.mem.get(pa >> PAGE_SHIFT) {
                Some(f) => buf[done..done + n].copy_from_slice(&f[off..off + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
            pa += n as u64;
        }
        true
    }

    /// Writes `data` to RAM at `pa`; false (and nothing written) if any byte is not RAM.
    pub fn write(&mut self, pa: u64, data: &[u8]) -> bool {
        let end = match pa.checked_add(data.len() as u64) {
            Some(e) => e,
            None => return false,
        };
        let mut p = pa & !PAGE_MASK;
        while p < end {
            if !self.is_ram(p.max(pa)) {
                return false;
            }
            p += PAGE_SIZE as u64;
        }
        let mut done = 0;
        let mut pa = pa;
        while done < data.len() {
            let off = (pa & PAGE_MASK) as usize;
            let n = (PAGE_SIZE - off).min(data.len() - done);
            if let Some(p) = self.shared_page(pa) {
                // SAFETY: a live shared page; `off + n` stays inside it.
                unsafe { std::ptr::copy_nonoverlapping(data[done..].as_ptr(), p.add(off), n) };
                done += n;
                pa += n as u64;
                continue;
            }
            let Some((frame, _)) = self.mem.get_mut(pa >> PAGE_SHIFT) else { return false };
            frame[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
            pa += n as u64;
        }
        true
    }

    pub fn read_u64(&mut self, pa: u64) -> Option<u64> {
        // Aligned (every page-table entry a walk reads): one frame, no byte loop.
        if pa & 7 == 0 {
            if !self.is_ram(pa) {
                return None;
            }
            let off = (pa & PAGE_MASK) as usize;
            if let Some(p) = self.shared_page(pa) {
                // SAFETY: a live shared page; the aligned word lies inside it.
                return Some(u64::from_le_bytes(unsafe { *(p.add(off) as *const [u8; 8]) }));
            }
            return Some(self.mem.get(pa >> PAGE_SHIFT).map_or(0, |f| u64::from_le_bytes(f[off..off + 8].try_into().expect("8 bytes"))));
        }
        let mut b = [0u8; 8];
        self.read(pa, &mut b).then(|| u64::from_le_bytes(b))
    }

    pub fn write_u64(&mut self, pa: u64, v: u64) -> bool {
        self.write(pa, &v.to_le_bytes())
    }

    /// Makes `frames` the RAM at `[pa, pa + frames.bytes())` (page-aligned, not RAM yet): this
    /// bus and every other bus mapping the same frames see each other's stores. False (nothing
    /// changed) if the range is unaligned, wraps or overlaps RAM.
    pub fn map_shared(&mut self, pa: u64, frames: Arc<SharedFrames>) -> bool {
        let Some(end) = pa.checked_add(frames.bytes()) else { return false };
        if pa & PAGE_MASK != 0 || end > crate::mem::MAX_PPN << PAGE_SHIFT || self.regions.iter().any(|&(s, e)| pa < e && s < end) {
            return false;
        }
        self.add_ram(pa, end);
        self.shared.push((pa, frames));
        true
    }

    /// Removes the shared window at `pa` (RAM no more; this bus's reference to the frames is
    /// dropped). Whoever cached host pointers into it must drop them. False if there is none.
    pub fn unmap_shared(&mut self, pa: u64) -> bool {
        let Some(i) = self.shared.iter().position(|w| w.0 == pa) else { return false };
        let (_, frames) = self.shared.swap_remove(i);
        self.remove_ram(pa, pa + frames.bytes());
        true
    }

    /// Whether any shared window is mapped.
    pub fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Host address of the shared page holding `pa`, if `pa` lies in a shared window.
    #[inline]
    fn shared_page(&self, pa: u64) -> Option<*mut u8> {
        if self.shared.is_empty() {
            return None;
        }
        self.shared.iter().find_map(|(base, f)| pa.checked_sub(*base).and_then(|off| f.page(off >> PAGE_SHIFT)))
    }

    /// The page at `ppn` for reading, wherever it lives (`None`: absent, reads as zero).
    pub fn page(&self, ppn: u64) -> Option<&Frame> {
        if let Some(p) = ppn.checked_mul(PAGE_SIZE as u64).and_then(|pa| self.shared_page(pa)) {
            // SAFETY: a live shared page of 4096 bytes, kept alive by `self.shared`.
            return Some(unsafe { &*(p as *const Frame) });
        }
        self.mem.get(ppn).map(|f| &**f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_merge_split_and_bound_accesses() {
        let mut b = Bus::default();
        b.add_ram(0x1000, 0x3000);
        b.add_ram(0x3000, 0x5000);
        assert_eq!(b.ram_regions(), &[(0x1000, 0x5000)]);
        assert!(b.write(0x2ffe, &[1, 2, 3, 4]));
        let mut buf = [0u8; 4];
        assert!(b.read(0x2ffe, &mut buf));
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(!b.write(0x4ffe, &[0; 4]), "crosses the end of RAM");
        assert!(!b.read(0x800, &mut buf));
        b.remove_ram(0x2000, 0x3000);
        assert_eq!(b.ram_regions(), &[(0x1000, 0x2000), (0x3000, 0x5000)]);
        assert!(!b.is_ram(0x2ffe));
        assert!(b.read(0x3000, &mut buf));
        assert_eq!(buf, [3, 4, 0, 0]);
        assert!(!b.write(u64::MAX - 1, &[0; 4]));
    }

    #[test]
    fn read_u64_aligned_straddling_and_outside_ram() {
        let mut b = Bus::default();
        b.add_ram(0x1000, 0x3000);
        assert_eq!(b.read_u64(0x1008), Some(0), "an absent frame reads as zero");
        assert!(b.write_u64(0x1ff8, 0x1122_3344_5566_7788) && b.write(0x2000, &[0x99]));
        assert_eq!(b.read_u64(0x1ff8), Some(0x1122_3344_5566_7788));
        assert_eq!(b.read_u64(0x1ffc), Some(0x0000_0099_1122_3344), "straddles two frames");
        assert_eq!(b.read_u64(0x3000), None);
        assert_eq!(b.read_u64(0x0ff8), None);
        assert_eq!(b.read_u64(0x2ffc), None, "runs past the end of RAM");
        assert_eq!(b.read_u64(u64::MAX - 7), None);
    }

    #[test]
    fn with_ram_is_the_same_bus() {
        let mut a = Bus::default();
        a.add_ram(0x1000, 0x3000);
        a.add_ram(0x8000, 0x9000);
        assert!(a.write(0x1ff0, &[7; 32]));
        let mut b = Bus::with_ram(a.mem.clone(), a.ram_regions());
        assert_eq!(b.ram_regions(), a.ram_regions());
        let mut buf = [0u8; 32];
        assert!(b.read(0x1ff0, &mut buf) && buf == [7; 32]);
        assert!(!b.is_ram(0x3000) && b.is_ram(0x8fff) && !b.is_ram(0x9000));
    }

    #[test]
    fn shared_windows_are_written_in_place_and_seen_by_every_bus() {
        let f = SharedFrames::new(2).unwrap();
        let (mut a, mut b) = (Bus::default(), Bus::default());
        a.add_ram(0x1000, 0x2000);
        assert!(!a.map_shared(0x1000, Arc::clone(&f)), "overlaps RAM");
        assert!(!a.map_shared(0x3800, Arc::clone(&f)), "unaligned");
        assert!(!a.map_shared(u64::MAX & !PAGE_MASK, Arc::clone(&f)), "wraps");
        assert!(a.map_shared(0x2000, Arc::clone(&f)) && b.map_shared(0x9000, Arc::clone(&f)));
        assert!(a.has_shared() && a.is_ram_range(0x1000, 0x3000) && !a.is_ram(0x4000));
        // Crosses from private RAM into the window and from page 0 to page 1 of it.
        assert!(a.write(0x1ffe, &[1, 2, 3, 4]) && a.write(0x2ffe, &[5, 6, 7, 8]));
        let mut buf = [0u8; 4];
        assert!(b.read(0x9ffe, &mut buf) && buf == [5, 6, 7, 8]);
        assert_eq!(b.read_u64(0x9000), Some(0x0403));
        assert_eq!(a.mem.frames(), 1, "only the private page has a tree frame");
        let fp = b.frame(0xa000, true).unwrap();
        assert!(!fp.replaced, "a shared page is never copied on write");
        // SAFETY: the frame pointer is a live 4096-byte page.
        unsafe { *fp.base = 9 };
        assert_eq!(a.page(0x3).map(|p| p[0]), Some(9));
        assert!(a.unmap_shared(0x2000) && !a.unmap_shared(0x2000));
        assert!(!a.is_ram(0x2000) && a.is_ram(0x1000) && !a.has_shared());
        assert!(a.page(u64::MAX).is_none());
        assert_eq!(Arc::strong_count(&f), 2, "b and the test hold it");
    }

    #[test]
    fn ranges_at_the_top_of_the_address_space() {
        let mut b = Bus::default();
        b.add_ram(u64::MAX - 10, u64::MAX);
        b.add_ram(0x3000, 0x2000);
        assert!(b.ram_regions().is_empty());
        b.add_ram(0x1000, 1 << 47);
        assert!(b.write(0x5000, &[1]) && b.write((1 << 47) - 1, &[2]));
        // Removing 2^47 bytes of RAM walks the two frames, not 2^35 page numbers.
        b.remove_ram(0, u64::MAX & !PAGE_MASK);
        assert!(b.ram_regions().is_empty());
        assert_eq!(b.mem.frames(), 0);
    }
}
