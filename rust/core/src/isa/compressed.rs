//! Expansion of 16-bit RV64C instructions into the [`Insn`] of their 32-bit equivalents
//! (with `len = 2`).
//!
//! Reserved encodings (all-zero word, `c.addi4spn` with 0, `c.addi16sp`/`c.lui` with 0,
//! `c.lwsp`/`c.ldsp`/`c.jr` with x0, `c.addiw` with x0, the reserved quadrant-0 slot and
//! `c.subw`/`c.addw` neighbours) decode as `Illegal` carrying the 16 raw bits. The RV64 FP forms
//! are `c.fld`, `c.fsd`, `c.fldsp` and `c.fsdsp` (`c.flw`/`c.fsw` exist only on RV32). HINTs (`c.nop` with imm, `c.li`/`c.lui`/`c.mv`/`c.add`/`c.slli` with rd=x0,
//! shift amounts of 0, ...) expand to their ordinary ops.

use super::decode::mk;
use super::op::{Insn, Op};

const L: u8 = 2;

#[inline(always)]
const fn bit(x: u32, n: u32) -> u32 {
    (x >> n) & 1
}

#[inline(always)]
const fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Sign-extends the low `n` bits of `x`.
#[inline(always)]
const fn sext(x: u32, n: u32) -> i32 {
    ((x << (32 - n)) as i32) >> (32 - n)
}

/// Expands one 16-bit instruction (the caller guarantees the low two bits are not `0b11`).
pub(super) fn expand(half: u16) -> Insn {
    let x = half as u32;
    let ill = Insn::illegal(x, L);
    // Full and compressed (x8..x15) register fields.
    let rd = bits(x, 11, 7);
    let rs2 = bits(x, 6, 2);
    let rdp = bits(x, 4, 2) + 8; // rd' / rs2' in bits 4:2
    let rs1p = bits(x, 9, 7) + 8; // rs1' / rd' in bits 9:7
    // CI-format 6-bit immediate: imm[5] = bit 12, imm[4:0] = bits 6:2.
    let ci6 = (bit(x, 12) << 5) | bits(x, 6, 2);
    match (x & 3, bits(x, 15, 13)) {
        // ---- Quadrant 0 ----
        (0, 0b000) => {
            // c.addi4spn: nzuimm[5:4|9:6|2|3] = bits 12:5
            let imm = (bits(x, 12, 11) << 4)
                | (bits(x, 10, 7) << 6)
                | (bit(x, 6) << 2)
                | (bit(x, 5) << 3);
            if imm == 0 {
                ill // includes the all-zero word
            } else {
                mk(Op::Addi, rdp, 2, 0, imm as i32, L)
            }
        }
        (0, 0b010) => {
            // c.lw: uimm[5:3] = 12:10, uimm[2] = 6, uimm[6] = 5
            let imm = (bits(x, 12, 10) << 3) | (bit(x, 6) << 2) | (bit(x, 5) << 6);
            mk(Op::Lw, rdp, rs1p, 0, imm as i32, L)
        }
        (0, 0b011) => {
            // c.ld: uimm[5:3] = 12:10, uimm[7:6] = 6:5
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 6, 5) << 6);
            mk(Op::Ld, rdp, rs1p, 0, imm as i32, L)
        }
        (0, 0b110) => {
            // c.sw
            let imm = (bits(x, 12, 10) << 3) | (bit(x, 6) << 2) | (bit(x, 5) << 6);
            mk(Op::Sw, 0, rs1p, rdp, imm as i32, L)
        }
        (0, 0b111) => {
            // c.sd
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 6, 5) << 6);
            mk(Op::Sd, 0, rs1p, rdp, imm as i32, L)
        }
        (0, 0b001) => {
            // c.fld: offsets as c.ld
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 6, 5) << 6);
            mk(Op::Fld, rdp, rs1p, 0, imm as i32, L)
        }
        (0, 0b101) => {
            // c.fsd
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 6, 5) << 6);
            mk(Op::Fsd, 0, rs1p, rdp, imm as i32, L)
        }
        // 100 reserved
        (0, _) => ill,

        // ---- Quadrant 1 ----
        // c.nop / c.addi (HINTs included)
        (1, 0b000) => mk(Op::Addi, rd, rd, 0, sext(ci6, 6), L),
        (1, 0b001) => {
            // c.addiw (RV64); rd = x0 is reserved
            if rd == 0 {
                ill
            } else {
                mk(Op::Addiw, rd, rd, 0, sext(ci6, 6), L)
            }
        }
        // c.li
        (1, 0b010) => mk(Op::Addi, rd, 0, 0, sext(ci6, 6), L),
        (1, 0b011) => {
            if rd == 2 {
                // c.addi16sp: nzimm[9] = 12, nzimm[4|6|8:7|5] = 6:2
                let imm = (bit(x, 12) << 9)
                    | (bit(x, 6) << 4)
                    | (bit(x, 5) << 6)
                    | (bits(x, 4, 3) << 7)
                    | (bit(x, 2) << 5);
                if imm == 0 {
                    ill
                } else {
                    mk(Op::Addi, 2, 2, 0, sext(imm, 10), L)
                }
            } else if ci6 == 0 {
                ill
            } else {
                // c.lui: nzimm[17] = 12, nzimm[16:12] = 6:2
                mk(Op::Lui, rd, 0, 0, sext(ci6, 6) << 12, L)
            }
        }
        (1, 0b100) => {
            let rdp1 = rs1p;
            match bits(x, 11, 10) {
                0b00 => mk(Op::Srli, rdp1, rdp1, 0, ci6 as i32, L),
                0b01 => mk(Op::Srai, rdp1, rdp1, 0, ci6 as i32, L),
                0b10 => mk(Op::Andi, rdp1, rdp1, 0, sext(ci6, 6), L),
                _ => {
                    let op = match (bit(x, 12), bits(x, 6, 5)) {
                        (0, 0b00) => Op::Sub,
                        (0, 0b01) => Op::Xor,
                        (0, 0b10) => Op::Or,
                        (0, 0b11) => Op::And,
                        (1, 0b00) => Op::Subw,
                        (1, 0b01) => Op::Addw,
                        _ => return ill,
                    };
                    mk(op, rdp1, rdp1, rdp, 0, L)
                }
            }
        }
        (1, 0b101) => {
            // c.j: offset[11|4|9:8|10|6|7|3:1|5] = bits 12:2
            let imm = (bit(x, 12) << 11)
                | (bit(x, 11) << 4)
                | (bits(x, 10, 9) << 8)
                | (bit(x, 8) << 10)
                | (bit(x, 7) << 6)
                | (bit(x, 6) << 7)
                | (bits(x, 5, 3) << 1)
                | (bit(x, 2) << 5);
            mk(Op::Jal, 0, 0, 0, sext(imm, 12), L)
        }
        (1, f3) => {
            // c.beqz / c.bnez: offset[8|4:3] = 12:10, offset[7:6|2:1|5] = 6:2
            let imm = (bit(x, 12) << 8)
                | (bits(x, 11, 10) << 3)
                | (bits(x, 6, 5) << 6)
                | (bits(x, 4, 3) << 1)
                | (bit(x, 2) << 5);
            let op = if f3 == 0b110 { Op::Beq } else { Op::Bne };
            mk(op, 0, rs1p, 0, sext(imm, 9), L)
        }

        // ---- Quadrant 2 ----
        // c.slli (rd = x0 and shamt = 0 are HINTs)
        (2, 0b000) => mk(Op::Slli, rd, rd, 0, ci6 as i32, L),
        (2, 0b010) => {
            // c.lwsp: uimm[5] = 12, uimm[4:2] = 6:4, uimm[7:6] = 3:2
            if rd == 0 {
                ill
            } else {
                let imm = (bit(x, 12) << 5) | (bits(x, 6, 4) << 2) | (bits(x, 3, 2) << 6);
                mk(Op::Lw, rd, 2, 0, imm as i32, L)
            }
        }
        (2, 0b011) => {
            // c.ldsp: uimm[5] = 12, uimm[4:3] = 6:5, uimm[8:6] = 4:2
            if rd == 0 {
                ill
            } else {
                let imm = (bit(x, 12) << 5) | (bits(x, 6, 5) << 3) | (bits(x, 4, 2) << 6);
                mk(Op::Ld, rd, 2, 0, imm as i32, L)
            }
        }
        (2, 0b100) => match (bit(x, 12), rd, rs2) {
            (0, 0, 0) => ill,                                  // c.jr x0: reserved
            (0, _, 0) => mk(Op::Jalr, 0, rd, 0, 0, L),         // c.jr
            (0, _, _) => mk(Op::Add, rd, 0, rs2, 0, L),        // c.mv
            (_, 0, 0) => mk(Op::Ebreak, 0, 0, 0, 0, L),        // c.ebreak
            (_, _, 0) => mk(Op::Jalr, 1, rd, 0, 0, L),         // c.jalr
            (_, _, _) => mk(Op::Add, rd, rd, rs2, 0, L),       // c.add
        },
        (2, 0b110) => {
            // c.swsp: uimm[5:2] = 12:9, uimm[7:6] = 8:7
            let imm = (bits(x, 12, 9) << 2) | (bits(x, 8, 7) << 6);
            mk(Op::Sw, 0, 2, rs2, imm as i32, L)
        }
        (2, 0b111) => {
            // c.sdsp: uimm[5:3] = 12:10, uimm[8:6] = 9:7
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 9, 7) << 6);
            mk(Op::Sd, 0, 2, rs2, imm as i32, L)
        }
        (2, 0b001) => {
            // c.fldsp: offsets as c.ldsp; any f register, f0 included
            let imm = (bit(x, 12) << 5) | (bits(x, 6, 5) << 3) | (bits(x, 4, 2) << 6);
            mk(Op::Fld, rd, 2, 0, imm as i32, L)
        }
        (2, 0b101) => {
            // c.fsdsp: offsets as c.sdsp
            let imm = (bits(x, 12, 10) << 3) | (bits(x, 9, 7) << 6);
            mk(Op::Fsd, 0, 2, rs2, imm as i32, L)
        }

        // Low bits 11: not a compressed instruction (unreachable through `decode`).
        _ => ill,
    }
}
