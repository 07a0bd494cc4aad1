/*
 * pltvm guest SDK: pl_fuzz_input, the fuzzer's deferred snapshot point (include/fuzz.h).
 */
#include "eapp.h"
#include "fuzz.h"
#include "ocall.h"
#include "print.h"

/* An input was handed out (a fork of the fuzzer's snapshot gets its own copy of this). */
static int served;

const uint8_t *pl_fuzz_input(unsigned long *len)
{
	/* Text buffered by the initialisation goes out now, not at the end of every input. */
	eapp_flush();
	long r = (long)eapp_ocall(PL_OCALL_FUZZ_INPUT, 0, 0, 0);
	/* -1: nobody handles the OCALL. The input already in the shm is handed out unless one
	 * was (by the host or this fallback): then there is no more. */
	if ((r == -1 && served) || (r != -1 && r != 0))
		return 0;
	served = 1;
	uint64_t n;
	const volatile uint8_t *p = pl_fuzz_shm_input(__eapp_args[10], __eapp_args[11], &n);
	if (p == 0)
		return 0;
	if (len)
		*len = n;
	return (const uint8_t *)p;
}
