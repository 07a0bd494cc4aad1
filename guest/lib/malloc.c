/*
 * pltvm guest SDK: a small first-fit allocator over sbrk() (our own).
 *
 * Blocks carry a 16-byte header {size, next}; size includes the header and is a multiple of
 * 16. Free blocks sit in one list sorted by address and are merged with their neighbours.
 * The heap grows through sbrk(), i.e. OCALL_SBRK, in steps of at least 64 KiB.
 * Single-threaded (an enclave has one thread). Never sets errno.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ocall.h"

struct blk {
	size_t size;
	struct blk *next;
};

#define HDR       sizeof(struct blk)          /* 16 */
#define ALIGN16(n) (((n) + 15) & ~(size_t)15)
#define MIN_BLOCK (2 * HDR)
#define GROW_MIN  (64 * 1024)

static struct blk *free_list;

static void insert_free(struct blk *b)
{
	struct blk **pp = &free_list;
	while (*pp && *pp < b)
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	/* merge with the following block */
	if (b->next && (char *)b + b->size == (char *)b->next) {
		b->size += b->next->size;
		b->next = b->next->next;
	}
	/* merge with the preceding block */
	if (pp != &free_list) {
		struct blk *prev = (struct blk *)((char *)pp - offsetof(struct blk, next));
		if ((char *)prev + prev->size == (char *)b) {
			prev->size += b->size;
			prev->next = b->next;
		}
	}
}

static int grow(size_t need)
{
	size_t n = need < GROW_MIN ? GROW_MIN : need;
	n = (n + 4095) & ~(size_t)4095;
	void *p = sbrk((long)n);
	if (p == (void *)-1)
		return -1;
	struct blk *b = (struct blk *)p;
	b->size = n;
	insert_free(b);
	return 0;
}

static struct blk *take(size_t need)
{
	for (struct blk **pp = &free_list; *pp; pp = &(*pp)->next) {
		struct blk *b = *pp;
		if (b->size < need)
			continue;
		if (b->size - need >= MIN_BLOCK) {
			struct blk *rest = (struct blk *)((char *)b + need);
			rest->size = b->size - need;
			rest->next = b->next;
			*pp = rest;
			b->size = need;
		} else {
			*pp = b->next;
		}
		b->next = NULL;
		return b;
	}
	return NULL;
}

void *malloc(size_t n)
{
	if (n > ((size_t)1 << 40))
		return NULL;
	size_t need = ALIGN16(n ? n : 1) + HDR;
	struct blk *b = take(need);
	if (!b) {
		if (grow(need) < 0)
			return NULL;
		b = take(need);
		if (!b)
			return NULL;
	}
	return (char *)b + HDR;
}

void free(void *p)
{
	if (p)
		insert_free((struct blk *)((char *)p - HDR));
}

void *calloc(size_t count, size_t size)
{
	if (size && count > ((size_t)1 << 40) / size)
		return NULL;
	void *p = malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

size_t malloc_usable_size(void *p)
{
	return p ? ((struct blk *)((char *)p - HDR))->size - HDR : 0;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	size_t have = malloc_usable_size(p);
	if (n <= have)
		return p;
	void *q = malloc(n);
	if (q) {
		memcpy(q, p, have);
		free(p);
	}
	return q;
}

void *memalign(size_t align, size_t n)
{
	if (align <= 16)
		return malloc(n);
	if (align & (align - 1))
		return NULL;
	char *raw = malloc(n + align + MIN_BLOCK);
	if (!raw)
		return NULL;
	struct blk *b = (struct blk *)(raw - HDR);
	uintptr_t user = ((uintptr_t)raw + MIN_BLOCK + align - 1) & ~(uintptr_t)(align - 1);
	if ((char *)user == raw)
		return raw;
	/* split off the front part (>= MIN_BLOCK bytes) as a free block */
	struct blk *nb = (struct blk *)((char *)user - HDR);
	nb->size = b->size - (size_t)((char *)nb - (char *)b);
	nb->next = NULL;
	b->size = (size_t)((char *)nb - (char *)b);
	insert_free(b);
	return (void *)user;
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return 22; /* EINVAL */
	void *p = memalign(align, n);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}
