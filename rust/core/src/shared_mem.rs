//! Pages that several physical address spaces map at once and that are written in place: the
//! frames of a secure shared-memory segment (monitor/secure_shm.rs).
//!
//! Why not [`PhysMem`](crate::mem::PhysMem) frames: a frame tree shares a frame between two
//! spaces only until one of them writes (copy-on-write, what fork needs). A shared segment must
//! do the opposite: a store by one enclave is seen by every other enclave that maps it. So the
//! segment is one zeroed allocation at a fixed host address, reference counted (`Arc`): each
//! bus that maps it holds a reference, and the memory goes when the last one lets go.
//!
//! Concurrency: enclaves attached to one segment may run on different host threads. Their
//! loads and stores reach these bytes through the hart's host pointers as plain memory
//! accesses, as on a machine whose harts share RAM: nothing orders them beyond what the host
//! CPU does, and an AMO or LR/SC of one hart is not atomic against another thread's hart
//! (docs/ipc.md says so). Nothing in the emulator itself depends on the bytes.
use crate::mem::PAGE_SIZE;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::Arc;

/// `pages` zeroed pages at a fixed host address.
pub struct SharedFrames {
    ptr: NonNull<u8>,
    pages: u64,
}

// SAFETY: the allocation is owned by this value and freed only by its `Drop`; the bytes are
// guest memory that any thread may read or write (see the module comment).
unsafe impl Send for SharedFrames {}
unsafe impl Sync for SharedFrames {}

impl SharedFrames {
    /// `pages` zeroed pages, or `None` if `pages` is 0, the size does not fit the host's address
    /// space, or the host has no memory for it (no abort: a guest chooses the size).
    pub fn new(pages: u64) -> Option<Arc<SharedFrames>> {
        let bytes = usize::try_from(pages).ok()?.checked_mul(PAGE_SIZE)?;
        let layout = Layout::from_size_align(bytes, PAGE_SIZE).ok()?;
        if bytes == 0 {
            return None;
        }
        // SAFETY: the layout has a non-zero size. Large zeroed allocations are mapped lazily
        // by the host, so untouched pages cost no memory.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(Arc::new(SharedFrames { ptr, pages }))
    }

    pub fn pages(&self) -> u64 {
        self.pages
    }

    pub fn bytes(&self) -> u64 {
        self.pages * PAGE_SIZE as u64
    }

    /// Host address of page `i` (`None` past the end). Valid as long as this value lives.
    pub fn page(&self, i: u64) -> Option<*mut u8> {
        // SAFETY: `i < pages`, so the offset stays inside the allocation.
        (i < self.pages).then(|| unsafe { self.ptr.as_ptr().add(i as usize * PAGE_SIZE) })
    }
}

impl Drop for SharedFrames {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.pages as usize * PAGE_SIZE, PAGE_SIZE).expect("made by new");
        // SAFETY: allocated in `new` with this layout; nothing else frees it.
        unsafe { dealloc(self.ptr.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_pages_written_in_place_and_shared_by_reference() {
        let f = SharedFrames::new(3).unwrap();
        assert_eq!((f.pages(), f.bytes()), (3, 3 * 4096));
        let g = Arc::clone(&f);
        let p = f.page(2).unwrap();
        // SAFETY: page 2 is inside the allocation, 4096 bytes long.
        unsafe {
            assert!(std::slice::from_raw_parts(p, 4096).iter().all(|&b| b == 0));
            *p.add(7) = 0x5a;
            assert_eq!(*g.page(2).unwrap().add(7), 0x5a, "the other holder sees the store");
        }
        assert!(f.page(3).is_none());
        assert_eq!(f.page(1).unwrap() as usize - f.page(0).unwrap() as usize, 4096);
    }

    #[test]
    fn impossible_sizes_are_none_not_an_abort() {
        assert!(SharedFrames::new(0).is_none());
        assert!(SharedFrames::new(u64::MAX).is_none());
        assert!(SharedFrames::new(1 << 52).is_none(), "2^64 bytes");
        assert!(SharedFrames::new((1 << 51) - 1).is_none(), "no host has 2^63 bytes");
    }
}
