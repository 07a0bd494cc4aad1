/*
 * pltvm guest SDK: pl_fuzz_input, the fuzzer's deferred snapshot point (include/fuzz.h).
 */
#include "eapp.h"
#include "fuzz.h"
#include "ocall.h"
#include "print.h"

/* Without a fuzzer: the shm's input was handed out once. */
static int served;

const uint8_t *pl_fuzz_input(unsigned long *len)
{
	/* Text buffered by the initialisation goes out now, not at the end of every input. */
	eapp_flush();
	if (eapp_ocall(PL_OCALL_FUZZ_INPUT, 0, 0, 0) != 0) {
		if (served)
			return 0;
		served = 1;
	}
	uint64_t n;
	const volatile uint8_t *p = pl_fuzz_shm_input(__eapp_args[10], __eapp_args[11], &n);
	if (p == 0)
		return 0;
	if (len)
		*len = n;
	return (const uint8_t *)p;
}
