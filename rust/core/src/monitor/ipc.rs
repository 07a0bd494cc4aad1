//! Enclave-to-enclave calls (docs/ipc.md): `acquire_enclave` (97), `call_enclave` (96) and
//! `SERVER_RETURN` (95) with the memory that moves between the two parties, the call chain of a
//! top caller, and what happens to a chain when one of its parties ends.
//!
//! Model. Every enclave keeps its own hart and physical space, so a call does not save or
//! restore the caller's registers: the caller's hart simply stops being run (its `pc` is past
//! the `ecall`) while the callee's hart runs from its entry point. The thread that runs the top
//! caller (a normal enclave or a fork instance, the one the host program runs) runs the whole
//! chain: [`Monitor::execute`](super::run) runs the innermost callee while the chain is not
//! empty. During a run the chain is the run's own ([`Calls`]); when the run leaves with calls in
//! flight (an OCALL inside a callee, a budget, a yield) it is kept in the monitor
//! (`Ipc::chains`), and the host's next run of the top caller goes on in the innermost callee.
//!
//! Memory "moves" between enclaves (ipc_move.rs); the argument is read and written by
//! call_arg.rs, the print buffer carried by kbuffer.rs.
pub use super::call_arg::{CallArg, CALL_ARG_SIZE};
use super::consts::*;
use super::ecall::{free_block, Ctx, Step};
use super::enclave::Enclave;
use super::ipc_move::{mmap_holding, mmap_place, move_mmap, move_relay};
pub(super) use super::ipc_move::write_phys;
use super::kbuffer::{copy_kbuffer, KbClass};
use super::run::{Host, RunExit};
use super::{EnclaveCell, Monitor, State};
use crate::hart::trap::cause;
use crate::hart::Event;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard};

const MINUS_ONE: u64 = u64::MAX;
/// `-ESERVERBUSY`.
pub const SERVER_BUSY: u64 = (-2i64) as u64;
/// Call records kept per top caller until the host reads them.
const TRACE_LIMIT: usize = 4096;

/// What the caller handed over for the duration of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Passed {
    Nothing,
    /// The caller's relay region 0, mapped at `MM_ARG_BASE` in the callee.
    Relay,
    /// A caller mmap region: its start in the caller, `req_vaddr`'s offset in it, and where it
    /// was placed in the callee.
    Mmap { caller_va: u64, offset: u64, callee_va: u64 },
}

/// One call in flight.
struct Frame {
    callee: Arc<EnclaveCell>,
    passed: Passed,
    req_size: u64,
}

/// One finished (or refused) `call_enclave`, for the host's view of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Monitor eids.
    pub caller: u32,
    pub callee: u64,
    /// What the caller's `call_enclave` returned: 0, -1 or -2.
    pub result: i64,
    /// `resp_val` of a returned call (0 otherwise).
    pub resp_val: u64,
    /// Nesting depth of the call (1: called by the top caller).
    pub depth: u32,
}

/// Hashes a monitor eid with one multiplication (Fibonacci hashing). The ipc tables are keyed
/// by eids the monitor hands out, not by guest-chosen values, and are looked up a few times per
/// call: SipHash's flooding resistance buys nothing here and cost a tenth of a round trip.
#[derive(Default, Clone, Copy)]
pub(super) struct EidHasher(u64);

impl std::hash::Hasher for EidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64 ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type EidMap<V> = HashMap<u32, V, BuildHasherDefault<EidHasher>>;

/// A set of monitor eids as a bitmap indexed by eid. Eids are table slots, reused after a
/// free, so the map stays as small as the most enclaves alive at once; a call and its return
/// each test and flip one bit (a hash set insert cost as much as the rest of the bookkeeping).
#[derive(Default)]
struct EidSet(Vec<u64>);

impl EidSet {
    fn contains(&self, eid: u32) -> bool {
        self.0.get(eid as usize / 64).is_some_and(|w| w >> (eid % 64) & 1 != 0)
    }

    fn insert(&mut self, eid: u32) {
        let i = eid as usize / 64;
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        self.0[i] |= 1 << (eid % 64);
    }

    fn remove(&mut self, eid: u32) {
        if let Some(w) = self.0.get_mut(eid as usize / 64) {
            *w &= !(1 << (eid % 64));
        }
    }
}

/// A top caller's calls while one of its runs executes (run.rs holds it for the length of the
/// run): the calls in flight, outermost first, the records of the calls that ended, and the
/// print frames known to hold the same bytes. The calls in flight are handed to the ipc table
/// only when the run leaves with some ([`Monitor::close_calls`]), so between two runs the table
/// holds them (for the host's next run, an abort, [`Monitor::chain`]) while a call and its
/// return touch the shared table only to mark the server busy and free again.
#[derive(Default)]
pub(super) struct Calls {
    frames: Vec<Frame>,
    trace: VecDeque<CallRecord>,
    kb: KbClass,
}

impl Calls {
    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The eid of the caller of the innermost call (`top` for a call of the top caller).
    fn caller_of_innermost(&self, top: u32) -> u32 {
        let n = self.frames.len();
        if n >= 2 { self.frames[n - 2].callee.eid } else { top }
    }

    fn record(&mut self, r: CallRecord) {
        if self.trace.len() >= TRACE_LIMIT {
            self.trace.pop_front();
        }
        self.trace.push_back(r);
    }
}

#[derive(Default)]
pub(super) struct Ipc {
    /// Calls in flight by the top caller's monitor eid, outermost first, while the top caller
    /// is not running (a running top caller holds them in its [`Calls`]).
    chains: EidMap<Vec<Frame>>,
    /// Servers (monitor eids) that are part of a chain: a call to them is `-ESERVERBUSY`.
    busy: EidSet,
    /// Relay regions handed to a name by `asyn_enclave_call` (name, contents), oldest first:
    /// the next enclave of that name run with the inherit argument maps them (relay_names.rs).
    pub(super) named: Vec<(Vec<u8>, Vec<u8>)>,
    /// Secure shm segments (secure_shm.rs).
    pub(super) shm: super::secure_shm::Registry,
    /// What this table adds to [`LIVE`] (`chains.len()` when last published).
    counted: usize,
}

/// Entries of `chains` in every monitor of the process, published by [`IpcGuard`] before the
/// lock is let go. While it is 0 no enclave anywhere waits between runs with a call in flight,
/// so the questions every run and every destroy ask (`open_calls`, `chain`, `abort_chain`)
/// are answered without the ipc lock, which all the threads of a monitor share (e.g. the jobs
/// of a fuzz campaign, several lock round trips per input). The count only over-approximates:
/// a chain is counted from before its lock is let go until after it is removed, and a thread
/// that later asks about that enclave got there through the enclave's own locks, taken after
/// (so it sees the count).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The ipc table, locked; on drop, publishes how many chains it holds in [`LIVE`].
pub(super) struct IpcGuard<'a>(MutexGuard<'a, Ipc>);

impl Deref for IpcGuard<'_> {
    type Target = Ipc;
    fn deref(&self) -> &Ipc {
        &self.0
    }
}

impl DerefMut for IpcGuard<'_> {
    fn deref_mut(&mut self) -> &mut Ipc {
        &mut self.0
    }
}

impl Drop for IpcGuard<'_> {
    fn drop(&mut self) {
        let ipc = &mut *self.0;
        let now = ipc.chains.len();
        if now > ipc.counted {
            LIVE.fetch_add(now - ipc.counted, Ordering::SeqCst);
        } else if now < ipc.counted {
            LIVE.fetch_sub(ipc.counted - now, Ordering::SeqCst);
        }
        ipc.counted = now;
    }
}

impl Drop for Ipc {
    /// A monitor dropped with calls in flight takes its share out of the count.
    fn drop(&mut self) {
        LIVE.fetch_sub(self.counted, Ordering::SeqCst);
    }
}

/// Whether any monitor of the process may have a chain waiting between runs (see [`LIVE`]).
fn any_live() -> bool {
    LIVE.load(Ordering::SeqCst) != 0
}

impl Ipc {
    pub(super) fn is_busy(&self, eid: u32) -> bool {
        self.busy.contains(eid)
    }
}

/// Reads a server name at enclave VA `va`: the bytes before the first NUL, at most 16 (a
/// longer name is compared on its first 16 bytes, as the monitor's name field holds 16).
/// `None` if a byte it needs is unmapped.
pub fn read_name(e: &mut Enclave, va: u64) -> Option<Vec<u8>> {
    let mut b = [0u8; 16];
    let mut n = 0;
    while n < 16 {
        let mut c = [0u8; 1];
        if !e.read_va_into(va.checked_add(n as u64)?, &mut c) {
            return None;
        }
        if c[0] == 0 {
            break;
        }
        b[n] = c[0];
        n += 1;
    }
    Some(b[..n].to_vec())
}

/// `acquire_enclave(name)` (97): the monitor eid of the server with that name, or -1.
pub fn acquire(e: &mut Enclave, m: &Monitor, name_va: u64) -> u64 {
    let Some(name) = read_name(e, name_va) else { return MINUS_ONE };
    if name.is_empty() {
        return MINUS_ONE;
    }
    m.server_by_name(&name).map_or(MINUS_ONE, |c| c.eid as u64)
}

/// Whether the ecall `e` stopped at is `call_enclave` or `SERVER_RETURN`.
pub fn ecall_fid(e: &Enclave) -> Option<u64> {
    (e.hart.x[16] == SBI_EXT_PENGLAI_ENCLAVE).then_some(e.hart.x[17])
}

fn finish(e: &mut Enclave, result: u64) {
    e.hart.x[10] = result;
    e.hart.pc = e.hart.pc.wrapping_add(4);
    e.hart.retired += 1;
}

impl Monitor {
    pub(super) fn ipc(&self) -> IpcGuard<'_> {
        IpcGuard(self.ipc.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The live server enclave named `name`.
    pub fn server_by_name(&self, name: &[u8]) -> Option<Arc<EnclaveCell>> {
        let t = self.tables();
        t.eids.iter().flatten().find(|c| c.kind == SERVER_ENCLAVE && c.name_key() == name).cloned()
    }

    /// Whether a server is part of a call chain right now.
    pub fn server_in_call(&self, cell: &EnclaveCell) -> bool {
        self.ipc().busy.contains(cell.eid)
    }

    /// The callees of `top`'s calls in flight, outermost first.
    pub fn chain(&self, top: &EnclaveCell) -> Vec<Arc<EnclaveCell>> {
        if !any_live() {
            return Vec::new();
        }
        match self.ipc().chains.get(&top.eid) {
            Some(f) if !f.is_empty() => f.iter().map(|f| Arc::clone(&f.callee)).collect(),
            _ => Vec::new(),
        }
    }

    /// The calls `top` has in flight, for a run of it to go on with (taken out of the table
    /// until [`Monitor::close_calls`]).
    pub(super) fn open_calls(&self, top: &EnclaveCell) -> Calls {
        let frames = if any_live() { self.ipc().chains.remove(&top.eid).unwrap_or_default() } else { Vec::new() };
        Calls { frames, ..Calls::default() }
    }

    /// The end of a run of `top`: the calls still in flight go back to the table; returns the
    /// records of the calls that ended during the run, oldest first (the newest `TRACE_LIMIT`).
    pub(super) fn close_calls(&self, top: &EnclaveCell, calls: Calls) -> Vec<CallRecord> {
        if !calls.frames.is_empty() {
            self.ipc().chains.insert(top.eid, calls.frames);
        }
        calls.trace.into()
    }

    /// `call_enclave(handle, &arg)` made by `caller` (the top caller `top`, or the innermost
    /// callee): the callee is set up to run and its frame pushed on `calls`, or the caller gets
    /// -1 / -2.
    pub(super) fn call(&self, caller_eid: u32, caller: &mut Enclave, calls: &mut Calls) {
        let (handle, arg_va) = (caller.hart.x[10], caller.hart.x[11]);
        let depth = calls.frames.len() as u32 + 1;
        let refuse = |calls: &mut Calls, caller: &mut Enclave, result: u64| {
            calls.record(CallRecord { caller: caller_eid, callee: handle, result: result as i64, resp_val: 0, depth });
            finish(caller, result);
        };
        let Some(arg) = CallArg::read(caller, arg_va) else { return refuse(calls, caller, MINUS_ONE) };
        // The region the caller hands over: checked (and found) before anything changes.
        let passed_region = if arg.req_vaddr == 0 {
            None
        } else {
            let ok = arg.req_vaddr % PAGE == 0
                && arg.req_size % PAGE == 0
                && arg.req_size >= PAGE
                && arg.req_vaddr.checked_add(arg.req_size).is_some();
            if !ok {
                return refuse(calls, caller, MINUS_ONE);
            }
            if arg.req_vaddr == MM_ARG_BASE {
                match caller.relay.iter().find(|r| r.va == MM_ARG_BASE) {
                    Some(r) if arg.req_size <= r.pages * PAGE => Some(None),
                    _ => return refuse(calls, caller, MINUS_ONE),
                }
            } else {
                match mmap_holding(caller, arg.req_vaddr, arg.req_size) {
                    Some(i) => Some(Some(i)),
                    None => return refuse(calls, caller, MINUS_ONE),
                }
            }
        };
        let callee = {
            let t = self.tables();
            usize::try_from(handle).ok().and_then(|i| t.eids.get(i)).and_then(|s| s.clone())
        };
        let Some(callee) = callee.filter(|c| c.kind == SERVER_ENCLAVE) else { return refuse(calls, caller, MINUS_ONE) };
        {
            // The server's control lock orders this against its destroy (which refuses busy
            // servers under the same two locks).
            let mut ipc = self.ipc();
            let mut c = callee.ctl.lock().unwrap();
            match c.state {
                State::Runnable if !ipc.busy.contains(callee.eid) => {}
                State::Invalid | State::Destroyed => {
                    drop((c, ipc));
                    return refuse(calls, caller, MINUS_ONE);
                }
                _ => {
                    drop((c, ipc));
                    return refuse(calls, caller, SERVER_BUSY);
                }
            }
            c.state = State::Running;
            ipc.busy.insert(callee.eid);
        }
        let mut g = callee.inner.lock().unwrap();
        let Some(ce) = g.as_mut() else {
            drop(g);
            self.unbusy(&callee, State::Invalid);
            return refuse(calls, caller, MINUS_ONE);
        };
        // The top caller's print buffer, mapped in the callee (kept mapped between calls: a
        // server only ever runs inside calls).
        if ce.kbuffer_pa == 0 {
            let Some(kb) = ce.try_host_alloc(KBUFFER_SIZE) else {
                drop(g);
                self.unbusy(&callee, State::Runnable);
                return refuse(calls, caller, MINUS_ONE);
            };
            if !ce.map(KBUFFER, kb, 1, PTE_DATA) {
                ce.host_free(kb, KBUFFER_SIZE);
                drop(g);
                self.unbusy(&callee, State::Runnable);
                return refuse(calls, caller, MINUS_ONE);
            }
            ce.kbuffer_pa = kb;
        }
        let (passed, a1) = match passed_region {
            None => (Passed::Nothing, 0),
            Some(None) => {
                if !move_relay(caller, ce, arg.req_size / PAGE) {
                    drop(g);
                    self.unbusy(&callee, State::Runnable);
                    return refuse(calls, caller, MINUS_ONE);
                }
                (Passed::Relay, MM_ARG_BASE)
            }
            Some(Some(i)) => {
                let r = caller.mmaps[i];
                let bytes = r.mapped * PAGE;
                let moved = mmap_place(ce, Some(r.va), bytes).and_then(|va| move_mmap(caller, i, ce, va));
                let Some(m) = moved else {
                    drop(g);
                    self.unbusy(&callee, State::Runnable);
                    return refuse(calls, caller, MINUS_ONE);
                };
                (Passed::Mmap { caller_va: r.va, offset: arg.req_vaddr - r.va, callee_va: m.va }, m.va)
            }
        };
        copy_kbuffer(caller, ce, &mut calls.kb);
        // The callee starts afresh at its entry point with every register zero but these.
        let h = &mut ce.hart;
        h.x = [0; 32];
        h.pc = ce.entry;
        h.x[2] = STACK_BASE;
        h.x[10] = arg.req_arg;
        h.x[11] = a1;
        h.x[12] = if a1 != 0 { arg.req_size } else { 0 };
        if let Some((_, size)) = ce.shm {
            h.x[13] = SHM_BASE;
            h.x[14] = size;
        }
        ce.pending = super::enclave::Pending::None;
        drop(g);
        // The caller continues after its ecall when the callee returns (a0 set then).
        caller.hart.pc = caller.hart.pc.wrapping_add(4);
        caller.hart.retired += 1;
        if let Some(prev) = calls.frames.last() {
            let mut c = prev.callee.ctl.lock().unwrap();
            if c.state == State::Running {
                c.state = State::Runnable;
            }
        }
        calls.frames.push(Frame { callee, passed, req_size: arg.req_size });
    }

    /// Takes a server out of the busy set and gives it `state`.
    fn unbusy(&self, callee: &EnclaveCell, state: State) {
        let mut ipc = self.ipc();
        ipc.busy.remove(callee.eid);
        let mut c = callee.ctl.lock().unwrap();
        if c.state != State::Invalid {
            c.state = state;
        }
    }

    /// `SERVER_RETURN(&ret)` by the innermost callee `ce` (locked by the run loop): the
    /// caller (`top_e`, or the callee below it) continues with `call_enclave` = 0, or the
    /// callee gets -1 (unreadable argument) and goes on.
    pub(super) fn server_return(&self, top: &EnclaveCell, top_e: &mut Enclave, ce: &mut Enclave, calls: &mut Calls) {
        let Some(ret) = CallArg::read(ce, ce.hart.x[10]) else { return finish(ce, MINUS_ONE) };
        let Some(frame) = calls.frames.pop() else { return finish(ce, MINUS_ONE) };
        let callee = &frame.callee;
        let caller_cell = calls.frames.last().map(|f| Arc::clone(&f.callee));
        let mut caller_guard = caller_cell.as_ref().map(|c| c.inner.lock().unwrap());
        let caller: &mut Enclave = match caller_guard.as_mut() {
            Some(g) => g.as_mut().expect("a caller in a chain is alive"),
            None => top_e,
        };
        let resp_val = self.return_memory(&frame, &ret, caller, ce, &mut calls.kb);
        ce.hart.pc = ce.hart.pc.wrapping_add(4);
        ce.hart.retired += 1;
        drop(caller_guard);
        // The call had `calls.frames.len()` calls below it.
        let caller = caller_cell.as_ref().map_or(top.eid, |c| c.eid);
        calls.record(CallRecord { caller, callee: callee.eid as u64, result: 0, resp_val, depth: calls.frames.len() as u32 + 1 });
        self.ipc().busy.remove(callee.eid);
        let mut c = callee.ctl.lock().unwrap();
        if c.state != State::Invalid {
            c.state = State::Runnable;
        }
        drop(c);
        if let Some(prev) = caller_cell {
            let mut c = prev.ctl.lock().unwrap();
            if c.state == State::Runnable {
                c.state = State::Running;
            }
        }
    }

    /// Steps 2–4 of a return: the passed region back, the response region to the caller, the
    /// caller's `arg` written and `call_enclave` = 0. Returns the `resp_val` handed over.
    fn return_memory(&self, f: &Frame, ret: &CallArg, caller: &mut Enclave, ce: &mut Enclave, kb: &mut KbClass) -> u64 {
        let arg_va = caller.hart.x[11];
        let mut arg = CallArg::read(caller, arg_va).unwrap_or_default();
        let back_ok = f.passed != Passed::Nothing
            && ret.req_vaddr != 0
            && ret.req_vaddr % PAGE == 0
            && ret.req_size % PAGE == 0
            && ret.req_size >= f.req_size;
        arg.req_vaddr = 0;
        if back_ok {
            match f.passed {
                Passed::Relay => {
                    let pages = ce.relay.iter().find(|r| r.va == MM_ARG_BASE).map_or(0, |r| r.pages);
                    if pages > 0 && move_relay(ce, caller, pages) {
                        arg.req_vaddr = MM_ARG_BASE;
                    }
                }
                Passed::Mmap { caller_va, offset, .. } => {
                    if let Some(i) = mmap_holding(ce, ret.req_vaddr, ret.req_size) {
                        let bytes = ce.mmaps[i].mapped * PAGE;
                        if let Some(va) = mmap_place(caller, Some(caller_va), bytes) {
                            if let Some(m) = move_mmap(ce, i, caller, va) {
                                arg.req_vaddr = m.va + offset.min(bytes - PAGE);
                            }
                        }
                    }
                }
                Passed::Nothing => {}
            }
        }
        arg.resp_vaddr = 0;
        arg.resp_size = 0;
        let resp_ok = ret.resp_vaddr != 0 && ret.resp_vaddr % PAGE == 0 && ret.resp_size % PAGE == 0 && ret.resp_size >= PAGE;
        if resp_ok {
            if let Some(i) = mmap_holding(ce, ret.resp_vaddr, ret.resp_size) {
                let r = ce.mmaps[i];
                let bytes = r.mapped * PAGE;
                if let Some(va) = mmap_place(caller, None, bytes) {
                    if let Some(m) = move_mmap(ce, i, caller, va) {
                        arg.resp_vaddr = m.va + (ret.resp_vaddr - r.va);
                        arg.resp_size = ret.resp_size;
                    }
                }
            }
        }
        arg.resp_val = ret.resp_val;
        copy_kbuffer(ce, caller, kb);
        // The caller may have handed over the page holding its `arg`: then it is not written.
        arg.write(caller, arg_va);
        caller.hart.x[10] = 0;
        ret.resp_val
    }

    /// One slice of the innermost callee of `top`'s chain, and its ecall if it made one.
    /// `Some` ends the run of `top` with that exit.
    pub(super) fn run_callee(
        &self,
        top: &EnclaveCell,
        top_e: &mut Enclave,
        calls: &mut Calls,
        host: &mut dyn Host,
        n: u64,
        spent: &mut u64,
    ) -> Option<RunExit> {
        let callee = Arc::clone(&calls.frames.last()?.callee);
        let mut g = callee.inner.lock().unwrap();
        let Some(ce) = g.as_mut() else {
            // Cannot happen (busy servers are not destroyed); end the chain rather than spin.
            drop(g);
            let frames = std::mem::take(&mut calls.frames);
            self.ipc().chains.insert(top.eid, frames);
            self.abort_chain(top.eid);
            return Some(RunExit::Fault { cause: 8, tval: 0, pc: 0, ecall: None });
        };
        let before = ce.hart.retired;
        ce.hart.engine = self.config.engine;
        let ev = ce.hart.run(&mut ce.bus, n);
        *spent += ce.hart.retired - before;
        let fault = match ev {
            Event::Budget | Event::Exit(_) => return None,
            Event::Trap(t) if t.cause == cause::ECALL_U => {
                match ecall_fid(ce) {
                    Some(fid::CALL) => {
                        self.call(callee.eid, ce, calls);
                        return None;
                    }
                    Some(fid::RETURN) => {
                        self.server_return(top, top_e, ce, calls);
                        return None;
                    }
                    // A server cannot exit (B26: -1 and it goes on).
                    Some(fid::EXIT) => {
                        finish(ce, MINUS_ONE);
                        return None;
                    }
                    // B2 fix: the caller's eid.
                    Some(fid::GET_CALLER_ID) => {
                        let caller = calls.caller_of_innermost(top.eid);
                        finish(ce, if self.config.caller_id_compat { 0 } else { caller as u64 });
                        return None;
                    }
                    // The relay pages of a callee are not handed to the top caller's host.
                    Some(fid::OCALL) if ce.hart.x[10] == ocall::RETURN_RELAY_PAGE => {
                        finish(ce, MINUS_ONE);
                        return None;
                    }
                    // OCALLs go to the top caller's host: the ids it registered are forwarded
                    // from a callee too; the answer comes back to the callee.
                    Some(fid::OCALL) if ce.hart.x[10] > ocall::LAST_KNOWN && top_e.user_ocalls.contains(&ce.hart.x[10]) => {
                        let x = ce.hart.x;
                        ce.pending = super::enclave::Pending::User;
                        ce.hart.pc = ce.hart.pc.wrapping_add(4);
                        ce.hart.retired += 1;
                        return Some(RunExit::Ocall { id: x[10], args: [x[11], x[12], x[13]] });
                    }
                    _ => {}
                }
                let mut cx = Ctx { monitor: self, eid: callee.eid, host: &mut *host };
                match super::ecall::ecall(ce, &mut cx) {
                    Step::Continue => return None,
                    Step::Leave(x @ RunExit::Fault { .. }) => x,
                    Step::Leave(x) => return Some(x),
                }
            }
            Event::Trap(t) => RunExit::Fault { cause: t.cause, tval: t.tval, pc: ce.hart.pc, ecall: None },
        };
        // A fault destroys the enclave that faulted, the innermost callee; the run of the top
        // caller ends with it (the rest of the chain is released when the top caller goes).
        let enc = g.take();
        drop(g);
        callee.ctl.lock().unwrap().state = State::Invalid;
        self.ipc().busy.remove(callee.eid);
        let depth = calls.frames.len() as u32;
        let caller = calls.caller_of_innermost(top.eid);
        calls.record(CallRecord { caller, callee: callee.eid as u64, result: -1, resp_val: 0, depth });
        calls.frames.pop();
        if let Some(enc) = enc {
            self.free(&callee, enc);
        }
        callee.cv.notify_all();
        Some(fault)
    }

    /// The top caller `top` is gone (or its run cannot go on): every call of its chain ends.
    /// Each callee gives up the memory it received in that call and is RUNNABLE again.
    pub(super) fn abort_chain(&self, top: u32) {
        if !any_live() {
            return;
        }
        let frames = self.ipc().chains.remove(&top).unwrap_or_default();
        for f in frames.into_iter().rev() {
            if let Some(ce) = f.callee.inner.lock().unwrap().as_mut() {
                match f.passed {
                    Passed::Mmap { callee_va, .. } => {
                        if let Some(i) = ce.mmaps.iter().position(|r| r.va == callee_va) {
                            let r = ce.mmaps.remove(i);
                            free_block(ce, self, r);
                        }
                    }
                    Passed::Relay => {
                        if let Some(i) = ce.relay.iter().position(|r| r.va == MM_ARG_BASE) {
                            let r = ce.relay.remove(i);
                            ce.unmap(r.va, r.mapped);
                            ce.host_free(r.pa, r.pages * PAGE);
                        }
                    }
                    Passed::Nothing => {}
                }
                ce.hart.release_caches();
            }
            self.unbusy(&f.callee, State::Runnable);
        }
    }

    /// The answer to an OCALL the innermost callee of `top` forwarded to the host.
    pub(super) fn callee_ocall_return(&self, top: &EnclaveCell, v: u64) -> Option<Result<(), String>> {
        let callee = self.chain(top).pop()?;
        let mut g = callee.inner.lock().unwrap();
        let Some(ce) = g.as_mut() else { return Some(Err("the callee no longer exists".into())) };
        if ce.pending != super::enclave::Pending::User {
            return Some(Err("the enclave is not waiting for a host OCALL".into()));
        }
        ce.pending = super::enclave::Pending::None;
        ce.hart.x[10] = v;
        Some(Ok(()))
    }
}


#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use crate::monitor::Config;

    /// The lock-free answers are only taken while no table anywhere holds a chain: a table's
    /// entries are counted while they exist (whatever other tests running in parallel do to
    /// the count), and taken out when removed or when the monitor goes.
    #[test]
    fn live_chains_are_counted_until_removed() {
        let m = Monitor::new(Config::default());
        {
            let mut ipc = m.ipc();
            ipc.chains.entry(7).or_default();
            ipc.chains.entry(9).or_default();
        }
        assert_eq!(m.ipc().counted, 2);
        assert!(any_live(), "this monitor's two entries are counted");
        m.ipc().chains.remove(&9);
        assert_eq!(m.ipc().counted, 1);
        assert!(any_live());
        m.abort_chain(7);
        assert_eq!(m.ipc().counted, 0, "abort_chain took the lock and removed the chain");
        m.ipc().chains.entry(8).or_default();
        drop(m);
    }
}
