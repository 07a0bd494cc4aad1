/* ipc-server: a programmable server for tests of enclave-to-enclave calls. req_arg & 0xff
 * selects what a call does:
 *   0 info: answers with a fresh one-page response region holding, as 64-bit words, a0..a4 at
 *     entry, sp at entry, get_enclave_id(), get_caller_id(), the OR of every other entry
 *     register (0: they were zeroed) and the sum of the ints of the region it was handed; adds
 *     one to each of those ints and gives the region back; resp_val 0x600d.
 *   1 keep: keeps the region (req_vaddr 0 in the answer); resp_val 1.
 *   2 fault: stores to address 8 (unmapped): the monitor destroys this server.
 *   3 print: prints a line through the top caller's print buffer; resp_val 3.
 *   4 ocall: OCALL 100 (1, 2, 3) to the top caller's host; resp_val = its answer.
 *   5 nested: calls the server "ipc-b" with req_arg = (req_arg >> 8) & 0xff, handing the region
 *     on; answers with what came back, resp_val = call result << 32 | low half of b's resp_val.
 *   6 reenter: calls itself; resp_val = call_enclave's result (-2, busy).
 *   7 exit: EAPP_RETURN as a raw ecall; resp_val = its result (-1).
 *   8 yield: EAPP_YIELD, then resp_val 8.
 *   9 spin: loops forever.
 *   10 bad return: SERVER_RETURN with unmapped and wrapping pointers first; resp_val = the
 *     OR of their results (-1 each), then a normal return.
 *   11 relay: writes 33333 to the first int of the region (relay page 0) and gives it back.
 *   12 count: resp_val = how many calls this server has served (state kept across calls). */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

static unsigned long served;

int EAPP_ENTRY main(unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
                    unsigned long a4)
{
	struct call_enclave_arg_t ret = {0};
	unsigned long op = a0 & 0xff;
	served++;
	ret.req_vaddr = a1;
	ret.req_size = a2;
	switch (op) {
	case 0: {
		unsigned long *w = eapp_mmap(0, 4096);
		unsigned long sum = 0, other = 0;
		for (int r = 1; r < 32; r++)
			if (r != 2 && (r < 10 || r > 14))
				other |= __eapp_args[r];
		if (a1) {
			int *nums = (int *)a1;
			for (unsigned long i = 0; i < a2 / sizeof(int); i++) {
				sum += nums[i];
				nums[i] += 1;
			}
		}
		if (w) {
			w[0] = a0; w[1] = a1; w[2] = a2; w[3] = a3; w[4] = a4;
			w[5] = __eapp_args[2];
			w[6] = (unsigned long)(long)get_enclave_id();
			w[7] = (unsigned long)(long)get_caller_id();
			w[8] = other;
			w[9] = sum;
			ret.resp_vaddr = (unsigned long)w;
			ret.resp_size = 4096;
		}
		ret.resp_val = 0x600d;
		break;
	}
	case 1:
		ret.req_vaddr = 0;
		ret.resp_val = 1;
		break;
	case 2:
		__asm__ __volatile__("sw zero, 8(zero)" ::: "memory");
		break;
	case 3:
		eapp_print("ipc-server: print from a callee\n");
		ret.resp_val = 3;
		break;
	case 4:
		ret.resp_val = eapp_ocall(100, 1, 2, 3);
		break;
	case 5: {
		struct call_enclave_arg_t arg = {0};
		unsigned long h = acquire_enclave("ipc-b");
		arg.req_arg = (a0 >> 8) & 0xff;
		arg.req_vaddr = a1;
		arg.req_size = a2;
		unsigned long r = call_enclave(h, &arg);
		ret.req_vaddr = arg.req_vaddr;
		ret.req_size = arg.req_size;
		ret.resp_vaddr = arg.resp_vaddr;
		ret.resp_size = arg.resp_size;
		ret.resp_val = (r << 32) | (arg.resp_val & 0xffffffffUL);
		break;
	}
	case 6: {
		struct call_enclave_arg_t arg = {0};
		ret.resp_val = call_enclave((unsigned long)(long)get_enclave_id(), &arg);
		break;
	}
	case 7:
		ret.resp_val = eapp_ecall(SYS_eret, 5, 0, 0, 0);
		break;
	case 8:
		EAPP_YIELD();
		ret.resp_val = 8;
		break;
	case 9:
		for (;;)
			__asm__ __volatile__("");
	case 10:
		ret.resp_val = eapp_ecall(SYS_enclave_return, 8, 0, 0, 0) |
		               eapp_ecall(SYS_enclave_return, -8UL, 0, 0, 0) |
		               eapp_ecall(SYS_enclave_return, 1UL << 40, 0, 0, 0);
		break;
	case 11:
		if (a1)
			*(volatile int *)a1 = 33333;
		ret.resp_val = 11;
		break;
	case 12:
		ret.resp_val = served;
		break;
	}
	SERVER_RETURN(&ret);
	return 0;
}
