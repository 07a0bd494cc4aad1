/* ipc-client: a programmable caller for tests of enclave-to-enclave calls. The host puts the
 * request in the first words of the shm (W[i] = 64-bit word i at 0x39_0000_0000) and reads the
 * results from the shm after the run.
 *
 * W[0] = 1, one call (repeated W[5] times, at least once):
 *   W[1] handle, or -1 to acquire the server named by the string at shm byte 512;
 *   W[2] req_arg; W[3] bytes of a fresh mmap region of ints 1 to hand over (0: none);
 *   W[4] flags: 1 = read the region's first int after the call (faults if the region did not
 *                   come back), 2 = hand over relay region 0 instead (req_vaddr 0x38_0000_0000);
 *   results: W[8] handle, W[9] call_enclave's result, W[10] resp_val, W[11] req_vaddr,
 *   W[12] req_size, W[13] resp_vaddr, W[14] resp_size (as the call left them), W[15] sum of
 *   the ints of the returned region, W[16] sum of the ints of the response region, W[17] the
 *   region's VA before the call, W[18] first int of the relay page after the call,
 *   W[20] the first int read with flag 1.
 * W[0] = 2, raw enclave calls: W[1] entries at W[384] (byte 3072) of six words (a7, a0, a1, a2, a3, a0 after
 *   the ecall); pointer arguments may point into the shm.
 * Exits with 0. */
#include "eapp.h"
#include "ocall.h"

#define W ((volatile unsigned long *)ENCLAVE_DEFAULT_SHM_BASE)

static unsigned long sum_ints(unsigned long va, unsigned long bytes)
{
	const volatile int *p = (const volatile int *)va;
	unsigned long sum = 0;
	for (unsigned long i = 0; i < bytes / sizeof(int); i++)
		sum += p[i];
	return sum;
}

static void one_call(void)
{
	unsigned long handle = W[1];
	if (handle == -1UL)
		handle = acquire_enclave((char *)(ENCLAVE_DEFAULT_SHM_BASE + 512));
	W[8] = handle;
	unsigned long region = 0, size = W[3];
	if (W[4] & 2) {
		region = ENCLAVE_DEFAULT_MM_ARG_BASE;
		size = W[3];
	} else if (size) {
		int *p = eapp_mmap(0, size);
		for (unsigned long i = 0; p && i < size / sizeof(int); i++)
			p[i] = 1;
		region = (unsigned long)p;
	}
	W[17] = region;
	unsigned long times = W[5] ? W[5] : 1;
	struct call_enclave_arg_t arg = {0};
	for (unsigned long t = 0; t < times; t++) {
		arg.req_arg = W[2];
		arg.req_vaddr = region;
		arg.req_size = region ? size : 0;
		arg.resp_val = arg.resp_vaddr = arg.resp_size = 0;
		W[9] = call_enclave(handle, &arg);
	}
	W[10] = arg.resp_val;
	W[11] = arg.req_vaddr;
	W[12] = arg.req_size;
	W[13] = arg.resp_vaddr;
	W[14] = arg.resp_size;
	if (arg.req_vaddr && !(W[4] & 2))
		W[15] = sum_ints(arg.req_vaddr, size);
	if (arg.resp_vaddr)
		W[16] = sum_ints(arg.resp_vaddr, arg.resp_size);
	if (W[4] & 2)
		W[18] = *(volatile int *)ENCLAVE_DEFAULT_MM_ARG_BASE;
	if ((W[4] & 1) && region)
		W[20] = *(volatile int *)region;
}

static void raw_calls(void)
{
	volatile unsigned long *e = &W[384];
	for (unsigned long i = 0; i < W[1]; i++, e += 6)
		e[5] = eapp_ecall(e[0], e[1], e[2], e[3], e[4]);
}

int EAPP_ENTRY main(void)
{
	if (W[0] == 1)
		one_call();
	else if (W[0] == 2)
		raw_calls();
	EAPP_RETURN(0);
}
