//! Shared by the integration tests: a small RV64 assembler (what hand-written enclaves need,
//! nothing more), an ELF64 writer for one RWX segment, enclave parameters, (`rng`) the
//! deterministic random stream of the random-program and sweep tests, and (`bare`) the raw
//! encodings and machine layout of the jit's differential tests.
//!
//! Each test file includes this with `mod support;`, so not every file uses every helper.
#![allow(dead_code)]

pub mod bare;
pub mod rng;

use pltvm_core::monitor::consts::{DEFAULT_STACK_SIZE, NORMAL_ENCLAVE, SBI_EXT_PENGLAI_ENCLAVE, SHADOW_ENCLAVE};
use pltvm_core::monitor::enclave::CreateParams;

pub const ZERO: u32 = 0;
pub const RA: u32 = 1;
pub const SP: u32 = 2;
pub const T0: u32 = 5;
pub const T1: u32 = 6;
pub const T2: u32 = 7;
pub const S0: u32 = 8;
pub const S1: u32 = 9;
pub const A0: u32 = 10;
pub const A1: u32 = 11;
pub const A2: u32 = 12;
pub const A3: u32 = 13;
pub const A4: u32 = 14;
pub const A6: u32 = 16;
pub const A7: u32 = 17;
pub const S2: u32 = 18;
pub const S3: u32 = 19;
pub const T3: u32 = 28;
pub const T4: u32 = 29;

pub const ECALL: u32 = 0x0000_0073;
pub const FENCE_I: u32 = 0x0000_100f;

fn i_type(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "12-bit immediate {imm}");
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn s_type(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "12-bit offset {imm}");
    let imm = imm as u32 & 0xfff;
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23
}
fn r_type(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33
}

pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x13)
}
pub fn addiw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x1b)
}
pub fn xori(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 4, rd, 0x13)
}
pub fn slli(rd: u32, rs1: u32, sh: u32) -> u32 {
    (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13
}
pub fn srli(rd: u32, rs1: u32, sh: u32) -> u32 {
    (sh << 20) | (rs1 << 15) | (5 << 12) | (rd << 7) | 0x13
}
pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(0, rs2, rs1, 0, rd)
}
pub fn or(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(0, rs2, rs1, 6, rd)
}
pub fn lui(rd: u32, imm20: u32) -> u32 {
    ((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37
}
pub fn ld(rd: u32, off: i32, rs1: u32) -> u32 {
    i_type(off, rs1, 3, rd, 0x03)
}
pub fn lwu(rd: u32, off: i32, rs1: u32) -> u32 {
    i_type(off, rs1, 6, rd, 0x03)
}
pub fn sd(rs2: u32, off: i32, rs1: u32) -> u32 {
    s_type(off, rs2, rs1, 3)
}
pub fn sw(rs2: u32, off: i32, rs1: u32) -> u32 {
    s_type(off, rs2, rs1, 2)
}
pub fn jalr(rd: u32, rs1: u32, off: i32) -> u32 {
    i_type(off, rs1, 0, rd, 0x67)
}
pub fn ret() -> u32 {
    jalr(ZERO, RA, 0)
}
/// `jal rd, off` (off in bytes from this instruction).
pub fn jal(rd: u32, off: i32) -> u32 {
    assert!(off % 2 == 0 && (-(1 << 20)..(1 << 20)).contains(&off));
    let o = off as u32 & 0x1f_ffff;
    let imm = ((o >> 20) << 31) | (((o >> 1) & 0x3ff) << 21) | (((o >> 11) & 1) << 20) | (((o >> 12) & 0xff) << 12);
    imm | (rd << 7) | 0x6f
}

/// rd = sign-extended 32-bit `v` (lui + addiw, or one addi).
pub fn li32(rd: u32, v: i32) -> Vec<u32> {
    if (-2048..2048).contains(&v) {
        return vec![addi(rd, ZERO, v)];
    }
    let lo = ((v & 0xfff) ^ 0x800) - 0x800;
    let hi = (v.wrapping_sub(lo) as u32) >> 12;
    vec![lui(rd, hi), addiw(rd, rd, lo)]
}

/// rd = any 64-bit `v`, using `scratch` (≠ rd): high word shifted up, low word zero-extended.
pub fn li64(rd: u32, scratch: u32, v: u64) -> Vec<u32> {
    assert_ne!(rd, scratch);
    let mut c = li32(rd, (v >> 32) as u32 as i32);
    c.push(slli(rd, rd, 32));
    c.extend(li32(scratch, v as u32 as i32));
    c.extend([slli(scratch, scratch, 32), srli(scratch, scratch, 32), or(rd, rd, scratch)]);
    c
}

/// An enclave call: a6 = the Penglai extension, a7 = `fid`, then `ecall`.
pub fn penglai(fid: u64) -> Vec<u32> {
    let mut c = li32(A6, SBI_EXT_PENGLAI_ENCLAVE as i32);
    c.push(addi(A7, ZERO, fid as i32));
    c.push(ECALL);
    c
}

/// ELF64 RISC-V executable with one RWX PT_LOAD at 0x1000: the code, then `data` from 0x2000.
pub fn elf(code: &[u32], data: &[u8]) -> Vec<u8> {
    let mut seg: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(seg.len() <= 0x1000, "code must fit its page");
    if !data.is_empty() {
        seg.resize(0x1000, 0);
        seg.extend_from_slice(data);
    }
    let mut f = vec![0u8; 0x1000];
    f[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
    let mut put = |off: usize, bytes: &[u8]| f[off..off + bytes.len()].copy_from_slice(bytes);
    put(16, &2u16.to_le_bytes()); // ET_EXEC
    put(18, &243u16.to_le_bytes()); // EM_RISCV
    put(20, &1u32.to_le_bytes());
    put(24, &0x1000u64.to_le_bytes()); // entry
    put(32, &64u64.to_le_bytes()); // phoff
    put(52, &64u16.to_le_bytes());
    put(54, &56u16.to_le_bytes());
    put(56, &1u16.to_le_bytes());
    let ph = 64;
    put(ph, &1u32.to_le_bytes()); // PT_LOAD
    put(ph + 4, &7u32.to_le_bytes()); // RWX
    put(ph + 8, &0x1000u64.to_le_bytes()); // offset
    put(ph + 16, &0x1000u64.to_le_bytes()); // vaddr
    put(ph + 24, &0x1000u64.to_le_bytes()); // paddr
    put(ph + 32, &(seg.len() as u64).to_le_bytes());
    put(ph + 40, &(seg.len() as u64).to_le_bytes());
    f.extend_from_slice(&seg);
    f
}

fn name16(name: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    n
}

/// A normal enclave with the default stack and `shm` bytes of zeroed shm (if any).
pub fn params(name: &str, shm: Option<usize>) -> CreateParams {
    CreateParams {
        name: name16(name),
        kind: NORMAL_ENCLAVE,
        stack_size: DEFAULT_STACK_SIZE,
        shm: shm.map(|s| vec![0u8; s]),
        persistency: None,
    }
}

/// A shadow template.
pub fn shadow_params(name: &str) -> CreateParams {
    CreateParams { kind: SHADOW_ENCLAVE, stack_size: 0, shm: None, ..params(name, None) }
}

pub fn name(name: &str) -> [u8; 16] {
    name16(name)
}

/// Little-endian u64 word `i` of `bytes`.
pub fn word(bytes: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap())
}

/// 64-bit values that a 32-bit truncation (zero- or sign-extending) would change, plus the
/// edges either side of 2^31, 2^32 and 2^63.
pub const WIDE_VALUES: [u64; 10] = [
    0x0000_0000_8000_0000,
    0x0000_0000_FFFF_FFFF,
    0x0000_0001_0000_0000,
    0x0000_0001_8000_0001,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    0x8000_0000_7FFF_FFFF,
    0xFEDC_BA98_7654_3210,
    0xFFFF_FFFF_0000_0000,
    u64::MAX,
];
