//! The system machine: SBI, PMP as S/U see it, TVM emulation, and every guarded-page-table
//! rule accepting and refusing (docs/system-mode.md).
use super::gpt::*;
use super::*;
use crate::device::console::Console;
use crate::machine::{Exit, Machine};
use crate::mmu::sv39::{PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X};
use crate::mmu::Access;
use std::sync::{Arc, Mutex};

pub(super) const RAM: u64 = 64 << 20;
pub(super) const PT: u64 = 0x8100_0000;
const PT_SIZE: u64 = 1 << 20;
/// PGD: 4 pages, PMD: 8 pages, PTE: the rest.
const PGD_ORDER: u64 = 2;
const PMD_ORDER: u64 = 3;
pub(super) const PMD: u64 = PT + (4 << 12);
pub(super) const PTE: u64 = PMD + (8 << 12);
pub(super) const ROOT: u64 = PT + 0x1000;
pub(super) const BITMAP: u64 = 0x8200_0000;
const BITMAP_SIZE: u64 = 2 << 20;
const FLAG: u64 = 0x8030_0000;
const SATP: u64 = (8 << 60) | (ROOT >> 12);
pub(super) const RWX: u64 = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;

#[derive(Clone, Default)]
pub(super) struct Capture(Arc<Mutex<Vec<u8>>>);

impl Console for Capture {
    fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
        self.0.lock().unwrap().extend_from_slice(data);
        data.len() as i64
    }
    fn read(&mut self, _fd: u64, _buf: &mut [u8]) -> i64 {
        0
    }
}

pub(super) fn machine() -> (Machine, Capture) {
    let mut m = Machine::system(RAM, 1 << 30);
    let out = Capture::default();
    m.bus.console = Box::new(out.clone());
    (m, out)
}

pub(super) fn sys(m: &mut Machine) -> &mut System {
    m.system.as_mut().unwrap()
}

pub(super) fn put(m: &mut Machine, pa: u64, insns: &[u32]) {
    let bytes: Vec<u8> = insns.iter().flat_map(|i| i.to_le_bytes()).collect();
    assert!(m.mem_write(pa, &bytes));
}

pub(super) const ECALL: u32 = 0x73;
const SFENCE_VMA: u32 = 0x1200_0073;
pub(super) fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
}
pub(super) fn ld(rd: u32, rs1: u32) -> u32 {
    (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03
}
fn sd(rs2: u32, rs1: u32) -> u32 {
    (rs2 << 20) | (rs1 << 15) | (3 << 12) | 0x23
}
fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    (csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73
}
fn csrr(rd: u32, csr: u32) -> u32 {
    (csr << 20) | (2 << 12) | (rd << 7) | 0x73
}

/// A host kernel's tables after SM_INIT + PT_AREA_SEPARATION: the root maps the first GiB of
/// RAM through one PMD page with 2 MiB leaves, except the 2 MiB at 0x8200_0000.. which is
/// split into 4 KiB leaves in the first PTE page.
pub(super) fn installed() -> (Machine, Capture) {
    let (mut m, out) = machine();
    let w = |m: &mut Machine, pa: u64, v: u64| assert!(m.mem_write(pa, &v.to_le_bytes()));
    w(&mut m, ROOT + 2 * 8, ((PMD >> 12) << 10) | PTE_V);
    for i in 0..32u64 {
        w(&mut m, PMD + 8 * i, (((0x8000_0000 + (i << 21)) >> 12) << 10) | RWX);
    }
    m.hart.csr.satp = SATP;
    let (h, b) = (&mut m.hart, &mut m.bus);
    let s = m.system.as_mut().unwrap();
    assert_eq!(s.gpt.sm_init(h, b, PT, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG), 0);
    assert_eq!(s.gpt.separate(h, b, PGD_ORDER, PMD_ORDER), 0);
    (m, out)
}

pub(super) fn read(m: &mut Machine, pa: u64) -> u64 {
    m.bus.read_u64(pa).unwrap()
}

/// Runs `call(gpt, hart, bus)` on the machine's monitor.
pub(super) fn gpt<R>(m: &mut Machine, f: impl FnOnce(&mut Gpt, &mut Hart, &mut Bus) -> R) -> R {
    let (h, b) = (&mut m.hart, &mut m.bus);
    f(&mut m.system.as_mut().unwrap().gpt, h, b)
}

// ---- entry state, SBI ------------------------------------------------------------------------

#[test]
fn boots_in_s_mode_like_a_firmware_hand_over() {
    let (m, _) = machine();
    assert_eq!(m.hart.prv, Priv::S);
    assert_eq!(m.hart.pc, KERNEL_BASE);
    assert_eq!((m.hart.x[10], m.hart.x[11], m.hart.csr.satp), (0, 0, 0));
    assert_eq!(m.hart.csr.medeleg, 0);
    assert_eq!(m.hart.csr.mideleg, mip::S_ALL);
    assert_eq!(m.ram_base(), 0x8000_0000);
}

#[test]
fn sbi_console_probe_unknown_and_srst_exit_code() {
    let (mut m, out) = machine();
    put(
        &mut m,
        KERNEL_BASE,
        &[
            addi(17, 0, 1), // legacy putchar 'h'
            addi(10, 0, b'h' as i32),
            ECALL,
            addi(17, 0, 0x10), // BASE probe(TIME)
            addi(16, 0, 3),
            addi(10, 0, 0),
            ECALL,
            addi(5, 11, 0), // t0 = probe(legacy set_timer) = 1
            addi(17, 0, 0x7ff), // unknown extension
            ECALL,
            addi(6, 10, 0), // t1 = -2
            ECALL,
        ],
    );
    m.hart.x[17] = 0;
    let exit = m.run(1000);
    assert_eq!(out.0.lock().unwrap().as_slice(), b"h");
    assert_eq!(m.hart.x[5], 1, "BASE probe answers from the extension table");
    assert_eq!(m.hart.x[6], (-2i64) as u64, "unknown extension");
    assert!(matches!(exit, Exit::Fault { cause: 2, .. }), "runs on into zeros: {exit:?}");
    // SRST: reason 42 -> exit code 42.
    let (mut m, _) = machine();
    m.hart.x[17] = sbi::EXT_SRST;
    m.hart.x[10] = 0;
    m.hart.x[11] = 42;
    put(&mut m, KERNEL_BASE, &[ECALL]);
    assert_eq!(m.run(100), Exit::Exited(42));
    let (mut m, _) = machine();
    m.hart.x[17] = sbi::EXT_SRST;
    m.hart.x[10] = 7;
    put(&mut m, KERNEL_BASE, &[ECALL, ECALL]);
    assert!(matches!(m.run(1), Exit::Budget));
    assert_eq!(m.hart.x[10] as i64, sbi::ERR_INVALID_PARAM, "unknown reset type");
}

#[test]
fn dbcn_write_reads_host_memory_and_refuses_the_monitor_region() {
    let (mut m, out) = machine();
    assert!(m.mem_write(0x8040_0000, b"hello"));
    m.hart.x[17] = sbi::EXT_DBCN;
    m.hart.x[16] = 0;
    m.hart.x[10] = 5;
    m.hart.x[11] = 0x8040_0000;
    put(&mut m, KERNEL_BASE, &[ECALL, addi(5, 10, 0), addi(11, 0, 0), ECALL]);
    m.run(4);
    assert_eq!(out.0.lock().unwrap().as_slice(), b"hello");
    assert_eq!(m.hart.x[5], 0);
    assert_eq!(m.hart.x[10] as i64, sbi::ERR_INVALID_PARAM, "address 0 is not RAM");
    for (n, pa) in [(8, MONITOR_BASE + 0x100), (u64::MAX, 0x8040_0000), (16, u64::MAX - 4), (1 << 40, 0x8040_0000)] {
        let (mut m, _) = machine();
        m.hart.x[17] = sbi::EXT_DBCN;
        m.hart.x[10] = n;
        m.hart.x[11] = pa;
        put(&mut m, KERNEL_BASE, &[ECALL]);
        m.run(1);
        assert_eq!(m.hart.x[10] as i64, sbi::ERR_INVALID_PARAM, "n {n:#x} pa {pa:#x}");
    }
}

#[test]
fn set_timer_raises_stip_at_the_deadline() {
    let (mut m, _) = machine();
    m.hart.x[17] = sbi::EXT_TIME;
    m.hart.x[10] = 50;
    let mut prog = vec![ECALL];
    prog.extend(vec![addi(0, 0, 0); 200]);
    put(&mut m, KERNEL_BASE, &prog);
    m.run(20);
    assert_eq!(m.hart.csr.mip & mip::STIP, 0);
    m.run(100);
    assert_ne!(m.hart.csr.mip & mip::STIP, 0, "the M timer became the supervisor's");
    assert_eq!(m.hart.csr.mie & mip::MTIP, 0);
}

// ---- PMP as S and U see it ---------------------------------------------------------------------

pub(super) fn fault_of(m: &mut Machine, insn: u32, a1: u64, prv: Priv) -> Exit {
    put(m, 0x8040_0000, &[insn]);
    m.hart.pc = 0x8040_0000;
    m.hart.x[11] = a1;
    m.hart.x[12] = 0x1234;
    m.hart.set_priv(prv);
    m.run(1)
}

#[test]
fn monitor_region_clint_pt_area_and_bitmap_fault_with_the_exact_cause() {
    for prv in [Priv::S, Priv::U] {
        let (mut m, _) = machine();
        let e = fault_of(&mut m, ld(10, 11), MONITOR_BASE + 0x1f_f000, prv);
        assert_eq!(e, Exit::Fault { cause: 5, tval: MONITOR_BASE + 0x1f_f000, pc: 0x8040_0000 });
        let e = fault_of(&mut m, sd(12, 11), MONITOR_BASE, prv);
        assert_eq!(e, Exit::Fault { cause: 7, tval: MONITOR_BASE, pc: 0x8040_0000 });
        let e = fault_of(&mut m, ld(10, 11), crate::device::clint::BASE + 0xbff8, prv);
        assert!(matches!(e, Exit::Fault { cause: 5, .. }), "{e:?}");
        // Fetching from the monitor region.
        m.hart.pc = MONITOR_BASE;
        assert!(matches!(m.run(1), Exit::Fault { cause: 1, .. }));
    }
    let (mut m, _) = installed();
    // With the host's tables on: PT area read-only, bitmap closed. The PMD maps both 1:1.
    let e = fault_of(&mut m, sd(12, 11), ROOT, Priv::S);
    assert_eq!(e, Exit::Fault { cause: 7, tval: ROOT, pc: 0x8040_0000 });
    let e = fault_of(&mut m, ld(10, 11), ROOT + 16, Priv::S);
    assert!(matches!(e, Exit::Budget), "PT area stays readable: {e:?}");
    assert_eq!(m.hart.x[10], ((PMD >> 12) << 10) | PTE_V);
    let e = fault_of(&mut m, ld(10, 11), BITMAP + 8, Priv::S);
    assert_eq!(e, Exit::Fault { cause: 5, tval: BITMAP + 8, pc: 0x8040_0000 });
}

#[test]
fn m_mode_is_unaffected_unless_an_entry_is_locked() {
    let (mut m, _) = machine();
    assert_eq!(m.hart.pmp.check(MONITOR_BASE, Access::Store, Priv::M), crate::mmu::pmp::Verdict::Page);
    m.hart.set_priv(Priv::M);
    assert_eq!(m.hart.translate(MONITOR_BASE, Access::Load, &mut m.bus), Ok(MONITOR_BASE));
    // Lock entry 0: now M is bound by it too.
    let cfg = m.hart.csr.pmpcfg[0] | 0x80;
    m.hart.csr_write(0x3a0, cfg).unwrap();
    assert!(m.hart.translate(MONITOR_BASE, Access::Load, &mut m.bus).is_err());
}

#[test]
fn a_pmp_write_drops_cached_translations() {
    let (mut m, _) = machine();
    // Warm the TLB with a load from 0x8050_0000, then close that page and load again.
    let e = fault_of(&mut m, ld(10, 11), 0x8050_0000, Priv::S);
    assert!(matches!(e, Exit::Budget));
    set_pmp(&mut m.hart, 3, 3 << 3, napot_addr(0x8050_0000, 4096));
    // Same instruction, not rewritten (a host write would flush the TLB by itself).
    m.hart.pc = 0x8040_0000;
    let e = m.run(1);
    assert!(matches!(e, Exit::Fault { cause: 5, .. }), "{e:?}");
}

// ---- TVM -----------------------------------------------------------------------------------

#[test]
fn satp_writes_follow_the_pgd_rule_and_reads_and_sfence_are_emulated() {
    let (mut m, _) = installed();
    let good = (8 << 60) | ((ROOT + 0x1000) >> 12);
    for (value, ok) in [
        (good, true),
        ((8 << 60) | (PT >> 12), false),                // the PT-area base itself
        ((8 << 60) | (PMD >> 12), false),               // a PMD page
        ((8 << 60) | (0x8050_0000 >> 12), false),       // outside the PT area
        (ROOT >> 12, false),                            // Bare
        ((9 << 60) | (ROOT >> 12), false),              // Sv48
        ((8 << 60) | (1 << 43) | (ROOT >> 12), false),  // high PPN bits (Penglai checks 22 bits)
    ] {
        let (mut m, _) = installed();
        // The new root maps what the old one does.
        m.mem_write(ROOT + 0x1000 + 16, &ptr(PMD).to_le_bytes());
        m.hart.csr.stvec = 0;
        m.hart.x[5] = value;
        put(&mut m, 0x8040_0000, &[csrrw(6, 0x180, 5), SFENCE_VMA, csrr(7, 0x180)]);
        m.hart.pc = 0x8040_0000;
        let e = m.run(3);
        if ok {
            assert_eq!(e, Exit::Budget, "{value:#x}");
            assert_eq!(m.hart.x[6], SATP, "old value read back");
            assert_eq!((m.hart.csr.satp, m.hart.x[7]), (good, good));
        } else {
            let insn = csrrw(6, 0x180, 5) as u64;
            assert_eq!(e, Exit::Fault { cause: 2, tval: insn, pc: 0x8040_0000 }, "{value:#x}");
            assert_eq!(m.hart.csr.satp, SATP, "unchanged");
        }
    }
    // With a handler installed the refusal arrives in S-mode as an illegal instruction.
    m.hart.csr.stvec = 0x8060_0000;
    m.hart.x[5] = 0;
    put(&mut m, 0x8040_0000, &[csrrw(0, 0x180, 5)]);
    m.hart.pc = 0x8040_0000;
    m.run(1);
    assert_eq!((m.hart.pc, m.hart.csr.scause, m.hart.csr.sepc), (0x8060_0000, 2, 0x8040_0000));
    assert_eq!(m.hart.prv, Priv::S);
}

#[test]
fn before_separation_satp_is_the_hosts_own() {
    let (mut m, _) = machine();
    m.hart.x[5] = (8 << 60) | 0x80400;
    put(&mut m, KERNEL_BASE, &[csrrw(0, 0x180, 5)]);
    m.run(1);
    assert_eq!(m.hart.csr.satp, (8 << 60) | 0x80400);
}

// ---- SM_INIT ---------------------------------------------------------------------------------

#[test]
fn sm_init_accepts_once_and_refuses_bad_regions() {
    let bad: &[(u64, u64, u64, u64, u64)] = &[
        (PT + 4096, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG),        // PT not NAPOT-aligned
        (PT, PT_SIZE + 4096, BITMAP, BITMAP_SIZE, FLAG),        // size not a power of two
        (PT, PT_SIZE, BITMAP, 1 << 20, FLAG),                   // bitmap below 512 pages
        (MONITOR_BASE, 1 << 20, BITMAP, BITMAP_SIZE, FLAG),     // PT in the monitor region
        (PT, PT_SIZE, MONITOR_BASE, BITMAP_SIZE, FLAG),         // bitmap is the monitor region
        (BITMAP, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG),           // overlap
        (PT, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG + 2),           // flag misaligned
        (PT, PT_SIZE, BITMAP, BITMAP_SIZE, PT + 8),             // flag in the PT area
        (PT, PT_SIZE, BITMAP, BITMAP_SIZE, MONITOR_BASE),       // flag in the monitor
        (PT, PT_SIZE, BITMAP, BITMAP_SIZE, 0x1000),             // flag not RAM
        (0x1_0000_0000, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG),    // PT outside RAM
        (PT, 0, BITMAP, BITMAP_SIZE, FLAG),
        (PT, 1 << 63, BITMAP, BITMAP_SIZE, FLAG),
        (1 << 63, 1 << 63, BITMAP, BITMAP_SIZE, FLAG),
        (PT, PT_SIZE, BITMAP, BITMAP_SIZE, u64::MAX - 3),
        (u64::MAX & !0xfff, 4096, BITMAP, BITMAP_SIZE, FLAG),
    ];
    for &(a, b, c, d, e) in bad {
        let (mut m, _) = machine();
        assert_eq!(gpt(&mut m, |g, h, bus| g.sm_init(h, bus, a, b, c, d, e)), -1, "{a:#x} {b:#x} {c:#x} {d:#x} {e:#x}");
        assert!(!sys(&mut m).gpt.installed());
    }
    let (mut m, _) = machine();
    assert_eq!(gpt(&mut m, |g, h, b| g.sm_init(h, b, PT, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG)), 0);
    assert_eq!(m.bus.read_u64(FLAG).unwrap() as u32, 1, "installed flag");
    assert_eq!(gpt(&mut m, |g, h, b| g.sm_init(h, b, PT, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG)), -1, "once only");
}

// ---- PT_AREA_SEPARATION ------------------------------------------------------------------------

#[test]
fn separation_checks_the_mapping_and_turns_tvm_on() {
    let (m, _) = installed();
    assert_ne!(m.hart.csr.mstatus & crate::hart::csr::mstatus::TVM, 0);
    // Before SM_INIT; twice; orders too large; a PGD entry outside PMD; a PMD pointer outside
    // PTE; the current satp not in the PGD sub-area.
    let (mut m, _) = machine();
    m.hart.csr.satp = SATP;
    assert_eq!(gpt(&mut m, |g, h, b| g.separate(h, b, PGD_ORDER, PMD_ORDER)), -1, "needs SM_INIT");
    let cases: &[(u64, u64, Option<(u64, u64)>, u64)] = &[
        (PGD_ORDER, 60, None, SATP),
        (u64::MAX, PMD_ORDER, None, SATP),
        (8, 8, None, SATP), // 512 pages > the 256-page PT area
        (PGD_ORDER, PMD_ORDER, Some((ROOT + 8, ((0x8050_0000u64 >> 12) << 10) | PTE_V)), SATP),
        (PGD_ORDER, PMD_ORDER, Some((PMD + 8 * 40, ((0x8050_0000u64 >> 12) << 10) | PTE_V)), SATP),
        (PGD_ORDER, PMD_ORDER, None, 0),
        (PGD_ORDER, PMD_ORDER, None, (8 << 60) | (PT >> 12)),
    ];
    for &(pgd, pmd, entry, satp) in cases {
        let (mut m, _) = machine();
        if let Some((pa, v)) = entry {
            m.mem_write(pa, &v.to_le_bytes());
        }
        m.hart.csr.satp = satp;
        assert_eq!(gpt(&mut m, |g, h, b| g.sm_init(h, b, PT, PT_SIZE, BITMAP, BITMAP_SIZE, FLAG)), 0);
        assert_eq!(gpt(&mut m, |g, h, b| g.separate(h, b, pgd, pmd)), -1, "{pgd} {pmd} {entry:x?} {satp:#x}");
        assert_eq!(m.hart.csr.mstatus & crate::hart::csr::mstatus::TVM, 0);
        assert!(!sys(&mut m).gpt.separated());
    }
    let (mut m, _) = installed();
    assert_eq!(gpt(&mut m, |g, h, b| g.separate(h, b, PGD_ORDER, PMD_ORDER)), -1, "once only");
}

// ---- SET_PTE -------------------------------------------------------------------------------------

pub(super) fn leaf(pa: u64) -> u64 {
    ((pa >> 12) << 10) | RWX
}
pub(super) fn ptr(pa: u64) -> u64 {
    ((pa >> 12) << 10) | PTE_V
}

#[test]
fn set_pte_one_accepts_legal_entries_and_refuses_without_storing() {
    let (mut m, _) = installed();
    let one = |m: &mut Machine, at: u64, v: u64| gpt(m, |g, h, b| g.set_pte(h, b, SET_PTE_ONE, at, v, 0));
    assert_eq!(one(&mut m, PTE + 8, leaf(0x8050_0000)), 0);
    assert_eq!(read(&mut m, PTE + 8), leaf(0x8050_0000));
    assert_eq!(one(&mut m, PMD + 8 * 100, ptr(PTE)), 0, "PMD pointer into PTE");
    assert_eq!(one(&mut m, ROOT + 8 * 3, ptr(PMD + 0x1000)), 0, "PGD entry into PMD");
    assert_eq!(one(&mut m, PTE + 16, leaf(0x8050_0000) & !PTE_V), 0, "invalid entries skip the checks");
    let refused = [
        (ROOT + 8 * 4, ptr(PTE)),              // PGD entry pointing into PTE
        (ROOT + 8 * 4, leaf(0x8000_0000)),     // PGD leaf (1 GiB) outside PMD
        (PMD + 8 * 101, ptr(0x8050_0000)),     // PMD pointer outside PTE
        (PMD + 8 * 101, ptr(PMD)),             // PMD pointer into PMD
        (0x8050_0000, leaf(0x8050_0000)),      // destination outside the PT area
        (PTE + 4, leaf(0x8050_0000)),          // misaligned destination
        (PT + PT_SIZE - 4, 0),                 // straddles the end of the PT area
        (u64::MAX - 7, 0),
        (MONITOR_BASE, 0),
        (BITMAP, 0),
    ];
    for (at, v) in refused {
        let before = m.bus.read_u64(at & !7).unwrap_or(0);
        assert_eq!(one(&mut m, at, v), -1, "{at:#x} {v:#x}");
        assert_eq!(m.bus.read_u64(at & !7).unwrap_or(0), before, "nothing stored at {at:#x}");
    }
    // A leaf onto a secure frame, 4 KiB and 2 MiB.
    assert!(gpt(&mut m, |g, _, b| g.can_make_secure(b, 0x8060_0000, 0x20_0000)));
    gpt(&mut m, |g, h, b| g.make_secure(h, b, 0x8061_0000, 0x1000));
    assert_eq!(one(&mut m, PTE + 24, leaf(0x8061_0000)), -1);
    assert_eq!(read(&mut m, PTE + 24), 0);
    assert_eq!(one(&mut m, PMD + 8 * 200, leaf(0x8060_0000)), -1, "2 MiB leaf covering a secure frame");
    assert_eq!(one(&mut m, PMD + 8 * 200, leaf(0x8080_0000)), 0);
    // Unknown flag, before SM_INIT.
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, 6, PTE, 0, 0)), -1);
    let (mut fresh, _) = machine();
    assert_eq!(gpt(&mut fresh, |g, h, b| g.set_pte(h, b, SET_PTE_ONE, PTE, 0, 0)), -1);
}

#[test]
fn memset_memcpy_and_batches() {
    let (mut m, _) = installed();
    for i in 0..4 {
        gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_ONE, PTE + 8 * i, leaf(0x8050_0000 + (i << 12)), 0));
    }
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMSET, PTE, 1, 16)), -1, "value must be 0");
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMSET, PTE, 0, 12)), -1, "size % 8");
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMSET, PTE, 0, u64::MAX - 7)), -1);
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMSET, PTE, 0, 16)), 0);
    assert_eq!((read(&mut m, PTE), read(&mut m, PTE + 8), read(&mut m, PTE + 16)), (0, 0, leaf(0x8050_2000)));
    // MEMCPY from a host buffer: all or nothing.
    let src = 0x8070_0000;
    let entries = [leaf(0x8050_0000), 0, leaf(0x8051_0000)];
    m.mem_write(src, &entries.iter().flat_map(|e| e.to_le_bytes()).collect::<Vec<u8>>());
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMCPY, PTE + 0x1000, src, 24)), 0);
    assert_eq!(read(&mut m, PTE + 0x1010), leaf(0x8051_0000));
    m.mem_write(src + 8, &ptr(0x8050_0000).to_le_bytes());
    // Into the PMD sub-area, a pointer outside PTE: refused, nothing copied.
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMCPY, PMD + 8 * 300, src, 24)), -1);
    assert_eq!(read(&mut m, PMD + 8 * 300), 0);
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMCPY, PTE, MONITOR_BASE, 8)), -1, "source in the monitor");
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, PTE_MEMCPY, PTE, src, 1 << 62)), -1);
    // BATCH_SET stops at the first bad entry; earlier ones stay.
    let list = [(PTE + 0x2000, leaf(0x8050_0000)), (0x8050_0000, leaf(0x8050_0000)), (PTE + 0x2008, leaf(0x8050_0000))];
    m.mem_write(src, &list.iter().flat_map(|(a, v)| [a.to_le_bytes(), v.to_le_bytes()].concat()).collect::<Vec<u8>>());
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_SET, src, 3, 0)), -1);
    assert_eq!((read(&mut m, PTE + 0x2000), read(&mut m, PTE + 0x2008)), (leaf(0x8050_0000), 0));
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_SET, src, 1, 0)), 0);
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_SET, src, u64::MAX, 0)), -1, "count overflow");
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_SET, src, 1 << 59, 0)), -1);
    // BATCH_ZERO: ranges inside the PT area only.
    let zl = [(PTE + 0x2000, 8u64), (0x8050_0000, 8)];
    m.mem_write(src, &zl.iter().flat_map(|(a, v)| [a.to_le_bytes(), v.to_le_bytes()].concat()).collect::<Vec<u8>>());
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_ZERO, src, 2, 0)), -1);
    assert_eq!(read(&mut m, PTE + 0x2000), 0, "first range zeroed before the refusal");
    assert_eq!(gpt(&mut m, |g, h, b| g.set_pte(h, b, SET_PTE_BATCH_ZERO, src, 1, 0)), 0);
}

#[test]
fn map_pte_splits_a_huge_leaf_with_the_same_attributes() {
    let (mut m, _) = installed();
    let entry = PMD + 8 * 3; // maps 0x8060_0000
    assert_eq!(gpt(&mut m, |g, h, b| g.map_pte(h, b, entry, PTE + 0x3000)), 0);
    assert_eq!(read(&mut m, entry), ptr(PTE + 0x3000));
    assert_eq!(read(&mut m, PTE + 0x3000 + 8 * 5), leaf(0x8060_5000));
    // Not a leaf any more; wrong areas; misaligned.
    for (e, p) in [(entry, PTE + 0x4000), (PMD + 8 * 4, PMD + 0x1000), (PTE, PTE + 0x4000), (PMD + 8 * 4 + 1, PTE + 0x4000), (PMD + 8 * 4, PTE + 0x4008), (u64::MAX, u64::MAX)] {
        assert_eq!(gpt(&mut m, |g, h, b| g.map_pte(h, b, e, p)), -1, "{e:#x} {p:#x}");
    }
    // The split table really translates: S-mode load through VA 0x8060_5008 (identity).
    m.mem_write(0x8060_5008, &77u64.to_le_bytes());
    let e = fault_of(&mut m, ld(10, 11), 0x8060_5008, Priv::S);
    assert_eq!((e, m.hart.x[10]), (Exit::Budget, 77));
}

// ---- donation ----------------------------------------------------------------------------------

#[test]
fn donation_clears_host_leaves_and_freeing_restores_them() {
    let (mut m, _) = installed();
    gpt(&mut m, |g, h, b| g.map_pte(h, b, PMD + 8 * 3, PTE + 0x3000));
    // The host reads the page through its mapping (warming the TLB) ...
    m.mem_write(0x8060_5000, &5u64.to_le_bytes());
    assert_eq!(fault_of(&mut m, ld(10, 11), 0x8060_5000, Priv::S), Exit::Budget);
    assert!(gpt(&mut m, |g, _, b| g.can_make_secure(b, 0x8060_4000, 0x2000)));
    gpt(&mut m, |g, h, b| g.make_secure(h, b, 0x8060_4000, 0x2000));
    assert_eq!(read(&mut m, PTE + 0x3000 + 8 * 5) & PTE_V, 0, "leaf cleared");
    assert_eq!(read(&mut m, PTE + 0x3000 + 8 * 6) & PTE_V, PTE_V, "neighbour kept");
    // ... and the stale mapping now page-faults (the TLB was flushed).
    let e = fault_of(&mut m, ld(10, 11), 0x8060_5000, Priv::S);
    assert_eq!(e, Exit::Fault { cause: 13, tval: 0x8060_5000, pc: 0x8040_0000 });
    assert!(!gpt(&mut m, |g, _, b| g.can_make_secure(b, 0x8060_5000, 0x1000)), "already secure");
    gpt(&mut m, |g, h, b| g.make_public(h, b, 0x8060_4000, 0x2000));
    assert_eq!(read(&mut m, PTE + 0x3000 + 8 * 5), leaf(0x8060_5000));
    assert_eq!(fault_of(&mut m, ld(10, 11), 0x8060_5000, Priv::S), Exit::Budget);
    // A 2 MiB leaf covered whole is cleared; covered in part refuses.
    assert!(!gpt(&mut m, |g, _, b| g.can_make_secure(b, 0x8080_0000, 0x1000)), "partial huge leaf");
    assert!(gpt(&mut m, |g, _, b| g.can_make_secure(b, 0x8080_0000, 0x20_0000)));
    gpt(&mut m, |g, h, b| g.make_secure(h, b, 0x8080_0000, 0x20_0000));
    assert_eq!(read(&mut m, PMD + 8 * 4) & PTE_V, 0);
}

#[test]
fn donation_refuses_every_bad_range() {
    let (mut m, _) = installed();
    let bad = [
        (0x8060_0100, 0x1000),
        (0x8060_0000, 0x100),
        (0x8060_0000, 0),
        (MONITOR_BASE, 0x1000),
        (MONITOR_BASE + 0x1f_f000, 0x2000),
        (PT, 0x1000),
        (BITMAP + 0x1000, 0x1000),
        (0x8000_0000 + RAM - 0x1000, 0x2000),
        (u64::MAX & !0xfff, 0x1000),
        (0x8060_0000, u64::MAX & !0xfff),
        (0x8060_0000, 1 << 63),
        (0, 0x1000),
    ];
    for (pa, size) in bad {
        assert!(!gpt(&mut m, |g, _, b| g.can_make_secure(b, pa, size)), "{pa:#x} {size:#x}");
    }
    let (mut fresh, _) = machine();
    assert!(!gpt(&mut fresh, |g, _, b| g.can_make_secure(b, 0x8060_0000, 0x1000)), "needs TVM on");
}

#[test]
fn monitor_copies_check_every_page_of_a_host_buffer() {
    let (mut m, _) = installed();
    gpt(&mut m, |g, h, b| g.make_secure(h, b, 0x8061_0000, 0x1000));
    let g = &m.system.as_ref().unwrap().gpt;
    let bus = &m.bus;
    assert!(g.host_readable(bus, 0x8060_f000, 0x1000));
    assert!(!g.host_readable(bus, 0x8060_f000, 0x1001), "first page public, second secure");
    assert!(!g.host_readable(bus, 0x8061_0000, 1));
    assert!(g.host_readable(bus, ROOT, 8) && !g.host_writable(bus, ROOT, 8), "PT area: read-only");
}

// ---- the host extension through ecall ----------------------------------------------------------

#[test]
fn penglai_host_calls_use_the_a0_a1_convention_and_unknown_fids_return_minus_two() {
    let (mut m, _) = installed();
    let call = |m: &mut Machine, fid: u64, args: [u64; 4]| {
        put(m, 0x8040_0000, &[ECALL]);
        m.hart.pc = 0x8040_0000;
        m.hart.x[17] = sbi::EXT_PENGLAI_HOST;
        m.hart.x[16] = fid;
        m.hart.x[10..14].copy_from_slice(&args);
        m.hart.x[11] = args[1];
        assert_eq!(m.run(1), Exit::Budget);
        (m.hart.x[10] as i64, m.hart.x[11])
    };
    assert_eq!(call(&mut m, 101, [1, PTE, leaf(0x8050_0000), 0]), (0, 0));
    assert_eq!(call(&mut m, 101, [1, ROOT + 8, ptr(PTE), 0]).0, -1);
    assert_eq!(call(&mut m, 84, [0; 4]), (0, 0));
    assert_eq!(call(&mut m, 93, [0; 4]).0, -2, "declared by the driver, not implemented");
    assert_eq!(call(&mut m, u64::MAX, [0; 4]).0, -2);
    assert_eq!(call(&mut m, 92, [0x8090_0000, 0x1000, 0, 0]).0, -1, "part of a 2 MiB host leaf");
    assert_eq!(call(&mut m, 92, [0x80a0_0000, 0x20_0000, 0, 0]), (0, 0), "MEMORY_EXTEND");
    assert_eq!(read(&mut m, PMD + 8 * 5) & PTE_V, 0, "host leaf cleared");
    assert_eq!(call(&mut m, 92, [0x80a0_0000, 0x20_0000, 0, 0]).0, -1, "already secure");
    assert_eq!(call(&mut m, 85, [0x80c0_0000, 0x20_0000, 0, 0]), (0, 0), "SCHRODINGER_INIT");
    assert_eq!(call(&mut m, 85, [0x80a0_0000, 0x1000, 0, 0]).0, -1, "secure memory");
    assert_eq!(call(&mut m, 85, [0x80c0_0000, 0x1000, 0, 0]).0, -1, "part of a 2 MiB host leaf");
    for (pa, size) in [(u64::MAX & !0xfff, 0x1000), (0x80c0_0000, u64::MAX & !0xfff), (MONITOR_BASE, 0x1000)] {
        assert_eq!(call(&mut m, 92, [pa, size, 0, 0]).0, -1, "{pa:#x} {size:#x}");
        assert_eq!(call(&mut m, 85, [pa, size, 0, 0]).0, -1, "{pa:#x} {size:#x}");
    }
}
