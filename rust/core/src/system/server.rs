//! The server-enclave fids of the Penglai host extension (§9.1): CREATE_SERVER (90) and
//! DESTROY_SERVER (89). A server is built from a host-loaded block like a normal enclave
//! (with its stack) but has no kbuffer and is RUNNABLE from the start; it runs only inside
//! `call_enclave` from another enclave, whose host sees the server's prints and OCALL exits
//! as its own (the monitor's ipc code, the one `pltvm.Device` uses). The host cannot run,
//! stop, attest or DESTROY (94) it: those return −1.
use super::enclave::{self as enc, CreateParam, HostEnclave, ENCLAVE_SUCCESS};
use super::gpt::{ERR, PAGE};
use super::{mem, sbi::Call};
use crate::monitor::Block;

/// fid 90: CREATE_SERVER(PA of `enclave_create_param`). The name (up to its first NUL) must
/// be non-empty and unique among live servers; the `type` field, kbuffer and mailbox are not
/// looked at (Penglai's server create does not use them); an optional shm is copied in at
/// creation. The monitor eid goes to `eid_ptr`.
pub fn create(c: &mut Call<'_>) -> i64 {
    let Some(p) = CreateParam::read(c, c.a[0]) else { return ERR };
    if !enc::host_word(c, p.eid_ptr, 4) || !enc::shm_ok(c, p.shm) || !enc::block_ok(c, &p) {
        return ERR;
    }
    let block = (p.paddr, p.size);
    if !enc::outside(block, p.eid_ptr, 4) || !p.shm.is_none_or(|(s, n)| enc::outside(block, s, n)) {
        return ERR;
    }
    let bus = enc::block_bus(c, p.paddr, p.end());
    let shm = p.shm.map(|(s, n)| enc::read_host(c.bus, s, n));
    let b = Block { name: p.name, bus, block_pa: p.paddr, pages: p.size / PAGE, entry: p.entry, free_mem: p.free_mem, shm: shm.as_deref() };
    let cell = match c.sys.monitor.adopt_server_block(b) {
        Ok(cell) => cell,
        Err(e) => return enc::create_error(e),
    };
    c.sys.gpt.make_secure(c.hart, c.bus, p.paddr, p.size);
    mem::write(c.hart, c.bus, p.eid_ptr, &cell.eid.to_le_bytes());
    let rec = HostEnclave::new(cell, block, 0, [0; 4], 0, None);
    c.sys.enclaves.map.insert(rec.cell.eid, rec);
    ENCLAVE_SUCCESS
}

/// fid 89: DESTROY_SERVER(eid): −1 for anything but a live server, and while the server is
/// part of a call in flight (its caller waits in an OCALL); else it is freed and its block
/// scrubbed and public again.
pub fn destroy(c: &mut Call<'_>) -> i64 {
    let Some(rec) = c.sys.enclaves.get(c.a[0]) else { return ERR };
    if !rec.is_server() || c.sys.monitor.destroy(&rec.cell) != 0 {
        return ERR;
    }
    let Some(rec) = c.sys.enclaves.map.remove(&(c.a[0] as u32)) else { return ERR };
    mem::zero(c.hart, c.bus, rec.block.0, rec.block.1);
    c.sys.gpt.make_public(c.hart, c.bus, rec.block.0, rec.block.1);
    ENCLAVE_SUCCESS
}
