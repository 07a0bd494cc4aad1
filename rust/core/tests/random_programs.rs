//! Nothing a guest does may panic the emulator: random instruction streams, random trap vectors
//! and random page tables run on bare and user machines under overflow checks (test profile).
use pltvm_core::device::console::Console;
use pltvm_core::hart::csr::num;
use pltvm_core::machine::{Exit, Machine, RAM_BASE};

mod support;
use support::rng::Rng;

fn random_image(rng: &mut Rng, words: usize) -> Vec<u8> {
    let mut image = Vec::with_capacity(words * 4);
    for _ in 0..words {
        let w = rng.next();
        // Bias towards real opcodes: half the words get a valid major opcode in the low bits
        // (integer, system, atomics, and the FP loads/stores, fused and plain FP ops).
        const OPCODES: [u32; 18] =
            [0x03, 0x13, 0x23, 0x33, 0x37, 0x63, 0x67, 0x6f, 0x73, 0x2f, 0x1b, 0x3b, 0x07, 0x27, 0x43, 0x47, 0x4b, 0x53];
        let word = if w & 1 == 0 { w as u32 } else { (w as u32 & !0x7f) | OPCODES[(w >> 40) as usize % OPCODES.len()] };
        image.extend_from_slice(&word.to_le_bytes());
    }
    image
}

/// Guest I/O goes nowhere: random programs must not print to, or block on, the test's stdio.
struct NullConsole;

impl Console for NullConsole {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

#[test]
fn random_bare_programs_never_panic() {
    for seed in 1..=1000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let trap = rng.next() & 1 == 0;
        let mut m = Machine::bare(1 << 20, trap);
        m.bus.console = Box::new(NullConsole);
        let image = random_image(&mut rng, 4096);
        m.load_segment(RAM_BASE, &image, image.len() as u64).unwrap();
        m.set_htif(RAM_BASE + 0x8000, Some(RAM_BASE + 0x8008));
        // Random trap vectors, some in RAM and some not; random satp roots in RAM.
        m.hart.csr_write(num::MTVEC, RAM_BASE + (rng.next() % 0x1_0000)).unwrap();
        m.hart.csr_write(num::STVEC, rng.next()).unwrap();
        m.hart.csr_write(num::MEDELEG, rng.next()).unwrap();
        // FS = Initial, so FP instructions execute rather than trap.
        m.hart.csr_write(num::MSTATUS, 1 << 13).unwrap();
        m.hart.csr_write(num::SATP, (8 << 60) | ((RAM_BASE >> 12) + rng.next() % 256)).unwrap();
        for r in 1..32 {
            m.hart.x[r] = match rng.next() % 3 {
                0 => RAM_BASE + rng.next() % (1 << 20),
                1 => rng.next(),
                _ => rng.next() % 64,
            };
        }
        let exit = m.run(20_000);
        assert!(matches!(exit, Exit::Budget | Exit::Exited(_)), "seed {seed}: {exit:?}");
    }
}

#[test]
fn random_user_programs_never_panic() {
    for seed in 1..=1000u64 {
        let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
        let mut m = Machine::user(rng.next() & 1 == 0);
        m.bus.console = Box::new(NullConsole);
        let image = random_image(&mut rng, 2048);
        m.load_segment(0x10000, &image, image.len() as u64 + 0x4000).unwrap();
        m.set_brk(0x20000);
        m.setup_stack(&[b"prog".to_vec()], &[], &[]).unwrap();
        m.hart.pc = 0x10000;
        for r in [10, 11, 12, 13, 17] {
            m.hart.x[r] = rng.next() % 0x30000;
        }
        // Faults end the run; keep going from a fresh random pc a few times.
        for _ in 0..8 {
            match m.run(5_000) {
                Exit::Fault { .. } => m.hart.pc = 0x10000 + (rng.next() % 0x2000) & !1,
                _ => break,
            }
        }
    }
}
