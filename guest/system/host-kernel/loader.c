/*
 * loader.c - the Penglai driver's part of enclave creation (docs/abi.md §1.3, §1.4): size the
 * block, then load the ELF into it and build the enclave's own Sv39 table inside the block.
 *
 * The block is ordinary (public) kernel memory until CREATE makes it secure, so it is written
 * with plain stores through the kernel's identity map. Page 0 is left to the monitor, page 1 is
 * the root table, page 2 is unused, pages from 3 are handed out in order: for each mapped page
 * the data page first, then any missing intermediate tables. One more page becomes free_mem.
 */
#include "kernel.h"

#define PT_LOAD_FLAG_W 2
#define SHT_NOBITS 8
#define STACK_TOP 0x3800000000UL

struct ehdr {
	u8 ident[16];
	unsigned short type, machine;
	u32 version;
	u64 entry, phoff, shoff;
	u32 flags;
	unsigned short ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
	u32 type, flags;
	u64 offset, vaddr, paddr, filesz, memsz, align;
};

struct shdr {
	u32 name, type;
	u64 flags, addr, offset, size;
	u32 link, info;
	u64 addralign, entsize;
};

static int elf_ok(const u8 *elf, u64 size)
{
	const struct ehdr *h = (const struct ehdr *)elf;
	if (size < sizeof(*h) || h->ident[0] != 0x7f || h->ident[1] != 'E' || h->ident[2] != 'L' ||
	    h->ident[3] != 'F' || h->ident[4] != 2 /* 64-bit */ || h->machine != 243 /* RISC-V */)
		return 0;
	if (h->phentsize != sizeof(struct phdr) || h->phoff > size ||
	    (u64)h->phnum * sizeof(struct phdr) > size - h->phoff)
		return 0;
	if (h->shnum && (h->shentsize != sizeof(struct shdr) || h->shoff > size ||
			 (u64)h->shnum * sizeof(struct shdr) > size - h->shoff))
		return 0;
	return h->entry != 0;
}

static u64 pages_of(u64 bytes) { return (bytes + PAGE - 1) / PAGE; }

u64 block_pages_for(const u8 *elf, u64 elf_size, u64 stack_size)
{
	if (!elf_ok(elf, elf_size))
		return 0;
	const struct ehdr *h = (const struct ehdr *)elf;
	const struct phdr *ph = (const struct phdr *)(elf + h->phoff);
	const struct shdr *sh = (const struct shdr *)(elf + h->shoff);
	u64 mem = 0;
	for (unsigned i = 0; i < h->shnum; i++)
		if (sh[i].type == SHT_NOBITS && sh[i].addr)
			mem += sh[i].size;
	for (unsigned i = 0; i < h->phnum; i++)
		mem += ph[i].filesz;
	u64 pages = pages_of(mem) + pages_of(stack_size) + 256;
	u64 n = 1;
	while (n < pages)
		n <<= 1;
	return n;
}

static u64 block_take(struct block *b)
{
	if (b->next >= b->pa + b->pages * PAGE)
		panic("enclave block too small");
	u64 p = b->next;
	b->next += PAGE;
	return p;
}

/* "allocate VA v": data page first, then missing tables; the leaf is overwritten */
static u64 block_map(struct block *b, u64 va, u64 flags)
{
	u64 data = block_take(b);
	u64 table = b->pa + PAGE;
	for (int level = 2; level > 0; level--) {
		u64 *e = (u64 *)(table + ((va >> (12 + 9 * level)) & 511) * 8);
		if (!(*e & PTE_V))
			*e = pa_pte(block_take(b), PTE_V);
		table = pte_pa(*e);
	}
	u64 *leaf = (u64 *)(table + ((va >> 12) & 511) * 8);
	*leaf = pa_pte(data, flags);
	return data;
}

i64 load_enclave(const u8 *elf, u64 elf_size, u64 stack_size, struct block *b)
{
	if (!elf_ok(elf, elf_size))
		return -1;
	const struct ehdr *h = (const struct ehdr *)elf;
	const struct phdr *ph = (const struct phdr *)(elf + h->phoff);
	const struct shdr *sh = (const struct shdr *)(elf + h->shoff);

	kmemset((void *)b->pa, 0, b->pages * PAGE);
	b->next = b->pa + 3 * PAGE;

	for (u64 v = STACK_TOP - stack_size; v < STACK_TOP; v += PAGE)
		block_map(b, v, 0xD7);
	b->entry = h->entry;
	for (unsigned i = 0; i < h->shnum; i++)
		if (sh[i].type == SHT_NOBITS && sh[i].addr)
			for (u64 v = sh[i].addr; v < sh[i].addr + sh[i].size; v += PAGE)
				block_map(b, v, 0xDF);
	for (unsigned i = 0; i < h->phnum; i++) {
		const struct phdr *p = &ph[i];
		if (p->offset > elf_size || p->filesz > elf_size - p->offset)
			return -1;
		for (u64 v = p->vaddr; v < p->vaddr + p->filesz; v += PAGE) {
			u64 data = block_map(b, v, (p->flags & PT_LOAD_FLAG_W) ? 0xDF : 0xDB);
			u64 left = p->vaddr + p->filesz - v;
			kmemcpy((void *)data, elf + p->offset + (v - p->vaddr), left < PAGE ? left : PAGE);
		}
	}
	b->free_mem = block_take(b);
	return 0;
}
