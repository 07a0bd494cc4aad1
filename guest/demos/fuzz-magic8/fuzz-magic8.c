/* fuzz-magic8: a fuzz target whose crash hides behind one 8-byte comparison (a `ld` compared
 * with a 64-bit constant). Input as for fuzz-magic4; the magic is 0x1d2c3b4a59687786. */
#include <stdint.h>
#include "eapp.h"
#include "fuzz.h"

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	uint64_t len;
	const volatile uint8_t *in = pl_fuzz_shm_input(shm, shm_size, &len);
	if (in == 0)
		return 1;
	if (len >= 8 && *(const volatile uint64_t *)in == 0x1d2c3b4a59687786ull)
		*(volatile uint32_t *)0x80 = 1;
	return 0;
}
