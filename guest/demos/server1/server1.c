/* server1: the middle server of the Penglai SDK's IPC demo, written against our guest SDK.
 * Create it as a SERVER_ENCLAVE named "test-server1" next to "test-server".
 *
 * It adds one to each int of the region it is handed, asks the monitor for a report on
 * "test-server" (nonce 1) and prints the first words of its signature, then calls test-server
 * itself, passing the region on. It answers its own caller with resp_val 3, the region it got
 * back and the response region test-server gave it. */
#include "eapp.h"
#include "attest.h"
#include "ocall.h"
#include "print.h"

static struct report_t report;

int EAPP_ENTRY main(unsigned long req_arg, unsigned long vaddr, unsigned long size)
{
	eapp_print("server1: begin to run\n");
	unsigned long sum = req_arg;
	if (vaddr) {
		int *nums = (int *)vaddr;
		for (unsigned long i = 0; i < size / sizeof(int); i++) {
			sum += nums[i];
			nums[i] += 1;
		}
	}
	eapp_print("server1: get the server enclave report\n");
	if (get_report("test-server", &report, 1) == 0) {
		const unsigned int *w = (const unsigned int *)report.enclave.signature;
		eapp_print("server1: signature %x %x %x %x\n", w[0], w[1], w[2], w[3]);
	}
	struct call_enclave_arg_t arg = {0};
	unsigned long handle = acquire_enclave("test-server");
	eapp_print("server1: server_handle:0x%lx\n", handle);
	if (handle == -1UL) {
		arg.resp_val = -1UL;
		SERVER_RETURN(&arg);
	}
	arg.req_arg = req_arg;
	arg.req_vaddr = vaddr;
	arg.req_size = size;
	call_enclave(handle, &arg);
	eapp_print("server1: read req_vaddr:0x%lx\n", sum);
	if (arg.resp_vaddr) {
		const int *nums = (const int *)arg.resp_vaddr;
		sum = req_arg;
		for (unsigned long i = 0; i < arg.resp_size / sizeof(int); i++)
			sum += nums[i];
		eapp_print("server1: read resp_vaddr:0x%lx\n", sum);
	}
	arg.resp_val = 3;
	eapp_print("server1: exit with retval:0x%lx\n", 3UL);
	SERVER_RETURN(&arg);
	return 0;
}
