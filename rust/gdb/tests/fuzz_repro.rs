//! The fuzzer's reproduction of one input under the stub (what `pltvm fuzz ELF FILE --gdb`
//! serves): the instance `Target::prepare` sets up, the target's budget as the limit, the second
//! `pl_fuzz_input` as the end, a fault replayed to the faulting instruction. The stop must be at
//! the pc the fuzzer itself reports for the same input.
use gdbstub::common::Signal;
use gdbstub::stub::SingleThreadStopReason as Stop;
use pltvm_core::monitor::run::BufferHost;
use pltvm_core::monitor::snapshot::FUZZ_INPUT;
use pltvm_fuzz::{Fault, Outcome, Runner, Target};
use pltvm_gdb::enclave::{EnclaveDebuggee, Ended, Respawn};
use pltvm_gdb::target::DebugTarget;
use pltvm_gdb::Debuggee;
use std::sync::{Arc, OnceLock};

mod support;
use support::{bundled, cont};

/// The fuzzer's own outcome for `input`.
fn fuzzer_says(t: &Arc<Target>, input: &[u8]) -> (Outcome, u64) {
    let mut r = Runner::new(Arc::clone(t), 1 << 16, false).unwrap();
    r.exec(input).unwrap()
}

/// Serves `input` of `t` to a DebugTarget and runs `f` on it; returns how it ended, the
/// instructions retired, whether the limit was reported, and what it printed.
fn under_gdb<R>(t: &Arc<Target>, input: &[u8], f: impl FnOnce(&mut DebugTarget<'_, EnclaveDebuggee<'_>>) -> R) -> (R, Option<Ended>, u64, bool, Vec<u8>) {
    let monitor = t.monitor();
    let (cell, entry) = t.prepare(input).unwrap();
    let slot = OnceLock::new();
    let mut host = BufferHost::default();
    let mut ocall = |_: u64, _: [u64; 3]| Some(u64::MAX);
    let make = Box::new(|| t.prepare(input).map_err(|e| e.to_string()));
    let mut d = EnclaveDebuggee::new(monitor, &cell, entry, &mut host, &mut ocall)
        .unwrap()
        .with_limit(t.max_instructions)
        .ending_at_ocall(FUZZ_INPUT)
        .with_respawn(Respawn { slot: &slot, make });
    let r = {
        let mut dt = DebugTarget::new(&mut d);
        let r = f(&mut dt);
        dt.end();
        r
    };
    assert_eq!(d.replay_error, None);
    let (ended, retired, timed_out) = (d.ended.clone(), d.retired, d.timed_out);
    drop(d);
    if let Some(c) = slot.get() {
        monitor.destroy(c);
    }
    monitor.destroy(&cell);
    (r, ended, retired, timed_out, host.0)
}

#[test]
fn a_crash_stops_at_the_pc_the_fuzzer_reports_with_the_registers_before_it() {
    let t = Target::with_init(&bundled("fuzz-magic4.elf"), 64, 100_000, None).unwrap();
    let (Outcome::Crash(Fault { cause, pc, tval, .. }), n) = fuzzer_says(&t, b"PLZM!") else { panic!("magic4 crashes on PLZM") };
    assert_eq!((cause, tval), (15, 0x40));
    let entry = {
        let (c, _) = t.prepare(b"").unwrap();
        let e = c.try_inner().unwrap().as_ref().unwrap().entry;
        t.monitor().destroy(&c);
        e
    };
    let (regs, ended, retired, timed_out, _) = under_gdb(&t, b"PLZM!", |dt| {
        // Before the first instruction: the entry registers of an execution (a0/a1 = shm).
        let h = dt.d.hart();
        let first = (h.pc, h.x[10], h.x[11]);
        let s = cont(dt, 1 << 12);
        let h = dt.d.hart();
        (first, s, h.pc, h.x)
    });
    let (first, stop, at, x) = regs;
    assert_eq!(first, (entry, 0x39_0000_0000, t.shm_size() as u64), "gdb starts at the entry with a0/a1 = shm");
    assert_eq!(stop, Stop::Signal(Signal::SIGSEGV));
    assert_eq!(at, pc, "stopped at the fuzzer's fault pc");
    assert_eq!(retired, n, "as many instructions as the fuzzer's run retired");
    assert!(x.iter().any(|&v| (0x39_0000_0000..0x39_0000_1000).contains(&v)), "shm pointers live: {x:x?}");
    assert_eq!(ended, Some(Ended::Fault { cause, tval, pc }));
    assert!(!timed_out);
}

#[test]
fn a_deferred_target_continues_from_its_snapshot_and_crashes_where_the_fuzzer_says() {
    // fuzz-init: the key for index 0 is table[0] after the initialisation (64 rounds of
    // xorshift32 over 4096 entries), which only the initialisation knows.
    let mut x: u32 = 0x9e37_79b9;
    let mut table = vec![0u32; 4096];
    for _ in 0..64 {
        for e in table.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *e = e.wrapping_add(x);
        }
    }
    let mut input = vec![0u8];
    input.extend_from_slice(&table[0].to_le_bytes());
    let t = Target::with_init(&bundled("fuzz-init.elf"), 64, 100_000, Some(1 << 30)).unwrap();
    assert!(t.deferred());
    let (Outcome::Crash(Fault { pc, tval, .. }), n) = fuzzer_says(&t, &input) else { panic!("the key crashes") };
    assert_eq!(tval, 0x5000_0000);
    let ((stop, at, key_regs), _, retired, _, printed) = under_gdb(&t, &input, |dt| {
        let s = cont(dt, 1 << 12);
        let h = dt.d.hart();
        (s, h.pc, h.x.iter().filter(|&&v| v == table[0] as u64).count())
    });
    assert_eq!(stop, Stop::Signal(Signal::SIGSEGV));
    assert_eq!((at, retired), (pc, n));
    assert!(key_regs >= 1, "the key is in a register before the store");
    assert!(printed.is_empty(), "the initialisation (its print) ran once, before the snapshot");
    // A wrong key: the input ends at the next pl_fuzz_input, as the fuzzer's does (exit 0).
    let (stop, ended, ..) = under_gdb(&t, &[0, 1, 2, 3, 4], |dt| cont(dt, 1 << 12));
    assert_eq!((stop, ended), (Stop::Exited(0), Some(Ended::Exited(0))));
}

#[test]
fn a_hang_stops_once_with_sigxcpu_at_the_budget_then_runs_on() {
    let t = Target::with_init(&bundled("fuzz-hang.elf"), 64, 5_000, None).unwrap();
    assert_eq!(fuzzer_says(&t, b"HANG").0, Outcome::Timeout);
    let ((first, second_retired), _, retired, timed_out, _) = under_gdb(&t, b"HANG", |dt| {
        let s = cont(dt, 1 << 12);
        let at = dt.d.hart().retired;
        // gdb may go on: the next continue is not stopped by the budget again
        for _ in 0..3 {
            assert_eq!(dt.run_chunk(1000), None);
        }
        (s, dt.d.hart().retired - at)
    });
    assert_eq!(first, Stop::Signal(Signal::SIGXCPU));
    assert!(timed_out);
    assert_eq!(retired, 5_000 + second_retired);
    assert_eq!(second_retired, 3000);
    // An input that does not hang exits under the budget: no SIGXCPU.
    let (stop, ended, _, timed_out, _) = under_gdb(&t, b"abc", |dt| cont(dt, 1 << 12));
    assert_eq!((stop, timed_out), (Stop::Exited((b'a' as u32 + b'b' as u32 + b'c' as u32) as u8), false));
    assert_eq!(ended, Some(Ended::Exited(((b'a' as u64 + b'b' as u64 + b'c' as u64) & 0xff) as u64)));
}
