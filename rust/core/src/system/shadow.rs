//! The shadow-enclave fids of the Penglai host extension (§5): CREATE_SHADOW (86) builds a
//! template from a block the host loaded with no stack, RUN_SHADOW (87) forks an instance of
//! it into an instance block the host gives and runs it, ATTEST_SHADOW (80) reports the
//! template, DESTROY_SHADOW (79) frees it. Templates have their own table of shadow eids; an
//! instance gets a normal monitor eid and from then on is a normal enclave to the host: its
//! OCALLs come back as for RUN, and RESUME (95), STOP (96), DESTROY (94) address it.
//!
//! The monitor code is the one `pltvm.Device` forks with (`Monitor::adopt_shadow_block`,
//! `Monitor::adopt_fork`): an instance shares the template's frames copy-on-write inside the
//! monitor, so the instance block the host gives is not filled; it becomes secure for the
//! instance's life (the host loses it, as on Penglai), is counted against the secure pool and
//! is scrubbed when the instance ends.
use super::enclave::{self as enc, CreateParam, HostEnclave, ENCLAVE_SUCCESS, PARAM_SIZE, REPORT_SIZE};
use super::gpt::{ERR, PAGE};
use super::{mem, sbi::Call};
use crate::monitor::shadow::ForkParams;
use crate::monitor::Block;
use std::sync::Arc;

/// fid 86: CREATE_SHADOW(PA of `enclave_create_param`). Only `eid_ptr`, `name` and the block
/// (`paddr`, `size`, `entry_point`, `free_mem`) count: a template has no kbuffer, shm or
/// mailbox. The shadow eid goes to `eid_ptr`.
pub fn create(c: &mut Call<'_>) -> i64 {
    let Some(p) = CreateParam::read(c, c.a[0]) else { return ERR };
    if !enc::host_word(c, p.eid_ptr, 4) || !enc::block_ok(c, &p) || !enc::outside((p.paddr, p.size), p.eid_ptr, 4) {
        return ERR;
    }
    let bus = enc::block_bus(c, p.paddr, p.end());
    let b = Block { name: p.name, bus, block_pa: p.paddr, pages: p.size / PAGE, entry: p.entry, free_mem: p.free_mem, shm: None };
    let cell = match c.sys.monitor.adopt_shadow_block(b) {
        Ok(cell) => cell,
        Err(e) => return enc::create_error(e),
    };
    c.sys.gpt.make_secure(c.hart, c.bus, p.paddr, p.size);
    mem::write(c.hart, c.bus, p.eid_ptr, &cell.eid.to_le_bytes());
    c.sys.enclaves.shadows.insert(cell.eid, (cell, (p.paddr, p.size)));
    ENCLAVE_SUCCESS
}

/// `shadow_enclave_run_param` (136 bytes, §4.1).
struct RunParam {
    block: (u64, u64),
    eid_ptr: u64,
    kbuffer: u64,
    kbuffer_size: u64,
    shm: Option<(u64, u64)>,
    mm_arg: (u64, u64),
    mailbox: [u64; 4],
    retval: u64,
    name: [u8; 16],
}

fn read_run_param(c: &mut Call<'_>, pa: u64) -> Option<RunParam> {
    if !c.sys.gpt.separated() || !c.sys.gpt.host_readable(c.bus, pa, PARAM_SIZE as u64) {
        return None;
    }
    let mut p = [0u8; PARAM_SIZE];
    c.bus.read(pa, &mut p);
    let f = |off: usize| u64::from_le_bytes(p[off..off + 8].try_into().unwrap());
    let mut name = [0u8; 16];
    name.copy_from_slice(&p[120..136]);
    // Offset 0 (`sptbr`) is the host's satp, which the monitor reads from the hart instead.
    Some(RunParam {
        block: (f(8), f(16)),
        eid_ptr: f(24),
        kbuffer: f(32),
        kbuffer_size: f(40),
        shm: enc::shm_of(f(48), f(56)),
        mm_arg: (f(64), f(72)),
        mailbox: [f(80), f(88), f(96), f(104)],
        retval: f(112),
        name,
    })
}

/// fid 87: RUN_SHADOW(shadow eid, PA of `shadow_enclave_run_param`): forks an instance into
/// the host's instance block, writes its monitor eid to `eid_ptr` and runs it (relay region
/// from `mm_arg_*` as for RUN). Results as RUN; −2 when the secure pool cannot take the
/// instance block; −1 for everything refused, with nothing changed.
pub fn run(c: &mut Call<'_>) -> i64 {
    let (sid, pa) = (c.a[0], c.a[1]);
    let Some(p) = read_run_param(c, pa) else { return ERR };
    let Some(template) = u32::try_from(sid).ok().and_then(|s| c.sys.enclaves.shadows.get(&s)).map(|t| Arc::clone(&t.0)) else {
        return ERR;
    };
    if !enc::host_word(c, p.eid_ptr, 4) || !enc::mailbox_ok(c, &p.mailbox, p.retval) {
        return ERR;
    }
    if !enc::kbuffer_ok(c, p.kbuffer, p.kbuffer_size) || !enc::shm_ok(c, p.shm) {
        return ERR;
    }
    let block = p.block;
    if !c.sys.gpt.can_make_secure(c.bus, block.0, block.1) {
        return ERR;
    }
    let host_words = [(p.eid_ptr, 4), (p.retval, 8), (p.kbuffer, PAGE)];
    if !host_words.iter().all(|&(pa, n)| enc::outside(block, pa, n))
        || !p.mailbox.iter().all(|&pa| enc::outside(block, pa, 8))
        || !p.shm.is_none_or(|(s, n)| enc::outside(block, s, n))
        || !(p.mm_arg.1 == 0 || enc::outside(block, p.mm_arg.0, p.mm_arg.1))
    {
        return ERR;
    }
    let shm = p.shm.map(|(s, n)| enc::read_host(c.bus, s, n));
    let fp = ForkParams { name: p.name, shm, persistency: None };
    let cell = match c.sys.monitor.adopt_fork(&template, &fp, block.1) {
        Ok(cell) => cell,
        Err(e) => return enc::create_error(e),
    };
    let eid = u64::from(cell.eid);
    c.sys.gpt.make_secure(c.hart, c.bus, block.0, block.1);
    let rec = HostEnclave::new(Arc::clone(&cell), block, p.kbuffer, p.mailbox, p.retval, p.shm);
    c.sys.enclaves.map.insert(cell.eid, rec);
    let entered = match enc::relay_entry(c, eid, p.mm_arg.0, p.mm_arg.1) {
        Some(entry) => enc::enter(c, eid, entry).is_ok(),
        None => false,
    };
    if !entered {
        // Undo the whole fork: the relay region (untouched) and the instance block public
        // again, the instance gone.
        enc::relay_refused(c, eid);
        c.sys.monitor.destroy(&cell);
        c.sys.enclaves.map.remove(&cell.eid);
        c.sys.gpt.make_public(c.hart, c.bus, block.0, block.1);
        return ERR;
    }
    mem::write(c.hart, c.bus, p.eid_ptr, &cell.eid.to_le_bytes());
    enc::report(c, eid)
}

/// fid 80: ATTEST_SHADOW(shadow eid, PA of `report_t`, nonce): the template's report
/// (hash = SM3(template hash ‖ nonce)); no state check, as in Penglai.
pub fn attest(c: &mut Call<'_>) -> i64 {
    let (sid, pa, nonce) = (c.a[0], c.a[1], c.a[2]);
    if !c.sys.gpt.host_writable(c.bus, pa, REPORT_SIZE) {
        return ERR;
    }
    let Some(cell) = u32::try_from(sid).ok().and_then(|s| c.sys.enclaves.shadows.get(&s)).map(|t| Arc::clone(&t.0)) else {
        return ERR;
    };
    match c.sys.monitor.attest_hash(&cell.measurement, nonce) {
        Ok(r) => {
            mem::write(c.hart, c.bus, pa, &r.to_bytes());
            ENCLAVE_SUCCESS
        }
        Err(_) => ERR,
    }
}

/// fid 79: DESTROY_SHADOW(shadow eid): the template is freed and its block scrubbed and
/// public again. Live instances keep running on their own references to its frames (B33).
pub fn destroy(c: &mut Call<'_>) -> i64 {
    let Some((cell, block)) = u32::try_from(c.a[0]).ok().and_then(|s| c.sys.enclaves.shadows.remove(&s)) else {
        return ERR;
    };
    c.sys.monitor.destroy(&cell);
    mem::zero(c.hart, c.bus, block.0, block.1);
    c.sys.gpt.make_public(c.hart, c.bus, block.0, block.1);
    ENCLAVE_SUCCESS
}
