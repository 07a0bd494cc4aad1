/*
 * memory.c - where the kernel puts things in physical memory (all 2 MiB-slot aligned).
 *
 *   0x8000_0000  2 MiB  the monitor (PMP entry 0: no S/U access)
 *   0x8020_0000  2 MiB  this kernel: image, embedded enclave ELF, .bss, stack
 *   0x8040_0000  1 MiB  PT area (NAPOT): PGD 2 pages, PMD 4 pages, PTE the rest
 *   0x8050_0000  1 MiB  kernel page pool: kbuffers, parameter pages, scratch pages
 *   0x8060_0000  2 MiB  secure-page bitmap (NAPOT, 512 pages: one u32 per frame of 2 GiB)
 *   0x8080_0000  ...    free memory: enclave blocks (2 MiB aligned), up to the end of RAM
 *
 * RAM size: there is no device tree (a1 = 0), so memory_probe() loads the first and the last
 * doubleword of every 2 MiB slot before paging is on; the first slot that faults (an access
 * fault beyond RAM) ends RAM, a partial last slot is left unused. The bitmap needs one u32
 * per frame of all RAM: beyond 2 GiB it grows (a power of two) and moves to the top of RAM.
 * The identity map uses three of the four PMD pages, so at most 3 GiB from 0x8000_0000 are used.
 */
#include "kernel.h"

u64 plan_pt_base = 0x80400000UL, plan_pt_size = 0x100000UL;
u64 plan_bitmap_base = 0x80600000UL, plan_bitmap_size = 0x200000UL;
u64 plan_free_base = 0x80800000UL;

static u64 pool_next = 0x80500000UL;
static const u64 pool_end = 0x80600000UL;
static u64 free_next = 0x80800000UL;
static u64 ram_top, free_end;

#define RAM_BASE   0x80000000UL
#define PROBE_MAX  (64UL << 30) /* RAM the probe looks for */
#define MAPPED_MAX (3UL << 30)  /* three of the four PMD pages (one is for other VAs) */

void memory_probe(void)
{
	u64 top = RAM_BASE + MEGAPAGE; /* the monitor's 2 MiB are RAM (and not readable) */
	while (top < RAM_BASE + PROBE_MAX && probe_load(top) == 0 &&
	       probe_load(top + MEGAPAGE - 8) == 0)
		top += MEGAPAGE;
	if (top < plan_free_base + MEGAPAGE)
		panic("RAM ends at 0x%lx: the kernel needs at least 0x%lx", top, plan_free_base + MEGAPAGE);
	ram_top = top;

	/* one u32 per frame, counting a partial slot after ram_top too */
	u64 need = (top + MEGAPAGE - RAM_BASE) / PAGE * 4;
	while (plan_bitmap_size < need)
		plan_bitmap_size <<= 1;
	u64 mapped = top - RAM_BASE < MAPPED_MAX ? top : RAM_BASE + MAPPED_MAX;
	free_end = mapped;
	if (plan_bitmap_size > MEGAPAGE) {
		plan_bitmap_base = (top - plan_bitmap_size) & ~(plan_bitmap_size - 1);
		if (plan_bitmap_base < plan_free_base + MEGAPAGE)
			panic("no room for a 0x%lx-byte bitmap below 0x%lx", plan_bitmap_size, top);
		if (free_end > plan_bitmap_base)
			free_end = plan_bitmap_base;
	}
	ram_top = mapped;
}

/* end of the RAM the kernel maps */
u64 ram_end(void)
{
	return ram_top;
}

/* n zeroed pages from the kernel pool (public memory, never freed) */
u64 alloc_pages(u64 n)
{
	u64 p = pool_next;
	if (n > (pool_end - p) / PAGE)
		panic("kernel page pool exhausted");
	pool_next += n * PAGE;
	kmemset((void *)p, 0, n * PAGE);
	return p;
}

/* `size` bytes of free memory aligned to `align` (a power of two), not zeroed; 0 when none left */
u64 alloc_aligned(u64 size, u64 align)
{
	u64 p = (free_next + align - 1) & ~(align - 1);
	if (p >= free_end || size > free_end - p)
		return 0;
	free_next = p + size;
	return p;
}

/* bump-allocator mark / reset, for commands that hand blocks back */
u64 free_mark(void)
{
	return free_next;
}

void free_reset(u64 mark)
{
	free_next = mark;
}
