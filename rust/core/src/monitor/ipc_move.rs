//! Memory changing hands in a call (docs/ipc.md): where a lent or answered region lands in the
//! receiver's mmap area, and the move itself. Every enclave has its own physical space, so a
//! region moves by copying its pages into a fresh block of the receiver and giving the
//! sender's block back: the sender can no longer reach it (an access faults), the receiver sees
//! the same bytes, and the secure pool's accounting moves with it.
use super::consts::*;
use super::enclave::{Enclave, Region};
use super::pt;

/// Whether `[va, va + mapped)` is free mmap space of `e`: below `MMAP_BASE`, above the heap,
/// clear of its mmap regions.
pub(super) fn mmap_slot_free(e: &Enclave, va: u64, bytes: u64) -> bool {
    match va.checked_add(bytes) {
        Some(end) => va >= e.heap_top && end <= MMAP_BASE && !e.mmaps.iter().any(|r| va < r.end() && r.va < end),
        None => false,
    }
}

/// Where a region of `bytes` lands in `e`'s mmap area: at `want` if free, else immediately
/// below its lowest mmap region (or ending at `MMAP_BASE`).
pub(super) fn mmap_place(e: &Enclave, want: Option<u64>, bytes: u64) -> Option<u64> {
    if let Some(w) = want.filter(|&w| mmap_slot_free(e, w, bytes)) {
        return Some(w);
    }
    let lowest = e.mmaps.iter().map(|r| r.va).min().unwrap_or(MMAP_BASE);
    lowest.checked_sub(bytes).filter(|&va| mmap_slot_free(e, va, bytes))
}

/// Copies block `r` of `src` into a fresh block of `dst` mapped at `va` (`mapped` pages,
/// starting `skip` pages into the block) and gives `src`'s block back. Everything that can fail
/// is checked before anything changes; `None` leaves both untouched.
pub(super) fn move_block(src: &mut Enclave, r: Region, dst: &mut Enclave, va: u64, skip: u64, mapped: u64) -> Option<Region> {
    let bytes = r.pages * PAGE;
    if pt::tables_needed(&mut dst.bus, dst.root, va, mapped) > dst.free_table_pages() {
        return None;
    }
    let pa = dst.try_host_alloc(bytes)?;
    let mut page = [0u8; PAGE as usize];
    for i in 0..r.pages {
        let from = r.pa + i * PAGE;
        // Never-written frames read as zero in the fresh block too: copy only present ones.
        if src.bus.mem.get(from >> 12).is_some() && src.bus.read(from, &mut page) {
            dst.bus.write(pa + i * PAGE, &page);
        }
    }
    let ok = dst.map(va, pa + skip * PAGE, mapped, PTE_DATA);
    debug_assert!(ok, "tables were counted");
    dst.hart.host_unmapped(pa, pa + bytes);
    src.unmap(r.va, r.mapped);
    src.host_free(r.pa, bytes);
    Some(Region { va, pa, pages: r.pages, mapped })
}

/// Moves mmap region `i` of `src` to `dst` at `va`; the pool's accounting moves with it.
pub(super) fn move_mmap(src: &mut Enclave, i: usize, dst: &mut Enclave, va: u64) -> Option<Region> {
    let r = src.mmaps[i];
    let moved = move_block(src, r, dst, va, 1, r.mapped)?;
    src.mmaps.remove(i);
    src.secure_bytes -= r.pages * PAGE;
    dst.secure_bytes += r.pages * PAGE;
    dst.mmaps.push(moved);
    Some(moved)
}

/// Moves the relay region of `src` at `MM_ARG_BASE` to `dst` at `MM_ARG_BASE`, `mapped` pages
/// of it visible there.
pub(super) fn move_relay(src: &mut Enclave, dst: &mut Enclave, mapped: u64) -> bool {
    let Some(i) = src.relay.iter().position(|r| r.va == MM_ARG_BASE) else { return false };
    let r = src.relay[i];
    if dst.relay.iter().any(|d| d.va < MM_ARG_BASE + mapped * PAGE && MM_ARG_BASE < d.end()) {
        return false;
    }
    let Some(moved) = move_block(src, r, dst, MM_ARG_BASE, 0, mapped.min(r.pages)) else { return false };
    src.relay.remove(i);
    dst.relay.insert(0, moved);
    true
}

/// The index of `e`'s mmap region holding all of `[va, va + size)`.
pub(super) fn mmap_holding(e: &Enclave, va: u64, size: u64) -> Option<usize> {
    let end = va.checked_add(size)?;
    e.mmaps.iter().position(|r| r.va <= va && end <= r.end())
}

/// A monitor store of `data` into one page of `e`'s memory at `pa`: the hart's translations are
/// dropped only when the page's frame was (re)created (a TLB entry points at a frame, and a
/// frame written in place stays where it is); its decoded code always.
pub(super) fn write_phys(e: &mut Enclave, pa: u64, data: &[u8]) {
    let ppn = pa >> 12;
    let fresh = e.bus.mem.get(ppn).is_none() || e.bus.mem.is_shared(ppn);
    e.bus.write(pa, data);
    if fresh {
        e.hart.flush_tlb();
    }
    e.hart.forget_code(ppn);
}
