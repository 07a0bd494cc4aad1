/* crash: prints one line, then stores to address 0. VA 0 is never mapped, so the store
 * raises a store page fault (mcause 15, mtval 0): the monitor destroys the enclave and the
 * host's run returns -1. */
#include <stdio.h>
#include "eapp.h"
#include "print.h"

int EAPP_ENTRY main(void)
{
	printf("crash: storing to address 0\n");
	*(volatile int *)0 = 1;
	printf("crash: still alive?!\n");
	return 1;
}
