/*
 * pltvm guest SDK: enclave calls, OCALL wrappers, POSIX sbrk, process exit.
 * Numbers and semantics: docs/abi.md §3.2 (calls), §3.4/§3.5 (OCALLs), §9 (servers).
 */
#include "eapp.h"
#include "ocall.h"
#include "attest.h"
#include "print.h"

unsigned long *__eapp_args;   /* set by _start (stored there from assembly; kept here for C) */

/* Constructors, called by _start before main. */
typedef void (*__eapp_ctor)(void);
extern __eapp_ctor __init_array_start[], __init_array_end[];

void __eapp_init(void)
{
	for (__eapp_ctor *f = __init_array_start; f < __init_array_end; f++)
		(*f)();
}

void EAPP_RETURN(unsigned long retval)
{
	eapp_flush();
	eapp_ecall(SYS_eret, retval, 0, 0, 0);
	/* Only reached in a server enclave (the monitor answers -1, [B26]): stop here with an
	 * illegal instruction rather than run on after a noreturn call. */
	for (;;)
		__asm__ __volatile__("unimp");
}

void _exit(int status)
{
	EAPP_RETURN((unsigned long)(long)status);
}

unsigned long EAPP_YIELD(void)
{
	return eapp_ecall(SYS_yield, 0, 0, 0, 0);
}

int get_enclave_id(void)
{
	return (int)eapp_ecall(SYS_get_enclave_id, 0, 0, 0, 0);
}

int get_caller_id(void)
{
	return (int)eapp_ecall(SYS_get_caller_id, 0, 0, 0, 0);
}

unsigned long acquire_enclave(char *name)
{
	return eapp_ecall(SYS_acquire_enclave, (unsigned long)name, 0, 0, 0);
}

unsigned long call_enclave(unsigned long handle, struct call_enclave_arg_t *arg)
{
	return eapp_ecall(SYS_call_enclave, handle, (unsigned long)arg, 0, 0);
}

/* SERVER_RETURN is in print.c. */

unsigned long asyn_enclave_call(char *name, struct call_enclave_arg_t *arg)
{
	return eapp_ecall(SYS_asyn_enclave_call, (unsigned long)name, (unsigned long)arg, 0, 0);
}

unsigned long split_mem_region(unsigned long mem_addr, unsigned long mem_size,
                               unsigned long split_addr)
{
	return eapp_ecall(SYS_split_mem_region, mem_addr, mem_size, split_addr, 0);
}

unsigned long eapp_shm_attach(unsigned long key)
{
	return eapp_ecall(SYS_shm_attach, key, 0, 0, 0);
}

unsigned long eapp_shm_stat(unsigned long key, unsigned long stat[2])
{
	return eapp_ecall(SYS_shm_stat, key, (unsigned long)stat, 0, 0);
}

int get_report(char *name, struct report_t *report, unsigned long nonce)
{
	return (int)eapp_ecall(SYS_get_report, (unsigned long)name, (unsigned long)report, nonce, 0);
}

int get_key(int key_type, unsigned char *key, int key_size)
{
	return (int)eapp_ecall(SYS_get_key, (unsigned long)(long)key_type, (unsigned long)key,
	                       (unsigned long)(long)key_size, 0);
}

/* ---- OCALLs ---- */

void *eapp_mmap(void *vaddr, unsigned long size)
{
	unsigned long va = eapp_ocall(OCALL_MMAP, (unsigned long)vaddr, size, 0);
	if (va == 0)
		eapp_print("[WARNING] lib: eapp_mmap is failed\n");
	return (void *)va;
}

int eapp_unmap(void *vaddr, unsigned long size)
{
	return (int)eapp_ocall(OCALL_UNMAP, (unsigned long)vaddr, size, 0);
}

unsigned long eapp_return_relay_page(void)
{
	eapp_flush();
	return eapp_ocall(OCALL_RETURN_RELAY_PAGE, 0, 0, 0);
}

int eapp_persistency_read_sec(int sec)
{
	return (int)eapp_ocall(OCALL_READ_SECT, (unsigned long)(long)sec, 0, 0);
}

int eapp_persistency_write_sec(int sec)
{
	return (int)eapp_ocall(OCALL_WRITE_SECT, (unsigned long)(long)sec, 0, 0);
}

long eapp_sbrk(long incr)
{
	return (long)eapp_ocall(OCALL_SBRK, (unsigned long)incr, 0, 0);
}

long eapp_getrandom(void *buf, unsigned long len)
{
	return (long)eapp_ocall(OCALL_GETRANDOM, (unsigned long)buf, len, 0);
}

long getrandom(void *buf, unsigned long len, unsigned int flags)
{
	return (long)eapp_ocall(OCALL_GETRANDOM, (unsigned long)buf, len, flags);
}

int getentropy(void *buf, unsigned long len)
{
	if (len > 256)
		return -1;
	return getrandom(buf, len, 0) == (long)len ? 0 : -1;
}

unsigned long eapp_shm_get(unsigned long key, unsigned long size)
{
	return eapp_ocall(OCALL_SHM_GET, key, size, 0);
}

long eapp_shm_detach(unsigned long key)
{
	return (long)eapp_ocall(OCALL_SHM_DETACH, key, 0, 0);
}

long eapp_shm_destroy(unsigned long key)
{
	return (long)eapp_ocall(OCALL_SHM_DESTROY, key, 0, 0);
}

/* ---- POSIX sbrk over OCALL_SBRK ----
 * The monitor grows the heap in regions of 2^k-1 pages mapped at the current heap top and
 * answers with the new top [B15]; sbrk(0) reads the top without leaving the enclave. We keep
 * our own break inside [start, top) and ask for more only when it runs out. */
static unsigned long brk_start, brk_cur, brk_top;

void *sbrk(long incr)
{
	if (brk_top == 0) {
		long t = eapp_sbrk(0);
		if (t == -1 || t == 0)
			return (void *)-1;
		brk_start = brk_cur = brk_top = (unsigned long)t;
	}
	unsigned long old = brk_cur;
	if (incr > 0) {
		unsigned long want = (unsigned long)incr;
		if (want > brk_top - brk_cur) {
			unsigned long need = want - (brk_top - brk_cur);
			need = (need + RISCV_PGSIZE - 1) & ~(RISCV_PGSIZE - 1);
			if (need == 0 || need > (1UL << 40))
				return (void *)-1;
			long t = eapp_sbrk((long)need);
			if (t == -1 || (unsigned long)t < brk_top + need)
				return (void *)-1;
			brk_top = (unsigned long)t;
		}
		brk_cur += want;
	} else if (incr < 0) {
		unsigned long give = -(unsigned long)incr;
		if (give > brk_cur - brk_start)
			return (void *)-1;
		brk_cur -= give;
	}
	return (void *)old;
}

/* picolibc's raise() (used by abort() and assert()) signals the process with kill(getpid()).
 * An enclave is one process: a signal to it ends the enclave with exit value 128 + sig
 * (abort() -> 134), like a shell reports a signalled process. */
int getpid(void)
{
	return 1;
}

int kill(int pid, int sig)
{
	if (pid != 1)
		return -1;
	EAPP_RETURN(128 + (unsigned long)sig);
}
