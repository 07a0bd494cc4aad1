//! The Sv39 page-table walk (privileged spec, "Virtual Address Translation Process").
//!
//! One function, no state: it reads PTEs through a callback and returns the physical address or
//! the exception cause. A/D bits follow Svade: a clear A, or a clear D on a store, is a page
//! fault; the walker never writes a PTE.
use super::Access;
use crate::hart::trap::cause;

pub const PTE_V: u64 = 1 << 0;
pub const PTE_R: u64 = 1 << 1;
pub const PTE_W: u64 = 1 << 2;
pub const PTE_X: u64 = 1 << 3;
pub const PTE_U: u64 = 1 << 4;
pub const PTE_A: u64 = 1 << 6;
pub const PTE_D: u64 = 1 << 7;
/// Bits 63:54: reserved (no Svpbmt, no Svnapot), must be zero.
pub const PTE_RESERVED: u64 = 0xffc0_0000_0000_0000;
const PPN_MASK: u64 = (1 << 44) - 1;

/// The translation regime the walk runs under.
#[derive(Clone, Copy, Debug)]
pub struct Regime {
    /// Root table physical page number (satp.PPN).
    pub root_ppn: u64,
    /// Effective privilege: 0 = U, 1 = S.
    pub user: bool,
    /// mstatus.SUM and mstatus.MXR.
    pub sum: bool,
    pub mxr: bool,
}

/// The physical address of the table a pointer PTE points to.
pub fn next_table(pte: u64) -> u64 {
    ((pte >> 10) & PPN_MASK) << 12
}

/// A successful walk: the physical address and the leaf PTE (for permission caching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub pa: u64,
    pub pte: u64,
}

fn page_fault(access: Access) -> u64 {
    match access {
        Access::Fetch => cause::FETCH_PAGE_FAULT,
        Access::Load => cause::LOAD_PAGE_FAULT,
        Access::Store => cause::STORE_PAGE_FAULT,
    }
}

fn access_fault(access: Access) -> u64 {
    match access {
        Access::Fetch => cause::FETCH_ACCESS,
        Access::Load => cause::LOAD_ACCESS,
        Access::Store => cause::STORE_ACCESS,
    }
}

/// Translates `va`. `read_pte(pa)` returns the 8-byte PTE at `pa`, or `None` if `pa` is not
/// readable memory (an access fault of the original access type).
pub fn walk(
    va: u64,
    access: Access,
    regime: Regime,
    mut read_pte: impl FnMut(u64) -> Option<u64>,
) -> Result<Leaf, u64> {
    // Bits 63:39 must all equal bit 38.
    if ((va as i64) << 25 >> 25) as u64 != va {
        return Err(page_fault(access));
    }
    let mut table = regime.root_ppn << 12;
    let mut level = 2u32;
    let pte = loop {
        let vpn = (va >> (12 + 9 * level)) & 0x1ff;
        let pte = read_pte(table + vpn * 8).ok_or_else(|| access_fault(access))?;
        if pte & PTE_V == 0 || (pte & PTE_R == 0 && pte & PTE_W != 0) || pte & PTE_RESERVED != 0 {
            return Err(page_fault(access));
        }
        if pte & (PTE_R | PTE_X) != 0 {
            break pte;
        }
        if level == 0 {
            return Err(page_fault(access));
        }
        level -= 1;
        table = next_table(pte);
    };
    let allowed = match access {
        Access::Fetch => pte & PTE_X != 0,
        Access::Load => pte & PTE_R != 0 || (regime.mxr && pte & PTE_X != 0),
        Access::Store => pte & PTE_W != 0,
    };
    let user_page = pte & PTE_U != 0;
    let privilege_ok = if regime.user {
        user_page
    } else {
        !user_page || (regime.sum && access != Access::Fetch)
    };
    if !allowed || !privilege_ok {
        return Err(page_fault(access));
    }
    let ppn = (pte >> 10) & PPN_MASK;
    // A superpage's low PPN fields must be zero.
    let low_ppn_mask = (1u64 << (9 * level)) - 1;
    if ppn & low_ppn_mask != 0 {
        return Err(page_fault(access));
    }
    if pte & PTE_A == 0 || (access == Access::Store && pte & PTE_D == 0) {
        return Err(page_fault(access));
    }
    let offset_mask = (1u64 << (12 + 9 * level)) - 1;
    Ok(Leaf { pa: (ppn << 12) | (va & offset_mask), pte })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ROOT: u64 = 0x80000;
    const L1: u64 = 0x80001;
    const L0: u64 = 0x80002;

    fn ptr(ppn: u64) -> u64 {
        (ppn << 10) | PTE_V
    }
    fn leaf(ppn: u64, flags: u64) -> u64 {
        (ppn << 10) | flags | PTE_V | PTE_A | PTE_D
    }

    struct Tables(HashMap<u64, u64>);
    impl Tables {
        fn new() -> Self {
            Tables(HashMap::new())
        }
        fn set(&mut self, table_ppn: u64, idx: u64, pte: u64) -> &mut Self {
            self.0.insert((table_ppn << 12) + idx * 8, pte);
            self
        }
        fn walk(&self, va: u64, access: Access, user: bool, sum: bool, mxr: bool) -> Result<Leaf, u64> {
            let regime = Regime { root_ppn: ROOT, user, sum, mxr };
            walk(va, access, regime, |pa| {
                if pa >> 12 >= 0x90000 {
                    None
                } else {
                    Some(*self.0.get(&pa).unwrap_or(&0))
                }
            })
        }
    }

    fn s(t: &Tables, va: u64, a: Access) -> Result<u64, u64> {
        t.walk(va, a, false, false, false).map(|l| l.pa)
    }

    #[test]
    fn four_k_page_translates_with_offset() {
        let mut t = Tables::new();
        t.set(ROOT, 0, ptr(L1)).set(L1, 0, ptr(L0)).set(L0, 1, leaf(0x12345, PTE_R | PTE_W | PTE_X));
        assert_eq!(s(&t, 0x1abc, Access::Load), Ok(0x12345abc));
        assert_eq!(s(&t, 0x1abc, Access::Store), Ok(0x12345abc));
        assert_eq!(s(&t, 0x2000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
        assert_eq!(s(&t, 0x2000, Access::Fetch), Err(cause::FETCH_PAGE_FAULT));
        assert_eq!(s(&t, 0x2000, Access::Store), Err(cause::STORE_PAGE_FAULT));
    }

    #[test]
    fn superpages_and_misaligned_superpages() {
        let mut t = Tables::new();
        // 1 GiB at VA 1 GiB -> PA 0x8000_0000.
        t.set(ROOT, 1, leaf(0x80000, PTE_R | PTE_X));
        assert_eq!(s(&t, 0x4012_3456, Access::Load), Ok(0x8012_3456));
        // 1 GiB leaf whose PPN is not 1 GiB aligned.
        t.set(ROOT, 2, leaf(0x80200, PTE_R));
        assert_eq!(s(&t, 0x8000_0000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
        // 2 MiB leaf, aligned and misaligned.
        t.set(ROOT, 0, ptr(L1)).set(L1, 3, leaf(0x80200, PTE_R)).set(L1, 4, leaf(0x80201, PTE_R));
        assert_eq!(s(&t, 0x60_1234, Access::Load), Ok(0x8020_1234));
        assert_eq!(s(&t, 0x80_0000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
    }

    #[test]
    fn reserved_encodings_and_noncanonical_addresses_fault() {
        let mut t = Tables::new();
        t.set(ROOT, 0, ptr(L1)).set(L1, 0, ptr(L0));
        t.set(L0, 1, leaf(0x100, PTE_W)); // W without R
        t.set(L0, 2, leaf(0x100, PTE_R) | (1 << 60)); // reserved high bits
        t.set(L0, 3, ptr(0x100)); // pointer at level 0
        for va in [0x1000, 0x2000, 0x3000] {
            assert_eq!(s(&t, va, Access::Load), Err(cause::LOAD_PAGE_FAULT), "va {va:#x}");
        }
        t.set(ROOT, 1, leaf(0x80000, PTE_R));
        assert_eq!(s(&t, 0x0000_0040_0000_0000 | 0x4000_0000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
        assert_eq!(s(&t, 0xffff_ffc0_4000_0000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
    }

    #[test]
    fn user_bit_sum_and_mxr() {
        let mut t = Tables::new();
        t.set(ROOT, 0, ptr(L1)).set(L1, 0, ptr(L0));
        t.set(L0, 1, leaf(0x101, PTE_R | PTE_W | PTE_X | PTE_U));
        t.set(L0, 2, leaf(0x102, PTE_X));
        t.set(L0, 3, leaf(0x103, PTE_R | PTE_W | PTE_X));
        // U page from S: faults without SUM, loads/stores allowed with SUM, fetch never.
        assert!(t.walk(0x1000, Access::Load, false, false, false).is_err());
        assert!(t.walk(0x1000, Access::Store, false, true, false).is_ok());
        assert_eq!(t.walk(0x1000, Access::Fetch, false, true, false).map(|l| l.pa), Err(cause::FETCH_PAGE_FAULT));
        // Non-U page from U.
        assert_eq!(t.walk(0x3000, Access::Load, true, false, false).map(|l| l.pa), Err(cause::LOAD_PAGE_FAULT));
        assert!(t.walk(0x1000, Access::Fetch, true, false, false).is_ok());
        // Execute-only page: loads need MXR.
        assert!(t.walk(0x2000, Access::Load, false, false, false).is_err());
        assert_eq!(t.walk(0x2008, Access::Load, false, false, true).map(|l| l.pa), Ok(0x102008));
    }

    #[test]
    fn svade_faults_on_clear_a_or_d() {
        let mut t = Tables::new();
        t.set(ROOT, 0, ptr(L1)).set(L1, 0, ptr(L0));
        t.set(L0, 1, (0x101 << 10) | PTE_V | PTE_R | PTE_W); // A=0
        t.set(L0, 2, (0x102 << 10) | PTE_V | PTE_R | PTE_W | PTE_A); // D=0
        assert_eq!(s(&t, 0x1000, Access::Load), Err(cause::LOAD_PAGE_FAULT));
        assert_eq!(s(&t, 0x2000, Access::Load), Ok(0x102000));
        assert_eq!(s(&t, 0x2000, Access::Store), Err(cause::STORE_PAGE_FAULT));
    }

    #[test]
    fn pte_outside_memory_is_an_access_fault() {
        let mut t = Tables::new();
        t.set(ROOT, 0, ptr(0x95000));
        assert_eq!(s(&t, 0x1000, Access::Load), Err(cause::LOAD_ACCESS));
        assert_eq!(s(&t, 0x1000, Access::Store), Err(cause::STORE_ACCESS));
        assert_eq!(s(&t, 0x1000, Access::Fetch), Err(cause::FETCH_ACCESS));
    }
}
