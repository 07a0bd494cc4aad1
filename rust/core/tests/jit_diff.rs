//! The compiling tier against the interpreter: the same program on two machines, one per
//! engine, must leave identical registers, pc, instruction counts, trap CSRs and memory, at the
//! end and at every budget boundary of a run cut into random pieces (so budgets that end
//! inside compiled blocks are covered at every offset). The compile threshold is 1 here, so
//! a block runs compiled from its second execution on.
use pltvm_core::device::console::Console;
use pltvm_core::hart::csr::num;
use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine, RAM_BASE};
use pltvm_core::monitor::elf;
use std::path::{Path, PathBuf};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct NullConsole;

impl Console for NullConsole {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

#[derive(Debug, PartialEq, Eq)]
struct State {
    x: [u64; 32],
    pc: u64,
    retired: u64,
    csrs: Vec<u64>,
    mem: Vec<u8>,
}

fn state(m: &mut Machine, ranges: &[(u64, usize)]) -> State {
    let csrs = [num::MEPC, num::MCAUSE, num::MTVAL, num::MSTATUS, 0xb00, 0xb02]
        .iter()
        .map(|&c| m.hart.csr_read(c, &m.bus).unwrap_or(u64::MAX))
        .collect();
    let mut mem = Vec::new();
    for &(a, n) in ranges {
        let mut b = vec![0u8; n];
        assert!(m.mem_read(a, &mut b), "{a:#x} is RAM");
        mem.extend(b);
    }
    State { x: m.hart.x, pc: m.hart.pc, retired: m.hart.retired, csrs, mem }
}

fn pair(make: impl Fn(Engine) -> Machine) -> (Machine, Machine) {
    jit::set_threshold(1);
    (make(Engine::Interp), make(Engine::Jit))
}

// --- A small assembler for the generated programs (RV64I/M/A encodings). ---
fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
fn s(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (imm >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1f) << 7 | 0x23
}
fn b(off: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let o = off as u32;
    (o >> 12 & 1) << 31 | (o >> 5 & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (o >> 1 & 0xf) << 8 | (o >> 11 & 1) << 7 | 0x63
}
fn jal(off: i32, rd: u32) -> u32 {
    let o = off as u32;
    (o >> 20 & 1) << 31 | (o >> 1 & 0x3ff) << 21 | (o >> 11 & 1) << 20 | (o >> 12 & 0xff) << 12 | rd << 7 | 0x6f
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x73
}
fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | 1 << 12 | rd << 7 | 0x73
}
const MRET: u32 = 0x3020_0073;
const SPIN: u32 = 0x0000_006f; // jal x0, 0

const CODE: u64 = RAM_BASE;
const HANDLER: u64 = RAM_BASE + 0x3000;
const DATA: u64 = RAM_BASE + 0x8000;
const DATA_REG: u32 = 20;
const COUNT_REG: u32 = 21;
const RAM: u64 = 0x10000;

/// One random instruction of the loop body at word `k` of `n`, writing only x1..x19.
fn random_insn(rng: &mut Rng, k: usize, n: usize) -> u32 {
    let rd = 1 + rng.below(19) as u32;
    let rs1 = rng.below(21) as u32;
    let rs2 = rng.below(21) as u32;
    let imm = (rng.next() as i32) >> 20;
    match rng.below(100) {
        0..=24 => {
            // RV64I register ops and M: (funct7, funct3) pairs.
            const OPS: [(u32, u32); 18] = [
                (0, 0), (0x20, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0x20, 5), (0, 6), (0, 7),
                (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7),
            ];
            let (f7, f3) = OPS[rng.below(18) as usize];
            r(f7, rs2, rs1, f3, rd, 0x33)
        }
        25..=34 => {
            const OPS: [(u32, u32); 10] = [(0, 0), (0x20, 0), (0, 1), (0, 5), (0x20, 5), (1, 0), (1, 4), (1, 5), (1, 6), (1, 7)];
            let (f7, f3) = OPS[rng.below(10) as usize];
            r(f7, rs2, rs1, f3, rd, 0x3b)
        }
        35..=49 => {
            let f3 = [0, 2, 3, 4, 6, 7][rng.below(6) as usize];
            i(imm, rs1, f3, rd, 0x13)
        }
        50..=54 => {
            let sh = rng.below(64) as i32;
            match rng.below(3) {
                0 => i(sh, rs1, 1, rd, 0x13),
                1 => i(sh, rs1, 5, rd, 0x13),
                _ => i(sh | 0x400, rs1, 5, rd, 0x13),
            }
        }
        55..=59 => {
            let sh = rng.below(32) as i32;
            match rng.below(4) {
                0 => i(imm, rs1, 0, rd, 0x1b),
                1 => i(sh, rs1, 1, rd, 0x1b),
                2 => i(sh, rs1, 5, rd, 0x1b),
                _ => i(sh | 0x400, rs1, 5, rd, 0x1b),
            }
        }
        60..=61 => (rng.next() as u32 & 0xffff_f000) | rd << 7 | if rng.below(2) == 0 { 0x37 } else { 0x17 },
        62..=75 => {
            // Loads: mostly from the data page, sometimes misaligned, sometimes from any
            // register (a fault, which the handler skips).
            let f3 = [0, 1, 2, 3, 4, 5, 6][rng.below(7) as usize];
            let base = if rng.below(10) == 0 { rs1 } else { DATA_REG };
            let off = if rng.below(8) == 0 { rng.below(2048) as i32 } else { (rng.below(256) * 8) as i32 };
            i(off, base, f3, rd, 0x03)
        }
        76..=87 => {
            let f3 = rng.below(4) as u32;
            let base = if rng.below(12) == 0 { rs1 } else { DATA_REG };
            let off = if rng.below(8) == 0 { rng.below(2048) as i32 } else { (rng.below(256) * 8) as i32 };
            s(off, rs2, base, f3)
        }
        88..=93 if k + 4 < n => {
            // A forward branch over 1-3 instructions.
            let f3 = [0, 1, 4, 5, 6, 7][rng.below(6) as usize];
            b(4 * (2 + rng.below(3) as i32), rs2, rs1, f3)
        }
        94..=95 => csrrs(rd, [0xb00, 0xb02, 0x340][rng.below(3) as usize], 0),
        96..=97 => {
            // amoadd.d / amoswap.w on the data page (through the interpreter's handler).
            if rng.below(2) == 0 { r(0, rs2, DATA_REG, 3, rd, 0x2f) } else { r(1 << 2, rs2, DATA_REG, 2, rd, 0x2f) }
        }
        _ => addi(rd, rs1, imm),
    }
}

/// A loop of random instructions, run `iters` times, then a spin. Traps skip the instruction.
fn random_program(rng: &mut Rng) -> (Vec<u32>, [u64; 32]) {
    let n = 8 + rng.below(56) as usize;
    let iters = 1 + rng.below(40) as i32;
    let mut code = vec![addi(COUNT_REG, 0, iters)];
    let body = code.len();
    for k in 0..n {
        code.push(random_insn(rng, k, n));
    }
    code.push(addi(COUNT_REG, COUNT_REG, -1));
    let here = code.len();
    code.push(b(-4 * (here - body) as i32, 0, COUNT_REG, 1));
    code.push(SPIN);
    let mut x = [0u64; 32];
    for (k, v) in x.iter_mut().enumerate().skip(1) {
        *v = match rng.below(4) {
            0 => rng.next(),
            1 => rng.below(64),
            2 => (rng.next() as i64 >> rng.below(64)) as u64,
            _ => DATA + rng.below(4096),
        };
        if k as u32 == DATA_REG {
            *v = DATA;
        }
    }
    (code, x)
}

fn bare_machine(engine: Engine, code: &[u32], x: [u64; 32]) -> Machine {
    let mut m = Machine::bare(RAM, false);
    m.hart.engine = engine;
    m.bus.console = Box::new(NullConsole);
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
    // Handler: mepc += 4, return (x31 is the handler's).
    let handler: Vec<u8> = [csrrs(31, 0x341, 0), addi(31, 31, 4), csrrw(0, 0x341, 31), MRET]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    m.load_segment(HANDLER, &handler, handler.len() as u64).unwrap();
    let data: Vec<u8> = (0..4096u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    m.load_segment(DATA, &data, 4096).unwrap();
    m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
    m.hart.x = x;
    m.hart.pc = CODE;
    m
}

const RANGES: [(u64, usize); 2] = [(CODE, 0x1000), (DATA, 0x1000)];

/// Runs both machines in the same random pieces, comparing after each; returns the steps run.
fn lockstep(a: &mut Machine, j: &mut Machine, rng: &mut Rng, total: u64, what: &str) {
    let mut done = 0;
    while done < total {
        let piece = 1 + rng.below(48);
        let ea = a.run(piece);
        let ej = j.run(piece);
        assert_eq!(ea, ej, "{what}: exit after {done}+{piece}");
        let (sa, sj) = (state(a, &RANGES), state(j, &RANGES));
        assert_eq!(sa, sj, "{what}: state after {done}+{piece} steps");
        if ea != Exit::Budget {
            return;
        }
        done += piece;
    }
}

#[test]
fn random_loops_match_the_interpreter_at_every_budget_boundary() {
    let before = jit::compiled_on_this_thread();
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (code, x) = random_program(&mut rng);
        let (mut a, mut j) = pair(|e| bare_machine(e, &code, x));
        lockstep(&mut a, &mut j, &mut rng, 3000, &format!("seed {seed} (pieces)"));
        // The same program in one run: blocks run compiled end to end.
        let (mut a, mut j) = pair(|e| bare_machine(e, &code, x));
        assert_eq!(a.run(5000), j.run(5000), "seed {seed}");
        assert_eq!(state(&mut a, &RANGES), state(&mut j, &RANGES), "seed {seed} (one run)");
    }
    let compiled = jit::compiled_on_this_thread() - before;
    assert!(!Engine::jit_supported() || compiled > 1000, "only {compiled} blocks compiled: the test tests nothing");
}

#[test]
fn code_written_by_a_compiled_store_runs_as_written() {
    // x8 = address of the `addi x5, x5, 1` at word 1; at x6 == 50 the loop overwrites it
    // with `addi x5, x5, 2` (x7). 50 iterations add 1, the other 50 add 2.
    let code = [
        addi(6, 0, 100),
        addi(5, 5, 1),
        addi(6, 6, -1),
        b(8, 9, 6, 1),
        s(0, 7, 8, 2),
        b(-16, 0, 6, 1),
        SPIN,
    ];
    let mut x = [0u64; 32];
    x[7] = addi(5, 5, 2) as u64;
    x[8] = CODE + 4;
    x[9] = 50;
    let (mut a, mut j) = pair(|e| bare_machine(e, &code, x));
    let before = jit::compiled_on_this_thread();
    assert_eq!(a.run(2000), j.run(2000));
    assert!(!Engine::jit_supported() || jit::compiled_on_this_thread() > before, "nothing ran compiled");
    assert_eq!(state(&mut a, &RANGES), state(&mut j, &RANGES));
    assert_eq!(j.hart.x[5], 150);

    // The store patches the very next instruction of its own block: it takes effect at once.
    let code = [addi(6, 0, 10), s(8, 7, 8, 2), addi(5, 5, 1), addi(6, 6, -1), b(-12, 0, 6, 1), SPIN];
    let mut x = [0u64; 32];
    x[7] = addi(5, 5, 3) as u64;
    x[8] = CODE;
    let (mut a, mut j) = pair(|e| bare_machine(e, &code, x));
    assert_eq!(a.run(2000), j.run(2000));
    assert_eq!(state(&mut a, &RANGES), state(&mut j, &RANGES));
    assert_eq!(j.hart.x[5], 30);
}

#[test]
fn a_fault_in_the_middle_of_a_compiled_block_is_precise() {
    // Each iteration writes x5, x6, then loads through x10, which walks a page further each
    // time until it leaves RAM; the handler spins. The load's own pc, its address, and the
    // writes of the two instructions before it (but not the one after) must be visible.
    let code = [
        addi(5, 5, 1),
        addi(6, 5, 100),
        i(0, 10, 3, 11, 0x03), // ld x11, 0(x10)
        addi(12, 12, 1),
        addi(13, 13, 1),
        r(0, 14, 10, 0, 10, 0x33), // add x10, x10, x14
        jal(-24, 0),
    ];
    let mut x = [0u64; 32];
    x[10] = RAM_BASE;
    x[14] = 0x1000;
    // 256 iterations: the loop's blocks (64 instructions, following the jal) repeat.
    const RAM: u64 = 1 << 20;
    for engine in [Engine::Interp, Engine::Jit] {
        jit::set_threshold(1);
        let before = jit::compiled_on_this_thread();
        let mut m = Machine::bare(RAM, false);
        m.hart.engine = engine;
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
        m.load_segment(HANDLER, &SPIN.to_le_bytes(), 4).unwrap();
        m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
        m.hart.x = x;
        m.hart.pc = CODE;
        assert_eq!(m.run(10_000), Exit::Budget);
        let iters = RAM / 0x1000;
        assert_eq!(m.hart.csr_read(num::MCAUSE, &m.bus).unwrap(), 5, "{engine:?}: load access fault");
        assert_eq!(m.hart.csr_read(num::MEPC, &m.bus).unwrap(), CODE + 8, "{engine:?}");
        assert_eq!(m.hart.csr_read(num::MTVAL, &m.bus).unwrap(), RAM_BASE + RAM, "{engine:?}");
        assert_eq!((m.hart.x[5], m.hart.x[6]), (iters + 1, iters + 101), "{engine:?}");
        assert_eq!((m.hart.x[12], m.hart.x[13]), (iters, iters), "{engine:?}");
        // 7 instructions per iteration, then the two before the load; the rest is the spin.
        assert_eq!(m.hart.retired, 10_000 - 1, "{engine:?}: one step was the trap");
        assert_eq!(m.hart.x[10], RAM_BASE + RAM);
        let compiled = jit::compiled_on_this_thread() - before;
        assert_eq!(compiled > 0, engine == Engine::Jit && Engine::jit_supported(), "{engine:?}: {compiled} compiled");
    }
}

#[test]
fn random_user_programs_fault_identically() {
    let before = jit::compiled_on_this_thread();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
        let (code, x) = random_program(&mut rng);
        let make = |e: Engine| {
            let mut m = Machine::user(seed % 2 == 0);
            m.hart.engine = e;
            m.bus.console = Box::new(NullConsole);
            let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
            m.load_segment(0x10000, &bytes, 0x1000).unwrap();
            let data: Vec<u8> = (0..4096u32).map(|k| k as u8).collect();
            m.load_segment(0x20000, &data, 0x1000).unwrap();
            let mut x = x;
            for v in x.iter_mut() {
                if *v & !0xfff == DATA {
                    *v = 0x20000 + (*v & 0xfff);
                }
            }
            m.hart.x = x;
            m.hart.pc = 0x10000;
            m
        };
        let (mut a, mut j) = pair(make);
        let ranges = [(0x10000, 0x1000), (0x20000, 0x1000)];
        let mut done = 0;
        while done < 3000 {
            let piece = 1 + rng.below(64);
            let (ea, ej) = (a.run(piece), j.run(piece));
            assert_eq!(ea, ej, "seed {seed} after {done}+{piece}");
            let (sa, sj) = (state(&mut a, &ranges), state(&mut j, &ranges));
            assert_eq!((sa.x, sa.pc, sa.retired, sa.mem), (sj.x, sj.pc, sj.retired, sj.mem), "seed {seed} after {done}");
            if ea != Exit::Budget {
                break;
            }
            done += piece;
        }
    }
    let compiled = jit::compiled_on_this_thread() - before;
    assert!(!Engine::jit_supported() || compiled > 500, "only {compiled} blocks compiled");
}

// --- The self-checking ISA programs and riscv-tests, under both engines. ---

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn symbol(b: &[u8], name: &str) -> Option<u64> {
    let (shoff, shentsize, shnum) = (u64_at(b, 0x28) as usize, u16_at(b, 0x3a), u16_at(b, 0x3c));
    let sh = |i: usize| shoff + i * shentsize;
    let symtab = (0..shnum).map(sh).find(|&s| u32_at(b, s + 4) == 2)?;
    let strtab = sh(u32_at(b, symtab + 0x28) as usize);
    let (str_off, sym_off, sym_size) =
        (u64_at(b, strtab + 0x18) as usize, u64_at(b, symtab + 0x18) as usize, u64_at(b, symtab + 0x20) as usize);
    (0..sym_size / 24).map(|i| sym_off + 24 * i).find_map(|s| {
        let start = str_off + u32_at(b, s) as usize;
        let end = start + b[start..].iter().position(|&c| c == 0)?;
        (&b[start..end] == name.as_bytes()).then(|| u64_at(b, s + 8))
    })
}

fn elf_machine(path: &Path, engine: Engine) -> Machine {
    let bytes = std::fs::read(path).unwrap();
    let info = elf::parse(&bytes).unwrap();
    let name = path.file_stem().unwrap().to_str().unwrap();
    let mut m = Machine::bare(64 << 20, name.ends_with("-trap"));
    m.hart.engine = engine;
    m.bus.console = Box::new(NullConsole);
    for p in info.phdrs.iter().filter(|p| p.p_type == 1) {
        let data = &bytes[p.offset as usize..(p.offset + p.filesz) as usize];
        m.load_segment(p.vaddr, data, p.memsz).unwrap();
    }
    m.set_htif(symbol(&bytes, "tohost").expect("tohost"), symbol(&bytes, "fromhost"));
    m.hart.pc = info.entry;
    m
}

fn elfs(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "elf"))
        .collect();
    v.sort();
    v
}

#[test]
fn isa_programs_and_riscv_tests_pass_and_match_under_the_jit() {
    let mut paths = elfs("../../tests/isa/build");
    assert!(paths.len() >= 19, "found only {} of our ISA programs", paths.len());
    // riscv-tests are third-party and not in the repository: built from a checkout with
    // tests/riscv-tests/build.sh, their directory is named by PLTVM_RISCV_TESTS_DIR.
    if let Some(dir) = std::env::var_os("PLTVM_RISCV_TESTS_DIR") {
        paths.extend(elfs(&dir.to_string_lossy()));
    }
    let mut rng = Rng(77);
    for p in &paths {
        let (mut a, mut j) = pair(|e| elf_machine(p, e));
        let (ea, ej) = (a.run(50_000_000), j.run(50_000_000));
        assert_eq!(ej, Exit::Exited(0), "{} under the jit", p.display());
        assert_eq!(ea, ej, "{}", p.display());
        assert_eq!((a.hart.x, a.hart.pc, a.hart.retired), (j.hart.x, j.hart.pc, j.hart.retired), "{}", p.display());
        // And cut into random pieces, compared at every cut.
        let (mut a, mut j) = pair(|e| elf_machine(p, e));
        loop {
            let piece = 1 + rng.below(300);
            let (ea, ej) = (a.run(piece), j.run(piece));
            assert_eq!(ea, ej, "{} at {}", p.display(), a.hart.retired);
            assert_eq!((a.hart.x, a.hart.pc, a.hart.retired), (j.hart.x, j.hart.pc, j.hart.retired), "{}", p.display());
            if ea != Exit::Budget {
                break;
            }
        }
    }
}
