//! Enclave-to-enclave calls (ipc.rs, server.rs) with the bundled guest enclaves: the SDK-style
//! demo chain (caller -> server1 -> server), and the programmable `ipc-client` / `ipc-server`
//! pair for each rule of a call and return.
use super::consts::*;
use super::enclave::CreateParams;
use super::ipc::{CallRecord, SERVER_BUSY};
use super::enclave::CreateError;
use super::run::{BufferHost, Entry, RunExit, RunOutcome, RunRequest};
use super::*;
use std::sync::Arc;

const CALLER: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/caller.elf");
const SERVER: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/server.elf");
const SERVER1: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/server1.elf");
const CLIENT: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/ipc-client.elf");
const TSERVER: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/ipc-server.elf");
const M1: u64 = u64::MAX;

fn params(name: &str, kind: u32, shm: Option<Vec<u8>>) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    CreateParams { name: n, kind, stack_size: DEFAULT_STACK_SIZE, shm, persistency: None }
}

fn server(m: &Monitor, elf: &[u8], name: &str) -> Arc<EnclaveCell> {
    m.create(elf, &params(name, SERVER_ENCLAVE, None)).expect("server created")
}

fn run(m: &Monitor, cell: &Arc<EnclaveCell>, entry: Entry, shm: Option<Vec<u8>>) -> (RunOutcome, String) {
    let mut host = BufferHost::default();
    let out = m.run(cell, RunRequest { entry, shm, budget: Some(1 << 32) }, &mut host);
    (out, String::from_utf8_lossy(&host.0).into_owned())
}

/// A client request: words at the start of a 2-page shm, a name at byte 512.
fn request(words: &[(usize, u64)], name: &str) -> Vec<u8> {
    let mut shm = vec![0u8; 2 * PAGE as usize];
    for &(i, v) in words {
        shm[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    shm[512..512 + name.len()].copy_from_slice(name.as_bytes());
    shm
}

fn word(shm: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(shm[i * 8..i * 8 + 8].try_into().unwrap())
}

/// Runs `ipc-client` with `req` once to its end; returns the outcome and the shm after it.
fn client(m: &Monitor, req: Vec<u8>) -> (RunOutcome, Vec<u8>, String) {
    let c = m.create(CLIENT, &params("client", NORMAL_ENCLAVE, Some(req))).unwrap();
    let (out, text) = run(m, &c, Entry::Start { relay: None }, None);
    let shm = out.shm.clone().unwrap_or_default();
    (out, shm, text)
}

#[test]
fn sdk_demo_chain_prints_the_values_of_a_call_two_deep() {
    let m = Monitor::new(Config::default());
    let s = server(&m, SERVER, "test-server");
    let s1 = server(&m, SERVER1, "test-server1");
    assert_eq!(s.state(), State::Runnable);
    let c = m.create(CALLER, &params("test-caller", NORMAL_ENCLAVE, None)).unwrap();
    let (out, text) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 }, "{text}");
    for line in [
        "server1: begin to run\n",
        "server: read req_vaddr:0x0000000019962000\n",
        "server: read resp_vaddr:0x0000000019962000\n",
        "server: exit with ret:0x0000000000000002\n",
        "server1: server_handle:0x0000000000000000\n",
        "server1: read req_vaddr:0x0000000019961000\n",
        "server1: read resp_vaddr:0x0000000019962000\n",
        "server1: exit with retval:0x0000000000000003\n",
        "caller: read req_vaddr after calling server:0x0000000000002000\n",
        "caller: read resp_vaddr after calling server:0x0000000000002000\n",
        "caller: get server1 retval:0x0000000000000003\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // The chain as the host sees it: server1 called server (depth 2), then the caller's call.
    let calls: Vec<(u32, u64, i64, u64, u32)> = out.calls.iter().map(|r| (r.caller, r.callee, r.result, r.resp_val, r.depth)).collect();
    assert_eq!(calls, vec![(s1.eid, s.eid as u64, 0, 2, 2), (c.eid, s1.eid as u64, 0, 3, 1)]);
    // Both servers are free again and hold the memory they kept, nothing else.
    assert_eq!((s.state(), s1.state()), (State::Runnable, State::Runnable));
    assert!(!m.server_in_call(&s) && !m.server_in_call(&s1));
}

// ipc-server operations (req_arg & 0xff), see guest/demos/ipc-server.
const INFO: u64 = 0;
const KEEP: u64 = 1;
const FAULT: u64 = 2;
const NESTED: u64 = 5;
const REENTER: u64 = 6;
const SPIN: u64 = 9;
const COUNT: u64 = 12;
const REGION_VA: u64 = MMAP_BASE - 7 * PAGE;

/// One call of ipc-client: (handle, req_arg, region bytes, flags); the name is "ipc-a".
fn call_req(op: u64, region: u64, flags: u64) -> Vec<u8> {
    request(&[(0, 1), (1, M1), (2, op), (3, region), (4, flags)], "ipc-a")
}

#[test]
fn one_call_moves_the_region_and_answers_with_a_response_region() {
    let m = Monitor::new(Config::default());
    let s = server(&m, TSERVER, "ipc-a");
    let base = m.secure_memory_used();
    let (out, shm, _) = client(&m, call_req(INFO, 4 * PAGE, 0));
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let w = |i| word(&shm, i);
    assert_eq!((w(8), w(9), w(10)), (s.eid as u64, 0, 0x600d));
    assert_eq!((w(11), w(12), w(17)), (REGION_VA, 4 * PAGE, REGION_VA));
    assert_eq!((w(13), w(14)), (REGION_VA - PAGE, PAGE));
    assert_eq!(w(15), 2 * PAGE, "4096 ints, each 1 + 1");
    assert_eq!(out.calls, vec![CallRecord { caller: s.eid + 1, callee: s.eid as u64, result: 0, resp_val: 0x600d, depth: 1 }]);
    // The client is gone with both regions (the response page moved to it).
    assert_eq!(m.secure_memory_used(), base);
}

#[test]
fn a_kept_region_faults_in_the_caller_and_stays_counted_with_the_server() {
    let m = Monitor::new(Config::default());
    let empty = m.secure_memory_used();
    let s = server(&m, TSERVER, "ipc-a");
    let base = m.secure_memory_used();
    let (out, shm, _) = client(&m, call_req(KEEP, 4 * PAGE, 1));
    assert_eq!((word(&shm, 9), word(&shm, 11)), (0, 0));
    match out.exit {
        RunExit::Fault { cause, tval, .. } => assert_eq!((cause, tval), (13, REGION_VA)),
        x => panic!("expected a load page fault, got {x:?}"),
    }
    // The server holds the 8-page block it was lent.
    assert_eq!(m.secure_memory_used(), base + 8 * PAGE);
    assert_eq!(m.destroy(&s), 0);
    assert_eq!(m.secure_memory_used(), empty, "the kept region goes with the server");
}

#[test]
fn reentrant_call_is_busy_and_traced() {
    let m = Monitor::new(Config::default());
    let s = server(&m, TSERVER, "ipc-a");
    let (out, shm, _) = client(&m, call_req(REENTER, 0, 0));
    assert_eq!((word(&shm, 9), word(&shm, 10)), (0, SERVER_BUSY));
    assert_eq!(out.calls[0], CallRecord { caller: s.eid, callee: s.eid as u64, result: -2, resp_val: 0, depth: 2 });
}

#[test]
fn a_fault_two_deep_destroys_the_callee_and_releases_the_middle() {
    let m = Monitor::new(Config::default());
    let a = server(&m, TSERVER, "ipc-a");
    let b = server(&m, TSERVER, "ipc-b");
    let (out, _, _) = client(&m, call_req(NESTED | (FAULT << 8), 4 * PAGE, 0));
    match out.exit {
        RunExit::Fault { cause, tval, .. } => assert_eq!((cause, tval), (15, 8)),
        x => panic!("expected a store page fault, got {x:?}"),
    }
    assert_eq!((a.state(), b.state()), (State::Runnable, State::Invalid));
    assert!(!m.server_in_call(&a));
    assert!(m.server_by_name(b"ipc-b").is_none());
    let (_, shm, _) = client(&m, call_req(COUNT, 0, 0));
    assert_eq!((word(&shm, 9), word(&shm, 10)), (0, 2));
}

#[test]
fn destroying_the_top_caller_mid_call_releases_the_server_and_the_region() {
    let m = Monitor::new(Config::default());
    let s = server(&m, TSERVER, "ipc-a");
    let base = m.secure_memory_used();
    let c = m.create(CLIENT, &params("client", NORMAL_ENCLAVE, Some(call_req(SPIN, 4 * PAGE, 0)))).unwrap();
    let out = m.run(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(100_000) }, &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Budget);
    assert_eq!(out.instret, 100_000, "the callee's instructions count against the budget");
    assert_eq!(s.state(), State::Running);
    assert_eq!(m.destroy(&s), -1, "a server in a call is not destroyed");
    assert_eq!(m.destroy(&c), 0);
    assert_eq!(s.state(), State::Runnable);
    assert_eq!(m.chain(&c).len(), 0);
    assert_eq!(m.secure_memory_used(), base, "the region the server received is freed with the call");
    assert_eq!(m.destroy(&s), 0);
}

#[test]
fn destroy_from_another_thread_during_a_call() {
    let m = Arc::new(Monitor::new(Config { slice: 1000, ..Config::default() }));
    let s = server(&m, TSERVER, "ipc-a");
    let c = m.create(CLIENT, &params("client", NORMAL_ENCLAVE, Some(call_req(SPIN, 4 * PAGE, 0)))).unwrap();
    // First a budget on this thread, so the server has surely counted the call and spins (a
    // destroy seen at a slice boundary right after the call entered would leave it uncounted).
    let paused = m.run(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(100_000) }, &mut BufferHost::default());
    assert_eq!(paused.exit, RunExit::Budget);
    assert_eq!((s.state(), c.state()), (State::Running, State::Runnable));
    let (m2, c2) = (Arc::clone(&m), Arc::clone(&c));
    let t = std::thread::spawn(move || {
        m2.run(&c2, RunRequest { entry: Entry::Continue, shm: None, budget: None }, &mut BufferHost::default()).exit
    });
    while c.state() != State::Running {
        std::thread::yield_now();
    }
    assert_eq!(m.destroy(&c), 0);
    assert_eq!(t.join().unwrap(), RunExit::Destroyed);
    assert_eq!(s.state(), State::Runnable);
    let (_, shm, _) = client(&m, call_req(COUNT, 0, 0));
    assert_eq!(word(&shm, 10), 2);
}

#[test]
fn two_threads_calling_one_server_get_answers_or_busy() {
    let m = Arc::new(Monitor::new(Config { slice: 64, ..Config::default() }));
    let s = server(&m, TSERVER, "ipc-a");
    let calls = 300;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let req = request(&[(0, 1), (1, M1), (2, COUNT), (5, calls)], "ipc-a");
                let c = m.create(CLIENT, &params("client", NORMAL_ENCLAVE, Some(req))).unwrap();
                let out = m.run(&c, RunRequest::start(), &mut BufferHost::default());
                assert_eq!(out.exit, RunExit::Exited { retval: 0 });
                let ok = out.calls.iter().filter(|r| r.result == 0).count();
                assert!(out.calls.iter().all(|r| r.result == 0 || r.result == -2));
                assert_eq!(out.calls.len() as u64, calls);
                ok
            })
        })
        .collect();
    let served: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let (_, shm, _) = client(&m, call_req(COUNT, 0, 0));
    assert_eq!(word(&shm, 10), served as u64 + 1, "every call that got 0 was served exactly once");
    assert_eq!(s.state(), State::Runnable);
}

#[test]
fn server_creation_rules() {
    let m = Monitor::new(Config::default());
    let s = server(&m, TSERVER, "ipc-a");
    assert!(matches!(m.create(TSERVER, &params("ipc-a", SERVER_ENCLAVE, None)), Err(CreateError::Param(_))));
    assert!(matches!(m.create(TSERVER, &params("", SERVER_ENCLAVE, None)), Err(CreateError::Param(_))));
    assert_eq!(s.measurement, super::measure::measure_elf(TSERVER, SERVER_ENCLAVE, DEFAULT_STACK_SIZE, None, 0).unwrap());
    let out = m.run(&s, RunRequest::start(), &mut BufferHost::default());
    assert!(matches!(out.exit, RunExit::Refused(_)));
    assert_eq!(m.stop(&s), -1);
    assert!(m.attest(&s, 0).is_err());
}

/// Round trips per second of call_enclave + SERVER_RETURN (not a pass/fail test: run with
/// `cargo test --release -p pltvm-core --lib ipc_round_trip_rate -- --ignored --nocapture`;
/// benches/ipc_bench.py measures the same through Python).
#[test]
#[ignore]
fn ipc_round_trip_rate() {
    for region in [0, 4 * PAGE] {
        let m = Monitor::new(Config::default());
        server(&m, TSERVER, "ipc-a");
        let n = 200_000;
        let req = request(&[(0, 1), (1, M1), (2, COUNT), (3, region), (5, n)], "ipc-a");
        let c = m.create(CLIENT, &params("client", NORMAL_ENCLAVE, Some(req))).unwrap();
        let t = std::time::Instant::now();
        let out = m.run(&c, RunRequest::start(), &mut BufferHost::default());
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(out.exit, RunExit::Exited { retval: 0 });
        println!("region {region:#x}: {:.0} round trips/s, {:.1} instructions per call", n as f64 / dt, out.instret as f64 / n as f64);
    }
}

const PEER: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/shm-peer.elf");

/// A host shm for the bundled `shm-peer` running `steps` (op, a, b); see guest/demos/shm-peer.
fn peer_shm(steps: &[(u64, u64, u64)], server: bool) -> Vec<u8> {
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
    shm
}

const PEER_ECALL: u64 = 13;
const PEER_YIELD: u64 = 14;
const PEER_CALL: u64 = 9;
const PEER_REQ: u64 = -2i64 as u64;

/// A server named peer-server that yields with a0 = its req_arg and answers with what the
/// yield returned, and a client that yields with a0 = 1234, yields through `EAPP_YIELD`, then
/// calls the server with 77.
fn yielding_pair(m: &Monitor) -> (Arc<EnclaveCell>, Arc<EnclaveCell>) {
    let s = m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(PEER_ECALL, fid::YIELD, PEER_REQ)], true)))).unwrap();
    let steps = [(PEER_ECALL, fid::YIELD, 1234), (PEER_YIELD, 0, 0), (PEER_CALL, 77, 0)];
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&steps, false)))).unwrap();
    (s, c)
}

#[test]
fn a_yield_ends_the_run_runnable_and_continue_goes_on_with_a0_unchanged() {
    let m = Monitor::new(Config::default());
    let (s, c) = yielding_pair(&m);
    let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Yield, "the host sees the yield");
    assert_eq!(c.state(), State::Runnable);
    let (out, _) = run(&m, &c, Entry::Continue, None);
    assert_eq!(out.exit, RunExit::Yield, "EAPP_YIELD");
    let (out, _) = run(&m, &c, Entry::Continue, None);
    assert_eq!(out.exit, RunExit::Yield, "the server yielded inside the call: reported to the top caller's host");
    assert_eq!((c.state(), m.chain(&c).len()), (State::Runnable, 1), "the call is still in flight");
    assert!(m.server_in_call(&s));
    assert_eq!(m.destroy(&s), -1, "a server that yielded inside a call is not destroyed");
    let (out, _) = run(&m, &c, Entry::Continue, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 }, "the continuation went to the callee, which returned");
    let shm = out.shm.unwrap();
    assert_eq!((word(&shm, 35), word(&shm, 39), word(&shm, 43), word(&shm, 10)), (1234, 0, 0, 77), "a0 unchanged");
    assert_eq!(out.calls, vec![CallRecord { caller: c.eid, callee: s.eid as u64, result: 0, resp_val: 77, depth: 1 }]);
    assert!(!m.server_in_call(&s));
}

#[test]
fn the_budget_is_exact_across_yields() {
    let whole = {
        let m = Monitor::new(Config::default());
        let (_, c) = yielding_pair(&m);
        let out = m.run_through_yields(&c, RunRequest::start(), &mut BufferHost::default());
        assert_eq!(out.exit, RunExit::Exited { retval: 0 });
        out.instret
    };
    // Run by run: three yields, and the instructions add up to the same total.
    let m = Monitor::new(Config::default());
    let (_, c) = yielding_pair(&m);
    let (mut entry, mut total, mut yields) = (Entry::Start { relay: None }, 0, 0);
    loop {
        let out = m.run(&c, RunRequest { entry, shm: None, budget: None }, &mut BufferHost::default());
        total += out.instret;
        match out.exit {
            RunExit::Yield => yields += 1,
            RunExit::Exited { retval: 0 } => break,
            x => panic!("unexpected {x:?}"),
        }
        entry = Entry::Continue;
    }
    assert_eq!((yields, total), (3, whole));
    // Through the yields with a budget: one instruction short ends at the budget, exactly.
    for (budget, exit) in [(whole - 1, RunExit::Budget), (whole, RunExit::Exited { retval: 0 })] {
        let m = Monitor::new(Config::default());
        let (_, c) = yielding_pair(&m);
        let out = m.run_through_yields(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(budget) }, &mut BufferHost::default());
        assert_eq!((out.exit, out.instret), (exit, budget));
    }
    // A budget spent exactly at a yield ends as a budget (the enclave RUNNABLE after it).
    let first = {
        let m = Monitor::new(Config::default());
        let (_, c) = yielding_pair(&m);
        run(&m, &c, Entry::Start { relay: None }, None).0.instret
    };
    let m = Monitor::new(Config::default());
    let (_, c) = yielding_pair(&m);
    let out = m.run_through_yields(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(first) }, &mut BufferHost::default());
    assert_eq!((out.exit, out.instret, c.state()), (RunExit::Budget, first, State::Runnable));
}

#[test]
fn stop_and_destroy_of_a_caller_that_yielded_inside_a_callee() {
    let m = Monitor::new(Config::default());
    let (s, c) = yielding_pair(&m);
    for i in 0..3 {
        let entry = if i == 0 { Entry::Start { relay: None } } else { Entry::Continue };
        assert_eq!(run(&m, &c, entry, None).0.exit, RunExit::Yield);
    }
    assert_eq!(m.stop(&c), 0, "a yielded enclave is RUNNABLE and can be stopped");
    assert_eq!(c.state(), State::Stopped);
    assert_eq!(m.resume(&c), 0);
    assert_eq!(run(&m, &c, Entry::Continue, None).0.exit, RunExit::Exited { retval: 0 });
    // Destroyed while its callee has yielded: the server is released and answers again.
    let (s2, c) = (s, m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&[(PEER_CALL, 5, 0)], false)))).unwrap());
    assert_eq!(run(&m, &c, Entry::Start { relay: None }, None).0.exit, RunExit::Yield);
    assert!(m.server_in_call(&s2));
    assert_eq!(m.destroy(&c), 0);
    assert_eq!((s2.state(), m.server_in_call(&s2)), (State::Runnable, false));
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&[(PEER_CALL, 6, 0)], false)))).unwrap();
    let out = m.run_through_yields(&c, RunRequest::start(), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    assert_eq!(word(&out.shm.unwrap(), 10), 6, "the server answered the next call");
}

/// The print buffer travels with a call and its return, also bytes no print uses, and also
/// when a later call finds it unchanged (the copy is skipped only when both pages are equal).
#[test]
fn the_print_buffer_travels_with_each_call_and_return() {
    const STORE: u64 = 7;
    const LOAD: u64 = 6;
    const KB: u64 = KBUFFER + 1000;
    let m = Monitor::new(Config::default());
    // The server answers with the word the caller left at KB, after storing its req_arg at KB + 8.
    m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(STORE, KB + 8, PEER_REQ), (LOAD, KB, 0)], true)))).unwrap();
    let steps = [(STORE, KB, 55), (PEER_CALL, 77, 0), (LOAD, KB + 8, 0), (PEER_CALL, 78, 0), (LOAD, KB + 8, 0), (STORE, KB, 56), (PEER_CALL, 78, 0)];
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&steps, false)))).unwrap();
    let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let resp: Vec<u64> = out.calls.iter().map(|r| r.resp_val).collect();
    assert_eq!(resp, [55, 55, 56], "the server saw the caller's bytes, changed or not");
    let shm = out.shm.unwrap();
    let result = |i: usize| word(&shm, 32 + 4 * i + 3);
    assert_eq!((result(2), result(4)), (77, 78), "the caller saw the server's bytes after each return");
}

/// `fork_run_destroy` runs each instance to its end: a yield is continued, not taken for the end
/// of the instance (the bundled `yield` demo yields three times, then exits with 0).
#[test]
fn fork_run_destroy_runs_yielding_instances_to_their_end() {
    const YIELDER: &[u8] = include_bytes!("../../../../python/pltvm/enclaves/yield.elf");
    let m = Monitor::new(Config::default());
    let t = m.create_shadow(YIELDER, &params("yielder", SHADOW_ENCLAVE, None)).unwrap();
    let p = super::shadow::ForkParams { name: *b"yielder-fork\0\0\0\0", shm: None, persistency: None };
    let (exited, out) = m.fork_run_destroy_buffered(&t, &p, None, 3).unwrap();
    assert_eq!(exited, 3);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("yield: back from yield 3\n").count(), 3, "{text}");
}

const PEER_STORE: u64 = 7;
const PEER_LOAD: u64 = 6;

/// A `shm-peer` client's step results (`W[32 + 4i + 3]`).
fn step_results(shm: &[u8], n: usize) -> Vec<u64> {
    (0..n).map(|i| word(shm, 32 + 4 * i + 3)).collect()
}

/// The print buffer travels exactly when only some calls write it (kbuffer.rs skips the copy
/// while neither party wrote its page since the last switch): the server stores its req_arg
/// at the address req_arg (in the print buffer on some calls, in its own shm on others) and
/// answers with the caller's word at KB; the caller writes KB between some calls and reads
/// what came back after each.
#[test]
fn print_buffer_written_on_some_calls_reaches_the_caller_exactly() {
    const KB: u64 = KBUFFER + 2000;
    const OTHER: u64 = SHM_BASE + PAGE + 8;
    let m = Monitor::new(Config::default());
    m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(PEER_STORE, PEER_REQ, PEER_REQ), (PEER_LOAD, KB, 0)], true)))).unwrap();
    let steps = [
        (PEER_STORE, KB, 11),
        (PEER_CALL, KB + 16, 0),
        (PEER_LOAD, KB + 16, 0),
        (PEER_CALL, OTHER, 0),
        (PEER_LOAD, KB + 16, 0),
        (PEER_LOAD, KB + 24, 0),
        (PEER_STORE, KB, 12),
        (PEER_CALL, OTHER, 0),
        (PEER_CALL, KB + 24, 0),
        (PEER_LOAD, KB + 24, 0),
        (PEER_LOAD, KB + 16, 0),
        (PEER_LOAD, KB, 0),
        (PEER_CALL, OTHER, 0),
        (PEER_CALL, KB + 16, 0),
        (PEER_LOAD, KB + 24, 0),
    ];
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&steps, false)))).unwrap();
    let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let resp: Vec<u64> = out.calls.iter().map(|r| r.resp_val).collect();
    assert_eq!(resp, [11, 11, 12, 12, 12, 12], "the server saw the caller's word at KB each time");
    let r = step_results(&out.shm.unwrap(), steps.len());
    assert_eq!((r[2], r[4], r[5]), (KB + 16, KB + 16, 0), "the server's store came back, a call without one kept it");
    assert_eq!((r[9], r[10], r[11]), (KB + 24, KB + 16, 12), "both stores and the caller's own word");
    assert_eq!(r[14], KB + 24, "a server store elsewhere in the page leaves the rest as it was");
}

/// A host write into a party's print page between runs is what the next switch carries: one
/// into the server's page is overwritten by the caller's page at the next call, one into the
/// caller's page reaches the server.
#[test]
fn host_writes_to_a_print_page_between_runs_are_carried_exactly() {
    const KB: u64 = KBUFFER + 32;
    let m = Monitor::new(Config::default());
    let s = m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(PEER_LOAD, KB, 0)], true)))).unwrap();
    let steps = [(PEER_CALL, 1, 0), (PEER_YIELD, 0, 0), (PEER_CALL, 2, 0), (PEER_YIELD, 0, 0), (PEER_CALL, 3, 0), (PEER_LOAD, KB, 0)];
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&steps, false)))).unwrap();
    let write = |cell: &Arc<EnclaveCell>, v: u64| {
        let mut g = cell.try_inner().expect("not running");
        assert!(g.as_mut().unwrap().write_va(KB, &v.to_le_bytes()));
    };
    let mut resp = Vec::new();
    let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Yield);
    resp.extend(out.calls.iter().map(|r| r.resp_val));
    write(&s, 0xdead);
    let (out, _) = run(&m, &c, Entry::Continue, None);
    assert_eq!(out.exit, RunExit::Yield);
    resp.extend(out.calls.iter().map(|r| r.resp_val));
    write(&c, 0x5eed);
    let (out, _) = run(&m, &c, Entry::Continue, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    resp.extend(out.calls.iter().map(|r| r.resp_val));
    assert_eq!(resp, [0, 0, 0x5eed], "the server's view in each call: the caller's page, whatever the host wrote into the server's");
    let r = step_results(out.shm.as_ref().unwrap(), steps.len());
    assert_eq!(r[5], 0x5eed, "the caller's page after the last return");
}

/// Fork instances share their template's frames, print page included, until they write: an
/// instance that wrote its page passes its bytes, the next one (whose page is still the
/// template's frame) passes the template's bytes, whatever the server got before.
#[test]
fn forked_callers_each_pass_their_own_print_page() {
    const KB: u64 = KBUFFER + 48;
    let m = Monitor::new(Config::default());
    m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(PEER_LOAD, KB, 0)], true)))).unwrap();
    let t = m.create_shadow(PEER, &params("peer-tpl", SHADOW_ENCLAVE, None)).unwrap();
    let mut resp = Vec::new();
    for steps in [&[(PEER_STORE, KB, 0xaaaa), (PEER_CALL, 1, 0)][..], &[(PEER_CALL, 2, 0), (PEER_LOAD, KB, 0)][..], &[(PEER_STORE, KB, 0xbbbb), (PEER_CALL, 3, 0)][..]] {
        let p = super::shadow::ForkParams { name: *b"peer-fork\0\0\0\0\0\0\0", shm: Some(peer_shm(steps, false)), persistency: None };
        let f = m.fork(&t, &p).unwrap();
        let (out, _) = run(&m, &f, Entry::Start { relay: None }, None);
        assert_eq!(out.exit, RunExit::Exited { retval: 0 });
        resp.extend(out.calls.iter().map(|r| r.resp_val));
    }
    assert_eq!(resp, [0xaaaa, 0, 0xbbbb], "each instance's own bytes reached the server");
}

/// A caller that stores into its print page, calls, stores there again and calls again, with
/// nothing in between that would evict or flush its TLB's write entry for the page: the
/// second store must still reach the server. (kbuffer.rs holds the page's frame after the
/// first call, so it must drop the write entries into it; a store through one left behind would
/// change the held frame in place, unseen.)
#[test]
fn a_store_to_the_print_page_right_after_a_return_reaches_the_next_callee() {
    use super::test_support::{addi, elf_with_data, i_type, lui, sd, ECALL};
    let slli = |rd: u32, rs1: u32, sh: i32| i_type(sh, rs1, 1, rd, 0x13);
    let m = Monitor::new(Config::default());
    let s = m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(peer_shm(&[(PEER_LOAD, KBUFFER, 0)], true)))).unwrap();
    assert!(s.eid < 2048, "the handle fits an addi");
    let (t0, t1, a0, a1, a6, a7) = (5, 6, 10, 11, 16, 17);
    let mut code = vec![
        addi(t0, 0, -1),
        slli(t0, t0, 37), // t0 = KBUFFER = -1 << 37
        lui(a6, (SBI_EXT_PENGLAI_ENCLAVE >> 12) as u32),
        addi(a6, a6, (SBI_EXT_PENGLAI_ENCLAVE & 0xfff) as i32),
    ];
    for v in [11, 12] {
        code.extend([addi(t1, 0, v), sd(t1, 0, t0), addi(a0, 0, s.eid as i32), lui(a1, 2), addi(a7, 0, fid::CALL as i32), ECALL]);
    }
    code.extend([addi(a0, 0, 0), addi(a7, 0, fid::EXIT as i32), ECALL]);
    let c = m.create(&elf_with_data(&code, &[0u8; 64]), &params("raw-caller", NORMAL_ENCLAVE, None)).unwrap();
    let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let resp: Vec<(i64, u64)> = out.calls.iter().map(|r| (r.result, r.resp_val)).collect();
    assert_eq!(resp, [(0, 11), (0, 12)], "the server saw each store of the caller's");
}

/// Every register but sp and a0..a4 is zero when a server starts a call, on its later calls
/// too (its hart then holds whatever the previous call left). Our SDK's entry stub relies on it
/// (guest/lib/entry.S stores the other registers on the first entry only); Penglai's monitor
/// zeroes them the same way. A hand-written server (not our stub) answers with the OR of those
/// registers at entry, after setting every register it can to a non-zero value; it is called
/// twice.
#[test]
fn a_repeated_call_starts_the_server_with_the_other_registers_zero() {
    use super::test_support::{addi, elf, lui, sd, ECALL};
    let or = |rd: u32, rs1: u32, rs2: u32| (rs2 << 20) | (rs1 << 15) | (6 << 12) | (rd << 7) | 0x33;
    let (t0, sp, a0, a6, a7) = (5, 2, 10, 16, 17);
    let others: Vec<u32> = (1..32).filter(|r| ![sp, t0, 10, 11, 12, 13, 14].contains(r)).collect();
    let mut code: Vec<u32> = others.iter().map(|&r| or(t0, t0, r)).collect();
    code.push(addi(sp, sp, -48));
    code.extend((0..6).map(|i| sd(0, i * 8, sp)));
    code.push(sd(t0, 8, sp)); // resp_val
    // Leave every register but sp non-zero for the next call.
    code.extend((1..32).filter(|&r| r != sp).map(|r| addi(r, 0, r as i32)));
    code.extend([
        addi(a0, sp, 0),
        lui(a6, (SBI_EXT_PENGLAI_ENCLAVE >> 12) as u32),
        addi(a6, a6, (SBI_EXT_PENGLAI_ENCLAVE & 0xfff) as i32),
        addi(a7, 0, fid::RETURN as i32),
        ECALL,
    ]);
    let m = Monitor::new(Config::default());
    let s = m.create(&elf(&code), &params("raw-server", SERVER_ENCLAVE, None)).unwrap();
    let (out, shm, _) = client(&m, request(&[(0, 1), (1, M1), (2, 0), (5, 2)], "raw-server"));
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let got: Vec<(i64, u64)> = out.calls.iter().map(|r| (r.result, r.resp_val)).collect();
    assert_eq!(got, [(0, 0), (0, 0)], "both calls saw only zeros in the other registers");
    assert_eq!((word(&shm, 8), word(&shm, 9)), (s.eid as u64, 0));
}

/// A run remembers the server it called last (ipc.rs `Calls::server`) to skip the table; a
/// server destroyed during the run and a new one created under the same eid must get the next
/// call with that handle. The client calls, signals through a secure shm segment and waits
/// there while this thread destroys the server and creates another with the same name (it
/// takes the freed eid); then the client acquires and calls again.
#[test]
fn a_server_replaced_under_the_same_eid_during_a_run_gets_the_next_call() {
    const GET: u64 = 1;
    const ATTACH: u64 = 2;
    const WAIT: u64 = 16;
    let m = Monitor::new(Config { slice: 1000, ..Config::default() });
    let peer_run = |steps: &[(u64, u64, u64)]| {
        let c = m.create(PEER, &params("peer-host", NORMAL_ENCLAVE, Some(peer_shm(steps, false)))).unwrap();
        let (out, _) = run(&m, &c, Entry::Start { relay: None }, None);
        assert_eq!(out.exit, RunExit::Exited { retval: 0 });
        step_results(&out.shm.unwrap(), steps.len())
    };
    let va = peer_run(&[(GET, 6, PAGE)])[0];
    assert!(va != M1 && va != 0);
    // Each server answers with word 300 of its own shm.
    let tagged_server = |tag: u64| {
        let mut shm = peer_shm(&[(PEER_LOAD, SHM_BASE + 300 * 8, 0)], true);
        shm[300 * 8..301 * 8].copy_from_slice(&tag.to_le_bytes());
        m.create(PEER, &params("peer-server", SERVER_ENCLAVE, Some(shm))).unwrap()
    };
    let first = tagged_server(0x51);
    let steps = [(ATTACH, 6, 0), (PEER_CALL, 1, 0), (PEER_STORE, va + 8, 1), (WAIT, va, 1), (PEER_CALL, 2, 0)];
    let c = m.create(PEER, &params("peer", NORMAL_ENCLAVE, Some(peer_shm(&steps, false)))).unwrap();
    let out = std::thread::scope(|sc| {
        let client = sc.spawn(|| run(&m, &c, Entry::Start { relay: None }, None).0);
        // The first call has ended once the client's store is in the segment.
        while peer_run(&[(ATTACH, 6, 0), (PEER_LOAD, va + 8, 0)])[1] != 1 {
            std::thread::yield_now();
        }
        assert_eq!(m.destroy(&first), 0, "the server is not in a call any more");
        let second = tagged_server(0x52);
        assert_eq!(second.eid, first.eid, "the new server took the freed eid");
        peer_run(&[(ATTACH, 6, 0), (PEER_STORE, va, 1)]);
        client.join().unwrap()
    });
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
    let got: Vec<(u64, i64, u64)> = out.calls.iter().map(|r| (r.callee, r.result, r.resp_val)).collect();
    let eid = first.eid as u64;
    assert_eq!(got, [(eid, 0, 0x51), (eid, 0, 0x52)], "the second call reached the new server");
}
