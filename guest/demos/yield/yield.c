/* yield: gives the host the processor three times with EAPP_YIELD (call 89) and checks that
 * each yield came back with a0 unchanged (the value it passed, 0x5e1d + i). Prints one line per
 * yield and exits with the number of yields whose a0 changed (0 when all is well).
 * `pltvm run yield` finishes (the C-API driver loop resumes a yield like a timer exit);
 * Enclave.run() returns reason "yield" each time and the next run() continues. */
#include <stdio.h>
#include "eapp.h"
#include "print.h"

#define YIELDS 3

int EAPP_ENTRY main(void)
{
	unsigned long bad = 0;
	for (unsigned long i = 0; i < YIELDS; i++) {
		unsigned long back = eapp_ecall(SYS_yield, 0x5e1d + i, 0, 0, 0);
		if (back != 0x5e1d + i)
			bad++;
		printf("yield: back from yield %lu\n", i + 1);
	}
	EAPP_RETURN(bad);
	return 0;
}
