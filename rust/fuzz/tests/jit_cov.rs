//! Fuzzing under the compiling tier: coverage and cmplog counted in compiled code must be
//! exactly the interpreter's, so per execution the same hit map and comparisons, and a seeded
//! campaign the same corpus and the same finding, under either engine.
use pltvm_core::jit::{self, Engine};
use pltvm_fuzz::{campaign, Options, Runner, Target};
use std::path::PathBuf;
use std::sync::Arc;

fn elf(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python/pltvm/enclaves").join(format!("{name}.elf"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn target(name: &str, engine: Engine) -> Arc<Target> {
    // Compile from a block's first repeat on, so short executions run compiled code.
    jit::set_threshold(1);
    Target::with_engine(&elf(name), 4096, 100_000, Some(pltvm_fuzz::deferred::DEFAULT_MAX_INIT_INSTRUCTIONS), engine)
        .expect("target")
}

// pltvm-core's test stream (a file of its integration tests' support module).
#[allow(dead_code)]
#[path = "../../core/tests/support/rng.rs"]
mod rng;
use rng::Rng;

/// Random bytes, after records the parser understands (tags V, N, S) or fuzz-hang's trigger.
fn inputs(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let len = (rng.next() % 64) as usize;
            let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            match k % 4 {
                0 | 2 => drop(v.splice(0..0, b"V\x01\x02N\x03abcS\x03\x00\x01\x02".iter().copied())),
                // fuzz-hang spins on this (a budget cut in a compiled self-loop).
                1 => drop(v.splice(0..0, b"HANG".iter().copied())),
                _ => {}
            }
            v
        })
        .collect()
}

/// Each execution leaves the same map bytes, comparisons, outcome and count under both engines.
#[test]
fn executions_leave_the_same_map_and_cmplog_under_both_engines() {
    let before = jit::stats().compiled + jit::stats().reused;
    for name in ["fuzz-parser", "fuzz-magic4", "fuzz-magic8", "fuzz-init", "fuzz-state", "fuzz-hang"] {
        let (ti, tj) = (target(name, Engine::Interp), target(name, Engine::Jit));
        let mut a = Runner::new(ti, 1 << 16, true).unwrap();
        let mut j = Runner::new(tj, 1 << 16, true).unwrap();
        let mut rng = Rng(0x5eed_0000 ^ name.len() as u64);
        for (k, input) in inputs(&mut rng, 300).iter().enumerate() {
            a.hits().clear();
            j.hits().clear();
            let (ea, ej) = (a.run(input).unwrap(), j.run(input).unwrap());
            assert_eq!((&ea.outcome, ea.instret), (&ej.outcome, ej.instret), "{name} input {k}");
            let map = |r: &Runner| (0..r.hits().len()).map(|i| r.hits().get(i)).collect::<Vec<u8>>();
            assert!(map(&a) == map(&j), "{name} input {k}: hit maps differ");
            assert_eq!(a.cmps(), j.cmps(), "{name} input {k}: cmplog");
        }
    }
    let ran = jit::stats().compiled + jit::stats().reused - before;
    assert!(!Engine::jit_supported() || ran > 20, "only {ran} blocks compiled or reused: nothing ran compiled");
}

/// A seeded one-job campaign is deterministic given its coverage, so under the jit it must
/// build the same corpus and find the same magic value after the same number of executions.
#[test]
fn a_seeded_campaign_finds_the_same_magic_under_both_engines() {
    for (name, magic) in [("fuzz-magic4", &0x4d5a_4c50u32.to_le_bytes()[..])] {
        let o = Options { seed: 1, runs: Some(20_000), ..Options::default() };
        let ri = campaign::run(&target(name, Engine::Interp), &[], &o, &mut |_| true).unwrap();
        let rj = campaign::run(&target(name, Engine::Jit), &[], &o, &mut |_| true).unwrap();
        assert_eq!(ri.findings.len(), 1, "{name} under interp: {:?}", ri.progress);
        assert_eq!(&ri.findings[0].input[..magic.len()], magic);
        assert_eq!(rj.findings.len(), 1, "{name} under the jit: {:?}", rj.progress);
        assert_eq!(rj.findings[0].input, ri.findings[0].input, "{name}: the same finding");
        assert_eq!(rj.progress.executions, ri.progress.executions, "{name}: found after as many executions");
        assert_eq!(rj.corpus, ri.corpus, "{name}: the same corpus");
    }
    // The parser has no single magic; its corpus must still grow identically.
    let o = Options { seed: 5, runs: Some(3_000), stop_on_finding: false, ..Options::default() };
    let ri = campaign::run(&target("fuzz-parser", Engine::Interp), &[], &o, &mut |_| true).unwrap();
    let rj = campaign::run(&target("fuzz-parser", Engine::Jit), &[], &o, &mut |_| true).unwrap();
    assert!(ri.corpus.len() > 3);
    assert_eq!(rj.corpus, ri.corpus, "fuzz-parser: the same corpus");
    assert_eq!(rj.findings.len(), ri.findings.len());
}
