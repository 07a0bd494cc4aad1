//! Fixed numbers of the Penglai-TVM ABI (docs/abi.md §1, §3, Appendix A).

pub const PAGE: u64 = 4096;

/// Where `app.lds` puts `.text`.
pub const TEXT_BASE: u64 = 0x1000;
/// Initial program break; the heap grows up.
pub const HEAP_BASE: u64 = 0x10_0000_0000;
/// Exclusive upper bound of the mmap area; regions are placed downward from it.
pub const MMAP_BASE: u64 = 0x30_0000_0000;
/// Stack top = initial `sp`.
pub const STACK_BASE: u64 = 0x38_0000_0000;
pub const DEFAULT_STACK_SIZE: u64 = 0x10000;
/// Base of relay pages ("mm args", schrodinger pages); grows up.
pub const MM_ARG_BASE: u64 = 0x38_0000_0000;
/// Host <-> enclave shared memory.
pub const SHM_BASE: u64 = 0x39_0000_0000;
/// The print buffer shared with the driver.
pub const KBUFFER: u64 = 0xFFFF_FFE0_0000_0000;
pub const KBUFFER_SIZE: u64 = 0x1000;
/// Print buffer limit: 511 printable bytes, byte 511 forced to 0.
pub const PRINT_LIMIT: usize = 511;

/// Pointer (non-leaf) entry.
pub const PTE_POINTER: u64 = 0x01;
/// ELF page of a writable segment, NOBITS section page: V R W X U A D.
pub const PTE_IMAGE_RWX: u64 = 0xDF;
/// ELF page of a segment without PF_W: V R X U A D.
pub const PTE_IMAGE_RX: u64 = 0xDB;
/// Stack, kbuffer, shm, relay, mmap, heap: V R W U A D.
pub const PTE_DATA: u64 = 0xD7;

/// `a6` of an enclave call (the enclave-side SBI extension).
pub const SBI_EXT_PENGLAI_ENCLAVE: u64 = 0x100101;
/// Linux `ioctl`: the one non-Penglai ecall the monitor tolerates.
pub const LINUX_IOCTL: u64 = 29;

pub mod fid {
    pub const EXIT: u64 = 99;
    pub const OCALL: u64 = 98;
    pub const ACQUIRE: u64 = 97;
    pub const CALL: u64 = 96;
    pub const RETURN: u64 = 95;
    pub const GET_REPORT: u64 = 94;
    pub const ASYN_CALL: u64 = 93;
    pub const SPLIT_MEM_REGION: u64 = 92;
    pub const GET_CALLER_ID: u64 = 91;
    pub const GET_ENCLAVE_ID: u64 = 90;
    pub const YIELD: u64 = 89;
    pub const GET_KEY: u64 = 88;
    pub const SHM_ATTACH: u64 = 84;
    pub const SHM_STAT: u64 = 83;
}

pub mod ocall {
    pub const MMAP: u64 = 1;
    pub const UNMAP: u64 = 2;
    pub const SYS_WRITE: u64 = 3;
    pub const SBRK: u64 = 4;
    pub const READ_SECT: u64 = 5;
    pub const WRITE_SECT: u64 = 6;
    pub const RETURN_RELAY_PAGE: u64 = 7;
    pub const GETRANDOM: u64 = 8;
    pub const SHM_GET: u64 = 9;
    pub const SHM_DETACH: u64 = 10;
    pub const SHM_DESTROY: u64 = 11;
    pub const SHM_EXTEND_MEMORY: u64 = 12;
    /// Ids the monitor knows; only other ids may be forwarded to host-registered handlers.
    pub const LAST_KNOWN: u64 = 12;
    /// pltvm extension (not Penglai): `pl_fuzz_input`, the fuzzer's deferred snapshot point
    /// (docs/fuzzing.md). pltvm's own OCALL ids are `0x504C_xxxx` ("PL"), far from Penglai's
    /// 1-12; like any id past those, the monitor forwards it only to a host that handles it.
    pub const PL_FUZZ_INPUT: u64 = 0x504C_0001;
}

/// Driver limits of `PENGLAI_ENCLAVE_IOC_CREATE_ENCLAVE`.
pub const MAX_ELF_MEM: u64 = 512 << 20;
pub const MAX_STACK: u64 = 64 << 20;
/// Spare pages the driver adds to every block (page tables, monitor free list).
pub const BLOCK_SPARE_PAGES: u64 = 256;

/// Driver ids (`user_param.eid`): an IDR range, lowest free first.
pub const DRIVER_ID_MIN: u32 = 0x1000;
pub const DRIVER_ID_END: u32 = 0xFFFF;
/// Relay regions an enclave may hold.
pub const RELAY_PAGE_NUM: usize = 10;
/// The driver reserves 4096 pages at load time for relay regions (the schrodinger pool): no
/// enclave can hold more relay memory than that.
pub const RELAY_POOL: u64 = 4096 * PAGE;
/// Host shm is mapped from [`SHM_BASE`] up; Sv39's lower half ends at 2^38.
pub const SHM_LIMIT: u64 = (1 << 38) - SHM_BASE;
/// `OCALL_READ_SECT`/`OCALL_WRITE_SECT` sector numbers are below this: 16 TiB of file, the
/// largest ext4 file. Larger offsets are absurd (and on file systems that allow them would make
/// sparse files of petabytes).
pub const MAX_SECTORS: u64 = 1 << 32;

/// Enclave types (`enclave_args.type`).
pub const NORMAL_ENCLAVE: u32 = 0;
pub const SERVER_ENCLAVE: u32 = 1;
pub const SHADOW_ENCLAVE: u32 = 2;

/// Physical placement inside one enclave's own physical address space. Physical addresses are
/// invisible to the enclave (U-mode cannot read `satp`) and are not measured, so each enclave
/// has its own space: the driver block at [`BLOCK_PA`], host allocations (kbuffer, shm, relay
/// pages, mmap/heap blocks) placed first-fit from [`HOST_PA`] (space given back is used again),
/// each aligned to its power-of-two size as the kernel's buddy allocator would.
pub const BLOCK_PA: u64 = 0x1_0000_0000;
pub const HOST_PA: u64 = 0x10_0000_0000;
/// End of the physical space (the frame tree holds 48-bit physical addresses).
pub const HOST_PA_END: u64 = crate::mem::MAX_PPN << 12;
