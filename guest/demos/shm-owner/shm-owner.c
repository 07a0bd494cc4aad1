/* shm-owner: the client half of the secure shm demo (run it with the server "shm-server",
 * created as a SERVER_ENCLAVE of that name; `pltvm.Device` or the C-API mirror).
 *
 * It creates a secure shm segment of 16 KiB under key 0x5348 ("SH"), fills its first 4096
 * ints with 1..4096 and calls shm-server with req_arg = the key. The server attaches the same
 * segment and doubles every int in place; no memory is handed over in the call. Back here the
 * owner reads its own mapping: the doubled values are already there (the pages are shared,
 * not copied). Then it destroys the segment and detaches, which frees it. */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

#define KEY 0x5348UL
#define SIZE (4 * 4096UL)
#define N 4096UL

int EAPP_ENTRY main(void)
{
	unsigned long stat[2] = {0, 0};
	int *nums = (int *)eapp_shm_get(KEY, SIZE);
	if ((unsigned long)nums == -1UL || nums == 0) {
		eapp_print("shm-owner: shm_get failed\n");
		EAPP_RETURN(1);
	}
	unsigned long sum = 0;
	for (unsigned long i = 0; i < N; i++) {
		nums[i] = (int)(i + 1);
		sum += nums[i];
	}
	eapp_shm_stat(KEY, stat);
	eapp_print("shm-owner: segment at 0x%lx, %d bytes, %d user(s), sum %d\n", (unsigned long)nums,
	           (int)stat[1], (int)stat[0], (int)sum);

	struct call_enclave_arg_t arg = {0};
	arg.req_arg = KEY;
	unsigned long handle = acquire_enclave("shm-server");
	unsigned long r = call_enclave(handle, &arg);
	sum = 0;
	for (unsigned long i = 0; i < N; i++)
		sum += nums[i];
	eapp_shm_stat(KEY, stat);
	eapp_print("shm-owner: call returned %d, server saw %d user(s), sum now %d, %d user(s)\n", (int)r,
	           (int)arg.resp_val, (int)sum, (int)stat[0]);

	long destroyed = eapp_shm_destroy(KEY);
	long detached = eapp_shm_detach(KEY);
	long again = (long)eapp_shm_stat(KEY, stat);
	eapp_print("shm-owner: destroy %d, detach %d, stat after %d\n", (int)destroyed, (int)detached, (int)again);
	EAPP_RETURN(sum == 2 * (N * (N + 1) / 2) ? 0 : 2);
}
