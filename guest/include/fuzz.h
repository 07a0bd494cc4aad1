/*
 * fuzz.h - pltvm guest SDK: the fuzz harness's side in the enclave (a pltvm extension, not
 * part of Penglai; docs/fuzzing.md).
 *
 * The harness (`pltvm fuzz`, pltvm.fuzz) gives every input in the enclave's host shm at
 * 0x39_0000_0000 (a0 at entry; a1 = its size): a little-endian u64 length, then the bytes.
 *
 * pl_fuzz_shm_input(shm, shm_size, &len): the bytes of that input and their length (clamped to
 * what the shm holds), or NULL when the shm cannot hold a length and a byte. For targets that
 * read their input straight from the shm at entry.
 *
 * pl_fuzz_input(&len): the deferred snapshot. Call it after the enclave's initialisation: under
 * the fuzzer the first call pauses the enclave (OCALL 0x504C0001) and the fuzzer makes that
 * paused state the template of every input, so the initialisation runs once per campaign, not
 * once per input. The call then returns in a fresh copy of the initialised enclave with the
 * next input: a pointer to its bytes in the shm, its length through `len`. A later call in the
 * same execution ends that input (the fuzzer does not return from it). Without the fuzzer (no
 * host handles the OCALL: it returns -1) the first call returns the input already in the shm
 * and the next one NULL, so `while ((p = pl_fuzz_input(&n))) ...` runs once: the same enclave
 * works with `pltvm run`, `pltvm fuzz ELF FILE` and a fuzzer that does not snapshot. Text the
 * initialisation printed is flushed before the pause. A host that handles the OCALL itself
 * returns 0 after writing an input into the shm, or non-zero for "no more input" (NULL).
 */
#ifndef PLTVM_FUZZ_H
#define PLTVM_FUZZ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PL_OCALL_FUZZ_INPUT 0x504C0001UL

static inline const volatile uint8_t *pl_fuzz_shm_input(unsigned long shm, unsigned long shm_size,
                                                        uint64_t *len)
{
	if (shm == 0 || shm_size < 9)
		return 0;
	uint64_t n = *(const volatile uint64_t *)shm;
	*len = n < shm_size - 8 ? n : shm_size - 8;
	return (const volatile uint8_t *)(shm + 8);
}

const uint8_t *pl_fuzz_input(unsigned long *len);

#ifdef __cplusplus
}
#endif

#endif /* PLTVM_FUZZ_H */
