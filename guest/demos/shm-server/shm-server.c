/* shm-server: the server half of the secure shm demo (see shm-owner). Create it as a
 * SERVER_ENCLAVE named "shm-server".
 *
 * Each call brings req_arg = a secure shm key. The server attaches that segment (call 84),
 * doubles its first 4096 ints in place, answers with resp_val = the segment's user count while
 * it was attached (2: the owner and itself), and detaches before it returns. */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

#define N 4096UL

int EAPP_ENTRY main(unsigned long key)
{
	struct call_enclave_arg_t ret = {0};
	unsigned long stat[2] = {0, 0};
	int *nums = (int *)eapp_shm_attach(key);
	if (nums) {
		for (unsigned long i = 0; i < N; i++)
			nums[i] *= 2;
		eapp_shm_stat(key, stat);
		eapp_print("shm-server: attached 0x%lx at 0x%lx, doubled %d ints\n", key, (unsigned long)nums, (int)N);
		eapp_shm_detach(key);
	} else {
		eapp_print("shm-server: no segment 0x%lx\n", key);
	}
	ret.resp_val = stat[0];
	SERVER_RETURN(&ret);
	return 0;
}
