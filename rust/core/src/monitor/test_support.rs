//! Hand assembly and ELF images for the monitor's unit tests.

pub fn i_type(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x13)
}
pub fn ld(rd: u32, off: i32, rs1: u32) -> u32 {
    i_type(off, rs1, 3, rd, 0x03)
}
pub fn sd(rs2: u32, off: i32, rs1: u32) -> u32 {
    let imm = off as u32 & 0xfff;
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 0x1f) << 7) | 0x23
}
pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33
}
pub fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}
pub const ECALL: u32 = 0x73;
pub const SPIN: u32 = 0x0000_006f; // jal x0, 0

/// ELF64 RISC-V executable with one RWX PT_LOAD at 0x1000: the code, then `data` from 0x2000 on.
pub fn elf_with_data(code: &[u32], data: &[u8]) -> Vec<u8> {
    let mut seg: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    if !data.is_empty() {
        seg.resize(0x1000, 0);
        seg.extend_from_slice(data);
    }
    let mut f = vec![0u8; 0x1000];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes());
    f[18..20].copy_from_slice(&243u16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&0x1000u64.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = 64;
    f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
    f[ph + 4..ph + 8].copy_from_slice(&7u32.to_le_bytes());
    f[ph + 8..ph + 16].copy_from_slice(&0x1000u64.to_le_bytes());
    f[ph + 16..ph + 24].copy_from_slice(&0x1000u64.to_le_bytes());
    f[ph + 24..ph + 32].copy_from_slice(&0x1000u64.to_le_bytes());
    f[ph + 32..ph + 40].copy_from_slice(&(seg.len() as u64).to_le_bytes());
    f[ph + 40..ph + 48].copy_from_slice(&(seg.len() as u64).to_le_bytes());
    f.extend_from_slice(&seg);
    f
}

/// The same with code only.
pub fn elf(code: &[u32]) -> Vec<u8> {
    elf_with_data(code, &[])
}

/// `beq rs1, rs2, off` (off in bytes, even).
pub fn beq(rs1: u32, rs2: u32, off: i32) -> u32 {
    let i = off as u32;
    (((i >> 12) & 1) << 31) | (((i >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (((i >> 1) & 0xf) << 8) | (((i >> 11) & 1) << 7) | 0x63
}

/// `jal rd, off` (off in bytes, even).
pub fn jal(rd: u32, off: i32) -> u32 {
    let i = off as u32;
    (((i >> 20) & 1) << 31) | (((i >> 1) & 0x3ff) << 21) | (((i >> 11) & 1) << 20) | (((i >> 12) & 0xff) << 12) | (rd << 7) | 0x6f
}
