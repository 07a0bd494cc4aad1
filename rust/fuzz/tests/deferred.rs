//! The deferred snapshot on the bundled fuzz-init demo: initialisation once, each input in a
//! fresh copy of the initialised state, the crash found and reproduced.
use pltvm_fuzz::{campaign, Options, Outcome, Runner, Target};
use std::path::PathBuf;
use std::sync::Arc;

fn elf(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python/pltvm/enclaves").join(format!("{name}.elf"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const READY: &[u8] = b"fuzz-init: table ready\n";

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// fuzz-init's table, as its initialisation builds it.
fn table() -> Vec<u32> {
    let mut t = vec![0u32; 4096];
    let mut x = 0x9e37_79b9u32;
    for _ in 0..64 {
        for v in t.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *v = v.wrapping_add(x);
        }
    }
    t
}

fn crash_input(index: u8) -> Vec<u8> {
    let mut v = vec![index];
    v.extend_from_slice(&table()[index as usize].to_le_bytes());
    v
}

#[test]
fn initialisation_runs_once_and_executions_start_after_it() {
    let t = Target::new(&elf("fuzz-init"), 64, 100_000).unwrap();
    assert!(t.deferred());
    let init = t.init.as_ref().unwrap();
    assert_eq!(count(&init.output, READY), 1);
    assert!(init.instret > 1_000_000, "the table costs millions of instructions: {}", init.instret);
    assert!(init.ended.is_none());
    let mut r = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    for i in 0..50u8 {
        let x = r.run(&[i, 1, 2, 3, 4, 5]).unwrap();
        // Every input sees inits == 1 and scratch == 0 (else a store to 0x30).
        assert_eq!(x.outcome, Outcome::Ok { retval: 0 }, "input {i}");
        assert_eq!(count(&x.output, READY), 0, "no execution runs the initialisation");
        assert!(x.instret < 2_000, "an execution runs only the per-input code: {}", x.instret);
    }
}

#[test]
fn the_crash_behind_the_initialised_table_is_found_and_reproduces() {
    let t = Target::new(&elf("fuzz-init"), 64, 100_000).unwrap();
    let mut r = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    match r.run(&crash_input(7)).unwrap().outcome {
        Outcome::Crash(f) => assert_eq!((f.cause, f.tval), (15, 0x5000_0000)),
        o => panic!("{o:?}"),
    }
    // A near miss does not crash, and the runner goes on.
    let mut near = crash_input(7);
    near[1] ^= 1;
    assert_eq!(r.run(&near).unwrap().outcome, Outcome::Ok { retval: 0 });
    let opts = Options { seed: 1, runs: Some(200_000), ..Options::default() };
    let report = campaign::run(&t, &[], &opts, &mut |_| true).unwrap();
    assert_eq!(report.findings.len(), 1, "cmplog copies the table entry into the input");
    let f = &report.findings[0];
    match &f.outcome {
        Outcome::Crash(fault) => assert_eq!(fault.tval, 0x5000_0000, "never the isolation check at 0x30"),
        o => panic!("{o:?}"),
    }
    assert_eq!(r.run(&f.input).unwrap().outcome, f.outcome, "the finding reproduces");
}

#[test]
fn without_the_snapshot_every_execution_initialises() {
    let t = Target::with_init(&elf("fuzz-init"), 64, 10_000_000, None).unwrap();
    assert!(!t.deferred() && t.init.is_none());
    let mut r = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    for i in 0..3u8 {
        let x = r.run(&[i, 9, 9, 9, 9]).unwrap();
        assert_eq!(x.outcome, Outcome::Ok { retval: 0 });
        assert_eq!(count(&x.output, READY), 1);
        assert!(x.instret > 1_000_000);
    }
    // The same crash, reached through the SDK's fallback (the input already in the shm).
    assert!(matches!(r.run(&crash_input(200)).unwrap().outcome, Outcome::Crash(f) if f.tval == 0x5000_0000));
    // An initialisation longer than its budget: no snapshot, how it ended is kept.
    let short = Target::with_init(&elf("fuzz-init"), 64, 100_000, Some(10_000)).unwrap();
    assert!(!short.deferred());
    assert_eq!(short.init.as_ref().unwrap().ended, Some(Outcome::Timeout));
    assert!(Target::with_init(&elf("fuzz-init"), 64, 100_000, Some(0)).is_err());
}

#[test]
fn targets_without_pl_fuzz_input_run_from_the_entry_as_before() {
    let t = Target::new(&elf("fuzz-magic4"), 64, 100_000).unwrap();
    assert!(!t.deferred());
    assert_eq!(t.init.as_ref().unwrap().ended, Some(Outcome::Ok { retval: 0 }));
    let mut r = Runner::new(t, 1 << 16, false).unwrap();
    assert!(matches!(r.run(&0x4d5a_4c50u32.to_le_bytes()).unwrap().outcome, Outcome::Crash(f) if f.tval == 0x40));
}
