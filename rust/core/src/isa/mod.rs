//! Instruction set: decoding (with compressed expansion) and disassembly.
mod op;
mod decode;
mod disasm;
mod compressed;
mod csr_name;

pub use csr_name::{csr_name, CsrName};
pub use decode::decode;
pub use op::{Insn, Op};
