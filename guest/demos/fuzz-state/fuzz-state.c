/* fuzz-state: crashes if it ever sees state left by an earlier run. Every run starts from the
 * template's memory, so `runs` is always 0 at entry and `last` is always empty; a fuzzer that
 * reused an instance (or leaked a write into the template) would make it crash. */
#include <stdint.h>
#include "eapp.h"

volatile unsigned long runs;
volatile uint8_t last[64];

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	if (runs != 0)
		*(volatile uint32_t *)0x10 = 1;
	for (int i = 0; i < 64; i++)
		if (last[i] != 0)
			*(volatile uint32_t *)0x20 = 1;
	runs++;
	if (shm_size < 16)
		return 1;
	uint64_t n = *(const volatile uint64_t *)shm;
	const volatile uint8_t *p = (const volatile uint8_t *)(shm + 8);
	for (uint64_t i = 0; i < n && i < 64; i++)
		last[i] = p[i] | 1;
	return 0;
}
