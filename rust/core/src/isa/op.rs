//! The decoded form of one instruction.
//!
//! Every instruction, 16- or 32-bit, decodes once into an [`Insn`]: a fieldless [`Op`] plus
//! register numbers and one immediate. The hart caches these per code page, so the executor's
//! `match` on `op` is a jump table over a 12-byte record and never looks at raw bits again.

/// What to do. Compressed instructions decode to the same ops as their 32-bit expansions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Not a legal instruction here; `imm` holds the raw bits (16 or 32) for `mtval`.
    Illegal,
    // RV64I
    Lui, Auipc, Jal, Jalr,
    Beq, Bne, Blt, Bge, Bltu, Bgeu,
    Lb, Lh, Lw, Ld, Lbu, Lhu, Lwu,
    Sb, Sh, Sw, Sd,
    Addi, Slti, Sltiu, Xori, Ori, Andi, Slli, Srli, Srai,
    Add, Sub, Sll, Slt, Sltu, Xor, Srl, Sra, Or, And,
    Addiw, Slliw, Srliw, Sraiw,
    Addw, Subw, Sllw, Srlw, Sraw,
    Fence, FenceI,
    Ecall, Ebreak,
    // Privileged
    Sret, Mret, Wfi, SfenceVma,
    // Zicsr: `imm` = CSR number; for the *i forms `rs1` holds the 5-bit unsigned immediate.
    Csrrw, Csrrs, Csrrc, Csrrwi, Csrrsi, Csrrci,
    // RV64M
    Mul, Mulh, Mulhsu, Mulhu, Div, Divu, Rem, Remu,
    Mulw, Divw, Divuw, Remw, Remuw,
    // RV64A (aq/rl are irrelevant on one hart and are dropped)
    LrW, ScW, AmoswapW, AmoaddW, AmoxorW, AmoandW, AmoorW, AmominW, AmomaxW, AmominuW, AmomaxuW,
    LrD, ScD, AmoswapD, AmoaddD, AmoxorD, AmoandD, AmoorD, AmominD, AmomaxD, AmominuD, AmomaxuD,
    // RV64F and RV64D: every op from `Flw` on is floating point (see [`Op::is_fp`]).
    // Loads/stores: `imm` = offset. R4 (fused multiply-add): `imm` = rm | rs3 << 3. Ops with a
    // rounding-mode field: `imm` = rm (0-4 or 7 = dynamic; 5 and 6 decode as `Illegal`).
    // Ops without one: `imm` = 0. `rd`/`rs1`/`rs2` name f or x registers as the op says.
    Flw, Fsw, Fld, Fsd,
    FmaddS, FmsubS, FnmsubS, FnmaddS, FmaddD, FmsubD, FnmsubD, FnmaddD,
    FaddS, FsubS, FmulS, FdivS, FsqrtS, FsgnjS, FsgnjnS, FsgnjxS, FminS, FmaxS,
    FcvtWS, FcvtWuS, FcvtLS, FcvtLuS, FmvXW, FclassS, FeqS, FltS, FleS,
    FcvtSW, FcvtSWu, FcvtSL, FcvtSLu, FmvWX,
    FaddD, FsubD, FmulD, FdivD, FsqrtD, FsgnjD, FsgnjnD, FsgnjxD, FminD, FmaxD,
    FcvtSD, FcvtDS,
    FcvtWD, FcvtWuD, FcvtLD, FcvtLuD, FmvXD, FclassD, FeqD, FltD, FleD,
    FcvtDW, FcvtDWu, FcvtDL, FcvtDLu, FmvDX,
}

impl Op {
    /// Floating-point (F or D) instruction: executed by the hart's FPU, illegal while
    /// `mstatus.FS` is Off.
    #[inline(always)]
    pub const fn is_fp(self) -> bool {
        self as u8 >= Op::Flw as u8
    }
}

/// One decoded instruction.
///
/// `imm` is the sign-extended immediate (I/S/B/U/J forms, already shifted for U), the shift amount
/// for shift-immediates, the CSR number for Zicsr, or the raw bits for [`Op::Illegal`].
/// Unused register fields are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Insn {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    /// Length in bytes: 2 (compressed) or 4.
    pub len: u8,
    pub imm: i32,
}

impl Insn {
    pub const fn illegal(raw: u32, len: u8) -> Insn {
        Insn { op: Op::Illegal, rd: 0, rs1: 0, rs2: 0, len, imm: raw as i32 }
    }
}
