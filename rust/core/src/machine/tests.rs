//! Loading segments of any size: zero-fill costs frames only for partial pages, impossible
//! ranges are errors, and nothing a caller passes aborts or hangs.
use super::*;
use crate::mem::PAGE_SIZE;

const PAGE: u64 = PAGE_SIZE as u64;

fn read(m: &mut Machine, addr: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    assert!(m.mem_read(addr, &mut b), "{addr:#x} is RAM");
    b
}

#[test]
fn a_user_segment_of_224_gib_costs_only_the_pages_written() {
    let mut m = Machine::user(false);
    let memsz = 224 << 30;
    m.load_segment(0x10000, b"code", memsz).unwrap();
    assert_eq!(read(&mut m, 0x10000, 6), b"code\0\0");
    assert_eq!(read(&mut m, 0x10000 + memsz - 8, 8), vec![0; 8]);
    assert_eq!(m.bus.mem.frames(), 1);
}

#[test]
fn a_bare_segment_of_512_gib_in_1_tib_of_ram_costs_only_the_pages_written() {
    let mut m = Machine::bare(1 << 40, false);
    m.load_segment(RAM_BASE, &[1; 5000], 1 << 39).unwrap();
    assert_eq!(read(&mut m, RAM_BASE + 4999, 2), vec![1, 0]);
    assert_eq!(m.bus.mem.frames(), 2);
}

#[test]
fn impossible_segments_are_errors() {
    let mut u = Machine::user(false);
    let limit = STACK_TOP - STACK_SIZE;
    for (addr, memsz) in [(0x10000, limit), (0x10000, u64::MAX), (u64::MAX - 0xfff, 0x2000), (0, PAGE), (limit, 1)] {
        assert!(matches!(u.load_segment(addr, b"", memsz), Err(LoadError::OutsideMemory { .. })), "{addr:#x} + {memsz:#x}");
    }
    let mut b = Machine::bare(1 << 20, false);
    for (addr, memsz) in [(RAM_BASE, (1 << 20) + 1), (RAM_BASE + 8, u64::MAX - 7), (u64::MAX, 2), (0, 16)] {
        assert!(matches!(b.load_segment(addr, b"", memsz), Err(LoadError::OutsideMemory { .. })), "{addr:#x} + {memsz:#x}");
    }
    assert_eq!((u.bus.mem.frames(), b.bus.mem.frames()), (0, 0));
}

#[test]
fn zero_fill_clears_what_was_there_and_drops_whole_pages() {
    let mut m = Machine::bare(1 << 20, false);
    assert!(m.mem_write(RAM_BASE, &[0xee; 4 * PAGE_SIZE]));
    // File bytes "xy" at +0x10, then zeros up to 0x10 bytes before the end of page 3.
    m.load_segment(RAM_BASE + 0x10, b"xy", 4 * PAGE - 0x20).unwrap();
    let all = read(&mut m, RAM_BASE, 4 * PAGE_SIZE);
    assert_eq!(&all[..0x10], &[0xee; 0x10]);
    assert_eq!(&all[0x10..0x12], b"xy");
    assert!(all[0x12..4 * PAGE_SIZE - 0x10].iter().all(|&b| b == 0));
    assert_eq!(&all[4 * PAGE_SIZE - 0x10..], &[0xee; 0x10]);
    assert_eq!(m.bus.mem.frames(), 2, "pages 1 and 2 are whole zero pages: no frames");
}

#[test]
fn zero_fill_over_executed_code_is_seen_by_the_hart() {
    let mut m = Machine::bare(1 << 20, false);
    let addi = |rd: u32, imm: u32| (imm << 20) | (rd << 7) | 0x13;
    let code: Vec<u8> = (0..2048).flat_map(|_| addi(1, 5).to_le_bytes()).collect();
    m.load_segment(RAM_BASE, &code, code.len() as u64).unwrap();
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.hart.x[1], 5);
    // The same addresses become a zero-filled segment: the next fetch sees 0, an illegal
    // instruction (the bare machine traps to its own handler: mcause 2, mepc = the pc).
    m.load_segment(RAM_BASE, &[], 2 * PAGE).unwrap();
    m.hart.pc = RAM_BASE;
    m.hart.x[1] = 0;
    m.run(1);
    assert_eq!(m.hart.csr_read(0x342, &m.bus).unwrap(), 2);
    assert_eq!(m.hart.csr_read(0x341, &m.bus).unwrap(), RAM_BASE);
    assert_eq!(m.hart.x[1], 0);
}

#[test]
fn bare_ram_size_is_bounded_by_the_physical_space() {
    let m = Machine::bare(u64::MAX, false);
    assert_eq!(m.ram_size(), MAX_RAM_SIZE);
    assert_eq!(Machine::bare(1, false).ram_size(), PAGE);
}
