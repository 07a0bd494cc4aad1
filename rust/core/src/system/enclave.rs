//! The enclave fids of the Penglai host extension: create (99), attest (98), run (97), stop
//! (96), resume (95), destroy (94). The S-mode host builds the enclave's block in its own RAM
//! as Penglai's driver does and passes `enclave_create_param` by physical address; the
//! monitor checks it, makes the block secure (host leaves cleared) and hands it to the same
//! monitor code `pltvm.Device` uses (`Monitor::adopt_block`, `Monitor::run`).
//!
//! Runs: the enclave executes inside the host's RUN/RESUME call. A print (OCALL_SYS_WRITE)
//! comes back to the host as result 2 with the mailbox's function id 3 and the text in the
//! host's kbuffer page; the host resumes with fid 95. The monitor's run loop services the print
//! at once and lets the enclave go on to the end of its slice (at most [`SLICE`] instructions)
//! before the host sees it, queueing texts in order: the enclave cannot tell, the host sees
//! every print, in order, one OCALL exit each. After [`BUDGET`] instructions a run returns 1
//! (the timer-interrupt exit) and the host resumes with reason 0.
use super::gpt::{ERR, PAGE};
use super::{mem, sbi::Call};
use crate::bus::Bus;
use crate::monitor::{Block, EnclaveCell, Entry, Host, RunExit, RunRequest, State};
use crate::mmu::sv39::{PTE_R, PTE_V, PTE_W, PTE_X};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

/// Instructions per monitor slice in the system machine (how far an enclave may run past a
/// print before its host sees it).
pub const SLICE: u64 = 1 << 14;
/// Instructions per RUN/RESUME call before the timer exit (result 1).
pub const BUDGET: u64 = 1 << 22;
pub const PARAM_SIZE: usize = 136;
pub const REPORT_SIZE: u64 = 328;

const ENCLAVE_SUCCESS: i64 = 0;
const ENCLAVE_TIMER_IRQ: i64 = 1;
const ENCLAVE_OCALL: i64 = 2;
const ENCLAVE_NO_MEM: i64 = -2;
const OCALL_SYS_WRITE: u64 = 3;
const RESUME_FROM_STOP: u64 = 1;

/// How a finished enclave's run ends once its queued prints are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Exited(u64),
    Fault,
    Destroyed,
}

/// What the monitor remembers of an enclave the host created.
pub struct HostEnclave {
    cell: Arc<EnclaveCell>,
    block: (u64, u64),
    kbuffer: u64,
    /// PAs of the driver's `ocall_func_id`, `ocall_arg0`, `ocall_arg1`, `ocall_syscall_num`.
    mailbox: [u64; 4],
    retval: u64,
    shm: Option<(u64, u64)>,
    prints: VecDeque<Vec<u8>>,
    end: Option<End>,
}

/// The monitor's enclaves, by monitor eid.
#[derive(Default)]
pub struct Enclaves {
    map: BTreeMap<u32, HostEnclave>,
}

/// Collects prints; asks the run to stop at the next slice boundary once it holds one.
struct Prints<'a>(&'a mut VecDeque<Vec<u8>>);

impl Host for Prints<'_> {
    fn output(&mut self, data: &[u8]) -> bool {
        self.0.push_back(data.to_vec());
        true
    }
    fn tick(&mut self) -> bool {
        self.0.is_empty()
    }
}

fn field(p: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(p[off..off + 8].try_into().unwrap())
}

/// §1.5 step 3, stricter: every valid entry reachable from `root` has R when it has W, and
/// every leaf's target range and every table pointer lie inside the block (Penglai follows
/// pointers unchecked, which would let the host edit the enclave's tables later). Each table
/// page is checked once per level, so a host cannot make the walk exponential.
fn layout_ok(bus: &mut Bus, root: u64, block: (u64, u64)) -> bool {
    let inside = |pa: u64, len: u64| pa >= block.0 && pa.checked_add(len).is_some_and(|e| e <= block.1);
    let mut seen = HashSet::new();
    let mut stack = vec![(root, 2u32)];
    while let Some((table, level)) = stack.pop() {
        if !seen.insert((table, level)) {
            continue;
        }
        let mut buf = [0u8; PAGE as usize];
        if !inside(table, PAGE) || !bus.read(table, &mut buf) {
            return false;
        }
        for c in buf.chunks_exact(8) {
            let pte = u64::from_le_bytes(c.try_into().unwrap());
            if pte & PTE_V == 0 {
                continue;
            }
            if pte & PTE_W != 0 && pte & PTE_R == 0 {
                return false;
            }
            let target = ((pte >> 10) & ((1 << 44) - 1)) << 12;
            if pte & (PTE_R | PTE_X) != 0 {
                if !inside(target, PAGE << (9 * level)) {
                    return false;
                }
            } else if level == 0 || !inside(target, PAGE) {
                return false;
            } else {
                stack.push((target, level - 1));
            }
        }
    }
    true
}

impl Enclaves {
    fn get(&mut self, eid: u64) -> Option<&mut HostEnclave> {
        u32::try_from(eid).ok().and_then(|e| self.map.get_mut(&e))
    }
}

/// fid 99.
pub fn create(c: &mut Call<'_>) -> i64 {
    let pa = c.a[0];
    let gpt = &c.sys.gpt;
    if !gpt.separated() || !gpt.host_readable(c.bus, pa, PARAM_SIZE as u64) {
        return ERR;
    }
    let mut p = [0u8; PARAM_SIZE];
    c.bus.read(pa, &mut p);
    let eid_ptr = field(&p, 0);
    let mut name = [0u8; 16];
    name.copy_from_slice(&p[8..24]);
    let kind = u32::from_le_bytes(p[24..28].try_into().unwrap());
    let (paddr, size, entry, free_mem) = (field(&p, 32), field(&p, 40), field(&p, 48), field(&p, 56));
    let (kbuffer, kbuffer_size, shm_pa, shm_size) = (field(&p, 64), field(&p, 72), field(&p, 80), field(&p, 88));
    let mailbox = [field(&p, 96), field(&p, 104), field(&p, 112), field(&p, 120)];
    let retval = field(&p, 128);
    if kind != 0 {
        return ERR;
    }
    let writable = |pa: u64, len: u64| gpt.host_writable(c.bus, pa, len) && pa % len.min(8) == 0;
    if !writable(eid_ptr, 4) || !mailbox.iter().all(|&m| writable(m, 8)) || !writable(retval, 8) {
        return ERR;
    }
    if kbuffer_size < PAGE || kbuffer % PAGE != 0 || kbuffer_size % PAGE != 0 || !writable(kbuffer, PAGE) {
        return ERR;
    }
    let shm = (shm_pa != 0 && shm_size != 0 && shm_pa % PAGE == 0 && shm_size % PAGE == 0).then_some((shm_pa, shm_size));
    if let Some((s, n)) = shm {
        // Bounded before the monitor copies it (the pool and the enclave's shm window).
        if n > c.sys.secure_memory || n > crate::monitor::consts::SHM_LIMIT || !gpt.host_writable(c.bus, s, n) {
            return ERR;
        }
    }
    if size < 4 * PAGE || !gpt.can_make_secure(c.bus, paddr, size) {
        return ERR;
    }
    let end = paddr + size;
    // Nothing the monitor writes for the host, nor the shm, may lie in the block it secures.
    let outside = |pa: u64, len: u64| pa.saturating_add(len) <= paddr || pa >= end;
    let host_words = [(eid_ptr, 4), (retval, 8), (kbuffer, PAGE)];
    if !host_words.iter().all(|&(pa, n)| outside(pa, n))
        || !mailbox.iter().all(|&pa| outside(pa, 8))
        || !shm.is_none_or(|(s, n)| outside(s, n))
    {
        return ERR;
    }
    if free_mem % PAGE != 0 || free_mem < paddr + 3 * PAGE || free_mem >= end {
        return ERR;
    }
    if !layout_ok(c.bus, paddr + PAGE, (paddr, end)) {
        return ERR;
    }
    // The enclave's own view of its block: the same physical addresses, the host's frames
    // copied (the block is secure from here on, so nobody else sees either copy).
    let mut bus = Bus::default();
    bus.add_ram(paddr, end);
    for ppn in c.bus.mem.present_in(paddr / PAGE, end / PAGE) {
        if let Some(f) = c.bus.mem.get(ppn) {
            bus.write(ppn * PAGE, &f[..]);
        }
    }
    let shm_bytes = shm.map(|(s, n)| {
        let mut v = vec![0u8; n as usize];
        c.bus.read(s, &mut v);
        v
    });
    let block = Block { name, bus, block_pa: paddr, pages: size / PAGE, entry, free_mem, shm: shm_bytes.as_deref() };
    let cell = match c.sys.monitor.adopt_block(block) {
        Ok(cell) => cell,
        Err(crate::monitor::Error::NoMemory { .. }) => return ENCLAVE_NO_MEM,
        Err(_) => return ERR,
    };
    c.sys.gpt.make_secure(c.hart, c.bus, paddr, size);
    mem::write(c.hart, c.bus, eid_ptr, &cell.eid.to_le_bytes());
    let rec = HostEnclave { cell, block: (paddr, size), kbuffer, mailbox, retval, shm, prints: VecDeque::new(), end: None };
    c.sys.enclaves.map.insert(rec.cell.eid, rec);
    ENCLAVE_SUCCESS
}

/// Gives the block back: scrubbed, public again, host leaves valid again.
fn release(c: &mut Call<'_>, block: (u64, u64)) {
    mem::zero(c.hart, c.bus, block.0, block.1);
    c.sys.gpt.make_public(c.hart, c.bus, block.0, block.1);
}

/// Runs (or continues) the enclave, then reports the next thing the host must see.
fn run(c: &mut Call<'_>, eid: u64, entry: Option<Entry>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(eid) else { return ERR };
    if let Some(entry) = entry {
        if rec.cell.state() == State::Stopped {
            // Penglai: resuming a stopped enclave keeps the driver waiting.
            return ENCLAVE_TIMER_IRQ;
        }
        let shm = rec.shm.map(|(s, n)| {
            let mut v = vec![0u8; n as usize];
            c.bus.read(s, &mut v);
            v
        });
        let cell = Arc::clone(&rec.cell);
        let req = RunRequest { entry, shm, budget: Some(BUDGET) };
        let out = c.sys.monitor.run(&cell, req, &mut Prints(&mut rec.prints));
        if let (Some(data), Some((s, _))) = (&out.shm, rec.shm) {
            mem::write(c.hart, c.bus, s, data);
        }
        match out.exit {
            RunExit::Exited { retval } => rec.end = Some(End::Exited(retval)),
            RunExit::Destroyed => rec.end = Some(End::Destroyed),
            RunExit::Budget | RunExit::Interrupted => {}
            RunExit::Refused(_) => return ERR,
            // Faults, and what a host kernel cannot serve here (relay pages, host OCALLs).
            RunExit::Relay | RunExit::Ocall { .. } => {
                c.sys.monitor.destroy(&cell);
                rec.end = Some(End::Fault);
            }
            RunExit::Fault { .. } | RunExit::Aborted => rec.end = Some(End::Fault),
        }
    }
    report(c, eid)
}

/// The next exit the host sees: a queued print (2), the end of the run, or the timer (1).
fn report(c: &mut Call<'_>, eid: u64) -> i64 {
    let Some(rec) = c.sys.enclaves.get(eid) else { return ERR };
    if let Some(text) = rec.prints.pop_front() {
        let (kb, func, arg0, arg1) = (rec.kbuffer, rec.mailbox[0], rec.mailbox[1], rec.mailbox[2]);
        let n = text.len().min(511);
        let mut page = text[..n].to_vec();
        page.push(0);
        mem::write(c.hart, c.bus, kb, &page);
        mem::write_u64(c.hart, c.bus, func, OCALL_SYS_WRITE);
        mem::write_u64(c.hart, c.bus, arg0, 0);
        mem::write_u64(c.hart, c.bus, arg1, 0);
        return ENCLAVE_OCALL;
    }
    let Some(end) = rec.end else { return ENCLAVE_TIMER_IRQ };
    let (block, retval_pa) = (rec.block, rec.retval);
    c.sys.enclaves.map.remove(&(eid as u32));
    release(c, block);
    match end {
        End::Exited(v) => {
            mem::write_u64(c.hart, c.bus, retval_pa, v);
            ENCLAVE_SUCCESS
        }
        End::Destroyed => ENCLAVE_SUCCESS,
        End::Fault => ERR,
    }
}

/// fid 97: RUN(eid, PA of `{mm_arg_addr, mm_arg_size}`). Relay pages are not supported.
pub fn run_enclave(c: &mut Call<'_>) -> i64 {
    let (eid, arg) = (c.a[0], c.a[1]);
    if arg != 0 {
        if !c.sys.gpt.host_readable(c.bus, arg, 16) {
            return ERR;
        }
        let (a, n) = (c.bus.read_u64(arg).unwrap_or(1), c.bus.read_u64(arg + 8).unwrap_or(1));
        if a != 0 || n != 0 {
            return ERR;
        }
    }
    run(c, eid, Some(Entry::Start { relay: None }))
}

/// fid 95: RESUME(eid, reason, ...).
pub fn resume(c: &mut Call<'_>) -> i64 {
    let (eid, reason) = (c.a[0], c.a[1]);
    let Some(rec) = c.sys.enclaves.get(eid) else { return ERR };
    if reason == RESUME_FROM_STOP {
        let cell = Arc::clone(&rec.cell);
        return c.sys.monitor.resume(&cell) as i64;
    }
    if reason > 2 {
        return ERR;
    }
    if !rec.prints.is_empty() || rec.end.is_some() {
        return report(c, eid);
    }
    run(c, eid, Some(Entry::Continue))
}

/// fid 96.
pub fn stop(c: &mut Call<'_>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(c.a[0]) else { return ERR };
    let cell = Arc::clone(&rec.cell);
    c.sys.monitor.stop(&cell) as i64
}

/// fid 94.
pub fn destroy(c: &mut Call<'_>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(c.a[0]) else { return ERR };
    if rec.end.is_none() {
        let cell = Arc::clone(&rec.cell);
        if c.sys.monitor.destroy(&cell) != 0 {
            return ERR;
        }
    }
    rec.prints.clear();
    rec.end = Some(End::Destroyed);
    report(c, c.a[0])
}

/// fid 98: ATTEST(eid, PA of `report_t`, nonce).
pub fn attest(c: &mut Call<'_>) -> i64 {
    let (eid, pa, nonce) = (c.a[0], c.a[1], c.a[2]);
    if !c.sys.gpt.host_writable(c.bus, pa, REPORT_SIZE) {
        return ERR;
    }
    let Some(rec) = c.sys.enclaves.get(eid) else { return ERR };
    let cell = Arc::clone(&rec.cell);
    match c.sys.monitor.attest(&cell, nonce) {
        Ok(r) => {
            mem::write(c.hart, c.bus, pa, &r.to_bytes());
            0
        }
        Err(_) => ERR,
    }
}
