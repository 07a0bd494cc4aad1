//! GNU-objdump-like text for a decoded instruction (`objdump -M no-aliases` style).
//!
//! Differences from objdump, all because an [`Insn`] carries no pc or dropped bits:
//! branch and jump targets are printed as a signed decimal offset from the instruction
//! (`beq a0,zero,-8`); compressed instructions print as their 32-bit expansion; `fence` prints
//! without its (ignored) predecessor/successor sets; AMOs print without `.aq`/`.rl`;
//! illegal instructions print as `illegal 0x0000` (16-bit) or `illegal 0x12345678` (32-bit).

use core::fmt;

use super::csr_name::csr_name;
use super::op::{Insn, Op};

const REG: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

fn reg(r: u8) -> &'static str {
    REG[(r & 31) as usize]
}

const FREG: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

fn freg(r: u8) -> &'static str {
    FREG[(r & 31) as usize]
}

/// The `,rm` suffix objdump prints for a static rounding mode (nothing for dynamic).
fn rm_suffix(rm: i32) -> &'static str {
    match rm & 7 {
        0 => ",rne",
        1 => ",rtz",
        2 => ",rdn",
        3 => ",rup",
        4 => ",rmm",
        _ => "",
    }
}

/// The mnemonic of an op (no `.aq`/`.rl` suffixes).
pub(crate) fn mnemonic(op: Op) -> &'static str {
    use Op::*;
    match op {
        Illegal => "illegal",
        Lui => "lui", Auipc => "auipc", Jal => "jal", Jalr => "jalr",
        Beq => "beq", Bne => "bne", Blt => "blt", Bge => "bge", Bltu => "bltu", Bgeu => "bgeu",
        Lb => "lb", Lh => "lh", Lw => "lw", Ld => "ld", Lbu => "lbu", Lhu => "lhu", Lwu => "lwu",
        Sb => "sb", Sh => "sh", Sw => "sw", Sd => "sd",
        Addi => "addi", Slti => "slti", Sltiu => "sltiu", Xori => "xori", Ori => "ori",
        Andi => "andi", Slli => "slli", Srli => "srli", Srai => "srai",
        Add => "add", Sub => "sub", Sll => "sll", Slt => "slt", Sltu => "sltu", Xor => "xor",
        Srl => "srl", Sra => "sra", Or => "or", And => "and",
        Addiw => "addiw", Slliw => "slliw", Srliw => "srliw", Sraiw => "sraiw",
        Addw => "addw", Subw => "subw", Sllw => "sllw", Srlw => "srlw", Sraw => "sraw",
        Fence => "fence", FenceI => "fence.i",
        Ecall => "ecall", Ebreak => "ebreak",
        Sret => "sret", Mret => "mret", Wfi => "wfi", SfenceVma => "sfence.vma",
        Csrrw => "csrrw", Csrrs => "csrrs", Csrrc => "csrrc",
        Csrrwi => "csrrwi", Csrrsi => "csrrsi", Csrrci => "csrrci",
        Mul => "mul", Mulh => "mulh", Mulhsu => "mulhsu", Mulhu => "mulhu",
        Div => "div", Divu => "divu", Rem => "rem", Remu => "remu",
        Mulw => "mulw", Divw => "divw", Divuw => "divuw", Remw => "remw", Remuw => "remuw",
        LrW => "lr.w", ScW => "sc.w", AmoswapW => "amoswap.w", AmoaddW => "amoadd.w",
        AmoxorW => "amoxor.w", AmoandW => "amoand.w", AmoorW => "amoor.w",
        AmominW => "amomin.w", AmomaxW => "amomax.w", AmominuW => "amominu.w",
        AmomaxuW => "amomaxu.w",
        LrD => "lr.d", ScD => "sc.d", AmoswapD => "amoswap.d", AmoaddD => "amoadd.d",
        AmoxorD => "amoxor.d", AmoandD => "amoand.d", AmoorD => "amoor.d",
        AmominD => "amomin.d", AmomaxD => "amomax.d", AmominuD => "amominu.d",
        AmomaxuD => "amomaxu.d",
        Flw => "flw", Fsw => "fsw", Fld => "fld", Fsd => "fsd",
        FmaddS => "fmadd.s", FmsubS => "fmsub.s", FnmsubS => "fnmsub.s", FnmaddS => "fnmadd.s",
        FmaddD => "fmadd.d", FmsubD => "fmsub.d", FnmsubD => "fnmsub.d", FnmaddD => "fnmadd.d",
        FaddS => "fadd.s", FsubS => "fsub.s", FmulS => "fmul.s", FdivS => "fdiv.s",
        FsqrtS => "fsqrt.s", FsgnjS => "fsgnj.s", FsgnjnS => "fsgnjn.s", FsgnjxS => "fsgnjx.s",
        FminS => "fmin.s", FmaxS => "fmax.s",
        FcvtWS => "fcvt.w.s", FcvtWuS => "fcvt.wu.s", FcvtLS => "fcvt.l.s", FcvtLuS => "fcvt.lu.s",
        FmvXW => "fmv.x.w", FclassS => "fclass.s", FeqS => "feq.s", FltS => "flt.s", FleS => "fle.s",
        FcvtSW => "fcvt.s.w", FcvtSWu => "fcvt.s.wu", FcvtSL => "fcvt.s.l", FcvtSLu => "fcvt.s.lu",
        FmvWX => "fmv.w.x",
        FaddD => "fadd.d", FsubD => "fsub.d", FmulD => "fmul.d", FdivD => "fdiv.d",
        FsqrtD => "fsqrt.d", FsgnjD => "fsgnj.d", FsgnjnD => "fsgnjn.d", FsgnjxD => "fsgnjx.d",
        FminD => "fmin.d", FmaxD => "fmax.d",
        FcvtSD => "fcvt.s.d", FcvtDS => "fcvt.d.s",
        FcvtWD => "fcvt.w.d", FcvtWuD => "fcvt.wu.d", FcvtLD => "fcvt.l.d", FcvtLuD => "fcvt.lu.d",
        FmvXD => "fmv.x.d", FclassD => "fclass.d", FeqD => "feq.d", FltD => "flt.d", FleD => "fle.d",
        FcvtDW => "fcvt.d.w", FcvtDWu => "fcvt.d.wu", FcvtDL => "fcvt.d.l", FcvtDLu => "fcvt.d.lu",
        FmvDX => "fmv.d.x",
    }
}

/// Writes the name of a CSR as objdump does, or its number in hex when it has no name here.
fn write_csr(f: &mut fmt::Formatter<'_>, csr: u32) -> fmt::Result {
    match csr_name(csr) {
        Some(name) => write!(f, "{name}"),
        None => write!(f, "{csr:#x}"),
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Op::*;
        let m = mnemonic(self.op);
        let (rd, rs1, rs2, imm) = (reg(self.rd), reg(self.rs1), reg(self.rs2), self.imm);
        match self.op {
            Illegal => {
                if self.len == 2 {
                    write!(f, "illegal {:#06x}", imm as u32 & 0xffff)
                } else {
                    write!(f, "illegal {:#010x}", imm as u32)
                }
            }
            Lui | Auipc => write!(f, "{m} {rd},{:#x}", (imm as u32) >> 12),
            Jal => write!(f, "{m} {rd},{imm}"),
            Jalr => write!(f, "{m} {rd},{imm}({rs1})"),
            Beq | Bne | Blt | Bge | Bltu | Bgeu => write!(f, "{m} {rs1},{rs2},{imm}"),
            Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => write!(f, "{m} {rd},{imm}({rs1})"),
            Sb | Sh | Sw | Sd => write!(f, "{m} {rs2},{imm}({rs1})"),
            Addi | Slti | Sltiu | Xori | Ori | Andi | Addiw => {
                write!(f, "{m} {rd},{rs1},{imm}")
            }
            Slli | Srli | Srai | Slliw | Srliw | Sraiw => write!(f, "{m} {rd},{rs1},{imm:#x}"),
            Fence | FenceI | Ecall | Ebreak | Sret | Mret | Wfi => f.write_str(m),
            SfenceVma => write!(f, "{m} {rs1},{rs2}"),
            Csrrw | Csrrs | Csrrc => {
                write!(f, "{m} {rd},")?;
                write_csr(f, imm as u32 & 0xfff)?;
                write!(f, ",{rs1}")
            }
            Csrrwi | Csrrsi | Csrrci => {
                write!(f, "{m} {rd},")?;
                write_csr(f, imm as u32 & 0xfff)?;
                write!(f, ",{}", self.rs1)
            }
            LrW | LrD => write!(f, "{m} {rd},({rs1})"),
            ScW | ScD | AmoswapW | AmoaddW | AmoxorW | AmoandW | AmoorW | AmominW | AmomaxW
            | AmominuW | AmomaxuW | AmoswapD | AmoaddD | AmoxorD | AmoandD | AmoorD | AmominD
            | AmomaxD | AmominuD | AmomaxuD => write!(f, "{m} {rd},{rs2},({rs1})"),
            // F and D
            Flw | Fld => write!(f, "{m} {},{imm}({rs1})", freg(self.rd)),
            Fsw | Fsd => write!(f, "{m} {},{imm}({rs1})", freg(self.rs2)),
            FmaddS | FmsubS | FnmsubS | FnmaddS | FmaddD | FmsubD | FnmsubD | FnmaddD => write!(
                f,
                "{m} {},{},{},{}{}",
                freg(self.rd),
                freg(self.rs1),
                freg(self.rs2),
                freg((imm >> 3) as u8),
                rm_suffix(imm)
            ),
            FaddS | FsubS | FmulS | FdivS | FaddD | FsubD | FmulD | FdivD => write!(
                f,
                "{m} {},{},{}{}",
                freg(self.rd),
                freg(self.rs1),
                freg(self.rs2),
                rm_suffix(imm)
            ),
            FsgnjS | FsgnjnS | FsgnjxS | FminS | FmaxS | FsgnjD | FsgnjnD | FsgnjxD | FminD
            | FmaxD => write!(f, "{m} {},{},{}", freg(self.rd), freg(self.rs1), freg(self.rs2)),
            FeqS | FltS | FleS | FeqD | FltD | FleD => {
                write!(f, "{m} {rd},{},{}", freg(self.rs1), freg(self.rs2))
            }
            FsqrtS | FsqrtD | FcvtSD | FcvtDS => {
                write!(f, "{m} {},{}{}", freg(self.rd), freg(self.rs1), rm_suffix(imm))
            }
            FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD => {
                write!(f, "{m} {rd},{}{}", freg(self.rs1), rm_suffix(imm))
            }
            FcvtSW | FcvtSWu | FcvtSL | FcvtSLu | FcvtDW | FcvtDWu | FcvtDL | FcvtDLu => {
                write!(f, "{m} {},{rs1}{}", freg(self.rd), rm_suffix(imm))
            }
            FmvXW | FclassS | FmvXD | FclassD => write!(f, "{m} {rd},{}", freg(self.rs1)),
            FmvWX | FmvDX => write!(f, "{m} {},{rs1}", freg(self.rd)),
            // R-type ALU ops (RV64I and M).
            _ => write!(f, "{m} {rd},{rs1},{rs2}"),
        }
    }
}
