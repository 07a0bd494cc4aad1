//! WARL read-back of every implemented CSR, table-driven. Each CSR's legal values are written
//! out here from the privileged spec and pltvm's documented choices (not taken from the
//! crate's own masks), then every CSR gets zero, all ones, each single bit and pseudo-random
//! patterns on a fresh hart, and must read back exactly the legal value. Reserved bits (e.g.
//! pmpcfg bits 6:5, satp's ASID with ASIDLEN = 0, medeleg bit 11) must read as zero.
use pltvm_core::bus::Bus;
use pltvm_core::hart::csr::{csr_exists, CsrError};
use pltvm_core::hart::{Hart, Priv};

/// What a CSR does with a written value `v` (on a fresh hart, see [`fresh`]).
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Reads back `v & mask`.
    Mask(u64),
    /// Reads this constant whatever is written.
    Const(u64),
    /// mtvec/stvec: BASE and MODE 0/1 kept; the reserved MODEs 2/3 become 0.
    Tvec,
    /// Sv39 or Bare only (other MODEs: the write is ignored); no ASID bits; 44-bit PPN.
    Satp,
    Mstatus,
    Sstatus,
    /// Eight entry bytes: L, A, X, W, R (bits 6:5 reserved, zero); R=0,W=1 becomes R=W=0.
    Pmpcfg,
    /// mcycle/minstret: the *next* instruction reads `v`, so a read with no instruction
    /// retired in between gives `v - 1`.
    Counter,
    /// tselect: 4 triggers; a write of an index with no trigger is ignored (reads the old 0).
    Tselect,
    /// tdata1 of trigger 0: types mcontrol (2) and mcontrol6 (6) keep type, match 0/2/3 (others
    /// become 0), m, s, u, execute, store, load; anything else written gives type 15
    /// (disabled) with every other bit 0 (dmode is writable only from Debug Mode, which does
    /// not exist; hit, select, timing, size, action, chain, maskmax read 0).
    Tdata1,
}

/// The hart's retired count in [`fresh`]: the unprivileged counters read it.
const RETIRED: u64 = 1000;
/// mideleg in [`fresh`]: every S-level interrupt delegated, so sie/sip show their bits.
const MIDELEG: u64 = (1 << 1) | (1 << 5) | (1 << 9);

// mstatus fields (privileged spec, RV64).
const SIE: u64 = 1 << 1;
const MIE: u64 = 1 << 3;
const SPIE: u64 = 1 << 5;
const MPIE: u64 = 1 << 7;
const SPP: u64 = 1 << 8;
const MPP: u64 = 3 << 11;
const FS: u64 = 3 << 13;
const MPRV: u64 = 1 << 17;
const SUM: u64 = 1 << 18;
const MXR: u64 = 1 << 19;
const TVM: u64 = 1 << 20;
const TW: u64 = 1 << 21;
const TSR: u64 = 1 << 22;
const UXL_64: u64 = 2 << 32;
const SXL_64: u64 = 2 << 34;
const SD: u64 = 1 << 63;

fn rule(n: u16) -> Option<Rule> {
    use Rule::*;
    Some(match n {
        0x001 => Mask(0x1f),               // fflags
        0x002 => Mask(0x7),                // frm
        0x003 => Mask(0xff),               // fcsr
        0x100 => Sstatus,
        0x104 => Mask(MIDELEG),            // sie: the delegated bits of mie
        0x105 => Tvec,                     // stvec
        0x106 => Mask(0b111),              // scounteren: CY, TM, IR
        0x10a => Const(0),                 // senvcfg
        0x140 => Mask(u64::MAX),           // sscratch
        0x141 => Mask(!1),                 // sepc: IALIGN = 16
        0x142 | 0x143 => Mask(u64::MAX),   // scause, stval
        0x144 => Mask(1 << 1),             // sip: only SSIP is writable
        0x180 => Satp,
        0x300 => Mstatus,
        0x301 => Const((2 << 62) | 1 | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)),
        0x302 => Mask(0xb3ff),             // medeleg: causes 0-9, 12, 13, 15 (11 is read-only 0)
        0x303 => Mask(MIDELEG),            // mideleg: S-level interrupts only
        0x304 => Mask(0xaaa),              // mie: SSIE MSIE STIE MTIE SEIE MEIE
        0x305 => Tvec,                     // mtvec
        0x306 => Mask(0b111),              // mcounteren
        0x30a => Const(0),                 // menvcfg
        0x320 => Mask(0b101),              // mcountinhibit: CY, IR (TM has no inhibit bit)
        0x323..=0x33f => Const(0),         // mhpmevent3..31
        0x340 => Mask(u64::MAX),           // mscratch
        0x341 => Mask(!1),                 // mepc
        0x342 | 0x343 => Mask(u64::MAX),   // mcause, mtval
        0x344 => Mask(MIDELEG),            // mip: software writes the S-level bits only
        0x3a0 | 0x3a2 => Pmpcfg,           // pmpcfg0, pmpcfg2 (16 entries)
        0x3a4..=0x3ae if n % 2 == 0 => Const(0), // pmpcfg4..14: no entries there
        0x3b0..=0x3bf => Mask((1 << 54) - 1), // pmpaddr0..15: bits 55:2 of the address
        0x3c0..=0x3ef => Const(0),         // pmpaddr16..63
        0xb00 | 0xb02 => Counter,          // mcycle, minstret
        0xb03..=0xb1f => Const(0),         // mhpmcounter3..31
        0xc00..=0xc02 => Const(RETIRED),   // cycle, time, instret (read-only views)
        0xc03..=0xc1f => Const(0),         // hpmcounter3..31
        0xf11..=0xf15 => Const(0),         // mvendorid, marchid, mimpid, mhartid, mconfigptr
        0x7a0 => Tselect,
        0x7a1 => Tdata1,
        0x7a2 => Mask(u64::MAX),           // tdata2: any address
        0x7a3 => Const(0),                 // tdata3 (textra64): no extra conditions
        0x7a4 => Const((1 << 24) | (1 << 2) | (1 << 6) | (1 << 15)), // tinfo: version 1, types 2, 6, 15
        // 0x7a5 tcontrol is absent: M-mode triggers fire only while mstatus.MIE = 1 instead.
        _ => return None,
    })
}

fn dirty(s: u64) -> u64 {
    if s & FS == FS { s | SD } else { s }
}

fn expected(r: Rule, v: u64) -> u64 {
    match r {
        Rule::Mask(m) => v & m,
        Rule::Const(c) => c,
        Rule::Tvec => if v & 3 >= 2 { v & !3 } else { v },
        Rule::Satp => match v >> 60 {
            0 | 8 => (v & (0xf << 60)) | (v & ((1 << 44) - 1)),
            _ => 0,
        },
        Rule::Mstatus => {
            let mut s = v & (SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR);
            if s & MPP == 2 << 11 {
                s &= !MPP; // the reserved MPP value 2 becomes U
            }
            dirty(s | UXL_64 | SXL_64)
        }
        Rule::Sstatus => dirty((v & (SIE | SPIE | SPP | FS | SUM | MXR)) | UXL_64),
        Rule::Pmpcfg => {
            let mut out = 0;
            for i in 0..8 {
                let mut b = (v >> (8 * i)) & 0x9f;
                if b & 3 == 2 {
                    b &= !3;
                }
                out |= b << (8 * i);
            }
            out
        }
        Rule::Counter => v.wrapping_sub(1),
        Rule::Tselect => if v < 4 { v } else { 0 },
        Rule::Tdata1 => {
            let ty = v >> 60;
            if ty == 2 || ty == 6 {
                let m = match (v >> 7) & 0xf { 2 => 2, 3 => 3, _ => 0 };
                const M_S_U_X_W_R: u64 = (1 << 6) | (1 << 4) | (1 << 3) | (1 << 2) | (1 << 1) | 1;
                (ty << 60) | (m << 7) | (v & M_S_U_X_W_R)
            } else {
                15 << 60
            }
        }
    }
}

fn fresh() -> Hart {
    let mut h = Hart::default();
    h.retired = RETIRED;
    h.csr_write(0x303, MIDELEG).unwrap();
    h
}

/// Zero, all ones, every single bit, every single bit clear, and pseudo-random patterns.
fn patterns() -> Vec<u64> {
    let mut v = vec![0, u64::MAX];
    for i in 0..64 {
        v.push(1 << i);
        v.push(!(1 << i));
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x);
    }
    v
}

#[test]
fn the_table_lists_exactly_the_implemented_csrs() {
    for n in 0..0x1000u16 {
        assert_eq!(csr_exists(n), rule(n).is_some(), "CSR {n:#05x}");
    }
    let bus = Bus::default();
    assert_eq!(fresh().csr_read(0x3a1, &bus), Err(CsrError::Absent), "odd pmpcfg numbers are RV32-only");
    assert_eq!(fresh().csr_write(0x7c0, 1), Err(CsrError::Absent));
}

#[test]
fn every_csr_reads_back_its_legal_value() {
    let bus = Bus::default();
    let pats = patterns();
    let mut failures = Vec::new();
    for n in (0..0x1000u16).filter(|&n| csr_exists(n)) {
        let r = rule(n).unwrap();
        for &v in &pats {
            let mut h = fresh();
            h.csr_write(n, v).unwrap();
            let got = h.csr_read(n, &bus).unwrap();
            if got != expected(r, v) {
                failures.push(format!("CSR {n:#05x} ({r:?}): wrote {v:#018x}, read {got:#018x}, want {:#018x}", expected(r, v)));
            }
        }
    }
    assert!(failures.is_empty(), "{} wrong read-backs, first ones:\n{}", failures.len(), failures[..failures.len().min(20)].join("\n"));
}

/// Access checks at each privilege, with the FP state on and every counteren bit written 1:
/// a CSR needs the privilege in its bits 9:8, and those numbered 0xC00 and up (bits 11:10 = 3)
/// are read-only, so an instruction writing one traps.
#[test]
fn csr_access_follows_the_number_encoding() {
    for prv in [Priv::U, Priv::S, Priv::M] {
        let mut h = fresh();
        h.csr_write(0x300, 1 << 13).unwrap(); // FS = Initial
        h.csr_write(0x306, u64::MAX).unwrap();
        h.csr_write(0x106, u64::MAX).unwrap();
        h.prv = prv;
        for n in (0..0x1000u16).filter(|&n| csr_exists(n)) {
            // hpmcounter3..31 count nothing here: their counteren bits are read-only zero.
            let allowed = prv as u16 >= (n >> 8) & 3 && (prv == Priv::M || !(0xc03..=0xc1f).contains(&n));
            let read = if allowed { Ok(()) } else { Err(CsrError::Denied) };
            let write = if allowed && n >> 10 != 3 { Ok(()) } else { Err(CsrError::Denied) };
            assert_eq!(h.csr_access(n, false), read, "CSR {n:#05x} read from {prv:?}");
            assert_eq!(h.csr_access(n, true), write, "CSR {n:#05x} written from {prv:?}");
        }
    }
    // The FP CSRs are illegal while mstatus.FS is Off (the state of a fresh hart).
    let mut h = fresh();
    for n in 1..=3u16 {
        assert_eq!(h.csr_access(n, false), Err(CsrError::Denied), "CSR {n} with FS off");
    }
    // Counters need their mcounteren bit from S, and also their scounteren bit from U.
    for m in 0..8u64 {
        for sc in 0..8u64 {
            h.csr_write(0x306, m).unwrap();
            h.csr_write(0x106, sc).unwrap();
            for c in 0xc00..=0xc02u16 {
                let bit = 1 << (c - 0xc00);
                h.prv = Priv::S;
                assert_eq!(h.csr_access(c, false).is_ok(), m & bit != 0, "{c:#x} from S, mcounteren {m:#b}");
                h.prv = Priv::U;
                assert_eq!(h.csr_access(c, false).is_ok(), m & sc & bit != 0, "{c:#x} from U, {m:#b}/{sc:#b}");
            }
            h.prv = Priv::M;
        }
    }
}

/// Writing any FP CSR marks the FP state dirty (mstatus.FS = 3, SD = 1).
#[test]
fn fp_csr_writes_make_the_fp_state_dirty() {
    let bus = Bus::default();
    for n in 1..=3u16 {
        let mut h = fresh();
        h.csr_write(n, 0).unwrap();
        assert_eq!(h.csr_read(0x300, &bus).unwrap(), UXL_64 | SXL_64 | FS | SD, "after writing CSR {n}");
    }
    // fflags and frm are fields of fcsr.
    let mut h = fresh();
    h.csr_write(0x003, 0xff).unwrap();
    h.csr_write(0x002, 0x2).unwrap();
    h.csr_write(0x001, 0x5).unwrap();
    assert_eq!([0x001, 0x002, 0x003].map(|n| h.csr_read(n, &bus).unwrap()), [0x5, 0x2, 0x45]);
}

/// Without delegation, sie and sip show nothing and writes through them reach nothing.
#[test]
fn sie_and_sip_follow_mideleg() {
    let bus = Bus::default();
    let mut h = Hart::default();
    h.csr_write(0x304, u64::MAX).unwrap();
    h.csr_write(0x344, u64::MAX).unwrap();
    assert_eq!([0x104, 0x144].map(|n| h.csr_read(n, &bus).unwrap()), [0, 0]);
    h.csr_write(0x104, 0).unwrap();
    h.csr_write(0x144, 0).unwrap();
    assert_eq!([0x304, 0x344].map(|n| h.csr_read(n, &bus).unwrap()), [0xaaa, MIDELEG]);
    h.csr_write(0x303, 1 << 5).unwrap(); // STIP delegated: visible in sip but not writable there
    h.csr_write(0x144, 0).unwrap();
    assert_eq!([0x104, 0x144].map(|n| h.csr_read(n, &bus).unwrap()), [1 << 5, 1 << 5]);
}

/// A locked PMP entry ignores writes to its pmpcfg byte and its pmpaddr; other entries don't.
#[test]
fn locked_pmp_entries_ignore_writes() {
    let bus = Bus::default();
    for entry in 0..16usize {
        let (cfg, byte) = (0x3a0 + 2 * (entry / 8) as u16, 8 * (entry % 8));
        let addr = 0x3b0 + entry as u16;
        let mut h = fresh();
        h.csr_write(addr, 0x1234).unwrap();
        h.csr_write(cfg, 0x9b << byte).unwrap(); // L, A = NAPOT, W, R
        h.csr_write(cfg, u64::MAX).unwrap();
        let want = expected(Rule::Pmpcfg, u64::MAX) & !(0xff << byte) | (0x9b << byte);
        assert_eq!(h.csr_read(cfg, &bus).unwrap(), want, "entry {entry}");
        h.csr_write(addr, 0x5678).unwrap();
        assert_eq!(h.csr_read(addr, &bus).unwrap(), 0x1234, "pmpaddr{entry} is locked");
        let other = 0x3b0 + ((entry + 1) % 16) as u16;
        h.csr_write(other, 0x5678).unwrap();
        // The neighbour got locked by the all-ones write too unless it is in the other pmpcfg.
        let neighbour_locked = (entry + 1) % 16 / 8 == entry / 8;
        assert_eq!(h.csr_read(other, &bus).unwrap(), if neighbour_locked { 0 } else { 0x5678 });
    }
}
