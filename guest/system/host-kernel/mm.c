/*
 * mm.c - the kernel's Sv39 address space under the guarded page table (docs/abi.md §7).
 *
 * Every page-table page comes from the PT area, which the monitor makes read-only to S-mode at
 * SM_INIT: the PGD sub-area holds the root, the PMD sub-area the second-level tables, the PTE
 * sub-area the last level. Entries are READ directly (the area stays readable) but every WRITE
 * goes through SBI_SET_PTE (fid 101), which refuses entries that would map secure frames or
 * break the location rule.
 *
 * The kernel identity-maps RAM [0x8000_0000, ram_end) with 2 MiB leaves in one PMD page
 * (supervisor-only RWX). The monitor's 2 MiB are mapped too: PMP, not the page table, keeps the
 * kernel out of them (an attack in attacks.c checks that).
 */
#include "kernel.h"

struct pt_area pt;
u64 kernel_root;
static u64 installed; /* the monitor sets this at SM_INIT */

i64 set_pte(u64 pte_pa, u64 value)
{
	return penglai(FID_SET_PTE, SET_PTE_ONE, pte_pa, value, 0, 0);
}

void flush_tlb(void)
{
	__asm__ volatile("sfence.vma" ::: "memory");
}

u64 pt_alloc_pmd(void)
{
	u64 p = pt.next_pmd;
	if (p >= pt.pte)
		panic("PMD sub-area exhausted");
	pt.next_pmd += PAGE;
	return p;
}

u64 pt_alloc_pte(void)
{
	u64 p = pt.next_pte;
	if (p >= pt.end)
		panic("PTE sub-area exhausted");
	pt.next_pte += PAGE;
	return p;
}

/*
 * Address of the entry for `va` at level `level_stop` (2 = root entry, 1 = PMD entry,
 * 0 = PTE entry), allocating missing tables on the way (pointer entries set through SET_PTE).
 * Returns 0 if a leaf sits above the requested level.
 */
u64 *walk(u64 root, u64 va, int level_stop)
{
	u64 table = root;
	for (int level = 2; level > level_stop; level--) {
		u64 *e = (u64 *)(table + ((va >> (12 + 9 * level)) & 511) * 8);
		if (!(*e & PTE_V)) {
			u64 next = level == 2 ? pt_alloc_pmd() : pt_alloc_pte();
			/* a fresh PT page is zero: the area was zeroed before SM_INIT and pages are
			 * never reused */
			i64 r = set_pte((u64)e, pa_pte(next, PTE_V));
			if (r != 0)
				panic("SET_PTE pointer %p -> %p refused (%ld)", e, (void *)next, r);
		} else if (*e & (PTE_R | PTE_W | PTE_X)) {
			return 0;
		}
		table = pte_pa(*e);
	}
	return (u64 *)(table + ((va >> (12 + 9 * level_stop)) & 511) * 8);
}

/* Map one 4 KiB page (the 2 MiB region must not be a huge leaf). 0 or SET_PTE's result. */
int map_page(u64 root, u64 va, u64 pa, u64 flags)
{
	u64 *e = walk(root, va, 0);
	if (!e)
		return -1;
	return (int)set_pte((u64)e, pa_pte(pa, flags));
}

/*
 * The guarded page table, in the order Penglai's kernel and driver use it:
 *   SM_INIT             PT area + bitmap; the PT area becomes read-only to S-mode (PMP)
 *   SET_PTE ...         the kernel's identity map, every entry written by the monitor
 *   csrw satp           paging on (TVM is not set yet, so this is a plain CSR write)
 *   PT_AREA_SEPARATION  sub-area bounds; the monitor checks the live table (the root must be
 *                       in the PGD sub-area, its pointers in the PMD / PTE sub-areas) and
 *                       sets mstatus.TVM: from here satp and sfence.vma trap to the monitor
 */
void mm_init(void)
{
	pt.base = plan_pt_base;
	pt.size = plan_pt_size;
	pt.pgd_order = 1; /* 2 pages: page 0 is unused (a root must lie above the base) */
	pt.pmd_order = 2; /* 4 pages */
	pt.pgd = pt.base;
	pt.pmd = pt.pgd + (PAGE << pt.pgd_order);
	pt.pte = pt.pmd + (PAGE << pt.pmd_order);
	pt.end = pt.base + pt.size;
	pt.next_pmd = pt.pmd;
	pt.next_pte = pt.pte;

	/* zero the PT area while we still can write it */
	kmemset((void *)pt.base, 0, pt.size);

	i64 r = penglai(FID_SM_INIT, pt.base, pt.size, plan_bitmap_base, plan_bitmap_size,
			(u64)&installed);
	if (verbose)
		kprintf("host-kernel: SM_INIT pt=0x%lx+0x%lx bitmap=0x%lx+0x%lx -> %ld (installed=%lu)\n",
			pt.base, pt.size, plan_bitmap_base, plan_bitmap_size, r, installed);
	if (r != 0)
		panic("SM_INIT failed");
}

/* Build the identity map through SET_PTE, switch satp to it, then PT_AREA_SEPARATION. */
void mm_enable(void)
{
	kernel_root = pt.pgd + PAGE;
	u64 end = ram_end();
	u64 n = 0;
	for (u64 pa = 0x80000000UL; pa < end; pa += MEGAPAGE, n++) {
		u64 *e = walk(kernel_root, pa, 1);
		if (!e)
			panic("walk %p", (void *)pa);
		i64 r = set_pte((u64)e, pa_pte(pa, PTE_KERNEL));
		if (r != 0)
			panic("SET_PTE leaf %p refused (%ld)", (void *)pa, r);
	}
	u64 satp = SATP_SV39 | (kernel_root >> 12);
	__asm__ volatile("csrw satp, %0" ::"r"(satp) : "memory");
	flush_tlb();

	i64 r = penglai(FID_PT_AREA_SEPARATION, pt.pgd_order, pt.pmd_order, 0, 0, 0);
	if (verbose)
		kprintf("host-kernel: PT_AREA_SEPARATION pgd_order=%lu pmd_order=%lu -> %ld\n",
			pt.pgd_order, pt.pmd_order, r);
	if (r != 0)
		panic("PT_AREA_SEPARATION failed");
	/* under TVM: the read and the sfence are emulated by the monitor */
	u64 now;
	__asm__ volatile("csrr %0, satp" : "=r"(now));
	flush_tlb();
	if (verbose)
		kprintf("host-kernel: Sv39 on, satp=0x%016lx (%lu 2 MiB leaves, root 0x%lx)\n", now, n,
			kernel_root);
	if (now != satp)
		panic("satp not accepted");
}
