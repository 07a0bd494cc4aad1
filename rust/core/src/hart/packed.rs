//! The executor's form of a decoded instruction: its handler and byte-sized fields.
use super::execute::{handler_for, handler_for_cmplog, Handler};
use crate::isa::{Insn, Op};

/// One decoded instruction as a block stores it: the function that executes it (specialised
/// for its op, so dispatch is one indirect call and each op's code is small) and its fields.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Packed {
    pub handler: Handler,
    op: Op,
    /// Bits 0-4: rd; bits 5-7: the instruction's length in bytes (2 or 4), so the next pc is
    /// one shift away.
    rd: u8,
    rs1: u8,
    rs2: u8,
    imm: i32,
}

const LEN_SHIFT: u32 = 5;

impl Packed {
    #[cfg(test)]
    pub fn new(i: Insn) -> Packed {
        Packed::with(i, false)
    }

    /// `i` with the comparison-logging handler for its op if `cmplog` (see `cov`).
    pub fn with(i: Insn, cmplog: bool) -> Packed {
        let handler = if cmplog { handler_for_cmplog(i.op) } else { handler_for(i.op) };
        Packed { handler, op: i.op, rd: (i.rd & 31) | (i.len << LEN_SHIFT), rs1: i.rs1 & 31, rs2: i.rs2 & 31, imm: i.imm }
    }

    #[inline(always)]
    pub fn op(&self) -> Op {
        self.op
    }
    #[inline(always)]
    pub fn rd(&self) -> usize {
        (self.rd & 31) as usize
    }
    #[inline(always)]
    pub fn rs1(&self) -> usize {
        (self.rs1 & 31) as usize
    }
    #[inline(always)]
    pub fn rs2(&self) -> usize {
        (self.rs2 & 31) as usize
    }
    #[inline(always)]
    pub fn len(&self) -> u64 {
        (self.rd >> LEN_SHIFT) as u64
    }
    #[inline(always)]
    pub fn imm(&self) -> i32 {
        self.imm
    }

    pub fn unpack(&self) -> Insn {
        Insn { op: self.op, rd: self.rd() as u8, rs1: self.rs1, rs2: self.rs2, len: self.len() as u8, imm: self.imm }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::decode;

    #[test]
    fn packed_is_sixteen_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<Packed>(), 16);
        for raw in 0..=0xffffu32 {
            let i = decode(raw);
            assert_eq!(Packed::new(i).unpack(), i, "{raw:#06x}");
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = decode(x | 3);
            assert_eq!(Packed::new(i).unpack(), i, "{:#010x}", x | 3);
        }
    }
}
