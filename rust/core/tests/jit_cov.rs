//! Coverage and cmplog in compiled code against the interpreter: the same program on two
//! machines, one per engine, both with coverage and cmplog on, must leave byte-identical hit
//! maps (edge ids, counts, saturation at 255) and identical cmplog records (pc, operands,
//! width, order, the `CMPLOG_CAP` cut) after every piece of a run cut at random budgets,
//! including pieces that end inside blocks and faults in the middle of compiled blocks. The
//! compile threshold is 1, so blocks run compiled (and instrumented) from their second run.
use pltvm_core::hart::cov::{Cmp, Coverage, EdgeIds, HitMap, CMPLOG_CAP};
use pltvm_core::hart::csr::num;
use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine};

mod support;
use support::bare::*;
use support::rng::Rng;

// --- Encodings (RV64I and the two compressed branches). ---
/// `c.beqz`/`c.bnez` rs1' (x8..x15), forward offset < 256.
fn cb(bnez: bool, rs1: u32, off: u32) -> u16 {
    let f3 = if bnez { 7 } else { 6 };
    (f3 << 13 | (off >> 8 & 1) << 12 | (off >> 3 & 3) << 10 | (rs1 - 8) << 7 | (off >> 6 & 3) << 5 | (off >> 1 & 3) << 3 | (off >> 5 & 1) << 2 | 1) as u16
}

const DATA_REG: u32 = 20;
const OUTER: u32 = 21;
const INNER: u32 = 18;
const MAP: usize = 1 << 12;

/// One piece of the loop body: its bytes, or a forward branch over the next `skip` pieces.
enum Piece {
    Bytes(Vec<u8>),
    /// A branch (f3, rs1, rs2) or, with `c`, a compressed one (bnez, rs1'), over `skip` pieces.
    Fwd { f3: u32, rs1: u32, rs2: u32, c: Option<bool>, skip: usize },
}

fn word(w: u32) -> Piece {
    Piece::Bytes(w.to_le_bytes().to_vec())
}

/// A random compare, ALU op, load (sometimes faulting, which the handler skips), forward
/// branch or small self-loop, writing only x1..x17 and x19 (and x18 in a self-loop).
fn random_piece(rng: &mut Rng) -> Piece {
    let rd = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19][rng.below(18) as usize];
    let rs1 = rng.below(22) as u32;
    let rs2 = rng.below(22) as u32;
    let imm = (rng.next() as i32) >> 20;
    match rng.below(100) {
        // slt, sltu, slti, sltiu (cmplog).
        0..=19 => match rng.below(4) {
            0 => word(r(0, rs2, rs1, 2, rd, 0x33)),
            1 => word(r(0, rs2, rs1, 3, rd, 0x33)),
            2 => word(i(imm, rs1, 2, rd, 0x13)),
            _ => word(i(imm, rs1, 3, rd, 0x13)),
        },
        20..=44 => {
            const OPS: [(u32, u32); 8] = [(0, 0), (0x20, 0), (0, 4), (0, 6), (0, 7), (0, 1), (0, 5), (1, 0)];
            let (f7, f3) = OPS[rng.below(8) as usize];
            word(r(f7, rs2, rs1, f3, rd, 0x33))
        }
        45..=54 => word(addi(rd, rs1, imm)),
        55..=64 => {
            // ld/lw/lbu from the data page, or through any register (a fault).
            let f3 = [3, 2, 4][rng.below(3) as usize];
            let base = if rng.below(6) == 0 { rs1 } else { DATA_REG };
            word(i((rng.below(256) * 8) as i32, base, f3, rd, 0x03))
        }
        65..=84 => Piece::Fwd {
            f3: [0, 1, 4, 5, 6, 7][rng.below(6) as usize],
            rs1,
            rs2,
            c: None,
            skip: 1 + rng.below(3) as usize,
        },
        85..=92 => Piece::Fwd { f3: 0, rs1: 8 + rng.below(8) as u32, rs2: 0, c: Some(rng.below(2) == 0), skip: 1 + rng.below(3) as usize },
        _ => {
            // A self-loop of k rounds (k up to 400: its back edge saturates in one entry),
            // with a compare inside: x18 = k; L: x18 -= 1; slt/sltu; bne x18, x0, L.
            let k = 1 + rng.below(400) as i32;
            let cmp = if rng.below(2) == 0 { r(0, INNER, rs1, 2, rd, 0x33) } else { i(imm, INNER, 3, rd, 0x13) };
            let v: Vec<u8> = [addi(INNER, 0, k), addi(INNER, INNER, -1), cmp, b(-8, 0, INNER, 1)]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            Piece::Bytes(v)
        }
    }
}

fn piece_len(p: &Piece) -> usize {
    match p {
        Piece::Bytes(v) => v.len(),
        Piece::Fwd { c: Some(_), .. } => 2,
        Piece::Fwd { .. } => 4,
    }
}

/// x21 = iters; body; x21 -= 1; bne x21, x0, body; spin.
fn random_program(rng: &mut Rng) -> (Vec<u8>, [u64; 32]) {
    let n = 4 + rng.below(28) as usize;
    let iters = 1 + rng.below(30) as i32;
    let pieces: Vec<Piece> = (0..n).map(|_| random_piece(rng)).collect();
    let mut code: Vec<u8> = addi(OUTER, 0, iters).to_le_bytes().to_vec();
    let body = code.len();
    for (k, p) in pieces.iter().enumerate() {
        match p {
            Piece::Bytes(v) => code.extend(v),
            Piece::Fwd { f3, rs1, rs2, c, skip } => {
                let over: usize = pieces[k + 1..(k + 1 + skip).min(n)].iter().map(piece_len).sum();
                let off = (piece_len(p) + over) as u32;
                match c {
                    Some(bnez) => code.extend(cb(*bnez, *rs1, off).to_le_bytes()),
                    None => code.extend(b(off as i32, *rs2, *rs1, *f3).to_le_bytes()),
                }
            }
        }
    }
    code.extend(addi(OUTER, OUTER, -1).to_le_bytes());
    let here = code.len();
    code.extend(b(body as i32 - here as i32, 0, OUTER, 1).to_le_bytes());
    code.extend(SPIN.to_le_bytes());
    let mut x = [0u64; 32];
    for (k, v) in x.iter_mut().enumerate().skip(1) {
        *v = match rng.below(4) {
            0 => rng.next(),
            1 => rng.below(64),
            2 => rng.next() as i32 as i64 as u64,
            _ => DATA + rng.below(4096),
        };
        if k as u32 == DATA_REG {
            *v = DATA;
        }
    }
    (code, x)
}

fn machine(engine: Engine, code: &[u8], x: [u64; 32], cmplog: bool) -> (Machine, std::sync::Arc<HitMap>) {
    jit::set_threshold(1);
    let mut m = Machine::bare(RAM, false);
    m.hart.engine = engine;
    m.load_segment(CODE, code, code.len() as u64).unwrap();
    // Handler: mepc += 4 (every faulting instruction is a 4-byte load), return.
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
    let map = HitMap::new(MAP).unwrap();
    let cov = if cmplog { Coverage::with_cmplog(map.clone(), EdgeIds::new()) } else { Coverage::new(map.clone(), EdgeIds::new()) };
    m.hart.set_coverage(Some(cov));
    (m, map)
}

fn map_bytes(map: &HitMap) -> Vec<u8> {
    (0..map.len()).map(|k| map.get(k)).collect()
}

fn cmps(m: &Machine) -> Vec<Cmp> {
    m.hart.coverage().unwrap().cmps().to_vec()
}

/// What must agree after each piece: exit, registers, pc, steps, map and cmplog.
fn compare(a: &Machine, j: &Machine, ma: &HitMap, mj: &HitMap, what: &str) {
    assert_eq!((a.hart.x, a.hart.pc, a.hart.retired), (j.hart.x, j.hart.pc, j.hart.retired), "{what}: state");
    let (ba, bj) = (map_bytes(ma), map_bytes(mj));
    if ba != bj {
        let diff: Vec<(usize, u8, u8)> = (0..ba.len()).filter(|&k| ba[k] != bj[k]).map(|k| (k, ba[k], bj[k])).take(8).collect();
        panic!("{what}: hit maps differ at (id, interp, jit) {diff:?}");
    }
    assert_eq!(cmps(a), cmps(j), "{what}: cmplog");
}

/// Runs `seeds` random programs under both engines in random pieces, comparing after each;
/// returns (blocks compiled, saturated cells seen, full cmplogs seen).
fn differential(seeds: std::ops::RangeInclusive<u64>, cmplog: bool) -> (u64, usize, usize) {
    let before = jit::compiled_on_this_thread();
    let (mut saturated, mut full) = (0, 0);
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (code, x) = random_program(&mut rng);
        let (mut a, ma) = machine(Engine::Interp, &code, x, cmplog);
        let (mut j, mj) = machine(Engine::Jit, &code, x, cmplog);
        let mut done = 0;
        while done < 40_000 {
            // Mostly short pieces (cuts inside blocks and self-loops), some long ones.
            let piece = if rng.below(4) == 0 { 1 + rng.below(5000) } else { 1 + rng.below(60) };
            let (ea, ej) = (a.run(piece), j.run(piece));
            let what = format!("seed {seed}, cmplog {cmplog}, after {done}+{piece}");
            assert_eq!(ea, ej, "{what}: exit");
            compare(&a, &j, &ma, &mj, &what);
            full += (cmps(&a).len() == CMPLOG_CAP) as usize;
            // As a fuzzer does between runs, sometimes: clear the log (and the map).
            if rng.below(8) == 0 {
                a.hart.coverage_mut().unwrap().clear_cmps();
                j.hart.coverage_mut().unwrap().clear_cmps();
            }
            if rng.below(16) == 0 {
                saturated += map_bytes(&ma).iter().filter(|&&c| c == 255).count();
                ma.clear();
                mj.clear();
            }
            if ea != Exit::Budget {
                break;
            }
            done += piece;
        }
        saturated += map_bytes(&ma).iter().filter(|&&c| c == 255).count();
    }
    (jit::compiled_on_this_thread() - before, saturated, full)
}

#[test]
fn random_programs_leave_identical_maps_and_cmplogs_at_every_cut() {
    let (compiled, saturated, full) = differential(1..=150, true);
    if Engine::jit_supported() {
        assert!(compiled > 300, "only {compiled} blocks compiled: the test tests nothing");
    }
    assert!(saturated > 0, "no cell saturated: saturation untested");
    assert!(full > 0, "the cmplog never filled: the cap untested");
}

#[test]
fn random_programs_with_coverage_only_match_too() {
    let (compiled, _, _) = differential(1001..=1060, false);
    assert!(!Engine::jit_supported() || compiled > 100, "only {compiled} blocks compiled");
}

/// The loop of `hart/cov.rs`'s own test, long enough to saturate, run compiled: the counts
/// are the exact ones, and they were counted by compiled code (blocks were compiled).
#[test]
fn a_compiled_loop_counts_its_edges_and_compares_exactly() {
    // x1 = 300; L: x1 -= 1; bne x1, x0, L; x2 = 1; spin.
    let code: Vec<u8> = [addi(1, 0, 300), addi(1, 1, -1), b(-4, 0, 1, 1), addi(2, 0, 1), SPIN]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    for engine in [Engine::Interp, Engine::Jit] {
        let (mut m, map) = machine(engine, &code, [0; 32], true);
        let before = jit::compiled_on_this_thread();
        // 3 instructions, 299 rounds of 2, then 2 of the exit block.
        assert_eq!(m.run(3 + 598 + 2), Exit::Budget);
        assert_eq!((m.hart.x[1], m.hart.x[2]), (0, 1));
        // Ids in order of discovery: entry, first block -> loop, loop -> loop (299 times,
        // 298 times, saturated), loop -> exit.
        let bytes = map_bytes(&map);
        assert_eq!(bytes[..5], [1, 1, 255, 1, 0], "{engine:?}");
        let cmps = cmps(&m);
        assert_eq!(cmps.len(), 300, "{engine:?}");
        assert!(cmps.iter().all(|c| c.pc == CODE + 8 && c.b == 0 && c.size == 4), "{engine:?}");
        assert_eq!(cmps.iter().map(|c| c.a).collect::<Vec<_>>(), (0..300).rev().collect::<Vec<u64>>(), "{engine:?}");
        let compiled = jit::compiled_on_this_thread() - before;
        assert_eq!(compiled > 0, engine == Engine::Jit && Engine::jit_supported(), "{engine:?}: {compiled} compiled");
    }
}

/// Instrumented code is not the plain code for the same instructions: a hart without
/// coverage compiles the loop first, then a hart with coverage must compile its own (not reuse
/// the plain one, which would count nothing), and a hart switching coverage on drops the plain
/// code it had.
#[test]
fn instrumented_code_is_compiled_apart_from_plain_code() {
    if !Engine::jit_supported() {
        return;
    }
    // A loop body unlike any other test's (so the process-wide code cache has no entry yet).
    let code: Vec<u8> = [addi(1, 0, 500), addi(3, 3, 77), i(-3, 3, 3, 4, 0x13), addi(1, 1, -1), b(-12, 0, 1, 1), SPIN]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let (mut plain, _) = machine(Engine::Jit, &code, [0; 32], true);
    plain.hart.set_coverage(None);
    let before = jit::compiled_on_this_thread();
    plain.run(2000);
    assert!(jit::compiled_on_this_thread() > before, "the plain hart compiled");

    let (mut a, ma) = machine(Engine::Interp, &code, [0; 32], true);
    let (mut j, mj) = machine(Engine::Jit, &code, [0; 32], true);
    let before = (jit::compiled_on_this_thread(), jit::reused_on_this_thread());
    assert_eq!(a.run(2100), j.run(2100));
    compare(&a, &j, &ma, &mj, "coverage on from the start");
    assert!(jit::compiled_on_this_thread() > before.0, "the covered hart compiled its own code");
    assert_eq!(map_bytes(&mj)[2], 255, "the self-loop was counted");
    assert_eq!(cmps(&j).len(), 1000, "sltiu and bne, 500 rounds");

    // Coverage switched on half-way through a run that ran plain compiled code.
    let (mut a, _) = machine(Engine::Interp, &code, [0; 32], false);
    let (mut j, _) = machine(Engine::Jit, &code, [0; 32], false);
    a.hart.set_coverage(None);
    j.hart.set_coverage(None);
    assert_eq!(a.run(700), j.run(700));
    let (ma, mj) = (HitMap::new(MAP).unwrap(), HitMap::new(MAP).unwrap());
    a.hart.set_coverage(Some(Coverage::with_cmplog(ma.clone(), EdgeIds::new())));
    j.hart.set_coverage(Some(Coverage::with_cmplog(mj.clone(), EdgeIds::new())));
    assert_eq!(a.run(1000), j.run(1000));
    compare(&a, &j, &ma, &mj, "coverage switched on mid-run");
    assert!(map_bytes(&mj).iter().any(|&c| c > 1));
}

/// A loop that compares more than `CMPLOG_CAP` times: the log is cut at the same record.
#[test]
fn the_cmplog_cap_cuts_at_the_same_record() {
    // x1 = 2000; L: x1 -= 1; sltu x2, x1, x3; slti x4, x1, 100; bne x1, x0, L.
    let code: Vec<u8> = [addi(1, 0, 2000), addi(1, 1, -1), r(0, 3, 1, 3, 2, 0x33), i(100, 1, 2, 4, 0x13), b(-12, 0, 1, 1), SPIN]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let mut x = [0u64; 32];
    x[3] = 0xffff_ffff_0000_0000;
    let (mut a, ma) = machine(Engine::Interp, &code, x, true);
    let (mut j, mj) = machine(Engine::Jit, &code, x, true);
    // 7000 steps: past the cut (round 1366), still in the loop (8001 steps).
    assert_eq!(a.run(7000), j.run(7000));
    compare(&a, &j, &ma, &mj, "one run");
    let c = cmps(&j);
    assert_eq!(c.len(), CMPLOG_CAP);
    // The last record kept: 4096 = 3 * 1365 + 1, so the sltu of round 1366 (x1 = 2000 - 1366).
    assert_eq!(c[CMPLOG_CAP - 1], Cmp { pc: CODE + 8, a: 634, b: 0xffff_ffff_0000_0000, size: 8 });
    // Cleared mid-run, the log fills again from the next compare.
    a.hart.coverage_mut().unwrap().clear_cmps();
    j.hart.coverage_mut().unwrap().clear_cmps();
    assert_eq!(a.run(30), j.run(30));
    compare(&a, &j, &ma, &mj, "after clearing");
    assert_eq!(cmps(&j).len(), 22, "30 steps from a round boundary: 7 rounds and a sltu");
}
