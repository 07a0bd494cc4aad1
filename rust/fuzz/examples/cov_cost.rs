//! What coverage costs the hart: each user-mode benchmark program (benches/build/*.elf, built by
//! `make -C tests/user`) run to its exit with coverage off, edges on, and edges + cmplog.
//!
//!     cargo run --release -p pltvm-fuzz --example cov_cost [PROGRAM.elf[:ARG] ...]
//!
//! ARG is the program's argv[1] (its size; see benches/run.py).
use pltvm_core::hart::cov::{Coverage, EdgeIds, HitMap};
use pltvm_core::machine::{Exit, Machine};
use std::time::Instant;

fn u16le(b: &[u8], o: usize) -> u64 {
    u16::from_le_bytes([b[o], b[o + 1]]) as u64
}
fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Loads a static ELF64 into a user machine (PT_LOADs, stack, brk, auxv with AT_PHDR).
fn load(elf: &[u8], name: &str, arg: Option<&str>) -> Machine {
    let mut m = Machine::user(false);
    let (entry, phoff, phentsize, phnum) = (u64le(elf, 24), u64le(elf, 32) as usize, u16le(elf, 54) as usize, u16le(elf, 56));
    let mut end = 0;
    let mut phdr = 0;
    for i in 0..phnum as usize {
        let h = phoff + i * phentsize;
        let ty = u32::from_le_bytes(elf[h..h + 4].try_into().unwrap());
        let (off, vaddr, filesz, memsz) = (u64le(elf, h + 8) as usize, u64le(elf, h + 16), u64le(elf, h + 32) as usize, u64le(elf, h + 40));
        if ty == 1 {
            m.load_segment(vaddr, &elf[off..off + filesz], memsz).expect("segment");
            end = end.max(vaddr + memsz);
            if (off..off + filesz).contains(&phoff) {
                phdr = vaddr + (phoff - off) as u64;
            }
        }
    }
    m.set_brk((end + 4095) & !4095);
    let auxv = [(3, phdr), (4, phentsize as u64), (5, phnum), (6, 4096), (9, entry), (16, 0x112d), (17, 100)];
    let mut argv = vec![name.as_bytes().to_vec()];
    argv.extend(arg.map(|a| a.as_bytes().to_vec()));
    m.setup_stack(&argv, &[], &auxv).expect("stack");
    m.hart.pc = entry;
    m
}

fn time(elf: &[u8], name: &str, arg: Option<&str>, mode: u8) -> (f64, u64, usize) {
    let mut m = load(elf, name, arg);
    let ids = EdgeIds::new();
    let hits = HitMap::new(1 << 16).unwrap();
    match mode {
        1 => m.hart.set_coverage(Some(Coverage::new(hits.clone(), ids.clone()))),
        2 => m.hart.set_coverage(Some(Coverage::with_cmplog(hits.clone(), ids.clone()))),
        _ => {}
    }
    let t = Instant::now();
    let exit = m.run(u64::MAX);
    let s = t.elapsed().as_secs_f64();
    assert!(matches!(exit, Exit::Exited(_)), "{name}: {exit:?}");
    (s, m.hart.retired, ids.len())
}

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/build");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        let mut all: Vec<String> = std::fs::read_dir(&dir)
            .expect("benches/build")
            .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
            .filter(|p| p.ends_with(".elf"))
            .collect();
        all.sort();
        args = all;
    }
    println!("{:18} {:>12} {:>9} {:>9} {:>9} {:>8} {:>8} {:>6}", "program", "instructions", "off MIPS", "edge MIPS", "cmp MIPS", "edge %", "cmp %", "edges");
    for p in args {
        let (p, arg) = match p.rsplit_once(':') {
            Some((p, a)) => (p.to_string(), Some(a.to_string())),
            None => (p, None),
        };
        let elf = std::fs::read(&p).expect("read");
        let name = std::path::Path::new(&p).file_name().unwrap().to_string_lossy().to_string();
        // Best of 3 for each mode, interleaved.
        let mut best = [f64::MAX; 3];
        let (mut n, mut edges) = (0, 0);
        for _ in 0..3 {
            for mode in 0..3u8 {
                let (s, retired, e) = time(&elf, &name, arg.as_deref(), mode);
                best[mode as usize] = best[mode as usize].min(s);
                n = retired;
                edges = edges.max(e);
            }
        }
        let mips = |s: f64| n as f64 / s / 1e6;
        println!(
            "{:18} {:>12} {:>9.0} {:>9.0} {:>9.0} {:>7.1}% {:>7.1}% {:>6}",
            name, n, mips(best[0]), mips(best[1]), mips(best[2]),
            (best[1] / best[0] - 1.0) * 100.0, (best[2] / best[0] - 1.0) * 100.0, edges
        );
    }
}
