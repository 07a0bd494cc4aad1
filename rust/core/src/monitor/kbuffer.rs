//! The print buffer along a call chain (docs/ipc.md): every party of a chain has its own print
//! page at `KBUFFER`, and the page's bytes travel with each call and each return, so whatever
//! the party that runs sees there is what the top caller's host program would see.
//!
//! Most calls print nothing, and comparing two 4 KiB pages on every switch cost a round trip
//! more than the rest of the monitor's bookkeeping of the print buffer. So a run keeps a
//! [`KbClass`]: the print frames it last saw holding the same bytes, each held by one extra
//! reference. A held frame is shared, and memory writes a shared frame only by copying it first
//! (copy on write: the enclave's store, the monitor's store and a host's store alike, since no
//! write TLB entry points into a shared frame), so a held frame never changes. Two parties
//! whose current frames are both in the class therefore still hold equal bytes, and a switch
//! between them costs a few pointer compares. A party that wrote its page has a new frame, not
//! in the class: that switch compares (and copies) as before and starts a new class.
//!
//! Finding a party's current print frame is a look-up in its memory (`PhysMem::get`, some 50
//! host instructions), four per round trip. The class also remembers, for each party it found
//! in it, the memory's generation ([`crate::mem::PhysMem::generation`]) at that moment: the
//! generation is new whenever a frame of that memory is created, replaced or removed, and unique
//! across memories, so while it is unchanged the party's print frame is the very frame found
//! then, still in the class, and the look-up is skipped.
use super::consts::{KBUFFER, PAGE};
use super::enclave::Enclave;
use super::ipc::write_phys;
use crate::mem::Frame;
use std::sync::Arc;

/// Frames held at most; a longer chain starts the class again (a frame per party).
const CLASS_MAX: usize = 8;
/// Parties remembered at most (a party whose memory keeps changing elsewhere adds an entry per
/// look-up; the list starts again when full).
const SEEN_MAX: usize = 8;

/// Print frames known to hold the same bytes (see the module comment). `None` stands for a
/// frame not present in its memory, which reads as zeros (it becomes present only when
/// written, and then it is a new frame).
#[derive(Default)]
pub(super) struct KbClass {
    frames: Vec<Option<Arc<Frame>>>,
    /// `(memory generation, print page PA)` of parties whose print frame was in `frames` when
    /// their memory had that generation (see the module comment).
    seen: Vec<(u64, u64)>,
}

impl KbClass {
    #[inline]
    fn key(e: &Enclave) -> (u64, u64) {
        (e.bus.mem.generation(), e.kbuffer_pa)
    }

    fn remember(&mut self, e: &Enclave) {
        let k = Self::key(e);
        if !self.seen.contains(&k) {
            if self.seen.len() >= SEEN_MAX {
                self.seen.clear();
            }
            self.seen.push(k);
        }
    }

    /// Whether `e`'s current print frame is in the class.
    fn member(&mut self, e: &Enclave) -> bool {
        if self.seen.contains(&Self::key(e)) {
            return true;
        }
        let yes = self.holds(e.bus.mem.get(e.kbuffer_pa >> 12));
        if yes {
            self.remember(e);
        }
        yes
    }

    /// Lets go of every frame (and what was remembered of them).
    fn clear(&mut self) {
        self.frames.clear();
        self.seen.clear();
    }

    fn holds(&self, f: Option<&Arc<Frame>>) -> bool {
        self.frames.iter().any(|k| match (k, f) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        })
    }

    /// Adds `e`'s current print frame. Holding it makes it shared: no write TLB entry may point
    /// into it any more, so that the enclave's next store there copies it first. Only the entry
    /// for `KBUFFER`'s page can: the monitor maps an enclave's print frame at that one VA (every
    /// way of building an enclave does, and an enclave cannot map pages itself). When that entry
    /// is live the TLB is flushed (an epoch bump; scanning the whole write table for the frame
    /// cost a thousand entries). Usually it is not: a print ends with `OCALL_SYS_WRITE`, whose
    /// store of the final NUL flushes the TLB already.
    fn add(&mut self, e: &mut Enclave) {
        let f = e.bus.mem.get(e.kbuffer_pa >> 12).cloned();
        let vpn = KBUFFER >> 12;
        if f.is_some() && e.hart.tlb.write_entry(vpn).tag == e.hart.tlb.tag(vpn) {
            e.hart.flush_tlb();
        }
        self.frames.push(f);
        self.remember(e);
    }
}

/// Gives `to`'s print page the bytes of `from`'s (a call passes the caller's page to the callee,
/// a return the callee's back). Nothing is written when the two already hold the same bytes, so
/// neither hart loses its TLB or decoded code to a copy that changes nothing.
#[inline]
pub(super) fn copy_kbuffer(from: &mut Enclave, to: &mut Enclave, class: &mut KbClass) {
    // The usual switch: neither party's memory changed a frame since both were found in the
    // class (a few compares inline; `seen` never holds a party without a print page).
    let (f, t) = (KbClass::key(from), KbClass::key(to));
    if class.seen.contains(&f) && class.seen.contains(&t) {
        return;
    }
    copy_kbuffer_slow(from, to, class)
}

#[inline(never)]
fn copy_kbuffer_slow(from: &mut Enclave, to: &mut Enclave, class: &mut KbClass) {
    let (src, dst) = (from.kbuffer_pa, to.kbuffer_pa);
    if src == 0 || dst == 0 {
        return;
    }
    let from_known = class.member(from);
    if from_known && class.member(to) {
        return;
    }
    if !from_known || class.frames.len() >= CLASS_MAX {
        // `from` wrote its page since (or the class is full): it starts a new class. The frames
        // held so far are let go first, so `to`'s page is written in place below if it can be.
        class.clear();
        class.add(from);
    }
    let zero = |f: &Frame| f.iter().all(|&b| b == 0);
    let same = match (from.bus.mem.get(src >> 12), to.bus.mem.get(dst >> 12)) {
        (None, None) => true,
        (Some(a), Some(b)) => a[..] == b[..],
        (Some(f), None) | (None, Some(f)) => zero(f),
    };
    if !same {
        let mut page = [0u8; PAGE as usize];
        from.bus.read(src, &mut page);
        write_phys(to, dst, &page);
    }
    class.add(to);
}
