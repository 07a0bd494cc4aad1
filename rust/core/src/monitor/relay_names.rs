//! Relay regions handed on by name (docs/ipc.md): `asyn_enclave_call` (93) gives one of the
//! caller's relay regions to a name, and the enclave of that name maps it when the host runs it
//! with the inherit argument (the driver's size-0 relay argument, `Entry::StartInherit`).
use super::consts::*;
use super::enclave::Enclave;
use super::ipc::{read_name, CallArg};
use super::{EnclaveCell, Monitor};

const MINUS_ONE: u64 = u64::MAX;

/// `asyn_enclave_call(name, &arg)` (93): the caller's relay region `[req_vaddr, +req_size)`
/// (exactly one of its relay regions) is unmapped from it and registered under `name`, for the
/// enclave of that name to map at its next run with the inherit argument. 0, or -1 on every
/// failure (B27 fix: unreadable name or argument, no such region, 10 regions already waiting
/// for that name).
pub fn asyn_call(e: &mut Enclave, m: &Monitor, name_va: u64, arg_va: u64) -> u64 {
    let Some(name) = read_name(e, name_va) else { return MINUS_ONE };
    let Some(arg) = CallArg::read(e, arg_va) else { return MINUS_ONE };
    if name.is_empty() {
        return MINUS_ONE;
    }
    let Some(i) = e.relay.iter().position(|r| r.va == arg.req_vaddr && r.mapped.checked_mul(PAGE) == Some(arg.req_size)) else {
        return MINUS_ONE;
    };
    let mut ipc = m.ipc();
    if ipc.named.iter().filter(|(n, _)| *n == name).count() >= RELAY_PAGE_NUM {
        return MINUS_ONE;
    }
    let r = e.relay.remove(i);
    let mut data = vec![0u8; (r.mapped * PAGE) as usize];
    e.bus.read(r.pa, &mut data);
    e.unmap(r.va, r.mapped);
    e.host_free(r.pa, r.pages * PAGE);
    ipc.named.push((name, data));
    0
}

impl Monitor {
    /// The relay regions registered under `cell`'s name, mapped back to back from
    /// `MM_ARG_BASE` (at most 10). `Err` (nothing mapped, the regions stay registered) when
    /// there are none, the name is not unique among live enclaves or they do not fit.
    pub(super) fn inherit_relay(&self, cell: &EnclaveCell, e: &mut Enclave) -> Result<(), String> {
        if self.name_taken(cell) {
            return Err("another live enclave has the same name; relay pages need a unique name".into());
        }
        let key = cell.name_key().to_vec();
        let taken: Vec<Vec<u8>> = {
            let mut ipc = self.ipc();
            let mut out = Vec::new();
            let mut i = 0;
            while i < ipc.named.len() && out.len() < RELAY_PAGE_NUM {
                if ipc.named[i].0 == key {
                    out.push(ipc.named.remove(i).1);
                } else {
                    i += 1;
                }
            }
            out
        };
        if taken.is_empty() {
            return Err("no relay regions are registered under this enclave's name".into());
        }
        for i in 0..taken.len() {
            if let Err(msg) = e.map_relay(&taken[i]) {
                // Unmap what was mapped and register every region again: nothing changes.
                for r in std::mem::take(&mut e.relay) {
                    e.unmap(r.va, r.mapped);
                    e.host_free(r.pa, r.pages * PAGE);
                }
                let mut ipc = self.ipc();
                for d in taken.into_iter().rev() {
                    ipc.named.insert(0, (key.clone(), d));
                }
                return Err(msg);
            }
        }
        Ok(())
    }

    /// Relay regions waiting for an enclave of this name (`asyn_enclave_call`).
    pub fn named_relay_count(&self, name: &[u8]) -> usize {
        let n = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        self.ipc().named.iter().filter(|(k, _)| k[..] == name[..n]).count()
    }
}
