//! The background compiler (jit/worker.rs): code compiled on the worker is shared by content
//! across forks (compiled once per template), the queue stays bounded when a program keeps
//! making new hot blocks, and a hart dropped while its compile is pending is fine (the code
//! still lands in the shared table). That results equal the interpreter's whatever the
//! worker's timing is, is checked in jit_diff.rs (random region programs at budget cuts).
//!
//! Its own test binary (process): the worker, its queue and the code table are process-wide,
//! so these tests hold one lock and no other test compiles meanwhile. Each test picks the
//! background mode for its own thread (`jit::set_background(true)`).
mod support;

use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine, RAM_BASE};
use pltvm_core::monitor::consts::fid;
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::monitor::{BufferHost, Config, EnclaveCell, Entry, Monitor, RunExit, RunRequest};
use std::sync::Mutex;
use support::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32 & 0x1fff;
    ((o >> 12) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (1 << 12)
        | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63
}

const SPIN: u32 = 0x0000_006f; // jal x0, 0

/// `loops` loops one after the other, each `rounds` rounds of `a0 += k` (a different `k`
/// per loop, so each loop block is a region of its own content), then a spin.
fn many_loops(loops: usize, rounds: i32, first_k: i32) -> Vec<u32> {
    let mut c = vec![addi(A0, ZERO, 0)];
    for l in 0..loops {
        c.push(addi(T1, ZERO, rounds));
        c.extend([addi(A0, A0, first_k + l as i32), addi(T1, T1, -1), bne(T1, ZERO, -8)]);
    }
    c.push(SPIN);
    c
}

fn machine(engine: Engine, code: &[u32]) -> Machine {
    let mut m = Machine::bare(1 << 20, false);
    m.hart.engine = engine;
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(RAM_BASE, &bytes, bytes.len() as u64).unwrap();
    m.hart.pc = RAM_BASE;
    m
}

/// Runs both machines to the spin at the end of `code` in equal pieces, comparing registers,
/// pc and counts after each; calls `between` after each piece.
fn lockstep(i: &mut Machine, j: &mut Machine, code: &[u32], mut between: impl FnMut()) {
    let end = RAM_BASE + 4 * (code.len() as u64 - 1);
    while i.hart.pc != end {
        assert_eq!(i.run(97), Exit::Budget);
        assert_eq!(j.run(97), Exit::Budget);
        assert_eq!((i.hart.x, i.hart.pc, i.hart.retired), (j.hart.x, j.hart.pc, j.hart.retired));
        between();
    }
}

#[test]
fn the_queue_stays_bounded_when_a_program_keeps_making_hot_blocks() {
    let _one = serial();
    if !Engine::jit_supported() {
        return;
    }
    jit::set_threshold(4);
    jit::set_background(true);
    // 300 loops of 20 rounds: 300 hot blocks of distinct content, all reaching the threshold
    // while the worker takes nothing (paused), so every one of them asks to be queued.
    let code = many_loops(300, 20, 1);
    let (mut i, mut j) = (machine(Engine::Interp, &code), machine(Engine::Jit, &code));
    jit::pause_worker(true);
    let mut most = 0;
    lockstep(&mut i, &mut j, &code, || most = most.max(jit::pending_compiles()));
    most = most.max(jit::pending_compiles());
    let expect: u64 = (0..300).map(|l| 20 * (1 + l)).sum();
    assert_eq!(j.hart.x[A0 as usize], expect);
    assert_eq!(most, jit::QUEUE_CAP, "the queue filled up to its bound and no further");
    // Resumed, the worker compiles what was queued; the blocks turned away took nothing.
    jit::pause_worker(false);
    jit::drain();
    assert_eq!(jit::pending_compiles(), 0);
    // The program again: the queued regions are in the table now, the rest queue then.
    let before = jit::reused_on_this_thread();
    let (mut i, mut k) = (machine(Engine::Interp, &code), machine(Engine::Jit, &code));
    lockstep(&mut i, &mut k, &code, || {});
    assert!(jit::reused_on_this_thread() - before >= jit::QUEUE_CAP as u64);
    jit::drain();
}

#[test]
fn a_hart_dropped_while_its_compile_is_pending_leaves_the_code_to_others() {
    let _one = serial();
    if !Engine::jit_supported() {
        return;
    }
    jit::set_threshold(4);
    jit::set_background(true);
    let code = many_loops(3, 50, 1001);
    jit::pause_worker(true);
    let mut j = machine(Engine::Jit, &code);
    let mut i = machine(Engine::Interp, &code);
    lockstep(&mut i, &mut j, &code, || {});
    let pending = jit::pending_compiles();
    assert!(pending >= 3, "the three loops are queued ({pending})");
    drop(j);
    let s0 = jit::stats();
    jit::pause_worker(false);
    jit::drain();
    let s1 = jit::stats();
    assert_eq!(jit::pending_compiles(), 0);
    assert_eq!(s1.compiled - s0.compiled, pending as u64, "the worker compiled every queued job");
    assert_eq!(s1.background - s0.background, pending as u64);
    // Another hart finds that code: it compiles nothing.
    let (c0, r0) = (jit::compiled_on_this_thread(), jit::reused_on_this_thread());
    let mut k = machine(Engine::Jit, &code);
    let mut i = machine(Engine::Interp, &code);
    lockstep(&mut i, &mut k, &code, || {});
    jit::drain();
    assert_eq!(jit::stats().compiled, s1.compiled, "nothing compiled again");
    assert_eq!(jit::compiled_on_this_thread(), c0);
    assert!(jit::reused_on_this_thread() - r0 >= 3);
}

// --- Forks of a shadow template (as jit_fork.rs, with the compiles on the worker). ---

const ROUNDS: i32 = 1500;
/// Not a step of `many_loops` above, whose loops would otherwise have compiled this one.
const STEP: i32 = 555;

/// a0 = f(), exit with it; f loops ROUNDS times adding STEP. It starts with `fence.i`: a fork
/// may run on the recycled hart of an earlier one (monitor/shadow.rs keeps its decoded code),
/// and this makes it decode, and look up compiled code, anew.
fn loop_enclave() -> Vec<u32> {
    let mut c = vec![FENCE_I, jal(RA, 0x100 - 4)];
    c.extend(penglai(fid::EXIT));
    c.resize(0x100 / 4, 0);
    c.extend([addi(T1, ZERO, ROUNDS), addi(A0, ZERO, 0), addi(A0, A0, STEP), addi(T1, T1, -1), bne(T1, ZERO, -8), ret()]);
    c
}

fn run_fork(m: &Monitor, template: &EnclaveCell, name: &str) -> RunExit {
    let p = ForkParams { name: support::name(name), shm: None, persistency: None };
    let cell = m.fork(template, &p).unwrap();
    let cell = m.lookup(cell.id).unwrap();
    let req = RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: None };
    m.run(&cell, req, &mut BufferHost::default()).exit
}

#[test]
fn forks_share_the_code_the_worker_compiled_once() {
    let _one = serial();
    if !Engine::jit_supported() {
        return;
    }
    jit::set_background(true);
    let m = Monitor::new(Config { engine: Engine::Jit, ..Config::default() });
    let template = m.create(&elf(&loop_enclave(), &[]), &shadow_params("tpl")).unwrap();
    let want = RunExit::Exited { retval: (ROUNDS * STEP) as u64 };
    let s0 = jit::stats();
    assert_eq!(run_fork(&m, &template, "first"), want);
    jit::drain();
    let s1 = jit::stats();
    let compiled = s1.compiled - s0.compiled;
    assert!(compiled >= 1, "the first fork queued its hot loop and the worker compiled it");
    assert_eq!(s1.background - s0.background, compiled, "on the worker");
    for k in 0..4 {
        let r0 = jit::reused_on_this_thread();
        assert_eq!(run_fork(&m, &template, &format!("fork{k}")), want);
        jit::drain();
        assert_eq!(jit::stats().compiled, s1.compiled, "fork {k} compiled nothing");
        assert!(jit::reused_on_this_thread() > r0, "fork {k} ran the worker's code");
    }
}
