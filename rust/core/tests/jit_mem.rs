//! Loads and stores in compiled code against the interpreter: the inline TLB check (one compare
//! for page, epoch and alignment, `mmu::tlb`) and the slow-path thunks (`jit::thunk`). Every
//! access size at every offset around page ends (a page end inside RAM, the end of RAM, and
//! addresses near 2^40, 2^63 and 2^64, where nothing is mapped and an address plus size would
//! wrap), with misaligned accesses allowed and trapping; and a TLB flush (a `satp` write and
//! `sfence.vma`) between two accesses of one compiled block, with the mapping changed by it.
//! The compile threshold is 1, so blocks run compiled from their second execution on.
use pltvm_core::hart::csr::num;
use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine, RAM_BASE};

mod support;
use support::bare::*;
use support::rng::Rng;

const SFENCE_VMA: u32 = 0x1200_0073;

/// 64 KiB of RAM: its last page ends at `RAM_BASE + RAM`, where nothing follows.
const RAM: u64 = 0x10000;

#[derive(Debug, PartialEq, Eq)]
struct State {
    x: [u64; 32],
    pc: u64,
    retired: u64,
    csrs: Vec<u64>,
    mem: Vec<u8>,
}

fn state(m: &mut Machine) -> State {
    let csrs = [num::MEPC, num::MCAUSE, num::MTVAL, 0xb02].iter().map(|&c| m.hart.csr_read(c, &m.bus).unwrap()).collect();
    let mut mem = vec![0u8; RAM as usize];
    assert!(m.mem_read(RAM_BASE, &mut mem));
    State { x: m.hart.x, pc: m.hart.pc, retired: m.hart.retired, csrs, mem }
}

/// Registers, pc, counters and trap CSRs equal, then RAM (naming the first differing byte).
fn same(a: &mut Machine, j: &mut Machine, what: &str) {
    let (sa, sj) = (state(a), state(j));
    assert_eq!((sa.x, sa.pc, sa.retired, &sa.csrs), (sj.x, sj.pc, sj.retired, &sj.csrs), "{what}");
    if let Some(k) = sa.mem.iter().zip(&sj.mem).position(|(p, q)| p != q) {
        panic!("{what}: RAM differs at {:#x}: {:#x} interpreted, {:#x} compiled", RAM_BASE + k as u64, sa.mem[k], sj.mem[k]);
    }
}

/// A bare machine running `code` at `CODE`, RAM filled with a pattern, traps skipping the
/// faulting instruction (mepc += 4).
fn machine(engine: Engine, code: &[u32], x: [u64; 32], misaligned_trap: bool) -> Machine {
    jit::set_threshold(1);
    let mut m = Machine::bare(RAM, misaligned_trap);
    m.hart.engine = engine;
    m.bus.console = Box::new(NullConsole);
    let pattern: Vec<u8> = (0..RAM as u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    m.load_segment(RAM_BASE, &pattern, RAM).unwrap();
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
    let handler: Vec<u8> =
        [csrrs(31, 0x341, 0), addi(31, 31, 4), csrrw(0, 0x341, 31), MRET].iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(HANDLER, &handler, handler.len() as u64).unwrap();
    m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
    m.hart.x = x;
    m.hart.pc = CODE;
    m
}

/// Every load and store size through x10 at offsets -8..8 (`imm`), then x10 += 1, for `rounds`
/// rounds: x10 starts 24 bytes before `end`, so every size meets every alignment at, before and
/// across `end`. Loaded values are summed into x20 (and kept in x11..x17); stores write x18.
fn sweep(rounds: i32) -> Vec<u32> {
    let mut code = vec![addi(21, 0, rounds)];
    let body = code.len();
    for imm in [-8, -3, 0, 1, 5] {
        // lb lh lw ld lbu lhu lwu
        for (k, f3) in [0, 1, 2, 3, 4, 5, 6].into_iter().enumerate() {
            let rd = 11 + k as u32;
            code.push(i(imm, 10, f3, rd, 0x03));
            code.push(r(0, rd, 20, 0, 20, 0x33)); // add x20, x20, rd
        }
        // sb sh sw sd
        for f3 in 0..4 {
            code.push(s(imm + 2, 18, 10, f3));
        }
        code.push(addi(18, 18, 0x123));
    }
    code.push(addi(10, 10, 1));
    code.push(addi(21, 21, -1));
    let here = code.len();
    code.push(bne(-4 * (here - body) as i32, 0, 21));
    code.push(SPIN);
    code
}

fn lockstep(code: &[u32], x: [u64; 32], misaligned_trap: bool, seed: u64, what: &str) {
    let mut a = machine(Engine::Interp, code, x, misaligned_trap);
    let mut j = machine(Engine::Jit, code, x, misaligned_trap);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut done = 0;
    while done < 60_000 {
        let piece = 1 + rng.below(400);
        let (ea, ej) = (a.run(piece), j.run(piece));
        assert_eq!(ea, ej, "{what}: exit after {done}+{piece}");
        same(&mut a, &mut j, &format!("{what}: state after {done}+{piece} steps"));
        if ea != Exit::Budget {
            break;
        }
        done += piece;
    }
    // And in one run, where blocks run compiled end to end.
    let mut a = machine(Engine::Interp, code, x, misaligned_trap);
    let mut j = machine(Engine::Jit, code, x, misaligned_trap);
    assert_eq!(a.run(60_000), j.run(60_000), "{what}");
    same(&mut a, &mut j, &format!("{what}: one run"));
}

#[test]
fn every_access_size_at_every_offset_around_page_ends_matches_the_interpreter() {
    let before = jit::compiled_on_this_thread();
    let code = sweep(40);
    let ends = [
        RAM_BASE + 0x9000,            // between two RAM pages: misaligned accesses across it complete
        RAM_BASE + RAM,               // the end of RAM: across it they fault
        1 << 40,                      // nothing mapped
        1 << 63,
        0,                            // the top of the address space: va + size wraps to 0
    ];
    for (k, &end) in ends.iter().enumerate() {
        for misaligned_trap in [false, true] {
            let mut x = [0u64; 32];
            x[10] = end.wrapping_sub(24);
            x[18] = 0x0123_4567_89ab_cdef;
            lockstep(&code, x, misaligned_trap, k as u64 * 2 + misaligned_trap as u64, &format!("end {end:#x} trap {misaligned_trap}"));
        }
    }
    let compiled = jit::compiled_on_this_thread() - before;
    assert!(!Engine::jit_supported() || compiled >= 10, "only {compiled} blocks compiled");
}

/// Sv39 PTE flags.
const V: u64 = 1;
const RWXAD: u64 = 2 | 4 | 8 | 64 | 128;

#[test]
fn a_satp_write_and_sfence_between_two_accesses_of_a_compiled_block_take_effect_at_once() {
    // M-mode with MPRV (MPP = S): loads and stores go through satp, fetches do not. Two roots map
    // the 2 MiB at VA 0x4000_0000 to two different 2 MiB of RAM; each round loads through x10,
    // swaps satp (csrrw x12 <-> satp), fences, loads and stores through x10 again: the second
    // access must use the new mapping, although the first one just filled the TLB entry for
    // the same page under the old one.
    const RAM: u64 = 8 << 20;
    const VA: u64 = 0x4000_0000;
    let roots = [RAM_BASE + 0x10000, RAM_BASE + 0x12000];
    let frames = [RAM_BASE, RAM_BASE + 0x20_0000];
    let satp = |root: u64| 8 << 60 | root >> 12;
    let code = [
        addi(21, 0, 200),
        i(0, 10, 3, 5, 0x03),      // ld x5, 0(x10)
        csrrw(12, 0x180, 12),      // swap satp and x12
        SFENCE_VMA,
        i(0, 10, 3, 6, 0x03),      // ld x6, 0(x10)
        s(8, 21, 10, 3),           // sd x21, 8(x10)
        r(0, 5, 7, 0, 7, 0x33),    // add x7, x7, x5
        r(0, 6, 8, 0, 8, 0x33),    // add x8, x8, x6
        addi(21, 21, -1),
        bne(-32, 0, 21),
        SPIN,
    ];
    let mut seen = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        jit::set_threshold(1);
        let before = jit::compiled_on_this_thread();
        let mut m = Machine::bare(RAM, false);
        m.hart.engine = engine;
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.load_segment(CODE, &bytes, bytes.len() as u64).unwrap();
        m.load_segment(HANDLER, &SPIN.to_le_bytes(), 4).unwrap();
        for (k, &root) in roots.iter().enumerate() {
            let l1 = root + 0x1000;
            m.load_segment(root + 8 * (VA >> 30), &((l1 >> 12) << 10 | V).to_le_bytes(), 8).unwrap();
            m.load_segment(l1, &((frames[k] >> 12) << 10 | RWXAD | V).to_le_bytes(), 8).unwrap();
            // The loaded word (VA + 0x8000 in either mapping): 1000 + k.
            m.load_segment(frames[k] + 0x8000, &(1000 + k as u64).to_le_bytes(), 8).unwrap();
        }
        m.hart.csr_write(num::MTVEC, HANDLER).unwrap();
        m.hart.csr_write(0x180, satp(roots[0])).unwrap();
        let mstatus = m.hart.csr_read(num::MSTATUS, &m.bus).unwrap();
        m.hart.csr_write(num::MSTATUS, mstatus | 1 << 17 | 1 << 11).unwrap();
        m.hart.x[10] = VA + 0x8000;
        m.hart.x[12] = satp(roots[1]);
        m.hart.pc = CODE;
        assert_eq!(m.run(5000), Exit::Budget);
        assert_eq!(m.hart.pc, CODE + 40, "{engine:?}: no trap, the loop ran out");
        // Round k (k = 0..200) reads mapping k % 2 first and the other one second.
        assert_eq!((m.hart.x[7], m.hart.x[8]), (100 * 1000 + 100 * 1001, 100 * 1001 + 100 * 1000), "{engine:?}");
        let mut words = [0u8; 16];
        for f in frames {
            assert!(m.mem_read(f + 0x8008, &mut words[..8]));
            seen.push(u64::from_le_bytes(words[..8].try_into().unwrap()));
        }
        let compiled = jit::compiled_on_this_thread() - before;
        assert_eq!(compiled > 0, engine == Engine::Jit && Engine::jit_supported(), "{engine:?}: {compiled} compiled");
    }
    // The last store of each mapping: rounds 199 (x21 = 2, mapping 0 second... ) both engines alike.
    assert_eq!(seen[..2], seen[2..], "stores went to the same frames under both engines");
    assert_eq!(seen[..2], [1, 2], "round k stores x21 through the mapping it switched to");
}

#[test]
fn a_load_after_a_store_that_copied_its_page_reads_the_copy() {
    // Compiled code remembers, per base register, the page an access found in the TLB (its
    // page slot) until the next helper call. Each round loads 0(x10) and 8(x10) (the second hits
    // the TLB the first refilled, and records the page), adds one to the first word and
    // stores it back. After a checkpoint the page is shared with it, so that store copies the
    // page first: the next round's load must read the copy, not the checkpoint's frame, which
    // the slot named before the store.
    let code = [
        addi(21, 0, 100),
        i(0, 10, 3, 5, 0x03),   // ld x5, 0(x10)
        i(8, 10, 3, 6, 0x03),   // ld x6, 8(x10)
        addi(5, 5, 1),
        s(0, 5, 10, 3),         // sd x5, 0(x10)
        addi(21, 21, -1),
        bne(-20, 0, 21),
        SPIN,
    ];
    let mut finals = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let before = jit::compiled_on_this_thread();
        let mut x = [0u64; 32];
        x[10] = DATA;
        let mut m = machine(engine, &code, x, false);
        m.load_segment(DATA, &[0; 16], 16).unwrap();
        // Warm up: the loop block runs compiled from its second round on.
        assert_eq!(m.run(30), Exit::Budget);
        let mut checkpoints = Vec::new();
        while m.hart.pc != CODE + 28 {
            checkpoints.push(m.checkpoint().expect("a bare machine takes checkpoints"));
            assert_eq!(m.run(17), Exit::Budget);
        }
        let mut word = [0u8; 8];
        assert!(m.mem_read(DATA, &mut word));
        assert_eq!((u64::from_le_bytes(word), m.hart.x[5]), (100, 100), "{engine:?}");
        // The first checkpoint kept the word of its time (both engines stop at the same points).
        m.restore(&checkpoints[0]);
        assert!(m.mem_read(DATA, &mut word));
        finals.push((u64::from_le_bytes(word), checkpoints.len()));
        let compiled = jit::compiled_on_this_thread() - before;
        assert_eq!(compiled > 0, engine == Engine::Jit && Engine::jit_supported(), "{engine:?}: {compiled} compiled");
    }
    assert_eq!(finals[0], finals[1]);
}

#[test]
fn a_load_from_another_page_forgets_the_page_a_store_through_the_same_register_found() {
    // x10 points 8 bytes before the end of page A: each round stores to 8(x10) and 16(x10)
    // (the start of page B) around a load from 0(x10) (page A), all through x10. After a checkpoint B is written to a copy, at another host address
    // than A's page and B's old frame: the load's page slot must not leave the store's
    // recorded page (B) paired with A's host address, or the second store would write B's
    // old frame, which the checkpoint keeps.
    let code = [
        addi(21, 0, 100),
        s(8, 21, 10, 3),           // sd x21, 8(x10)
        i(0, 10, 3, 6, 0x03),      // ld x6, 0(x10)
        s(16, 21, 10, 3),          // sd x21, 16(x10)
        addi(21, 21, -1),
        bne(-16, 0, 21),
        SPIN,
    ];
    let mut seen = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let before = jit::compiled_on_this_thread();
        let mut x = [0u64; 32];
        x[10] = DATA + 4096 - 8;
        let mut m = machine(engine, &code, x, false);
        assert_eq!(m.run(40), Exit::Budget);
        let cp = m.checkpoint().expect("a bare machine takes checkpoints");
        let mut at_cp = [0u8; 16];
        assert!(m.mem_read(DATA + 4096, &mut at_cp));
        assert_eq!(m.run(10_000), Exit::Budget);
        assert_eq!(m.hart.pc, CODE + 24, "{engine:?}: the loop ran out");
        let mut live = [0u8; 16];
        assert!(m.mem_read(DATA + 4096, &mut live));
        assert_eq!(live, [[1u8, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]].concat()[..], "{engine:?}: last round's stores");
        m.restore(&cp);
        let mut kept = [0u8; 16];
        assert!(m.mem_read(DATA + 4096, &mut kept));
        assert_eq!(kept, at_cp, "{engine:?}: the checkpoint's copy of page B changed");
        let compiled = jit::compiled_on_this_thread() - before;
        assert_eq!(compiled > 0, engine == Engine::Jit && Engine::jit_supported(), "{engine:?}: {compiled} compiled");
        seen.push(at_cp);
    }
    assert_eq!(seen[0], seen[1]);
}
