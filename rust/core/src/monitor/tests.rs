//! Unit tests of the monitor model with hand-assembled enclaves.
use super::consts::*;
use super::enclave::CreateParams;
use super::run::{BufferHost, Entry, RunExit, RunRequest};
use super::test_support::*;
use super::*;
use std::sync::Arc;

/// a6 = 0x100101 (lui a6, 0x100; addi a6, a6, 0x101), a7 = fid.
fn penglai(fid: i32) -> Vec<u32> {
    vec![lui(16, 0x100), addi(16, 16, 0x101), addi(17, 0, fid)]
}

fn params(name: &str, shm: Option<usize>) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    CreateParams {
        name: n,
        kind: NORMAL_ENCLAVE,
        stack_size: DEFAULT_STACK_SIZE,
        shm: shm.map(|s| vec![0u8; s]),
        persistency: None,
    }
}

fn exit_program(v: i32) -> Vec<u32> {
    let mut c = vec![addi(10, 0, v)];
    c.extend(penglai(99));
    c.push(ECALL);
    c
}

#[test]
fn layout_follows_the_driver_loader() {
    let m = Monitor::new(Config::default());
    let cell = m.create(&elf(&exit_program(0)), &params("a", None)).unwrap();
    let mut g = cell.try_inner().unwrap();
    let e = g.as_mut().unwrap();
    // 16 stack pages (page 3, tables 4 and 5, then 6..=20), then the text page 21 + tables.
    let block = e.block_pa;
    assert_eq!(e.root, block + PAGE);
    assert_eq!(e.translate(STACK_BASE - DEFAULT_STACK_SIZE), Some(block + 3 * PAGE));
    assert_eq!(e.translate(STACK_BASE - PAGE), Some(block + 20 * PAGE));
    assert_eq!(e.translate(0x1000), Some(block + 21 * PAGE));
    assert_eq!(e.free_pages.start, block + 24 * PAGE + 2 * PAGE, "free_mem = page 24; kbuffer took two tables");
    let slot = pt::leaf_slot(&mut e.bus, e.root, 0x1000).unwrap();
    assert_eq!(e.bus.read_u64(slot).unwrap() & 0x3ff, PTE_IMAGE_RWX);
    let slot = pt::leaf_slot(&mut e.bus, e.root, STACK_BASE - PAGE).unwrap();
    assert_eq!(e.bus.read_u64(slot).unwrap() & 0x3ff, PTE_DATA);
    let slot = pt::leaf_slot(&mut e.bus, e.root, KBUFFER).unwrap();
    assert_eq!(e.bus.read_u64(slot).unwrap() & 0x3ff, PTE_DATA);
    assert_eq!(e.bus.read_u64(e.root + 0xDF * 8).unwrap(), pt::pte(block + 4 * PAGE, PTE_POINTER));
    assert_eq!(e.bus.read_u64(e.root).unwrap(), pt::pte(block + 22 * PAGE, PTE_POINTER));
    assert_eq!(e.block_pages, 512, "1 + 16 + 256 pages round up to 2^9");
    assert!(e.translate(0x2000).is_none());
}

#[test]
fn entry_registers_and_exit_value() {
    let m = Monitor::new(Config::default());
    // Store a0..a4 and sp at shm[0..48], then exit with 7.
    let mut code = vec![addi(5, 10, 0)];
    for (i, r) in [10u32, 11, 12, 13, 14, 2].iter().enumerate() {
        code.push(sd(*r, 8 * i as i32, 5));
    }
    code.extend(exit_program(7));
    let cell = m.create(&elf(&code), &params("e", Some(0x2000))).unwrap();
    assert_eq!((cell.eid, cell.id), (0, 0x1000));
    let mut h = BufferHost::default();
    let req = RunRequest { entry: Entry::Start { relay: Some(vec![9u8; 0x1000]) }, shm: None, budget: None };
    let out = m.run(&cell, req, &mut h);
    assert_eq!(out.exit, RunExit::Exited { retval: 7 });
    let shm = out.shm.unwrap();
    let w = |i: usize| u64::from_le_bytes(shm[8 * i..8 * i + 8].try_into().unwrap());
    assert_eq!([w(0), w(1), w(2), w(3), w(4), w(5)], [SHM_BASE, 0x2000, 0, MM_ARG_BASE, 0x1000, STACK_BASE]);
    assert_eq!(out.relay, vec![vec![9u8; 0x1000]]);
    assert_eq!(cell.state(), State::Invalid);
    assert!(m.lookup(0x1000).is_none());
    assert_eq!(m.secure_memory_used(), 0);
    assert_eq!(m.eapp_args(), 1);
}

#[test]
fn fault_destroys_only_the_faulting_enclave() {
    let m = Monitor::new(Config::default());
    let good = m.create(&elf(&exit_program(1)), &params("g", None)).unwrap();
    let bad = m.create(&elf(&[0]), &params("b", None)).unwrap();
    let out = m.run(&bad, RunRequest::start(), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Fault { cause: 2, tval: 0, pc: 0x1000, ecall: None });
    assert_eq!(m.ids(), vec![good.id]);
    let out = m.run(&good, RunRequest::start(), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 1 });
}

#[test]
fn secure_memory_exhaustion_refuses_create_and_keeps_the_rest() {
    let m = Monitor::new(Config { secure_memory: 5 << 20, ..Config::default() });
    let a = m.create(&elf(&exit_program(0)), &params("a", None)).unwrap();
    let _b = m.create(&elf(&exit_program(0)), &params("b", None)).unwrap();
    let err = m.create(&elf(&exit_program(0)), &params("c", None)).err().unwrap();
    assert!(matches!(err, CreateError::NoMemory { .. }), "{err}");
    assert_eq!(m.secure_memory_used(), 4 << 20);
    assert_eq!(m.destroy(&a), 0);
    assert_eq!(m.destroy(&a), -1);
    let c = m.create(&elf(&exit_program(0)), &params("c", None)).unwrap();
    assert_eq!((c.eid, c.id), (0, 0x1000), "lowest free slot and id are reused");
}

#[test]
fn stop_resume_destroy_from_another_thread() {
    let m = Arc::new(Monitor::new(Config { slice: 10_000, ..Config::default() }));
    let cell = m.create(&elf(&[SPIN]), &params("loop", None)).unwrap();
    assert_eq!(m.stop(&cell), -1, "FRESH cannot be stopped");
    let (m2, c2) = (Arc::clone(&m), Arc::clone(&cell));
    let t = std::thread::spawn(move || m2.run(&c2, RunRequest::start(), &mut BufferHost::default()));
    while cell.state() != State::Running {
        std::thread::yield_now();
    }
    assert_eq!(m.resume(&cell), -1);
    assert_eq!(m.stop(&cell), 0);
    assert_eq!(cell.state(), State::Stopped);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(m.resume(&cell), 0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(cell.state(), State::Running);
    assert_eq!(m.destroy(&cell), 0);
    let out = t.join().unwrap();
    assert_eq!(out.exit, RunExit::Destroyed);
    assert!(out.instret > 0);
    assert_eq!(m.destroy(&cell), -1);
    assert_eq!(m.secure_memory_used(), 0);
}

#[test]
fn budget_and_continue() {
    let m = Monitor::new(Config::default());
    let cell = m.create(&elf(&[SPIN]), &params("loop", None)).unwrap();
    let req = RunRequest { budget: Some(1000), ..RunRequest::start() };
    let out = m.run(&cell, req, &mut BufferHost::default());
    assert_eq!((out.exit, out.instret), (RunExit::Budget, 1000));
    assert_eq!(cell.state(), State::Runnable);
    let out = m.run(&cell, RunRequest { entry: Entry::Continue, shm: None, budget: Some(5) }, &mut BufferHost::default());
    assert_eq!((out.exit, out.instret), (RunExit::Budget, 5));
    assert!(matches!(m.run(&cell, RunRequest::start(), &mut BufferHost::default()).exit, RunExit::Refused(_)));
}

#[test]
fn ioctl_is_tolerated_other_linux_calls_destroy() {
    let m = Monitor::new(Config::default());
    // ioctl (a7 = 29, a6 = 0) then write (a7 = 64).
    let code = vec![addi(17, 0, 29), ECALL, addi(17, 0, 64), ECALL];
    let cell = m.create(&elf(&code), &params("x", None)).unwrap();
    let out = m.run(&cell, RunRequest::start(), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Fault { cause: 8, tval: 0, pc: 0x100c, ecall: Some((0, 64)) });
}

/// A destroy that must wait for a run to end is woken however the two race: the end of a run
/// wakes only waiters that counted themselves (`Ctl::waiters`), so a waiter must never sleep
/// uncounted. Runs of a few hundred instructions end at every point of the destroy.
#[test]
fn destroy_racing_the_end_of_a_run_always_returns() {
    let m = Arc::new(Monitor::new(Config { slice: 64, ..Config::default() }));
    // a0 = 300; do a0 -= 1 while a0 != 0; exit(0).
    let mut code = vec![addi(10, 0, 300), addi(10, 10, -1), beq(10, 0, 8), jal(0, -8)];
    code.extend(exit_program(0));
    let image = elf(&code);
    for i in 0..400 {
        let cell = m.create(&image, &params("race", None)).unwrap();
        let (m2, c2) = (Arc::clone(&m), Arc::clone(&cell));
        let t = std::thread::spawn(move || m2.run(&c2, RunRequest::start(), &mut BufferHost::default()).exit);
        for _ in 0..i % 50 {
            std::thread::yield_now();
        }
        let r = m.destroy(&cell);
        let exit = t.join().unwrap();
        match exit {
            RunExit::Destroyed => assert_eq!(r, 0),
            RunExit::Exited { retval: 0 } => assert!(r == 0 || r == -1),
            // The destroy came first: the run found the enclave gone.
            RunExit::Refused(_) => assert_eq!(r, 0),
            x => panic!("unexpected exit {x:?}"),
        }
        assert_eq!(cell.state(), State::Invalid);
        assert_eq!(cell.ctl.lock().unwrap().waiters, 0, "every waiter uncounted itself");
    }
    assert_eq!(m.secure_memory_used(), 0);
}

/// The monitor changes an enclave's page tables between two accesses in one 2 MiB region:
/// a page mapped after the region's upper walk levels were remembered is reached (its new leaf
/// PTE is read), and a page unmapped after the enclave used it faults at once (its old
/// translation is gone from the TLB). The guest checks the first itself (exit values 1-3 are
/// its failures); the run must end with a load page fault at the last load.
#[test]
fn page_table_changes_by_the_monitor_are_seen_at_the_next_access() {
    let bne = |rs1, rs2, off| beq(rs1, rs2, off) | (1 << 12);
    let srli21 = |rd, rs1| i_type(21, rs1, 5, rd, 0x13);
    let mmap_a0 = [addi(17, 0, 98), addi(10, 0, 1), addi(11, 0, 0), lui(12, 1), ECALL];
    let mut c = vec![lui(16, 0x100), addi(16, 16, 0x101)];
    c.extend(mmap_a0);
    c.extend([addi(9, 10, 0), addi(5, 0, 0x11), sd(5, 0, 9)]); // A = mmap(4096); A[0] = 0x11
    c.extend(mmap_a0);
    c.push(addi(18, 10, 0)); // B = mmap(4096), after the flush of A's mapping
    // A again (a full walk remembers the region's upper levels), then B through them.
    c.extend([ld(6, 0, 9), sd(6, 8, 18), ld(7, 8, 18), addi(5, 0, 0x11)]);
    let exit_at = |c: &Vec<u32>, target: usize| ((target - c.len()) * 4) as i32;
    const EXIT: usize = 36;
    c.push(addi(10, 0, 1));
    c.push(bne(7, 5, exit_at(&c, EXIT))); // B[1] != 0x11
    c.extend([srli21(5, 9), srli21(6, 18), addi(10, 0, 2)]);
    c.push(bne(5, 6, exit_at(&c, EXIT))); // A and B in different 2 MiB regions: no test
    c.extend([addi(17, 0, 98), addi(10, 0, 2), addi(11, 9, 0), lui(12, 1), ECALL]); // unmap(A)
    c.extend([addi(5, 10, 0), addi(10, 0, 3)]);
    c.push(bne(5, 0, exit_at(&c, EXIT))); // unmap failed
    let fault_pc = 0x1000 + 4 * c.len() as u64;
    c.extend([ld(5, 0, 9), addi(10, 0, 4)]); // must fault
    assert_eq!(c.len(), EXIT);
    c.extend([lui(16, 0x100), addi(16, 16, 0x101), addi(17, 0, 99), ECALL]);
    let m = Monitor::new(Config::default());
    let cell = m.create(&elf(&c), &params("remap", None)).unwrap();
    let out = m.run(&cell, RunRequest::start(), &mut BufferHost::default());
    match out.exit {
        RunExit::Fault { cause, tval, pc, ecall: None } => {
            assert_eq!((cause, pc), (crate::hart::trap::cause::LOAD_PAGE_FAULT, fault_pc), "tval {tval:#x}");
            assert!(tval & (PAGE - 1) == 0 && tval < MMAP_BASE, "tval {tval:#x} is A");
        }
        x => panic!("expected a load page fault at {fault_pc:#x}, got {x:?}"),
    }
}
