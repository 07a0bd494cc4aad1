//! The enclave fids of the Penglai host extension: create (99), attest (98), run (97), stop
//! (96), resume (95), destroy (94), and what the server (server.rs) and shadow (shadow.rs)
//! fids share with them: the create parameters, the run loop and the host's enclave records.
//! The S-mode host builds the enclave's block in its own RAM
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
//!
//! Relay pages (relay.rs): a run may hand the enclave a region of host RAM, which is secure
//! while the enclave holds it and comes back to the host, with the enclave's contents, when the
//! enclave returns it (OCALL_RETURN_RELAY_PAGE: result 2, mailbox id 7) or ends.
use super::gpt::{ERR, PAGE};
use super::{mem, relay, sbi::Call};
use crate::bus::Bus;
use crate::monitor::consts::SERVER_ENCLAVE;
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

pub const ENCLAVE_SUCCESS: i64 = 0;
const ENCLAVE_TIMER_IRQ: i64 = 1;
const ENCLAVE_OCALL: i64 = 2;
/// `EAPP_YIELD`: the enclave is RUNNABLE; RESUME (reason 0) continues it.
const ENCLAVE_YIELD: i64 = 3;
pub const ENCLAVE_NO_MEM: i64 = -2;
const OCALL_SYS_WRITE: u64 = 3;
const OCALL_RETURN_RELAY_PAGE: u64 = 7;
const RESUME_FROM_STOP: u64 = 1;
const RESUME_FROM_OCALL: u64 = 2;

/// How a finished enclave's run ends once its queued prints are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Exited(u64),
    Fault,
    Destroyed,
}

/// What the monitor remembers of an enclave the host created (normal, server or fork
/// instance).
pub struct HostEnclave {
    pub(super) cell: Arc<EnclaveCell>,
    /// The host RAM the enclave holds (a fork instance: the instance block the host gave).
    pub(super) block: (u64, u64),
    /// 0 for servers (they print through their top caller's).
    kbuffer: u64,
    /// PAs of the driver's `ocall_func_id`, `ocall_arg0`, `ocall_arg1`, `ocall_syscall_num`.
    mailbox: [u64; 4],
    retval: u64,
    shm: Option<(u64, u64)>,
    /// The host region the enclave holds as its relay pages (secure meanwhile).
    pub(super) relay: Option<(u64, u64)>,
    /// The enclave returned its relay pages (OCALL_RETURN_RELAY_PAGE): the host sees it after
    /// the queued prints, and only then gets the region back.
    relay_return: bool,
    /// The contents of relay region 0 the monitor handed back (a relay return, an exit or a
    /// fault), written into the host region when it is given back.
    relay_data: Option<Vec<u8>>,
    /// The relay return was reported: the next RESUME with reason 2 maps a region again.
    relay_wait: bool,
    /// The enclave yielded: the host sees 3 after the queued prints.
    yielded: bool,
    prints: VecDeque<Vec<u8>>,
    end: Option<End>,
}

impl HostEnclave {
    pub(super) fn new(cell: Arc<EnclaveCell>, block: (u64, u64), kbuffer: u64, mailbox: [u64; 4], retval: u64, shm: Option<(u64, u64)>) -> HostEnclave {
        HostEnclave { cell, block, kbuffer, mailbox, retval, shm, relay: None, relay_return: false, relay_data: None, relay_wait: false, yielded: false, prints: VecDeque::new(), end: None }
    }

    pub(super) fn is_server(&self) -> bool {
        self.cell.kind == SERVER_ENCLAVE
    }

    /// The host memory the monitor writes or copies for this enclave (kbuffer, mailbox,
    /// `retval`, shm): a relay region must not overlap it.
    pub(super) fn host_words(&self) -> Vec<(u64, u64)> {
        let mut v = vec![(self.kbuffer, PAGE), (self.retval, 8)];
        v.extend(self.mailbox.iter().map(|&m| (m, 8)));
        v.extend(self.shm);
        v.retain(|&(pa, _)| pa != 0);
        v
    }
}

/// The monitor's enclaves, by monitor eid, and its shadow templates, by shadow eid.
#[derive(Default)]
pub struct Enclaves {
    pub(super) map: BTreeMap<u32, HostEnclave>,
    /// Each template with the host block it was built in.
    pub(super) shadows: BTreeMap<u32, (Arc<EnclaveCell>, (u64, u64))>,
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
    pub(super) fn get(&mut self, eid: u64) -> Option<&mut HostEnclave> {
        u32::try_from(eid).ok().and_then(|e| self.map.get_mut(&e))
    }
}

/// `enclave_create_param` (136 bytes, §4.1) as the host wrote it; CREATE (99), CREATE_SERVER
/// (90) and CREATE_SHADOW (86) take it.
pub(super) struct CreateParam {
    pub eid_ptr: u64,
    pub name: [u8; 16],
    pub kind: u32,
    pub paddr: u64,
    pub size: u64,
    pub entry: u64,
    pub free_mem: u64,
    pub kbuffer: u64,
    pub kbuffer_size: u64,
    /// The host shm when its PA and size are both non-zero and page-aligned (§1.5 step 10).
    pub shm: Option<(u64, u64)>,
    pub mailbox: [u64; 4],
    pub retval: u64,
}

impl CreateParam {
    /// Reads it from public host RAM; None unless separation is done and all 136 bytes are
    /// host-readable.
    pub(super) fn read(c: &mut Call<'_>, pa: u64) -> Option<CreateParam> {
        if !c.sys.gpt.separated() || !c.sys.gpt.host_readable(c.bus, pa, PARAM_SIZE as u64) {
            return None;
        }
        let mut p = [0u8; PARAM_SIZE];
        c.bus.read(pa, &mut p);
        let mut name = [0u8; 16];
        name.copy_from_slice(&p[8..24]);
        Some(CreateParam {
            eid_ptr: field(&p, 0),
            name,
            kind: u32::from_le_bytes(p[24..28].try_into().unwrap()),
            paddr: field(&p, 32),
            size: field(&p, 40),
            entry: field(&p, 48),
            free_mem: field(&p, 56),
            kbuffer: field(&p, 64),
            kbuffer_size: field(&p, 72),
            shm: shm_of(field(&p, 80), field(&p, 88)),
            mailbox: [field(&p, 96), field(&p, 104), field(&p, 112), field(&p, 120)],
            retval: field(&p, 128),
        })
    }

    /// The block's end (checked by [`block_ok`] not to overflow).
    pub(super) fn end(&self) -> u64 {
        self.paddr.saturating_add(self.size)
    }
}

pub(super) fn shm_of(pa: u64, size: u64) -> Option<(u64, u64)> {
    (pa != 0 && size != 0 && pa.is_multiple_of(PAGE) && size.is_multiple_of(PAGE)).then_some((pa, size))
}

/// A word the monitor writes for the host: writable public host RAM, aligned to its size.
pub(super) fn host_word(c: &Call<'_>, pa: u64, len: u64) -> bool {
    c.sys.gpt.host_writable(c.bus, pa, len) && pa.is_multiple_of(len.min(8))
}

/// The mailbox words and `retval`.
pub(super) fn mailbox_ok(c: &Call<'_>, mailbox: &[u64; 4], retval: u64) -> bool {
    mailbox.iter().all(|&m| host_word(c, m, 8)) && host_word(c, retval, 8)
}

/// A kbuffer: page-aligned, at least a page, its first page writable host RAM.
pub(super) fn kbuffer_ok(c: &Call<'_>, kbuffer: u64, size: u64) -> bool {
    size >= PAGE && kbuffer.is_multiple_of(PAGE) && size.is_multiple_of(PAGE) && host_word(c, kbuffer, PAGE)
}

/// A host shm: bounded (the pool and the enclave's shm window) and writable host RAM.
pub(super) fn shm_ok(c: &Call<'_>, shm: Option<(u64, u64)>) -> bool {
    shm.is_none_or(|(s, n)| {
        n <= c.sys.secure_memory && n <= crate::monitor::consts::SHM_LIMIT && c.sys.gpt.host_writable(c.bus, s, n)
    })
}

/// Whether `[pa, pa + len)` lies outside `[block.0, block.0 + block.1)`.
pub(super) fn outside(block: (u64, u64), pa: u64, len: u64) -> bool {
    pa.saturating_add(len) <= block.0 || pa >= block.0.saturating_add(block.1)
}

/// The host-built block of a create: at least 4 pages that can become secure, `free_mem`
/// a page inside it after the three reserved pages, and a layout the enclave alone controls.
pub(super) fn block_ok(c: &mut Call<'_>, p: &CreateParam) -> bool {
    let end = p.end();
    p.size >= 4 * PAGE
        && c.sys.gpt.can_make_secure(c.bus, p.paddr, p.size)
        && p.free_mem.is_multiple_of(PAGE)
        && p.free_mem >= p.paddr + 3 * PAGE
        && p.free_mem < end
        && layout_ok(c.bus, p.paddr + PAGE, (p.paddr, end))
}

/// The enclave's own view of its block: the same physical addresses, the host's frames
/// copied (the block is secure from the create on, so nobody else sees either copy).
pub(super) fn block_bus(c: &Call<'_>, paddr: u64, end: u64) -> Bus {
    let mut bus = Bus::default();
    bus.add_ram(paddr, end);
    for ppn in c.bus.mem.present_in(paddr / PAGE, end / PAGE) {
        if let Some(f) = c.bus.mem.get(ppn) {
            bus.write(ppn * PAGE, &f[..]);
        }
    }
    bus
}

/// `n` bytes of host memory at `pa` (checked by the caller).
pub(super) fn read_host(bus: &mut Bus, pa: u64, n: u64) -> Vec<u8> {
    let mut v = vec![0u8; n as usize];
    bus.read(pa, &mut v);
    v
}

/// What the monitor's refusal of a create means for the host.
pub(super) fn create_error(e: crate::monitor::Error) -> i64 {
    match e {
        crate::monitor::Error::NoMemory { .. } => ENCLAVE_NO_MEM,
        _ => ERR,
    }
}

/// fid 99.
pub fn create(c: &mut Call<'_>) -> i64 {
    let Some(p) = CreateParam::read(c, c.a[0]) else { return ERR };
    if p.kind != 0 || !host_word(c, p.eid_ptr, 4) || !mailbox_ok(c, &p.mailbox, p.retval) {
        return ERR;
    }
    if !kbuffer_ok(c, p.kbuffer, p.kbuffer_size) || !shm_ok(c, p.shm) || !block_ok(c, &p) {
        return ERR;
    }
    // Nothing the monitor writes for the host, nor the shm, may lie in the block it secures.
    let block = (p.paddr, p.size);
    let host_words = [(p.eid_ptr, 4), (p.retval, 8), (p.kbuffer, PAGE)];
    if !host_words.iter().all(|&(pa, n)| outside(block, pa, n))
        || !p.mailbox.iter().all(|&pa| outside(block, pa, 8))
        || !p.shm.is_none_or(|(s, n)| outside(block, s, n))
    {
        return ERR;
    }
    let bus = block_bus(c, p.paddr, p.end());
    let shm_bytes = p.shm.map(|(s, n)| read_host(c.bus, s, n));
    let b = Block { name: p.name, bus, block_pa: p.paddr, pages: p.size / PAGE, entry: p.entry, free_mem: p.free_mem, shm: shm_bytes.as_deref() };
    let cell = match c.sys.monitor.adopt_block(b) {
        Ok(cell) => cell,
        Err(e) => return create_error(e),
    };
    c.sys.gpt.make_secure(c.hart, c.bus, p.paddr, p.size);
    mem::write(c.hart, c.bus, p.eid_ptr, &cell.eid.to_le_bytes());
    let rec = HostEnclave::new(cell, block, p.kbuffer, p.mailbox, p.retval, p.shm);
    c.sys.enclaves.map.insert(rec.cell.eid, rec);
    ENCLAVE_SUCCESS
}

/// Gives an ended enclave's memory back: the block scrubbed, public again, host leaves
/// valid again; a relay region it still held scrubbed and public.
fn release(c: &mut Call<'_>, rec: &HostEnclave) {
    mem::zero(c.hart, c.bus, rec.block.0, rec.block.1);
    c.sys.gpt.make_public(c.hart, c.bus, rec.block.0, rec.block.1);
    if let Some(r) = rec.relay {
        relay::give_back(&mut c.sys.gpt, c.hart, c.bus, r, rec.relay_data.as_ref());
    }
}

/// Enters the enclave through the monitor's run loop and records what the host must see
/// next. `Err` when the monitor refused the run (nothing changed).
pub(super) fn enter(c: &mut Call<'_>, eid: u64, entry: Entry) -> Result<(), ()> {
    let Some(rec) = c.sys.enclaves.map.get_mut(&(eid as u32)) else { return Err(()) };
    if rec.cell.state() == State::Stopped && matches!(entry, Entry::Continue) {
        // Penglai: resuming a stopped enclave keeps the driver waiting.
        return Ok(());
    }
    let shm = rec.shm.map(|(s, n)| read_host(c.bus, s, n));
    let cell = Arc::clone(&rec.cell);
    let req = RunRequest { entry, shm, budget: Some(BUDGET) };
    let out = c.sys.monitor.run(&cell, req, &mut Prints(&mut rec.prints));
    if let (Some(data), Some((s, _))) = (&out.shm, rec.shm) {
        mem::write(c.hart, c.bus, s, data);
    }
    let ended = match out.exit {
        RunExit::Exited { retval } => Some(End::Exited(retval)),
        RunExit::Destroyed => Some(End::Destroyed),
        RunExit::Budget | RunExit::Interrupted => None,
        RunExit::Yield => {
            rec.yielded = true;
            None
        }
        RunExit::Refused(_) => return Err(()),
        RunExit::Relay => {
            // OCALL_RETURN_RELAY_PAGE: reported (and region 0 given back with the enclave's
            // contents) after the queued prints.
            rec.relay_return = true;
            None
        }
        // What a host kernel cannot serve here (host OCALLs registered by a Python host).
        RunExit::Ocall { .. } => {
            c.sys.monitor.destroy(&cell);
            Some(End::Fault)
        }
        RunExit::Fault { .. } | RunExit::Aborted => Some(End::Fault),
    };
    if ended.is_some() || rec.relay_return {
        rec.relay_data = out.relay.into_iter().next();
    }
    rec.end = rec.end.or(ended);
    sweep_servers(c);
    Ok(())
}

/// Servers the monitor freed during a run (a fault inside a call ends the callee): their
/// blocks go back to the host.
fn sweep_servers(c: &mut Call<'_>) {
    let gone: Vec<u32> = c.sys.enclaves.map.iter().filter(|(_, r)| r.is_server() && r.cell.state() == State::Invalid).map(|(&e, _)| e).collect();
    for eid in gone {
        if let Some(rec) = c.sys.enclaves.map.remove(&eid) {
            release(c, &rec);
        }
    }
}

/// The next exit the host sees: a queued print (2, mailbox id 3), a relay return (2, mailbox
/// id 7), a yield (3), the end of the run, or the timer (1).
pub(super) fn report(c: &mut Call<'_>, eid: u64) -> i64 {
    let Some(rec) = c.sys.enclaves.get(eid) else { return ERR };
    let (func, arg0, arg1) = (rec.mailbox[0], rec.mailbox[1], rec.mailbox[2]);
    if let Some(text) = rec.prints.pop_front() {
        let kb = rec.kbuffer;
        let n = text.len().min(511);
        let mut page = text[..n].to_vec();
        page.push(0);
        mem::write(c.hart, c.bus, kb, &page);
        mailbox(c, [func, arg0, arg1], [OCALL_SYS_WRITE, 0, 0]);
        return ENCLAVE_OCALL;
    }
    if rec.relay_return {
        rec.relay_return = false;
        rec.relay_wait = true;
        let (region, data) = (rec.relay.take(), rec.relay_data.take());
        if let Some(r) = region {
            relay::give_back(&mut c.sys.gpt, c.hart, c.bus, r, data.as_ref());
        }
        let (pa, size) = region.unwrap_or((0, 0));
        mailbox(c, [func, arg0, arg1], [OCALL_RETURN_RELAY_PAGE, pa, size]);
        return ENCLAVE_OCALL;
    }
    if rec.yielded {
        rec.yielded = false;
        return ENCLAVE_YIELD;
    }
    let Some(end) = rec.end else { return ENCLAVE_TIMER_IRQ };
    let Some(rec) = c.sys.enclaves.map.remove(&(eid as u32)) else { return ERR };
    release(c, &rec);
    match end {
        End::Exited(v) => {
            mem::write_u64(c.hart, c.bus, rec.retval, v);
            ENCLAVE_SUCCESS
        }
        End::Destroyed => ENCLAVE_SUCCESS,
        End::Fault => ERR,
    }
}

fn mailbox(c: &mut Call<'_>, at: [u64; 3], v: [u64; 3]) {
    for (pa, v) in at.into_iter().zip(v) {
        mem::write_u64(c.hart, c.bus, pa, v);
    }
}

/// The relay argument of a run (RUN's `enclave_run_param`, RUN_SHADOW's `mm_arg` fields,
/// §9.4) as an entry: none (0, 0), the relay regions registered under the enclave's name
/// (address non-zero, size 0: the driver's magic 0xFFFF), or a host region, which is checked
/// and made secure here (`HostEnclave::relay`). None when refused.
pub(super) fn relay_entry(c: &mut Call<'_>, eid: u64, addr: u64, size: u64) -> Option<Entry> {
    match (addr, size) {
        (0, 0) => Some(Entry::Start { relay: None }),
        (0, _) => None,
        (_, 0) => Some(Entry::StartInherit),
        _ => relay::take(c, eid, addr, size).map(|data| Entry::Start { relay: Some(data) }),
    }
}

/// Undoes [`relay_entry`] after the monitor refused the run: the host region is public
/// again, its contents untouched (the enclave never saw them).
pub(super) fn relay_refused(c: &mut Call<'_>, eid: u64) {
    if let Some(rec) = c.sys.enclaves.map.get_mut(&(eid as u32)) {
        if let Some((pa, size)) = rec.relay.take() {
            c.sys.gpt.make_public(c.hart, c.bus, pa, size);
        }
    }
}

/// fid 97: RUN(eid, PA of `{mm_arg_addr, mm_arg_size}` or 0).
pub fn run_enclave(c: &mut Call<'_>) -> i64 {
    let (eid, arg) = (c.a[0], c.a[1]);
    let (addr, size) = if arg == 0 {
        (0, 0)
    } else {
        if !c.sys.gpt.host_readable(c.bus, arg, 16) {
            return ERR;
        }
        (c.bus.read_u64(arg).unwrap_or(1), c.bus.read_u64(arg + 8).unwrap_or(1))
    };
    if c.sys.enclaves.get(eid).is_none_or(|r| r.is_server()) {
        return ERR;
    }
    let Some(entry) = relay_entry(c, eid, addr, size) else { return ERR };
    if enter(c, eid, entry).is_err() {
        relay_refused(c, eid);
        return ERR;
    }
    report(c, eid)
}

/// fid 95: RESUME(eid, reason, ocall id, x, y). After a relay return (reason 2): `x`, `y` =
/// the relay region to map again (the mailbox's), or 0, 0 for none.
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
    if !rec.prints.is_empty() || rec.end.is_some() || rec.relay_return || rec.yielded {
        return report(c, eid);
    }
    let entry = if rec.relay_wait && reason == RESUME_FROM_OCALL {
        let (addr, size) = (c.a[3], c.a[4]);
        let relay = match (addr, size) {
            (0, 0) => None,
            _ => match relay::take(c, eid, addr, size) {
                Some(data) => Some(data),
                None => return ERR,
            },
        };
        Entry::RerunRelay { relay }
    } else {
        Entry::Continue
    };
    if enter(c, eid, entry).is_err() {
        relay_refused(c, eid);
        return ERR;
    }
    if let Some(rec) = c.sys.enclaves.get(eid) {
        rec.relay_wait &= reason != RESUME_FROM_OCALL;
    }
    report(c, eid)
}

/// fid 96.
pub fn stop(c: &mut Call<'_>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(c.a[0]) else { return ERR };
    let cell = Arc::clone(&rec.cell);
    c.sys.monitor.stop(&cell) as i64
}

/// fid 94 (servers: fid 89).
pub fn destroy(c: &mut Call<'_>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(c.a[0]) else { return ERR };
    if rec.is_server() {
        return ERR;
    }
    if rec.end.is_none() {
        let cell = Arc::clone(&rec.cell);
        if c.sys.monitor.destroy(&cell) != 0 {
            return ERR;
        }
    }
    rec.prints.clear();
    // The region goes back scrubbed, unless the enclave had returned it already.
    if !rec.relay_return {
        rec.relay_data = None;
    }
    rec.relay_return = false;
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
