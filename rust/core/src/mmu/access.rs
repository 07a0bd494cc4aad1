//! Loads, stores and translation for the hart, fast path first.
use super::pmp::Verdict;
use super::sv39::{self, Regime};
use super::Access;
use crate::bus::Bus;
use crate::device::clint::{Clint, ClintWrite};
use crate::device::htif;
use crate::hart::csr::mstatus;
use crate::hart::trap::{cause, Trap};
use crate::hart::{Event, Hart, Priv};
use crate::mem::{PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};

fn misaligned(access: Access) -> u64 {
    if access == Access::Load { cause::LOAD_MISALIGNED } else { cause::STORE_MISALIGNED }
}

fn access_fault(access: Access) -> u64 {
    match access {
        Access::Fetch => cause::FETCH_ACCESS,
        Access::Load => cause::LOAD_ACCESS,
        Access::Store => cause::STORE_ACCESS,
    }
}

impl Hart {
    /// Virtual to physical for `access` under the current privilege, MPRV, SUM, MXR and satp,
    /// with the PMP check of the resulting physical address (and of the page-table reads).
    pub fn translate(&mut self, va: u64, access: Access, bus: &mut Bus) -> Result<u64, Trap> {
        self.translate_pmp(va, access, bus).map(|(pa, _)| pa)
    }

    /// [`Hart::translate`], also saying whether the translation may be cached in the TLB
    /// (false when a PMP boundary lies inside the page: only these bytes were checked). Inlined
    /// into the refill paths: without paging (M-mode, the user machine) it is a few compares.
    #[inline(always)]
    fn translate_pmp(&mut self, va: u64, access: Access, bus: &mut Bus) -> Result<(u64, bool), Trap> {
        let s = self.csr.mstatus;
        let prv = if access != Access::Fetch && s & mstatus::MPRV != 0 {
            crate::hart::Priv::from_bits((s & mstatus::MPP) >> mstatus::MPP_SHIFT)
        } else {
            self.prv
        };
        let pa = if prv == Priv::M || self.csr.satp >> 60 == 0 {
            va
        } else if let Some(pa) = self.walk_fast(va, access, prv) {
            pa
        } else {
            self.walk(va, access, prv, bus)?
        };
        if !self.pmp.enforce {
            return Ok((pa, true));
        }
        match self.pmp.check(pa, access, prv) {
            Verdict::Page => Ok((pa, true)),
            // Decoded code is cached per page: a fetch needs the whole page executable.
            Verdict::Bytes if access != Access::Fetch => Ok((pa, false)),
            _ => Err(Trap::new(access_fault(access), va)),
        }
    }

    /// The common TLB refill under Sv39 in about thirty host instructions, or `None` for
    /// [`Hart::walk`] to decide. It applies when the last walk of `va`'s 2 MiB region is
    /// remembered (`tlb::Upper`) and its two pointer PTEs still hold the values read then (so
    /// a full walk would reach the same leaf table; a PTE changed in place, even without
    /// `sfence.vma`, is seen as before), PMP is off, and the leaf PTE is a plain valid 4 KiB
    /// leaf granting the access. Anything else (every fault included) takes the full walk, which
    /// remains the one definition of the result. A non-canonical `va` matches no remembered
    /// region (see `tlb::Upper`), so it always takes the full walk and faults there.
    #[inline(always)]
    fn walk_fast(&self, va: u64, access: Access, prv: Priv) -> Option<u64> {
        if self.pmp.enforce {
            return None;
        }
        let u = self.tlb.upper(va >> 21)?;
        // SAFETY: the remembered PTE addresses and leaf table point into page-table frames,
        // which stay live while the entry's tag matches (flushes and frame changes drop it).
        let read = |at: u64| u64::from_le(unsafe { (at as *const u64).read() });
        if read(u.ptes[0].0) != u.ptes[0].1 || read(u.ptes[1].0) != u.ptes[1].1 {
            return None;
        }
        let pte = read(u.leaf + ((va >> 12) & 0x1ff) * 8);
        // The bits that must be set (from U-mode the U bit too): a clear one, or a reserved bit
        // set, is left to the full walk. One mask and one compare per privilege.
        let need = sv39::PTE_V
            | sv39::PTE_A
            | match access {
                Access::Load => sv39::PTE_R,
                Access::Store => sv39::PTE_R | sv39::PTE_W | sv39::PTE_D,
                Access::Fetch => sv39::PTE_X,
            };
        if prv == Priv::U {
            let need = need | sv39::PTE_U;
            if pte & (need | sv39::PTE_RESERVED) != need {
                return None;
            }
        } else if pte & (need | sv39::PTE_RESERVED) != need
            // S-mode on a user page: only loads and stores, and only with SUM.
            || (pte & sv39::PTE_U != 0 && (access == Access::Fetch || self.csr.mstatus & mstatus::SUM == 0))
        {
            return None;
        }
        // Loads and stores required R; a fetch may see the reserved W-without-R encoding.
        if access == Access::Fetch && pte & (sv39::PTE_R | sv39::PTE_W) == sv39::PTE_W {
            return None;
        }
        Some(sv39::next_table(pte) | (va & PAGE_MASK))
    }

    /// The Sv39 walk of `va` at effective privilege `prv` (S or U), through the TLB's cache of
    /// page-table frames; a walk that reached the leaf table is remembered for
    /// [`Hart::walk_fast`].
    #[inline(never)]
    fn walk(&mut self, va: u64, access: Access, prv: Priv, bus: &mut Bus) -> Result<u64, Trap> {
        let s = self.csr.mstatus;
        let regime = Regime {
            root_ppn: self.csr.satp & ((1 << 44) - 1),
            user: prv == Priv::U,
            sum: s & mstatus::SUM != 0,
            mxr: s & mstatus::MXR != 0,
        };
        let (pmp, tlb) = (&self.pmp, &mut self.tlb);
        // The PTEs read: (host address, value).
        let mut seen = [(0u64, 0u64); 3];
        let mut reads = 0;
        // Page-table reads are S-level implicit loads: PMP applies to them too. They read RAM
        // as `Bus::read_u64` would.
        let read_pte = |pa: u64| {
            if pa & 7 != 0 || !pmp.check_range(pa, 8, Access::Load, Priv::S) {
                return None;
            }
            let ppn = pa >> PAGE_SHIFT;
            let base = match tlb.pt_frame(ppn) {
                Some(b) => b,
                None => {
                    let b = bus.frame(pa, false)?.base as *const u8;
                    tlb.fill_pt(ppn, b);
                    b
                }
            };
            // SAFETY: a live frame of this bus (a cached one is dropped whenever a read entry
            // to it would be); the aligned word lies inside it.
            let at = unsafe { base.add((pa & PAGE_MASK) as usize) } as u64;
            let pte = u64::from_le(unsafe { (at as *const u64).read() });
            if reads < 3 {
                seen[reads] = (at, pte);
            }
            reads += 1;
            Some(pte)
        };
        let r = sv39::walk(va, access, regime, read_pte);
        if reads == 3 {
            // Three reads: the first two were pointers to the leaf table, the third read the
            // leaf table at `va`'s index.
            let leaf = seen[2].0 - ((va >> 12) & 0x1ff) * 8;
            self.tlb.fill_upper(va >> 21, [seen[0], seen[1]], leaf);
        }
        r.map(|leaf| leaf.pa).map_err(|c| Trap::new(c, va))
    }

    /// Loads `N` bytes (1, 2, 4, 8) at `va`, zero-extended.
    #[inline(always)]
    pub fn load<const N: usize>(&mut self, bus: &mut Bus, va: u64) -> Result<u64, Trap> {
        let vpn = va >> PAGE_SHIFT;
        let e = self.tlb.read_entry(vpn);
        if e.tag == self.tlb.tag(vpn) && (va & PAGE_MASK) as usize <= PAGE_SIZE - N && !(self.misaligned_trap && va as usize % N != 0) {
            let p = va.wrapping_add(e.addend) as *const u8;
            // SAFETY: the entry maps this virtual page to a live frame of this machine (entries
            // are dropped whenever a frame is replaced or unmapped) and the N bytes lie in it.
            return Ok(unsafe { read_n::<N>(p) });
        }
        self.load_slow(bus, va, N)
    }

    /// Stores the low `N` bytes of `value` at `va`. `Err(Trap::STOP)` means the store completed
    /// and the run loop must look at the hart before the next instruction.
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, bus: &mut Bus, va: u64, value: u64) -> Result<(), Trap> {
        let vpn = va >> PAGE_SHIFT;
        let e = self.tlb.write_entry(vpn);
        if e.tag == self.tlb.tag(vpn) && (va & PAGE_MASK) as usize <= PAGE_SIZE - N && !(self.misaligned_trap && va as usize % N != 0) {
            let p = va.wrapping_add(e.addend) as *mut u8;
            // SAFETY: as in `load`; write entries only exist for frames private to this machine.
            unsafe { write_n::<N>(p, value) };
            return Ok(());
        }
        self.store_slow(bus, va, N, value)
    }

    #[inline(never)]
    fn load_slow(&mut self, bus: &mut Bus, va: u64, n: usize) -> Result<u64, Trap> {
        if self.trig.is_some() {
            self.data_trigger(va, n, false)?;
        }
        if va as usize % n != 0 && self.misaligned_trap {
            return Err(Trap::new(cause::LOAD_MISALIGNED, va));
        }
        if (va & PAGE_MASK) as usize + n > PAGE_SIZE {
            let mut v = 0u64;
            for i in 0..n as u64 {
                v |= self.load::<1>(bus, va.wrapping_add(i))? << (8 * i);
            }
            return Ok(v);
        }
        let (pa, cacheable) = self.translate_pmp(va, Access::Load, bus)?;
        if let Some(fp) = bus.frame(pa, false) {
            if cacheable && !self.data_watched(va) {
                self.tlb.fill_read(va, pa >> PAGE_SHIFT, fp.base);
            }
            // SAFETY: `fp.base` is a live frame and the access lies within it.
            return Ok(unsafe { read_var(fp.base.add((pa & PAGE_MASK) as usize), n) });
        }
        if Clint::contains(pa) && pa as usize % n == 0 {
            if let Some(clint) = &bus.clint {
                if let Some(v) = clint.load(pa, n as u64, self.mtime()) {
                    return Ok(v);
                }
            }
        }
        Err(Trap::new(access_fault(Access::Load), va))
    }

    #[inline(never)]
    fn store_slow(&mut self, bus: &mut Bus, va: u64, n: usize, value: u64) -> Result<(), Trap> {
        if self.trig.is_some() {
            self.data_trigger(va, n, true)?;
        }
        if va as usize % n != 0 && self.misaligned_trap {
            return Err(Trap::new(misaligned(Access::Store), va));
        }
        if (va & PAGE_MASK) as usize + n > PAGE_SIZE {
            // Both pages must be writable before any byte is written.
            let last = va.wrapping_add(n as u64 - 1);
            self.translate(va, Access::Store, bus)?;
            let pa_last = self.translate(last, Access::Store, bus)?;
            if !bus.is_ram(pa_last) {
                return Err(Trap::new(cause::STORE_ACCESS, last));
            }
            for i in 0..n as u64 {
                self.store_within::<1>(bus, va.wrapping_add(i), value >> (8 * i))?;
            }
            return if self.stop { Err(Trap::STOP) } else { Ok(()) };
        }
        let (pa, cacheable) = self.translate_pmp(va, Access::Store, bus)?;
        let ppn = pa >> PAGE_SHIFT;
        if let Some(fp) = bus.frame(pa, true) {
            if fp.replaced && !self.tlb.drop_reads_to(ppn) {
                // A fresh or copied frame: read entries may still point at the old one. The
                // page's mapping is the same, so only those entries go (write entries exist
                // for private frames only); a flush if the TLB cannot tell which they are.
                self.flush_tlb();
            }
            self.forget_code(ppn);
            // SAFETY: `fp.base` is a live private frame and the access lies within it.
            unsafe { write_var(fp.base.add((pa & PAGE_MASK) as usize), n, value) };
            if bus.write_watched(ppn) {
                self.htif_poll(bus);
            } else if cacheable && !self.data_watched(va) {
                self.tlb.fill_write(va, ppn, fp.base);
            }
            // Code was written or HTIF acted: stop after this store.
            return if self.stop { Err(Trap::STOP) } else { Ok(()) };
        }
        if Clint::contains(pa) && pa as usize % n == 0 {
            let mtime = self.mtime();
            if let Some(clint) = &mut bus.clint {
                if let ClintWrite::SetTime(t) = clint.store(pa, n as u64, value, mtime) {
                    self.set_mtime(t);
                }
                // Pending interrupts may have changed: end the slice after this instruction.
                self.end_slice();
                return Err(Trap::STOP);
            }
        }
        Err(Trap::new(access_fault(Access::Store), va))
    }

    /// Services a command written to HTIF `tohost`.
    fn htif_poll(&mut self, bus: &mut Bus) {
        let Some(h) = bus.htif else { return };
        let value = bus.read_u64(h.tohost).unwrap_or(0);
        if value == 0 {
            return;
        }
        let command = htif::decode(value);
        match command {
            htif::Command::Exit(code) => {
                self.raise(Event::Exit(code as i64));
                return;
            }
            htif::Command::Putchar(c) => {
                bus.console.write(1, &[c]);
            }
            htif::Command::Syscall(addr) => {
                let mut args = [0u64; 4];
                for (i, a) in args.iter_mut().enumerate() {
                    *a = bus.read_u64(addr + 8 * i as u64).unwrap_or(0);
                }
                let ret = match args[0] {
                    64 => {
                        let mut buf = vec![0u8; args[3].min(1 << 20) as usize];
                        if bus.read(args[2], &mut buf) { bus.console.write(args[1], &buf) } else { -14 }
                    }
                    93 => {
                        self.raise(Event::Exit(args[1] as i64));
                        return;
                    }
                    _ => -38,
                };
                bus.write_u64(addr, ret as u64);
            }
            htif::Command::Unknown => {}
        }
        bus.write_u64(h.tohost, 0);
        if let Some(fromhost) = h.fromhost {
            bus.write_u64(fromhost, htif::response(value));
        }
    }

    /// The host removed `[start, end)` from RAM: nothing may point into those frames.
    pub fn host_unmapped(&mut self, start: u64, end: u64) {
        self.flush_tlb();
        for ppn in start >> PAGE_SHIFT..(end + PAGE_MASK) >> PAGE_SHIFT {
            self.forget_code(ppn);
        }
    }

    /// Host-side write into guest physical memory (loader, syscalls, debugger): keeps the
    /// TLB and decoded code consistent with it.
    pub fn host_write(&mut self, bus: &mut Bus, pa: u64, data: &[u8]) -> bool {
        if !bus.write(pa, data) {
            return false;
        }
        self.flush_tlb();
        let first = pa >> PAGE_SHIFT;
        let last = (pa + data.len().max(1) as u64 - 1) >> PAGE_SHIFT;
        for ppn in first..=last {
            self.forget_code(ppn);
        }
        true
    }
}

#[inline(always)]
unsafe fn read_n<const N: usize>(p: *const u8) -> u64 {
    match N {
        1 => *p as u64,
        2 => (p as *const u16).read_unaligned() as u64,
        4 => (p as *const u32).read_unaligned() as u64,
        _ => (p as *const u64).read_unaligned(),
    }
}

#[inline(always)]
unsafe fn write_n<const N: usize>(p: *mut u8, v: u64) {
    match N {
        1 => *p = v as u8,
        2 => (p as *mut u16).write_unaligned(v as u16),
        4 => (p as *mut u32).write_unaligned(v as u32),
        _ => (p as *mut u64).write_unaligned(v),
    }
}

unsafe fn read_var(p: *const u8, n: usize) -> u64 {
    match n {
        1 => read_n::<1>(p),
        2 => read_n::<2>(p),
        4 => read_n::<4>(p),
        _ => read_n::<8>(p),
    }
}

unsafe fn write_var(p: *mut u8, n: usize, v: u64) {
    match n {
        1 => write_n::<1>(p, v),
        2 => write_n::<2>(p, v),
        4 => write_n::<4>(p, v),
        _ => write_n::<8>(p, v),
    }
}

impl Hart {
    /// A store from an instruction that has more to do after it (AMO, SC): a stop request is
    /// left in `self.stop` for the run loop to see at the end of the block.
    pub fn store_within<const N: usize>(&mut self, bus: &mut Bus, va: u64, value: u64) -> Result<(), Trap> {
        match self.store::<N>(bus, va, value) {
            Err(t) if t == Trap::STOP => Ok(()),
            r => r,
        }
    }

    /// Checks that an AMO may write `va` before it reads, so faults carry the store cause.
    pub fn probe_store(&mut self, bus: &mut Bus, va: u64) -> Result<(), Trap> {
        let vpn = va >> PAGE_SHIFT;
        if self.tlb.write_entry(vpn).tag == self.tlb.tag(vpn) {
            return Ok(());
        }
        let pa = self.translate(va, Access::Store, bus)?;
        if bus.is_ram(pa) || Clint::contains(pa) {
            Ok(())
        } else {
            Err(Trap::new(cause::STORE_ACCESS, va))
        }
    }
}
