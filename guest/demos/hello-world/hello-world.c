/* hello-world: the Penglai SDK's first demo, written against our guest SDK.
 * Prints "hello world!\n" (one OCALL_SYS_WRITE) and exits with 0. */
#include <stdio.h>
#include "eapp.h"
#include "print.h"

int hello(unsigned long *args)
{
	(void)args;
	printf("hello world!\n");
	EAPP_RETURN(0);
}

int EAPP_ENTRY main(void)
{
	unsigned long *args;
	EAPP_RESERVE_REG;
	hello(args);
	return 0;
}
