//! The TLB across copy-on-write: when a store replaces a frame (copy or first write), read
//! entries that point at the previous frame go, whichever virtual page they were filled for,
//! and the other memory sharing the frame keeps its bytes.
use crate::bus::Bus;
use crate::hart::csr::num::SATP;
use crate::hart::{Hart, Priv};
use crate::mmu::sv39::{PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W};

const RAM: u64 = 0x8000_0000;
const ROOT: u64 = RAM;
const L1: u64 = RAM + 0x1000;
const L0: u64 = RAM + 0x2000;
/// The data frames: `DATA` is mapped at two virtual pages (aliases), the others once each.
const DATA: u64 = RAM + 0x10_000;

fn table(next: u64) -> u64 {
    ((next >> 12) << 10) | PTE_V
}

fn leaf(pa: u64) -> u64 {
    ((pa >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
}

/// A bus whose page table maps VA page `i` (i = 1..=60) to `DATA + (i - 1) * 4096`, except
/// that VA pages 1 and 2 both map `DATA`; and a U-mode hart on it.
fn machine() -> (Hart, Bus) {
    let mut bus = Bus::default();
    bus.add_ram(RAM, RAM + (1 << 20));
    assert!(bus.write_u64(ROOT, table(L1)) && bus.write_u64(L1, table(L0)));
    for i in 1..=60u64 {
        let pa = if i == 2 { DATA } else { DATA + (i - 1) * 4096 };
        assert!(bus.write_u64(L0 + i * 8, leaf(pa)));
        if i != 2 {
            assert!(bus.write_u64(pa + 8, 0x1111 * i));
        }
    }
    let mut hart = Hart::default();
    hart.host_traps = true;
    hart.csr_write(SATP, (8u64 << 60) | (ROOT >> 12)).unwrap();
    hart.prv = Priv::U;
    (hart, bus)
}

#[test]
fn a_copied_frame_is_seen_through_every_alias() {
    let (mut h, mut bus) = machine();
    let template = bus.mem.clone();
    // Both aliases cached for reading, pointing at the frame shared with `template`.
    assert_eq!(h.load::<8>(&mut bus, 0x1008).unwrap(), 0x1111);
    assert_eq!(h.load::<8>(&mut bus, 0x2008).unwrap(), 0x1111);
    assert_eq!(h.load::<8>(&mut bus, 0x3008).unwrap(), 0x3333);
    h.store_within::<8>(&mut bus, 0x1008, 0xabcd).unwrap();
    assert_eq!(h.load::<8>(&mut bus, 0x2008).unwrap(), 0xabcd, "the alias sees the copy, not the old frame");
    assert_eq!(h.load::<8>(&mut bus, 0x1008).unwrap(), 0xabcd);
    assert_eq!(h.load::<8>(&mut bus, 0x3008).unwrap(), 0x3333);
    assert_eq!(u64::from_le_bytes(template.get(DATA >> 12).unwrap()[8..16].try_into().unwrap()), 0x1111);
    // A frame that was absent (read as zeros) and is then created by a store.
    assert_eq!(h.load::<8>(&mut bus, 0x3ff0).unwrap(), 0);
    bus.mem.remove((DATA + 0x2000) >> 12);
    h.flush_tlb();
    assert_eq!(h.load::<8>(&mut bus, 0x3008).unwrap(), 0, "absent: the zero frame");
    h.store_within::<8>(&mut bus, 0x3010, 5).unwrap();
    assert_eq!(h.load::<8>(&mut bus, 0x3008).unwrap(), 0);
    assert_eq!(h.load::<8>(&mut bus, 0x3010).unwrap(), 5, "the created frame, not the zero frame");
}

#[test]
fn more_reads_than_the_tlb_remembers_fall_back_to_a_flush() {
    let (mut h, mut bus) = machine();
    let _template = bus.mem.clone();
    assert_eq!(h.load::<8>(&mut bus, 0x2008).unwrap(), 0x1111);
    for i in 3..=60u64 {
        assert_eq!(h.load::<8>(&mut bus, i * 4096 + 8).unwrap(), 0x1111 * i);
    }
    h.store_within::<8>(&mut bus, 0x1008, 0x77).unwrap();
    assert_eq!(h.load::<8>(&mut bus, 0x2008).unwrap(), 0x77);
    for i in 3..=60u64 {
        assert_eq!(h.load::<8>(&mut bus, i * 4096 + 8).unwrap(), 0x1111 * i);
    }
}
