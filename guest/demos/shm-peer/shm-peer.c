/* shm-peer: a programmable enclave for tests of secure shared memory (OCALLs 9-11, calls 84/83).
 * The host writes a script into the first page of the enclave's host shm
 * (W[i] = 64-bit word i at 0x39_0000_0000) and reads the results from the shm after the run.
 *
 * W[0] = number of steps; W[1] = 1: run as a server (the script runs in every call and the call
 * is answered with resp_val = the last step's result); shm byte 192: a server name for CALL.
 * Step i is the four words W[32 + 4i .. 32 + 4i + 3] = (op, a, b, result); the enclave writes the
 * result. An argument equal to ARG_REQ (-2) is replaced by the call's req_arg (servers), one equal
 * to ARG_PREV (-3) by the previous step's result (e.g. the VA SHM_GET returned).
 *   1 GET(key, size)      -> eapp_shm_get: VA or -1
 *   2 ATTACH(key)         -> eapp_shm_attach (call 84): VA or 0
 *   3 DETACH(key)         -> 0 / -1
 *   4 DESTROY(key)        -> 0
 *   5 STAT(key, va)       -> call 83 writing {ref_count, size} at va (0: at W[8], W[9]); 0 / -1
 *   6 LOAD(va)            -> the 64-bit word at va (faults if va is not mapped)
 *   7 STORE(va, value)    -> 0, after storing value at va (faults if not mapped writable)
 *   8 PAUSE(x)            -> OCALL 100 (x) to the host; the host's answer
 *   9 CALL(req_arg)       -> call_enclave to the server named at byte 192; resp_val in W[10]
 *  10 SUM(va, n)          -> sum of n 64-bit words from va
 *  11 FILL(va, n)         -> 0, after word i from va = i + 1 (i < n)
 *  12 OCALL(id, a1)       -> raw OCALL id with a1 (a2 = a3 = 0)
 *  13 ECALL(fid, a0)      -> raw enclave call fid with a0 (a1 = a2 = a3 = 0)
 *  14 YIELD               -> EAPP_YIELD's a0
 *  15 AMOADD(va, value)   -> the old word at va, value added atomically (amoadd.d)
 *  16 WAIT(va, value)     -> 0, once the word at va equals value (spins; for enclaves that run
 *                           at the same time on different host threads)
 * A normal enclave exits with 0 after the last step. */
#include "eapp.h"
#include "ocall.h"

#define W ((volatile unsigned long *)ENCLAVE_DEFAULT_SHM_BASE)
#define ARG_REQ (-2UL)
#define ARG_PREV (-3UL)
#define MAX_STEPS 200

static unsigned long step(unsigned long op, unsigned long a, unsigned long b)
{
	switch (op) {
	case 1:
		return eapp_shm_get(a, b);
	case 2:
		return eapp_shm_attach(a);
	case 3:
		return (unsigned long)eapp_shm_detach(a);
	case 4:
		return (unsigned long)eapp_shm_destroy(a);
	case 5:
		return eapp_shm_stat(a, b ? (unsigned long *)b : (unsigned long *)&W[8]);
	case 6:
		return *(volatile unsigned long *)a;
	case 7:
		*(volatile unsigned long *)a = b;
		return 0;
	case 8:
		return eapp_ocall(100, a, 0, 0);
	case 9: {
		struct call_enclave_arg_t arg = {0};
		arg.req_arg = a;
		unsigned long handle = acquire_enclave((char *)(ENCLAVE_DEFAULT_SHM_BASE + 192));
		unsigned long r = call_enclave(handle, &arg);
		W[10] = arg.resp_val;
		return r;
	}
	case 10: {
		unsigned long sum = 0;
		for (unsigned long i = 0; i < b; i++)
			sum += ((volatile unsigned long *)a)[i];
		return sum;
	}
	case 11:
		for (unsigned long i = 0; i < b; i++)
			((volatile unsigned long *)a)[i] = i + 1;
		return 0;
	case 12:
		return eapp_ocall(a, b, 0, 0);
	case 13:
		return eapp_ecall(a, b, 0, 0, 0);
	case 14:
		return EAPP_YIELD();
	case 16:
		while (*(volatile unsigned long *)a != b)
			;
		return 0;
	case 15: {
		unsigned long old;
		__asm__ __volatile__("amoadd.d %0, %2, (%1)" : "=r"(old) : "r"(a), "r"(b) : "memory");
		return old;
	}
	}
	return -1UL;
}

static unsigned long script(unsigned long req_arg)
{
	unsigned long n = W[0] < MAX_STEPS ? W[0] : MAX_STEPS, prev = 0;
	for (unsigned long i = 0; i < n; i++) {
		volatile unsigned long *s = &W[32 + 4 * i];
		unsigned long a = s[1], b = s[2];
		if (a == ARG_REQ)
			a = req_arg;
		else if (a == ARG_PREV)
			a = prev;
		if (b == ARG_REQ)
			b = req_arg;
		else if (b == ARG_PREV)
			b = prev;
		prev = step(s[0], a, b);
		s[3] = prev;
	}
	return prev;
}

int EAPP_ENTRY main(unsigned long a0)
{
	if (W[1] == 1) {
		struct call_enclave_arg_t ret = {0};
		ret.resp_val = script(a0);
		SERVER_RETURN(&ret);
	}
	script(0);
	EAPP_RETURN(0);
}
