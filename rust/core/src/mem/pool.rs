//! A per-thread pool of frame allocations.
//!
//! A fork instance allocates a few frames (its stack, its kbuffer, the pages it writes) and frees
//! them when it is destroyed, on the same thread, thousands of times a second. A 4 KiB `Arc`
//! allocation is above the allocator's per-thread caches, so each one went through its shared
//! bins; the pool hands the same allocations back instead. Only frames this thread alone owned
//! enter the pool, and a pooled frame is overwritten (zeroed or copied into) before it is used,
//! so nothing of one instance's data reaches another.
use super::{Frame, PAGE_SIZE};
use std::cell::RefCell;
use std::sync::Arc;

/// Frames kept per thread: enough for the private frames of a few instances; a larger burst
/// of frees goes back to the allocator.
const POOL_FRAMES: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Arc<Frame>>> = const { RefCell::new(Vec::new()) };
}

fn take() -> Option<Arc<Frame>> {
    POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop())).ok().flatten()
}

/// A zeroed frame.
pub(super) fn zeroed() -> Arc<Frame> {
    match take() {
        Some(mut f) => {
            Arc::get_mut(&mut f).expect("pooled frames are unshared").fill(0);
            f
        }
        None => Arc::new([0u8; PAGE_SIZE]),
    }
}

/// A frame holding a copy of `src`.
pub(super) fn copy_of(src: &Frame) -> Arc<Frame> {
    match take() {
        Some(mut f) => {
            Arc::get_mut(&mut f).expect("pooled frames are unshared").copy_from_slice(src);
            f
        }
        None => Arc::new(*src),
    }
}

/// Gives `f` back: kept for reuse if this was its last reference and the pool has room,
/// otherwise dropped as usual (a shared frame just loses one reference).
pub(super) fn give(f: Arc<Frame>) {
    if Arc::strong_count(&f) != 1 || Arc::weak_count(&f) != 0 {
        return;
    }
    let _ = POOL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.len() < POOL_FRAMES {
                p.push(f);
            }
        }
    });
}

#[cfg(test)]
pub(super) fn pooled() -> usize {
    POOL.with(|p| p.borrow().len())
}
