//! The refill path's caches (page-table frames, the upper walk levels, `Hart::walk_fast`) give
//! exactly what a full walk reading every PTE from memory gives: for every leaf encoding and
//! access, after page-table changes made in place without a flush, and across copy-on-write of
//! a page-table frame.
use crate::bus::Bus;
use crate::hart::csr::mstatus;
use crate::hart::csr::num::SATP;
use crate::hart::trap::Trap;
use crate::hart::{Hart, Priv};
use crate::mmu::sv39::{self, Regime, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W};
use crate::mmu::Access;

const RAM: u64 = 0x8000_0000;
const ROOT: u64 = RAM;
const L1: u64 = RAM + 0x1000;
const L0: u64 = RAM + 0x2000;
/// A second leaf table, for swapping the L1 pointer under the walker.
const L0B: u64 = RAM + 0x3000;
const DATA: u64 = RAM + 0x10_000;
/// VA page mapping the leaf table `L0` itself (user, writable): the guest edits its own PTEs.
const PT_WINDOW: u64 = 100;

fn table(next: u64) -> u64 {
    ((next >> 12) << 10) | PTE_V
}

fn leaf(pa: u64) -> u64 {
    ((pa >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
}

/// VA page i (1..=60) -> DATA + i pages through L0 (word 8 of each holds i), the same pages
/// + 0x40 through L0B; VA page 100 -> L0 itself. A U-mode hart under Sv39.
fn machine() -> (Hart, Bus) {
    let mut bus = Bus::default();
    bus.add_ram(RAM, RAM + (1 << 20));
    assert!(bus.write_u64(ROOT, table(L1)) && bus.write_u64(L1, table(L0)));
    for i in 1..=60u64 {
        assert!(bus.write_u64(L0 + i * 8, leaf(DATA + i * 4096)));
        assert!(bus.write_u64(L0B + i * 8, leaf(DATA + (i + 0x40) * 4096)));
        assert!(bus.write_u64(DATA + i * 4096 + 8, i));
        assert!(bus.write_u64(DATA + (i + 0x40) * 4096 + 8, 0x100 + i));
    }
    assert!(bus.write_u64(L0 + PT_WINDOW * 8, leaf(L0)));
    let mut hart = Hart::default();
    hart.host_traps = true;
    hart.csr_write(SATP, (8u64 << 60) | (ROOT >> 12)).unwrap();
    hart.prv = Priv::U;
    (hart, bus)
}

/// The reference: the walker reading every PTE through the bus, no cache.
fn reference(h: &Hart, bus: &mut Bus, va: u64, access: Access, prv: Priv) -> Result<u64, Trap> {
    let s = h.csr.mstatus;
    let regime = Regime { root_ppn: ROOT >> 12, user: prv == Priv::U, sum: s & mstatus::SUM != 0, mxr: s & mstatus::MXR != 0 };
    sv39::walk(va, access, regime, |pa| bus.read_u64(pa)).map(|l| l.pa).map_err(|c| Trap::new(c, va))
}

/// Every leaf encoding (the 8 low flag bits, plus a reserved high bit and a misaligned-looking
/// PPN), every access, U and S with and without SUM and MXR: translate with the upper levels
/// remembered (the fast path's case) equals the full walk, fault causes and tval included.
#[test]
fn every_leaf_encoding_translates_as_the_full_walk() {
    let (mut h, mut bus) = machine();
    let mut checked = 0;
    for flags in 0..=0xffu64 {
        for extra in [0u64, 1 << 60, (0x123 << 10)] {
            let pte = ((DATA + 7 * 4096) >> 12 << 10) | flags | extra;
            assert!(bus.write_u64(L0 + 7 * 8, pte));
            for (prv, sum, mxr) in [(Priv::U, false, false), (Priv::S, false, false), (Priv::S, true, false), (Priv::U, false, true), (Priv::S, true, true)] {
                h.prv = prv;
                h.csr.mstatus &= !(mstatus::SUM | mstatus::MXR);
                h.csr.mstatus |= if sum { mstatus::SUM } else { 0 } | if mxr { mstatus::MXR } else { 0 };
                for access in [Access::Load, Access::Store, Access::Fetch] {
                    h.flush_tlb();
                    // Page 1 is a plain leaf under the same tables: its walk is remembered.
                    let warm = h.translate(0x1008, Access::Load, &mut bus);
                    assert_eq!(warm, reference(&h, &mut bus, 0x1008, Access::Load, prv));
                    let got = h.translate(0x7010, access, &mut bus);
                    let want = reference(&h, &mut bus, 0x7010, access, prv);
                    assert_eq!(got, want, "pte {pte:#x} {access:?} {prv:?} sum {sum} mxr {mxr}");
                    checked += u64::from(want.is_ok());
                }
            }
        }
    }
    assert!(checked > 100, "the sweep includes successful walks ({checked})");
}

/// A pointer PTE rewritten in place, with no `sfence.vma` and no flush: the next refill in the
/// same 2 MiB region walks the new table, as a walk reading every PTE does.
#[test]
fn a_pointer_pte_changed_in_place_is_seen_at_the_next_refill() {
    let (mut h, mut bus) = machine();
    assert_eq!(h.load::<8>(&mut bus, 0x1008), Ok(1));
    assert_eq!(h.load::<8>(&mut bus, 0x2008), Ok(2), "a refill through the remembered upper levels");
    assert!(bus.write_u64(L1, table(L0B)));
    assert_eq!(h.load::<8>(&mut bus, 0x3008), Ok(0x103), "the new leaf table");
    // A leaf rewritten in place is seen too (the leaf PTE is always read).
    assert!(bus.write_u64(L0B + 4 * 8, leaf(DATA + 9 * 4096)));
    assert_eq!(h.load::<8>(&mut bus, 0x4008), Ok(9));
    // Back to the first table, and an invalid pointer: a fault, not a stale translation.
    assert!(bus.write_u64(L1, table(L0)));
    assert_eq!(h.load::<8>(&mut bus, 0x5008), Ok(5));
    assert!(bus.write_u64(L1, 0));
    assert_eq!(h.load::<8>(&mut bus, 0x6008), Err(Trap::new(crate::hart::trap::cause::LOAD_PAGE_FAULT, 0x6008)));
    // After sfence.vma's flush, cached translations go and the change shows for those too.
    assert!(bus.write_u64(L1, table(L0B)));
    h.flush_tlb();
    assert_eq!(h.load::<8>(&mut bus, 0x1008), Ok(0x101));
}

/// The guest writes its own leaf table through a mapping of it while the table's frame is
/// shared with a fork's template: the store copies the frame, and the next refill must read
/// the copy (the cached page-table frame and upper levels pointed at the template's frame).
#[test]
fn a_page_table_frame_copied_on_write_is_walked_in_its_new_copy() {
    let (mut h, mut bus) = machine();
    let template = bus.mem.clone();
    assert_eq!(h.load::<8>(&mut bus, 0x1008), Ok(1), "caches L0's frame and the upper levels");
    // Page 3 now maps page 9's frame: a store into L0 through VA page 100.
    h.store_within::<8>(&mut bus, PT_WINDOW * 4096 + 3 * 8, leaf(DATA + 9 * 4096)).unwrap();
    assert_eq!(h.load::<8>(&mut bus, 0x3008), Ok(9), "the walk reads the private copy of L0");
    assert_eq!(h.load::<8>(&mut bus, 0x2008), Ok(2));
    let old = u64::from_le_bytes(template.get(L0 >> 12).unwrap()[24..32].try_into().unwrap());
    assert_eq!(old, leaf(DATA + 3 * 4096), "the template's table is untouched");
    // Writes through the new mapping stay in this memory.
    h.store_within::<8>(&mut bus, 0x3008, 0xee).unwrap();
    assert_eq!(h.load::<8>(&mut bus, 0x9008), Ok(0xee));
    assert_eq!(u64::from_le_bytes(template.get((DATA + 9 * 4096) >> 12).unwrap()[8..16].try_into().unwrap()), 9);
}

/// Refills across many pages and regions, with stores, give the values a fresh hart gives.
#[test]
fn refills_across_many_pages_match_a_hart_without_history() {
    let (mut h, mut bus) = machine();
    for round in 0..3u64 {
        for i in (1..=60u64).rev().step_by(7).chain(1..=60) {
            let va = i * 4096 + 8;
            assert_eq!(h.load::<8>(&mut bus, va), Ok(i + round * 1000), "round {round} page {i}");
        }
        for i in 1..=60u64 {
            h.store_within::<8>(&mut bus, i * 4096 + 8, i + (round + 1) * 1000).unwrap();
        }
        let (mut fresh, _) = machine();
        for i in 1..=60u64 {
            assert_eq!(fresh.load::<8>(&mut bus, i * 4096 + 8), h.load::<8>(&mut bus, i * 4096 + 8));
        }
    }
}

/// Addresses that differ from a remembered 2 MiB region only above bit 38 (not a sign
/// extension of bit 38) are not Sv39 addresses: a refill of one faults, as the full walk
/// does, even right after a walk of the canonical address with the same low bits remembered
/// its upper levels (the fast path has no canonical check of its own; the region tag keeps
/// every bit above 21, `tlb::Upper`).
#[test]
fn a_non_canonical_alias_of_a_remembered_region_faults() {
    use crate::hart::trap::cause;
    let (mut h, mut bus) = machine();
    let high = 0xffff_ffc0_0000_0000u64; // bits 63..38 set: canonical, VPN[2] = 256
    for alias in [1u64 << 39, 1 << 40, 1 << 52, 1 << 62, 1 << 63, high & !(1 << 38), high ^ (1 << 45)] {
        for access in [Access::Load, Access::Store, Access::Fetch] {
            h.flush_tlb();
            assert_eq!(h.translate(0x1008, Access::Load, &mut bus), Ok(DATA + 4096 + 8), "warms region 0");
            assert_eq!(h.translate(0x2008, Access::Load, &mut bus), Ok(DATA + 2 * 4096 + 8), "through the fast path");
            let va = 0x2008 | alias;
            let want = reference(&h, &mut bus, va, access, Priv::U);
            let code = match access {
                Access::Load => cause::LOAD_PAGE_FAULT,
                Access::Store => cause::STORE_PAGE_FAULT,
                Access::Fetch => cause::FETCH_PAGE_FAULT,
            };
            assert_eq!(want, Err(Trap::new(code, va)));
            assert_eq!(h.translate(va, access, &mut bus), want, "va {va:#x} {access:?}");
        }
    }
    // The loads and stores themselves (through the TLB refill path) fault the same way.
    assert_eq!(h.load::<8>(&mut bus, 0x3008), Ok(3));
    assert_eq!(h.load::<8>(&mut bus, 0x4008 | 1 << 40), Err(Trap::new(cause::LOAD_PAGE_FAULT, 0x4008 | 1 << 40)));
    assert_eq!(h.store::<8>(&mut bus, 0x4008 | 1 << 63, 5), Err(Trap::new(cause::STORE_PAGE_FAULT, 0x4008 | 1 << 63)));
    assert_eq!(h.load::<8>(&mut bus, 0x4008), Ok(4), "the store above wrote nothing");
}
