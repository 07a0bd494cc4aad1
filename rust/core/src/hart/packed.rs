//! The executor's 8-byte form of a decoded instruction.
//!
//! Blocks store instructions packed into one `u64` so the run loop loads each with a single
//! load and takes fields apart in registers; a 12-byte [`Insn`] tended to go through the
//! stack first, putting a store-forwarding delay on every instruction's critical path.
use crate::isa::{Insn, Op};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packed(u64);

// Layout: bits 0-7 op, 8-12 rd, 13-17 rs1, 18-22 rs2, 23 compressed, 32-63 imm.
impl Packed {
    pub fn new(i: Insn) -> Packed {
        let compressed = (i.len == 2) as u64;
        Packed(
            i.op as u8 as u64
                | (i.rd as u64 & 31) << 8
                | (i.rs1 as u64 & 31) << 13
                | (i.rs2 as u64 & 31) << 18
                | compressed << 23
                | (i.imm as u32 as u64) << 32,
        )
    }

    #[inline(always)]
    pub fn op(self) -> Op {
        // SAFETY: the low byte was written by `new` from a valid `Op` (a `repr(u8)` enum).
        unsafe { std::mem::transmute::<u8, Op>(self.0 as u8) }
    }
    #[inline(always)]
    pub fn rd(self) -> usize {
        (self.0 >> 8) as usize & 31
    }
    #[inline(always)]
    pub fn rs1(self) -> usize {
        (self.0 >> 13) as usize & 31
    }
    #[inline(always)]
    pub fn rs2(self) -> usize {
        (self.0 >> 18) as usize & 31
    }
    #[inline(always)]
    pub fn len(self) -> u64 {
        4 - ((self.0 >> 22) & 2)
    }
    #[inline(always)]
    pub fn imm(self) -> i32 {
        (self.0 >> 32) as i32
    }

    pub fn unpack(self) -> Insn {
        Insn {
            op: self.op(),
            rd: self.rd() as u8,
            rs1: self.rs1() as u8,
            rs2: self.rs2() as u8,
            len: self.len() as u8,
            imm: self.imm(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::decode;

    #[test]
    fn round_trips_every_compressed_encoding_and_sampled_32_bit_ones() {
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
