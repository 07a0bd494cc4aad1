//! Relay pages from an S-mode host (§9.4): a region of host RAM handed to an enclave at RUN
//! (`enclave_run_param`), at RUN_SHADOW (`mm_arg_addr`, `mm_arg_size`) or again after the
//! enclave returned it (RESUME reason 2, OCALL id 7, region in `x`, `y`).
//!
//! While the enclave holds the region it is secure exactly like an enclave block: public
//! beforehand, not partly under a 2 MiB host leaf, every host leaf mapping it loses V. The
//! enclave sees its contents at `0x38_0000_0000`. When it gives the region back
//! (OCALL_RETURN_RELAY_PAGE), exits or faults, the enclave's contents are written back into
//! the host's frames, which become public again with their leaves valid. A destroy scrubs them
//! instead (the enclave's copy is gone with it). Regions an enclave inherited by name (the
//! driver's size-0 argument) never were host frames: they are not handed to the host.
use super::enclave::HostEnclave;
use super::gpt::{Gpt, PAGE};
use super::{mem, sbi::Call};
use crate::bus::Bus;
use crate::hart::Hart;
use crate::monitor::consts::RELAY_POOL;

/// Checks the host region `[pa, pa + size)` for enclave `eid`, reads it and makes it secure
/// (recorded as the enclave's relay region). None (nothing changed) unless: both page-aligned,
/// at most the relay pool (16 MiB), a region that can become secure, clear of the memory the
/// monitor writes for the enclave (kbuffer, mailbox, `retval`, shm), and the enclave holds no
/// host relay region yet.
pub(super) fn take(c: &mut Call<'_>, eid: u64, pa: u64, size: u64) -> Option<Vec<u8>> {
    let rec: &HostEnclave = c.sys.enclaves.get(eid)?;
    if rec.relay.is_some() || size > RELAY_POOL || !pa.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
        return None;
    }
    let words = rec.host_words();
    if !words.iter().all(|&(w, n)| super::enclave::outside((pa, size), w, n)) {
        return None;
    }
    if !c.sys.gpt.can_make_secure(c.bus, pa, size) {
        return None;
    }
    let data = super::enclave::read_host(c.bus, pa, size);
    c.sys.gpt.make_secure(c.hart, c.bus, pa, size);
    c.sys.enclaves.get(eid)?.relay = Some((pa, size));
    Some(data)
}

/// Gives a host relay region back: the enclave's contents written into it when they are
/// there and of its size, else scrubbed; then public, host leaves valid again.
pub(super) fn give_back(gpt: &mut Gpt, hart: &mut Hart, bus: &mut Bus, region: (u64, u64), data: Option<&Vec<u8>>) {
    let (pa, size) = region;
    match data.filter(|d| d.len() as u64 == size) {
        Some(d) => {
            for (i, page) in d.chunks(PAGE as usize).enumerate() {
                let at = pa + i as u64 * PAGE;
                // Zero pages cost no frame.
                if page.iter().all(|&b| b == 0) {
                    mem::zero(hart, bus, at, PAGE);
                } else {
                    mem::write(hart, bus, at, page);
                }
            }
        }
        None => {
            mem::zero(hart, bus, pa, size);
        }
    }
    gpt.make_public(hart, bus, pa, size);
}
