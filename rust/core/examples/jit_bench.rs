//! MIPS of the interpreter and the compiling tier on user-mode ELFs (benches/build/*.elf),
//! native Rust path (no Python): `cargo run --release -p pltvm-core --example jit_bench --
//! [--engine interp|jit|both] ELF [ARGS...]`. Prints one line per engine: instructions, seconds,
//! MIPS, CPU seconds of the hart's thread, blocks compiled (taken on this thread, and in all,
//! with wall-clock ms per compile and their share of the run; with the background compiler
//! that time is spent on the worker, beside the run), exit. Output of the guest goes to
//! /dev/null. Not a test. `PLTVM_JIT_BACKGROUND=0` compiles on the hart's thread instead.
//! `--cov` (before ELF): with coverage and cmplog on, as a fuzzer runs (docs/jit.md).
//! `--threshold N` (after `--engine`, before `--cov`): compile threshold instead of 200.
use pltvm_core::device::console::Console;
use pltvm_core::jit::Engine;
use pltvm_core::machine::{Exit, Machine};
use pltvm_core::monitor::elf;
use std::time::Instant;

struct Null;
impl Console for Null {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

fn load(bytes: &[u8], argv: &[Vec<u8>]) -> Machine {
    let info = elf::parse(bytes).expect("an ELF64 RISC-V executable");
    let mut m = Machine::user(false);
    m.bus.console = Box::new(Null);
    let mut end = 0;
    for p in info.phdrs.iter().filter(|p| p.p_type == 1) {
        let data = &bytes[p.offset as usize..(p.offset + p.filesz) as usize];
        m.load_segment(p.vaddr, data, p.memsz).expect("segment fits");
        end = end.max(p.vaddr + p.memsz);
    }
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap());
    let phentsize = u16::from_le_bytes(bytes[0x36..0x38].try_into().unwrap()) as u64;
    let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as u64;
    let phdr = info
        .phdrs
        .iter()
        .find(|p| p.p_type == 1 && p.offset <= phoff && phoff < p.offset + p.filesz)
        .map_or(0, |p| p.vaddr + phoff - p.offset);
    let hwcap: u64 = "imafdc".bytes().map(|c| 1u64 << (c - b'a')).sum();
    let auxv = [
        (3, phdr), (4, phentsize), (5, phnum), (6, 4096), (7, 0), (8, 0), (9, info.entry), (11, 0), (12, 0),
        (13, 0), (14, 0), (16, hwcap), (17, 100), (23, 0), (25, 0), (31, 0),
    ];
    m.setup_stack(argv, &[], &auxv).expect("stack fits");
    m.set_brk((end + 0xfff) & !0xfff);
    m.hart.pc = info.entry;
    m
}

/// CPU seconds of the calling thread (the hart's): on a machine with a core to spare for the
/// background compiler, about the wall time, and much less sensitive to other load.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut engines = vec![Engine::Interp, Engine::Jit];
    if args.first().is_some_and(|a| a == "--engine") {
        let e = args.get(1).expect("--engine NAME").clone();
        args.drain(..2);
        if e != "both" {
            engines = vec![Engine::parse(&e).expect("interp, jit or both")];
        }
    }
    if args.first().is_some_and(|a| a == "--threshold") {
        let n: u32 = args.get(1).and_then(|n| n.parse().ok()).expect("--threshold N");
        args.drain(..2);
        // set_threshold alone would make compiles synchronous (for tests): keep the mode.
        let background = pltvm_core::jit::background();
        pltvm_core::jit::set_threshold(n);
        pltvm_core::jit::set_background(background);
    }
    let cov = args.first().is_some_and(|a| a == "--cov");
    if cov {
        args.remove(0);
    }
    let path = args.first().expect("ELF path").clone();
    let bytes = std::fs::read(&path).expect("readable ELF");
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.clone().into_bytes()).collect();
    for e in engines {
        let mut m = load(&bytes, &argv);
        m.hart.engine = e;
        if cov {
            use pltvm_core::hart::cov::{Coverage, EdgeIds, HitMap};
            m.hart.set_coverage(Some(Coverage::with_cmplog(HitMap::new(1 << 16).unwrap(), EdgeIds::new())));
        }
        let before = pltvm_core::jit::compiled_on_this_thread();
        let stats0 = pltvm_core::jit::stats();
        let (t, cpu0) = (Instant::now(), thread_cpu());
        let exit = m.run(u64::MAX);
        let s = t.elapsed().as_secs_f64();
        let cpu = thread_cpu() - cpu0;
        let n = m.hart.retired;
        let compiled = pltvm_core::jit::compiled_on_this_thread() - before;
        let stats = pltvm_core::jit::stats();
        let (blocks, nanos) = (stats.compiled - stats0.compiled, stats.compile_nanos - stats0.compile_nanos);
        let (bg, waited) = (stats.background - stats0.background, stats.waited_insns - stats0.waited_insns);
        let name = std::path::Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
        println!(
            "{name:14} {:6} {n:>13} insns {s:8.3} s {:8.1} MIPS  {cpu:.3} s cpu  compiled {compiled:5} ({blocks} in all, {:.2} ms/block, {:.1}% of the run, {bg} on the worker, {waited} insns waited)  {:?}",
            e.name(),
            n as f64 / s / 1e6,
            if blocks > 0 { nanos as f64 / 1e6 / blocks as f64 } else { 0.0 },
            nanos as f64 / 1e9 / s * 100.0,
            match exit {
                Exit::Exited(c) => format!("exit {c}"),
                other => format!("{other:?}"),
            }
        );
    }
}
