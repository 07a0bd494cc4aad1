/* fuzz-init: a fuzz target with an expensive initialisation, for the deferred snapshot.
 *
 * Initialisation builds a 4096-entry table with 64 rounds of xorshift (about 3.7 million
 * instructions), prints one line and counts itself in `inits`. Then every input comes from
 * pl_fuzz_input. Under `pltvm fuzz` the first call pauses the enclave and every input runs in a
 * copy of the initialised state: the table is built once per campaign.
 *
 * Input: [index u8][key u32 LE][...]. If the key equals table[index] (a value only the
 * initialisation knows) the enclave stores to 0x5000_0000 (a store page fault): comparison
 * feedback sees the `bne` of key and table entry and copies the entry into the input.
 *
 * Isolation check: `scratch` is set by every input and `inits` must be 1; an input that sees
 * either changed (state left by another input, or an initialisation run twice) stores to 0x30. */
#include <stdint.h>
#include "eapp.h"
#include "fuzz.h"
#include "print.h"

#define N 4096
#define ROUNDS 64

static uint32_t table[N];
volatile uint32_t inits;
volatile uint32_t scratch;

static void build(void)
{
	uint32_t x = 0x9e3779b9u;
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < N; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			table[i] += x;
		}
}

int EAPP_ENTRY main(void)
{
	build();
	inits++;
	eapp_print("fuzz-init: table ready\n");
	const uint8_t *p;
	unsigned long n;
	while ((p = pl_fuzz_input(&n)) != 0) {
		if (inits != 1 || scratch != 0)
			*(volatile uint32_t *)0x30 = 1;
		scratch = 1;
		if (n < 5)
			continue;
		uint32_t key = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
		if (key == table[p[0]])
			*(volatile uint32_t *)0x50000000 = key;
	}
	return 0;
}
