//! What the compiling tier's differential tests (jit_diff, jit_cov, jit_fp, jit_mem, jit_entry)
//! share: raw RV64 encodings, the layout of their bare machines, and a three-block loop.
//! Fields are masked to their width, not checked, because the random program generators rely
//! on that.
use pltvm_core::device::console::Console;
use pltvm_core::machine::RAM_BASE;

/// A console that takes every write and reads nothing.
pub struct NullConsole;

impl Console for NullConsole {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

pub fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
pub fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
/// An S-type store with major opcode `op` (0x23 integer, 0x27 floating point).
pub fn s_op(imm: i32, rs2: u32, rs1: u32, f3: u32, op: u32) -> u32 {
    let imm = imm as u32;
    (imm >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1f) << 7 | op
}
/// An integer store (`f3`: 0 sb, 1 sh, 2 sw, 3 sd).
pub fn s(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    s_op(imm, rs2, rs1, f3, 0x23)
}
/// A conditional branch (`f3`: 0 beq, 1 bne, 4 blt, 5 bge, 6 bltu, 7 bgeu), `off` in bytes.
pub fn b(off: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let o = off as u32;
    (o >> 12 & 1) << 31 | (o >> 5 & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (o >> 1 & 0xf) << 8 | (o >> 11 & 1) << 7 | 0x63
}
pub fn bne(off: i32, rs2: u32, rs1: u32) -> u32 {
    b(off, rs2, rs1, 1)
}
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
/// A Zicsr instruction (`f3`: 1 csrrw, 2 csrrs, 3 csrrc, 5..7 their immediate forms).
pub fn csr(f3: u32, rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73
}
pub fn csrrw(rd: u32, c: u32, rs1: u32) -> u32 {
    csr(1, rd, c, rs1)
}
pub fn csrrs(rd: u32, c: u32, rs1: u32) -> u32 {
    csr(2, rd, c, rs1)
}
pub const MRET: u32 = 0x3020_0073;
/// `jal x0, 0`.
pub const SPIN: u32 = 0x0000_006f;

/// Where the tests' programs, trap handler and data live, in 64 KiB of RAM.
pub const CODE: u64 = RAM_BASE;
pub const HANDLER: u64 = RAM_BASE + 0x3000;
pub const DATA: u64 = RAM_BASE + 0x8000;
pub const RAM: u64 = 0x10000;

/// A loop of three blocks in one page: x5 counts rounds, x6 = 2 x5 + 100, the first block's
/// branch always skips `addi x7`, and the third block loads through x10 (see the tests).
pub fn three_block_loop(load: bool) -> Vec<u32> {
    vec![
        addi(5, 5, 1),
        b(8, 0, 5, 1), // bne x5, x0, +8: always taken (block 1 ends)
        addi(7, 7, 1),
        addi(6, 5, 100), // block 2
        r(0, 5, 6, 0, 6, 0x33), // add x6, x6, x5
        b(8, 6, 0, 1), // bne x0, x6, +8: always taken (block 2 ends)
        addi(7, 7, 1),
        if load { i(0, 10, 3, 11, 0x03) } else { addi(11, 11, 1) }, // block 3: ld x11, 0(x10)
        addi(12, 12, 1),
        r(0, 14, 10, 0, 10, 0x33), // add x10, x10, x14
        b(-40, 0, 0, 0), // beq x0, x0, loop
    ]
}
