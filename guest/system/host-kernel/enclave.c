/*
 * enclave.c - create, run and destroy an enclave through the monitor, serving its OCALLs as
 * the Penglai driver does (docs/abi.md §4.4): the monitor writes the OCALL id and arguments
 * into the mailbox words whose physical addresses we give at CREATE, the run call returns 2
 * (ENCLAVE_OCALL), and we resume with SBI_RESUME_ENCLAVE(eid, RESUME_FROM_OCALL, id).
 */
#include "kernel.h"

#define STACK_SIZE 0x10000UL

static struct create_param cp;
static struct run_param rp;

/* Load the ELF into the block at block_pa and fill *p as the driver does; no monitor call. */
void enclave_prepare(struct enclave *e, struct create_param *p, const char *name, u64 block_pa,
		     const u8 *elf, u64 elf_size)
{
	struct block *b = &e->blk;
	b->pa = block_pa;
	b->pages = block_pages_for(elf, elf_size, STACK_SIZE);
	if (!b->pages)
		panic("embedded enclave ELF is not loadable");
	if (load_enclave(elf, elf_size, STACK_SIZE, b) != 0)
		panic("loading the enclave ELF failed");
	if (!e->kbuffer)
		e->kbuffer = (u8 *)alloc_pages(1);
	kmemset(p, 0, sizeof(*p));
	e->eid = 0xFFFFFFFFu;
	p->eid_ptr = (u64)&e->eid;
	for (int i = 0; i < 15 && name[i]; i++)
		p->name[i] = name[i];
	p->type = 0;
	p->paddr = b->pa;
	p->size = b->pages * PAGE;
	p->entry_point = b->entry;
	p->free_mem = b->free_mem;
	p->kbuffer = (u64)e->kbuffer;
	p->kbuffer_size = PAGE;
	p->ecall_arg0 = (u64)&e->ocall_func_id;
	p->ecall_arg1 = (u64)&e->ocall_arg0;
	p->ecall_arg2 = (u64)&e->ocall_arg1;
	p->ecall_arg3 = (u64)&e->ocall_syscall_num;
	p->retval = (u64)&e->retval;
}

i64 enclave_create(struct enclave *e, const char *name, u64 block_pa, const u8 *elf, u64 elf_size)
{
	enclave_prepare(e, &cp, name, block_pa, elf, elf_size);
	return penglai(FID_CREATE_ENCLAVE, (u64)&cp, 0, 0, 0, 0);
}

/*
 * Run until the enclave ends. Returns the final run result (0 on exit: the value is in
 * e->retval; negative on failure). OCALL_SYS_WRITE text goes to the console unless `quiet`.
 */
u64 probe_during_ocall; /* attacks.c: an address to load from while an OCALL is served */
u64 probe_during_ocall_result;

i64 enclave_run(struct enclave *e, int quiet)
{
	rp.mm_arg_addr = 0;
	rp.mm_arg_size = 0;
	i64 r = penglai(FID_RUN_ENCLAVE, e->eid, (u64)&rp, 0, 0, 0);
	for (;;) {
		if (r == ENCLAVE_TIMER_IRQ || r == ENCLAVE_YIELD) {
			r = penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_TIMER_IRQ, 0, 0, 0);
		} else if (r == ENCLAVE_OCALL) {
			u64 id = e->ocall_func_id;
			if (probe_during_ocall)
				probe_during_ocall_result = probe_load(probe_during_ocall);
			if (id == OCALL_SYS_WRITE) {
				e->kbuffer[511] = 0; /* as the driver does */
				if (!quiet)
					kputs((const char *)e->kbuffer);
			} else {
				kprintf("host-kernel: OCALL %lu not served\n", id);
			}
			r = penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, id, 0, 0);
		} else {
			return r;
		}
	}
}
