//! Copy-on-write as a fork instance observes it. Within one run, an instance reads a template
//! page (the hart's TLB then points at the shared frame), writes it (the frame is copied), and
//! reads it back: it must see its own write. The same for a code page: execute a function,
//! overwrite its first instruction, `fence.i`, execute again: new behaviour. The template and a
//! sibling instance, run while the first one waits in an OCALL, still see the original page.
mod support;

use pltvm_core::monitor::consts::{fid, PAGE};
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::monitor::{BufferHost, Config, EnclaveCell, Entry, Monitor, RunExit, RunOutcome, RunRequest};
use std::sync::Arc;
use support::*;

/// The template's data word at 0x2000.
const DATA: u64 = 0x0123_4567_89AB_CDEF;
/// Where the function `f` starts (offset in the code page at 0x1000).
const F_OFF: usize = 0x800;
/// `f`'s first instruction in the template, and what the instance overwrites it with.
fn old_insn() -> u32 {
    addi(A0, ZERO, 1)
}
fn new_insn() -> u32 {
    addi(A0, ZERO, 2)
}
const HOST_OCALL: u64 = 100;

/// Results land in shm words: 0 data read, 1 data after the write, 2 f() before, 3 f's first
/// word read as data before, 4 after the overwrite, 5 f() after fence.i, then (after the host
/// OCALL) 6 the data word again, 7 f() again. Exits with the OCALL's result.
fn program() -> Vec<u32> {
    let mut c = vec![
        addi(S0, A0, 0),
        lui(T0, 0x2), // t0 = 0x2000: the template's data page
        ld(T1, 0, T0),
        sd(T1, 0, S0),
        xori(T2, T1, -1),
        sd(T2, 0, T0), // first write: the frame is copied
        ld(T3, 0, T0),
        sd(T3, 8, S0),
    ];
    let call_f = |c: &mut Vec<u32>| {
        let here = 4 * c.len() as i32;
        c.push(jal(RA, F_OFF as i32 - here));
    };
    call_f(&mut c);
    c.push(sd(A0, 16, S0));
    c.extend([lui(T0, 0x2), addi(T0, T0, F_OFF as i32 - 0x1000)]); // t0 = &f
    c.extend([lwu(T4, 0, T0), sd(T4, 24, S0)]);
    c.extend(li32(T1, new_insn() as i32));
    c.push(sw(T1, 0, T0)); // first write to the code page: copied too
    c.extend([lwu(T4, 0, T0), sd(T4, 32, S0), FENCE_I]);
    call_f(&mut c);
    c.push(sd(A0, 40, S0));
    c.extend([addi(A0, ZERO, HOST_OCALL as i32), addi(A1, ZERO, 1), addi(A2, ZERO, 2), addi(A3, ZERO, 3)]);
    c.extend(penglai(fid::OCALL));
    c.extend([addi(S1, A0, 0), lui(T0, 0x2), ld(T1, 0, T0), sd(T1, 48, S0)]);
    call_f(&mut c);
    c.extend([sd(A0, 56, S0), addi(A0, S1, 0)]);
    c.extend(penglai(fid::EXIT));
    assert!(4 * c.len() <= F_OFF);
    c.resize(F_OFF / 4, 0);
    c.extend([old_insn(), ret()]);
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

fn words(out: &RunOutcome, n: usize) -> Vec<u64> {
    (0..n).map(|i| word(out.shm.as_ref().unwrap(), i)).collect()
}

/// What every instance's first run stores: the template's values, then its own.
fn first_run_words() -> Vec<u64> {
    vec![DATA, !DATA, 1, old_insn() as u64, new_insn() as u64, 2]
}

/// Runs a whole instance (answering its OCALL with `reply`) and checks everything it saw.
fn run_whole(m: &Monitor, cell: &EnclaveCell, reply: u64) {
    let out = run(m, cell, Entry::Start { relay: None });
    assert_eq!(out.exit, RunExit::Ocall { id: HOST_OCALL, args: [1, 2, 3] });
    assert_eq!(words(&out, 6), first_run_words());
    let out = run(m, cell, Entry::OcallReturn(reply));
    assert_eq!(words(&out, 8)[6..], [!DATA, 2]);
    assert_eq!(out.exit, RunExit::Exited { retval: reply });
}

/// The template's own view of `va` (its page table, its frames).
fn template_bytes(template: &EnclaveCell, va: u64, n: usize) -> Vec<u8> {
    template.try_inner().unwrap().as_mut().unwrap().read_va(va, n).unwrap()
}

#[test]
fn an_instance_sees_its_own_writes_and_code_others_keep_the_template() {
    let m = Monitor::new(Config::default());
    let template = m.create(&elf(&program(), &DATA.to_le_bytes()), &shadow_params("tpl")).unwrap();
    let a = fork(&m, &template, "a");
    let b = fork(&m, &template, "b");

    // A: everything in its first run, then it waits for the host.
    let out = run(&m, &a, Entry::Start { relay: None });
    assert_eq!(out.exit, RunExit::Ocall { id: HOST_OCALL, args: [1, 2, 3] });
    assert_eq!(words(&out, 6), first_run_words(), "instance A, first run");

    // Meanwhile B (forked before A ran) and the template see the original pages.
    run_whole(&m, &b, 0xB0B0_0000_0000_000B);
    assert_eq!(template_bytes(&template, 0x2000, 8), DATA.to_le_bytes());
    assert_eq!(template_bytes(&template, 0x1000 + F_OFF as u64, 4), old_insn().to_le_bytes());

    // A keeps its copies across the wait (caches were released, the frames are its own).
    let out = run(&m, &a, Entry::OcallReturn(0xA000_0000_0000_000A));
    assert_eq!(words(&out, 8)[6..], [!DATA, 2], "instance A after its OCALL");
    assert_eq!(out.exit, RunExit::Exited { retval: 0xA000_0000_0000_000A });

    // A fork made after all that starts from the template again.
    let c = fork(&m, &template, "c");
    run_whole(&m, &c, 0xC);
    assert_eq!(template_bytes(&template, 0x2000, 8), DATA.to_le_bytes());
}
