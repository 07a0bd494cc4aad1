//! Physical memory protection (privileged spec, "Physical Memory Protection").
//!
//! The CSRs (`pmpcfg0/2`, `pmpaddr0..15`) live in the CSR file; this is their decoded form,
//! rebuilt on every write to them, and the access check. Enforcement is off on every machine
//! except the system machine ([`Pmp::enforce`]): the bare machine runs M-mode code only, and
//! the user machine and enclaves have no firmware to program PMP, so there "no entry matches
//! an S/U access" must keep meaning "allowed" as before.
//!
//! Cost: the check runs only where a translation is made (TLB refill, page walk, decode-cache
//! page install), never on a TLB hit. That is sound because every PMP write flushes the TLB
//! and the decoded code's translations, and because a TLB entry is only filled for a page the
//! check allowed as a whole ([`Verdict::Page`]).
use super::Access;
use crate::hart::Priv;

pub const PMP_ENTRIES: usize = 16;
const PAGE: u64 = 4096;

pub const CFG_R: u8 = 1 << 0;
pub const CFG_W: u8 = 1 << 1;
pub const CFG_X: u8 = 1 << 2;
pub const CFG_A_SHIFT: u8 = 3;
pub const A_OFF: u8 = 0;
pub const A_TOR: u8 = 1;
pub const A_NA4: u8 = 2;
pub const A_NAPOT: u8 = 3;
pub const CFG_L: u8 = 1 << 7;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Region {
    /// `[lo, hi)` in bytes; `hi` may be 2^56 (an all-ones NAPOT address).
    lo: u64,
    hi: u64,
    /// R/W/X bits of the config byte.
    perm: u8,
    locked: bool,
}

/// What the check says about an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, and so is the same kind of access to every byte of its 4 KiB page: the
    /// translation may be cached.
    Page,
    /// Allowed for these bytes only (a PMP boundary lies inside the page): do not cache.
    Bytes,
    Denied,
}

#[derive(Clone, Debug, Default)]
pub struct Pmp {
    /// Check S/U accesses (and locked entries for M). Off: every access is allowed.
    pub enforce: bool,
    /// Active entries in priority order (lowest-numbered first).
    regions: [Region; PMP_ENTRIES],
    n: usize,
    any_locked: bool,
}

/// Byte range `[lo, hi)` of entry `i` (None when its A field is OFF).
fn decode(i: usize, cfg: u8, addr: &[u64; PMP_ENTRIES]) -> Option<(u64, u64)> {
    let a = (cfg >> CFG_A_SHIFT) & 3;
    let pa = addr[i];
    match a {
        A_TOR => {
            let lo = if i == 0 { 0 } else { addr[i - 1] << 2 };
            let hi = pa << 2;
            // An empty (or inverted) TOR range matches nothing.
            (lo < hi).then_some((lo, hi))
        }
        A_NA4 => Some((pa << 2, (pa << 2) + 4)),
        A_NAPOT => {
            // The number of trailing ones gives the size: 2^(ones + 3) bytes.
            let ones = pa.trailing_ones() as u64;
            let size_log = (ones + 3).min(56);
            let lo = (pa << 2) & !((1u64 << size_log) - 1) & ((1 << 56) - 1);
            Some((lo, lo + (1u64 << size_log)))
        }
        _ => None,
    }
}

impl Pmp {
    /// Decodes the CSRs (called after every write to `pmpcfg*` / `pmpaddr*`).
    pub fn rebuild(&mut self, cfg: &[u64; 2], addr: &[u64; PMP_ENTRIES]) {
        self.n = 0;
        self.any_locked = false;
        for i in 0..PMP_ENTRIES {
            let c = (cfg[i / 8] >> (8 * (i % 8))) as u8;
            if let Some((lo, hi)) = decode(i, c, addr) {
                let locked = c & CFG_L != 0;
                self.any_locked |= locked;
                self.regions[self.n] = Region { lo, hi, perm: c & (CFG_R | CFG_W | CFG_X), locked };
                self.n += 1;
            }
        }
    }

    /// Whether M-mode accesses need checking at all (only locked entries bind M).
    pub fn binds_m(&self) -> bool {
        self.enforce && self.any_locked
    }

    /// The rule for `len` bytes at `pa`: the lowest-numbered entry that matches any of them
    /// decides, and must match all of them; no match allows M and denies S/U.
    fn allows(&self, pa: u64, len: u64, access: Access, prv: Priv) -> bool {
        let need = match access {
            Access::Load => CFG_R,
            Access::Store => CFG_W,
            Access::Fetch => CFG_X,
        };
        let end = pa.saturating_add(len);
        for r in &self.regions[..self.n] {
            if end <= r.lo || pa >= r.hi {
                continue;
            }
            if pa < r.lo || end > r.hi {
                return false;
            }
            if prv == Priv::M && !r.locked {
                return true;
            }
            return r.perm & need != 0;
        }
        prv == Priv::M
    }

    /// Checks an access of the given kind to `pa` at effective privilege `prv`.
    pub fn check(&self, pa: u64, access: Access, prv: Priv) -> Verdict {
        if !self.enforce || (prv == Priv::M && !self.any_locked) {
            return Verdict::Page;
        }
        if self.allows(pa & !(PAGE - 1), PAGE, access, prv) {
            return Verdict::Page;
        }
        if self.allows(pa, 1, access, prv) { Verdict::Bytes } else { Verdict::Denied }
    }

    /// Checks every byte of `[pa, pa + len)` (monitor-side accesses on behalf of S-mode).
    pub fn check_range(&self, pa: u64, len: u64, access: Access, prv: Priv) -> bool {
        !self.enforce || self.allows(pa, len.max(1), access, prv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn napot(base: u64, size: u64) -> u64 {
        (base >> 2) | ((size >> 3) - 1)
    }

    fn cfg(perm: u8, a: u8) -> u8 {
        perm | (a << CFG_A_SHIFT)
    }

    fn pmp(entries: &[(usize, u8, u64)]) -> Pmp {
        let mut c = [0u64; 2];
        let mut a = [0u64; PMP_ENTRIES];
        for &(i, byte, addr) in entries {
            c[i / 8] |= (byte as u64) << (8 * (i % 8));
            a[i] = addr;
        }
        let mut p = Pmp { enforce: true, ..Pmp::default() };
        p.rebuild(&c, &a);
        p
    }

    #[test]
    fn napot_decodes_size_from_trailing_ones_and_all_ones_covers_everything() {
        let a = {
            let mut a = [0u64; PMP_ENTRIES];
            a[0] = napot(0x8000_0000, 0x20_0000);
            a[1] = (1 << 54) - 1;
            a
        };
        assert_eq!(decode(0, cfg(0, A_NAPOT), &a), Some((0x8000_0000, 0x8020_0000)));
        assert_eq!(decode(1, cfg(7, A_NAPOT), &a), Some((0, 1 << 56)));
        assert_eq!(decode(1, cfg(7, A_NA4), &a).map(|r| r.1 - r.0), Some(4));
        // TOR from the previous entry's address (0 for entry 0); empty when inverted.
        let mut t = [0u64; PMP_ENTRIES];
        t[0] = 0x1000 >> 2;
        t[1] = 0x3000 >> 2;
        assert_eq!(decode(1, cfg(7, A_TOR), &t), Some((0x1000, 0x3000)));
        assert_eq!(decode(0, cfg(7, A_TOR), &t), Some((0, 0x1000)));
        t.swap(0, 1);
        assert_eq!(decode(1, cfg(7, A_TOR), &t), None);
    }

    #[test]
    fn lowest_entry_wins_and_no_match_denies_s_and_u_only() {
        let p = pmp(&[
            (0, cfg(0, A_NAPOT), napot(0x8000_0000, 0x20_0000)),
            (1, cfg(CFG_R, A_NAPOT), napot(0x8100_0000, 0x10_0000)),
            (7, cfg(7, A_NAPOT), (1 << 54) - 1),
        ]);
        assert_eq!(p.check(0x8000_1000, Access::Load, Priv::S), Verdict::Denied);
        assert_eq!(p.check(0x8000_1000, Access::Load, Priv::M), Verdict::Page, "M is bound by locked entries only");
        assert_eq!(p.check(0x8100_0008, Access::Load, Priv::S), Verdict::Page);
        assert_eq!(p.check(0x8100_0008, Access::Store, Priv::U), Verdict::Denied);
        assert_eq!(p.check(0x8100_0008, Access::Fetch, Priv::S), Verdict::Denied);
        assert_eq!(p.check(0x9000_0000, Access::Store, Priv::S), Verdict::Page);
        let only_monitor = pmp(&[(0, cfg(0, A_NAPOT), napot(0x8000_0000, 0x20_0000))]);
        assert_eq!(only_monitor.check(0x9000_0000, Access::Load, Priv::S), Verdict::Denied, "no match");
        assert_eq!(only_monitor.check(0x9000_0000, Access::Load, Priv::M), Verdict::Page);
    }

    #[test]
    fn locked_entries_bind_m_and_sub_page_regions_are_not_cacheable() {
        let p = pmp(&[(0, cfg(CFG_R, A_NAPOT) | CFG_L, napot(0x8000_0000, 0x1000))]);
        assert_eq!(p.check(0x8000_0000, Access::Store, Priv::M), Verdict::Denied);
        assert_eq!(p.check(0x8000_0000, Access::Load, Priv::M), Verdict::Page);
        let na4 = pmp(&[(0, cfg(CFG_R | CFG_W, A_NA4), 0x8000_0010 >> 2)]);
        assert_eq!(na4.check(0x8000_0010, Access::Load, Priv::S), Verdict::Bytes);
        assert_eq!(na4.check(0x8000_0014, Access::Load, Priv::S), Verdict::Denied);
        assert!(na4.check_range(0x8000_0010, 4, Access::Store, Priv::S));
        assert!(!na4.check_range(0x8000_0010, 8, Access::Store, Priv::S), "straddles the entry");
    }

    #[test]
    fn not_enforced_allows_everything() {
        let mut p = pmp(&[(0, cfg(0, A_NAPOT), napot(0x8000_0000, 0x20_0000))]);
        p.enforce = false;
        assert_eq!(p.check(0x8000_0000, Access::Store, Priv::U), Verdict::Page);
        assert!(p.check_range(0x8000_0000, 8, Access::Store, Priv::U));
    }
}
