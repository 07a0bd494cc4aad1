//! F/D in compiled code (`jit/fp.rs`) against the interpreter: random F/D programs on two
//! machines, one per engine, must leave identical f and x registers, fcsr, mstatus (FS), trap
//! CSRs, pc, counters and memory at every budget boundary of a run cut into random pieces.
//!
//! The operands reach every case the inline code must tell apart from the ones it leaves to
//! the interpreter's handler: NaNs (quiet and signalling, with payloads), infinities, zeros of
//! both signs, subnormals, the ends of the normal range, results that round or are exact,
//! overflow and underflow, singles that are not NaN-boxed, integers beyond 2^53 and out of the
//! conversions' ranges. Rounding modes come from the instruction (all eight, 5 and 6 being
//! illegal) and from `frm` (which the program rewrites, invalid values included); the program
//! also clears `fflags` and switches `mstatus.FS` between Off, Initial, Clean and Dirty in the
//! middle of its blocks. The compile threshold is 1, so blocks run compiled from their
//! second execution on.
use pltvm_core::hart::csr::num;
use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine};

mod support;
use support::bare::*;
use support::rng::Rng;

#[derive(Debug, PartialEq, Eq)]
struct State {
    f: [u64; 32],
    x: [u64; 32],
    fflags: u8,
    frm: u8,
    pc: u64,
    retired: u64,
    /// mepc, mcause, mtval, mstatus, mcycle, minstret.
    csrs: Vec<u64>,
    data: Vec<u8>,
}

fn state(m: &mut Machine) -> State {
    let csrs = [num::MEPC, num::MCAUSE, num::MTVAL, num::MSTATUS, 0xb00, 0xb02]
        .iter()
        .map(|&c| m.hart.csr_read(c, &m.bus).unwrap_or(u64::MAX))
        .collect();
    let mut data = vec![0u8; 0x1000];
    assert!(m.mem_read(DATA, &mut data));
    let h = &m.hart;
    State { f: h.fp.f, x: h.x, fflags: h.fp.fflags, frm: h.fp.frm, pc: h.pc, retired: h.retired, csrs, data }
}

// --- Encodings. ---
/// OP-FP: funct5, fmt (0 single, 1 double), rs2, rs1, rm, rd.
fn fp(f5: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
    (f5 << 2 | fmt) << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53
}
fn fma(op: u32, fmt: u32, rs3: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
    rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | op
}
const FSBITS: u64 = 3 << 13;

const DATA_REG: u32 = 20;
const COUNT_REG: u32 = 21;
/// Holds mstatus.FS's mask for the csrrs/csrrc that switch FS.
const FS_REG: u32 = 22;
/// Holds FS = Initial (for csrrs after a csrrc).
const FS_INIT_REG: u32 = 23;

/// Doubles that reach every case: specials, NaNs with payloads, subnormals, the normal range's
/// ends, values whose sums/products round or are exact, near overflow and underflow.
const DOUBLES: [u64; 30] = [
    0, 1 << 63, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000, 0x7ff8_0000_dead_beef,
    0xfff4_0000_0000_0001, 0x7ff0_0000_0000_0001, 1, 0x800f_ffff_ffff_ffff, 0x0010_0000_0000_0000,
    0x8010_0000_0000_0001, 0x7fef_ffff_ffff_ffff, 0xffef_ffff_ffff_fffe, 0x3ff0_0000_0000_0000,
    0xbff0_0000_0000_0001, 0x3fef_ffff_ffff_ffff, 0x4008_0000_0000_0000, 0x3fd5_5555_5555_5555,
    0x4000_0000_0000_0000, 0x3fe0_0000_0000_0000, 0xc1e0_0000_0000_0000, 0x41df_ffff_ffc0_0000,
    0x43e0_0000_0000_0000, 0xc3e0_0000_0000_0000, 0x41f0_0000_0000_0000, 0x4340_0000_0000_0001,
    0x2000_0000_0000_0000, 0x5fe0_0000_0000_0000, 0x0020_0000_0000_0003,
];
const SINGLES: [u32; 14] = [
    0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7fa0_0001, 1, 0x807f_ffff, 0x0080_0000,
    0x7f7f_ffff, 0x3f80_0000, 0x3f80_0001, 0x4040_0000, 0x3eaa_aaab,
];

/// A random f register value (64 bits).
fn value(rng: &mut Rng) -> u64 {
    const BOX: u64 = 0xffff_ffff_0000_0000;
    match rng.below(10) {
        0..=3 => DOUBLES[rng.below(DOUBLES.len() as u64) as usize],
        4 => BOX | SINGLES[rng.below(SINGLES.len() as u64) as usize] as u64,
        5 => BOX | (rng.next() & 0xffff_ffff),
        6 => rng.next() & 0xffff_ffff, // an unboxed single: the canonical NaN to single ops
        7 => (rng.next() & 0x800f_ffff_ffff_ffff) | ((0x3f0 + rng.below(32)) << 52),
        8 => (rng.next() & 0x800f_ffff_ffff_ffff) | ((0x3ff + rng.below(3)) << 52) & !0xfff,
        _ => rng.next(),
    }
}

/// A random x register value for fmv/fcvt from integers: small, near 2^31/2^32/2^53/2^63, any.
fn int_value(rng: &mut Rng) -> u64 {
    let edges = [1u64 << 31, 1 << 32, 1 << 53, 1 << 63, 1 << 24];
    match rng.below(5) {
        0 => rng.below(100).wrapping_sub(50),
        1 => edges[rng.below(5) as usize].wrapping_add(rng.below(5)).wrapping_sub(2),
        2 => edges[rng.below(5) as usize].wrapping_neg().wrapping_add(rng.below(5)).wrapping_sub(2),
        3 => value(rng),
        _ => rng.next(),
    }
}

/// A rounding mode: mostly dynamic or nearest-even, sometimes another, rarely an illegal one.
fn rm(rng: &mut Rng) -> u32 {
    [7, 7, 7, 7, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6][rng.below(14) as usize]
}

/// One random instruction (4 bytes each: the trap handler skips 4). x1..x19 and f0..f31
/// are the program's; the data page is at x20.
fn random_insn(rng: &mut Rng) -> u32 {
    let rd = rng.below(32) as u32;
    let rs1 = rng.below(32) as u32;
    let rs2 = rng.below(32) as u32;
    let xd = 1 + rng.below(19) as u32;
    let xs = rng.below(20) as u32;
    let fmt = if rng.below(4) == 0 { 0 } else { 1 };
    match rng.below(100) {
        // add, sub, mul, div
        0..=29 => fp(rng.below(4) as u32, fmt, rs2, rs1, rm(rng), rd),
        30..=33 => fp(0x0b, fmt, 0, rs1, rm(rng), rd), // fsqrt
        34..=45 => fma([0x43, 0x47, 0x4b, 0x4f][rng.below(4) as usize], fmt, rng.below(32) as u32, rs2, rs1, rm(rng), rd),
        46..=49 => fp(0x04, fmt, rs2, rs1, rng.below(3) as u32, rd), // fsgnj, fsgnjn, fsgnjx
        50..=52 => fp(0x05, fmt, rs2, rs1, rng.below(2) as u32, rd), // fmin, fmax
        53..=56 => fp(0x14, fmt, rs2, rs1, rng.below(3) as u32, xd), // fle, flt, feq
        57..=58 => {
            // fcvt.s.d / fcvt.d.s
            if rng.below(2) == 0 { fp(0x08, 0, 1, rs1, rm(rng), rd) } else { fp(0x08, 1, 0, rs1, rm(rng), rd) }
        }
        59..=62 => {
            // fcvt.{w,wu,l,lu}.fmt, RTZ half the time (as C casts)
            let m = if rng.below(2) == 0 { 1 } else { rm(rng) };
            fp(0x18, fmt, rng.below(4) as u32, rs1, m, xd)
        }
        63..=66 => fp(0x1a, fmt, rng.below(4) as u32, xs, rm(rng), rd), // fcvt.fmt.{w,wu,l,lu}
        67..=68 => fp(0x1c, fmt, 0, rs1, rng.below(2) as u32, xd),     // fmv.x.fmt, fclass
        69..=70 => fp(0x1e, fmt, 0, xs, 0, rd),                        // fmv.fmt.x
        71..=78 => {
            // fld / flw: mostly aligned on the data page, sometimes misaligned or anywhere
            let base = if rng.below(16) == 0 { xs } else { DATA_REG };
            let off = if rng.below(8) == 0 { rng.below(2048) as i32 } else { (rng.below(256) * 8) as i32 };
            i(off, base, 2 + fmt, rd, 0x07)
        }
        79..=84 => {
            let base = if rng.below(16) == 0 { xs } else { DATA_REG };
            let off = if rng.below(8) == 0 { rng.below(2048) as i32 } else { (rng.below(256) * 8) as i32 };
            s_op(off, rs2, base, 2 + fmt, 0x27)
        }
        85..=86 => csr(1, xd, 0x001, if rng.below(2) == 0 { 0 } else { xs }), // fflags <- x (or clear)
        87..=88 => {
            // frm <- an immediate: mostly 0, sometimes another mode or an invalid one (csrrwi)
            let v = [0, 0, 0, 1, 2, 3, 4, 5, 7][rng.below(9) as usize];
            csr(5, xd, 0x002, v)
        }
        89 => csr(2, xd, 0x003, 0), // read fcsr
        90 => csr(3, 0, 0x300, FS_REG), // FS = Off
        91 => csr(2, 0, 0x300, FS_REG), // FS = Dirty
        92 => {
            // FS = Initial: clear then set (two instructions would do; one keeps encodings 4 bytes)
            if rng.below(2) == 0 { csr(3, 0, 0x300, FS_REG) } else { csr(2, 0, 0x300, FS_INIT_REG) }
        }
        _ => addi(xd, xs, (rng.next() as i32) >> 20),
    }
}

/// A loop of random instructions run `iters` times, then a spin; traps skip the instruction.
fn random_program(rng: &mut Rng) -> (Vec<u32>, [u64; 32], [u64; 32]) {
    let n = 6 + rng.below(40) as usize;
    let iters = 1 + rng.below(30) as i32;
    let mut code = vec![addi(COUNT_REG, 0, iters)];
    let body = code.len();
    for _ in 0..n {
        code.push(random_insn(rng));
    }
    code.push(addi(COUNT_REG, COUNT_REG, -1));
    let here = code.len();
    code.push(bne(-4 * (here - body) as i32, 0, COUNT_REG));
    code.push(SPIN);
    let mut x = [0u64; 32];
    for v in x.iter_mut().skip(1) {
        *v = if rng.below(3) == 0 { DATA + 8 * rng.below(512) } else { int_value(rng) };
    }
    x[DATA_REG as usize] = DATA;
    x[FS_REG as usize] = FSBITS;
    x[FS_INIT_REG as usize] = 1 << 13;
    let mut f = [0u64; 32];
    for v in f.iter_mut() {
        *v = value(rng);
    }
    (code, x, f)
}

fn machine(engine: Engine, code: &[u32], x: [u64; 32], f: [u64; 32], fs: u64, fflags: u8, frm: u8, data: &[u8]) -> Machine {
    let mut m = Machine::bare(RAM, false);
    m.hart.engine = engine;
    m.bus.console = Box::new(NullConsole);
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
    // Handler: mepc += 4, return (x31 is the handler's).
    let handler: Vec<u8> = [csr(2, 31, 0x341, 0), addi(31, 31, 4), csr(1, 0, 0x341, 31), MRET]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    m.load_segment(HANDLER, &handler, handler.len() as u64).unwrap();
    m.load_segment(DATA, data, 4096).unwrap();
    m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
    m.hart.csr.mstatus = (m.hart.csr.mstatus & !FSBITS) | fs;
    m.hart.x = x;
    m.hart.fp.f = f;
    m.hart.fp.fflags = fflags;
    m.hart.fp.frm = frm;
    m.hart.pc = CODE;
    m
}

/// Runs both machines in the same random pieces, comparing after each.
fn lockstep(a: &mut Machine, j: &mut Machine, rng: &mut Rng, total: u64, what: &str) {
    let mut done = 0;
    while done < total {
        let piece = 1 + rng.below(40);
        let ea = a.run(piece);
        let ej = j.run(piece);
        assert_eq!(ea, ej, "{what}: exit after {done}+{piece}");
        let (sa, sj) = (state(a), state(j));
        assert_eq!(sa, sj, "{what}: state after {done}+{piece} steps");
        if ea != Exit::Budget {
            return;
        }
        done += piece;
    }
}

#[test]
fn random_fp_programs_match_the_interpreter_at_every_budget_boundary() {
    jit::set_threshold(1);
    let before = jit::compiled_on_this_thread();
    let seeds = std::env::var("PLTVM_JIT_FP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500u64);
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (code, x, f) = random_program(&mut rng);
        // FS: Dirty most of the time, else Off, Initial or Clean.
        let fs = [3u64, 3, 3, 3, 0, 1, 2][rng.below(7) as usize] << 13;
        // fflags: NX accrued most of the time (the inline arithmetic's condition), else not.
        let fflags = [1u8, 1, 1, 0, 0x1f, 0x10][rng.below(6) as usize];
        let frm = [0u8, 0, 0, 0, 1, 2, 3, 4, 5, 7][rng.below(10) as usize];
        let data: Vec<u8> = (0..512).flat_map(|_| value(&mut rng).to_le_bytes()).collect();
        let make = |e| machine(e, &code, x, f, fs, fflags, frm, &data);
        let (mut a, mut j) = (make(Engine::Interp), make(Engine::Jit));
        lockstep(&mut a, &mut j, &mut rng, 1500, &format!("seed {seed} (pieces)"));
        // The same program in one run: blocks run compiled end to end.
        let (mut a, mut j) = (make(Engine::Interp), make(Engine::Jit));
        assert_eq!(a.run(3000), j.run(3000), "seed {seed}");
        assert_eq!(state(&mut a), state(&mut j), "seed {seed} (one run)");
    }
    let compiled = jit::compiled_on_this_thread() - before;
    assert!(!Engine::jit_supported() || compiled > seeds, "only {compiled} blocks compiled: the test tests nothing");
}

/// FS = Off: an F/D instruction in a compiled block is an illegal instruction at its own pc
/// (mtval its bits), with only the writes of the instructions before it done; FS turned off in
/// the middle of a block, after an F/D write made it Dirty, traps the next F/D instruction
/// too. The handler skips the instruction, so every round of the loop traps once.
#[test]
fn fs_off_traps_at_the_right_instruction_in_compiled_code() {
    let fadd3 = fp(0, 1, 2, 1, 7, 3); // fadd.d f3, f1, f2 (dyn)
    let fadd4 = fp(0, 1, 2, 3, 7, 4); // fadd.d f4, f3, f2
    let code = [
        addi(5, 5, 1),
        fadd3,
        csr(3, 0, 0x300, FS_REG), // csrrc mstatus, FS: Off
        fadd4,                    // illegal, skipped
        csr(2, 0, 0x300, FS_REG), // csrrs mstatus, FS: Dirty
        addi(6, 6, 1),
        bne(-24, 0, 8),
        SPIN,
    ];
    let mut x = [0u64; 32];
    x[FS_REG as usize] = FSBITS;
    x[8] = 1;
    let mut f = [0u64; 32];
    f[1] = 1.5f64.to_bits();
    f[2] = 0.1f64.to_bits();
    let make = |e| machine(e, &code, x, f, 3 << 13, 1, 0, &[0; 4096]);
    jit::set_threshold(1);
    let before = jit::compiled_on_this_thread();
    let (mut a, mut j) = (make(Engine::Interp), make(Engine::Jit));
    let mut rng = Rng(7);
    lockstep(&mut a, &mut j, &mut rng, 3000, "FS off in the loop");
    assert!(!Engine::jit_supported() || jit::compiled_on_this_thread() > before, "nothing ran compiled");
    for (engine, m) in [(Engine::Interp, &mut a), (Engine::Jit, &mut j)] {
        let rd = |m: &mut Machine, c| m.hart.csr_read(c, &m.bus).unwrap();
        assert_eq!(rd(m, num::MCAUSE), 2, "{engine:?}: illegal instruction");
        // The fadd after csrrc (or, with the budget ending inside the handler, the next pc).
        assert!([CODE + 12, CODE + 16].contains(&rd(m, num::MEPC)), "{engine:?}: the fadd after csrrc");
        assert_eq!(rd(m, num::MTVAL), fadd4 as u64, "{engine:?}: the instruction's bits");
        assert_eq!(m.hart.fp.f[3], (1.5f64 + 0.1).to_bits(), "{engine:?}");
        assert_eq!(m.hart.fp.f[4], 0, "{engine:?}: never written");
    }
    // Each round: 6 retired + the trap's step + the handler's 4.
    let rounds = j.hart.x[6];
    assert!(rounds > 200, "{rounds}");

    // FS off from the start of a block compiled while FS was on: its first F/D instruction
    // traps, after the two instructions before it.
    for engine in [Engine::Interp, Engine::Jit] {
        jit::set_threshold(1);
        let code = [addi(5, 5, 1), addi(6, 6, 1), fadd3, addi(7, 7, 1), bne(-16, 0, 8), SPIN];
        let mut x = [0u64; 32];
        x[8] = 1;
        let mut m = machine(engine, &code, x, [0; 32], 3 << 13, 1, 0, &[0; 4096]);
        // The handler spins: the trap is the end.
        m.load_segment(HANDLER, &SPIN.to_le_bytes(), 4).unwrap();
        assert_eq!(m.run(50), Exit::Budget);
        m.hart.csr.mstatus &= !FSBITS;
        assert_eq!(m.run(30), Exit::Budget);
        let rd = |m: &mut Machine, c| m.hart.csr_read(c, &m.bus).unwrap();
        assert_eq!(rd(&mut m, num::MCAUSE), 2, "{engine:?}");
        assert_eq!(rd(&mut m, num::MEPC), CODE + 8, "{engine:?}");
        // 50 steps = 10 rounds; then x5, x6 of round 11 and the trap; the spin retires the rest.
        assert_eq!((m.hart.x[5], m.hart.x[6], m.hart.x[7]), (11, 11, 10), "{engine:?}");
        assert_eq!(m.hart.retired, 50 + 30 - 1, "{engine:?}: the trap retires nothing");
        assert_eq!(m.hart.csr.mstatus & FSBITS, 0, "{engine:?}: FS stays Off");
    }
}

/// F registers live in variables within a compiled region (`jit/fp.rs`), so the hart sees them
/// only where compiled code stores them. A loop whose first block writes f3 inline, runs an
/// instruction through its interpreter handler that reads f3 and writes f5 (a directed
/// rounding mode), reads f5 inline, then traps (an `fld` from an address with no memory; the
/// handler skips it and `mret`s into the middle of the block), and whose second block starts
/// with FS Clean (a `csrrc` before it): compared with the interpreter at random budget cuts
/// (f registers, fcsr, mstatus, memory), this needs f3, f5 and f6 stored at the trap's exit,
/// f3 stored before the handler call, f5 reloaded after it, and FS set Dirty again by the
/// second block's first f write.
#[test]
fn f_registers_in_variables_reach_the_hart_at_exits_and_handler_calls() {
    const BAD_REG: u32 = 9;
    const FS_CLEAN_REG: u32 = 24;
    let fadd = |rd, rs1, rs2, rm| fp(0, 1, rs2, rs1, rm, rd);
    let fmul = |rd, rs1, rs2, rm| fp(2, 1, rs2, rs1, rm, rd);
    let code = [
        addi(5, 5, 1),
        fadd(3, 3, 2, 7),                    // inline: f3 += 0.1
        fadd(5, 3, 2, 3),                    // RUP: the handler, reading f3
        fmul(6, 5, 1, 7),                    // inline, reading the handler's f5
        i(0, BAD_REG, 3, 4, 0x07),           // fld f4, 0(x9): access fault, skipped
        s_op(0, 6, DATA_REG, 3, 0x27),       // fsd f6, 0(x20)
        csr(3, 0, 0x300, FS_CLEAN_REG),      // csrrc mstatus: FS Dirty -> Clean (ends the block)
        fmul(7, 7, 1, 7),                    // inline: f7 *= 1.5, FS Dirty again
        s_op(8, 3, DATA_REG, 3, 0x27),       // fsd f3, 8(x20)
        addi(6, 6, 1),
        bne(-40, 0, 8),
        SPIN,
    ];
    let mut x = [0u64; 32];
    x[8] = 1;
    x[BAD_REG as usize] = 8;
    x[DATA_REG as usize] = DATA;
    x[FS_CLEAN_REG as usize] = 1 << 13;
    let mut f = [0u64; 32];
    f[1] = 1.5f64.to_bits();
    f[2] = 0.1f64.to_bits();
    f[3] = 1.0f64.to_bits();
    f[7] = 1.0e-300f64.to_bits();
    // FS Clean, NX accrued, frm nearest-even: the inline cases.
    let make = |e| machine(e, &code, x, f, 2 << 13, 1, 0, &[0; 4096]);
    jit::set_threshold(1);
    let before = jit::compiled_on_this_thread();
    let (mut a, mut j) = (make(Engine::Interp), make(Engine::Jit));
    let mut rng = Rng(11);
    lockstep(&mut a, &mut j, &mut rng, 4000, "f registers in variables");
    assert!(!Engine::jit_supported() || jit::compiled_on_this_thread() > before, "nothing ran compiled");
    let rd = |m: &mut Machine, c| m.hart.csr_read(c, &m.bus).unwrap();
    assert_eq!(rd(&mut j, num::MCAUSE), 5, "the fld faults");
    assert!(j.hart.x[6] > 100, "rounds: {}", j.hart.x[6]);
}
