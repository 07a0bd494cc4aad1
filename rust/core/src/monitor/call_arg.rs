//! `call_enclave_arg_t`, the 48-byte argument of `call_enclave` and `SERVER_RETURN`: read from
//! and written back to enclave memory by the monitor on each call and return (ipc.rs), through
//! the enclave hart's TLB entry for its page when there is one.
use super::consts::PAGE;
use super::enclave::Enclave;
use super::ipc_move::write_phys;
use crate::hart::Hart;

/// `call_enclave_arg_t`: req_arg, resp_val, req_vaddr, req_size, resp_vaddr, resp_size.
pub const CALL_ARG_SIZE: usize = 48;

/// `call_enclave_arg_t` (six little-endian u64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallArg {
    pub req_arg: u64,
    pub resp_val: u64,
    pub req_vaddr: u64,
    pub req_size: u64,
    pub resp_vaddr: u64,
    pub resp_size: u64,
}

/// The (at most two) physical pieces of a 48-byte argument at `va`: `(pa, len)` each, or
/// `None` if a byte is unmapped or the range wraps. No allocation (a call's hot path).
fn arg_pieces(e: &mut Enclave, va: u64) -> Option<[(u64, usize); 2]> {
    let end = va.checked_add(CALL_ARG_SIZE as u64)?;
    let first = ((PAGE - (va & (PAGE - 1))) as usize).min(CALL_ARG_SIZE);
    let a = e.translate(va)?;
    if first == CALL_ARG_SIZE {
        return Some([(a, first), (0, 0)]);
    }
    let b = e.translate(end - (CALL_ARG_SIZE - first) as u64)?;
    Some([(a, first), (b, CALL_ARG_SIZE - first)])
}

/// Where the 48-byte argument at `va` lies in host memory, when it sits in one page and the
/// enclave's hart holds a TLB entry for that page (a read entry, or a write entry if `write`):
/// the bytes the enclave's own load or store there would touch. The argument of a call was
/// usually just written by the enclave, so this saves the monitor's page-table walk on most
/// calls; on a miss the walk is made ([`arg_pieces`]). The hart's TLB is exact: entries are
/// dropped whenever the page table changes or a frame is replaced or unmapped (and write
/// entries whenever the page holds decoded code), as the enclave's own accesses rely on.
/// Read entries exist only for readable pages and write entries only for writable ones, while
/// the monitor reads and writes any mapped page: a page without those rights misses and goes
/// the slow way, with the same result.
fn arg_in_tlb(h: &Hart, va: u64, write: bool) -> Option<*mut u8> {
    if (va & (PAGE - 1)) as usize + CALL_ARG_SIZE > PAGE as usize {
        return None;
    }
    let vpn = va >> 12;
    let e = if write { h.tlb.write_entry(vpn) } else { h.tlb.read_entry(vpn) };
    (e.tag == h.tlb.tag(vpn)).then(|| va.wrapping_add(e.addend) as *mut u8)
}

impl CallArg {
    pub fn read(e: &mut Enclave, va: u64) -> Option<CallArg> {
        let mut b = [0u8; CALL_ARG_SIZE];
        // The argument was usually just written by the enclave, which leaves a write entry
        // (and maybe no read entry): a write entry maps the same frame (writable pages are
        // readable), so it serves a read as well.
        if let Some(p) = arg_in_tlb(&e.hart, va, false).or_else(|| arg_in_tlb(&e.hart, va, true)) {
            // SAFETY: the entry maps the page to a live frame of this enclave and the 48 bytes
            // lie inside it (checked above); nothing else accesses the enclave now (we hold it).
            unsafe { std::ptr::copy_nonoverlapping(p as *const u8, b.as_mut_ptr(), CALL_ARG_SIZE) };
            return Some(CallArg::from_bytes(&b));
        }
        let [(pa, n), (pb, m)] = arg_pieces(e, va)?;
        if !e.bus.read(pa, &mut b[..n]) || (m > 0 && !e.bus.read(pb, &mut b[n..])) {
            return None;
        }
        Some(CallArg::from_bytes(&b))
    }

    fn from_bytes(b: &[u8; CALL_ARG_SIZE]) -> CallArg {
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        CallArg { req_arg: w(0), resp_val: w(1), req_vaddr: w(2), req_size: w(3), resp_vaddr: w(4), resp_size: w(5) }
    }

    /// Writes the argument back to `va` in `e`; false (nothing written) if a byte is unmapped.
    /// A data store: the hart's translations are dropped only when a frame was (re)created
    /// (copy-on-write), decoded code of the page always.
    pub fn write(self, e: &mut Enclave, va: u64) -> bool {
        let b = self.to_bytes();
        if let Some(p) = arg_in_tlb(&e.hart, va, true) {
            // SAFETY: as in `read`; a write entry exists only for a frame private to this
            // enclave that holds no decoded code, so a store there needs no invalidation (as a
            // store of the enclave's own through the same entry).
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), p, CALL_ARG_SIZE) };
            return true;
        }
        let Some([(pa, n), (pb, m)]) = arg_pieces(e, va) else { return false };
        for (p, chunk) in [(pa, &b[..n]), (pb, &b[n..n + m])] {
            if chunk.is_empty() {
                continue;
            }
            write_phys(e, p, chunk);
        }
        true
    }

    pub fn to_bytes(self) -> [u8; CALL_ARG_SIZE] {
        let mut b = [0u8; CALL_ARG_SIZE];
        for (i, v) in [self.req_arg, self.resp_val, self.req_vaddr, self.req_size, self.resp_vaddr, self.resp_size].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}
