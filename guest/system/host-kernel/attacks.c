/*
 * attacks.c - what an untrusted S-mode kernel might try against the guarded page table and the
 * monitor; every attempt must fail (docs/host-kernel.md). Output format: commands.h.
 */
#include "commands.h"

/* Map a secure frame with SET_PTE in every way; the mapping must not be usable. */
int cmd_set_pte_secure(int arg)
{
	(void)arg;
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
int cmd_write_gadget(int arg)
{
	(void)arg;
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
int cmd_enclave_victim(int arg)
{
	(void)arg;
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
int cmd_pt_store(int arg)
{
	(void)arg;
	sayp("attack.pt_read", probe_load(kernel_root));
	sayp("attack.pt_store_pmd", probe_store(pt.pmd, 0));
	sayp("attack.pt_store_pte", probe_store(pt.pte, 0));
	*(volatile u64 *)(kernel_root + 8) = pa_pte(0x80000000UL, PTE_KERNEL); /* traps: 7 */
	succeeded("stored into the PT area");
}

/* Point satp at roots outside the PGD sub-area: illegal instruction. */
int cmd_satp(int arg)
{
	(void)arg;
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
int cmd_read_monitor(int arg)
{
	(void)arg;
	sayp("attack.monitor_store", probe_store(0x80000000UL, 0));
	sayp("attack.monitor_keys_load", probe_load(0x801FF000UL));
	u64 v = *(volatile u64 *)0x80000000UL; /* traps: 5 */
	(void)v;
	succeeded("read the monitor region");
}

/* Read the secure-page bitmap: load access fault (PMP entry 2). */
int cmd_read_bitmap(int arg)
{
	(void)arg;
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
int cmd_stale(int how)
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
int cmd_copy_mixed(int with_enclaves)
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
int cmd_run_destroyed(int arg)
{
	(void)arg;
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

int cmd_exhaust(int arg)
{
	(void)arg;
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
