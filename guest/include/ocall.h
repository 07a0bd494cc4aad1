/*
 * ocall.h - pltvm guest SDK: OCALLs (ecall 98, a0 = OCALL id), docs/abi.md §3.4/§3.5.
 */
#ifndef PLTVM_OCALL_H
#define PLTVM_OCALL_H

#include "eapp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OCALL_MMAP               1
#define OCALL_UNMAP              2
#define OCALL_SYS_WRITE          3
#define OCALL_SBRK               4
#define OCALL_READ_SECT          5
#define OCALL_WRITE_SECT         6
#define OCALL_RETURN_RELAY_PAGE  7
#define OCALL_GETRANDOM          8
#define OCALL_SHM_GET            9
#define OCALL_SHM_DETACH         10
#define OCALL_SHM_DESTROY        11
#define OCALL_SHM_EXTEND_MEMORY  12

/* Legacy constants of the SDK headers (unused by live code paths). */
#define DEFAULT_UNTRUSTED_PTR    0x0000001000000000UL
#define DEFAULT_UNTRUSTED_SIZE   8192UL
#define DEFAULT_HEAP_ADDR        0x0000001000000000UL

/* Raw OCALL: a7 = 98, a0 = id, a1..a3 = arguments; returns a0. */
static inline unsigned long eapp_ocall(unsigned long id, unsigned long arg1, unsigned long arg2,
                                       unsigned long arg3)
{
	return eapp_ecall(SYS_ocall, id, arg1, arg2, arg3);
}

/* OCALL_MMAP: map at least `size` bytes (the monitor maps 2^k-1 pages, [B15]) at `vaddr` or,
 * with vaddr == NULL, just below the lowest mmap region under 0x30_0000_0000. Returns the region
 * start, or NULL if the monitor refused (the SDK retries forever; we print the SDK's warning
 * once and return NULL). */
void *eapp_mmap(void *vaddr, unsigned long size);
/* OCALL_UNMAP: releases the whole mmap region containing [vaddr, vaddr+size) [B16]; 0 / -1. */
int eapp_unmap(void *vaddr, unsigned long size);
/* OCALL_RETURN_RELAY_PAGE: hand the relay page(s) back to the host; the host's run returns 1,
 * and when it re-runs the enclave continues here with the page re-mapped at
 * 0x38_0000_0000. Returns 0. */
unsigned long eapp_return_relay_page(void);
/* OCALL_READ_SECT / OCALL_WRITE_SECT: 4 KiB sector <-> persistency shm; 0 / -1. */
int eapp_persistency_read_sec(int sec);
int eapp_persistency_write_sec(int sec);
/* OCALL_SBRK, raw: incr must be a multiple of 4096; returns the NEW heap top (Penglai
 * semantics, [B15]) or -1. Do not mix with sbrk()/malloc(), which keep their own break. */
long eapp_sbrk(long incr);
/* POSIX sbrk on top of OCALL_SBRK: any increment, returns the OLD break, (void *)-1 on failure.
 * The heap starts at 0x10_0000_0000; memory given back with a negative increment stays mapped. */
void *sbrk(long incr);
/* OCALL_GETRANDOM: fill buf with len bytes from the monitor's generator; returns len.
 * a6 is always set to 0x100101 here (cf. [B10]). */
long getrandom(void *buf, unsigned long len, unsigned int flags);
long eapp_getrandom(void *buf, unsigned long len);
/* Secure shm OCALLs (§3.5): get returns the VA or -1 (0 under the SDK driver [B29]). */
unsigned long eapp_shm_get(unsigned long key, unsigned long size);
long eapp_shm_detach(unsigned long key);
long eapp_shm_destroy(unsigned long key);

#ifdef __cplusplus
}
#endif

#endif /* PLTVM_OCALL_H */
