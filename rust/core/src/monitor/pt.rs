//! Sv39 page tables inside an enclave's physical memory, built and read the way the driver and
//! the monitor do: 4 KiB leaves only, pointer entries `0x01`.
use super::consts::{PAGE, PTE_POINTER};
use crate::bus::Bus;

const V: u64 = 0x01;
const RWX: u64 = 0x0E;

pub fn pte(pa: u64, flags: u64) -> u64 {
    ((pa >> 12) << 10) | flags
}

pub fn pte_pa(pte: u64) -> u64 {
    ((pte >> 10) & ((1 << 44) - 1)) << 12
}

fn vpn(va: u64, level: u32) -> u64 {
    (va >> (12 + 9 * level)) & 0x1ff
}

/// PA of the leaf PTE slot for `va`, creating missing tables with `alloc` (which must return
/// zeroed pages). `None` if `alloc` runs dry or a table is not RAM.
pub fn walk_create(bus: &mut Bus, root: u64, va: u64, alloc: &mut dyn FnMut(&mut Bus) -> Option<u64>) -> Option<u64> {
    let mut table = root;
    for level in [2, 1] {
        let slot = table + vpn(va, level) * 8;
        let e = bus.read_u64(slot)?;
        if e & V != 0 && e & RWX == 0 {
            table = pte_pa(e);
        } else {
            let t = alloc(bus)?;
            if !bus.write_u64(slot, pte(t, PTE_POINTER)) {
                return None;
            }
            table = t;
        }
    }
    Some(table + vpn(va, 0) * 8)
}

/// PA of the leaf PTE slot for `va` if the tables down to it exist.
pub fn leaf_slot(bus: &mut Bus, root: u64, va: u64) -> Option<u64> {
    let mut table = root;
    for level in [2, 1] {
        let e = bus.read_u64(table + vpn(va, level) * 8)?;
        if e & V == 0 || e & RWX != 0 {
            return None;
        }
        table = pte_pa(e);
    }
    Some(table + vpn(va, 0) * 8)
}

/// Whether `va` is an Sv39 address: bits 63..39 copy bit 38. The table walk only looks at bits
/// 38..12, so without this check `va | 1 << 40` would alias `va` (the hart faults on such
/// addresses; the monitor must not accept them either).
pub fn canonical(va: u64) -> bool {
    ((va as i64) << 25 >> 25) as u64 == va
}

/// The physical address `va` maps to (4 KiB leaves only, no permission checks: the monitor
/// does not check permissions either). Non-canonical addresses are unmapped.
pub fn translate(bus: &mut Bus, root: u64, va: u64) -> Option<u64> {
    if !canonical(va) {
        return None;
    }
    let slot = leaf_slot(bus, root, va)?;
    let e = bus.read_u64(slot)?;
    (e & V != 0 && e & RWX != 0).then(|| pte_pa(e) | (va & (PAGE - 1)))
}

/// Table pages [`map_range`] would have to allocate to map `pages` pages from `va`: one per
/// missing level-1 table and one per missing leaf table. Work is one look-up per 2 MiB, so
/// callers can refuse a mapping the free list cannot hold before touching anything.
pub fn tables_needed(bus: &mut Bus, root: u64, va: u64, pages: u64) -> u64 {
    const SPAN1: u64 = PAGE << 9; // one leaf table maps 2 MiB
    if pages == 0 {
        return 0;
    }
    let last = va.saturating_add((pages - 1).saturating_mul(PAGE));
    let table = |bus: &mut Bus, slot: u64| match bus.read_u64(slot) {
        Some(e) if e & V != 0 && e & RWX == 0 => Some(pte_pa(e)),
        _ => None,
    };
    let mut need = 0;
    let mut seen_l2 = None;
    let mut chunk = va & !(SPAN1 - 1);
    loop {
        let mid = table(bus, root + vpn(chunk, 2) * 8);
        if mid.is_none() && seen_l2 != Some(vpn(chunk, 2)) {
            need += 1; // the level-1 table, once per 1 GiB
        }
        seen_l2 = Some(vpn(chunk, 2));
        if mid.and_then(|t| table(bus, t + vpn(chunk, 1) * 8)).is_none() {
            need += 1;
        }
        match chunk.checked_add(SPAN1) {
            Some(next) if next <= last => chunk = next,
            _ => return need,
        }
    }
}

/// Maps `pages` pages from `va` to consecutive frames from `pa`. Overwrites existing leaves.
pub fn map_range(
    bus: &mut Bus,
    root: u64,
    va: u64,
    pa: u64,
    pages: u64,
    flags: u64,
    alloc: &mut dyn FnMut(&mut Bus) -> Option<u64>,
) -> bool {
    for i in 0..pages {
        let Some(slot) = walk_create(bus, root, va + i * PAGE, alloc) else { return false };
        if !bus.write_u64(slot, pte(pa + i * PAGE, flags)) {
            return false;
        }
    }
    true
}

/// Clears the leaves of `pages` pages from `va` (tables stay).
pub fn unmap_range(bus: &mut Bus, root: u64, va: u64, pages: u64) {
    for i in 0..pages {
        if let Some(slot) = leaf_slot(bus, root, va + i * PAGE) {
            bus.write_u64(slot, 0);
        }
    }
}

/// Whether any page of `[va, va + pages * 4096)` is mapped.
pub fn any_mapped(bus: &mut Bus, root: u64, va: u64, pages: u64) -> bool {
    (0..pages).any(|i| translate(bus, root, va + i * PAGE).is_some())
}
