//! The executor and the campaign on the bundled fuzz demos (python/pltvm/enclaves/).
use pltvm_fuzz::{campaign, Options, Outcome, Runner, Target};
use std::path::PathBuf;
use std::sync::Arc;

fn elf(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python/pltvm/enclaves").join(format!("{name}.elf"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn target(name: &str) -> Arc<Target> {
    Target::new(&elf(name), 4096, 100_000).expect("target")
}

#[test]
fn runs_are_classified() {
    let mut r = Runner::new(target("fuzz-magic4"), 1 << 16, false).unwrap();
    assert_eq!(r.run(b"abcd").unwrap().outcome, Outcome::Ok { retval: 0 });
    match r.run(&0x4d5a_4c50u32.to_le_bytes()).unwrap().outcome {
        Outcome::Crash(f) => assert_eq!((f.cause, f.tval), (15, 0x40)),
        o => panic!("{o:?}"),
    }
    // The runner goes on after a crash with the same hart.
    assert_eq!(r.run(b"").unwrap().outcome, Outcome::Ok { retval: 0 });
    let mut h = Runner::new(target("fuzz-hang"), 1 << 16, false).unwrap();
    assert_eq!(h.run(b"HANG").unwrap().outcome, Outcome::Timeout);
    assert_eq!(h.run(b"HAN").unwrap().outcome, Outcome::Ok { retval: (b'H' + b'A' + b'N') as u64 & 0xff });
}

#[test]
fn input_is_truncated_to_max_len_and_length_prefixed() {
    let t = Target::new(&elf("fuzz-hang"), 3, 100_000).unwrap();
    assert_eq!(t.shm_size(), 4096);
    let mut h = Runner::new(t, 1 << 16, false).unwrap();
    // "HANG" cut to "HAN": no hang; the sum sees exactly three bytes.
    assert_eq!(h.run(b"HANG").unwrap().outcome, Outcome::Ok { retval: (b'H' + b'A' + b'N') as u64 & 0xff });
    assert!(Target::new(&elf("fuzz-hang"), pltvm_fuzz::target::MAX_LEN_LIMIT + 1, 10).is_err());
    assert!(Target::new(&elf("fuzz-hang"), 16, 0).is_err());
    assert!(Target::new(b"not an elf", 16, 10).is_err());
    assert!(Runner::new(target("fuzz-nop"), 1000, false).is_err());
}

#[test]
fn edges_differ_by_path_and_ids_are_shared() {
    let t = target("fuzz-parser");
    let mut a = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    a.run(b"").unwrap();
    let short = a.edges_hit();
    a.hits().clear();
    a.run(b"V\x01\x02N\x03abcS\x03\x00\x01\x02").unwrap();
    let long = a.edges_hit();
    assert!(short > 0 && long > short + 5, "{short} {long}");
    let n = t.edge_ids.len();
    let mut b = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    b.run(b"V\x01\x02N\x03abcS\x03\x00\x01\x02").unwrap();
    assert_eq!(t.edge_ids.len(), n, "a second runner reuses the ids");
    assert_eq!(b.edges_hit(), long);
}

#[test]
fn cmplog_records_the_magic_comparison() {
    let mut r = Runner::new(target("fuzz-magic4"), 1 << 16, true).unwrap();
    r.run(b"abcd").unwrap();
    let word = u32::from_le_bytes(*b"abcd") as u64;
    assert!(r.cmps().iter().any(|c| c.a == word && c.b == 0x4d5a_4c50 && c.size == 4), "{:?}", r.cmps());
}

fn quiet(o: &Options) -> Report {
    campaign::run(&target_for(o), &[], o, &mut |_| true).unwrap()
}

fn target_for(_o: &Options) -> Arc<Target> {
    target("fuzz-magic4")
}

use pltvm_fuzz::Report;

#[test]
fn cmplog_finds_the_4_byte_magic_and_havoc_alone_does_not() {
    let with = Options { seed: 1, runs: Some(20_000), ..Options::default() };
    let r = quiet(&with);
    assert_eq!(r.findings.len(), 1, "{:?}", r.progress);
    assert_eq!(&r.findings[0].input[..4], &0x4d5a_4c50u32.to_le_bytes());
    assert!(r.progress.executions <= 20_000);
    let without = Options { seed: 1, runs: Some(20_000), cmplog: false, ..Options::default() };
    let r = quiet(&without);
    assert!(r.findings.is_empty());
    assert_eq!(r.progress.executions, 20_000);
}

#[test]
fn one_job_is_reproducible() {
    let o = Options { seed: 7, runs: Some(3_000), cmplog: true, stop_on_finding: false, ..Options::default() };
    let t = target("fuzz-parser");
    let a = campaign::run(&t, &[], &o, &mut |_| true).unwrap();
    let t = target("fuzz-parser");
    let b = campaign::run(&t, &[], &o, &mut |_| true).unwrap();
    assert_eq!(a.corpus, b.corpus);
    assert_eq!(a.progress.executions, 3_000);
    assert!(a.corpus.len() > 3, "coverage grows on the parser: {}", a.corpus.len());
}

#[test]
fn isolation_no_state_leaks_between_runs() {
    let o = Options { seed: 3, runs: Some(5_000), stop_on_finding: false, ..Options::default() };
    let r = campaign::run(&target("fuzz-state"), &[b"hello".to_vec()], &o, &mut |_| true).unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings.first());
    assert_eq!(r.progress.executions, 5_000);
}

#[test]
fn two_jobs_share_the_budget() {
    let o = Options { seed: 3, runs: Some(4_000), jobs: 2, cmplog: false, stop_on_finding: false, ..Options::default() };
    let r = campaign::run(&target("fuzz-parser"), &[], &o, &mut |_| true).unwrap();
    assert_eq!(r.progress.executions, 4_000);
    assert!(r.findings.iter().all(|f| f.kind == "crash"));
}

/// Throughput figures (not a test of values): raw runner loop vs. a campaign, on fuzz-nop.
/// `cargo test --release -p pltvm-fuzz --test fuzz -- --ignored --nocapture throughput`
#[test]
#[ignore]
fn throughput() {
    let t = target("fuzz-nop");
    let mut r = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
    let n = 100_000;
    let s = std::time::Instant::now();
    for i in 0..n {
        r.exec(&(i as u32).to_le_bytes()).unwrap();
    }
    let raw = n as f64 / s.elapsed().as_secs_f64();
    let o = Options { seed: 1, runs: Some(n), stop_on_finding: false, ..Options::default() };
    let rep = campaign::run(&t, &[], &o, &mut |_| true).unwrap();
    let camp = n as f64 / rep.progress.elapsed.as_secs_f64();
    let o = Options { seed: 1, runs: Some(n), stop_on_finding: false, cmplog: false, ..Options::default() };
    let rep = campaign::run(&t, &[], &o, &mut |_| true).unwrap();
    let nocmp = n as f64 / rep.progress.elapsed.as_secs_f64();
    println!("fuzz-nop: raw runner {raw:.0} execs/s, campaign {camp:.0} execs/s (cmplog), {nocmp:.0} (no cmplog)");
}
