/* caller: the client of the Penglai SDK's IPC demo, written against our guest SDK.
 *
 * It looks for the server "test-server1" (else "test-server"), maps a 16 KiB region of ints
 * set to 1 and calls the server with req_arg 0x19960000, handing the region over. While the
 * server runs, the region belongs to it; when the call returns the caller reads what came back
 * (the region, which each server along the chain may have changed, and the server's response
 * region) and prints the sums and the server's answer (resp_val). Exits with 0, or -1 when no
 * server exists.
 *   with test-server1 -> test-server: the region comes back as 2s (sum 0x2000), the response
 *   region holds 2s (sum 0x2000), server1 answers 3. */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

#define REQ_ARG 0x19960000UL
#define REGION (4 * 4096UL)

static unsigned long sum_ints(const int *p, unsigned long bytes)
{
	unsigned long sum = 0;
	for (unsigned long i = 0; i < bytes / sizeof(int); i++)
		sum += p[i];
	return sum;
}

int EAPP_ENTRY main(void)
{
	eapp_print("caller begin to run...\n");
	int via_server1 = 1;
	unsigned long handle = acquire_enclave("test-server1");
	if (handle == -1UL) {
		handle = acquire_enclave("test-server");
		via_server1 = 0;
	}
	if (handle == -1UL) {
		eapp_print("caller: no server enclave\n");
		EAPP_RETURN(-1UL);
	}
	int *nums = eapp_mmap(0, REGION);
	if (nums == 0)
		EAPP_RETURN(-1UL);
	for (unsigned long i = 0; i < REGION / sizeof(int); i++)
		nums[i] = 1;

	struct call_enclave_arg_t arg = {0};
	arg.req_arg = REQ_ARG;
	arg.req_vaddr = (unsigned long)nums;
	arg.req_size = REGION;
	unsigned long r = call_enclave(handle, &arg);
	if (r != 0) {
		eapp_print("caller: call_enclave failed: %ld\n", (long)r);
		EAPP_RETURN(r);
	}
	if (arg.req_vaddr)
		eapp_print("caller: read req_vaddr after calling server:0x%lx\n",
		           sum_ints((int *)arg.req_vaddr, REGION));
	if (arg.resp_vaddr)
		eapp_print("caller: read resp_vaddr after calling server:0x%lx\n",
		           sum_ints((int *)arg.resp_vaddr, arg.resp_size));
	eapp_print("caller: get %s retval:0x%lx\n", via_server1 ? "server1" : "server", arg.resp_val);
	EAPP_RETURN(0);
}
