//! What the stub's tests share: bundled enclaves, running a target to its next stop, and a
//! packet-level client of a stub serving a machine over TCP.
#![allow(dead_code)] // each test file uses its own part

use gdbstub::stub::SingleThreadStopReason as Stop;
use pltvm_core::machine::Machine;
use pltvm_gdb::target::DebugTarget;
use pltvm_gdb::{serve, Debuggee, Outcome};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// A bundled enclave ELF (python/pltvm/enclaves).
pub fn bundled(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/pltvm/enclaves")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// gdb's `continue`: one step (off a breakpoint), then chunks of `chunk` instructions until a
/// stop.
pub fn cont<D: Debuggee>(t: &mut DebugTarget<'_, D>, chunk: u64) -> Stop<u64> {
    if let Some(s) = t.step_one() {
        return s;
    }
    loop {
        if let Some(s) = t.run_chunk(chunk) {
            return s;
        }
    }
}

/// `$body#xx`: a packet with its checksum.
pub fn packet(body: &[u8]) -> Vec<u8> {
    let sum = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    let mut p = vec![b'$'];
    p.extend_from_slice(body);
    p.extend_from_slice(format!("#{sum:02x}").as_bytes());
    p
}

/// Undoes the protocol's run-length encoding: `X*n` is X repeated 1 + (n - 29) times.
fn run_length_decode(body: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'*' && i + 1 < body.len() {
            let last = *out.last().unwrap();
            out.extend(std::iter::repeat_n(last, (body[i + 1] - 29) as usize));
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// gdb's side of a connection, one packet at a time.
pub struct Client(pub TcpStream);

impl Client {
    /// Reads one reply packet's body (acks skipped).
    pub fn reply(&mut self) -> String {
        self.reply_or_closed().expect("stub closed the connection")
    }

    /// The same, or None when the stub closed the connection first.
    pub fn reply_or_closed(&mut self) -> Option<String> {
        let mut body = Vec::new();
        let mut b = [0u8; 1];
        loop {
            self.0.read_exact(&mut b).ok()?;
            if b[0] == b'$' {
                break;
            }
        }
        loop {
            self.0.read_exact(&mut b).unwrap();
            if b[0] == b'#' {
                let mut sum = [0u8; 2];
                self.0.read_exact(&mut sum).unwrap();
                self.0.write_all(b"+").unwrap();
                return Some(run_length_decode(&body));
            }
            body.push(b[0]);
        }
    }

    /// Sends `body` as a packet and returns the reply's body.
    pub fn ask(&mut self, body: impl AsRef<[u8]>) -> String {
        self.0.write_all(&packet(body.as_ref())).unwrap();
        self.reply()
    }
}

/// A stub serving the machine `make` builds (on its own thread) and a client connected to it.
pub fn session(make: impl FnOnce() -> Machine + Send + 'static) -> (Client, thread::JoinHandle<Result<Outcome, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut m = make();
        let (conn, _) = listener.accept().unwrap();
        serve(&mut m, conn, Box::new(|| false))
    });
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    (Client(s), server)
}
