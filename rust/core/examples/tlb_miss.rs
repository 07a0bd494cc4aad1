//! The TLB-miss walk of benches/enclave_bench.py (`mem` / `mem-tlb`) on the native Rust path,
//! for profiling a miss: the same instructions on the user machine (U-mode, no paging) and as
//! an enclave (U-mode under Sv39, the monitor's slice loop).
//!
//! `cargo run --release -p pltvm-core --example tlb_miss -- [ITERATIONS] [PAGES] [SIDE] [ENGINE]`
//! (defaults 1000000, 2048 pages, `both`, `jit`; SIDE is user, enclave or both; ENGINE jit or
//! interp). Prints instructions, seconds and MIPS per side. For host instructions per miss run
//! it under `valgrind --tool=callgrind` (or cachegrind) twice with different ITERATIONS and
//! divide the difference by the extra iterations times two (a load and a store miss each).
//! Not a test.
use pltvm_core::jit::Engine;
use pltvm_core::machine::{Exit, Machine};
use pltvm_core::monitor::consts::{DEFAULT_STACK_SIZE, NORMAL_ENCLAVE};
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::{BufferHost, Config, Entry, Monitor, RunExit, RunRequest};
use std::time::Instant;

const TEXT: u64 = 0x1_0000;
const DATA: u64 = 0x10_0000;
/// One page plus 8 bytes: every access is on the next page (as in the bench).
const STRIDE: i32 = 4096 + 8;

const ZERO: u32 = 0;
const T1: u32 = 6;
const T2: u32 = 7;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const A3: u32 = 13;
const A4: u32 = 14;
const A5: u32 = 15;
const A6: u32 = 16;
const A7: u32 = 17;

fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33
}
fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
fn b(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32 & 0x1fff;
    (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63
}
fn sd(rs2: u32, off: i32, rs1: u32) -> u32 {
    let o = off as u32 & 0xfff;
    ((o >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((o & 0x1f) << 7) | 0x23
}
/// `li rd, value` for a signed 32-bit value (lui + addiw, or addi).
fn li(rd: u32, value: i32) -> Vec<u32> {
    if (-2048..2048).contains(&value) {
        return vec![addi(rd, ZERO, value)];
    }
    let lo = ((value & 0xfff) ^ 0x800) - 0x800;
    let hi = (value.wrapping_sub(lo) as u32 >> 12) & 0xfffff;
    vec![(hi << 12) | (rd << 7) | 0x37, i(lo, rd, 0, rd, 0x1b)]
}

/// The bench's walk: `ld t1; add t1, t1, t2; sd t1; a4 += stride; bltu a4, end, +8;
/// a4 -= size; t2 -= 1; bnez t2` over `[DATA, DATA + size)`.
fn walk(iterations: i32, size: i32) -> Vec<u32> {
    let mut c = li(A1, DATA as i32);
    c.extend(li(A2, size));
    c.push(r(0, A2, A1, 0, A3));
    c.push(addi(A4, A1, 0));
    c.extend(li(A5, STRIDE));
    c.extend(li(T2, iterations));
    c.extend([
        i(0, A4, 3, T1, 0x03),
        r(0, T2, T1, 0, T1),
        sd(T1, 0, A4),
        r(0, A5, A4, 0, A4),
        b(6, A4, A3, 8),
        r(0x20, A2, A4, 0, A4),
        addi(T2, T2, -1),
        b(1, T2, ZERO, -28),
    ]);
    c
}

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// ELF64 with an R+X text segment at TEXT and an R+W data segment of `size` zero bytes at DATA
/// (file-backed, as the bench writes it).
fn elf(text: &[u8], size: usize) -> Vec<u8> {
    let text_off = 0x1000usize;
    let data_off = text_off + ((text.len() + 0xfff) & !0xfff);
    let mut f = vec![0u8; data_off + size];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes());
    f[18..20].copy_from_slice(&243u16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&TEXT.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&2u16.to_le_bytes());
    for (k, (flags, off, va, len)) in [(5u32, text_off, TEXT, text.len()), (6, data_off, DATA, size)].into_iter().enumerate() {
        let ph = 64 + 56 * k;
        f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
        f[ph + 4..ph + 8].copy_from_slice(&flags.to_le_bytes());
        f[ph + 8..ph + 16].copy_from_slice(&(off as u64).to_le_bytes());
        f[ph + 16..ph + 24].copy_from_slice(&va.to_le_bytes());
        f[ph + 24..ph + 32].copy_from_slice(&va.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&(len as u64).to_le_bytes());
        f[ph + 40..ph + 48].copy_from_slice(&(len as u64).to_le_bytes());
        f[ph + 48..ph + 56].copy_from_slice(&4096u64.to_le_bytes());
    }
    f[text_off..text_off + text.len()].copy_from_slice(text);
    f
}

fn user(iterations: i32, size: i32, engine: Engine) -> (u64, f64) {
    let mut prog = walk(iterations, size);
    prog.extend([addi(A0, ZERO, 0), addi(A7, ZERO, 93), 0x73]);
    let text = bytes(&prog);
    let mut m = Machine::user(false);
    m.hart.engine = engine;
    m.load_segment(TEXT, &text, text.len() as u64).expect("text fits");
    m.load_segment(DATA, &vec![0; size as usize], size as u64).expect("data fits");
    m.hart.pc = TEXT;
    let t = Instant::now();
    let exit = m.run(u64::MAX);
    let dt = t.elapsed().as_secs_f64();
    assert!(matches!(exit, Exit::Exited(0)), "{exit:?}");
    (m.hart.retired, dt)
}

fn enclave(iterations: i32, size: i32, engine: Engine) -> (u64, f64) {
    let mut prog = walk(iterations, size);
    // Penglai's exit call, as the bench ends its enclave.
    prog.extend([addi(A0, T1, 0), (0x100 << 12) | (A6 << 7) | 0x37, addi(A6, A6, 0x101), addi(A7, ZERO, 99), 0x73]);
    let image = elf(&bytes(&prog), size as usize);
    let config = Config { engine, ..Config::default() };
    let m = Monitor::new(config);
    let p = CreateParams { name: [0; 16], kind: NORMAL_ENCLAVE, stack_size: DEFAULT_STACK_SIZE, shm: None, persistency: None };
    let c = m.create(&image, &p).expect("enclave");
    let t = Instant::now();
    let out = m.run(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: None }, &mut BufferHost::default());
    let dt = t.elapsed().as_secs_f64();
    assert!(matches!(out.exit, RunExit::Exited { .. }), "{:?}", out.exit);
    (out.instret, dt)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: i32 = args.next().map_or(1_000_000, |a| a.parse().expect("ITERATIONS"));
    let pages: i32 = args.next().map_or(2048, |a| a.parse().expect("PAGES"));
    let side = args.next().unwrap_or_else(|| "both".into());
    let engine = Engine::parse(&args.next().unwrap_or_else(|| "jit".into())).expect("jit or interp");
    let size = pages * 4096;
    let sides: &[(&str, fn(i32, i32, Engine) -> (u64, f64))] = &[("user", user), ("enclave", enclave)];
    for (name, f) in sides {
        if side == "both" || side == *name {
            let (n, s) = f(iterations, size, engine);
            println!("{name:8} {:6} {pages} pages: {n} insns {s:.3} s {:.1} MIPS", engine.name(), n as f64 / s / 1e6);
        }
    }
}
