//! Snapshots: forks resume after the OCALL with the chosen result, isolated from each other and
//! from the source; measurement and accounting; every refusal.
use super::super::consts::*;
use super::super::enclave::CreateParams;
use super::super::run::{BufferHost, Entry, RunExit, RunRequest};
use super::super::shadow::ForkParams;
use super::super::test_support::elf_with_data as elf;
use super::super::test_support::*;
use super::super::{Config, Monitor, State};
use super::*;
use std::sync::Arc;

fn li_sbi(code: &mut Vec<u32>, fid: i32) {
    code.extend([lui(16, 0x100), addi(16, 16, 0x101), addi(17, 0, fid)]);
}

/// `a0` = the FUZZ_INPUT id (0x504C_0001), then the OCALL.
fn fuzz_ocall(code: &mut Vec<u32>) {
    code.extend([lui(10, 0x504C0), addi(10, 10, 1)]);
    li_sbi(code, 98);
    code.push(ECALL);
}

fn exit_with(code: &mut Vec<u32>, reg: u32) {
    code.push(addi(10, reg, 0));
    li_sbi(code, 99);
    code.push(ECALL);
}

/// Init: global at 0x2000 := 7, stack word at sp-8 := 7, s1 := a0 (the shm base). OCALL.
/// After it: global += 1, exit with a0 (the OCALL's result) + global + stack word + the shm's
/// first word (0 without shm) — `result + 15 + shm[0]` in a fork that sees only its own state.
fn program() -> Vec<u8> {
    let mut c = vec![addi(9, 10, 0), lui(5, 0x2), addi(6, 0, 7), sd(6, 0, 5), sd(6, -8, 2)];
    fuzz_ocall(&mut c);
    c.extend([ld(7, 0, 5), addi(7, 7, 1), sd(7, 0, 5), ld(28, -8, 2), add(7, 7, 28), add(7, 7, 10)]);
    // shm word: only when s1 != 0 (beq s1, x0, +8 skips the load).
    c.extend([beq(9, 0, 12), ld(29, 0, 9), add(7, 7, 29)]);
    exit_with(&mut c, 7);
    elf(&c, &[0u8; 8])
}

fn params(name: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    n
}

fn shadow(m: &Monitor, code: &[u8]) -> Arc<EnclaveCell> {
    let p = CreateParams { name: [0; 16], kind: SHADOW_ENCLAVE, stack_size: 0, shm: None, persistency: None };
    m.create(code, &p).unwrap()
}

fn run(m: &Monitor, c: &Arc<EnclaveCell>, entry: Entry) -> RunExit {
    m.run(c, RunRequest { entry, shm: None, budget: None }, &mut BufferHost::default()).exit
}

/// A fork of the program's template paused in its OCALL.
fn paused(m: &Monitor, t: &EnclaveCell, shm: Option<Vec<u8>>) -> Arc<EnclaveCell> {
    let f = m.fork(t, &ForkParams { name: params("src"), shm, persistency: None }).unwrap();
    f.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![FUZZ_INPUT];
    let exit = run(m, &f, Entry::Start { relay: None });
    assert!(matches!(exit, RunExit::Ocall { id: FUZZ_INPUT, .. }), "{exit:?}");
    assert_eq!(f.state(), State::Ocalling);
    f
}

fn snap(m: &Monitor, c: &Arc<EnclaveCell>, result: u64) -> Result<Arc<EnclaveCell>, SnapshotError> {
    m.snapshot(c, &SnapshotParams { name: params("snap"), ocall_result: result, ..SnapshotParams::default() })
}

fn fork(m: &Monitor, s: &EnclaveCell, shm: Option<Vec<u8>>) -> Result<Arc<EnclaveCell>, CreateError> {
    m.fork(s, &ForkParams { name: [0; 16], shm, persistency: None })
}

#[test]
fn forks_resume_after_the_ocall_with_the_result_and_are_isolated() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &program());
    let src = paused(&m, &t, None);
    let s = snap(&m, &src, 100).unwrap();
    assert_eq!((s.kind, s.state()), (SHADOW_ENCLAVE, State::Fresh));
    let pc = m.snapshot_of(&s).unwrap().pc();
    let forks: Vec<_> = (0..4).map(|_| fork(&m, &s, None).unwrap()).collect();
    for f in &forks {
        assert_eq!(f.state(), State::Runnable, "a snapshot's fork continues; it is not FRESH");
        assert_eq!(f.shadow_of, Some(s.id));
        let g = f.try_inner().unwrap();
        let e = g.as_ref().unwrap();
        assert_eq!((e.hart.pc, e.hart.x[10], e.hart.x[5]), (pc, 100, 0x2000), "registers of the paused OCALL");
    }
    // Each fork: global 7 -> 8, stack word 7, result 100: 115; never a sibling's 8 -> 9.
    for f in &forks {
        assert_eq!(run(&m, f, Entry::Continue), RunExit::Exited { retval: 115 });
    }
    // The batch and one-at-a-time paths resume too (they pick Entry::Continue).
    let mut exits = Vec::new();
    m.fork_run_destroy_each(&s, &ForkParams::default(), None, 3, &mut BufferHost::default(), &mut |x| exits.push(x.clone()))
        .unwrap();
    assert_eq!(exits, vec![RunExit::Exited { retval: 115 }; 3]);
    let mut hart = None;
    let out = m.fork_run_one(&s, &ForkParams::default(), Some(1000), &mut BufferHost::default(), &mut hart).unwrap();
    assert_eq!(out.exit, RunExit::Exited { retval: 115 });
    assert!(out.instret < 20, "a fork runs only what follows the OCALL ({} instructions)", out.instret);
    // Fork's relay region would be silently lost: refused.
    assert!(m.fork_run_destroy_each(&s, &ForkParams::default(), Some(&[0u8; 4096]), 1, &mut BufferHost::default(), &mut |_| {}).is_err());
    // Forks hand the source's OCALL ids to their host, unless the snapshot says otherwise.
    assert_eq!(forks[0].try_inner().map(|_| ()).err(), Some(false), "gone after its exit");
    let f = fork(&m, &s, None).unwrap();
    assert_eq!(f.try_inner().unwrap().as_ref().unwrap().user_ocalls, vec![FUZZ_INPUT]);
    let quiet = m.snapshot(&src, &SnapshotParams { user_ocalls: Some(Vec::new()), ..SnapshotParams::default() }).unwrap();
    assert!(fork(&m, &quiet, None).unwrap().try_inner().unwrap().as_ref().unwrap().user_ocalls.is_empty());
    // The source is untouched by all of that: it continues with its own answer.
    assert_eq!(run(&m, &src, Entry::OcallReturn(5)), RunExit::Exited { retval: 20 });
    // And the snapshot is untouched by the source's run.
    assert_eq!(run(&m, &fork(&m, &s, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 115 });
    assert_eq!(run(&m, &fork(&m, &s, None).unwrap(), Entry::Start { relay: None }), RunExit::Refused("the enclave is RUNNABLE and cannot be run this way".into()));
}

#[test]
fn shm_forks_get_their_own_contents_and_sizes_are_checked() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &program());
    let mut shm = vec![0u8; 0x2000];
    shm[0] = 3;
    let src = paused(&m, &t, Some(shm));
    let s = snap(&m, &src, 0).unwrap();
    // No contents: the snapshot's (3).
    assert_eq!(run(&m, &fork(&m, &s, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 18 });
    for v in [0u8, 1, 200] {
        let mut c = vec![0u8; 0x2000];
        c[0] = v;
        let f = fork(&m, &s, Some(c)).unwrap();
        let out = m.run(&f, RunRequest { entry: Entry::Continue, shm: None, budget: None }, &mut BufferHost::default());
        assert_eq!(out.exit, RunExit::Exited { retval: 15 + v as u64 });
        assert_eq!(out.shm.unwrap()[0], v);
    }
    assert_eq!(run(&m, &fork(&m, &s, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 18 }, "snapshot shm unchanged");
    for bad in [0x1000usize, 0x3000, 0x10000] {
        assert!(matches!(fork(&m, &s, Some(vec![0; bad])), Err(CreateError::Limit(_))), "{bad:#x}");
    }
    // Snapshot contents replaced at the snapshot (the host's view of its shm).
    let mut c = vec![0u8; 0x2000];
    c[0] = 9;
    let s2 = m.snapshot(&src, &SnapshotParams { shm: Some(c), ..SnapshotParams::default() }).unwrap();
    assert_eq!(run(&m, &fork(&m, &s2, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 24 });
    assert!(matches!(
        m.snapshot(&src, &SnapshotParams { shm: Some(vec![0; 0x1000]), ..SnapshotParams::default() }),
        Err(SnapshotError::Refused(_))
    ));
    // Without shm: a fork given one is refused.
    let src2 = paused(&m, &t, None);
    let s3 = snap(&m, &src2, 0).unwrap();
    assert!(matches!(fork(&m, &s3, Some(vec![0; 0x1000])), Err(CreateError::Param(_))));
    assert!(matches!(
        m.snapshot(&src2, &SnapshotParams { shm: Some(vec![0; 0x1000]), ..SnapshotParams::default() }),
        Err(SnapshotError::Refused(_))
    ));
}

#[test]
fn a_snapshot_is_measured_afresh_and_never_reports_the_original() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &program());
    let src = paused(&m, &t, None);
    let s = snap(&m, &src, 0).unwrap();
    assert_ne!(s.measurement, t.measurement);
    assert_ne!(s.measurement, src.measurement, "the source reports its template's hash, the snapshot not");
    {
        let mut g = src.try_inner().unwrap();
        let e = g.as_mut().unwrap();
        assert_eq!(s.measurement, super::super::measure::measure(&e.bus, e.root, e.entry, 0), "the paused address space");
    }
    let f = fork(&m, &s, None).unwrap();
    assert_eq!(f.measurement, s.measurement);
    assert_eq!(f.try_inner().unwrap().as_ref().unwrap().measurement, s.measurement, "keys derive from it too");
    assert_eq!(m.stop(&f), 0);
    let r = m.attest(&f, 77).unwrap();
    assert_eq!(r.enclave_hash, m.attest_hash(&s.measurement, 77).unwrap().enclave_hash);
    assert_ne!(r.enclave_hash, m.attest_hash(&t.measurement, 77).unwrap().enclave_hash);
    assert_eq!(m.attest(&s, 1).unwrap().enclave_hash, m.attest_hash(&s.measurement, 1).unwrap().enclave_hash);
    // Same paused state, same measurement (a second snapshot of the same source).
    assert_eq!(snap(&m, &src, 0).unwrap().measurement, s.measurement);
}

#[test]
fn refused_snapshots_change_nothing() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &program());
    let used = m.secure_memory_used();
    let ids = m.ids();
    // A template, a FRESH fork, a RUNNABLE one (budget), a STOPPED one, a gone one.
    assert!(matches!(snap(&m, &t, 0), Err(SnapshotError::State(_))));
    let f = fork(&m, &t, None).unwrap();
    assert!(matches!(snap(&m, &f, 0), Err(SnapshotError::State(m)) if m.contains("FRESH")));
    let out = m.run(&f, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(2) }, &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Budget);
    assert!(matches!(snap(&m, &f, 0), Err(SnapshotError::State(m)) if m.contains("RUNNABLE")));
    assert_eq!(m.stop(&f), 0);
    assert!(matches!(snap(&m, &f, 0), Err(SnapshotError::State(m)) if m.contains("STOPPED")));
    assert_eq!(m.destroy(&f), 0);
    assert!(matches!(snap(&m, &f, 0), Err(SnapshotError::Gone)));
    // Holding relay regions in a host OCALL, then paused in a relay-page return (OCALL 7).
    let mut c = Vec::new();
    fuzz_ocall(&mut c);
    c.push(addi(10, 0, 7));
    li_sbi(&mut c, 98);
    c.push(ECALL);
    exit_with(&mut c, 0);
    let rt = shadow(&m, &elf(&c, &[]));
    let r = fork(&m, &rt, None).unwrap();
    r.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![FUZZ_INPUT];
    assert!(matches!(run(&m, &r, Entry::Start { relay: Some(vec![1; 4096]) }), RunExit::Ocall { id: FUZZ_INPUT, .. }));
    assert!(matches!(snap(&m, &r, 0), Err(SnapshotError::Refused(m)) if m.contains("relay")));
    assert_eq!(run(&m, &r, Entry::OcallReturn(0)), RunExit::Relay);
    assert!(matches!(snap(&m, &r, 0), Err(SnapshotError::State(m)) if m.contains("relay")));
    assert_eq!(m.destroy(&r), 0);
    // A running one (another thread spins in it).
    let spin = shadow(&m, &elf(&[SPIN], &[]));
    let sp = fork(&m, &spin, None).unwrap();
    std::thread::scope(|scope| {
        let h = scope.spawn(|| run(&m, &sp, Entry::Start { relay: None }));
        while sp.state() != State::Running {
            std::thread::yield_now();
        }
        assert!(matches!(snap(&m, &sp, 0), Err(SnapshotError::State(m)) if m.contains("RUNNING")));
        assert_eq!(m.destroy(&sp), 0);
        assert_eq!(h.join().unwrap(), RunExit::Destroyed);
    });
    assert_eq!(m.destroy(&spin), 0);
    assert_eq!(m.destroy(&rt), 0);
    // Paused in an OCALL but its machine state held (a host reading its memory): Busy.
    let src = paused(&m, &t, None);
    {
        let _held = src.try_inner().unwrap();
        assert!(matches!(snap(&m, &src, 0), Err(SnapshotError::Busy)));
    }
    assert_eq!(m.destroy(&src), 0);
    assert_eq!(m.secure_memory_used(), used, "nothing leaked");
    assert_eq!(m.ids(), ids);
}

#[test]
fn destroying_the_source_or_templates_keeps_snapshots_and_forks_and_nothing_leaks() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &program());
    let src = paused(&m, &t, Some(vec![0; 0x1000]));
    let s1 = snap(&m, &src, 1).unwrap();
    let s2 = snap(&m, &src, 2).unwrap();
    assert_ne!(s1.id, s2.id, "a repeated snapshot is a template of its own");
    let live = fork(&m, &s1, None).unwrap();
    assert_eq!(m.destroy(&src), 0);
    assert_eq!(m.destroy(&t), 0);
    assert_eq!(run(&m, &fork(&m, &s1, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 16 });
    assert_eq!(run(&m, &fork(&m, &s2, None).unwrap(), Entry::Continue), RunExit::Exited { retval: 17 });
    // A snapshot of a snapshot's fork paused again (nested): the fork pauses in no OCALL here,
    // so take one of a fresh source from a new template instead and chain it.
    assert_eq!(m.destroy(&s1), 0);
    assert!(fork(&m, &s1, None).is_err(), "a destroyed snapshot cannot be forked");
    assert_eq!(run(&m, &live, Entry::Continue), RunExit::Exited { retval: 16 }, "its live fork runs on");
    assert_eq!(m.destroy(&s2), 0);
    assert_eq!(m.secure_memory_used(), 0);
    assert_eq!(m.ids(), Vec::<u32>::new());
    let st = m.stats();
    assert_eq!((st.templates, st.enclaves), (0, 0));
}

/// Init grows the heap (OCALL_SBRK 4096: one 2-page block), writes 5 to it, pauses; after the
/// OCALL it adds the heap word to the result, writes the heap and shrinks the heap back
/// (sbrk(-4096) releases the inherited block), then exits with the sum.
fn heap_program() -> Vec<u8> {
    let mut c = vec![addi(10, 0, 4), lui(11, 0x1)];
    li_sbi(&mut c, 98);
    c.push(ECALL);
    c.extend([lui(5, 0x100), addi(5, 5, 0)]); // t0 = 0x10_0000
    // t0 <<= 16 by adding to itself 16 times: HEAP_BASE = 0x10_0000_0000.
    for _ in 0..16 {
        c.push(add(5, 5, 5));
    }
    c.extend([addi(6, 0, 5), sd(6, 0, 5)]);
    fuzz_ocall(&mut c);
    c.extend([ld(7, 0, 5), add(7, 7, 10), sd(7, 0, 5), addi(9, 7, 0)]);
    c.extend([addi(10, 0, 4), lui(11, 0xfffff)]); // a1 = -4096
    li_sbi(&mut c, 98);
    c.push(ECALL);
    exit_with(&mut c, 9);
    elf(&c, &[])
}

#[test]
fn inherited_heap_blocks_are_charged_to_each_fork_and_released_once() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &heap_program());
    let src = paused(&m, &t, None);
    let block = 2 * PAGE;
    let before = m.secure_memory_used();
    let s = snap(&m, &src, 10).unwrap();
    let tpl_block = s.try_inner().unwrap().as_ref().unwrap().block_pages * PAGE;
    assert_eq!(m.secure_memory_used(), before + tpl_block + block, "the snapshot holds its block and the heap block");
    let a = fork(&m, &s, None).unwrap();
    let b = fork(&m, &s, None).unwrap();
    assert_eq!(m.secure_memory_used(), before + tpl_block + 3 * block);
    assert_eq!(run(&m, &a, Entry::Continue), RunExit::Exited { retval: 15 });
    assert_eq!(run(&m, &b, Entry::Continue), RunExit::Exited { retval: 15 }, "the sibling's heap write is not seen");
    assert_eq!(m.secure_memory_used(), before + tpl_block + block, "freed once each, no underflow");
    assert_eq!(m.destroy(&s), 0);
    assert_eq!(m.secure_memory_used(), before);
    assert_eq!(run(&m, &src, Entry::OcallReturn(0)), RunExit::Exited { retval: 5 });
    assert_eq!(m.destroy(&t), 0);
    assert_eq!(m.secure_memory_used(), 0);
}

#[test]
fn a_full_pool_refuses_snapshots_and_forks_with_typed_errors() {
    let m = Monitor::new(Config::default());
    let t = shadow(&m, &heap_program());
    let src = paused(&m, &t, None);
    let s = snap(&m, &src, 0).unwrap();
    // Fill the pool up to less than one heap block.
    let free = m.config.secure_memory - m.secure_memory_used();
    assert!(m.reserve(free - PAGE));
    let used = m.secure_memory_used();
    assert!(matches!(fork(&m, &s, None), Err(CreateError::NoMemory { need, .. }) if need == 2 * PAGE));
    assert!(matches!(snap(&m, &src, 0), Err(SnapshotError::Create(CreateError::NoMemory { .. }))));
    assert_eq!(m.secure_memory_used(), used, "nothing reserved by the refusals");
    let ids = m.ids();
    assert_eq!(ids.len(), 3, "template, source, snapshot: no half-made cells");
}
