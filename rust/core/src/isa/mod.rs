//! Instruction set: decoding (with compressed expansion) and disassembly.
mod op;
mod decode;
mod disasm;
mod compressed;

pub use decode::decode;
pub use op::{Insn, Op};
