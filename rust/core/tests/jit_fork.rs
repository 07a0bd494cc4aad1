//! Compiled code is shared between the forks of a shadow template (compile once per template):
//! N instances running the same hot loop compile it once, the later ones reuse that code; an
//! instance that rewrites the loop (copy-on-write of its code page) compiles its own code and
//! its siblings keep running the original.
//!
//! Its own test binary (process): the code cache is process-wide, so no other test may compile
//! these blocks first. Counts are per thread, and `Monitor::run` runs on the caller's thread.
mod support;

use pltvm_core::jit::{self, Engine};
use pltvm_core::monitor::consts::{fid, PAGE};
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::monitor::{BufferHost, Config, EnclaveCell, Entry, Monitor, RunExit, RunOutcome, RunRequest};
use std::sync::Arc;
use support::*;

const HOST_OCALL: u64 = 100;
/// `f` starts here (offset in the code page at 0x1000); its loop at `F_OFF + 8`.
const F_OFF: i32 = 0x800;
const ROUNDS: i32 = 777;
/// The loop adds this every round; an instance may rewrite it (see `program`).
const STEP: i32 = 37;
const NEW_STEP: i32 = 41;

fn b_type(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let o = imm as u32 & 0x1fff;
    ((o >> 12) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12)
        | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63
}
fn beq(rs1: u32, rs2: u32, off: i32) -> u32 {
    b_type(off, rs2, rs1, 0)
}
fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    b_type(off, rs2, rs1, 1)
}

/// shm word 0 = f(), then a host OCALL whose answer, if not 0, is written over f's loop
/// instruction `addi a0, a0, STEP` (a store to the code page: the instance gets its own copy
/// of the frame), `fence.i`, shm word 1 = f() again. f() loops ROUNDS times adding STEP.
fn program() -> Vec<u32> {
    let mut c = vec![addi(S0, A0, 0)];
    let call_f = |c: &mut Vec<u32>| {
        let here = 4 * c.len() as i32;
        c.push(jal(RA, F_OFF - here));
    };
    call_f(&mut c);
    c.push(sd(A0, 0, S0));
    c.extend([addi(A0, ZERO, HOST_OCALL as i32), addi(A1, ZERO, 1), addi(A2, ZERO, 2), addi(A3, ZERO, 3)]);
    c.extend(penglai(fid::OCALL));
    c.push(beq(A0, ZERO, 16)); // no rewrite: skip the three instructions that do it
    c.extend([lui(T0, 0x2), addi(T0, T0, F_OFF + 8 - 0x1000), sw(A0, 0, T0)]);
    c.push(FENCE_I);
    call_f(&mut c);
    c.extend([sd(A0, 8, S0), addi(A0, ZERO, 0)]);
    c.extend(penglai(fid::EXIT));
    assert!(4 * c.len() <= F_OFF as usize);
    c.resize(F_OFF as usize / 4, 0);
    c.extend([
        addi(T1, ZERO, ROUNDS),
        addi(A0, ZERO, 0),
        addi(A0, A0, STEP), // the loop: one block that jumps back to itself
        addi(T1, T1, -1),
        bne(T1, ZERO, -8),
        ret(),
    ]);
    c
}

fn fork(m: &Monitor, template: &EnclaveCell, name: &str) -> Arc<EnclaveCell> {
    let p = ForkParams { name: support::name(name), shm: Some(vec![0u8; PAGE as usize]), persistency: None };
    let cell = m.fork(template, &p).unwrap();
    cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![HOST_OCALL];
    cell
}

fn run(m: &Monitor, cell: &EnclaveCell, entry: Entry) -> RunOutcome {
    let cell = m.lookup(cell.id).unwrap();
    m.run(&cell, RunRequest { entry, shm: None, budget: None }, &mut BufferHost::default())
}

/// Runs a fresh instance answering `reply`; returns its two f() results and the blocks it
/// compiled and reused.
fn instance(m: &Monitor, template: &EnclaveCell, name: &str, reply: u32) -> ([u64; 2], u64, u64) {
    let cell = fork(m, template, name);
    let (c0, r0) = (jit::compiled_on_this_thread(), jit::reused_on_this_thread());
    let out = run(m, &cell, Entry::Start { relay: None });
    assert_eq!(out.exit, RunExit::Ocall { id: HOST_OCALL, args: [1, 2, 3] }, "{name}");
    let out = run(m, &cell, Entry::OcallReturn(reply as u64));
    assert_eq!(out.exit, RunExit::Exited { retval: 0 }, "{name}");
    let shm = out.shm.as_ref().unwrap();
    ([word(shm, 0), word(shm, 1)], jit::compiled_on_this_thread() - c0, jit::reused_on_this_thread() - r0)
}

#[test]
fn forks_compile_a_hot_loop_once_and_a_rewriting_fork_compiles_its_own() {
    assert!(Engine::jit_supported(), "this host compiles (x86-64 or aarch64)");
    // Compiles on this thread when the threshold is reached: the counts below must not depend
    // on the background worker's timing (jit_worker.rs tests sharing with the worker).
    jit::set_background(false);
    let m = Monitor::new(Config { engine: Engine::Jit, ..Config::default() });
    let template = m.create(&elf(&program(), &[]), &shadow_params("tpl")).unwrap();
    let old = (ROUNDS * STEP) as u64;
    let new = (ROUNDS * NEW_STEP) as u64;

    // The first instance compiles the loop (it runs ROUNDS > THRESHOLD times per call).
    let (r, compiled, _) = instance(&m, &template, "first", 0);
    assert_eq!(r, [old, old]);
    assert!(compiled >= 1, "the first instance compiled its hot loop ({compiled})");

    // Every later instance reuses that code: nothing compiled.
    for k in 0..4 {
        let (r, compiled, reused) = instance(&m, &template, &format!("same{k}"), 0);
        assert_eq!(r, [old, old], "instance {k}");
        assert_eq!(compiled, 0, "instance {k} compiled nothing");
        assert!(reused >= 1, "instance {k} reused the template's compiled loop ({reused})");
    }

    // An instance that rewrites the loop compiles the new loop (only that block) and runs it.
    let (r, compiled, _) = instance(&m, &template, "rewriter", addi(A0, A0, NEW_STEP));
    assert_eq!(r, [old, new]);
    assert_eq!(compiled, 1, "the rewritten loop is compiled for the rewriting instance");

    // Its siblings still run the original loop from the shared code, compiling nothing.
    let (r, compiled, reused) = instance(&m, &template, "after", 0);
    assert_eq!(r, [old, old]);
    assert_eq!((compiled, reused >= 1), (0, true));

    // The template's code page was never written.
    let t = template.try_inner().unwrap().as_mut().unwrap().read_va(0x1000 + F_OFF as u64 + 8, 4).unwrap();
    assert_eq!(t, addi(A0, A0, STEP).to_le_bytes());

    // A second instance writing the same new code gets the same code as the first rewriter.
    let (r, compiled, _) = instance(&m, &template, "rewriter2", addi(A0, A0, NEW_STEP));
    assert_eq!(r, [old, new]);
    assert_eq!(compiled, 0, "identical new code is shared too");
}

#[test]
fn the_interpreter_engine_compiles_nothing() {
    let m = Monitor::new(Config { engine: Engine::Interp, ..Config::default() });
    let template = m.create(&elf(&program(), &[]), &shadow_params("tpl")).unwrap();
    let (r, compiled, reused) = instance(&m, &template, "interp", addi(A0, A0, NEW_STEP));
    assert_eq!(r, [(ROUNDS * STEP) as u64, (ROUNDS * NEW_STEP) as u64]);
    assert_eq!((compiled, reused), (0, 0));
}
