/*
 * positive.c - the commands that do what a well-behaved kernel and driver do: run the embedded
 * enclave (hello, demo), the driver's loader alone (load), probe the enclave calls (fids),
 * legitimate page-table writes (pte), huge-page split, donation and remap (map-pte, split,
 * remap). Output format: commands.h.
 */
#include "commands.h"

/* ---- hello / demo ---- */

int cmd_hello(int arg)
{
	(void)arg;
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

int cmd_load(int arg)
{
	(void)arg;
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
int cmd_fids(int arg)
{
	(void)arg;
	say("fids.create", penglai(FID_CREATE_ENCLAVE, 0, 0, 0, 0, 0));
	say("fids.run", penglai(FID_RUN_ENCLAVE, 0xffffffffUL, 0, 0, 0, 0));
	say("fids.resume", penglai(FID_RESUME_ENCLAVE, 0xffffffffUL, RESUME_FROM_OCALL, 3, 0, 0));
	say("fids.destroy", penglai(FID_DESTROY_ENCLAVE, 0xffffffffUL, 0, 0, 0, 0));
	return 0;
}

/* ---- legitimate PTE writes through every SET_PTE flag ---- */

int cmd_pte(int arg)
{
	(void)arg;
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

int cmd_split(int with_enclave)
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

int cmd_remap(int arg)
{
	(void)arg;
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
