//! One enclave's machine state and how a normal enclave is built from ELF bytes: the driver's
//! block and loader (§1.3, §1.4), then the monitor's part of creation (§1.5).
use super::consts::*;
use super::elf::{self, ElfInfo, PF_W, SHT_NOBITS};
use super::pt;
use super::rng::SplitMix;
use crate::bus::Bus;
use crate::hart::csr::num::SATP;
use crate::hart::{Hart, Priv};
use std::path::PathBuf;

/// A block of host memory the monitor made secure and mapped (mmap/heap) or a relay region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First mapped VA.
    pub va: u64,
    /// PA of the block (for mmap/heap blocks, page 0 is the monitor's metadata page).
    pub pa: u64,
    /// Pages in the block.
    pub pages: u64,
    /// Pages mapped from `va` (`pages - 1` for mmap/heap blocks, `pages` for relay regions).
    pub mapped: u64,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.va + self.mapped * PAGE
    }
}

/// What an OCALLING enclave waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    None,
    /// `OCALL_RETURN_RELAY_PAGE`: the host gets the relay pages until the re-run.
    Relay,
    /// An OCALL id the monitor does not know, forwarded to the host program.
    User,
}

/// Everything that is created for one enclave. Fork (issue 5) clones `bus.mem` (O(1)) and the
/// registers; every field here is plain data so that a template + instance split slots in.
pub struct Enclave {
    /// Boxed: a hart is a few KiB, and an enclave moves (into its cell, out of it on destroy,
    /// into a template's spare harts) several times per fork; only the pointer should.
    pub hart: Box<Hart>,
    pub bus: Bus,
    pub entry: u64,
    /// Root page-table PA (block page 1).
    pub root: u64,
    pub block_pa: u64,
    pub block_pages: u64,
    /// The monitor's free-page list inside the block (ascending), for its own page tables.
    pub free_pages: std::ops::Range<u64>,
    /// Where host allocations start (they are placed first fit from here).
    pub host_pa: u64,
    pub kbuffer_pa: u64,
    /// Host shm: (PA, size).
    pub shm: Option<(u64, u64)>,
    /// Relay regions currently mapped at `MM_ARG_BASE`.
    pub relay: Vec<Region>,
    pub mmaps: Vec<Region>,
    /// Heap regions, oldest first.
    pub heap: Vec<Region>,
    pub heap_top: u64,
    pub rng: SplitMix,
    /// Secure bytes this enclave holds from the monitor's pool.
    pub secure_bytes: u64,
    /// Host file for `OCALL_READ_SECT` / `OCALL_WRITE_SECT` (the transfer buffer is the shm).
    pub persistency: Option<PathBuf>,
    /// OCALL ids forwarded to the host program instead of returning -1.
    pub user_ocalls: Vec<u64>,
    pub pending: Pending,
    /// Stored measurement (SM3, §6.1–§6.2): measured at create (normal enclave: with stack,
    /// shm and kbuffer; template: image only); a fork instance copies its template's.
    pub measurement: [u8; 32],
    /// Loader warnings (B17): pages mapped twice, NOBITS tail pages skipped.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The ELF cannot be loaded (message says why).
    Elf(String),
    /// Not enough secure memory in the pool.
    NoMemory { need: u64, free: u64 },
    /// A size argument (named in the message) is larger than the whole secure pool.
    ExceedsPool(String),
    /// A size argument (named in the message) is beyond a limit of the ABI or of this enclave
    /// (relay pool, address space, page tables of the enclave block).
    Limit(String),
    /// An enclave type this monitor does not create (yet).
    Unsupported(String),
    /// A create parameter is invalid (stack too large, ...).
    Param(String),
    /// No free driver id.
    NoId,
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateError::Elf(m)
            | CreateError::Unsupported(m)
            | CreateError::Param(m)
            | CreateError::ExceedsPool(m)
            | CreateError::Limit(m) => f.write_str(m),
            CreateError::NoMemory { need, free } => {
                write!(f, "secure memory exhausted: the enclave needs {need:#x} bytes, {free:#x} are free")
            }
            CreateError::NoId => f.write_str("no free enclave id"),
        }
    }
}

pub struct CreateParams {
    pub name: [u8; 16],
    pub kind: u32,
    pub stack_size: u64,
    /// Host shm contents (length = shm size: non-zero multiple of 4096), if any.
    pub shm: Option<Vec<u8>>,
    pub persistency: Option<PathBuf>,
}

fn ceil_log2(n: u64) -> u32 {
    if n <= 1 { 0 } else { 64 - (n - 1).leading_zeros() }
}

/// Pages of the driver's block (§1.3 steps 1–3).
pub fn block_pages(info: &ElfInfo, stack: u64) -> Result<u64, CreateError> {
    let nobits: u64 = info
        .shdrs
        .iter()
        .filter(|s| s.sh_type == SHT_NOBITS && s.addr != 0)
        .fold(0u64, |a, s| a.saturating_add(s.size));
    let files: u64 = info.phdrs.iter().fold(0u64, |a, p| a.saturating_add(p.filesz));
    let elf_mem = nobits.saturating_add(files);
    if elf_mem > MAX_ELF_MEM {
        return Err(CreateError::Param(format!("the ELF needs {elf_mem:#x} bytes, more than the driver's 512 MiB limit")));
    }
    if stack > MAX_STACK {
        return Err(CreateError::Param(format!("stack size {stack:#x} is larger than the driver's 64 MiB limit")));
    }
    let pages = elf_mem.div_ceil(PAGE) + stack.div_ceil(PAGE) + BLOCK_SPARE_PAGES;
    Ok(1 << ceil_log2(pages))
}

/// The checks B17 adds on top of the driver's loader, and that every range the loader maps
/// ends in the address space (its page loops step by 4096 up to the end).
pub fn check_elf(info: &ElfInfo) -> Result<(), CreateError> {
    if info.entry == 0 {
        return Err(CreateError::Elf("e_entry is 0".into()));
    }
    let fits = |start: u64, size: u64| start.checked_add(size).is_some_and(|end| end <= u64::MAX - PAGE + 1);
    for (i, p) in info.phdrs.iter().enumerate() {
        if p.filesz != 0 && p.vaddr % PAGE != 0 {
            return Err(CreateError::Elf(format!(
                "program header at {:#x} is not page-aligned (the Penglai loader copies to page starts)",
                p.vaddr
            )));
        }
        if !fits(p.vaddr, p.filesz) {
            return Err(CreateError::Elf(format!(
                "program header {i} at {:#x} (filesz {:#x}) reaches past the end of the address space",
                p.vaddr, p.filesz
            )));
        }
    }
    for (i, sh) in info.shdrs.iter().enumerate() {
        if sh.sh_type == SHT_NOBITS && sh.addr != 0 && !fits(sh.addr, sh.size) {
            return Err(CreateError::Elf(format!(
                "NOBITS section {i} at {:#x} (size {:#x}) reaches past the end of the address space",
                sh.addr, sh.size
            )));
        }
    }
    Ok(())
}

impl Enclave {
    /// Builds a normal enclave (driver block + loader, then the monitor's mappings).
    pub fn build(elf_bytes: &[u8], info: &ElfInfo, p: &CreateParams, pages: u64) -> Result<Enclave, CreateError> {
        Self::build_with_shm(elf_bytes, info, p, pages, p.shm.as_deref())
    }

    /// [`Enclave::build`] with the host shm contents borrowed (`p.shm` is not looked at), so a
    /// large shm is not copied on its way in.
    pub fn build_with_shm(
        elf_bytes: &[u8],
        info: &ElfInfo,
        p: &CreateParams,
        pages: u64,
        shm: Option<&[u8]>,
    ) -> Result<Enclave, CreateError> {
        let stack = p.stack_size;
        let block_pa = BLOCK_PA;
        let block_end = block_pa + pages * PAGE;
        let mut bus = Bus::default();
        bus.add_ram(block_pa, block_end);
        let root = block_pa + PAGE;
        let mut next = block_pa + 3 * PAGE;
        let mut warnings = Vec::new();
        let full = || CreateError::Elf("the enclave block is too small for the image's page tables".into());

        // "Allocate VA v": the data page first, then missing tables; the leaf is overwritten.
        let alloc_va = |bus: &mut Bus, next: &mut u64, v: u64, flags: u64, warnings: &mut Vec<String>| -> Option<u64> {
            let take = |next: &mut u64| -> Option<u64> {
                let pa = *next;
                *next += PAGE;
                (pa < block_end).then_some(pa)
            };
            let data = take(next)?;
            let slot = pt::walk_create(bus, root, v, &mut |_| take(next))?;
            if bus.read_u64(slot)? & 1 != 0 {
                warnings.push(format!("page {:#x} is mapped twice; the later mapping wins", v & !(PAGE - 1)));
            }
            bus.write_u64(slot, pt::pte(data, flags)).then_some(data)
        };

        // 1. Stack.
        if stack > 0 {
            let mut v = STACK_BASE - stack;
            while v < STACK_BASE {
                alloc_va(&mut bus, &mut next, v, PTE_DATA, &mut warnings).ok_or_else(full)?;
                v += PAGE;
            }
        }
        // 3. NOBITS sections.
        for s in info.shdrs.iter().filter(|s| s.addr != 0 && s.sh_type == SHT_NOBITS) {
            let end = s.addr.saturating_add(s.size);
            let mut v = s.addr;
            let mut last = None;
            while v < end {
                alloc_va(&mut bus, &mut next, v, PTE_IMAGE_RWX, &mut warnings).ok_or_else(full)?;
                last = Some(v & !(PAGE - 1));
                v += PAGE;
            }
            if let Some(last) = last {
                if (end - 1) & !(PAGE - 1) > last {
                    warnings.push(format!(
                        "NOBITS section at {:#x} (size {:#x}): its last page {:#x} is not mapped (Penglai loader quirk)",
                        s.addr,
                        s.size,
                        (end - 1) & !(PAGE - 1)
                    ));
                }
            }
        }
        // 4. Every program header, whatever its type.
        for ph in &info.phdrs {
            let flags = if ph.flags & PF_W != 0 { PTE_IMAGE_RWX } else { PTE_IMAGE_RX };
            let end = ph.vaddr.saturating_add(ph.filesz);
            let mut v = ph.vaddr;
            while v < end {
                let data = alloc_va(&mut bus, &mut next, v, flags, &mut warnings).ok_or_else(full)?;
                let n = if v + PAGE >= end {
                    match ph.filesz % PAGE {
                        0 => PAGE,
                        r => r,
                    }
                } else {
                    PAGE
                };
                let past = || CreateError::Elf(format!("program header at {:#x} reads past the end of the file", ph.vaddr));
                let off = ph.offset.checked_add(v - ph.vaddr).ok_or_else(past)?;
                let src = usize::try_from(off).ok().and_then(|o| elf_bytes.get(o..o.checked_add(n as usize)?)).ok_or_else(past)?;
                bus.write(data, src);
                v += PAGE;
            }
        }
        // One more page: `free_mem`; the rest of the block is the monitor's free list.
        let free_mem = next;
        if free_mem >= block_end {
            return Err(full());
        }
        let mut hart = Box::<Hart>::default();
        hart.prv = Priv::U;
        hart.host_traps = true;
        let mut e = Enclave {
            hart,
            bus,
            entry: info.entry,
            root,
            block_pa,
            block_pages: pages,
            free_pages: free_mem..block_end,
            host_pa: HOST_PA,
            kbuffer_pa: 0,
            shm: None,
            relay: Vec::new(),
            mmaps: Vec::new(),
            heap: Vec::new(),
            heap_top: HEAP_BASE,
            rng: SplitMix(0),
            secure_bytes: pages * PAGE,
            persistency: p.persistency.clone(),
            user_ocalls: Vec::new(),
            pending: Pending::None,
            measurement: [0; 32],
            warnings,
        };
        // A shadow template (§5.1) gets no kbuffer and no shm: only its image is measured.
        if p.kind == SHADOW_ENCLAVE {
            e.measurement = super::measure::measure(&e.bus, e.root, e.entry, 0);
            return Ok(e);
        }
        // Monitor: kbuffer (stays host memory), then host shm. A server has no print buffer
        // of its own (it uses its caller's during calls, ipc.rs) and is measured without one.
        if p.kind != SERVER_ENCLAVE {
            let kb = e.try_host_alloc(KBUFFER_SIZE).ok_or_else(full)?;
            e.kbuffer_pa = kb;
            if !e.map(KBUFFER, kb, 1, PTE_DATA) {
                return Err(full());
            }
        }
        if let Some(shm) = shm {
            e.map_shm(shm)?;
        }
        let satp = (8u64 << 60) | (root >> 12);
        let _ = e.hart.csr_write(SATP, satp);
        e.hart.pc = info.entry;
        e.measurement = super::measure::measure(&e.bus, e.root, e.entry, 0);
        Ok(e)
    }

    /// Host shm (§1.5 step 10): mapped at `SHM_BASE` if its size is a non-zero multiple of a
    /// page, else the enclave has no shm. Every limit is checked before anything is allocated;
    /// only pages holding a non-zero byte get frames (the rest read as zero).
    pub fn map_shm(&mut self, data: &[u8]) -> Result<(), CreateError> {
        let size = data.len() as u64;
        if size == 0 || size % PAGE != 0 {
            return Ok(());
        }
        if size > SHM_LIMIT {
            return Err(CreateError::Limit(format!(
                "shm of {size:#x} bytes does not fit the enclave's address space ({SHM_LIMIT:#x} bytes from {SHM_BASE:#x})"
            )));
        }
        let need = pt::tables_needed(&mut self.bus, self.root, SHM_BASE, size / PAGE);
        let free = self.free_table_pages();
        if need > free {
            return Err(CreateError::Limit(format!(
                "shm of {size:#x} bytes needs {need} page-table pages; the enclave block has {free} free \
                 (the driver sizes the block from the ELF and the stack only)"
            )));
        }
        let pa = self.try_host_alloc(size).ok_or_else(|| CreateError::Limit(format!("no host memory for a shm of {size:#x} bytes")))?;
        self.write_nonzero_pages(pa, data);
        let mapped = self.map(SHM_BASE, pa, size / PAGE, PTE_DATA);
        debug_assert!(mapped, "tables were counted");
        self.shm = Some((pa, size));
        Ok(())
    }

    /// Page-table pages left in the monitor's free list.
    pub fn free_table_pages(&self) -> u64 {
        (self.free_pages.end.saturating_sub(self.free_pages.start)) / PAGE
    }

    /// Copies `data` to fresh host memory at `pa`, skipping all-zero pages (absent frames read
    /// as zero, so they cost nothing until written).
    fn write_nonzero_pages(&mut self, pa: u64, data: &[u8]) {
        for (i, page) in data.chunks(PAGE as usize).enumerate() {
            if page.iter().any(|&b| b != 0) {
                self.bus.write(pa + i as u64 * PAGE, page);
            }
        }
    }

    /// [`Enclave::try_host_alloc`] for sizes already bounded by real memory (the contents of a
    /// buffer the host holds): the 2^48-byte physical space cannot run out for those.
    pub fn host_alloc(&mut self, size: u64) -> u64 {
        self.try_host_alloc(size).expect("host allocations are bounded by the caller")
    }

    /// Host memory (kbuffer, shm, relay, mmap/heap blocks): `size` bytes, naturally aligned
    /// (buddy allocator), first fit from `host_pa` so memory given back is used again. `None`
    /// when the physical space is full.
    pub fn try_host_alloc(&mut self, size: u64) -> Option<u64> {
        let align = size.checked_next_power_of_two()?.max(PAGE);
        let up = |a: u64| a.checked_add(align - 1).map(|x| x & !(align - 1));
        let mut pa = up(self.host_pa)?;
        for &(s, e) in self.bus.ram_regions() {
            if e <= pa {
                continue;
            }
            if s >= pa.checked_add(size)? {
                break;
            }
            pa = up(e)?;
        }
        if pa.checked_add(size)? > HOST_PA_END {
            return None;
        }
        self.bus.add_ram(pa, pa + size);
        Some(pa)
    }

    /// Returns host memory: its frames are dropped and nothing may point at them.
    pub fn host_free(&mut self, pa: u64, size: u64) {
        self.bus.remove_ram(pa, pa + size);
        self.hart.host_unmapped(pa, pa + size);
    }

    /// Takes a zeroed page-table page from the monitor's free list.
    fn table_page(free: &mut std::ops::Range<u64>, bus: &mut Bus) -> Option<u64> {
        let pa = free.start;
        if pa >= free.end {
            return None;
        }
        free.start += PAGE;
        bus.write(pa, &[0u8; PAGE as usize]).then_some(pa)
    }

    /// Maps with page tables from the monitor's free list; keeps the hart's TLB coherent.
    pub fn map(&mut self, va: u64, pa: u64, pages: u64, flags: u64) -> bool {
        let free = &mut self.free_pages;
        let ok = pt::map_range(&mut self.bus, self.root, va, pa, pages, flags, &mut |bus| Self::table_page(free, bus));
        self.hart.host_unmapped(0, 0);
        ok
    }

    pub fn unmap(&mut self, va: u64, pages: u64) {
        pt::unmap_range(&mut self.bus, self.root, va, pages);
        self.hart.host_unmapped(0, 0);
    }

    pub fn translate(&mut self, va: u64) -> Option<u64> {
        pt::translate(&mut self.bus, self.root, va)
    }

    /// The pieces `(pa, offset, len)` of `[va, va + len)`, page by page, or `None` if a page is
    /// unmapped or the range runs past 2^64 (it does not wrap to address 0). The walk stops at
    /// the first unmapped page, so its cost is bounded by what the enclave has mapped, whatever
    /// `len` is.
    fn pieces(&mut self, va: u64, len: usize) -> Option<Vec<(u64, usize, usize)>> {
        va.checked_add(len as u64)?;
        let mut pieces = Vec::new();
        let mut done = 0usize;
        while done < len {
            let v = va + done as u64;
            let n = ((PAGE - (v & (PAGE - 1))) as usize).min(len - done);
            pieces.push((self.translate(v)?, done, n));
            done += n;
        }
        Some(pieces)
    }

    /// Copies `data` to enclave VA `va`, translating page by page; nothing is written if any
    /// page is unmapped (B37 fix).
    pub fn write_va(&mut self, va: u64, data: &[u8]) -> bool {
        let Some(pieces) = self.pieces(va, data.len()) else { return false };
        for (pa, off, n) in pieces {
            self.hart.host_write(&mut self.bus, pa, &data[off..off + n]);
        }
        true
    }

    /// Whether every byte of `[va, va + len)` is mapped (checked before a reader allocates).
    pub fn va_mapped(&mut self, va: u64, len: usize) -> bool {
        self.pieces(va, len).is_some()
    }

    /// Fills `out` from enclave VA `va`; false (and `out` unspecified) if any page is unmapped.
    pub fn read_va_into(&mut self, va: u64, out: &mut [u8]) -> bool {
        let Some(pieces) = self.pieces(va, out.len()) else { return false };
        pieces.into_iter().all(|(pa, off, n)| self.bus.read(pa, &mut out[off..off + n]))
    }

    /// Reads enclave VA `va` page by page; `None` if any page is unmapped. Nothing is allocated
    /// for the result before the whole range is known to be mapped.
    pub fn read_va(&mut self, va: u64, len: usize) -> Option<Vec<u8>> {
        if !self.va_mapped(va, len) {
            return None;
        }
        let mut out = vec![0u8; len];
        self.read_va_into(va, &mut out).then_some(out)
    }

    /// Host shm contents (what the host sees through its mapping).
    pub fn shm_bytes(&mut self) -> Option<Vec<u8>> {
        let (pa, size) = self.shm?;
        let mut b = vec![0u8; size as usize];
        self.bus.read(pa, &mut b);
        Some(b)
    }

    /// The host wrote its shm: copy the new contents in (only the first `size` bytes count).
    pub fn set_shm_bytes(&mut self, data: &[u8]) {
        if let Some((pa, size)) = self.shm {
            let n = (size as usize).min(data.len());
            self.hart.host_write(&mut self.bus, pa, &data[..n]);
        }
    }

    /// Maps a relay region the host hands over at run (after the ones already held). Every
    /// limit is checked before anything is allocated; `Err` says which.
    pub fn map_relay(&mut self, data: &[u8]) -> Result<(), String> {
        let size = (data.len() as u64).div_ceil(PAGE) * PAGE;
        if size == 0 {
            return Err("the relay region is empty".into());
        }
        if self.relay.len() >= RELAY_PAGE_NUM {
            return Err(format!("the enclave already holds {RELAY_PAGE_NUM} relay regions"));
        }
        let held = self.relay_bytes();
        if size > RELAY_POOL - held {
            return Err(format!(
                "relay region of {size:#x} bytes exceeds the relay pool ({RELAY_POOL:#x} bytes, {held:#x} held)"
            ));
        }
        let va = MM_ARG_BASE + held;
        let need = pt::tables_needed(&mut self.bus, self.root, va, size / PAGE);
        if need > self.free_table_pages() {
            return Err(format!("relay region of {size:#x} bytes: no free page-table pages left to map it"));
        }
        let pa = self.try_host_alloc(size).ok_or_else(|| format!("no host memory for a relay region of {size:#x} bytes"))?;
        self.write_nonzero_pages(pa, data);
        let mapped = self.map(va, pa, size / PAGE, PTE_DATA);
        debug_assert!(mapped, "tables were counted");
        self.relay.push(Region { va, pa, pages: size / PAGE, mapped: size / PAGE });
        Ok(())
    }

    /// Unmaps every relay region and hands their contents back (region order).
    pub fn take_relay(&mut self) -> Vec<Vec<u8>> {
        let regions = std::mem::take(&mut self.relay);
        let mut out = Vec::new();
        for r in regions {
            self.unmap(r.va, r.mapped);
            let mut b = vec![0u8; (r.mapped * PAGE) as usize];
            self.bus.read(r.pa, &mut b);
            self.host_free(r.pa, r.pages * PAGE);
            out.push(b);
        }
        out
    }

    pub fn relay_bytes(&self) -> u64 {
        self.relay.iter().map(|r| r.mapped * PAGE).sum()
    }

    /// Entry registers of §2.1 (everything else zero).
    pub fn set_entry_registers(&mut self, run_counter: u64) {
        self.hart.x = [0; 32];
        self.hart.pc = self.entry;
        self.hart.x[2] = STACK_BASE;
        if let Some((_, size)) = self.shm {
            self.hart.x[10] = SHM_BASE;
            self.hart.x[11] = size;
        }
        self.hart.x[12] = run_counter;
        if !self.relay.is_empty() {
            self.hart.x[13] = MM_ARG_BASE;
            self.hart.x[14] = self.relay_bytes();
        }
    }
}

/// Parses and checks an ELF for the loader.
pub fn parse(elf_bytes: &[u8]) -> Result<ElfInfo, CreateError> {
    let info = elf::parse(elf_bytes).map_err(CreateError::Elf)?;
    check_elf(&info)?;
    Ok(info)
}
