//! The self-checking bare-metal ISA programs (tests/isa/*.S, prebuilt in tests/isa/build), run
//! from Rust as tests/test_isa.py runs them from Python. Having them here too means `cargo test`
//! alone (and so the opt-in mutation run, scripts/mutants.sh) checks the hart's CSRs, traps,
//! delegation, interrupts and Sv39 against the programs' own expectations.
//!
//! Exit code 0 = pass, n = case n failed, 1000 * (1 + cause) + n = unexpected trap in case n.
use pltvm_core::machine::{Exit, Machine};
use pltvm_core::monitor::elf;
use std::path::PathBuf;

fn build_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/isa/build")
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// The value of symbol `name` in the file's `.symtab`.
fn symbol(b: &[u8], name: &str) -> Option<u64> {
    let (shoff, shentsize, shnum) = (u64_at(b, 0x28) as usize, u16_at(b, 0x3a), u16_at(b, 0x3c));
    let sh = |i: usize| shoff + i * shentsize;
    let symtab = (0..shnum).map(sh).find(|&s| u32_at(b, s + 4) == 2)?; // SHT_SYMTAB
    let strtab = sh(u32_at(b, symtab + 0x28) as usize); // sh_link
    let (str_off, sym_off, sym_size) =
        (u64_at(b, strtab + 0x18) as usize, u64_at(b, symtab + 0x18) as usize, u64_at(b, symtab + 0x20) as usize);
    (0..sym_size / 24).map(|i| sym_off + 24 * i).find_map(|s| {
        let start = str_off + u32_at(b, s) as usize;
        let end = start + b[start..].iter().position(|&c| c == 0)?;
        (&b[start..end] == name.as_bytes()).then(|| u64_at(b, s + 8))
    })
}

fn run_program(path: &std::path::Path) -> Result<(), String> {
    let bytes = std::fs::read(path).unwrap();
    let info = elf::parse(&bytes).unwrap();
    let name = path.file_stem().unwrap().to_str().unwrap();
    let mut m = Machine::bare(64 << 20, name.ends_with("-trap"));
    for p in info.phdrs.iter().filter(|p| p.p_type == 1) {
        let data = &bytes[p.offset as usize..(p.offset + p.filesz) as usize];
        m.load_segment(p.vaddr, data, p.memsz).unwrap();
    }
    let tohost = symbol(&bytes, "tohost").ok_or("no tohost symbol")?;
    m.set_htif(tohost, symbol(&bytes, "fromhost"));
    m.hart.pc = info.entry;
    match m.run(50_000_000) {
        Exit::Exited(0) => Ok(()),
        Exit::Exited(code) if code >= 1000 => {
            Err(format!("{name}: unexpected trap, cause {} in case {}", code / 1000 - 1, code % 1000))
        }
        Exit::Exited(code) => Err(format!("{name}: case {code} failed")),
        other => Err(format!("{name}: {other:?} at pc {:#x}", m.hart.pc)),
    }
}

#[test]
fn every_isa_program_passes() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(build_dir())
        .expect("tests/isa/build")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "elf"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 18, "expected the ISA programs, found {}", paths.len());
    let failures: Vec<String> = paths.iter().filter_map(|p| run_program(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
