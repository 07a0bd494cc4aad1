//! Hostile arguments to every monitor service: sizes 0, 1, PAGE-1, 2^40, 2^62, 2^63,
//! 2^64-4096, 2^64-1, addresses near 2^64 (where `addr + size` overflows) and non-canonical
//! addresses. Each gets the ABI's error value at once, the enclave keeps running, and the
//! secure pool's accounting is unchanged. Guests that call the monitor forever are ended by the
//! budget, `stop` and `destroy`.
//!
//! Runs go through [`guarded`]: a service that hangs makes the test fail (after a generous
//! grace period) instead of hanging the test binary.
use super::attest::MAX_KEY_SIZE;
use super::consts::*;
use super::enclave::CreateParams;
use super::keys::Keys;
use super::run::{BufferHost, Entry, RunExit, RunOutcome, RunRequest};
use super::test_support::*;
use super::*;
use std::sync::{mpsc, Arc};
use std::time::Duration;

const OCALL: u64 = 98;
const GET_KEY: u64 = 88;
const GET_REPORT: u64 = 94;
const SPLIT: u64 = 92;
/// The table of calls the guest makes: 6 words per call (a7, a0..a3, result).
const TABLE: u64 = 0x2000;
/// A scratch page after the table for pointer arguments; the page after it is unmapped.
const BUF: u64 = 0x4000;
/// A user OCALL the guest makes when it is done (the enclave then waits for its host).
const DONE: u64 = 100;
const TOP: u64 = u64::MAX - (PAGE - 1); // 2^64 - 4096
/// The bits above Sv39's 39 are not a sign extension: not an address the enclave can use.
const NONCANONICAL: u64 = 1 << 40;

fn params(name: &str) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    CreateParams { name: n, kind: NORMAL_ENCLAVE, stack_size: DEFAULT_STACK_SIZE, shm: None, persistency: None }
}

/// Runs on another thread; a run that does not come back fails the test.
fn guarded(m: &Arc<Monitor>, cell: &Arc<EnclaveCell>, req: RunRequest) -> RunOutcome {
    let (tx, rx) = mpsc::channel();
    let (m, cell) = (Arc::clone(m), Arc::clone(cell));
    std::thread::spawn(move || {
        let out = m.run(&cell, req, &mut BufferHost::default());
        let _ = tx.send(out);
    });
    rx.recv_timeout(Duration::from_secs(300)).expect("the run panicked or never returned (a monitor service hangs)")
}

/// a6 = the Penglai extension.
fn a6() -> Vec<u32> {
    vec![lui(16, 0x100), addi(16, 16, 0x101)]
}

/// The guest: for each (a7, a0, a1, a2, a3) of the table at [`TABLE`], ecall and store a0 in
/// the entry's sixth word; at the end OCALL [`DONE`].
fn table_guest() -> Vec<u32> {
    let mut c = vec![lui(5, 2)];
    c.extend(a6());
    c.extend([
        ld(17, 0, 5),       // loop:
        beq(17, 0, 36),     //   a7 == 0: done
        ld(10, 8, 5),
        ld(11, 16, 5),
        ld(12, 24, 5),
        ld(13, 32, 5),
        ECALL,
        sd(10, 40, 5),
        addi(5, 5, 48),
        jal(0, -36),        //   next
        addi(17, 0, OCALL as i32), // done:
        addi(10, 0, DONE as i32),
        ECALL,
        SPIN,
    ]);
    c
}

type Call = [u64; 5];

fn ocall(id: u64, a1: u64, a2: u64, a3: u64) -> Call {
    [OCALL, id, a1, a2, a3]
}

struct Outcome {
    results: Vec<u64>,
    /// Pool bytes in use after create and after the calls.
    used: (u64, u64),
    cell: Arc<EnclaveCell>,
}

fn run_calls_with(m: &Arc<Monitor>, p: CreateParams, calls: &[Call]) -> Outcome {
    assert!(calls.len() * 48 < (BUF - TABLE) as usize);
    let mut data = vec![0u8; (BUF - TABLE + PAGE) as usize];
    for (i, c) in calls.iter().enumerate() {
        for (j, w) in c.iter().enumerate() {
            data[i * 48 + j * 8..i * 48 + j * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
    }
    let cell = m.create(&elf_with_data(&table_guest(), &data), &p).unwrap();
    cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![DONE];
    let before = m.secure_memory_used();
    let req = RunRequest { budget: Some(10_000_000), ..RunRequest::start() };
    let out = guarded(m, &cell, req);
    assert!(matches!(out.exit, RunExit::Ocall { id: DONE, .. }), "the enclave keeps running to its end: {:?}", out.exit);
    let results = {
        let mut g = cell.try_inner().unwrap();
        let e = g.as_mut().unwrap();
        (0..calls.len()).map(|i| u64::from_le_bytes(e.read_va(TABLE + 48 * i as u64 + 40, 8).unwrap().try_into().unwrap())).collect()
    };
    Outcome { results, used: (before, m.secure_memory_used()), cell }
}

fn run_calls(m: &Arc<Monitor>, calls: &[Call]) -> Outcome {
    run_calls_with(m, params("t"), calls)
}

fn read(cell: &EnclaveCell, va: u64, n: usize) -> Vec<u8> {
    cell.try_inner().unwrap().as_mut().unwrap().read_va(va, n).unwrap()
}

const MINUS_ONE: u64 = u64::MAX;
/// Sizes no pool of this monitor can hold (the default pool is 1 GiB).
const HUGE: [u64; 6] = [1 << 40, 1 << 62, 1 << 63, TOP, u64::MAX, (1 << 30) + 1];

#[test]
fn mmap_of_an_impossible_size_returns_0_at_once() {
    let m = Arc::new(Monitor::new(Config::default()));
    let mut calls = Vec::new();
    for s in HUGE {
        calls.push(ocall(ocall::MMAP, 0, s, 0));
        calls.push(ocall(ocall::MMAP, TOP, s, 0));
        calls.push(ocall(ocall::MMAP, PAGE, s, 0));
    }
    // With a hint, the size must be a non-zero multiple of a page and the hint aligned.
    for (hint, size) in [(1, PAGE), (PAGE, 0), (PAGE, 1), (PAGE, PAGE - 1), (TOP + 1, PAGE)] {
        calls.push(ocall(ocall::MMAP, hint, size, 0));
    }
    let o = run_calls(&m, &calls);
    assert_eq!(o.results, vec![0; calls.len()]);
    assert_eq!(o.used.0, o.used.1, "nothing taken from the pool");
    let mut g = o.cell.try_inner().unwrap();
    let e = g.as_mut().unwrap();
    assert!(e.mmaps.is_empty());
    assert!(e.bus.ram_regions().iter().all(|&(s, end)| end - s < 1 << 30), "no host block left behind");
}

#[test]
fn mmap_and_unmap_small_sizes_and_addresses_near_the_top() {
    let m = Arc::new(Monitor::new(Config::default()));
    let calls = [
        ocall(ocall::MMAP, 0, 0, 0),         // a 1-page block, nothing mapped (Penglai's rule)
        ocall(ocall::MMAP, 0, 1, 0),         // 2-page blocks, one page mapped
        ocall(ocall::MMAP, 0, PAGE - 1, 0),
        ocall(ocall::MMAP, 0, PAGE, 0),
        ocall(ocall::MMAP, TOP, PAGE, 0),    // hint + size overflows: placed below the lowest
        ocall(ocall::UNMAP, TOP, PAGE + 1, 0),
        ocall(ocall::UNMAP, u64::MAX, 2, 0),
        ocall(ocall::UNMAP, MMAP_BASE - 2 * PAGE, u64::MAX, 0),
        ocall(ocall::UNMAP, MMAP_BASE - 2 * PAGE, TOP, 0),
        ocall(ocall::UNMAP, 0, 0, 0),
        ocall(ocall::UNMAP, MMAP_BASE - 2 * PAGE, PAGE, 0), // frees that whole 2-page block
    ];
    let o = run_calls(&m, &calls);
    let b = MMAP_BASE;
    assert_eq!(
        o.results,
        vec![b, b - PAGE, b - 2 * PAGE, b - 3 * PAGE, b - 4 * PAGE, MINUS_ONE, MINUS_ONE, MINUS_ONE, MINUS_ONE, MINUS_ONE, 0]
    );
    assert_eq!(o.used.1 - o.used.0, PAGE + 3 * 2 * PAGE);
    assert_eq!(read(&o.cell, b - PAGE, 8), vec![0; 8], "mapped and zero");
}

#[test]
fn sbrk_of_an_impossible_size_returns_minus_one() {
    let m = Arc::new(Monitor::new(Config::default()));
    let h = HEAP_BASE;
    let calls = [
        ocall(ocall::SBRK, 0, 0, 0),
        ocall(ocall::SBRK, 1, 0, 0),
        ocall(ocall::SBRK, PAGE - 1, 0, 0),
        ocall(ocall::SBRK, u64::MAX, 0, 0), // -1: not a multiple of a page
        ocall(ocall::SBRK, 1 << 40, 0, 0),
        ocall(ocall::SBRK, 1 << 62, 0, 0),
        ocall(ocall::SBRK, (1 << 63) - PAGE, 0, 0),
        ocall(ocall::SBRK, (1 << 30) + PAGE, 0, 0),
        ocall(ocall::SBRK, 1 << 63, 0, 0), // i64::MIN: shrink by everything
        ocall(ocall::SBRK, TOP, 0, 0),     // -4096: shrink an empty heap
        ocall(ocall::SBRK, PAGE, 0, 0),
        ocall(ocall::SBRK, TOP, 0, 0), // gives that page back
    ];
    let o = run_calls(&m, &calls);
    let e = MINUS_ONE;
    assert_eq!(o.results, vec![h, e, e, e, e, e, e, e, h, h, h + PAGE, h]);
    assert_eq!(o.used.0, o.used.1);
}

#[test]
fn a_pool_large_enough_still_needs_page_tables_from_the_block() {
    // 1 TiB of pool: 2^36-byte requests pass the pool check, fit the address space, and need
    // 64 Ki page tables the enclave block does not have. They fail at once, nothing taken.
    let m = Arc::new(Monitor::new(Config { secure_memory: 1 << 40, ..Config::default() }));
    let calls = [
        ocall(ocall::MMAP, 0, 1 << 36, 0),
        ocall(ocall::SBRK, 1 << 36, 0, 0),
        ocall(ocall::MMAP, 0, 1 << 37, 0), // does not fit between the heap and MMAP_BASE
        ocall(ocall::SBRK, 1 << 37, 0, 0),
    ];
    let o = run_calls(&m, &calls);
    assert_eq!(o.results, vec![0, MINUS_ONE, 0, MINUS_ONE]);
    assert_eq!(o.used.0, o.used.1);
    let mut g = o.cell.try_inner().unwrap();
    let e = g.as_mut().unwrap();
    assert!(e.mmaps.is_empty() && e.heap.is_empty());
    assert!(e.bus.ram_regions().iter().all(|&(s, end)| end - s < 1 << 30), "no host block left behind");
}

#[test]
fn pointer_arguments_at_the_top_of_the_address_space() {
    let m = Arc::new(Monitor::new(Config::default()));
    m.set_keys(Keys::test());
    let edge = BUF + PAGE - 8; // the next page is unmapped
    let mut calls = vec![
        ocall(ocall::GETRANDOM, BUF, 0, 0),
        ocall(ocall::GETRANDOM, BUF, 1 << 40, 0),
        ocall(ocall::GETRANDOM, BUF, 1 << 63, 0),
        ocall(ocall::GETRANDOM, BUF, u64::MAX, 0),
        ocall(ocall::GETRANDOM, TOP, 2 * PAGE, 0),
        ocall(ocall::GETRANDOM, u64::MAX - 7, 16, 0),
        ocall(ocall::GETRANDOM, BUF | NONCANONICAL, 16, 0),
        ocall(ocall::GETRANDOM, 0x10_0000, 16, 0),
        ocall(ocall::GETRANDOM, edge, 16, 0),
        [GET_KEY, 0, BUF, 0, 0],
        [GET_KEY, 0, BUF, 1 << 40, 0],
        [GET_KEY, 0, BUF, MAX_KEY_SIZE + 1, 0],
        [GET_KEY, 0, BUF, u64::MAX, 0],
        [GET_KEY, 0, u64::MAX - 15, 32, 0],
        [GET_KEY, 1, BUF | NONCANONICAL, 32, 0],
        [GET_KEY, 0, edge, 32, 0],
        [GET_REPORT, 0, u64::MAX - 99, 0, 0],
        [GET_REPORT, u64::MAX, BUF, 0, 0],
        [GET_REPORT, BUF | NONCANONICAL, BUF, 0, 0],
        [GET_REPORT, 0, BUF | NONCANONICAL, 0, 0],
        [GET_REPORT, 0, edge, 0, 0],
        [SPLIT, TOP, 2 * PAGE, 0, 0],
        [SPLIT, TOP, PAGE, TOP, 0],
        [SPLIT, 0, u64::MAX, PAGE, 0],
        ocall(ocall::READ_SECT, 0, 0, 0), // no persistency file
        ocall(ocall::WRITE_SECT, u64::MAX, 0, 0),
    ];
    let failing = calls.len();
    calls.extend([ocall(ocall::GETRANDOM, BUF, 16, 0), [GET_KEY, 0, BUF + 64, 32, 0], [GET_REPORT, 0, BUF + 128, 5, 0]]);
    let o = run_calls(&m, &calls);
    let mut want = vec![MINUS_ONE; failing];
    want[0] = 0; // getrandom of 0 bytes
    want[9] = 0; // get_key of 0 bytes
    want.extend([16, 0, 0]);
    assert_eq!(o.results, want);
    assert_eq!(o.used.0, o.used.1);
    assert_eq!(read(&o.cell, edge, 8), vec![0; 8], "a call that fails on its second page writes nothing (B37)");
    assert_ne!(read(&o.cell, BUF, 16), vec![0; 16]);
    assert_eq!(read(&o.cell, BUF + 128 + 256, 8), 5u64.to_le_bytes(), "report nonce");
}

#[test]
fn sector_numbers_near_2_64_return_minus_one_and_leave_the_file_alone() {
    let path = std::env::temp_dir().join(format!("pltvm-hostile-sectors-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let m = Arc::new(Monitor::new(Config::default()));
    let p = CreateParams { shm: Some(vec![0; PAGE as usize]), persistency: Some(path.clone()), ..params("s") };
    let mut calls = Vec::new();
    for s in [1 << 32, (1 << 52) - 1, 1 << 52, 1 << 63, u64::MAX] {
        calls.push(ocall(ocall::READ_SECT, s, 0, 0));
        calls.push(ocall(ocall::WRITE_SECT, s, 0, 0));
    }
    calls.push(ocall(ocall::WRITE_SECT, 3, 0, 0));
    calls.push(ocall(ocall::READ_SECT, 3, 0, 0));
    let o = run_calls_with(&m, p, &calls);
    let len = std::fs::metadata(&path).map(|md| md.len());
    let _ = std::fs::remove_file(&path);
    let mut want = vec![MINUS_ONE; calls.len() - 2];
    want.extend([0, 0]);
    assert_eq!(o.results, want);
    assert_eq!(len.unwrap(), 4 << 20, "the file keeps its size");
}

/// a0 = 1 (OCALL_MMAP), a1 = 0, a2 = 2^63, forever.
fn mmap_forever() -> Vec<u32> {
    let mut c = a6();
    c.extend([
        addi(17, 0, OCALL as i32),
        addi(10, 0, 1), // loop:
        addi(11, 0, 0),
        addi(12, 0, 1),
        i_type(63, 12, 1, 12, 0x13), // slli a2, a2, 63
        ECALL,
        jal(0, -20),
    ]);
    c
}

/// get_enclave_id, forever.
fn enclave_id_forever() -> Vec<u32> {
    let mut c = a6();
    c.extend([addi(17, 0, 90), ECALL, jal(0, -8)]);
    c
}

#[test]
fn guests_that_call_the_monitor_forever_end_by_budget_stop_and_destroy() {
    for code in [mmap_forever(), enclave_id_forever()] {
        let m = Arc::new(Monitor::new(Config { slice: 10_000, ..Config::default() }));
        let cell = m.create(&elf(&code), &params("loop")).unwrap();
        let used = m.secure_memory_used();
        let out = guarded(&m, &cell, RunRequest { budget: Some(100_000), ..RunRequest::start() });
        assert_eq!((out.exit, out.instret), (RunExit::Budget, 100_000), "ecalls spend the budget");
        assert_eq!(m.secure_memory_used(), used);
        // Without a budget: stop parks the run, resume continues it, destroy ends it.
        let (m2, c2) = (Arc::clone(&m), Arc::clone(&cell));
        let t = std::thread::spawn(move || m2.run(&c2, RunRequest { entry: Entry::Continue, shm: None, budget: None }, &mut BufferHost::default()));
        while cell.state() != State::Running {
            std::thread::yield_now();
        }
        assert_eq!(m.stop(&cell), 0);
        assert_eq!(cell.state(), State::Stopped);
        assert_eq!(m.resume(&cell), 0);
        assert_eq!(m.destroy(&cell), 0);
        let out = t.join().unwrap();
        assert_eq!(out.exit, RunExit::Destroyed);
        assert_eq!(m.secure_memory_used(), 0);
    }
}

#[test]
fn mmap_unmap_cycles_reuse_host_memory() {
    // mmap(0, 4096) then unmap(it), forever: host memory given back is used again, so the
    // physical space the enclave occupies stays small however long it runs.
    let mut code = a6();
    code.extend([
        addi(17, 0, OCALL as i32),
        addi(10, 0, 1), // loop:
        addi(11, 0, 0),
        lui(12, 1), // a2 = 4096
        ECALL,
        addi(11, 10, 0), // a1 = the region
        addi(10, 0, 2),
        ECALL,
        jal(0, -28),
    ]);
    let m = Arc::new(Monitor::new(Config::default()));
    let cell = m.create(&elf(&code), &params("cycle")).unwrap();
    let used = m.secure_memory_used();
    // 3 instructions of setup, then 8 per cycle: the budget ends between two cycles.
    let out = guarded(&m, &cell, RunRequest { budget: Some(3 + 8 * 11_250), ..RunRequest::start() });
    assert_eq!(out.exit, RunExit::Budget);
    assert_eq!(m.secure_memory_used(), used);
    let g = cell.try_inner().unwrap();
    let e = g.as_ref().unwrap();
    let top = e.bus.ram_regions().iter().map(|r| r.1).max().unwrap();
    assert!(top <= HOST_PA + (1 << 20), "10000 cycles, host memory up to {top:#x}");
}

#[test]
fn mmap_until_the_pool_is_exhausted_then_destroy_returns_it_all() {
    // Blocks of 1 MiB + the metadata page round up to 2 MiB; a 16 MiB pool holds the 2 MiB
    // enclave block and 7 of them. a1 of the final OCALL is the count.
    let mut code = a6();
    code.extend([
        addi(9, 0, 0),
        addi(17, 0, OCALL as i32), // loop:
        addi(10, 0, 1),
        addi(11, 0, 0),
        lui(12, 0x100), // a2 = 1 MiB
        ECALL,
        beq(10, 0, 12),
        addi(9, 9, 1),
        jal(0, -28),
        addi(10, 0, DONE as i32), // done:
        addi(11, 9, 0),
        ECALL,
    ]);
    let m = Arc::new(Monitor::new(Config { secure_memory: 16 << 20, ..Config::default() }));
    let cell = m.create(&elf(&code), &params("fill")).unwrap();
    cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![DONE];
    let out = guarded(&m, &cell, RunRequest { budget: Some(1_000_000), ..RunRequest::start() });
    assert!(matches!(out.exit, RunExit::Ocall { id: DONE, args: [7, _, _] }), "{:?}", out.exit);
    assert_eq!(m.secure_memory_used(), 16 << 20);
    assert_eq!(m.destroy(&cell), 0);
    assert_eq!(m.secure_memory_used(), 0);
}

fn exit0() -> Vec<u32> {
    let mut c = a6();
    c.extend([addi(17, 0, 99), addi(10, 0, 0), ECALL]);
    c
}

#[test]
fn shm_larger_than_the_pool_or_the_block_tables_is_refused_naming_shm() {
    let m = Monitor::new(Config::default());
    // More than the whole pool: refused before anything is allocated.
    let p = CreateParams { shm: Some(vec![0; 2usize << 30]), ..params("big") };
    let err = m.create(&elf(&exit0()), &p).err().unwrap();
    assert!(matches!(err, CreateError::ExceedsPool(_)), "{err:?}");
    assert!(err.to_string().starts_with("shm of 0x80000000 bytes exceeds the secure memory pool (0x40000000 bytes)"), "{err}");
    // 1 GiB: within the pool, but mapping it needs 513 page tables from a 512-page block.
    let p = CreateParams { shm: Some(vec![0; 1 << 30]), ..params("big") };
    let err = m.create(&elf(&exit0()), &p).err().unwrap();
    assert!(matches!(err, CreateError::Limit(_)), "{err:?}");
    assert!(err.to_string().starts_with("shm of 0x40000000 bytes needs 513 page-table pages"), "{err}");
    assert_eq!(m.secure_memory_used(), 0);
    assert!(m.ids().is_empty());
    // 64 MiB fits; only the pages written cost frames.
    let mut shm = vec![0; 64 << 20];
    shm[5 << 20] = 7;
    let cell = m.create(&elf(&exit0()), &CreateParams { shm: Some(shm), ..params("ok") }).unwrap();
    let mut g = cell.try_inner().unwrap();
    let e = g.as_mut().unwrap();
    assert_eq!(e.read_va(SHM_BASE + (5 << 20), 2).unwrap(), vec![7, 0]);
    assert!(e.bus.mem.frames() < 600, "{} frames", e.bus.mem.frames());
}

#[test]
fn relay_regions_are_bounded_by_the_relay_pool() {
    let m = Arc::new(Monitor::new(Config::default()));
    let cell = m.create(&elf(&exit0()), &params("r")).unwrap();
    let req = RunRequest { entry: Entry::Start { relay: Some(vec![0; (16 << 20) + PAGE as usize]) }, shm: None, budget: None };
    match guarded(&m, &cell, req).exit {
        RunExit::Refused(msg) => assert!(msg.starts_with("relay region of 0x1001000 bytes exceeds the relay pool"), "{msg}"),
        x => panic!("{x:?}"),
    }
    assert_eq!(cell.state(), State::Fresh);
    let req = RunRequest { entry: Entry::Start { relay: Some(vec![0; 16 << 20]) }, shm: None, budget: None };
    assert_eq!(guarded(&m, &cell, req).exit, RunExit::Exited { retval: 0 });
}

/// `elf(code)` with its one segment moved to `vaddr`.
fn elf_at(code: &[u32], vaddr: u64) -> Vec<u8> {
    let mut f = elf(code);
    f[64 + 16..64 + 24].copy_from_slice(&vaddr.to_le_bytes());
    f
}

/// `elf(code)` with one NOBITS section `[addr, addr + size)`.
fn elf_with_nobits(code: &[u32], addr: u64, size: u64) -> Vec<u8> {
    let mut f = elf(code);
    let shoff = f.len() as u64;
    f[40..48].copy_from_slice(&shoff.to_le_bytes());
    f[58..60].copy_from_slice(&64u16.to_le_bytes());
    f[60..62].copy_from_slice(&1u16.to_le_bytes());
    let mut sh = [0u8; 64];
    sh[4..8].copy_from_slice(&8u32.to_le_bytes());
    sh[16..24].copy_from_slice(&addr.to_le_bytes());
    sh[32..40].copy_from_slice(&size.to_le_bytes());
    f.extend_from_slice(&sh);
    f
}

#[test]
fn enclave_images_reaching_past_2_64_are_elf_errors() {
    let m = Monitor::new(Config::default());
    for bytes in [elf_at(&exit0(), TOP), elf_with_nobits(&exit0(), TOP, 2 * PAGE), elf_with_nobits(&exit0(), u64::MAX, 1)] {
        let err = m.create(&bytes, &params("top")).err().expect("refused");
        assert!(matches!(err, CreateError::Elf(_)), "{err:?}");
        assert!(err.to_string().contains("past the end of the address space"), "{err}");
    }
    assert_eq!(m.secure_memory_used(), 0);
}
