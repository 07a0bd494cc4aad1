/* info: prints what the enclave sees at entry (a0..a4 as main's arguments and through the
 * SDK's EAPP_RESERVE_REG block), its monitor eid, 16 bytes from OCALL_GETRANDOM and the first
 * word of the host shm and relay page if they are mapped. Exits with 0. */
#include <stdio.h>
#include "eapp.h"
#include "ocall.h"
#include "print.h"

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size, unsigned long counter,
                    unsigned long relay, unsigned long relay_size)
{
	unsigned long *args;
	EAPP_RESERVE_REG;
	printf("info: a0 shm        %#lx\n", shm);
	printf("info: a1 shm size   %#lx\n", shm_size);
	printf("info: a2 run count  %lu\n", counter);
	printf("info: a3 relay      %#lx\n", relay);
	printf("info: a4 relay size %#lx\n", relay_size);
	printf("info: sp at entry   %#lx\n", args[2]);
	int same = args[10] == shm && args[11] == shm_size && args[12] == counter &&
	           args[13] == relay && args[14] == relay_size;
	printf("info: EAPP_RESERVE_REG block %s\n", same ? "matches" : "DIFFERS");
	printf("info: enclave id %d\n", get_enclave_id());

	unsigned char rnd[16];
	long n = getrandom(rnd, sizeof rnd, 0);
	char hex[16 * 3 + 1];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 3 * i, 4, " %02x", rnd[i]);
	printf("info: getrandom %ld bytes:%s\n", n, hex);

	if (shm && shm_size >= 4)
		printf("info: shm[0] %d\n", *(volatile int *)shm);
	if (relay && relay_size >= 4)
		printf("info: relay[0] %d\n", *(volatile int *)relay);
	return 0;
}
