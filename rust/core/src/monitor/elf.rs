//! The few ELF64 fields the driver's loader reads (§1.3, §1.4), parsed from the raw file bytes,
//! and the file checks every creation path shares (`Monitor::create`, shadow templates and the
//! ahead-of-time `measure::measure_elf` behind `pltvm.measure`): one rule set, so a file is
//! either refused everywhere with the same message or measured the same everywhere.
//!
//! Checks here: ELF64, little-endian, EM_RISCV, ET_EXEC; the program header table, every
//! program header's file part and the section header table inside the file. The loader's own
//! checks (entry, alignment, ranges within the address space) are `enclave::check_elf`.

pub const SHT_NOBITS: u32 = 8;
pub const PF_W: u32 = 2;
const EM_RISCV: u16 = 243;
const ET_EXEC: u16 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shdr {
    pub sh_type: u32,
    pub addr: u64,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub entry: u64,
    pub phdrs: Vec<Phdr>,
    pub shdrs: Vec<Shdr>,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Table entries `[off, off + num * size)` must lie in the file.
fn table(b: &[u8], off: u64, num: u16, size: u16, min: u16, what: &str) -> Result<Vec<usize>, String> {
    if num == 0 {
        return Ok(Vec::new());
    }
    if size < min {
        return Err(format!("{what} entry size {size} is smaller than {min}"));
    }
    let end = off.checked_add(num as u64 * size as u64);
    if !matches!(end, Some(e) if e <= b.len() as u64) {
        return Err(format!("{what} table at {off:#x} ({num} entries) extends past the end of the file"));
    }
    Ok((0..num as usize).map(|i| off as usize + i * size as usize).collect())
}

pub fn parse(b: &[u8]) -> Result<ElfInfo, String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if b[4] != 2 {
        return Err("not a 64-bit ELF file".into());
    }
    if b[5] != 1 {
        return Err("not a little-endian ELF file".into());
    }
    let machine = u16_at(b, 18).unwrap_or(0);
    if machine != EM_RISCV {
        return Err(format!("e_machine is {machine}, not EM_RISCV (243)"));
    }
    let e_type = u16_at(b, 16).unwrap_or(0);
    if e_type != ET_EXEC {
        let name = match e_type {
            1 => "ET_REL".to_string(),
            3 => "ET_DYN".to_string(),
            4 => "ET_CORE".to_string(),
            t => t.to_string(),
        };
        return Err(format!("e_type is {name}, not an executable (ET_EXEC)"));
    }
    let entry = u64_at(b, 24).unwrap_or(0);
    let phoff = u64_at(b, 32).unwrap_or(0);
    let shoff = u64_at(b, 40).unwrap_or(0);
    let (phentsize, phnum) = (u16_at(b, 54).unwrap_or(0), u16_at(b, 56).unwrap_or(0));
    let (shentsize, shnum) = (u16_at(b, 58).unwrap_or(0), u16_at(b, 60).unwrap_or(0));
    let mut phdrs = Vec::new();
    for o in table(b, phoff, phnum, phentsize, 56, "program header")? {
        let p = Phdr {
            p_type: u32_at(b, o).unwrap_or(0),
            flags: u32_at(b, o + 4).unwrap_or(0),
            offset: u64_at(b, o + 8).unwrap_or(0),
            vaddr: u64_at(b, o + 16).unwrap_or(0),
            filesz: u64_at(b, o + 32).unwrap_or(0),
            memsz: u64_at(b, o + 40).unwrap_or(0),
        };
        if !matches!(p.offset.checked_add(p.filesz), Some(e) if e <= b.len() as u64) {
            return Err(format!(
                "program header at {:#x}: file part [{:#x}, +{:#x}) extends past the end of the file",
                p.vaddr, p.offset, p.filesz
            ));
        }
        phdrs.push(p);
    }
    let mut shdrs = Vec::new();
    if shoff != 0 {
        for o in table(b, shoff, shnum, shentsize, 64, "section header")? {
            shdrs.push(Shdr {
                sh_type: u32_at(b, o + 4).unwrap_or(0),
                addr: u64_at(b, o + 16).unwrap_or(0),
                size: u64_at(b, o + 32).unwrap_or(0),
            });
        }
    }
    Ok(ElfInfo { entry, phdrs, shdrs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::test_support::elf;

    #[test]
    fn only_executables() {
        let mut f = elf(&[0x73]);
        assert!(parse(&f).is_ok());
        for (t, name) in [(0u16, "0"), (1, "ET_REL"), (3, "ET_DYN"), (4, "ET_CORE"), (0xFE00, "65024")] {
            f[16..18].copy_from_slice(&t.to_le_bytes());
            assert_eq!(parse(&f), Err(format!("e_type is {name}, not an executable (ET_EXEC)")));
        }
    }
}
