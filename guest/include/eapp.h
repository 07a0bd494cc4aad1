/*
 * eapp.h - pltvm guest SDK, enclave-side API with the Penglai-TVM SDK's names.
 *
 * Our own implementation written from docs/abi.md (§1, §2, §3, §9, §10). Numbers and
 * register conventions follow that document: enclave calls are `ecall` with a7 = function
 * number and a6 = 0x100101; arguments in a0..a3; the result comes back in a0 only.
 *
 * Entry: _start (lib/entry.S) is placed at 0x1000 and calls
 *     main(shm_va, shm_size, run_counter, relay_va, relay_size)
 * with the monitor's entry values of a0..a4. SDK-style sources that declare
 *     int EAPP_ENTRY main() { unsigned long *args; EAPP_RESERVE_REG; ... args[13] ... }
 * work unchanged at any optimisation level: args[n] is register xn at entry.
 */
#ifndef PLTVM_EAPP_H
#define PLTVM_EAPP_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- virtual memory layout (§1.1) ---- */
#define ENCLAVE_DEFAULT_TEXT_BASE     0x0000000000001000UL
#define ENCLAVE_DEFAULT_HEAP_BASE     0x0000001000000000UL
#define ENCLAVE_DEFAULT_MMAP_BASE     0x0000003000000000UL
#define ENCLAVE_DEFAULT_STACK_BASE    0x0000003800000000UL
#define ENCLAVE_DEFAULT_STACK_SIZE    0x10000UL
#define ENCLAVE_DEFAULT_MM_ARG_BASE   0x0000003800000000UL
#define ENCLAVE_DEFAULT_SHM_BASE      0x0000003900000000UL
#define ENCLAVE_DEFAULT_SEC_SHM_BASE  0x0000004000000000UL
#define ENCLAVE_DEFAULT_KBUFFER       0xFFFFFFE000000000UL
#define ENCLAVE_DEFAULT_KBUFFER_SIZE  0x1000UL
#define RISCV_PGSIZE                  0x1000UL

/* ---- enclave -> monitor calls (§3.2) ---- */
#define SBI_EXT_PENGLAI_ENCLAVE  0x100101UL
#define SYS_eret                 99
#define SYS_ocall                98
#define SYS_acquire_enclave      97
#define SYS_call_enclave         96
#define SYS_enclave_return       95
#define SYS_get_report           94
#define SYS_asyn_enclave_call    93
#define SYS_asyn_ecnlave_call    93   /* the SDK's spelling */
#define SYS_split_mem_region     92
#define SYS_get_caller_id        91
#define SYS_get_enclave_id       90
#define SYS_yield                89
#define SYS_get_key              88
#define SYS_shm_attach           84
#define SYS_shm_stat             83

/* Function tagged as the enclave entry (placed right after _start at 0x1000). */
#define EAPP_ENTRY __attribute__((section(".text._start")))

/* Register block saved by _start: __eapp_args[n] = xn at entry (n = 0..31, [2] = entry sp). */
extern unsigned long *__eapp_args;
/* SDK compatibility: `unsigned long *args; EAPP_RESERVE_REG;` -> args[10..14] = a0..a4. */
#define EAPP_RESERVE_REG (args = __eapp_args)

/* Raw enclave call: a7 = fid, a6 = 0x100101, a0..a3 = arguments; returns a0. */
static inline unsigned long eapp_ecall(unsigned long fid, unsigned long arg0, unsigned long arg1,
                                       unsigned long arg2, unsigned long arg3)
{
	register unsigned long a0 __asm__("a0") = arg0;
	register unsigned long a1 __asm__("a1") = arg1;
	register unsigned long a2 __asm__("a2") = arg2;
	register unsigned long a3 __asm__("a3") = arg3;
	register unsigned long a6 __asm__("a6") = SBI_EXT_PENGLAI_ENCLAVE;
	register unsigned long a7 __asm__("a7") = fid;
	__asm__ __volatile__("ecall"
	                     : "+r"(a0)
	                     : "r"(a1), "r"(a2), "r"(a3), "r"(a6), "r"(a7)
	                     : "memory");
	return a0;
}

/* Terminate the enclave (ecall 99, a0 = retval); pending stdout text is flushed first.
 * Never returns: in a server enclave (where the monitor refuses with -1, [B26]) it executes an
 * illegal instruction instead of running on. */
void EAPP_RETURN(unsigned long retval) __attribute__((noreturn));

/* Yield to the host (ecall 89); returns when resumed (a0 unchanged). */
unsigned long EAPP_YIELD(void);

/* Monitor eid of the running enclave (ecall 90); -1 if not running. */
int get_enclave_id(void);
/* Caller's eid in a server call (ecall 91; real Penglai always returns 0 [B2]). */
int get_caller_id(void);

/* ---- server enclaves and calls (§9) ---- */
typedef struct call_enclave_arg_t {
	unsigned long req_arg;
	unsigned long resp_val;
	unsigned long req_vaddr;
	unsigned long req_size;
	unsigned long resp_vaddr;
	unsigned long resp_size;
} call_enclave_arg_t;

unsigned long acquire_enclave(char *name);                                   /* 97 */
unsigned long call_enclave(unsigned long handle, struct call_enclave_arg_t *arg); /* 96 */
unsigned long SERVER_RETURN(struct call_enclave_arg_t *arg);                 /* 95 */
unsigned long asyn_enclave_call(char *name, struct call_enclave_arg_t *arg); /* 93 */
unsigned long split_mem_region(unsigned long mem_addr, unsigned long mem_size,
                               unsigned long split_addr);                    /* 92 */

/* Secure shm calls without an SDK wrapper (§3.5): attach (84) returns the VA or 0;
 * stat (83) writes {ref_count, size} to stat[0..1] and returns 0 / -1. */
unsigned long eapp_shm_attach(unsigned long key);
unsigned long eapp_shm_stat(unsigned long key, unsigned long stat[2]);

#ifdef __cplusplus
}
#endif

#endif /* PLTVM_EAPP_H */
