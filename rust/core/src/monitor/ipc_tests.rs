//! Enclave-to-enclave calls (ipc.rs, server.rs) with the bundled guest enclaves: the SDK-style
//! demo chain (caller -> server1 -> server), and the programmable `ipc-client` / `ipc-server`
//! pair for each rule of a call and return.
use super::consts::*;
use super::enclave::CreateParams;
use super::ipc::CallRecord;
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
