/* server: the server of the Penglai SDK's IPC demo, written against our guest SDK. Create it
 * as a SERVER_ENCLAVE named "test-server".
 *
 * Each call starts here with a0 = req_arg, a1 = the region the caller handed over (or 0),
 * a2 = its size. It sums req_arg and the region's ints, answers with a fresh 16 KiB region of
 * 2s and resp_val 2, and gives the caller's region back unchanged. */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

#define REGION (4 * 4096UL)

int EAPP_ENTRY main(unsigned long req_arg, unsigned long vaddr, unsigned long size)
{
	eapp_print("server: begin to run\n");
	struct call_enclave_arg_t ret = {0};
	unsigned long sum = req_arg;
	if (vaddr) {
		const int *nums = (const int *)vaddr;
		for (unsigned long i = 0; i < size / sizeof(int); i++)
			sum += nums[i];
	}
	ret.req_vaddr = vaddr;
	ret.req_size = size;
	eapp_print("server: read req_vaddr:0x%lx\n", sum);

	int *resp = eapp_mmap(0, REGION);
	sum = req_arg;
	if (resp) {
		for (unsigned long i = 0; i < REGION / sizeof(int); i++) {
			resp[i] = 2;
			sum += resp[i];
		}
		ret.resp_vaddr = (unsigned long)resp;
		ret.resp_size = REGION;
	}
	eapp_print("server: read resp_vaddr:0x%lx\n", sum);
	ret.resp_val = 2;
	eapp_print("server: exit with ret:0x%lx\n", ret.resp_val);
	SERVER_RETURN(&ret);
	return 0;
}
