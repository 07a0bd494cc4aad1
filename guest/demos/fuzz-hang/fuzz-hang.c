/* fuzz-hang: spins forever when the input starts with "HANG" (an input-dependent hang the
 * fuzzer reports as a timeout); otherwise sums the input and returns. */
#include <stdint.h>
#include "eapp.h"

volatile unsigned long spins;

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	if (shm_size < 16)
		return 1;
	uint64_t n = *(const volatile uint64_t *)shm;
	const volatile uint8_t *p = (const volatile uint8_t *)(shm + 8);
	if (n >= 4 && p[0] == 'H' && p[1] == 'A' && p[2] == 'N' && p[3] == 'G')
		for (;;)
			spins++;
	unsigned sum = 0;
	for (uint64_t i = 0; i < n && i < shm_size - 8; i++)
		sum += p[i];
	return sum & 0xff;
}
