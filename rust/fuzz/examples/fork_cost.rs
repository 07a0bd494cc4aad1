//! Where a fork costs its microseconds, from Rust (no Python): the native paths under the
//! bindings, for `perf record` and before/after figures.
//!
//!     cargo run --release -p pltvm-fuzz --example fork_cost [SECTION ...] [-n N]
//!
//! Sections: `fork` (fork + destroy of a never-run instance), `one` (fork + run + destroy one
//! at a time through `Monitor::fork` / `run` / `destroy`), `batch` (`fork_run_destroy`),
//! `runner` (the fuzz runner's exec on fuzz-nop), `campaign` (a one-job campaign on fuzz-nop
//! with cmplog), `campaign2` (two jobs). Default: all. Figures are ns per instance (median of
//! 5 rounds) and depend on the machine's load.
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::monitor::{BufferHost, Config, Monitor, RunExit, RunRequest};
use pltvm_fuzz::campaign::{self, Options};
use pltvm_fuzz::target::{Runner, Target};
use std::sync::Arc;
use std::time::Instant;

fn enclave(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/pltvm/enclaves/");
    std::fs::read(format!("{dir}{name}.elf")).expect("bundled enclave")
}

/// Median over 5 rounds of `n` calls of `f`, in ns per call.
fn time(n: u64, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n: u64 = 200_000;
    let mut sections = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-n" {
            n = it.next().and_then(|s| s.parse().ok()).expect("-n N");
        } else {
            sections.push(a.as_str());
        }
    }
    let all = sections.is_empty();
    let on = |s: &str| all || sections.contains(&s);
    println!(
        "sizes: Hart {} B, Enclave {} B",
        std::mem::size_of::<pltvm_core::hart::Hart>(),
        std::mem::size_of::<pltvm_core::monitor::enclave::Enclave>()
    );
    let m = Monitor::new(Config::default());
    let p = CreateParams { name: [0; 16], kind: 2, stack_size: 0, shm: None, persistency: None };
    let tpl = m.create_shadow(&enclave("hello-world"), &p).unwrap();
    let fp = ForkParams { name: *b"fork1000-123456\0", shm: None, persistency: None };
    if on("fork") {
        let ns = time(n, || {
            let c = m.fork(&tpl, &fp).unwrap();
            m.destroy(&c);
        });
        println!("fork + destroy, never run:            {ns:8.0} ns");
    }
    if on("one") {
        let mut host = BufferHost::default();
        let ns = time(n / 4, || {
            host.0.clear();
            let c = m.fork(&tpl, &fp).unwrap();
            let out = m.run(&c, RunRequest::start(), &mut host);
            assert!(matches!(out.exit, RunExit::Exited { .. }));
            m.destroy(&c);
        });
        println!("fork + run + destroy, one at a time:  {ns:8.0} ns");
    }
    if on("batch") {
        let ns = time(n / 1000, || {
            let (k, _) = m.fork_run_destroy_buffered(&tpl, &fp, None, 1000).unwrap();
            assert_eq!(k, 1000);
        }) / 1000.0;
        println!("fork_run_destroy (batches of 1000):   {ns:8.0} ns");
    }
    let t = Target::new(&enclave("fuzz-nop"), 256, 10_000).unwrap();
    if on("runner") {
        let mut r = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
        let mut i = 0u32;
        let ns = time(n / 4, || {
            i = i.wrapping_add(1);
            r.exec(&i.to_le_bytes()).unwrap();
        });
        println!("fuzz runner exec, fuzz-nop:           {ns:8.0} ns");
    }
    for (name, jobs) in [("campaign", 1), ("campaign2", 2)] {
        if on(name) {
            let runs = n * jobs as u64;
            let o = Options { seed: 1, runs: Some(runs), jobs, stop_on_finding: false, ..Options::default() };
            let rep = campaign::run(&t, &[], &o, &mut |_| true).unwrap();
            let rate = rep.progress.executions as f64 / rep.progress.elapsed.as_secs_f64();
            println!("campaign fuzz-nop cmplog, {jobs} job(s):   {rate:8.0} execs/s");
        }
    }
}
