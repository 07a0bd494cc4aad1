//! Enclaves created and run by an S-mode host through the Penglai host extension, on a block
//! the host built in its own RAM the way Penglai's driver does.
use super::gpt::PAGE;
use super::tests::*;
use super::*;
use crate::machine::{Exit, Machine};
use crate::monitor::consts::SBI_EXT_PENGLAI_ENCLAVE;
use crate::monitor::pt;
use crate::mmu::sv39::PTE_V;

pub(super) const BLOCK: u64 = 0x8080_0000; // exactly PMD[4]'s 2 MiB leaf in `installed()`
pub(super) const BLOCK_SIZE: u64 = 2 << 20;
pub(super) const PARAM: u64 = 0x8070_0000;
pub(super) const EID_PTR: u64 = 0x8070_1000;
pub(super) const MAILBOX: u64 = 0x8070_1008;
pub(super) const RETVAL: u64 = 0x8070_1028;
pub(super) const KBUF: u64 = 0x8070_2000;
pub(super) const REPORT: u64 = 0x8070_3000;

pub(super) fn slli(rd: u32, rs1: u32, sh: u32) -> u32 {
    (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13
}
pub(super) fn sb(rs2: u32, rs1: u32, imm: u32) -> u32 {
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | ((imm & 31) << 7) | 0x23
}
pub(super) fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}

/// Enclave code at VA 0x1000: "hi" into the kbuffer, OCALL_SYS_WRITE, then EAPP_RETURN(42).
pub(super) fn program() -> Vec<u32> {
    assert_eq!(SBI_EXT_PENGLAI_ENCLAVE, 0x100101);
    vec![
        addi(5, 0, -1),
        slli(5, 5, 37), // t0 = 0xFFFF_FFE0_0000_0000, the kbuffer
        addi(6, 0, b'h' as i32),
        sb(6, 5, 0),
        addi(6, 0, b'i' as i32),
        sb(6, 5, 1),
        sb(0, 5, 2),
        lui(16, 0x100),
        addi(16, 16, 0x101), // a6 = 0x100101
        addi(10, 0, 3),
        addi(17, 0, 98),
        ECALL, // OCALL_SYS_WRITE
        addi(10, 0, 42),
        addi(17, 0, 99),
        ECALL, // EAPP_RETURN(42)
    ]
}

/// Builds the block as the driver would: page 1 root, code at page 3 mapped at 0x1000 (RWX
/// image flags), tables from page 4; returns `free_mem`.
fn build_block(m: &mut Machine, code: &[u32], leaf_pa: Option<u64>) -> u64 {
    build_block_at(m, BLOCK, code, leaf_pa)
}

/// [`build_block`] for a block at `block`.
pub(super) fn build_block_at(m: &mut Machine, block: u64, code: &[u32], leaf_pa: Option<u64>) -> u64 {
    let root = block + PAGE;
    let data = block + 3 * PAGE;
    let bytes: Vec<u8> = code.iter().flat_map(|i| i.to_le_bytes()).collect();
    assert!(m.mem_write(data, &bytes));
    let mut next = block + 4 * PAGE;
    let ok = pt::map_range(&mut m.bus, root, 0x1000, leaf_pa.unwrap_or(data), 1, 0xDF, &mut |_| {
        let p = next;
        next += PAGE;
        Some(p)
    });
    assert!(ok);
    m.hart.host_unmapped(0, 0);
    next
}

fn param(m: &mut Machine, free_mem: u64) {
    param_at(m, PARAM, BLOCK, free_mem, b"test");
}

/// An `enclave_create_param` at `at` for the block at `block` (the other fields as [`param`]).
pub(super) fn param_at(m: &mut Machine, at: u64, block: u64, free_mem: u64, name: &[u8]) {
    let mut p = [0u8; 136];
    let mut put = |off: usize, v: u64| p[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, EID_PTR);
    put(32, block);
    put(40, BLOCK_SIZE);
    put(48, 0x1000);
    put(56, free_mem);
    put(64, KBUF);
    put(72, 4096);
    for i in 0..4 {
        put(96 + 8 * i, MAILBOX + 8 * i as u64);
    }
    put(128, RETVAL);
    p[8..8 + name.len()].copy_from_slice(name);
    assert!(m.mem_write(at, &p));
}

/// A Penglai host call from S-mode: (a0, a1) after it.
pub(super) fn call(m: &mut Machine, fid: u64, args: &[u64]) -> (i64, u64) {
    put(m, 0x8040_0000, &[ECALL]);
    m.hart.pc = 0x8040_0000;
    m.hart.x[17] = sbi::EXT_PENGLAI_HOST;
    m.hart.x[16] = fid;
    for (i, a) in args.iter().enumerate() {
        m.hart.x[10 + i] = *a;
    }
    assert_eq!(m.run(1), Exit::Budget);
    (m.hart.x[10] as i64, m.hart.x[11])
}

fn created() -> (Machine, Capture) {
    let (mut m, out) = installed();
    let free = build_block(&mut m, &program(), None);
    param(&mut m, free);
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0));
    (m, out)
}

#[test]
fn create_makes_the_block_secure_and_a_stale_host_mapping_faults() {
    let (mut m, _) = created();
    assert_eq!(read(&mut m, EID_PTR) as u32, 0, "monitor eid written to eid_ptr");
    assert_eq!(read(&mut m, PMD + 8 * 4) & PTE_V, 0, "the host's leaf for the block is cleared");
    assert!(sys(&mut m).gpt.is_secure(BLOCK + 5 * PAGE));
    let e = fault_of(&mut m, ld(10, 11), BLOCK + 3 * PAGE, Priv::S);
    assert_eq!(e, Exit::Fault { cause: 13, tval: BLOCK + 3 * PAGE, pc: 0x8040_0000 });
    // Mapping it again is refused; so is a second create on the same block.
    assert_eq!(call(&mut m, 101, &[1, PMD + 8 * 4, leaf(BLOCK)]).0, -1);
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1);
}

#[test]
fn an_ocall_returns_to_the_host_with_result_2_and_the_mailbox_then_resume_runs_to_the_end() {
    let (mut m, _) = created();
    assert_eq!(call(&mut m, 97, &[0, 0]), (0, 2), "ENCLAVE_OCALL in a1 (Penglai's convention)");
    assert_eq!(read(&mut m, MAILBOX), 3, "ocall_func_id = OCALL_SYS_WRITE");
    let mut text = [0u8; 3];
    m.bus.read(KBUF, &mut text);
    assert_eq!(&text, b"hi\0");
    assert_eq!(call(&mut m, 95, &[0, 2, 3]), (0, 0), "resumed; the enclave returned");
    assert_eq!(read(&mut m, RETVAL), 42);
    // The block is public, scrubbed and mapped again.
    assert!(!sys(&mut m).gpt.is_secure(BLOCK + 5 * PAGE));
    assert_eq!(read(&mut m, PMD + 8 * 4), leaf(BLOCK));
    assert_eq!(read(&mut m, BLOCK + 3 * PAGE), 0, "scrubbed");
    assert!(m.bus.mem.get((BLOCK + 3 * PAGE) >> 12).is_none(), "scrubbed pages hold no frame");
    // The id is gone: run, resume, stop, destroy, attest all refuse.
    for (fid, args) in [(97, vec![0, 0]), (95, vec![0, 2]), (96, vec![0]), (94, vec![0]), (98, vec![0, REPORT, 1])] {
        assert_eq!(call(&mut m, fid, &args).0, -1, "fid {fid}");
    }
}

#[test]
fn attest_stop_and_destroy_of_a_fresh_enclave() {
    let (mut m, _) = created();
    assert_eq!(call(&mut m, 98, &[0, REPORT, 7]), (0, 0));
    let mut report = [0u8; 328];
    m.bus.read(REPORT, &mut report);
    assert_eq!(u64::from_le_bytes(report[256..264].try_into().unwrap()), 7, "nonce in the report");
    assert_eq!(call(&mut m, 98, &[0, MONITOR_BASE, 7]).0, -1, "report into the monitor region");
    assert_eq!(call(&mut m, 98, &[0, ROOT, 7]).0, -1, "report into the PT area");
    assert_eq!(call(&mut m, 96, &[0]).0, -1, "FRESH enclaves cannot be stopped");
    assert_eq!(call(&mut m, 94, &[0]), (0, 0));
    assert!(!sys(&mut m).gpt.is_secure(BLOCK));
    assert_eq!(call(&mut m, 94, &[0]).0, -1);
    assert_eq!(call(&mut m, 97, &[0, 0]).0, -1, "running a destroyed enclave's id");
}

#[test]
fn create_refuses_bad_blocks_and_parameters_and_leaves_the_block_public() {
    // A leaf outside the block; W without R; free_mem outside; hostile parameter addresses.
    let (mut m, _) = installed();
    let free = build_block(&mut m, &program(), Some(0x8050_0000));
    param(&mut m, free);
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "leaf outside the block");
    assert!(!sys(&mut m).gpt.is_secure(BLOCK));
    let (mut m, _) = installed();
    let free = build_block(&mut m, &program(), None);
    let slot = pt::leaf_slot(&mut m.bus, BLOCK + PAGE, 0x1000).unwrap();
    let v = read(&mut m, slot);
    m.mem_write(slot, &((v & !0x2) | 0x4).to_le_bytes());
    param(&mut m, free);
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "W without R");
    let (mut m, _) = installed();
    let free = build_block(&mut m, &program(), None);
    param(&mut m, BLOCK + BLOCK_SIZE);
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "free_mem outside the block");
    param(&mut m, free);
    for pa in [u64::MAX, u64::MAX - 100, MONITOR_BASE, BITMAP, 0, BLOCK + BLOCK_SIZE * 1000] {
        assert_eq!(call(&mut m, 99, &[pa]).0, -1, "param at {pa:#x}");
    }
    // eid_ptr into the PT area, kbuffer unaligned.
    m.mem_write(PARAM, &(ROOT + 8).to_le_bytes());
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "eid_ptr in the PT area");
    param(&mut m, free);
    m.mem_write(PARAM + 64, &(KBUF + 8).to_le_bytes());
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "kbuffer unaligned");
    for (shm, size) in [(0x8070_4000u64, 1u64 << 62), (0x8070_4000, u64::MAX & !0xfff), (MONITOR_BASE, 0x1000), (BLOCK, 0x1000)] {
        param(&mut m, free);
        m.mem_write(PARAM + 80, &shm.to_le_bytes());
        m.mem_write(PARAM + 88, &size.to_le_bytes());
        assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "shm {shm:#x} size {size:#x}");
    }
    for (off, v) in [(0usize, BLOCK + 8), (64, BLOCK + 0x10_0000), (96, BLOCK + 0x100), (128, BLOCK + BLOCK_SIZE - 8)] {
        param(&mut m, free);
        m.mem_write(PARAM + off as u64, &v.to_le_bytes());
        assert_eq!(call(&mut m, 99, &[PARAM]).0, -1, "host word at param offset {off} inside the block");
    }
    param(&mut m, free);
    m.mem_write(PARAM + 80, &0x8070_4000u64.to_le_bytes());
    m.mem_write(PARAM + 88, &0x1000u64.to_le_bytes());
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0), "and a good one (with a one-page shm) still works");
}

#[test]
fn secure_memory_is_exhausted_with_enclave_no_mem() {
    let (mut m, _) = installed();
    sys(&mut m).monitor.config.secure_memory = BLOCK_SIZE - PAGE;
    let free = build_block(&mut m, &program(), None);
    param(&mut m, free);
    assert_eq!(call(&mut m, 99, &[PARAM]).0, -2);
    assert!(!sys(&mut m).gpt.is_secure(BLOCK), "nothing became secure");
}

/// Enclave code at VA 0x1000: a0 = 77, `EAPP_YIELD` (fid 89), then `EAPP_RETURN(a0)`: the exit
/// value is what a0 held after the yield.
fn yield_program() -> Vec<u32> {
    vec![
        addi(10, 0, 77),
        lui(16, 0x100),
        addi(16, 16, 0x101), // a6 = 0x100101
        addi(17, 0, 89),
        ECALL, // EAPP_YIELD
        addi(17, 0, 99),
        ECALL, // EAPP_RETURN(a0)
    ]
}

fn created_yielding() -> Machine {
    let (mut m, _) = installed();
    let free = build_block(&mut m, &yield_program(), None);
    param(&mut m, free);
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0));
    m
}

#[test]
fn a_yield_reaches_the_kernel_as_3_and_resume_continues_with_a0_unchanged() {
    let mut m = created_yielding();
    assert_eq!(call(&mut m, 97, &[0, 0]), (0, 3), "ENCLAVE_YIELD in a1");
    assert!(sys(&mut m).gpt.is_secure(BLOCK + 3 * PAGE), "the enclave still holds its block");
    assert_eq!(call(&mut m, 95, &[0, 0]), (0, 0), "RESUME (reason 0) continues; the enclave returned");
    assert_eq!(read(&mut m, RETVAL), 77, "a0 unchanged across the yield");
    assert!(!sys(&mut m).gpt.is_secure(BLOCK + 3 * PAGE));
}

#[test]
fn a_yielded_enclave_can_be_stopped_resumed_and_destroyed() {
    let mut m = created_yielding();
    assert_eq!(call(&mut m, 97, &[0, 0]), (0, 3));
    assert_eq!(call(&mut m, 96, &[0]), (0, 0), "stop: RUNNABLE -> STOPPED");
    assert_eq!(call(&mut m, 95, &[0, 0]), (0, 1), "a stopped enclave keeps the driver waiting");
    assert_eq!(call(&mut m, 95, &[0, 1]), (0, 0), "resume from stop");
    assert_eq!(call(&mut m, 95, &[0, 0]), (0, 0), "and it runs to its end");
    assert_eq!(read(&mut m, RETVAL), 77);
    let mut m = created_yielding();
    assert_eq!(call(&mut m, 97, &[0, 0]), (0, 3));
    assert_eq!(call(&mut m, 94, &[0]), (0, 0), "destroy of a yielded enclave");
    assert!(!sys(&mut m).gpt.is_secure(BLOCK), "its block is the host's again");
    assert_eq!(call(&mut m, 95, &[0, 0]).0, -1, "the id is gone");
}
