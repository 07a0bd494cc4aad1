/* fuzz-magic8: a fuzz target whose crash hides behind one 8-byte comparison (a `ld` compared
 * with a 64-bit constant). Input as for fuzz-magic4; the magic is 0x1d2c3b4a59687786. */
#include <stdint.h>
#include "eapp.h"

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	if (shm_size < 16)
		return 1;
	const volatile uint64_t *len = (const volatile uint64_t *)shm;
	const volatile uint64_t *dword = (const volatile uint64_t *)(shm + 8);
	if (*len >= 8 && *dword == 0x1d2c3b4a59687786ull)
		*(volatile uint32_t *)0x80 = 1;
	return 0;
}
