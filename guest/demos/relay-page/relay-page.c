/* relay-page: the Penglai SDK's relay-page demo, written against our guest SDK.
 *
 * The host maps a relay page (a3 = 0x38_0000_0000, a4 = its size). We print its first int
 * with the SDK formatter (%x = 8 hex digits), give the page back to the host with
 * OCALL_RETURN_RELAY_PAGE (the host's run returns 1; the host may change the page and runs
 * again), then print the first int again and exit with 0.
 *   demo/host writes 22222 before and 0 during the return:
 *     relay_page 1 000056ce
 *     relay_page 2 00000000
 * Without a relay page we say so and exit with 1 (the SDK demo would fault). */
#include "eapp.h"
#include "ocall.h"
#include "print.h"

int EAPP_ENTRY main(void)
{
	unsigned long *args;
	EAPP_RESERVE_REG;
	volatile int *relay = (volatile int *)args[13];
	unsigned long relay_size = args[14];

	if (relay == 0 || relay_size == 0) {
		eapp_print("relay_page: no relay page\n");
		EAPP_RETURN(1);
	}
	eapp_print("relay_page 1 %x\n", relay[0]);
	eapp_return_relay_page();
	eapp_print("relay_page 2 %x\n", relay[0]);
	EAPP_RETURN(0);
}
