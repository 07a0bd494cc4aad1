/* lib.c - the few string functions the kernel needs (no libc). */
#include "kernel.h"

void *kmemset(void *d, int c, u64 n)
{
	u8 *p = d;
	if (((u64)p & 7) == 0) {
		u64 w = (u8)c * 0x0101010101010101UL;
		for (; n >= 8; n -= 8, p += 8)
			*(volatile u64 *)p = w;
	}
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *kmemcpy(void *d, const void *s, u64 n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int kstrncmp(const char *a, const char *b, u64 n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int kstrcmp(const char *a, const char *b)
{
	return kstrncmp(a, b, ~0UL);
}

/* GCC may emit calls to these for struct copies and initialisers even when freestanding. */
void *memset(void *d, int c, unsigned long n) { return kmemset(d, c, n); }
void *memcpy(void *d, const void *s, unsigned long n) { return kmemcpy(d, s, n); }
