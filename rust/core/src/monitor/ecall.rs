//! Enclave -> monitor calls (§3.1–§3.5): the ecall dispatcher and the OCALLs the SDK driver
//! services. Everything here runs on the enclave's own thread, between two hart slices.
use super::consts::{fid, ocall, *};
use super::enclave::{Enclave, Pending, Region};
use super::pt;
use super::rng::{lcg_fill, os_fill, RngMode};
use super::run::{Host, RunExit};
use super::Monitor;
use std::io::{Read, Seek, SeekFrom, Write};

/// What the run loop does after an ecall.
pub enum Step {
    /// Back into the enclave (`pc` already advanced).
    Continue,
    /// The run ends here.
    Leave(RunExit),
}

pub struct Ctx<'a> {
    pub monitor: &'a Monitor,
    pub eid: u32,
    pub host: &'a mut dyn Host,
}

const MINUS_ONE: u64 = u64::MAX;

/// Pages of the block the driver allocates for a request of `n` bytes (+1 metadata page):
/// `2^ceil(log2((n + 4096) / 4096))`. Unaligned sizes are rounded up (B15 decision). `None`
/// when the block's byte size would not fit in 64 bits (no pool holds it anyway).
fn block_pages_for(n: u64) -> Option<u64> {
    let pages = (n.div_ceil(PAGE) + 1).checked_next_power_of_two()?;
    pages.checked_mul(PAGE)?;
    Some(pages)
}

/// Services the ecall at `hart.pc`.
pub fn ecall(e: &mut Enclave, cx: &mut Ctx<'_>) -> Step {
    let x = e.hart.x;
    let (a0, a1, a2, a3, a6, a7) = (x[10], x[11], x[12], x[13], x[16], x[17]);
    let done = |e: &mut Enclave| {
        e.hart.pc = e.hart.pc.wrapping_add(4);
        e.hart.retired += 1;
    };
    if a6 != SBI_EXT_PENGLAI_ENCLAVE {
        if a7 == LINUX_IOCTL {
            e.hart.x[10] = 0;
            done(e);
            return Step::Continue;
        }
        return Step::Leave(RunExit::Fault { cause: 8, tval: 0, pc: e.hart.pc, ecall: Some((a6, a7)) });
    }
    let result: u64 = match a7 {
        fid::EXIT => {
            done(e);
            return Step::Leave(RunExit::Exited { retval: a0 });
        }
        fid::OCALL => return ocall_dispatch(e, cx, a0, a1, a2, a3),
        fid::GET_ENCLAVE_ID => cx.eid as u64,
        // B2 fix: the caller's eid while in a server call, -1 otherwise (servers: not yet).
        fid::GET_CALLER_ID => {
            if cx.monitor.config.caller_id_compat { 0 } else { MINUS_ONE }
        }
        // The run ends with the enclave RUNNABLE; a continuation goes on after the ecall with
        // a0 unchanged (run.rs `RunExit::Yield`).
        fid::YIELD => {
            done(e);
            return Step::Leave(RunExit::Yield);
        }
        fid::GET_REPORT => super::attest::get_report(e, cx.monitor, a0, a1, a2),
        fid::GET_KEY => super::attest::get_key(e, a0, a1, a2),
        fid::ACQUIRE => super::ipc::acquire(e, cx.monitor, a0),
        // call_enclave is taken by the run loop (ipc.rs) before it gets here; SERVER_RETURN
        // from an enclave that is not a callee is -1.
        fid::CALL | fid::RETURN => MINUS_ONE,
        fid::ASYN_CALL => super::relay_names::asyn_call(e, cx.monitor, a0, a1),
        fid::SPLIT_MEM_REGION => split_mem_region(e, a0, a1, a2),
        // Secure shm (secure_shm.rs).
        fid::SHM_ATTACH => cx.monitor.shm_attach(e, cx.eid, a0),
        fid::SHM_STAT => cx.monitor.shm_stat(e, a0, a1),
        _ => return Step::Leave(RunExit::Fault { cause: 8, tval: 0, pc: e.hart.pc, ecall: Some((a6, a7)) }),
    };
    e.hart.x[10] = result;
    done(e);
    Step::Continue
}

fn split_mem_region(e: &mut Enclave, addr: u64, size: u64, split: u64) -> u64 {
    let Some(end) = addr.checked_add(size) else { return MINUS_ONE };
    if split < addr || split > end || split % PAGE != 0 || e.relay.len() >= RELAY_PAGE_NUM {
        return MINUS_ONE;
    }
    let Some(i) = e.relay.iter().position(|r| r.va == addr && r.mapped * PAGE == size) else { return MINUS_ONE };
    let r = e.relay[i];
    let first = (split - addr) / PAGE;
    e.relay[i] = Region { va: r.va, pa: r.pa, pages: first, mapped: first };
    e.relay.push(Region { va: split, pa: r.pa + first * PAGE, pages: r.pages - first, mapped: r.mapped - first });
    0
}

fn ocall_dispatch(e: &mut Enclave, cx: &mut Ctx<'_>, id: u64, a1: u64, a2: u64, a3: u64) -> Step {
    let r = match id {
        ocall::MMAP => mmap(e, cx.monitor, a1, a2),
        ocall::UNMAP => unmap(e, cx.monitor, a1, a2),
        ocall::SYS_WRITE => {
            let kb = e.kbuffer_pa;
            e.hart.host_write(&mut e.bus, kb + PRINT_LIMIT as u64, &[0]);
            let mut buf = [0u8; PRINT_LIMIT];
            e.bus.read(kb, &mut buf);
            let n = buf.iter().position(|&b| b == 0).unwrap_or(PRINT_LIMIT);
            if !cx.host.output(&buf[..n]) {
                return Step::Leave(RunExit::Aborted);
            }
            id // B12: a0 keeps the id (3).
        }
        ocall::SBRK => sbrk(e, cx.monitor, a1 as i64),
        ocall::READ_SECT | ocall::WRITE_SECT => sector(e, id == ocall::WRITE_SECT, a1),
        ocall::RETURN_RELAY_PAGE => {
            e.pending = Pending::Relay;
            e.hart.pc = e.hart.pc.wrapping_add(4);
            e.hart.retired += 1;
            return Step::Leave(RunExit::Relay);
        }
        ocall::GETRANDOM => getrandom(e, cx.monitor, a1, a2),
        // Secure shm (secure_shm.rs), served without leaving the enclave (B29 fix). EXTEND is
        // a monitor-to-host request, never one an enclave makes.
        ocall::SHM_GET => cx.monitor.shm_get(e, cx.eid, a1, a2),
        ocall::SHM_DETACH => cx.monitor.shm_detach(e, cx.eid, a1),
        ocall::SHM_DESTROY => cx.monitor.shm_destroy(a1),
        ocall::SHM_EXTEND_MEMORY => MINUS_ONE,
        other if e.user_ocalls.contains(&other) => {
            e.pending = Pending::User;
            e.hart.pc = e.hart.pc.wrapping_add(4);
            e.hart.retired += 1;
            return Step::Leave(RunExit::Ocall { id: other, args: [a1, a2, a3] });
        }
        _ => MINUS_ONE,
    };
    e.hart.x[10] = r;
    e.hart.pc = e.hart.pc.wrapping_add(4);
    e.hart.retired += 1;
    Step::Continue
}

/// A secured block of `pages` pages mapped (minus its metadata page) at `va` (the caller
/// checked that the mapped range lies in its area). Everything that can fail is checked
/// before anything changes: the pool, the page tables the mapping needs from the monitor's
/// free list, host memory. So a request costs time in proportion to what it is granted, and a
/// refused one costs almost nothing.
fn new_block(e: &mut Enclave, m: &Monitor, va: u64, pages: u64) -> Option<Region> {
    let bytes = pages.checked_mul(PAGE)?;
    if bytes > m.config.secure_memory || !m.reserve(bytes) {
        return None;
    }
    let granted = (|| {
        if pt::tables_needed(&mut e.bus, e.root, va, pages - 1) > e.free_table_pages() {
            return None;
        }
        let pa = e.try_host_alloc(bytes)?;
        let mapped = e.map(va, pa + PAGE, pages - 1, PTE_DATA);
        debug_assert!(mapped, "tables were counted");
        Some(pa)
    })();
    let Some(pa) = granted else {
        m.release(bytes);
        return None;
    };
    e.secure_bytes += bytes;
    Some(Region { va, pa, pages, mapped: pages - 1 })
}

/// Unmaps, scrubs and returns a block to the host.
pub fn free_block(e: &mut Enclave, m: &Monitor, r: Region) {
    e.unmap(r.va, r.mapped);
    e.host_free(r.pa, r.pages * PAGE);
    e.secure_bytes -= r.pages * PAGE;
    m.release(r.pages * PAGE);
}

fn overlaps(list: &[Region], va: u64, end: u64) -> bool {
    list.iter().any(|r| va < r.end() && r.va < end)
}

/// `OCALL_MMAP`: the region's VA, or 0.
fn mmap(e: &mut Enclave, m: &Monitor, hint: u64, size: u64) -> u64 {
    if hint != 0 && (hint % PAGE != 0 || size < PAGE || size % PAGE != 0) {
        return 0;
    }
    let Some(pages) = block_pages_for(size) else { return 0 };
    let mapped = (pages - 1) * PAGE;
    let lowest = e.mmaps.iter().map(|r| r.va).min().unwrap_or(MMAP_BASE);
    let want = if hint != 0 { Some(hint) } else { MMAP_BASE.checked_sub(mapped) };
    let fits = |va: u64| matches!(va.checked_add(mapped), Some(end) if end <= MMAP_BASE && !overlaps(&e.mmaps, va, end));
    // Below the lowest region it must stay above the heap (Penglai does not check: its
    // mapping would overwrite heap leaves).
    let va = match want.filter(|&w| fits(w)) {
        Some(w) => w,
        None => match lowest.checked_sub(mapped) {
            Some(va) if va >= e.heap_top => va,
            _ => return 0,
        },
    };
    match new_block(e, m, va, pages) {
        Some(r) => {
            e.mmaps.push(r);
            va
        }
        None => 0,
    }
}

fn unmap(e: &mut Enclave, m: &Monitor, va: u64, size: u64) -> u64 {
    let Some(end) = va.checked_add(size) else { return MINUS_ONE };
    let Some(i) = e.mmaps.iter().position(|r| r.va <= va && end <= r.end()) else { return MINUS_ONE };
    let r = e.mmaps.remove(i);
    free_block(e, m, r); // B16: the whole region, whatever the range.
    0
}

fn sbrk(e: &mut Enclave, m: &Monitor, inc: i64) -> u64 {
    if inc.unsigned_abs() % PAGE != 0 {
        return MINUS_ONE;
    }
    if inc > 0 {
        let Some(pages) = block_pages_for(inc as u64) else { return MINUS_ONE };
        let top = e.heap_top;
        let mapped = (pages - 1) * PAGE;
        let limit = e.mmaps.iter().map(|r| r.va).min().unwrap_or(MMAP_BASE);
        if !matches!(top.checked_add(mapped), Some(end) if end <= limit) {
            return MINUS_ONE;
        }
        match new_block(e, m, top, pages) {
            Some(r) => {
                e.heap.push(r);
                e.heap_top = top + mapped;
            }
            None => return MINUS_ONE,
        }
    } else if inc < 0 {
        let floor = e.heap_top.saturating_sub(inc.unsigned_abs());
        while let Some(r) = e.heap.last().copied() {
            if r.va < floor {
                break;
            }
            e.heap.pop();
            free_block(e, m, r);
        }
        e.heap_top = e.heap.last().map_or(HEAP_BASE, |r| r.end());
    }
    e.heap_top
}

/// `OCALL_GETRANDOM`: `len`, or -1 (nothing written) when the buffer is not all mapped.
fn getrandom(e: &mut Enclave, m: &Monitor, va: u64, len: u64) -> u64 {
    if len > 1 << 24 || !e.va_mapped(va, len as usize) {
        return MINUS_ONE;
    }
    let mut buf = vec![0u8; len as usize];
    match m.config.rng {
        RngMode::Seeded => e.rng.fill(&mut buf),
        RngMode::PenglaiLcg => m.with_lcg(|seed| lcg_fill(seed, &mut buf)),
        RngMode::Os => {
            if !os_fill(&mut buf) {
                return MINUS_ONE;
            }
        }
    }
    if e.write_va(va, &buf) { len } else { MINUS_ONE }
}

/// `OCALL_READ_SECT` / `OCALL_WRITE_SECT`: 4096 bytes between the persistency file and the shm.
fn sector(e: &mut Enclave, write: bool, sector: u64) -> u64 {
    let (Some(path), Some((pa, size))) = (e.persistency.clone(), e.shm) else { return MINUS_ONE };
    if size < PAGE {
        return MINUS_ONE;
    }
    if sector >= MAX_SECTORS {
        return MINUS_ONE;
    }
    let off = sector * PAGE;
    let mut io = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        if f.metadata()?.len() == 0 {
            f.set_len(4 << 20)?;
        }
        let mut page = vec![0u8; PAGE as usize];
        if write {
            e.bus.read(pa, &mut page);
            f.seek(SeekFrom::Start(off))?;
            f.write_all(&page)?;
        } else {
            let len = f.metadata()?.len();
            if off + PAGE > len {
                f.set_len(off + PAGE)?; // past the end: zero-fill and extend
            }
            f.seek(SeekFrom::Start(off))?;
            f.read_exact(&mut page)?;
            e.hart.host_write(&mut e.bus, pa, &page);
        }
        Ok(())
    };
    if io().is_ok() { 0 } else { MINUS_ONE }
}
