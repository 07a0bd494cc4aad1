//! The RISC-V target as gdb sees it: register numbering, the `g` packet and the target
//! description XML (features `org.gnu.gdb.riscv.cpu`, `.fpu`, `.csr`, `.virtual`).
//!
//! Register numbers follow gdb's RISC-V convention, so gdb's built-in names and groups apply:
//! x0..x31 = 0..31, pc = 32, f0..f31 = 33..64, CSR n = 65 + n (fflags, frm and fcsr are 66,
//! 67, 68 in the fpu feature), priv = 4161. The `g` packet carries x0..x31 and pc; gdb reads
//! the others one by one (`p`).
use gdbstub::arch::{Arch, RegId, Registers};
use pltvm_core::hart::csr::csr_exists;
use std::fmt::Write;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

pub const PC: usize = 32;
pub const FIRST_FP: usize = 33;
pub const FIRST_CSR: usize = 65;
pub const PRIV: usize = 4161;

pub enum Riscv64 {}

impl Arch for Riscv64 {
    type Usize = u64;
    type Registers = CoreRegs;
    type BreakpointKind = usize;
    type RegId = Reg;

    fn target_description_xml() -> Option<&'static str> {
        static XML: OnceLock<String> = OnceLock::new();
        Some(XML.get_or_init(target_xml).as_str())
    }
}

/// What the `g` packet carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreRegs {
    pub x: [u64; 32],
    pub pc: u64,
}

impl Registers for CoreRegs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for r in self.x.iter().chain(std::iter::once(&self.pc)) {
            r.to_le_bytes().iter().for_each(|b| write_byte(Some(*b)));
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() != 33 * 8 {
            return Err(());
        }
        let mut words = bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
        for r in self.x.iter_mut() {
            *r = words.next().ok_or(())?;
        }
        self.pc = words.next().ok_or(())?;
        Ok(())
    }
}

/// One register, by gdb's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    X(u8),
    Pc,
    F(u8),
    /// Any CSR, fflags/frm/fcsr included.
    Csr(u16),
    Priv,
}

impl Reg {
    pub fn size(self) -> usize {
        match self {
            Reg::Csr(1..=3) => 4,
            _ => 8,
        }
    }
}

impl RegId for Reg {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let r = match id {
            0..=31 => Reg::X(id as u8),
            PC => Reg::Pc,
            33..=64 => Reg::F((id - FIRST_FP) as u8),
            PRIV => Reg::Priv,
            _ if id > FIRST_CSR && id < FIRST_CSR + 4096 && csr_exists((id - FIRST_CSR) as u16) => {
                Reg::Csr((id - FIRST_CSR) as u16)
            }
            _ => return None,
        };
        Some((r, NonZeroUsize::new(r.size())))
    }
}

const X_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
    "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];
const F_NAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
    "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10",
    "ft11",
];

/// The architectural name of CSR `n` (only called for CSRs that exist).
pub fn csr_name(n: u16) -> String {
    match pltvm_core::isa::csr_name(n as u32) {
        Some(name) => name.to_string(),
        None => format!("csr{n:#x}"),
    }
}

fn target_xml() -> String {
    let mut s = String::from(concat!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n",
        "<architecture>riscv:rv64</architecture>\n<feature name=\"org.gnu.gdb.riscv.cpu\">\n"
    ));
    for (i, name) in X_NAMES.iter().enumerate() {
        let ty = match i {
            1 => "code_ptr",
            2 | 8 => "data_ptr",
            _ => "int",
        };
        let _ = writeln!(s, "<reg name=\"{name}\" bitsize=\"64\" type=\"{ty}\" regnum=\"{i}\"/>");
    }
    let _ = writeln!(s, "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"{PC}\"/>\n</feature>");
    s.push_str("<feature name=\"org.gnu.gdb.riscv.fpu\">\n");
    s.push_str("<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/><field name=\"double\" type=\"ieee_double\"/></union>\n");
    for (i, name) in F_NAMES.iter().enumerate() {
        let _ = writeln!(s, "<reg name=\"{name}\" bitsize=\"64\" type=\"riscv_double\" regnum=\"{}\"/>", FIRST_FP + i);
    }
    for n in 1..=3u16 {
        let _ = writeln!(s, "<reg name=\"{}\" bitsize=\"32\" type=\"int\" regnum=\"{}\"/>", csr_name(n), FIRST_CSR + n as usize);
    }
    s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n");
    for n in (4..0x1000u16).filter(|&n| csr_exists(n)) {
        let _ = writeln!(s, "<reg name=\"{}\" bitsize=\"64\" type=\"int\" regnum=\"{}\"/>", csr_name(n), FIRST_CSR + n as usize);
    }
    s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n");
    let _ = writeln!(s, "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"{PRIV}\"/>");
    s.push_str("</feature>\n</target>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_numbers_round_trip_and_refuse_holes() {
        assert_eq!(Reg::from_raw_id(0).unwrap().0, Reg::X(0));
        assert_eq!(Reg::from_raw_id(32).unwrap().0, Reg::Pc);
        assert_eq!(Reg::from_raw_id(64).unwrap().0, Reg::F(31));
        assert_eq!(Reg::from_raw_id(68).unwrap(), (Reg::Csr(3), NonZeroUsize::new(4)));
        assert_eq!(Reg::from_raw_id(65 + 0x300).unwrap().0, Reg::Csr(0x300));
        assert_eq!(Reg::from_raw_id(PRIV).unwrap().0, Reg::Priv);
        assert!(Reg::from_raw_id(65).is_none(), "CSR 0 does not exist");
        assert!(Reg::from_raw_id(65 + 0x7a5).is_none(), "tcontrol does not exist");
        assert!(Reg::from_raw_id(usize::MAX).is_none());
    }

    #[test]
    fn the_description_names_every_register_once() {
        let xml = Riscv64::target_description_xml().unwrap();
        for f in ["cpu", "fpu", "csr", "virtual"] {
            assert!(xml.contains(&format!("org.gnu.gdb.riscv.{f}")));
        }
        let regs = xml.matches("<reg ").count();
        let csrs = (1..0x1000u16).filter(|&n| csr_exists(n)).count();
        assert_eq!(regs, 33 + 32 + csrs + 1);
        assert!(xml.contains("<reg name=\"mstatus\" bitsize=\"64\" type=\"int\" regnum=\"833\"/>"));
    }

    #[test]
    fn the_g_packet_is_x_then_pc() {
        let mut r = CoreRegs::default();
        r.x[1] = 0x1122;
        r.pc = 0x8000_0000;
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap()));
        assert_eq!(bytes.len(), 33 * 8);
        assert_eq!(&bytes[8..10], &[0x22, 0x11]);
        let mut back = CoreRegs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        assert!(back.gdb_deserialize(&bytes[1..]).is_err());
    }
}
