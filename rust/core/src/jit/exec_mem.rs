//! Executable memory for one compiled block: its own anonymous mapping, written while
//! read-write, then switched to read-execute (never writable and executable at once), and
//! unmapped when the block is dropped.
//!
//! One mapping per block (a page or two) wastes a little memory but makes freeing exact: a
//! block's code lives exactly as long as its decoded block, which the decode cache already
//! drops on every code-page write, `fence.i` and cache reset, and frees only between slices,
//! when no block is executing.

pub struct ExecMem {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and is read-only code after `new`.
unsafe impl Send for ExecMem {}
unsafe impl Sync for ExecMem {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 { 4096 } else { p as usize }
}

impl ExecMem {
    /// Copies `code` into a fresh executable mapping; None if the host refuses the mapping.
    pub fn new(code: &[u8]) -> Option<ExecMem> {
        if code.is_empty() {
            return None;
        }
        let page = page_size();
        let len = code.len().div_ceil(page) * page;
        // SAFETY: a fresh private anonymous mapping; we check for failure before using it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return None;
            }
            std::ptr::copy_nonoverlapping(code.as_ptr(), p as *mut u8, code.len());
            if libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                libc::munmap(p, len);
                return None;
            }
            // Other architectures need the instruction cache made coherent with the copy; x86-64
            // keeps it coherent itself, and the aarch64 case goes through the compiler builtin.
            #[cfg(target_arch = "aarch64")]
            clear_cache(p as *mut u8, len);
            Some(ExecMem { ptr: p as *mut u8, len })
        }
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }
}

#[cfg(target_arch = "aarch64")]
fn clear_cache(start: *mut u8, len: usize) {
    extern "C" {
        fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
    }
    // SAFETY: the range is our own mapping.
    unsafe { __clear_cache(start as *mut libc::c_char, start.add(len) as *mut libc::c_char) };
}

impl Drop for ExecMem {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once; no compiled code runs while blocks are freed.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}
