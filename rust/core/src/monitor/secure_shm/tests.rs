//! Secure shm (secure_shm.rs) with the bundled guest enclaves: the `shm-owner`/`shm-server`
//! demo, and the programmable `shm-peer` for each rule, hostile arguments and the lifetime of a
//! segment when its users detach, exit, fault or are destroyed.
use super::*;
use crate::monitor::enclave::CreateParams;
use crate::monitor::run::{BufferHost, Entry, RunExit, RunOutcome, RunRequest};
use crate::monitor::snapshot::{SnapshotError, SnapshotParams};
use crate::monitor::{Config, EnclaveCell, State};

const OWNER: &[u8] = include_bytes!("../../../../../python/pltvm/enclaves/shm-owner.elf");
const SERVER: &[u8] = include_bytes!("../../../../../python/pltvm/enclaves/shm-server.elf");
const PEER: &[u8] = include_bytes!("../../../../../python/pltvm/enclaves/shm-peer.elf");
const M1: u64 = u64::MAX;
const PREV: u64 = -3i64 as u64;
const REQ: u64 = -2i64 as u64;
/// shm-peer steps.
const GET: u64 = 1;
const ATTACH: u64 = 2;
const DETACH: u64 = 3;
const DESTROY: u64 = 4;
const STAT: u64 = 5;
const LOAD: u64 = 6;
const STORE: u64 = 7;
const PAUSE: u64 = 8;
const CALL: u64 = 9;
const SUM: u64 = 10;
const FILL: u64 = 11;
const OCALL: u64 = 12;
const AMOADD: u64 = 15;
const WAIT: u64 = 16;
/// Where the first segment of `pages` mapped pages lands in an enclave without host shm past it.
fn top(pages: u64) -> u64 {
    SECURE_SHM_TOP - pages * PAGE
}

fn params(name: &str, kind: u32, shm: Option<Vec<u8>>) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    CreateParams { name: n, kind, stack_size: DEFAULT_STACK_SIZE, shm, persistency: None }
}

/// A shm-peer with `steps` in its host shm (two pages); `server`: created as a server named
/// "peer-server" that runs the steps in every call.
fn peer(m: &Monitor, steps: &[(u64, u64, u64)], server: bool) -> Arc<EnclaveCell> {
    let mut shm = vec![0u8; 2 * PAGE as usize];
    let mut put = |i: usize, v: u64| shm[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    put(0, steps.len() as u64);
    put(1, server as u64);
    for (i, &(op, a, b)) in steps.iter().enumerate() {
        put(32 + 4 * i, op);
        put(33 + 4 * i, a);
        put(34 + 4 * i, b);
    }
    shm[192..192 + 11].copy_from_slice(b"peer-server");
    let (name, kind) = if server { ("peer-server", SERVER_ENCLAVE) } else { ("peer", NORMAL_ENCLAVE) };
    let cell = m.create(PEER, &params(name, kind, Some(shm))).expect("created");
    cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![100];
    cell
}

fn run(m: &Monitor, cell: &Arc<EnclaveCell>, entry: Entry) -> (RunOutcome, String) {
    let mut host = BufferHost::default();
    let out = m.run(cell, RunRequest { entry, shm: None, budget: Some(1 << 32) }, &mut host);
    (out, String::from_utf8_lossy(&host.0).into_owned())
}

fn word(shm: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(shm[i * 8..i * 8 + 8].try_into().unwrap())
}

/// The results of the first `n` steps and the stat words W[8], W[9] (from the run's shm).
fn results(out: &RunOutcome, n: usize) -> (Vec<u64>, [u64; 2]) {
    let shm = out.shm.as_ref().expect("shm-peer has a host shm");
    ((0..n).map(|i| word(shm, 35 + 4 * i)).collect(), [word(shm, 8), word(shm, 9)])
}

/// Runs a normal shm-peer to its end (exit 0) and returns its step results and stat words.
fn run_peer(m: &Monitor, steps: &[(u64, u64, u64)]) -> (Vec<u64>, [u64; 2]) {
    let c = peer(m, steps, false);
    let (out, text) = run(m, &c, Entry::Start { relay: None });
    assert_eq!(out.exit, RunExit::Exited { retval: 0 }, "{text}");
    results(&out, steps.len())
}

#[test]
fn demo_pair_shares_the_pages_and_frees_the_segment() {
    let m = Monitor::new(Config::default());
    let s = m.create(SERVER, &params("shm-server", SERVER_ENCLAVE, None)).unwrap();
    let base = m.secure_memory_used();
    let c = m.create(OWNER, &params("shm-owner", NORMAL_ENCLAVE, None)).unwrap();
    let (out, text) = run(&m, &c, Entry::Start { relay: None });
    assert_eq!(out.exit, RunExit::Exited { retval: 0 }, "{text}");
    // 16 KiB asked: an 8-page block, 7 pages mapped below 0x40_0000_0000.
    for line in [
        "shm-owner: segment at 0x0000003fffff9000, 28672 bytes, 1 user(s), sum 8390656\n",
        "shm-server: attached 0x0000000000005348 at 0x0000003fffff9000, doubled 4096 ints\n",
        "shm-owner: call returned 0, server saw 2 user(s), sum now 16781312, 1 user(s)\n",
        "shm-owner: destroy 0, detach 0, stat after -1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(m.secure_shm().is_empty());
    assert_eq!(m.secure_memory_used(), base, "the segment's block went back to the pool");
    assert_eq!(s.state(), State::Runnable);
}

#[test]
fn stores_of_one_enclave_are_seen_in_place_by_another() {
    let m = Monitor::new(Config::default());
    let va = top(1);
    let a = peer(&m, &[(GET, 7, PAGE), (STORE, va, 77), (PAUSE, 0, 0), (LOAD, va, 0), (STAT, 7, 0)], false);
    let (out, _) = run(&m, &a, Entry::Start { relay: None });
    assert!(matches!(out.exit, RunExit::Ocall { id: 100, .. }), "{:?}", out.exit);
    let info = m.secure_shm();
    assert_eq!((info.len(), info[0].key, info[0].size, info[0].block), (1, 7, PAGE, 2 * PAGE));
    // B attaches while A waits in its OCALL, reads A's store and overwrites it; AMOs work too.
    let (r, stat) = run_peer(&m, &[(ATTACH, 7, 0), (LOAD, va, 0), (STORE, va, 99), (AMOADD, va + 8, 5), (AMOADD, va + 8, 1), (STAT, 7, 0)]);
    assert_eq!(r, vec![va, 77, 0, 0, 5, 0]);
    assert_eq!(stat, [2, PAGE], "A and B attached");
    assert_eq!(m.secure_shm()[0].users.len(), 1, "B's exit detached it");
    let (out, _) = run(&m, &a, Entry::OcallReturn(0));
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let (r, stat) = results(&out, 5);
    assert_eq!((r[3], r[4]), (99, 0));
    assert_eq!(stat, [1, PAGE]);
    // Never destroyed: the segment outlives its users, with B's words, and can be attached again.
    let (r, _) = run_peer(&m, &[(ATTACH, 7, 0), (LOAD, va, 0), (LOAD, va + 8, 0), (DESTROY, 7, 0)]);
    assert_eq!(r, vec![va, 99, 6, 0]);
    assert!(m.secure_shm().is_empty(), "destroyed and its last user exited");
}

#[test]
fn placement_sizes_and_double_attach() {
    let m = Monitor::new(Config::default());
    let base = m.secure_memory_used();
    let (r, stat) = run_peer(
        &m,
        &[
            (GET, 1, 2 * PAGE),   // 4-page block, 3 mapped
            (GET, 2, PAGE),       // right below it
            (ATTACH, 1, 0),       // already attached: the same VA, no new reference
            (STAT, 1, 0),
            (FILL, top(3) - PAGE, 512), // the whole page of segment 2
            (SUM, top(3) - PAGE, 512),
        ],
    );
    assert_eq!(r, vec![top(3), top(3) - PAGE, top(3), 0, 0, 512 * 513 / 2]);
    assert_eq!(stat, [1, 3 * PAGE]);
    let info = m.secure_shm();
    assert_eq!(info.iter().map(|i| (i.key, i.users.len(), i.block)).collect::<Vec<_>>(), vec![(1, 0, 4 * PAGE), (2, 0, 2 * PAGE)]);
    assert_eq!(m.secure_memory_used(), base + 6 * PAGE, "segments are charged while they exist");
}

#[test]
fn hostile_arguments_get_minus_one_or_zero_and_the_enclave_goes_on() {
    let m = Monitor::new(Config { secure_memory: 64 << 20, ..Config::default() });
    let base = m.secure_memory_used();
    let mut steps = Vec::new();
    for size in [0, 1, PAGE - 1, PAGE + 1, 1 << 40, 1 << 63, (1 << 63) - PAGE, u64::MAX, u64::MAX & !(PAGE - 1), 64 << 20] {
        steps.push((GET, 9, size));
    }
    steps.extend([
        (GET, 9, PAGE),
        (GET, 9, PAGE),                  // the key exists
        (ATTACH, 10, 0),                 // unknown key
        (ATTACH, u64::MAX, 0),
        (DETACH, 10, 0),                 // not attached
        (DETACH, 9, 0),
        (DETACH, 9, 0),                  // twice
        (DESTROY, u64::MAX, 0),          // unknown: 0
        (STAT, 10, 0),                   // unknown
        (STAT, 9, 0x10),                 // unmapped VA
        (STAT, 9, u64::MAX - 7),         // wraps
        (STAT, 9, top(1) - 8),           // straddles into an unmapped page
        (OCALL, 12, 0),                  // EXTEND_MEMORY is the monitor's, never the enclave's
        (STAT, 9, 0),
    ]);
    let (r, stat) = run_peer(&m, &steps);
    assert_eq!(&r[..10], &[M1; 10], "bad sizes");
    assert_eq!(&r[10..], &[top(1), M1, 0, 0, M1, 0, M1, 0, M1, M1, M1, M1, M1, 0]);
    assert_eq!(stat, [0, PAGE], "detached, not destroyed");
    assert_eq!(m.secure_memory_used(), base + 2 * PAGE, "only the one segment is charged");
}

#[test]
fn a_destroyed_segment_cannot_be_attached_and_goes_with_its_last_user() {
    let m = Monitor::new(Config::default());
    let va = top(1);
    let base = m.secure_memory_used();
    let a = peer(&m, &[(GET, 5, PAGE), (STORE, va, 3), (DESTROY, 5, 0), (ATTACH, 5, 0), (GET, 5, PAGE), (LOAD, va, 0), (STAT, 5, 0), (PAUSE, 0, 0), (DETACH, 5, 0), (STAT, 5, 0), (GET, 5, PAGE), (LOAD, va, 0), (DETACH, 5, 0), (LOAD, va, 0)], false);
    let (out, _) = run(&m, &a, Entry::Start { relay: None });
    assert!(matches!(out.exit, RunExit::Ocall { id: 100, .. }));
    let (r, stat) = results(&out, 7);
    // Marked but still mapped in A: attach and get refuse it, A still reads it.
    assert_eq!(r, vec![va, 0, 0, 0, M1, 3, 0]);
    assert_eq!(stat, [1, PAGE]);
    let (rb, _) = run_peer(&m, &[(ATTACH, 5, 0)]);
    assert_eq!(rb, vec![0], "a marked segment cannot be attached by anyone");
    // A detaches: freed; the key is free again (a fresh, zeroed segment); after its detach a
    // load faults, the page is gone.
    let (out, _) = run(&m, &a, Entry::OcallReturn(0));
    assert_eq!(out.exit, RunExit::Fault { cause: 13, tval: va, pc: out_pc(&out), ecall: None });
    let (r, _) = results(&out, 13);
    assert_eq!(&r[8..], &[0, M1, va, 0, 0], "detach frees it (stat -1); a new segment starts zeroed");
    // The second segment was never destroyed: it stays, unattached, charged to the pool.
    let info = m.secure_shm();
    assert_eq!((info.len(), info[0].key, info[0].users.len(), info[0].destroying), (1, 5, 0, false));
    assert_eq!(m.secure_memory_used(), base + 2 * PAGE, "A and the first segment are back");
}

fn out_pc(out: &RunOutcome) -> u64 {
    match out.exit {
        RunExit::Fault { pc, .. } => pc,
        _ => 0,
    }
}

#[test]
fn destroying_a_user_leaves_the_others_consistent() {
    let m = Monitor::new(Config::default());
    let va = top(1);
    let a = peer(&m, &[(GET, 3, PAGE), (STORE, va, 41), (PAUSE, 0, 0)], false);
    assert!(matches!(run(&m, &a, Entry::Start { relay: None }).0.exit, RunExit::Ocall { .. }));
    let b = peer(&m, &[(ATTACH, 3, 0), (PAUSE, 0, 0), (LOAD, va, 0), (STAT, 3, 0), (DESTROY, 3, 0), (PAUSE, 0, 0)], false);
    assert!(matches!(run(&m, &b, Entry::Start { relay: None }).0.exit, RunExit::Ocall { .. }));
    assert_eq!(m.destroy(&a), 0, "the creator goes while B is attached");
    let (out, _) = run(&m, &b, Entry::OcallReturn(0));
    assert!(matches!(out.exit, RunExit::Ocall { .. }));
    let (r, stat) = results(&out, 5);
    assert_eq!((r[2], r[4]), (41, 0));
    assert_eq!(stat, [1, PAGE], "only B");
    // A's eid is free again: an enclave there is not attached (its attach maps afresh).
    let (r, stat) = run_peer(&m, &[(STAT, 3, 0), (ATTACH, 3, 0)]);
    assert_eq!((r, stat), (vec![0, 0], [1, PAGE]), "marked: no attach");
    let used = m.secure_memory_used();
    assert_eq!(m.destroy(&b), 0, "the last user of a marked segment");
    assert!(m.secure_shm().is_empty());
    assert!(m.secure_memory_used() < used - 2 * PAGE);
}

#[test]
fn a_fault_detaches_the_enclave_that_faulted() {
    let m = Monitor::new(Config::default());
    let (r, _) = run_peer(&m, &[(GET, 4, PAGE)]);
    assert_eq!(r, vec![top(1)]);
    let c = peer(&m, &[(ATTACH, 4, 0), (LOAD, 0x10, 0)], false);
    let (out, _) = run(&m, &c, Entry::Start { relay: None });
    assert!(matches!(out.exit, RunExit::Fault { cause: 13, tval: 0x10, .. }));
    assert!(m.secure_shm()[0].users.is_empty());
    let (r, _) = run_peer(&m, &[(ATTACH, 4, 0), (DESTROY, 4, 0)]);
    assert_eq!(r, vec![top(1), 0]);
    assert!(m.secure_shm().is_empty());
}

#[test]
fn a_server_attaches_inside_a_call_and_its_attachment_persists_between_calls() {
    let m = Monitor::new(Config::default());
    // The server attaches the key it is given and adds one to the first word each call.
    let s = peer(&m, &[(ATTACH, REQ, 0), (AMOADD, PREV, 1), (STAT, REQ, 0)], true);
    let va = top(1);
    let (r, stat) = run_peer(&m, &[(GET, 21, PAGE), (CALL, 21, 0), (CALL, 21, 0), (LOAD, va, 0), (STAT, 21, 0)]);
    assert_eq!(r, vec![va, 0, 0, 2, 0]);
    assert_eq!(stat, [2, PAGE], "the caller and the server");
    assert_eq!(m.secure_shm()[0].users.iter().map(|u| u.0).collect::<Vec<_>>(), vec![s.eid], "the caller's exit detached it");
    assert_eq!(m.destroy(&s), 0);
    assert!(m.secure_shm()[0].users.is_empty(), "destroying the server detached it");
}

#[test]
fn an_enclave_with_secure_shm_cannot_be_snapshotted() {
    let m = Monitor::new(Config::default());
    let a = peer(&m, &[(GET, 8, PAGE), (PAUSE, 0, 0)], false);
    assert!(matches!(run(&m, &a, Entry::Start { relay: None }).0.exit, RunExit::Ocall { .. }));
    match m.snapshot(&a, &SnapshotParams::default()) {
        Err(SnapshotError::Refused(msg)) => assert!(msg.contains("secure shm"), "{msg}"),
        other => panic!("{:?}", other.map(|c| c.id)),
    }
    assert_eq!(m.secure_shm()[0].users.len(), 1, "nothing changed");
}

#[test]
fn segments_exhaust_the_pool_and_page_tables_cleanly() {
    let m = Monitor::new(Config { secure_memory: 4 << 20, ..Config::default() });
    let mut steps: Vec<(u64, u64, u64)> = (0..40).map(|k| (GET, 100 + k, 64 * PAGE)).collect();
    steps.push((STAT, 100, 0));
    let (r, stat) = run_peer(&m, &steps);
    let made = r.iter().take_while(|&&v| v != M1).count();
    assert!(made > 0 && made < 40, "{made}");
    assert!(r[made..40].iter().all(|&v| v == M1));
    assert_eq!(stat, [1, 127 * PAGE], "a 64-page request: a 128-page block; the enclave is attached");
    assert!(m.secure_memory_used() <= 4 << 20);
    assert_eq!(m.secure_shm().len(), made);
    let _ = PREV;
}

#[test]
fn segments_past_the_address_space_or_the_page_tables_are_refused_before_allocating() {
    // A pool far larger than the enclave's secure shm area (0x39_0000_2000..0x40_0000_0000,
    // 28 GiB) or its block's free page-table pages (about 470: 1 GiB of mappings).
    let m = Monitor::new(Config { secure_memory: 1 << 40, ..Config::default() });
    let base = m.secure_memory_used();
    let big = 128u64 << 20;
    let (r, stat) = run_peer(&m, &[(GET, 1, 32 << 30), (GET, 2, 1 << 30), (GET, 3, big), (STAT, 3, 0)]);
    // 128 MiB: a 256 MiB block, 65535 pages mapped.
    assert_eq!(r, vec![M1, M1, SECURE_SHM_TOP - (2 * big - PAGE), 0]);
    assert_eq!(stat, [1, 2 * big - PAGE]);
    assert_eq!(m.secure_memory_used(), base + 2 * big, "only the segment that fits is charged");
}

#[test]
fn enclaves_running_at_the_same_time_on_two_threads_see_each_others_stores() {
    let m = Arc::new(Monitor::new(Config { slice: 1000, ..Config::default() }));
    assert_eq!(run_peer(&m, &[(GET, 6, PAGE)]).0, vec![top(1)]);
    let va = top(1);
    // A ping-pong through the segment: each side spins until the other's store arrives. If
    // the pages were copies, both would spin until their budget runs out.
    let a = peer(&m, &[(ATTACH, 6, 0), (STORE, va, 1), (WAIT, va + 8, 2), (STORE, va + 16, 3)], false);
    let b = peer(&m, &[(ATTACH, 6, 0), (WAIT, va, 1), (STORE, va + 8, 2), (WAIT, va + 16, 3)], false);
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|c| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let req = RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(1 << 28) };
                m.run(&c, req, &mut BufferHost::default()).exit
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), RunExit::Exited { retval: 0 });
    }
    let (r, _) = run_peer(&m, &[(ATTACH, 6, 0), (SUM, va, 3)]);
    assert_eq!(r, vec![va, 6]);
}
