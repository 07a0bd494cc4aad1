/* mem: exercises the heap (malloc/calloc/realloc/free over sbrk, i.e. OCALL_SBRK) and the mmap
 * area (eapp_mmap/eapp_unmap, i.e. OCALL_MMAP/OCALL_UNMAP), printing what it verified.
 * Exit value: the number of failed checks (0 = all good). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eapp.h"
#include "ocall.h"
#include "print.h"

static int failures;

static void check(int ok, const char *what)
{
	printf("mem: %s: %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failures++;
}

static void fill(unsigned char *p, unsigned long n, unsigned int seed)
{
	for (unsigned long i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131u + i * 7u);
}

static int same(const unsigned char *p, unsigned long n, unsigned int seed)
{
	for (unsigned long i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed * 131u + i * 7u))
			return 0;
	return 1;
}

#define NBLK 64

int EAPP_ENTRY main(void)
{
	long top0 = eapp_sbrk(0);
	printf("mem: heap top at start %#lx\n", top0);
	check(top0 == (long)ENCLAVE_DEFAULT_HEAP_BASE, "heap starts at 0x1000000000");

	/* many small blocks, free half, allocate again */
	unsigned char *blk[NBLK];
	unsigned long total = 0;
	int ok = 1;
	for (int i = 0; i < NBLK; i++) {
		unsigned long n = 1 + (unsigned long)i * 37;
		blk[i] = malloc(n);
		if (!blk[i] || ((unsigned long)blk[i] & 15)) {
			ok = 0;
			break;
		}
		fill(blk[i], n, (unsigned)i);
		total += n;
	}
	for (int i = 0; ok && i < NBLK; i++)
		ok = same(blk[i], 1 + (unsigned long)i * 37, (unsigned)i);
	check(ok, "malloc 64 blocks, distinct and 16-byte aligned");
	printf("mem: %lu bytes in small blocks\n", total);
	for (int i = 0; i < NBLK; i += 2)
		free(blk[i]);
	for (int i = 0; ok && i < NBLK; i += 2) {
		unsigned long n = 1 + (unsigned long)i * 37;
		blk[i] = malloc(n);
		ok = blk[i] != NULL;
		if (ok)
			fill(blk[i], n, (unsigned)i + 1000);
	}
	for (int i = 0; ok && i < NBLK; i++)
		ok = same(blk[i], 1 + (unsigned long)i * 37, (unsigned)i + (i % 2 ? 0 : 1000));
	check(ok, "free every other block and allocate again");
	for (int i = 0; i < NBLK; i++)
		free(blk[i]);

	/* a large block: the heap has to grow several times */
	unsigned long big_n = 300 * 1024;
	unsigned char *big = malloc(big_n);
	ok = big != NULL;
	if (ok) {
		fill(big, big_n, 7);
		ok = same(big, big_n, 7) && (unsigned long)big >= ENCLAVE_DEFAULT_HEAP_BASE;
	}
	check(ok, "malloc 307200 bytes on the heap");

	/* realloc keeps the contents */
	unsigned char *r = malloc(100);
	ok = r != NULL;
	if (ok) {
		fill(r, 100, 9);
		r = realloc(r, 5000);
		ok = r != NULL && same(r, 100, 9);
	}
	check(ok, "realloc 100 -> 5000 keeps the contents");
	free(r);
	free(big);

	unsigned long *z = calloc(512, sizeof(unsigned long));
	ok = z != NULL;
	for (int i = 0; ok && i < 512; i++)
		ok = z[i] == 0;
	check(ok, "calloc returns zeroed memory");
	free(z);

	long top1 = eapp_sbrk(0);
	printf("mem: heap top now %#lx\n", top1);
	check(top1 > top0, "heap grew through OCALL_SBRK");

	/* the mmap area grows down from 0x30_0000_0000 */
	unsigned char *m1 = eapp_mmap(NULL, 8192);
	printf("mem: eapp_mmap(0, 8192) = %p\n", (void *)m1);
	ok = m1 != NULL && (unsigned long)m1 < ENCLAVE_DEFAULT_MMAP_BASE && !((unsigned long)m1 & 4095);
	if (ok) {
		fill(m1, 8192, 3);
		ok = same(m1, 8192, 3);
	}
	check(ok, "mmap region below 0x3000000000 is usable");

	unsigned char *m2 = eapp_mmap(NULL, 4096);
	printf("mem: eapp_mmap(0, 4096) = %p\n", (void *)m2);
	ok = m2 != NULL && m2 < m1;
	if (ok) {
		fill(m2, 4096, 4);
		ok = same(m2, 4096, 4) && same(m1, 8192, 3);
	}
	check(ok, "second mmap region lies below the first");

	int u1 = eapp_unmap(m1, 8192);
	int u2 = eapp_unmap(m1, 8192);
	printf("mem: eapp_unmap = %d, again = %d\n", u1, u2);
	check(u1 == 0 && u2 == -1, "unmap releases the region once");

	unsigned char *m3 = eapp_mmap(NULL, 8192);
	printf("mem: eapp_mmap(0, 8192) = %p\n", (void *)m3);
	ok = m3 != NULL && m3 != m2;
	if (ok) {
		fill(m3, 8192, 5);
		ok = same(m3, 8192, 5) && same(m2, 4096, 4);
	}
	check(ok, "mmap after unmap is usable");
	check(eapp_unmap(m2, 4096) == 0 && eapp_unmap(m3, 8192) == 0, "unmap the rest");

	printf("mem: %d failures\n", failures);
	EAPP_RETURN((unsigned long)failures);
}
