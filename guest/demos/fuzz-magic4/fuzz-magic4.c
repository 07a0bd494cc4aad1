/* fuzz-magic4: a fuzz target whose crash hides behind one 4-byte comparison.
 *
 * Input (pltvm fuzz harness): the shm holds a little-endian u64 length, then the bytes. If the
 * first four bytes are the magic 0x4d5a4c50 the enclave stores to address 0x40 (a store page
 * fault). Random mutation needs ~2^32 tries to hit it; comparison feedback (cmplog) sees the
 * operands of the `bne` and puts the constant into the input. */
#include <stdint.h>
#include "eapp.h"

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	if (shm_size < 16)
		return 1;
	const volatile uint64_t *len = (const volatile uint64_t *)shm;
	const volatile uint32_t *word = (const volatile uint32_t *)(shm + 8);
	if (*len >= 4 && *word == 0x4d5a4c50u)
		*(volatile uint32_t *)0x40 = 1;
	return 0;
}
