/* fuzz-parser: a small length-prefixed record parser with an out-of-bounds write that only
 * nested conditions reach.
 *
 * Input: a sequence of records, each [tag u8][len u8][len bytes of body]. Tags:
 *   'V' version: body[0] is the format version (1 or 2);
 *   'N' name: copied (at most 15 bytes) into a name buffer;
 *   'S' slot store: body = [index u8][value u8...]; stores the values into slots[index...].
 * Version 1 checks the slot index; version 2 added "extended" slot records (index >= 0xf0,
 * index - 0xf0 scaled by 4096 as a page number) whose bound check was forgotten: a version 2
 * input, after a name record, with an 'S' record of index >= 0xf0 and a non-empty value
 * writes far past `slots` (a store page fault).
 *
 * The buffers are volatile: nothing reads them back, so without it the compiler drops every
 * store into them, the out-of-bounds one included, and the bug is not in the binary. */
#include <stdint.h>
#include "eapp.h"

static volatile uint8_t slots[16];
static volatile char name[16];

int EAPP_ENTRY main(unsigned long shm, unsigned long shm_size)
{
	if (shm_size < 16)
		return 1;
	uint64_t n = *(const volatile uint64_t *)shm;
	if (n > shm_size - 8)
		return 2;
	const uint8_t *p = (const uint8_t *)(shm + 8);
	const uint8_t *end = p + n;
	int version = 0, named = 0, records = 0;
	while (end - p >= 2) {
		uint8_t tag = p[0], len = p[1];
		const uint8_t *body = p + 2;
		if (end - body < len)
			return 3;
		switch (tag) {
		case 'V':
			if (len != 1 || version)
				return 4;
			if (body[0] != 1 && body[0] != 2)
				return 5;
			version = body[0];
			break;
		case 'N':
			if (!version)
				return 6;
			for (int i = 0; i < len && i < 15; i++)
				name[i] = (char)body[i];
			named = 1;
			break;
		case 'S':
			if (!version || len < 2)
				return 7;
			if (version == 1) {
				if (body[0] + (len - 1) > 16)
					return 8;
				for (int i = 1; i < len; i++)
					slots[body[0] + i - 1] = body[i];
			} else if (named) {
				uint64_t at = body[0] < 0xf0 ? body[0] : (uint64_t)(body[0] - 0xf0) << 12;
				if (body[0] < 0xf0 && body[0] + (len - 1) > 16)
					return 9;
				for (int i = 1; i < len; i++)
					slots[at + 0x100000 * (body[0] >= 0xf0) + i - 1] = body[i];
			}
			break;
		default:
			return 10;
		}
		records++;
		p = body + len;
	}
	return records;
}
