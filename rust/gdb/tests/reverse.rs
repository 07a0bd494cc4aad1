//! Reverse execution: reverse-stepi lands exactly on every earlier state (registers, CSRs,
//! privilege, memory), reverse-continue stops at the previous breakpoint and watchpoint hit and
//! at the beginning of the history, forward after reverse retraces the same states, played-back
//! console output is not printed twice, checkpoints stay within their cap, and a change made
//! by gdb in the past replaces the future. Driven through the stub's target directly and, at
//! the end, through `bs`/`bc` packets.
use gdbstub::stub::SingleThreadStopReason as Stop;
use gdbstub::target::ext::base::reverse_exec::ReplayLogPosition;
use gdbstub::target::ext::breakpoints::{HwWatchpoint, SwBreakpoint, WatchKind};
use pltvm_core::device::console::Console;
use pltvm_core::machine::{Machine, RAM_BASE};
use pltvm_gdb::target::DebugTarget;
use pltvm_gdb::Outcome;
use std::io::Write;
use std::sync::{Arc, Mutex};

mod support;
use support::{cont, session, Client};

/// Bare M-mode, no compressed instructions (tests/debug has no toolchain dependency, so the
/// words are here; source below):
///
/// ```text
/// _start:  la t0, handler; csrw mtvec, t0; li a0, 0
///          lui t0, 0x80001; slli t0, t0, 32; srli t0, t0, 32     # t0 = DATA
/// loop:    addi a0, a0, 1; sd a0, 0(t0); andi t1, a0, 7; bnez t1, skip
/// mark:    sd a0, 8(t0)                                          # every 8th pass
///          li t2, 0x0101000000000041; sd t2, 16(t0)              # HTIF putchar 'A'
/// skip:    ecall                                                 # a trap every pass
///          j loop
/// handler: csrr t3, mepc; addi t3, t3, 4; csrw mepc, t3; addi a1, a1, 1; mret
/// ```
const PROGRAM: [u32; 23] = [
    0x00000297, 0x04828293, 0x30529073, 0x00000513, 0x800012b7, 0x02029293, 0x0202d293, 0x00150513,
    0x00a2b023, 0x00757313, 0x00031c63, 0x00a2b423, 0x1010039b, 0x03039393, 0x04138393, 0x0072b823,
    0x00000073, 0xfd9ff06f, 0x34102e73, 0x004e0e13, 0x341e1073, 0x00158593, 0x30200073,
];
const MARK: u64 = RAM_BASE + 0x2c;
const DATA: u64 = RAM_BASE + 0x1000;
const TOHOST: u64 = DATA + 16;

/// Guest output, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Console for Captured {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        self.0.lock().unwrap().extend_from_slice(data);
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

fn machine() -> (Machine, Captured) {
    let mut m = Machine::bare(1 << 20, false);
    let bytes: Vec<u8> = PROGRAM.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(m.mem_write(RAM_BASE, &bytes));
    m.set_htif(TOHOST, None);
    let out = Captured::default();
    m.bus.console = Box::new(out.clone());
    (m, out)
}

/// Everything the guest can see that this program changes.
#[derive(Debug, PartialEq, Eq, Clone)]
struct State {
    steps: u64,
    x: [u64; 32],
    pc: u64,
    prv: u64,
    csrs: Vec<u64>,
    data: [u8; 24],
}

fn state(t: &mut DebugTarget<'_, Machine>) -> State {
    let m = &mut *t.d;
    let csrs = [0x300u16, 0x305, 0x341, 0x342, 0x343, 0xb02, 0xc01]
        .iter()
        .map(|&n| m.hart.csr_read(n, &m.bus).unwrap())
        .collect();
    let mut data = [0u8; 24];
    assert!(m.mem_read(DATA, &mut data));
    State { steps: m.steps(), x: m.hart.x, pc: m.hart.pc, prv: m.hart.prv as u64, csrs, data }
}


const BEGIN: Stop<u64> = Stop::ReplayLog { tid: None, pos: ReplayLogPosition::Begin };

#[test]
fn reverse_stepi_returns_exactly_to_every_earlier_state() {
    for interval in [7, 64, 1 << 20] {
        let (mut m, _) = machine();
        let mut t = DebugTarget::new(&mut m);
        t.hist.interval = interval;
        let mut seen = vec![state(&mut t)];
        for _ in 0..300 {
            assert_eq!(t.step_one(), None);
            seen.push(state(&mut t));
        }
        assert!(seen.iter().any(|s| s.csrs[3] == 11), "the run takes ecall traps (mcause 11)");
        for want in seen[..300].iter().rev() {
            assert_eq!(t.reverse_step(), Ok(Stop::DoneStep));
            assert_eq!(&state(&mut t), want, "interval {interval}");
        }
        assert_eq!(t.reverse_step(), Ok(BEGIN));
        assert_eq!(state(&mut t), seen[0]);
        // forward again retraces the same states
        for want in &seen[1..] {
            assert_eq!(t.step_one(), None);
            assert_eq!(&state(&mut t), want);
        }
    }
}

#[test]
fn reverse_continue_stops_at_each_previous_breakpoint_hit_then_at_the_beginning() {
    let (mut m, _) = machine();
    let mut t = DebugTarget::new(&mut m);
    t.hist.interval = 50;
    assert!(matches!(t.add_sw_breakpoint(MARK, 4), Ok(true)));
    let mut hits = Vec::new();
    for _ in 0..6 {
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
        hits.push(state(&mut t));
    }
    assert_eq!(hits.iter().map(|s| s.x[10]).collect::<Vec<_>>(), [8, 16, 24, 32, 40, 48]);
    for want in hits[..5].iter().rev() {
        assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
        assert_eq!(&state(&mut t), want);
    }
    assert_eq!(t.reverse_cont(), Ok(BEGIN));
    assert_eq!((t.d.steps(), t.d.hart.pc), (0, RAM_BASE));
    for want in &hits {
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
        assert_eq!(&state(&mut t), want, "forward after reverse");
    }
}

#[test]
fn reverse_continue_stops_before_the_previous_write_to_a_watched_word() {
    let (mut m, _) = machine();
    let mut t = DebugTarget::new(&mut m);
    t.hist.interval = 40;
    assert!(matches!(t.add_hw_watchpoint(DATA + 8, 8, WatchKind::Write), Ok(true)));
    let stop = Stop::Watch { tid: (), kind: WatchKind::Write, addr: DATA + 8 };
    for n in [8u64, 16, 24] {
        assert_eq!(cont(&mut t, 1000), stop);
        // a forward watch stop comes after the write
        assert_eq!(state(&mut t).data[8..16], n.to_le_bytes());
    }
    for old in [16u64, 8, 0] {
        assert_eq!(t.reverse_cont(), Ok(stop));
        let s = state(&mut t);
        assert_eq!((s.pc, s.data[8..16].to_vec()), (MARK, old.to_le_bytes().to_vec()), "before the write");
    }
    assert_eq!(t.reverse_cont(), Ok(BEGIN));
}

#[test]
fn output_played_back_is_not_printed_again() {
    let (mut m, out) = machine();
    let mut t = DebugTarget::new(&mut m);
    t.hist.interval = 30;
    assert!(matches!(t.add_sw_breakpoint(MARK + 4, 4), Ok(true)));
    for _ in 0..4 {
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
    }
    assert_eq!(&*out.0.lock().unwrap(), b"AAA");
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.d.hart.x[10], 8);
    for _ in 0..3 {
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
    }
    assert_eq!(&*out.0.lock().unwrap(), b"AAA", "replayed writes stay on the tape");
    assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
    assert_eq!(&*out.0.lock().unwrap(), b"AAAA", "past the recorded end, output is live again");
    t.end();
    drop(t);
    assert!(m.mem_write(DATA, &[0]), "the machine is usable after the session");
}

#[test]
fn checkpoints_stay_under_their_cap_and_old_ones_are_thinned_first() {
    let (mut m, _) = machine();
    let mut reference = machine().0;
    let mut t = DebugTarget::new(&mut m);
    t.hist.interval = 1000;
    t.hist.max_entries = 12;
    while t.d.steps() < 200_000 {
        assert_eq!(t.run_chunk(500), None);
    }
    let at = t.d.steps();
    let pos = t.hist.positions();
    assert_eq!(pos.len(), 12);
    assert_eq!(pos[0], 0, "the beginning is kept while the count allows it");
    let gaps: Vec<u64> = pos.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[gaps.len() - 1] < gaps[0], "denser near now: {pos:?}");
    assert!(t.hist.thinned > 0);
    let (n, bytes) = t.hist.usage(t.d);
    assert_eq!(n, 12);
    assert!(bytes > 0 && bytes < 1 << 20, "{bytes}");
    assert!(t.hist.report(t.d).starts_with("12 checkpoints every 1000 steps, steps 0.."));
    // stepping back across a thinned stretch is still exact
    assert_eq!(t.reverse_step(), Ok(Stop::DoneStep));
    assert_eq!(reference.run(at - 1), pltvm_core::machine::Exit::Budget);
    let mut ref_data = [0u8; 24];
    assert!(reference.mem_read(DATA, &mut ref_data));
    let s = state(&mut t);
    assert_eq!((s.steps, s.x, s.pc, s.data), (at - 1, reference.hart.x, reference.hart.pc, ref_data));
    // a byte cap: with 1 MiB and pages copied between checkpoints, the total stays under it
    t.hist.cap = 1 << 20;
    t.hist.max_entries = 4096;
    while t.d.steps() < 400_000 {
        assert_eq!(t.run_chunk(500), None);
    }
    assert!(t.hist.usage(t.d).1 <= 1 << 20);
}

#[test]
fn a_change_in_the_past_replaces_the_future() {
    let (mut m, _) = machine();
    let mut t = DebugTarget::new(&mut m);
    t.hist.interval = 20;
    assert!(matches!(t.add_sw_breakpoint(MARK, 4), Ok(true)));
    for _ in 0..3 {
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
    }
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.d.hart.x[10], 16);
    // gdb sets a0 = 100 here: the next hit is at 104, not 24
    let mut b = [0u8; 8];
    b.copy_from_slice(&100u64.to_le_bytes());
    use gdbstub::target::ext::base::single_register_access::SingleRegisterAccess;
    assert!(t.write_register((), pltvm_gdb::arch::Reg::X(10), &b).is_ok());
    assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
    assert_eq!(t.d.hart.x[10], 104);
    // back: where the change was made (the guest stood on the breakpoint), then the history
    // before the change
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.d.hart.x[10], 100);
    assert_eq!(t.reverse_cont(), Ok(Stop::SwBreak(())));
    assert_eq!(t.d.hart.x[10], 8);
}

#[test]
fn bs_and_bc_packets() {
    let (mut s, server) = session(|| machine().0);
    let features = s.ask("qSupported:swbreak+;hwbreak+");
    assert!(features.contains("ReverseStep+") && features.contains("ReverseContinue+"), "{features}");
    assert_eq!(s.ask(&format!("Z0,{MARK:x},4")), "OK");
    assert!(s.ask("c").starts_with("T05"));
    assert!(s.ask("c").starts_with("T05"));
    assert_eq!(s.ask("pa"), "1000000000000000", "a0 = 16 at the second hit");
    assert!(s.ask("bc").starts_with("T05"));
    assert_eq!(s.ask("pa"), "0800000000000000", "a0 = 8 at the first");
    let r = s.ask("bs");
    assert!(r.starts_with("T05") || r == "S05", "{r}");
    assert_eq!(s.ask("p20"), "2800008000000000", "one step back from mark: the bnez before it");
    assert!(s.ask("bc").contains("replaylog:begin"));
    let hex: String = b"checkpoints".iter().map(|b| format!("{b:02x}")).collect();
    let out = s.ask(&format!("qRcmd,{hex}"));
    assert!(out.starts_with('O'), "{out}");
    let _ = s.reply(); // OK after the console output
    s.0.write_all(b"$k#6b").unwrap();
    assert_eq!(server.join().unwrap(), Ok(Outcome::Killed));
}

/// `monitor` output as text (the O packets before the final OK).
fn monitor(s: &mut Client, cmd: &str) -> String {
    let hex: String = cmd.bytes().map(|b| format!("{b:02x}")).collect();
    let mut text = String::new();
    let mut r = s.ask(format!("qRcmd,{hex}"));
    while r.starts_with('O') && r != "OK" {
        let bytes: Vec<u8> = (1..r.len()).step_by(2).map(|i| u8::from_str_radix(&r[i..i + 2], 16).unwrap()).collect();
        text.push_str(&String::from_utf8_lossy(&bytes));
        r = s.reply();
    }
    assert_eq!(r, "OK");
    text
}

#[test]
fn checkpoint_settings_refuse_hostile_values_and_extremes_still_step_back_exactly() {
    let (mut s, server) = session(|| machine().0);
    s.ask("qSupported:swbreak+;hwbreak+");
    for bad in ["0", "-1", "18446744073709551616", "1e6", "0x10", ""] {
        let out = monitor(&mut s, &format!("checkpoints interval {bad}"));
        assert!(out.contains("interval: a number of steps, at least 1") || bad.is_empty(), "{bad:?}: {out}");
    }
    for bad in ["0", "-5", "1073741825", "18446744073709551615"] {
        let out = monitor(&mut s, &format!("checkpoints cap {bad}"));
        assert!(out.contains("cap: a number of MiB, 1 to 2^30"), "{bad:?}: {out}");
    }
    assert!(monitor(&mut s, "checkpoints").starts_with("1 checkpoints every 1048576 steps"));
    // a checkpoint every step, at most 1 MiB, then the largest interval: still exact
    assert_eq!(monitor(&mut s, "checkpoints interval 1"), "a checkpoint every 1 steps\n");
    assert_eq!(monitor(&mut s, "checkpoints cap 1"), "checkpoints hold at most 1 MiB\n");
    let mut pcs = Vec::new();
    for _ in 0..40 {
        pcs.push(s.ask("p20"));
        let r = s.ask("s");
        assert!(r.starts_with("T05") || r == "S05", "{r}");
    }
    assert_eq!(monitor(&mut s, "checkpoints interval 18446744073709551615"), "a checkpoint every 18446744073709551615 steps\n");
    for want in pcs.iter().rev() {
        let r = s.ask("bs");
        assert!(r.starts_with("T05") || r == "S05", "{r}");
        assert_eq!(&s.ask("p20"), want);
    }
    assert!(s.ask("bs").contains("replaylog:begin"));
    s.0.write_all(b"$k#6b").unwrap();
    assert_eq!(server.join().unwrap(), Ok(Outcome::Killed));
}
