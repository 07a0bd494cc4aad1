//! Empty `call_enclave` + `SERVER_RETURN` round trips on the native Rust path (no Python), for
//! profiling the monitor's share of a call: `cargo run --release -p pltvm-core --example
//! ipc_rounds -- [N] [REGION_BYTES]`, or under `valgrind --tool=callgrind` with a small N.
//! `PLTVM_ENGINE=interp` runs the interpreter only; `PLTVM_IPC_OP=3` makes every call print a line. The bundled ipc-client calls the bundled ipc-server N times in one run (op 12, as
//! benches/ipc_bench.py does). Prints round trips/s and guest instructions per round trip.
use pltvm_core::monitor::consts::{DEFAULT_STACK_SIZE, NORMAL_ENCLAVE, SERVER_ENCLAVE};
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::{BufferHost, Config, Entry, Monitor, RunExit, RunRequest};
use std::time::Instant;

const CLIENT: &[u8] = include_bytes!("../../../python/pltvm/enclaves/ipc-client.elf");
const SERVER: &[u8] = include_bytes!("../../../python/pltvm/enclaves/ipc-server.elf");

fn params(name: &[u8], kind: u32, shm: Option<Vec<u8>>) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name);
    CreateParams { name: n, kind, stack_size: DEFAULT_STACK_SIZE, shm, persistency: None }
}

/// The client's request (see benches/ipc_bench.py `request`): `op` is the ipc-server's operation
/// (12 counts the call; 3 prints a line from the callee, for the print buffer's cost).
fn request(n: u64, region: u64, op: u64) -> Vec<u8> {
    let mut shm = vec![0u8; 2 * 4096];
    for (i, v) in [(0, 1), (1, u64::MAX), (2, op), (3, region), (5, n)] {
        shm[i * 8..i * 8 + 8].copy_from_slice(&u64::to_le_bytes(v));
    }
    shm[512..517].copy_from_slice(b"ipc-a");
    shm
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let region: u64 = args.next().map_or(0, |a| a.parse().expect("REGION_BYTES"));
    // PLTVM_ENGINE=interp: the interpreter only (default: the monitor's default engine).
    let mut config = Config::default();
    if std::env::var("PLTVM_ENGINE").as_deref() == Ok("interp") {
        config.engine = pltvm_core::jit::Engine::Interp;
    }
    // PLTVM_IPC_OP=3: the server prints a line in every call (default 12: an empty call).
    let op: u64 = std::env::var("PLTVM_IPC_OP").ok().map_or(12, |v| v.parse().expect("PLTVM_IPC_OP"));
    let m = Monitor::new(config);
    m.create(SERVER, &params(b"ipc-a", SERVER_ENCLAVE, None)).expect("server");
    let c = m.create(CLIENT, &params(b"c", NORMAL_ENCLAVE, Some(request(n, region, op)))).expect("client");
    let t = Instant::now();
    let out = m.run(&c, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: None }, &mut BufferHost::default());
    let dt = t.elapsed().as_secs_f64();
    assert!(matches!(out.exit, RunExit::Exited { .. }), "{:?}", out.exit);
    let shm = out.shm.expect("shm");
    let failures = u64::from_le_bytes(shm[72..80].try_into().unwrap());
    assert_eq!(failures, 0, "every call returned 0");
    println!("{n} round trips in {dt:.3} s: {:.0}/s, {:.1} guest instructions each", n as f64 / dt, out.instret as f64 / n as f64);
}
