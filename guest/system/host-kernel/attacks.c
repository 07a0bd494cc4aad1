/*
 * attacks.c - the commands of the host kernel (docs/host-kernel.md).
 *
 * "hello" (the default) runs the embedded hello-world enclave; "demo" does the same and logs
 * every monitor call. The other commands each exercise one part of the guarded page table:
 * the positive paths (legitimate PTE writes, huge-page split, free and remap) and the attacks
 * an untrusted kernel might try, which must all fail. Results are printed one per line as
 *     host-kernel: <name> = <value>
 * where <value> is a signed decimal SBI result, "ok" / "cause <n>" for a probed access, or a
 * hex value. An attack that ends with a real (unprobed) access leaves it to the trap handler,
 * which prints the trap line and exits with 100 + cause. "ATTACK SUCCEEDED" and exit code 1
 * mean the protection did not hold.
 */
#include "kernel.h"

#define ALIAS_VA 0x40000000UL /* root entry 1: a VA range the identity map does not use */
#define BLOCK    MEGAPAGE

static struct enclave enc[4];

static void say(const char *name, i64 v)
{
	kprintf("host-kernel: %s = %ld\n", name, v);
}

static void sayx(const char *name, u64 v)
{
	kprintf("host-kernel: %s = 0x%lx\n", name, v);
}

/* a probe's result: 0 -> "ok", else "cause <scause>" */
static void sayp(const char *name, u64 r)
{
	if (r == 0)
		kprintf("host-kernel: %s = ok\n", name);
	else
		kprintf("host-kernel: %s = cause %lu\n", name, r - 1);
}

static __attribute__((noreturn)) void succeeded(const char *what)
{
	kprintf("host-kernel: ATTACK SUCCEEDED: %s\n", what);
	sbi_exit(1);
}

static u64 elf_size(void)
{
	return (u64)(embedded_enclave_end - embedded_enclave);
}

static u64 block(void)
{
	u64 b = alloc_aligned(BLOCK, BLOCK);
	if (!b)
		panic("out of free memory for enclave blocks");
	return b;
}

static i64 create(struct enclave *e, const char *name, u64 b)
{
	return enclave_create(e, name, b, embedded_enclave, elf_size());
}

static u64 *pmd_entry(u64 va)
{
	u64 *e = walk(kernel_root, va, 1);
	if (!e)
		panic("no PMD entry for %p", (void *)va);
	return e;
}

static i64 destroy(struct enclave *e)
{
	return penglai(FID_DESTROY_ENCLAVE, e->eid, 0, 0, 0, 0);
}

/*
 * Make a fresh block secure without an enclave: MEMORY_EXTEND (fid 92) donates it to the
 * monitor for good (its metadata memory), with the same checks and the same invalidation of
 * the kernel's leaves as an enclave's block at CREATE.
 */
static u64 donated_block(const char *name)
{
	u64 b = block();
	*(volatile u64 *)(b + 0x3000) = 0x1234;
	say(name, penglai(FID_MEMORY_EXTEND, b, BLOCK, 0, 0, 0));
	return b;
}

/* ---- hello / demo ---- */

static int cmd_hello(void)
{
	struct enclave *e = &enc[0];
	i64 r = create(e, "hello-world", block());
	if (verbose) {
		say("create", r);
		say("eid", e->eid);
	}
	if (r != 0) {
		kprintf("host-kernel: CREATE failed (%ld%s)\n", r,
			r == -2 ? ": no secure memory, or the monitor has no enclave calls" : "");
		return 1;
	}
	r = enclave_run(e, 0);
	i64 d = destroy(e);
	if (verbose) {
		say("run", r);
		say("retval", (i64)e->retval);
		say("destroy", d);
	}
	if (r != 0) {
		kprintf("host-kernel: RUN failed (%ld)\n", r);
		return 1;
	}
	return (int)(u32)e->retval; /* SRST reason: the low 32 bits */
}

/* ---- the driver's part alone: load the ELF into a block, fill the create_param ---- */

static struct create_param load_param;

static int cmd_load(void)
{
	struct enclave *e = &enc[0];
	u64 b = block();
	enclave_prepare(e, &load_param, "hello-world", b, embedded_enclave, elf_size());
	sayx("load.param", (u64)&load_param);
	sayx("load.block", b);
	sayx("load.pages", e->blk.pages);
	sayx("load.next", e->blk.next);
	return 0;
}

/*
 * Which enclave calls does the monitor implement? Each is called with arguments no monitor
 * accepts (PA 0 is not RAM; no enclave has id 0xffffffff): -1 = implemented and refused,
 * -2 = not supported.
 */
static int cmd_fids(void)
{
	say("fids.create", penglai(FID_CREATE_ENCLAVE, 0, 0, 0, 0, 0));
	say("fids.run", penglai(FID_RUN_ENCLAVE, 0xffffffffUL, 0, 0, 0, 0));
	say("fids.resume", penglai(FID_RESUME_ENCLAVE, 0xffffffffUL, RESUME_FROM_OCALL, 3, 0, 0));
	say("fids.destroy", penglai(FID_DESTROY_ENCLAVE, 0xffffffffUL, 0, 0, 0, 0));
	return 0;
}

/* ---- legitimate PTE writes through every SET_PTE flag ---- */

static int cmd_pte(void)
{
	u64 page[4];
	for (int i = 0; i < 4; i++) {
		page[i] = alloc_pages(1);
		*(u64 *)page[i] = 0x1000 + i;
	}
	u64 *e = walk(kernel_root, ALIAS_VA, 0); /* new PMD + PTE pages, pointers via SET_PTE */
	say("pte.set_one", set_pte((u64)e, pa_pte(page[0], PTE_KERNEL)));
	flush_tlb();
	u64 r = probe_load(ALIAS_VA);
	sayp("pte.alias_load", r);
	sayx("pte.alias_value", probe_value);
	sayp("pte.alias_store", probe_store(ALIAS_VA + 8, 0xabcd));
	sayx("pte.identity_value", *(volatile u64 *)(page[0] + 8));

	say("pte.clear_one", set_pte((u64)e, 0));
	flush_tlb();
	sayp("pte.after_clear", probe_load(ALIAS_VA));

	u64 *src = (u64 *)alloc_pages(1);
	for (int i = 0; i < 4; i++)
		src[i] = pa_pte(page[i], PTE_KERNEL);
	say("pte.memcpy", penglai(FID_SET_PTE, SET_PTE_MEMCPY, (u64)e, (u64)src, 32, 0));
	flush_tlb();
	probe_load(ALIAS_VA + 3 * PAGE);
	sayx("pte.memcpy_value", probe_value);

	say("pte.memset", penglai(FID_SET_PTE, SET_PTE_MEMSET, (u64)e, 0, 32, 0));
	flush_tlb();
	sayp("pte.after_memset", probe_load(ALIAS_VA + PAGE));

	u64 *list = (u64 *)alloc_pages(1);
	list[0] = (u64)&e[0];
	list[1] = pa_pte(page[2], PTE_KERNEL);
	list[2] = (u64)&e[1];
	list[3] = pa_pte(page[3], PTE_KERNEL);
	say("pte.batch_set", penglai(FID_SET_PTE, SET_PTE_BATCH_SET, (u64)list, 2, 0, 0));
	flush_tlb();
	probe_load(ALIAS_VA + PAGE);
	sayx("pte.batch_set_value", probe_value);

	list[0] = (u64)&e[0];
	list[1] = 16;
	say("pte.batch_zero", penglai(FID_SET_PTE, SET_PTE_BATCH_ZERO, (u64)list, 1, 0, 0));
	flush_tlb();
	sayp("pte.after_batch_zero", probe_load(ALIAS_VA + PAGE));
	return 0;
}

/* ---- MAP_PTE split, donation of a split block, free and remap ---- */

static int cmd_split(int with_enclave)
{
	u64 s = block();
	*(volatile u64 *)(s + 3 * PAGE) = 0x5a5a5a5a;
	u64 *pe = pmd_entry(s);
	u64 newp = pt_alloc_pte();
	say("split.map_pte", penglai(FID_MAP_PTE, (u64)pe, newp, 0, 0, 0));
	say("split.pmd_is_pointer", (*pe & 0x3ff) == PTE_V && pte_pa(*pe) == newp);
	sayx("split.leaf3", ((u64 *)newp)[3]);
	flush_tlb();
	sayp("split.read", probe_load(s + 3 * PAGE));
	sayx("split.read_value", probe_value);

	say("split.clear_4k", set_pte(newp + 5 * 8, 0));
	flush_tlb();
	sayp("split.cleared_page", probe_load(s + 5 * PAGE));
	sayp("split.neighbour_page", probe_load(s + 4 * PAGE));
	say("split.restore_4k", set_pte(newp + 5 * 8, pa_pte(s + 5 * PAGE, PTE_KERNEL)));
	flush_tlb();
	sayp("split.restored_page", probe_load(s + 5 * PAGE));
	/* MAP_PTE refuses what is not a 2 MiB leaf: the entry it just split, a PTE-area page as
	 * the PMD entry, a new page outside the PTE sub-area */
	say("split.again", penglai(FID_MAP_PTE, (u64)pe, pt_alloc_pte(), 0, 0, 0));
	say("split.entry_not_in_pmd", penglai(FID_MAP_PTE, newp, pt_alloc_pte(), 0, 0, 0));
	say("split.page_not_in_pte_area",
	    penglai(FID_MAP_PTE, (u64)pmd_entry(block()), alloc_pages(1), 0, 0, 0));
	if (!with_enclave)
		return 0;

	struct enclave *e = &enc[0];
	i64 r = create(e, "split", s);
	say("split.create", r);
	if (r != 0)
		return 1;
	flush_tlb();
	sayp("split.secure_page", probe_load(s + 3 * PAGE));
	sayx("split.leaf3_secure", ((u64 *)newp)[3]);
	say("split.run", enclave_run(e, 0));
	say("split.retval", (i64)e->retval);
	flush_tlb();
	sayp("split.remapped_page", probe_load(s + 3 * PAGE));
	sayx("split.leaf3_remapped", ((u64 *)newp)[3]);
	return 0;
}

/* ---- a 2 MiB leaf: donated (V cleared), freed at exit (V set again) ---- */

static int cmd_remap(void)
{
	u64 b = block();
	u64 *pe = pmd_entry(b);
	struct enclave *e = &enc[0];
	i64 r = create(e, "remap", b);
	say("remap.create", r);
	if (r != 0)
		return 1;
	sayx("remap.pmd_secure", *pe);
	flush_tlb();
	sayp("remap.secure_read", probe_load(b + PAGE));
	say("remap.run", enclave_run(e, 0));
	say("remap.retval", (i64)e->retval);
	sayx("remap.pmd_freed", *pe);
	flush_tlb();
	sayp("remap.freed_read", probe_load(b + PAGE));
	/* the block is ours again: a second enclave can be built in it */
	say("remap.create_again", create(e, "remap2", b));
	say("remap.run_again", enclave_run(e, 1));
	return 0;
}

/* ---- attacks ---- */

/* Map a secure frame with SET_PTE in every way; the mapping must not be usable. */
static int cmd_set_pte_secure(void)
{
	u64 b = donated_block("attack.donate");
	u64 pub = alloc_pages(1);
	u64 *pte = walk(kernel_root, ALIAS_VA, 0);
	u64 *pmd = pmd_entry(ALIAS_VA + MEGAPAGE); /* same PMD page, next 2 MiB */

	say("attack.set_one_4k", set_pte((u64)pte, pa_pte(b + 3 * PAGE, PTE_KERNEL)));
	sayx("attack.set_one_4k_entry", *pte);
	say("attack.set_one_2m", set_pte((u64)pmd, pa_pte(b, PTE_KERNEL)));
	sayx("attack.set_one_2m_entry", *pmd);
	/* a PMD pointer entry to a table outside the PTE sub-area (here: inside the enclave) */
	say("attack.pointer_outside_pte_area", set_pte((u64)pmd, pa_pte(b + PAGE, PTE_V)));
	/* a PGD entry that does not point into the PMD sub-area */
	say("attack.pgd_outside_pmd_area",
	    set_pte(kernel_root + 8 * 3, pa_pte(b + PAGE, PTE_V)));
	/* bit 63 set: Penglai skips its checks for such "PGD values" */
	say("attack.bit63", set_pte((u64)pte, pa_pte(b + 3 * PAGE, PTE_KERNEL) | (1UL << 63)));
	sayx("attack.bit63_entry", *pte);
	flush_tlb();
	sayp("attack.bit63_use", probe_load(ALIAS_VA));
	set_pte((u64)pte, 0); /* a legitimate write: in case the entry was stored */

	u64 *src = (u64 *)alloc_pages(1);
	src[0] = pa_pte(pub, PTE_KERNEL);
	src[1] = pa_pte(b + 4 * PAGE, PTE_KERNEL);
	say("attack.memcpy", penglai(FID_SET_PTE, SET_PTE_MEMCPY, (u64)pte, (u64)src, 16, 0));
	sayx("attack.memcpy_entry0", pte[0]);
	sayx("attack.memcpy_entry1", pte[1]);

	u64 *list = (u64 *)alloc_pages(1);
	list[0] = (u64)&pte[0];
	list[1] = pa_pte(pub, PTE_KERNEL);
	list[2] = (u64)&pte[1];
	list[3] = pa_pte(b + 5 * PAGE, PTE_KERNEL);
	say("attack.batch_set", penglai(FID_SET_PTE, SET_PTE_BATCH_SET, (u64)list, 2, 0, 0));
	sayx("attack.batch_set_entry0", pte[0]);
	sayx("attack.batch_set_entry1", pte[1]);
	flush_tlb();
	/* the refused entries: using them must fault (page fault, nothing was stored) */
	sayp("attack.use_4k", probe_load(ALIAS_VA + PAGE));
	sayp("attack.use_2m", probe_load(ALIAS_VA + MEGAPAGE));
	u64 v = *(volatile u64 *)(ALIAS_VA + PAGE); /* traps: 13 */
	(void)v;
	succeeded("read a secure frame through a refused SET_PTE mapping");
}

/*
 * Use the monitor as a write gadget: SET_PTE / MAP_PTE destinations outside the PT area (the
 * monitor's memory, the bitmap, a donated block, ordinary RAM), and a second SM_INIT or
 * PT_AREA_SEPARATION that would hand the kernel a PT area it can write.
 */
static int cmd_write_gadget(void)
{
	u64 b = donated_block("gadget.donate");
	u64 ram = alloc_pages(1);
	u64 leaf = pa_pte(ram, PTE_KERNEL);
	say("gadget.set_one_monitor", set_pte(0x80000000UL, leaf));
	say("gadget.set_one_bitmap", set_pte(plan_bitmap_base, leaf));
	say("gadget.set_one_secure", set_pte(b + 0x3000, leaf));
	say("gadget.set_one_ram", set_pte(ram, leaf));
	say("gadget.set_one_unaligned", set_pte(pt.pte + 4, 0));
	say("gadget.set_one_straddles_pt_end", set_pte(pt.end - 4, 0));
	say("gadget.memset_bitmap", penglai(FID_SET_PTE, SET_PTE_MEMSET, plan_bitmap_base, 0, 4096, 0));
	say("gadget.memset_past_pt_end", penglai(FID_SET_PTE, SET_PTE_MEMSET, pt.end - 8, 0, 16, 0));
	say("gadget.memset_nonzero", penglai(FID_SET_PTE, SET_PTE_MEMSET, pt.pte, 1, 8, 0));
	u64 *src = (u64 *)alloc_pages(1);
	say("gadget.memcpy_to_secure", penglai(FID_SET_PTE, SET_PTE_MEMCPY, b, (u64)src, 8, 0));
	say("gadget.memcpy_size_overflow",
	    penglai(FID_SET_PTE, SET_PTE_MEMCPY, pt.pte, (u64)src, ~0UL - 7, 0));
	u64 *list = (u64 *)alloc_pages(1);
	list[0] = 0x80000000UL;
	list[1] = 4096;
	say("gadget.batch_zero_monitor", penglai(FID_SET_PTE, SET_PTE_BATCH_ZERO, (u64)list, 1, 0, 0));
	list[0] = pt.pte;
	list[1] = ~0UL - 7; /* ptep + size overflows */
	say("gadget.batch_zero_overflow", penglai(FID_SET_PTE, SET_PTE_BATCH_ZERO, (u64)list, 1, 0, 0));
	say("gadget.batch_count_overflow",
	    penglai(FID_SET_PTE, SET_PTE_BATCH_SET, (u64)list, 1UL << 60, 0, 0));
	say("gadget.bad_flag", penglai(FID_SET_PTE, 6, pt.pte, 0, 0, 0));
	say("gadget.memset_2_63", penglai(FID_SET_PTE, SET_PTE_MEMSET, pt.pte, 0, 1UL << 63, 0));
	say("gadget.memcpy_2_40", penglai(FID_SET_PTE, SET_PTE_MEMCPY, pt.pte, (u64)src, 1UL << 40, 0));
	u64 spare = block();
	say("gadget.extend_zero", penglai(FID_MEMORY_EXTEND, spare, 0, 0, 0, 0));
	say("gadget.extend_unaligned", penglai(FID_MEMORY_EXTEND, spare + 8, PAGE, 0, 0, 0));
	say("gadget.extend_overflow", penglai(FID_MEMORY_EXTEND, spare, ~0UL & ~(PAGE - 1), 0, 0, 0));
	say("gadget.extend_pt_area", penglai(FID_MEMORY_EXTEND, pt.base, PAGE, 0, 0, 0));
	say("gadget.extend_part_of_a_2m_leaf", penglai(FID_MEMORY_EXTEND, 0x80200000UL, PAGE, 0, 0, 0));
	u64 *pe = pmd_entry(block());
	say("gadget.map_pte_into_secure", penglai(FID_MAP_PTE, (u64)pe, b + PAGE, 0, 0, 0));
	say("gadget.map_pte_into_monitor", penglai(FID_MAP_PTE, (u64)pe, 0x80000000UL, 0, 0, 0));
	u64 fresh = block();
	say("gadget.sm_init_again", penglai(FID_SM_INIT, fresh, MEGAPAGE, plan_bitmap_base,
					    plan_bitmap_size, (u64)src));
	say("gadget.separation_again", penglai(FID_PT_AREA_SEPARATION, 0, 0, 0, 0, 0));
	say("gadget.unknown_fid", penglai(82, 0, 0, 0, 0, 0));
	/* the PT area is still the only place SET_PTE writes: a legitimate write works */
	say("gadget.legit_after", set_pte(pt.next_pte + 8, 0));
	return 0;
}

/*
 * Attacks on a live enclave's block: map it with SET_PTE, read it through the kernel's old
 * mapping while the enclave waits in an OCALL, build a second enclave on it or across it.
 */
static int cmd_enclave_victim(void)
{
	u64 b = block();
	struct enclave *e = &enc[0], *e2 = &enc[1];
	i64 r = create(e, "victim", b);
	say("victim.create", r);
	if (r != 0)
		return 1;
	u64 *pte = walk(kernel_root, ALIAS_VA, 0);
	u64 *pmd = pmd_entry(ALIAS_VA + MEGAPAGE);
	say("victim.set_one_4k", set_pte((u64)pte, pa_pte(b + 3 * PAGE, PTE_KERNEL)));
	say("victim.set_one_2m", set_pte((u64)pmd, pa_pte(b, PTE_KERNEL)));
	sayx("victim.entries", *pte | *pmd);
	/* CREATE again on the same block, and on a block overlapping its second half */
	u64 next = block();
	if (next != b + BLOCK)
		panic("blocks not contiguous");
	struct create_param *p = (struct create_param *)alloc_pages(1);
	enclave_prepare(e2, p, "twin", next, embedded_enclave, elf_size());
	p->paddr = b; /* the kernel cannot write the block any more: only the parameters change */
	say("victim.create_same_block", penglai(FID_CREATE_ENCLAVE, (u64)p, 0, 0, 0, 0));
	enclave_prepare(e2, p, "overlap", next, embedded_enclave, elf_size());
	p->paddr = b + MEGAPAGE / 2;
	p->size = BLOCK;
	say("victim.create_overlapping", penglai(FID_CREATE_ENCLAVE, (u64)p, 0, 0, 0, 0));
	flush_tlb();
	sayp("victim.overlap_block_public", probe_load(next + PAGE));
	/* while the enclave waits for its print OCALL, its block stays out of reach */
	probe_during_ocall = b + 3 * PAGE;
	say("victim.run", enclave_run(e, 0));
	probe_during_ocall = 0;
	sayp("victim.read_during_ocall", probe_during_ocall_result);
	flush_tlb();
	sayp("victim.read_after_exit", probe_load(b + 3 * PAGE));
	/* the monitor scrubbed the block at exit: the enclave's root table (page 1, whose
	 * entry 0 mapped the image) reads as zero */
	sayp("victim.root_read_after_exit", probe_load(b + PAGE));
	sayx("victim.root_entry0_after_exit", probe_value);
	return 0;
}

/* Store a PTE directly into the PT area: store access fault (PMP: read-only). */
static int cmd_pt_store(void)
{
	sayp("attack.pt_read", probe_load(kernel_root));
	sayp("attack.pt_store_pmd", probe_store(pt.pmd, 0));
	sayp("attack.pt_store_pte", probe_store(pt.pte, 0));
	*(volatile u64 *)(kernel_root + 8) = pa_pte(0x80000000UL, PTE_KERNEL); /* traps: 7 */
	succeeded("stored into the PT area");
}

/* Point satp at roots outside the PGD sub-area: illegal instruction. */
static int cmd_satp(void)
{
	u64 fake = alloc_pages(1);
	for (int i = 0; i < 512; i++)
		((u64 *)fake)[i] = ((u64 *)kernel_root)[i];
	u64 good = SATP_SV39 | (kernel_root >> 12);
	sayp("satp.normal_ram_root", probe_satp(SATP_SV39 | (fake >> 12)));
	sayp("satp.pt_base_root", probe_satp(SATP_SV39 | (pt.base >> 12)));
	sayp("satp.pmd_area_root", probe_satp(SATP_SV39 | (pt.pmd >> 12)));
	sayp("satp.pte_area_root", probe_satp(SATP_SV39 | (pt.pte >> 12)));
	sayp("satp.sv48_mode", probe_satp((9UL << 60) | (kernel_root >> 12)));
	sayp("satp.bare_mode", probe_satp(0));
	sayp("satp.kernel_root", probe_satp(good));
	u64 now;
	__asm__ volatile("csrr %0, satp" : "=r"(now));
	say("satp.unchanged", now == good);
	u64 bad = SATP_SV39 | (fake >> 12);
	__asm__ volatile("csrw satp, %0" ::"r"(bad) : "memory"); /* traps: 2 */
	succeeded("satp now points at a table outside the PT area");
}

/* Read the monitor's memory: load access fault (PMP entry 0). */
static int cmd_read_monitor(void)
{
	sayp("attack.monitor_store", probe_store(0x80000000UL, 0));
	sayp("attack.monitor_keys_load", probe_load(0x801FF000UL));
	u64 v = *(volatile u64 *)0x80000000UL; /* traps: 5 */
	(void)v;
	succeeded("read the monitor region");
}

/* Read the secure-page bitmap: load access fault (PMP entry 2). */
static int cmd_read_bitmap(void)
{
	sayp("attack.bitmap_store", probe_store(plan_bitmap_base, 0));
	u64 v = *(volatile u64 *)plan_bitmap_base; /* traps: 5 */
	(void)v;
	succeeded("read the bitmap");
}

/*
 * Donate memory the kernel still maps, then read it through the old mapping: page fault.
 * how: 0 MEMORY_EXTEND under a 2 MiB leaf, 1 the same after a MAP_PTE split (4 KiB leaves),
 * 2 an enclave's block at CREATE.
 */
static int cmd_stale(int how)
{
	u64 b = block();
	*(volatile u64 *)(b + 0x3000) = 0x1234;
	if (how == 1) {
		u64 *pe = pmd_entry(b);
		say("stale.map_pte", penglai(FID_MAP_PTE, (u64)pe, pt_alloc_pte(), 0, 0, 0));
		flush_tlb();
	}
	sayp("stale.read_before", probe_load(b + 0x3000));
	if (how == 2)
		say("stale.create", create(&enc[0], "victim", b));
	else
		say("stale.donate", penglai(FID_MEMORY_EXTEND, b, BLOCK, 0, 0, 0));
	flush_tlb();
	u64 v = *(volatile u64 *)(b + 0x3000); /* traps: 13 */
	(void)v;
	succeeded("read donated memory through a stale mapping");
}

/*
 * Make the monitor copy from / to a host buffer whose first page is public and whose later
 * bytes are secure (Penglai only checks the first page): every call must be refused and have
 * no effect. The victim block is donated with MEMORY_EXTEND; "copy-mixed" stops after the
 * calls that need no enclave (console, SET_PTE sources, MEMORY_EXTEND), "copy-mixed-enclave"
 * goes on with CREATE / RUN parameter blocks.
 */
static int cmd_copy_mixed(int with_enclaves)
{
	u64 b0 = block(), b1 = block(), b2 = block();
	if (b1 != b0 + BLOCK)
		panic("blocks not contiguous");
	struct enclave *e = &enc[1], *e2 = &enc[2];
	say("copy.victim_donate", penglai(FID_MEMORY_EXTEND, b1, BLOCK, 0, 0, 0));
	/* the console must not print secure bytes */
	struct sbiret c = sbi_call(SBI_EXT_DBCN, 0, 32, b1 - 16, 0, 0, 0);
	say("copy.dbcn_straddles", c.error);
	/* SET_PTE flag 3 with a source array running into secure memory */
	u64 *pte = walk(kernel_root, ALIAS_VA, 0);
	*(volatile u64 *)(b1 - 8) = 0;
	say("copy.memcpy_source_straddles",
	    penglai(FID_SET_PTE, SET_PTE_MEMCPY, (u64)pte, b1 - 8, 16, 0));
	/* SET_PTE flag 5 with a {ptep, entry} list running into secure memory */
	say("copy.batch_list_straddles", penglai(FID_SET_PTE, SET_PTE_BATCH_SET, b1 - 8, 1, 0, 0));
	say("copy.memory_extend_straddles", penglai(FID_MEMORY_EXTEND, b1 - PAGE, 2 * PAGE, 0, 0, 0));
	flush_tlb();
	sayp("copy.extend_refused_page_public", probe_load(b1 - PAGE));
	if (!with_enclaves)
		return 0;

	/* create_param: 64 bytes in public b0, the other 72 in the victim's block */
	struct create_param *p = (struct create_param *)(b1 - 64);
	struct create_param tmp;
	enclave_prepare(e, &tmp, "mixed", b2, embedded_enclave, elf_size());
	kmemcpy(p, &tmp, 64);
	say("copy.create_param_straddles", penglai(FID_CREATE_ENCLAVE, (u64)p, 0, 0, 0, 0));
	flush_tlb();
	sayp("copy.block_still_public", probe_load(b2 + PAGE));

	/* pointers in an otherwise good create_param that aim into secure memory */
	enclave_prepare(e, &tmp, "mixed", b2, embedded_enclave, elf_size());
	tmp.eid_ptr = b1 + 0x800;
	say("copy.eid_ptr_secure", penglai(FID_CREATE_ENCLAVE, (u64)&tmp, 0, 0, 0, 0));
	enclave_prepare(e, &tmp, "mixed", b2, embedded_enclave, elf_size());
	tmp.retval = b1 + 0x800;
	say("copy.retval_secure", penglai(FID_CREATE_ENCLAVE, (u64)&tmp, 0, 0, 0, 0));
	enclave_prepare(e, &tmp, "mixed", b2, embedded_enclave, elf_size());
	tmp.kbuffer = b1 + 2 * PAGE;
	say("copy.kbuffer_secure", penglai(FID_CREATE_ENCLAVE, (u64)&tmp, 0, 0, 0, 0));
	enclave_prepare(e, &tmp, "mixed", b2, embedded_enclave, elf_size());
	tmp.eid_ptr = b1 - 2; /* a u32 straddling public / secure */
	say("copy.eid_ptr_straddles", penglai(FID_CREATE_ENCLAVE, (u64)&tmp, 0, 0, 0, 0));

	/* a good enclave, then a run_param straddling public / secure */
	i64 r = create(e2, "good", b2);
	say("copy.good_create", r);
	if (r != 0)
		return 1;
	*(volatile u64 *)(b1 - 8) = 0;
	say("copy.run_param_straddles", penglai(FID_RUN_ENCLAVE, e2->eid, b1 - 8, 0, 0, 0));
	say("copy.good_run", enclave_run(e2, 0));
	return 0;
}

/* Use an enclave id after DESTROY. */
static int cmd_run_destroyed(void)
{
	u64 b = block();
	struct enclave *e = &enc[0];
	i64 r = create(e, "doomed", b);
	say("destroyed.create", r);
	if (r != 0)
		return 1;
	u32 eid = e->eid;
	say("destroyed.destroy", destroy(e));
	say("destroyed.run", penglai(FID_RUN_ENCLAVE, eid, 0, 0, 0, 0));
	say("destroyed.resume", penglai(FID_RESUME_ENCLAVE, eid, RESUME_FROM_OCALL, 3, 0, 0));
	say("destroyed.stop", penglai(FID_STOP_ENCLAVE, eid, 0, 0, 0, 0));
	say("destroyed.destroy_again", destroy(e));
	flush_tlb();
	sayp("destroyed.block_public", probe_load(b + PAGE));
	say("destroyed.create_again", create(e, "reborn", b));
	say("destroyed.run_again", enclave_run(e, 0));
	return 0;
}

/* Create enclaves until the monitor refuses; then free one and create again. */
static struct enclave many[128];

static int cmd_exhaust(void)
{
	u64 blocks[128];
	int n = 0;
	i64 r = 0;
	for (; n < 128; n++) {
		u64 b = alloc_aligned(BLOCK, BLOCK);
		if (!b) {
			say("exhaust.out_of_ram_at", n);
			break;
		}
		blocks[n] = b;
		r = create(&many[n], "many", b);
		if (r != 0)
			break;
	}
	say("exhaust.created", n);
	say("exhaust.refused", r);
	if (n == 0)
		return 0;
	say("exhaust.destroy_first", destroy(&many[0]));
	say("exhaust.create_after_free", create(&many[0], "again", blocks[0]));
	say("exhaust.run_after_free", enclave_run(&many[0], 0));
	return 0;
}

int run_command(const char *cmd)
{
	if (!kstrcmp(cmd, "hello") || !kstrcmp(cmd, "demo"))
		return cmd_hello();
	if (!kstrcmp(cmd, "fids"))
		return cmd_fids();
	if (!kstrcmp(cmd, "load"))
		return cmd_load();
	if (!kstrcmp(cmd, "pte"))
		return cmd_pte();
	if (!kstrcmp(cmd, "map-pte"))
		return cmd_split(0);
	if (!kstrcmp(cmd, "split"))
		return cmd_split(1);
	if (!kstrcmp(cmd, "remap"))
		return cmd_remap();
	if (!kstrcmp(cmd, "set-pte-secure"))
		return cmd_set_pte_secure();
	if (!kstrcmp(cmd, "enclave-victim"))
		return cmd_enclave_victim();
	if (!kstrcmp(cmd, "write-gadget"))
		return cmd_write_gadget();
	if (!kstrcmp(cmd, "pt-store"))
		return cmd_pt_store();
	if (!kstrcmp(cmd, "satp"))
		return cmd_satp();
	if (!kstrcmp(cmd, "read-monitor"))
		return cmd_read_monitor();
	if (!kstrcmp(cmd, "read-bitmap"))
		return cmd_read_bitmap();
	if (!kstrcmp(cmd, "stale-read"))
		return cmd_stale(0);
	if (!kstrcmp(cmd, "stale-read-4k"))
		return cmd_stale(1);
	if (!kstrcmp(cmd, "stale-enclave"))
		return cmd_stale(2);
	if (!kstrcmp(cmd, "copy-mixed"))
		return cmd_copy_mixed(0);
	if (!kstrcmp(cmd, "copy-mixed-enclave"))
		return cmd_copy_mixed(1);
	if (!kstrcmp(cmd, "run-destroyed"))
		return cmd_run_destroyed();
	if (!kstrcmp(cmd, "exhaust"))
		return cmd_exhaust();
	kprintf("host-kernel: unknown command \"%s\"\n", cmd);
	return 2;
}
