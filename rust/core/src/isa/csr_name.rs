//! The architectural names of CSRs, as GNU objdump prints them and gdb's RISC-V target
//! description uses them (the disassembler and pltvm-gdb share this one table).

use core::fmt;

/// A CSR's name: fixed, or a numbered family member such as `pmpaddr3` (no allocation, so the
/// disassembler can print it directly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrName {
    Fixed(&'static str),
    Numbered(&'static str, u32),
}

impl fmt::Display for CsrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CsrName::Fixed(s) => f.write_str(s),
            CsrName::Numbered(family, i) => write!(f, "{family}{i}"),
        }
    }
}

/// The name of CSR `csr` (a 12-bit number), or None for numbers without one here.
pub fn csr_name(csr: u32) -> Option<CsrName> {
    let fixed = match csr {
        0x001 => "fflags",
        0x002 => "frm",
        0x003 => "fcsr",
        0xc00 => "cycle",
        0xc01 => "time",
        0xc02 => "instret",
        0x100 => "sstatus",
        0x104 => "sie",
        0x105 => "stvec",
        0x106 => "scounteren",
        0x10a => "senvcfg",
        0x140 => "sscratch",
        0x141 => "sepc",
        0x142 => "scause",
        0x143 => "stval",
        0x144 => "sip",
        0x180 => "satp",
        0xf11 => "mvendorid",
        0xf12 => "marchid",
        0xf13 => "mimpid",
        0xf14 => "mhartid",
        0xf15 => "mconfigptr",
        0x300 => "mstatus",
        0x301 => "misa",
        0x302 => "medeleg",
        0x303 => "mideleg",
        0x304 => "mie",
        0x305 => "mtvec",
        0x306 => "mcounteren",
        0x30a => "menvcfg",
        0x320 => "mcountinhibit",
        0x340 => "mscratch",
        0x341 => "mepc",
        0x342 => "mcause",
        0x343 => "mtval",
        0x344 => "mip",
        0x34a => "mtinst",
        0x34b => "mtval2",
        0x747 => "mseccfg",
        0xb00 => "mcycle",
        0xb02 => "minstret",
        0x7a0 => "tselect",
        0x7a1 => "tdata1",
        0x7a2 => "tdata2",
        0x7a3 => "tdata3",
        0x7a4 => "tinfo",
        0x7b0 => "dcsr",
        0x7b1 => "dpc",
        0x7b2 => "dscratch0",
        0x7b3 => "dscratch1",
        // Numbered families.
        0xc03..=0xc1f => return Some(CsrName::Numbered("hpmcounter", csr - 0xc00)),
        0xb03..=0xb1f => return Some(CsrName::Numbered("mhpmcounter", csr - 0xb00)),
        0x323..=0x33f => return Some(CsrName::Numbered("mhpmevent", csr - 0x320)),
        // RV64: only the even pmpcfg registers exist, but objdump names all of them.
        0x3a0..=0x3af => return Some(CsrName::Numbered("pmpcfg", csr - 0x3a0)),
        0x3b0..=0x3ef => return Some(CsrName::Numbered("pmpaddr", csr - 0x3b0)),
        _ => return None,
    };
    Some(CsrName::Fixed(fixed))
}
