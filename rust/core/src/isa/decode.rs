//! Decoding of 32-bit instructions (RV64IMAFD, Zicsr, Zifencei, privileged); 16-bit ones are
//! expanded by [`super::compressed`].
//!
//! Decisions an executor must know (all are spec-sanctioned):
//! - `fence`, `fence.tso` and `fence.i` ignore their reserved fields (rd, rs1, imm, fm,
//!   pred/succ): any such encoding decodes to `Fence`/`FenceI` with all fields 0.
//! - HINT encodings (e.g. `addi x0,x0,5`, `c.li x0,5`, `c.slli x5,0`) decode as the ordinary op
//!   with `rd` possibly 0; executors must keep x0 hard-wired to zero.
//! - Everything not listed in [`super::Op`] is `Illegal` with `imm` = the raw bits, including
//!   instructions longer than 32 bits and reserved SYSTEM encodings.
//! - F/D: a static rounding mode of 5 or 6 is `Illegal` here; the dynamic mode (7) is checked
//!   against `frm` when the instruction executes. See [`super::Op`] for how rm and rs3 are
//!   carried in `imm`.

use super::compressed;
use super::op::{Insn, Op};

/// Builds an [`Insn`]; register numbers are already masked to 5 bits by the callers.
#[inline(always)]
pub(super) const fn mk(op: Op, rd: u32, rs1: u32, rs2: u32, imm: i32, len: u8) -> Insn {
    Insn { op, rd: rd as u8, rs1: rs1 as u8, rs2: rs2 as u8, len, imm }
}

/// Decodes one instruction. If the low two bits are not `0b11`, only the low 16 bits are read.
#[inline]
pub fn decode(raw: u32) -> Insn {
    if raw & 3 != 3 {
        compressed::expand(raw as u16)
    } else {
        decode32(raw)
    }
}

#[inline(always)]
const fn i_imm(raw: u32) -> i32 {
    (raw as i32) >> 20
}

#[inline(always)]
const fn s_imm(raw: u32) -> i32 {
    (((raw as i32) >> 25) << 5) | ((raw >> 7) & 0x1f) as i32
}

#[inline(always)]
const fn b_imm(raw: u32) -> i32 {
    (((raw as i32) >> 31) << 12)
        | (((raw >> 7) & 1) << 11) as i32
        | (((raw >> 25) & 0x3f) << 5) as i32
        | (((raw >> 8) & 0xf) << 1) as i32
}

#[inline(always)]
const fn j_imm(raw: u32) -> i32 {
    (((raw as i32) >> 31) << 20)
        | (raw & 0x000f_f000) as i32
        | (((raw >> 20) & 1) << 11) as i32
        | (((raw >> 21) & 0x3ff) << 1) as i32
}

fn decode32(raw: u32) -> Insn {
    const L: u8 = 4;
    let rd = (raw >> 7) & 0x1f;
    let rs1 = (raw >> 15) & 0x1f;
    let rs2 = (raw >> 20) & 0x1f;
    let f3 = (raw >> 12) & 7;
    let f7 = raw >> 25;
    let ill = Insn::illegal(raw, L);
    match raw & 0x7f {
        // LUI / AUIPC
        0x37 => mk(Op::Lui, rd, 0, 0, (raw & 0xffff_f000) as i32, L),
        0x17 => mk(Op::Auipc, rd, 0, 0, (raw & 0xffff_f000) as i32, L),
        // JAL / JALR
        0x6f => mk(Op::Jal, rd, 0, 0, j_imm(raw), L),
        0x67 => {
            if f3 == 0 {
                mk(Op::Jalr, rd, rs1, 0, i_imm(raw), L)
            } else {
                ill
            }
        }
        // BRANCH
        0x63 => {
            let op = match f3 {
                0 => Op::Beq,
                1 => Op::Bne,
                4 => Op::Blt,
                5 => Op::Bge,
                6 => Op::Bltu,
                7 => Op::Bgeu,
                _ => return ill,
            };
            mk(op, 0, rs1, rs2, b_imm(raw), L)
        }
        // LOAD
        0x03 => {
            let op = match f3 {
                0 => Op::Lb,
                1 => Op::Lh,
                2 => Op::Lw,
                3 => Op::Ld,
                4 => Op::Lbu,
                5 => Op::Lhu,
                6 => Op::Lwu,
                _ => return ill,
            };
            mk(op, rd, rs1, 0, i_imm(raw), L)
        }
        // STORE
        0x23 => {
            let op = match f3 {
                0 => Op::Sb,
                1 => Op::Sh,
                2 => Op::Sw,
                3 => Op::Sd,
                _ => return ill,
            };
            mk(op, 0, rs1, rs2, s_imm(raw), L)
        }
        // OP-IMM
        0x13 => {
            let shamt = ((raw >> 20) & 0x3f) as i32;
            let f6 = raw >> 26;
            let (op, imm) = match f3 {
                0 => (Op::Addi, i_imm(raw)),
                2 => (Op::Slti, i_imm(raw)),
                3 => (Op::Sltiu, i_imm(raw)),
                4 => (Op::Xori, i_imm(raw)),
                6 => (Op::Ori, i_imm(raw)),
                7 => (Op::Andi, i_imm(raw)),
                1 if f6 == 0 => (Op::Slli, shamt),
                5 if f6 == 0 => (Op::Srli, shamt),
                5 if f6 == 0b010000 => (Op::Srai, shamt),
                _ => return ill,
            };
            mk(op, rd, rs1, 0, imm, L)
        }
        // OP-IMM-32
        0x1b => {
            let shamt = ((raw >> 20) & 0x1f) as i32;
            let (op, imm) = match (f3, f7) {
                (0, _) => (Op::Addiw, i_imm(raw)),
                (1, 0) => (Op::Slliw, shamt),
                (5, 0) => (Op::Srliw, shamt),
                (5, 0b0100000) => (Op::Sraiw, shamt),
                _ => return ill,
            };
            mk(op, rd, rs1, 0, imm, L)
        }
        // OP
        0x33 => {
            let op = match (f7, f3) {
                (0, 0) => Op::Add,
                (0, 1) => Op::Sll,
                (0, 2) => Op::Slt,
                (0, 3) => Op::Sltu,
                (0, 4) => Op::Xor,
                (0, 5) => Op::Srl,
                (0, 6) => Op::Or,
                (0, 7) => Op::And,
                (0x20, 0) => Op::Sub,
                (0x20, 5) => Op::Sra,
                (1, 0) => Op::Mul,
                (1, 1) => Op::Mulh,
                (1, 2) => Op::Mulhsu,
                (1, 3) => Op::Mulhu,
                (1, 4) => Op::Div,
                (1, 5) => Op::Divu,
                (1, 6) => Op::Rem,
                (1, 7) => Op::Remu,
                _ => return ill,
            };
            mk(op, rd, rs1, rs2, 0, L)
        }
        // OP-32
        0x3b => {
            let op = match (f7, f3) {
                (0, 0) => Op::Addw,
                (0, 1) => Op::Sllw,
                (0, 5) => Op::Srlw,
                (0x20, 0) => Op::Subw,
                (0x20, 5) => Op::Sraw,
                (1, 0) => Op::Mulw,
                (1, 4) => Op::Divw,
                (1, 5) => Op::Divuw,
                (1, 6) => Op::Remw,
                (1, 7) => Op::Remuw,
                _ => return ill,
            };
            mk(op, rd, rs1, rs2, 0, L)
        }
        // MISC-MEM: reserved fields of FENCE / FENCE.I are ignored, as the spec asks.
        0x0f => match f3 {
            0 => mk(Op::Fence, 0, 0, 0, 0, L),
            1 => mk(Op::FenceI, 0, 0, 0, 0, L),
            _ => ill,
        },
        // SYSTEM
        0x73 => {
            let csr = (raw >> 20) as i32;
            match f3 {
                0 => match raw {
                    0x0000_0073 => mk(Op::Ecall, 0, 0, 0, 0, L),
                    0x0010_0073 => mk(Op::Ebreak, 0, 0, 0, 0, L),
                    0x1020_0073 => mk(Op::Sret, 0, 0, 0, 0, L),
                    0x3020_0073 => mk(Op::Mret, 0, 0, 0, 0, L),
                    0x1050_0073 => mk(Op::Wfi, 0, 0, 0, 0, L),
                    _ if f7 == 0b000_1001 && rd == 0 => mk(Op::SfenceVma, 0, rs1, rs2, 0, L),
                    _ => ill,
                },
                1 => mk(Op::Csrrw, rd, rs1, 0, csr, L),
                2 => mk(Op::Csrrs, rd, rs1, 0, csr, L),
                3 => mk(Op::Csrrc, rd, rs1, 0, csr, L),
                5 => mk(Op::Csrrwi, rd, rs1, 0, csr, L),
                6 => mk(Op::Csrrsi, rd, rs1, 0, csr, L),
                7 => mk(Op::Csrrci, rd, rs1, 0, csr, L),
                _ => ill,
            }
        }
        // AMO (aq/rl dropped)
        0x2f => {
            let f5 = raw >> 27;
            let op = match (f3, f5) {
                (2, 0b00010) if rs2 == 0 => Op::LrW,
                (2, 0b00011) => Op::ScW,
                (2, 0b00001) => Op::AmoswapW,
                (2, 0b00000) => Op::AmoaddW,
                (2, 0b00100) => Op::AmoxorW,
                (2, 0b01100) => Op::AmoandW,
                (2, 0b01000) => Op::AmoorW,
                (2, 0b10000) => Op::AmominW,
                (2, 0b10100) => Op::AmomaxW,
                (2, 0b11000) => Op::AmominuW,
                (2, 0b11100) => Op::AmomaxuW,
                (3, 0b00010) if rs2 == 0 => Op::LrD,
                (3, 0b00011) => Op::ScD,
                (3, 0b00001) => Op::AmoswapD,
                (3, 0b00000) => Op::AmoaddD,
                (3, 0b00100) => Op::AmoxorD,
                (3, 0b01100) => Op::AmoandD,
                (3, 0b01000) => Op::AmoorD,
                (3, 0b10000) => Op::AmominD,
                (3, 0b10100) => Op::AmomaxD,
                (3, 0b11000) => Op::AmominuD,
                (3, 0b11100) => Op::AmomaxuD,
                _ => return ill,
            };
            mk(op, rd, rs1, rs2, 0, L)
        }
        // LOAD-FP / STORE-FP
        0x07 => match f3 {
            2 => mk(Op::Flw, rd, rs1, 0, i_imm(raw), L),
            3 => mk(Op::Fld, rd, rs1, 0, i_imm(raw), L),
            _ => ill,
        },
        0x27 => match f3 {
            2 => mk(Op::Fsw, 0, rs1, rs2, s_imm(raw), L),
            3 => mk(Op::Fsd, 0, rs1, rs2, s_imm(raw), L),
            _ => ill,
        },
        // MADD / MSUB / NMSUB / NMADD
        0x43 | 0x47 | 0x4b | 0x4f => {
            if !rm_ok(f3) {
                return ill;
            }
            let d = match (raw >> 25) & 3 {
                0 => false,
                1 => true,
                _ => return ill,
            };
            let op = match (raw & 0x7f, d) {
                (0x43, false) => Op::FmaddS,
                (0x47, false) => Op::FmsubS,
                (0x4b, false) => Op::FnmsubS,
                (0x4f, false) => Op::FnmaddS,
                (0x43, true) => Op::FmaddD,
                (0x47, true) => Op::FmsubD,
                (0x4b, true) => Op::FnmsubD,
                _ => Op::FnmaddD,
            };
            mk(op, rd, rs1, rs2, (f3 | (raw >> 27) << 3) as i32, L)
        }
        // OP-FP
        0x53 => decode_op_fp(raw, rd, rs1, rs2, f3, f7),
        // Everything else: custom opcodes, >32-bit encodings (low 5 bits 11111).
        _ => ill,
    }
}

/// Rounding modes 5 and 6 are reserved.
#[inline(always)]
const fn rm_ok(rm: u32) -> bool {
    rm != 5 && rm != 6
}

fn decode_op_fp(raw: u32, rd: u32, rs1: u32, rs2: u32, f3: u32, f7: u32) -> Insn {
    const L: u8 = 4;
    let ill = Insn::illegal(raw, L);
    // (op, uses rs2, has an rm field)
    let (op, two, rm) = match f7 {
        0x00 => (Op::FaddS, true, true),
        0x04 => (Op::FsubS, true, true),
        0x08 => (Op::FmulS, true, true),
        0x0c => (Op::FdivS, true, true),
        0x01 => (Op::FaddD, true, true),
        0x05 => (Op::FsubD, true, true),
        0x09 => (Op::FmulD, true, true),
        0x0d => (Op::FdivD, true, true),
        0x2c if rs2 == 0 => (Op::FsqrtS, false, true),
        0x2d if rs2 == 0 => (Op::FsqrtD, false, true),
        0x10 | 0x11 => {
            let d = f7 == 0x11;
            let op = match (f3, d) {
                (0, false) => Op::FsgnjS,
                (1, false) => Op::FsgnjnS,
                (2, false) => Op::FsgnjxS,
                (0, true) => Op::FsgnjD,
                (1, true) => Op::FsgnjnD,
                (2, true) => Op::FsgnjxD,
                _ => return ill,
            };
            (op, true, false)
        }
        0x14 | 0x15 => {
            let d = f7 == 0x15;
            let op = match (f3, d) {
                (0, false) => Op::FminS,
                (1, false) => Op::FmaxS,
                (0, true) => Op::FminD,
                (1, true) => Op::FmaxD,
                _ => return ill,
            };
            (op, true, false)
        }
        0x20 if rs2 == 1 => (Op::FcvtSD, false, true),
        0x21 if rs2 == 0 => (Op::FcvtDS, false, true),
        0x50 | 0x51 => {
            let d = f7 == 0x51;
            let op = match (f3, d) {
                (2, false) => Op::FeqS,
                (1, false) => Op::FltS,
                (0, false) => Op::FleS,
                (2, true) => Op::FeqD,
                (1, true) => Op::FltD,
                (0, true) => Op::FleD,
                _ => return ill,
            };
            (op, true, false)
        }
        0x60 | 0x61 | 0x68 | 0x69 => {
            let op = match (f7, rs2) {
                (0x60, 0) => Op::FcvtWS,
                (0x60, 1) => Op::FcvtWuS,
                (0x60, 2) => Op::FcvtLS,
                (0x60, 3) => Op::FcvtLuS,
                (0x61, 0) => Op::FcvtWD,
                (0x61, 1) => Op::FcvtWuD,
                (0x61, 2) => Op::FcvtLD,
                (0x61, 3) => Op::FcvtLuD,
                (0x68, 0) => Op::FcvtSW,
                (0x68, 1) => Op::FcvtSWu,
                (0x68, 2) => Op::FcvtSL,
                (0x68, 3) => Op::FcvtSLu,
                (0x69, 0) => Op::FcvtDW,
                (0x69, 1) => Op::FcvtDWu,
                (0x69, 2) => Op::FcvtDL,
                (0x69, 3) => Op::FcvtDLu,
                _ => return ill,
            };
            (op, false, true)
        }
        0x70 | 0x71 if rs2 == 0 => {
            let op = match (f7, f3) {
                (0x70, 0) => Op::FmvXW,
                (0x70, 1) => Op::FclassS,
                (0x71, 0) => Op::FmvXD,
                (0x71, 1) => Op::FclassD,
                _ => return ill,
            };
            (op, false, false)
        }
        0x78 if rs2 == 0 && f3 == 0 => (Op::FmvWX, false, false),
        0x79 if rs2 == 0 && f3 == 0 => (Op::FmvDX, false, false),
        _ => return ill,
    };
    if rm && !rm_ok(f3) {
        return ill;
    }
    let imm = if rm { f3 as i32 } else { 0 };
    mk(op, rd, rs1, if two { rs2 } else { 0 }, imm, L)
}
