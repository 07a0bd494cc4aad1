//! Shadow templates and fork: isolation, entry registers, copy-on-write accounting, template
//! destroy, concurrency, faults. The `bench_*` tests are ignored (run them with
//! `cargo test --release -p pltvm-core bench_ -- --ignored --nocapture --test-threads 1`).
use super::super::consts::*;
use super::super::enclave::CreateParams;
use super::super::run::{BufferHost, Entry, RunExit, RunRequest};
use super::super::{Config, Monitor, State};
use super::super::test_support::elf_with_data as elf;
use super::super::test_support::*;
use super::*;
use std::sync::Arc;
use std::time::Instant;

fn exit_with(reg: u32) -> Vec<u32> {
    vec![addi(10, reg, 0), lui(16, 0x100), addi(16, 16, 0x101), addi(17, 0, 99), ECALL]
}

fn shadow_params() -> CreateParams {
    CreateParams { name: [0; 16], kind: SHADOW_ENCLAVE, stack_size: DEFAULT_STACK_SIZE, shm: None, persistency: None }
}

fn fork_params(name: &str, shm: Option<Vec<u8>>) -> ForkParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    ForkParams { name: n, shm, persistency: None }
}

fn start(relay: Option<Vec<u8>>) -> RunRequest {
    RunRequest { entry: Entry::Start { relay }, shm: None, budget: None }
}

/// Increments the global at 0x2000, adds the old value of the stack word at sp-8 (fresh: 0),
/// writes the stack word, and exits with global + 1 + old stack word.
fn counter_program() -> Vec<u8> {
    let code = [
        lui(5, 0x2),
        ld(6, 0, 5),
        addi(6, 6, 1),
        sd(6, 0, 5),
        ld(7, -8, 2),
        sd(6, -8, 2),
        add(6, 6, 7),
    ];
    let mut c = code.to_vec();
    c.extend(exit_with(6));
    elf(&c, &41u64.to_le_bytes())
}

#[test]
fn template_has_no_stack_kbuffer_or_shm_and_is_measured_image_only() {
    let m = Monitor::new(Config::default());
    let mut p = shadow_params();
    p.shm = Some(vec![1u8; 0x1000]);
    let t = m.create(&counter_program(), &p).unwrap();
    assert_eq!((t.kind, t.id, t.eid), (SHADOW_ENCLAVE, DRIVER_ID_MIN, 0));
    let mut g = t.try_inner().unwrap();
    let e = g.as_mut().unwrap();
    assert!(e.translate(STACK_BASE - PAGE).is_none());
    assert!(e.translate(KBUFFER).is_none());
    assert!(e.translate(SHM_BASE).is_none());
    assert_eq!(e.read_va(0x2000, 8).unwrap(), 41u64.to_le_bytes());
    let h = super::super::measure::measure(&e.bus, e.root, e.entry, 0);
    assert_eq!(h, t.measurement);
    assert_ne!(h, [0; 32]);
    drop(g);
    assert_eq!(m.run(&t, start(None), &mut BufferHost::default()).exit, RunExit::Refused("the enclave is FRESH and cannot be run this way".into()));
    assert_eq!(m.stop(&t), -1, "stop does not apply to a template");
}

#[test]
fn instances_are_isolated_and_the_template_is_unchanged() {
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let forks: Vec<_> = (0..4).map(|i| m.fork(&t, &fork_params(&format!("i{i}"), None)).unwrap()).collect();
    for (i, f) in forks.iter().enumerate() {
        assert_eq!(f.shadow_of, Some(t.id));
        assert_eq!(f.id, DRIVER_ID_MIN + 1 + i as u32);
        assert_eq!(f.eid, i as u32, "instances take normal monitor eids");
        assert_eq!(f.measurement, t.measurement, "B36: the template's hash");
    }
    // One instance runs half-way (budget) and its memory is inspected against a sibling.
    for f in &forks {
        let out = m.run(f, start(None), &mut BufferHost::default());
        assert_eq!(out.exit, RunExit::Exited { retval: 42 }, "each instance sees 41 and a zero stack");
        assert_eq!(f.state(), State::Invalid);
    }
    let mut g = t.try_inner().unwrap();
    assert_eq!(g.as_mut().unwrap().read_va(0x2000, 8).unwrap(), 41u64.to_le_bytes());
    drop(g);
    // An instance stopped after its stores holds its own copy; a sibling still sees 41.
    let a = m.fork(&t, &fork_params("a", None)).unwrap();
    let b = m.fork(&t, &fork_params("b", None)).unwrap();
    let out = m.run(&a, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(6) }, &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Budget);
    let mut ga = a.try_inner().unwrap();
    let ea = ga.as_mut().unwrap();
    assert_eq!(ea.read_va(0x2000, 8).unwrap(), 42u64.to_le_bytes());
    assert_eq!(ea.read_va(STACK_BASE - 8, 8).unwrap(), 42u64.to_le_bytes());
    drop(ga);
    let mut gb = b.try_inner().unwrap();
    let eb = gb.as_mut().unwrap();
    assert_eq!(eb.read_va(0x2000, 8).unwrap(), 41u64.to_le_bytes());
    assert_eq!(eb.read_va(STACK_BASE - 8, 8).unwrap(), [0; 8]);
    drop(gb);
    assert_eq!(m.run(&b, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 42 });
    assert_eq!(m.run(&a, RunRequest { entry: Entry::Continue, shm: None, budget: None }, &mut BufferHost::default()).exit, RunExit::Exited { retval: 42 });
}

#[test]
fn entry_registers_and_the_mod_5_counter() {
    let m = Monitor::new(Config::default());
    // Store a0..a4 and sp at shm[0..48], then exit with a2.
    let mut code = vec![addi(5, 10, 0)];
    for (i, r) in [10u32, 11, 12, 13, 14, 2].iter().enumerate() {
        code.push(sd(*r, 8 * i as i32, 5));
    }
    code.extend(exit_with(12));
    let bytes = elf(&code, &[]);
    // Runs of a normal enclave advance the counter, a shadow creation resets it.
    let n = m.create(&bytes, &CreateParams { kind: NORMAL_ENCLAVE, shm: Some(vec![0; 0x1000]), ..shadow_params() }).unwrap();
    assert_eq!(m.run(&n, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 0 });
    assert_eq!(m.eapp_args(), 1);
    let t = m.create(&bytes, &shadow_params()).unwrap();
    assert_eq!(m.eapp_args(), 0, "B1: reset by the shadow creation");
    let mut seen = Vec::new();
    for i in 0..7 {
        let f = m.fork(&t, &fork_params(&format!("f{i}"), Some(vec![0; 0x4000]))).unwrap();
        let out = m.run(&f, start(Some(vec![7; 0x1000])), &mut BufferHost::default());
        let RunExit::Exited { retval } = out.exit else { panic!("{:?}", out.exit) };
        seen.push(retval);
        let shm = out.shm.unwrap();
        let w = |i: usize| u64::from_le_bytes(shm[8 * i..8 * i + 8].try_into().unwrap());
        assert_eq!([w(0), w(1), w(2), w(3), w(4), w(5)], [SHM_BASE, 0x4000, retval, MM_ARG_BASE, 0x1000, STACK_BASE]);
        assert_eq!(out.relay, vec![vec![7u8; 0x1000]]);
    }
    assert_eq!(seen, [0, 1, 2, 3, 4, 0, 1], "instances get the counter mod 5");
    let n = m.create(&bytes, &CreateParams { kind: NORMAL_ENCLAVE, shm: Some(vec![0; 0x1000]), ..shadow_params() }).unwrap();
    assert_eq!(m.run(&n, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 7 }, "normal: raw");
    // Without shm and relay: a0, a1, a3, a4 are 0 (exit with a0 | a1 | a3 | a4).
    let code = [add(5, 10, 11), add(5, 5, 13), add(5, 5, 14)];
    let mut c = code.to_vec();
    c.extend(exit_with(5));
    let t2 = m.create(&elf(&c, &[]), &shadow_params()).unwrap();
    let f = m.fork(&t2, &fork_params("z", None)).unwrap();
    assert_eq!(m.run(&f, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 0 });
}

#[test]
fn copy_on_write_accounting() {
    let m = Monitor::new(Config::default());
    let data = vec![0x5a; 64 * 4096];
    let t = m.create(&elf(&exit_with(0), &data), &shadow_params()).unwrap();
    let f = m.fork(&t, &fork_params("w", None)).unwrap();
    let base = {
        let g = f.try_inner().unwrap();
        frame_counts(&g.as_ref().unwrap().bus)
    };
    assert_eq!(base.0, 0, "a fresh fork owns nothing");
    assert!(base.1 >= 65, "it shares the image");
    for k in [1u64, 5, 20] {
        let f = m.fork(&t, &fork_params("w", None)).unwrap();
        let mut g = f.try_inner().unwrap();
        let e = g.as_mut().unwrap();
        for i in 0..k {
            assert!(e.write_va(0x2000 + i * PAGE + 8, &[1, 2, 3]));
        }
        let (private, shared) = frame_counts(&e.bus);
        assert_eq!(private as u64, k, "an instance that writes k pages owns k frames");
        assert_eq!(shared + private, base.1);
        assert_eq!(e.read_va(0x2000 + 8, 4).unwrap(), [1, 2, 3, 0x5a]);
    }
    let s = m.stats();
    assert_eq!((s.templates, s.instances, s.enclaves), (1, 4, 4));
    assert_eq!(s.frames_private, 1 + 5 + 20);
    let mut g = t.try_inner().unwrap();
    assert_eq!(g.as_mut().unwrap().read_va(0x2000 + 8, 4).unwrap(), [0x5a; 4], "template unchanged");
}

#[test]
fn destroying_the_template_keeps_instances_alive() {
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let used = m.secure_memory_used();
    assert!(used > 0);
    let a = m.fork(&t, &fork_params("a", None)).unwrap();
    let b = m.fork(&t, &fork_params("b", None)).unwrap();
    assert_eq!(m.destroy(&t), 0);
    assert_eq!(m.secure_memory_used(), 0);
    assert!(m.lookup(t.id).is_none());
    assert_eq!(m.destroy(&t), -1);
    assert!(m.fork(&t, &fork_params("c", None)).is_err());
    assert_eq!(m.run(&a, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 42 });
    assert_eq!(m.run(&b, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 42 });
    assert_eq!(m.ids(), Vec::<u32>::new(), "B21: instance ids are freed");
    // The slot and the id are reused.
    let t2 = m.create(&counter_program(), &shadow_params()).unwrap();
    assert_eq!((t2.eid, t2.id), (0, DRIVER_ID_MIN));
}

#[test]
fn a_faulting_instance_leaves_its_siblings_running() {
    let m = Monitor::new(Config::default());
    // Loads from a0: without shm a0 = 0 and the load faults.
    let mut code = vec![ld(5, 0, 10)];
    code.extend(exit_with(5));
    let t = m.create(&elf(&code, &[]), &shadow_params()).unwrap();
    let mut shm = vec![0u8; 0x1000];
    shm[0] = 9;
    let good = m.fork(&t, &fork_params("g", Some(shm.clone()))).unwrap();
    let bad = m.fork(&t, &fork_params("b", None)).unwrap();
    let out = m.run(&bad, start(None), &mut BufferHost::default());
    assert!(matches!(out.exit, RunExit::Fault { cause: 13, tval: 0, .. }), "{:?}", out.exit);
    assert_eq!(m.run(&good, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 9 });
    let again = m.fork(&t, &fork_params("g2", Some(shm))).unwrap();
    assert_eq!(m.run(&again, start(None), &mut BufferHost::default()).exit, RunExit::Exited { retval: 9 });
}

#[test]
fn concurrent_forks_from_many_threads() {
    let m = Arc::new(Monitor::new(Config::default()));
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (m, t) = (Arc::clone(&m), Arc::clone(&t));
            std::thread::spawn(move || {
                let mut ok = 0;
                for j in 0..100 {
                    let f = m.fork(&t, &fork_params(&format!("t{i}-{j}"), None)).unwrap();
                    if m.run(&f, start(None), &mut BufferHost::default()).exit == (RunExit::Exited { retval: 42 }) {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let total: i32 = threads.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 800);
    assert_eq!(m.ids(), vec![t.id]);
    let (k, _) = m.fork_run_destroy_buffered(&t, &fork_params("batch", None), None, 50).unwrap();
    assert_eq!(k, 50);
}

// ---------------------------------------------------------------------------------------------
// Benchmarks (ignored).

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p) as usize]
}

#[test]
#[ignore]
fn bench_fork_latency_by_image_size() {
    let m = Monitor::new(Config { secure_memory: 1 << 34, ..Config::default() });
    for mib in [0usize, 1, 16, 64] {
        let size = if mib == 0 { 64 << 10 } else { mib << 20 };
        let t = m.create(&elf(&exit_with(0), &vec![1u8; size]), &shadow_params()).unwrap();
        let mut v = Vec::new();
        for _ in 0..20000 {
            let s = Instant::now();
            let f = m.fork(&t, &ForkParams::default()).unwrap();
            v.push(s.elapsed().as_secs_f64() * 1e9);
            m.destroy(&f);
        }
        println!("fork {:>6} KiB image: p50 {:.0} ns p99 {:.0} ns", size >> 10, percentile(&mut v, 0.5), percentile(&mut v, 0.99));
        m.destroy(&t);
    }
}

#[test]
#[ignore]
fn bench_copy_on_write() {
    let m = Monitor::new(Config::default());
    let t = m.create(&elf(&exit_with(0), &vec![1u8; 1 << 20]), &shadow_params()).unwrap();
    let tpl = m.template(&t).unwrap();
    // First write to a shared page: per page, over 16 pages of a fresh fork (the first one also
    // copies the radix-tree path), and the very first write alone.
    let (mut first, mut each, mut cycle) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20000 {
        let s = Instant::now();
        let mut e = instantiate(&tpl, &ForkParams::default()).unwrap();
        let pa0 = e.translate(0x2000).unwrap();
        let w = Instant::now();
        e.bus.frame(pa0, true).unwrap();
        first.push(w.elapsed().as_secs_f64() * 1e9);
        let w = Instant::now();
        for i in 1..16u64 {
            let pa = e.translate(0x2000 + i * PAGE).unwrap();
            e.bus.frame(pa, true).unwrap();
        }
        each.push(w.elapsed().as_secs_f64() * 1e9 / 15.0);
        drop(e);
        cycle.push(s.elapsed().as_secs_f64() * 1e9);
    }
    println!("first write to a shared page (fresh fork, incl. tree path): p50 {:.0} ns", percentile(&mut first, 0.5));
    println!("further first writes to shared pages: p50 {:.0} ns per page", percentile(&mut each, 0.5));
    println!("fork + 16 pages written + drop: p50 {:.0} ns p99 {:.0} ns", percentile(&mut cycle, 0.5), percentile(&mut cycle, 0.99));
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore]
fn bench_memory_of_live_instances() {
    // Run alone for a clean figure (freed memory is reused): `... bench_memory -- --ignored`.
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let n = 10_000;
    let mut live = Vec::with_capacity(n);
    // Instances where the host wrote one page (never run: the hart's caches are untouched).
    let before = rss_kib();
    for _ in 0..n {
        let f = m.fork(&t, &ForkParams::default()).unwrap();
        f.try_inner().unwrap().as_mut().unwrap().write_va(0x2000, &[1]);
        live.push(f);
    }
    let after = rss_kib();
    println!("{n} live forks with one page written by the host: {:.1} KiB resident each", (after - before) as f64 / n as f64);
    println!("  of which: Hart {} B inline (TLB tables and decoded code are released while idle); a path copy of the frame tree is 6 nodes x 512 B", std::mem::size_of::<Hart>());
    let before = rss_kib();
    for _ in 0..n {
        let f = m.fork(&t, &ForkParams::default()).unwrap();
        let out = m.run(&f, RunRequest { entry: Entry::Start { relay: None }, shm: None, budget: Some(6) }, &mut BufferHost::default());
        assert_eq!(out.exit, RunExit::Budget);
        live.push(f);
    }
    let after = rss_kib();
    println!("{n} more live instances that ran and wrote 2 pages (global, stack): {:.1} KiB resident each", (after - before) as f64 / n as f64);
}

fn b_type(off: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let i = off as u32;
    (((i >> 12) & 1) << 31) | (((i >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((i >> 1) & 0xf) << 8) | (((i >> 11) & 1) << 7) | 0x63
}
fn jal0(off: i32) -> u32 {
    let i = off as u32;
    (((i >> 20) & 1) << 31) | (((i >> 1) & 0x3ff) << 21) | (((i >> 11) & 1) << 20) | (((i >> 12) & 0xff) << 12) | 0x6f
}

/// The instance with a2 == 0 rewrites `addi a0, zero, 1` at 0x1040 into `addi a0, zero, 2`
/// and runs it; the others run the template's code: exit 2 or 1.
fn self_modifying_program() -> Vec<u8> {
    let mut c = vec![
        0x0000_0297,            // auipc t0, 0
        b_type(0x18, 0, 12, 1), // bne a2, zero, 0x101c
        i_type(0x40, 5, 2, 6, 0x03), // lw t1, 0x40(t0)
        lui(7, 0x100),
        add(6, 6, 7),
        ((0x40 >> 5) << 25) | (6 << 20) | (5 << 15) | (2 << 12) | ((0x40 & 0x1f) << 7) | 0x23, // sw t1, 0x40(t0)
        0x0000_100f,            // fence.i
        jal0(0x24),             // j 0x1040
    ];
    c.resize(16, addi(0, 0, 0));
    c.push(addi(10, 0, 1));
    c.extend(&exit_with(10)[1..]);
    elf(&c, &[])
}

#[test]
fn batch_reuses_decoded_code_only_where_frames_are_the_templates() {
    let m = Monitor::new(Config::default());
    let t = m.create(&self_modifying_program(), &shadow_params()).unwrap();
    let mut seen = Vec::new();
    m.fork_run_destroy_each(&t, &ForkParams::default(), None, 12, &mut BufferHost::default(), &mut |x| {
        seen.push(x.clone())
    })
    .unwrap();
    let want: Vec<RunExit> = (0..12).map(|i| RunExit::Exited { retval: if i % 5 == 0 { 2 } else { 1 } }).collect();
    assert_eq!(seen, want);
    // The same through separate forks.
    let t = m.create(&self_modifying_program(), &shadow_params()).unwrap();
    for i in 0..6 {
        let f = m.fork(&t, &ForkParams::default()).unwrap();
        let out = m.run(&f, start(None), &mut BufferHost::default());
        assert_eq!(out.exit, RunExit::Exited { retval: if i % 5 == 0 { 2 } else { 1 } });
    }
}

#[test]
fn destroy_idle_frees_at_once_and_never_waits_for_a_run() {
    let m = Arc::new(Monitor::new(Config { slice: 10_000, ..Config::default() }));
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let f = m.fork(&t, &fork_params("a", Some(vec![1; 4096]))).unwrap();
    assert_eq!(m.destroy_idle(&f), Some(0));
    assert_eq!(f.state(), State::Invalid);
    assert!(f.try_inner().is_err_and(|busy| !busy), "its machine state is gone");
    assert!(m.lookup(f.id).is_none(), "its driver id is free");
    assert_eq!((m.destroy_idle(&f), m.destroy(&f)), (Some(-1), -1), "already gone");
    // A running instance is left alone (None): an ordinary destroy ends its run.
    let spin = m.create(&elf(&[SPIN], &[0; 8]), &shadow_params()).unwrap();
    let g = m.fork(&spin, &fork_params("b", None)).unwrap();
    let (m2, g2) = (Arc::clone(&m), Arc::clone(&g));
    let th = std::thread::spawn(move || m2.run(&g2, start(None), &mut BufferHost::default()));
    while g.state() != State::Running {
        std::thread::yield_now();
    }
    assert_eq!(m.destroy_idle(&g), None);
    assert_eq!(g.state(), State::Running, "untouched");
    assert_eq!(m.destroy(&g), 0);
    assert_eq!(th.join().unwrap().exit, RunExit::Destroyed);
    // Templates are destroyed the ordinary way only.
    assert_eq!(m.destroy_idle(&t), None);
    assert_eq!(t.state(), State::Fresh);
    assert_eq!(m.stats().enclaves, 0);
}

#[test]
fn fork_run_one_reuses_its_hart_without_carrying_anything_over_and_skips_the_shm_copy() {
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let p = fork_params("s", Some(vec![7; 4096]));
    let mut hart = None;
    let mut first = 0;
    for i in 0..3 {
        let out = m.fork_run_one(&t, &p, None, &mut BufferHost::default(), &mut hart).unwrap();
        // Global 41 and a zero stack word every time: nothing of the previous instance's
        // memory, registers or TLB reaches the next through the reused hart.
        assert_eq!(out.exit, RunExit::Exited { retval: 42 }, "run {i}");
        assert!(out.shm.is_none(), "not copied out for fork_run_one");
        let retired = hart.as_ref().expect("the hart comes back").retired;
        if i == 0 {
            first = retired;
        }
        assert!(retired > 0 && retired == first, "counts from zero each time: {retired} vs {first}");
    }
    assert!(!shm_unwanted(), "only during the call");
    let f = m.fork(&t, &p).unwrap();
    let out = m.run(&f, start(None), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 42 });
    assert_eq!(out.shm.as_deref(), Some(&[7u8; 4096][..]), "an ordinary run still hands the shm back");
    assert_eq!(m.stats().enclaves, 0);
}

/// An instance destroyed without ever running leaves its hart to the next fork (no new hart
/// allocated), and that fork starts exactly as from a fresh hart: whatever the host wrote into
/// the first instance's registers is gone, and both run to the same result.
#[test]
fn a_never_run_instance_leaves_its_hart_to_the_next_fork_reset() {
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let fresh = m.fork(&t, &fork_params("a", None)).unwrap();
    let out = m.run(&fresh, start(None), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 42 });
    let a = m.fork(&t, &fork_params("a", None)).unwrap();
    let hart_a = {
        let mut g = a.try_inner().unwrap();
        let e = g.as_mut().unwrap();
        e.hart.x[5] = 0xdead;
        e.hart.x[10] = 7;
        e.hart.pc += 4;
        &*e.hart as *const crate::hart::Hart
    };
    let tpl = m.template(&t).unwrap();
    let spares = || tpl.spare.lock().unwrap().len();
    assert_eq!(spares(), 0, "the first instance's hart went to this fork");
    assert_eq!(m.destroy(&a), 0);
    assert_eq!(spares(), 1, "a never-run instance leaves its hart");
    let b = m.fork(&t, &fork_params("b", None)).unwrap();
    {
        let g = b.try_inner().unwrap();
        let e = g.as_ref().unwrap();
        assert!(std::ptr::eq(&*e.hart, hart_a), "the never-run instance's hart is reused");
        assert_eq!((e.hart.x, e.hart.retired, e.hart.pc), ([0; 32], 0, e.entry));
    }
    let out = m.run(&b, start(None), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 42 }, "same as the first fork: fresh global and stack");
}

/// A hart passed to the next instance carries nothing of the previous one: debugger
/// breakpoints and watchpoints, Sdtrig triggers, steps spent without retiring, the
/// misaligned-access mode. (Before, only registers, CSRs, FPU, counters, mtime, the reservation
/// and the TLB were reset, so a breakpoint set on one instance stopped the next.)
#[test]
fn a_reused_hart_keeps_no_triggers_or_counters_of_the_previous_instance() {
    let m = Monitor::new(Config::default());
    let t = m.create(&counter_program(), &shadow_params()).unwrap();
    let a = m.fork(&t, &fork_params("a", None)).unwrap();
    let hart_a = {
        let mut g = a.try_inner().unwrap();
        let e = g.as_mut().unwrap();
        e.hart.add_breakpoint(e.entry);
        e.hart.add_watchpoint(0x1000, 8, crate::hart::trigger::WatchKind::Write);
        e.hart.unretired = 3;
        e.hart.misaligned_trap = true;
        &*e.hart as *const crate::hart::Hart
    };
    assert_eq!(m.destroy(&a), 0);
    let b = m.fork(&t, &fork_params("b", None)).unwrap();
    {
        let g = b.try_inner().unwrap();
        let e = g.as_ref().unwrap();
        assert!(std::ptr::eq(&*e.hart, hart_a), "the hart is reused");
        assert!(e.hart.trig.is_none(), "no trigger or breakpoint of the previous instance");
        assert_eq!((e.hart.unretired, e.hart.steps(), e.hart.misaligned_trap), (0, 0, false));
    }
    let out = m.run(&b, start(None), &mut BufferHost::default());
    assert_eq!(out.exit, RunExit::Exited { retval: 42 }, "runs to its end: no breakpoint at the entry");
}
