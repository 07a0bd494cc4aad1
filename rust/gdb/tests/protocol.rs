//! The stub at the packet level, without gdb: replies to well-formed packets, survival of
//! malformed ones (bad checksums, garbage, hostile numbers, oversized packets), Ctrl-C while
//! the guest runs, and the exit status.
use pltvm_core::machine::{Machine, RAM_BASE};
use pltvm_gdb::Outcome;
use std::io::Write;
use std::thread;
use std::time::Duration;

mod support;
use support::{packet, Client};

/// `addi a0, a0, 1` then `j .-4`: an endless loop that counts.
const LOOP: [u8; 8] = [0x13, 0x05, 0x15, 0x00, 0xf5, 0xbf, 0x01, 0x00];

fn session(program: &[u8]) -> (Client, thread::JoinHandle<Result<Outcome, String>>) {
    let program = program.to_vec();
    support::session(move || {
        let mut m = Machine::bare(1 << 20, false);
        m.mem_write(RAM_BASE, &program);
        m
    })
}

#[test]
fn registers_memory_and_breakpoints_at_the_packet_level() {
    let (mut c, server) = session(&LOOP);
    assert!(c.ask(b"qSupported:swbreak+;hwbreak+").contains("PacketSize="));
    assert!(is_stop(&c.ask(b"?"), "05"));
    // pc is the 33rd register of the g packet
    let g = c.ask(b"g");
    assert_eq!(g.len(), 33 * 16);
    assert_eq!(&g[32 * 16..], "0000008000000000");
    // misa through `p` (65 + 0x301), 8 bytes little-endian
    assert_eq!(c.ask(format!("p{:x}", 65 + 0x301).as_bytes()), "2d11140000000080");
    assert_eq!(c.ask(b"p1041"), "0300000000000000", "priv = M");
    assert_eq!(c.ask(b"m80000000,4"), "13051500");
    // a software breakpoint at the jump: continue stops there, guest memory unpatched
    assert_eq!(c.ask(b"Z0,80000004,4"), "OK");
    assert!(is_stop(&c.ask(b"c"), "05"), "stops at the breakpoint");
    assert_eq!(c.ask(b"m80000004,4"), "f5bf0100");
    assert_eq!(c.ask(b"p20"), "0400008000000000");
    assert_eq!(c.ask(b"z0,80000004,4"), "OK");
    assert!(is_stop(&c.ask(b"s"), "05"));
    assert_eq!(c.ask(b"p20"), "0000008000000000");
    c.0.write_all(&packet(b"k")).unwrap();
    assert_eq!(server.join().unwrap(), Ok(Outcome::Killed));
}

/// Whether a reply is a stop reply for signal `sig` (gdbstub sends `T` with the thread, or `S`).
fn is_stop(r: &str, sig: &str) -> bool {
    r.starts_with(&format!("T{sig}")) || r == format!("S{sig}")
}

/// Sends `hostile` in a fresh session, then `?`: returns whether the session went on, and
/// the error replies seen. A session the stub ends must end without a panic.
fn try_hostile(hostile: &[u8]) -> (bool, Vec<String>) {
    let (mut c, server) = session(&LOOP);
    c.0.write_all(hostile).unwrap();
    c.0.write_all(&packet(b"?")).unwrap();
    let mut seen = Vec::new();
    loop {
        match c.reply_or_closed() {
            Some(r) if is_stop(&r, "05") => break,
            Some(r) => seen.push(r),
            None => {
                let end = server.join().expect("the stub thread never panics");
                assert!(end.is_err(), "a session ended by bad input says why: {end:?}");
                return (false, seen);
            }
        }
    }
    c.0.write_all(&packet(b"k")).unwrap();
    assert_eq!(server.join().expect("the stub thread never panics"), Ok(Outcome::Killed));
    (true, seen)
}

#[test]
fn malformed_packets_never_bring_the_stub_down() {
    // Well-formed packets with hostile numbers: answered (with an error where nothing can be
    // done), and the session goes on.
    let answered: [(&[u8], &str); 8] = [
        (b"m0,ffffffffffffffff", "E"),            // length near 2^64
        (b"mffffffffffffffff,10", "E"),           // address wrapping past 2^64
        (b"m8000000000000000,8", "E"),            // 2^63: not memory
        (b"Z2,80000000,0", "E"),                  // zero-length watchpoint
        (b"Z2,ffffffffffffffff,10", "E"),         // watch range wrapping past 2^64
        (b"Pffff=00", ""),                        // no such register: unsupported
        (b"qRcmd,", "O"),                         // empty monitor command: the help text
        (b"qXfer:features:read:target.xml:ffffffff,ffffffff", "l"), // offset past the end
    ];
    for (body, want) in answered {
        let (alive, seen) = try_hostile(&packet(body));
        let what = String::from_utf8_lossy(body);
        assert!(alive, "the session ended after {what:?}");
        assert!(seen.first().is_some_and(|r| r.starts_with(want)), "{what:?} answered {seen:?}");
    }
    // Packets gdbstub cannot parse (bad hex, numbers overflowing, short register sets, unknown
    // vCont actions), bad checksums, noise and packets longer than the buffer end the session:
    // `serve` returns an error and the machine is left as it was (checked in `try_hostile`:
    // no panic, an error result). The host can serve the machine again.
    let fatal: [&[u8]; 7] = [b"M80000000,4:zz", b"p99999999999999999999", b"P20=zz", b"G00", b"Z0,zz,4", b"vCont;x", b"qRcmd,zz"];
    for body in fatal {
        try_hostile(&packet(body));
    }
    for raw in [b"$g#00".to_vec(), b"\xff\x00garbage".to_vec(), packet(&[b'q'; 70_000])] {
        try_hostile(&raw);
    }
}

#[test]
fn ctrl_c_stops_a_running_guest_and_the_exit_code_reaches_gdb() {
    let (mut c, server) = session(&LOOP);
    c.0.write_all(&packet(b"c")).unwrap();
    thread::sleep(Duration::from_millis(100));
    c.0.write_all(&[0x03]).unwrap();
    let stop = c.reply();
    assert!(is_stop(&stop, "02"), "SIGINT: {stop}");
    let a0: String = c.ask(b"pa");
    assert_ne!(a0, "0000000000000000", "the guest ran before the interrupt");
    // Exit through HTIF: a store of (code << 1) | 1 to tohost, which the stub's memory write
    // cannot do, so run a program that does it.
    c.0.write_all(&packet(b"k")).unwrap();
    assert_eq!(server.join().unwrap(), Ok(Outcome::Killed));

    // a0 = (42 << 1) | 1; store it to tohost (RAM_BASE + 0x1000); spin.
    let exit = [
        0x13, 0x05, 0x50, 0x05, // addi a0, zero, 85
        0x97, 0x12, 0x00, 0x00, // auipc t0, 1          (t0 = RAM_BASE + 0x1004)
        0x23, 0xbe, 0xa2, 0xfe, // sd a0, -4(t0)
        0x6f, 0x00, 0x00, 0x00, // j .
    ];
    let (mut c, server) = support::session(move || {
        let mut m = Machine::bare(1 << 20, false);
        m.mem_write(RAM_BASE, &exit);
        m.set_htif(RAM_BASE + 0x1000, None);
        m
    });
    assert_eq!(c.ask(b"c"), "W2a");
    assert_eq!(server.join().unwrap(), Ok(Outcome::Exited(42)));
}
