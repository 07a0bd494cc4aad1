//! Cost of one fuzz execution with coverage and cmplog on, per engine: the bundled fuzz-parser
//! (python/pltvm/enclaves/) over a large input (4 KiB of version, name and slot records, so
//! each execution loops over about a thousand records), run `N` times through a `Runner` as a
//! campaign runs it (fork, run, destroy). Prints guest instructions per execution and
//! executions per second. For host instruction counts per execution, run it under cachegrind
//! with two values of N and divide the difference by the difference of N (start-up cancels).
//!
//!     cargo run --release -p pltvm-fuzz --example jit_cov_cost -- [interp|jit] [N] [nocmplog]
use pltvm_core::jit::Engine;
use pltvm_fuzz::{Runner, Target};
use std::path::PathBuf;
use std::time::Instant;

/// A 4096-byte parser input: `V 1 1`, then name and version-1 slot records until full.
fn input() -> Vec<u8> {
    let mut v = b"V\x01\x01".to_vec();
    let mut k = 0u8;
    while v.len() + 16 <= 4096 {
        if k % 2 == 0 {
            v.extend(b"N\x0d");
            v.extend((0..13).map(|i| b'a' + (i + k) % 26));
        } else {
            v.extend([b'S', 5, k % 12, k, k ^ 0x55, 3, 4]);
        }
        k = k.wrapping_add(1);
    }
    v
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let engine = args.first().map(|s| Engine::parse(s).expect("engine: interp or jit")).unwrap_or_default();
    let n: u64 = args.get(1).map(|s| s.parse().expect("N")).unwrap_or(2000);
    let cmplog = !args.iter().any(|a| a == "nocmplog");
    let elf = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python/pltvm/enclaves/fuzz-parser.elf"))
        .expect("fuzz-parser.elf");
    let target = Target::with_engine(&elf, 4096, 10_000_000, Some(pltvm_fuzz::deferred::DEFAULT_MAX_INIT_INSTRUCTIONS), engine)
        .expect("target");
    let mut r = Runner::new(target, 1 << 16, cmplog).expect("runner");
    let data = input();
    let mut instret = 0;
    let t = Instant::now();
    for _ in 0..n {
        r.hits().clear();
        let e = r.run(&data).expect("run");
        instret = e.instret;
        assert!(matches!(e.outcome, pltvm_fuzz::Outcome::Ok { .. }), "{:?}", e.outcome);
    }
    let s = t.elapsed().as_secs_f64();
    let jit = pltvm_core::jit::stats();
    println!(
        "fuzz-parser {} B input, engine {}, cmplog {}: {} executions, {} guest instructions each, {:.0} execs/s, {:.1} MIPS, edges {}, cmps {}; {} blocks compiled",
        data.len(),
        engine.name(),
        cmplog,
        n,
        instret,
        n as f64 / s,
        (n * instret) as f64 / s / 1e6,
        r.edges_hit(),
        r.cmps().len(),
        jit.compiled
    );
}
