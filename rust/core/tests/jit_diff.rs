//! The compiling tier against the interpreter: the same program on two machines, one per
//! engine, must leave identical registers, pc, instruction counts, trap CSRs and memory, at the
//! end and at every budget boundary of a run cut into random pieces (so budgets that end
//! inside compiled blocks are covered at every offset). The compile threshold is 1 here, so
//! a block runs compiled from its second execution on.
use pltvm_core::hart::csr::num;
use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine, RAM_BASE};
use pltvm_core::monitor::elf;
use std::path::{Path, PathBuf};

mod support;
use support::bare::*;
use support::rng::Rng;

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
fn jal(off: i32, rd: u32) -> u32 {
    let o = off as u32;
    (o >> 20 & 1) << 31 | (o >> 1 & 0x3ff) << 21 | (o >> 11 & 1) << 20 | (o >> 12 & 0xff) << 12 | rd << 7 | 0x6f
}

const DATA_REG: u32 = 20;
const COUNT_REG: u32 = 21;

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

// --- Regions: several blocks of one page compiled as one function (jit/region.rs). ---

const LINK_REG: u32 = 23;
const INNER_REG: u32 = 22;
const SMC_ADDR: u32 = 24;
const SMC_WORD: u32 = 25;

fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x67)
}

/// `n` random loop-body instructions (forward branches within them split them into blocks).
fn random_run(rng: &mut Rng, code: &mut Vec<u32>, at_least: u64, more: u64) {
    let n = (at_least + rng.below(more)) as usize;
    for k in 0..n {
        code.push(random_insn(rng, k, n));
    }
}

/// Nested loops, a jump over dead code, a call (sometimes two or three) and return, and
/// (sometimes) a store that rewrites one of the program's own instructions once per outer
/// round: branches between
/// blocks of one page, loops spanning several blocks, exits by `jalr`. Returns the code and the
/// registers; the code's address is `origin` (0x1000-aligned pages, the program may cross
/// one).
fn random_region_program(rng: &mut Rng, origin: u64) -> (Vec<u32>, [u64; 32]) {
    let mut c = vec![addi(COUNT_REG, 0, 1 + rng.below(12) as i32)];
    let outer = c.len();
    random_run(rng, &mut c, 1, 10);
    c.push(addi(INNER_REG, 0, 1 + rng.below(8) as i32));
    let inner = c.len();
    random_run(rng, &mut c, 1, 16);
    c.push(addi(INNER_REG, INNER_REG, -1));
    c.push(b(-4 * (c.len() - inner) as i32, 0, INNER_REG, 1));
    random_run(rng, &mut c, 0, 8);
    // Sometimes a second and a third call of the function, so that its return has several
    // return points in the region to choose between (`translate`'s `jalr`), more than a block
    // keeps links for (the chaining loop then finds the next block itself, `Hart::relink`).
    let calls: Vec<usize> = (0..rng.below(3))
        .map(|_| {
            c.push(0); // jal LINK_REG, func (patched below)
            c.len() - 1
        })
        .collect();
    let smc = rng.below(3) == 0;
    if smc {
        c.push(s(0, SMC_WORD, SMC_ADDR, 2));
    }
    let dead = 1 + rng.below(4) as i32;
    c.push(jal(4 * (dead + 1), 0));
    c.extend((0..dead).map(|_| addi(5, 5, 99)));
    let call = c.len();
    c.push(0); // jal LINK_REG, func (patched below)
    c.push(addi(COUNT_REG, COUNT_REG, -1));
    c.push(b(-4 * (c.len() - outer) as i32, 0, COUNT_REG, 1));
    c.push(SPIN);
    let func = c.len();
    random_run(rng, &mut c, 1, 12);
    c.push(jalr(0, LINK_REG, 0));
    c[call] = jal(4 * (func - call) as i32, LINK_REG);
    for &k in &calls {
        c[k] = jal(4 * (func - k) as i32, LINK_REG);
    }
    let (_, mut x) = random_program(rng);
    // The rewritten instruction is one of the random ones (never a branch target's address
    // arithmetic: the program's structure stays) and its new form writes x1..x19 only.
    let victim = loop {
        let k = rng.below(c.len() as u64) as usize;
        let control = matches!(c[k] & 0x7f, 0x63 | 0x6f | 0x67);
        if !control && k != 0 && k != call && !calls.contains(&k) {
            if c[k] >> 7 & 31 != COUNT_REG && c[k] >> 7 & 31 != INNER_REG {
                break k;
            }
        }
    };
    x[SMC_ADDR as usize] = origin + 4 * victim as u64;
    x[SMC_WORD as usize] = addi(1 + rng.below(19) as u32, rng.below(21) as u32, (rng.next() as i32) >> 20) as u64;
    x[LINK_REG as usize] = 0;
    x[INNER_REG as usize] = 0;
    (c, x)
}

fn region_machine(engine: Engine, origin: u64, code: &[u32], x: [u64; 32]) -> Machine {
    let mut m = bare_machine(engine, &[SPIN], x);
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(origin, &bytes, bytes.len() as u64).unwrap();
    m.hart.pc = origin;
    m
}

/// Code and data pages of the region programs.
const REGION_RANGES: [(u64, usize); 2] = [(CODE, 0x3000), (DATA, 0x1000)];

fn region_lockstep(a: &mut Machine, j: &mut Machine, rng: &mut Rng, total: u64, max_piece: u64, what: &str) {
    let mut done = 0;
    while done < total {
        let piece = 1 + rng.below(max_piece);
        let (ea, ej) = (a.run(piece), j.run(piece));
        assert_eq!(ea, ej, "{what}: exit after {done}+{piece}");
        assert_eq!(state(a, &REGION_RANGES), state(j, &REGION_RANGES), "{what}: state after {done}+{piece} steps");
        if ea != Exit::Budget {
            return;
        }
        done += piece;
    }
}

#[test]
fn random_region_programs_match_the_interpreter_at_every_budget_boundary() {
    let (before, joined) = (jit::compiled_on_this_thread(), jit::joined_on_this_thread());
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x94d0_49bb_1331_11eb) | 1);
        // Half the programs start near the end of a page and run on into the next one.
        let origin = if seed % 2 == 0 { CODE } else { CODE + 0x1000 - 4 * rng.below(100) };
        let (code, x) = random_region_program(&mut rng, origin);
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        region_lockstep(&mut a, &mut j, &mut rng, 4000, 64, &format!("seed {seed} (pieces)"));
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        assert_eq!(a.run(20_000), j.run(20_000), "seed {seed}");
        assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "seed {seed} (one run)");
    }
    let compiled = jit::compiled_on_this_thread() - before;
    let joined = jit::joined_on_this_thread() - joined;
    assert!(!Engine::jit_supported() || (compiled > 1000 && joined > 1000), "{compiled} regions, {joined} joined blocks");
}

#[test]
fn a_fault_in_a_later_block_of_a_region_is_precise() {
    // The third block's load walks a page further each round until it leaves RAM; the handler
    // spins. The trap must name the load, count the instructions before it, and keep exactly
    // the register writes before it (x12 not yet incremented in the faulting round).
    const RAM: u64 = 1 << 20;
    let code = three_block_loop(true);
    let mut x = [0u64; 32];
    x[10] = RAM_BASE + 0x4000;
    x[14] = 0x1000;
    let iters = (RAM - 0x4000) / 0x1000;
    for engine in [Engine::Interp, Engine::Jit] {
        jit::set_threshold(1);
        let (before, joined) = (jit::compiled_on_this_thread(), jit::joined_on_this_thread());
        let mut m = Machine::bare(RAM, false);
        m.hart.engine = engine;
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
        // The handler reads minstret (the count at the trap) into x31, then spins.
        let handler: Vec<u8> = [csrrs(31, 0xb02, 0), SPIN].iter().flat_map(|w| w.to_le_bytes()).collect();
        m.load_segment(HANDLER, &handler, 8).unwrap();
        m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
        m.hart.x = x;
        m.hart.pc = CODE;
        assert_eq!(m.run(10_000), Exit::Budget);
        assert_eq!(m.hart.csr_read(num::MCAUSE, &m.bus).unwrap(), 5, "{engine:?}: load access fault");
        assert_eq!(m.hart.csr_read(num::MEPC, &m.bus).unwrap(), CODE + 28, "{engine:?}");
        // 9 instructions per completed round, then 5 before the faulting load.
        assert_eq!(m.hart.x[31], 9 * iters + 5, "{engine:?}: instructions retired before the trap");
        assert_eq!(m.hart.csr_read(num::MTVAL, &m.bus).unwrap(), RAM_BASE + RAM, "{engine:?}");
        let rounds = iters + 1;
        assert_eq!((m.hart.x[5], m.hart.x[6]), (rounds, 2 * rounds + 100), "{engine:?}");
        assert_eq!((m.hart.x[7], m.hart.x[12]), (0, iters), "{engine:?}");
        // Then the trap (one step), the handler and the spin.
        assert_eq!(m.hart.csr_read(0xb02, &m.bus).unwrap(), 10_000 - 1, "{engine:?}");
        assert_eq!(m.hart.retired, 10_000 - 1, "{engine:?}: one step was the trap");
        let (compiled, joined) = (jit::compiled_on_this_thread() - before, jit::joined_on_this_thread() - joined);
        let jit = engine == Engine::Jit && Engine::jit_supported();
        assert_eq!((compiled > 0, joined >= 2), (jit, jit), "{engine:?}: {compiled} compiled, {joined} joined");
    }
}

#[test]
fn budgets_ending_inside_a_region_stop_at_the_interpreters_instruction() {
    // Every budget from 1 to 120 on a fresh pair, then the rest in pieces of every size:
    // the region must leave at each block whose whole length no longer fits.
    let code = three_block_loop(false);
    let mut x = [0u64; 32];
    x[14] = 3;
    let joined = jit::joined_on_this_thread();
    for budget in 1..=120 {
        let (mut a, mut j) = pair(|e| region_machine(e, CODE, &code, x));
        // Warm up (compiles the region at threshold 1), then the budget under test.
        assert_eq!(a.run(40), j.run(40));
        assert_eq!((a.run(budget), a.hart.retired), (j.run(budget), j.hart.retired), "budget {budget}");
        assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "budget {budget}");
        for piece in 1..=12 {
            assert_eq!(a.run(piece), j.run(piece));
            assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "budget {budget} then {piece}");
        }
    }
    assert!(!Engine::jit_supported() || jit::joined_on_this_thread() - joined >= 2, "no region formed");
}

#[test]
fn a_store_into_the_regions_own_page_takes_effect_at_the_next_block() {
    // The third block stores every round, to the data page, except when x5 reaches 50: then
    // (address computed without a branch, so the same compiled block does it) it rewrites the
    // second block's `add x6, x6, x5` into `addi x6, x6, 7`, by `sw` (which ends its block)
    // or by `amoswap.w` in the middle of the block (the block runs to its end, then the run
    // loop stops). Either way the page's blocks are dropped and the region must not run its
    // stale copy of the second block afterwards.
    let sw = s(0, 8, 9, 2); // sw x8, 0(x9)
    let amoswap = r(1 << 2, 8, 9, 2, 0, 0x2f); // amoswap.w x0, x8, (x9)
    for store in [sw, amoswap] {
        let mut code = three_block_loop(false);
        let at50 = [
            r(0, 13, 5, 4, 15, 0x33), // xor x15, x5, x13
            i(1, 15, 3, 15, 0x13),    // sltiu x15, x15, 1: x5 == 50
            r(1, 17, 15, 0, 16, 0x33), // mul x16, x15, x17
            r(0, 16, 20, 0, 9, 0x33), // add x9, x20, x16: DATA, or the code word at x5 == 50
            store,
        ];
        code.splice(7..8, at50);
        // The loop-closing branch moved further from the start.
        let last = code.len() - 1;
        code[last] = b(-4 * last as i32, 0, 0, 0);
        let mut x = [0u64; 32];
        x[8] = addi(6, 6, 7) as u64;
        x[13] = 50;
        x[17] = (CODE + 16).wrapping_sub(DATA);
        x[DATA_REG as usize] = DATA;
        let (mut a, mut j) = pair(|e| region_machine(e, CODE, &code, x));
        let (before, joined) = (jit::compiled_on_this_thread(), jit::joined_on_this_thread());
        assert_eq!(a.run(2000), j.run(2000));
        assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "{store:#x}");
        assert!(a.hart.x[5] > 60, "the loop ran past the rewrite");
        assert_eq!(a.hart.x[6], a.hart.x[5] + 107, "the rewritten instruction ran");
        let jit = Engine::jit_supported();
        assert!(!jit || (jit::compiled_on_this_thread() > before && jit::joined_on_this_thread() > joined));
        // The same in random pieces.
        let mut rng = Rng(5);
        let (mut a, mut j) = pair(|e| region_machine(e, CODE, &code, x));
        region_lockstep(&mut a, &mut j, &mut rng, 2000, 16, &format!("{store:#x} in pieces"));
    }
}

#[test]
fn a_block_in_the_next_page_rewritten_there_runs_its_new_code() {
    // The loop's first two blocks end the page at 0x1000; its third block starts the next page
    // and is rewritten there (a store through x9 when x5 == 30). The third block joins the
    // region as a foreign member; the rewrite drops only the second page, so the region must
    // stop entering its stale code (ctx.xok) and run the new instructions. The program starts
    // at the first page's offset 0 with a jal to the loop, so a former that wrapped the third
    // block's offset into the first page would find that block there.
    let mut code = three_block_loop(false);
    let origin = CODE + 0x1000 - 7 * 4; // the third block at CODE + 0x1000
    code[1] = b(8, 13, 5, 1); // bne x5, x13, +8: skip the store unless x5 == 30
    code[2] = s(0, 8, 9, 2); // sw x8, 0(x9): x9 = the third block's `addi x11, x11, 1`
    let mut x = [0u64; 32];
    x[8] = addi(11, 11, 5) as u64;
    x[9] = CODE + 0x1000;
    x[13] = 30;
    let make = |e: Engine| {
        let mut m = region_machine(e, origin, &code, x);
        m.load_segment(CODE, &jal((origin - CODE) as i32, 0).to_le_bytes(), 4).unwrap();
        m.hart.pc = CODE;
        m
    };
    let joined = jit::joined_on_this_thread();
    let (mut a, mut j) = pair(make);
    assert_eq!(a.run(1000), j.run(1000));
    assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES));
    assert!(a.hart.x[11] > 200, "the rewritten block ran ({})", a.hart.x[11]);
    assert!(!Engine::jit_supported() || jit::joined_on_this_thread() > joined, "no region formed");
    let mut rng = Rng(9);
    let (mut a, mut j) = pair(make);
    region_lockstep(&mut a, &mut j, &mut rng, 1000, 16, "pieces");
}

// --- Background compiles (jit/worker.rs): the code lands at a moment that depends on timing. ---

#[test]
fn background_compiles_match_synchronous_ones_and_the_interpreter_at_every_budget_cut() {
    let s0 = jit::stats();
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1);
        let origin = if seed % 2 == 0 { CODE } else { CODE + 0x1000 - 4 * rng.below(100) };
        let (code, x) = random_region_program(&mut rng, origin);
        // a: interpreter; s: jit compiling on this thread at the threshold; j: jit with the
        // compiles on the worker. j runs each piece first, so its regions are queued rather
        // than found compiled by s; now and then the test waits for the worker, so code lands
        // in the middle of the run (otherwise wherever the worker's timing puts it).
        let (mut a, mut s) = pair(|e| region_machine(e, origin, &code, x));
        let mut j = region_machine(Engine::Jit, origin, &code, x);
        let mut done = 0;
        while done < 6000 {
            let piece = 1 + rng.below(64);
            jit::set_background(true);
            let ej = j.run(piece);
            jit::set_background(false);
            let (ea, es) = (a.run(piece), s.run(piece));
            assert_eq!((ej, es), (ea, ea), "seed {seed}: exit after {done}+{piece}");
            let sa = state(&mut a, &REGION_RANGES);
            assert_eq!(state(&mut j, &REGION_RANGES), sa, "seed {seed}: background, after {done}+{piece} steps");
            assert_eq!(state(&mut s, &REGION_RANGES), sa, "seed {seed}: synchronous, after {done}+{piece} steps");
            if rng.below(6) == 0 {
                jit::drain();
            }
            if ea != Exit::Budget {
                break;
            }
            done += piece;
        }
    }
    let s1 = jit::stats();
    // The worker compiled regions and blocks waited for them interpreted, then took them.
    let (background, waited) = (s1.background - s0.background, s1.waited_insns - s0.waited_insns);
    assert!(!Engine::jit_supported() || (background > 300 && waited > 0), "{background} compiled on the worker, {waited} waited");
}

/// A loop that crosses from one page into the next through an instruction straddling the
/// boundary (`addi x29, x29, 1`, 4 bytes at page offset 0xffe), calls a function further into
/// the next page and returns; at round `x28` it rewrites the straddling instruction's upper
/// half (in the second page) into `addi x29, x29, 7`. `random`: the words before and after
/// the straddler and in the function are random ones, else plain `addi`s.
fn cross_page_program(rng: &mut Rng, random: bool) -> (u64, Vec<u32>, [u64; 32]) {
    let words = |c: &mut Vec<u32>, rng: &mut Rng, n: usize| {
        for k in 0..n {
            c.push(if random { random_insn(rng, k, n) } else { addi(1 + (k % 19) as u32, 1 + (k % 19) as u32, 1) });
        }
    };
    let n1 = 2 + rng.below(20) as usize;
    let mut c = vec![
        addi(26, 26, 1),
        b(8, 28, 26, 1), // bne x26, x28, +8: skip the rewrite except in round x28
        s(0, 25, 24, 1), // sh x25, 0(x24)
    ];
    words(&mut c, rng, n1);
    let straddler = c.len();
    c.push(addi(29, 29, 1));
    let n2 = 1 + rng.below(16) as usize;
    words(&mut c, rng, n2);
    let call = c.len();
    c.push(0);
    c.push(b(-4 * c.len() as i32, 27, 26, 1)); // bne x26, x27, loop
    c.push(SPIN);
    let func = c.len();
    let n3 = 1 + rng.below(12) as usize;
    words(&mut c, rng, n3);
    c.push(jalr(0, LINK_REG, 0));
    c[call] = jal(4 * (func - call) as i32, LINK_REG);
    let origin = CODE + 0x1000 - 2 - 4 * straddler as u64;
    let (_, mut x) = random_program(rng);
    for r in 23..30 {
        x[r] = 0;
    }
    x[24] = CODE + 0x1000;
    x[25] = (addi(29, 29, 7) >> 16) as u64;
    x[27] = 20 + rng.below(40);
    x[28] = if rng.below(4) == 0 { 0 } else { 2 + rng.below(x[27] - 2) };
    (origin, c, x)
}

#[test]
fn loops_and_calls_across_a_page_boundary_match_the_interpreter() {
    // Regions take blocks of the neighbouring page (and the straddling instruction) as
    // foreign members, entered only while the decode cache still holds them: the rewrite of
    // the straddler's second half must take effect in the next round.
    let joined = jit::joined_on_this_thread();
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let (origin, code, x) = cross_page_program(&mut rng, false);
        let (rounds, at) = (x[27], x[28]);
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        assert_eq!(a.run(100_000), j.run(100_000), "seed {seed}");
        assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "seed {seed}");
        let want = if at == 0 { rounds } else { at - 1 + 7 * (rounds - at + 1) };
        assert_eq!((a.hart.x[26], a.hart.x[29]), (rounds, want), "seed {seed}: rounds, straddler sum");
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        region_lockstep(&mut a, &mut j, &mut rng, 4000, 48, &format!("seed {seed} (pieces)"));
    }
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (origin, code, x) = cross_page_program(&mut rng, true);
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        region_lockstep(&mut a, &mut j, &mut rng, 4000, 64, &format!("random seed {seed} (pieces)"));
        let (mut a, mut j) = pair(|e| region_machine(e, origin, &code, x));
        assert_eq!(a.run(20_000), j.run(20_000), "random seed {seed}");
        assert_eq!(state(&mut a, &REGION_RANGES), state(&mut j, &REGION_RANGES), "random seed {seed} (one run)");
    }
    assert!(!Engine::jit_supported() || jit::joined_on_this_thread() > joined, "no region formed");
}
