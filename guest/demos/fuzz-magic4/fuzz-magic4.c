/* fuzz-magic4: a fuzz target whose crash hides behind one 4-byte comparison.
 *
 * Input (pltvm fuzz harness, read with fuzz.h's pl_fuzz_shm_input): if the first four bytes are
 * the magic 0x4d5a4c50 the enclave stores to address 0x40 (a store page fault). Random mutation
 * needs ~2^32 tries to hit it; comparison feedback (cmplog) sees the operands of the `bne` and
 * puts the constant into the input. */
#include <stdint.h>
#include "eapp.h"
#include "fuzz.h"

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	uint64_t len;
	const volatile uint8_t *in = pl_fuzz_shm_input(shm, shm_size, &len);
	if (in == 0)
		return 1;
	if (len >= 4 && *(const volatile uint32_t *)in == 0x4d5a4c50u)
		*(volatile uint32_t *)0x40 = 1;
	return 0;
}
