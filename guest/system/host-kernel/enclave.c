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
	enclave_prepare_stack(e, p, name, block_pa, elf, elf_size, STACK_SIZE);
}

/* The same with a stack of stack_size bytes (0 for a shadow template, as the driver does). */
void enclave_prepare_stack(struct enclave *e, struct create_param *p, const char *name,
			   u64 block_pa, const u8 *elf, u64 elf_size, u64 stack_size)
{
	struct block *b = &e->blk;
	b->pa = block_pa;
	b->pages = block_pages_for(elf, elf_size, stack_size);
	if (!b->pages)
		panic("embedded enclave ELF is not loadable");
	if (b->pages * PAGE > MEGAPAGE)
		panic("embedded enclave ELF needs more than one 2 MiB block");
	if (load_enclave(elf, elf_size, stack_size, b) != 0)
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
 * Fill a shadow_enclave_run_param for a fork of a template into the instance block at
 * instance_pa (2 MiB, as the driver's order-9 block), with e's mailbox, a zeroed kbuffer and
 * an optional relay region. The instance's monitor eid will arrive in e->eid.
 */
void fork_prepare(struct enclave *e, struct shadow_run_param *p, const char *name,
		  u64 instance_pa, u64 relay, u64 relay_size)
{
	if (!e->kbuffer)
		e->kbuffer = (u8 *)alloc_pages(1);
	kmemset(e->kbuffer, 0, PAGE);
	kmemset(p, 0, sizeof(*p));
	e->eid = 0xFFFFFFFFu;
	e->blk.pa = instance_pa;
	e->blk.pages = MEGAPAGE / PAGE;
	p->free_page = instance_pa;
	p->size = MEGAPAGE;
	p->eid_ptr = (u64)&e->eid;
	p->kbuffer = (u64)e->kbuffer;
	p->kbuffer_size = PAGE;
	p->mm_arg_addr = relay;
	p->mm_arg_size = relay_size;
	p->ecall_arg0 = (u64)&e->ocall_func_id;
	p->ecall_arg1 = (u64)&e->ocall_arg0;
	p->ecall_arg2 = (u64)&e->ocall_arg1;
	p->ecall_arg3 = (u64)&e->ocall_syscall_num;
	p->retval = (u64)&e->retval;
	for (int i = 0; i < 15 && name[i]; i++)
		p->name[i] = name[i];
}

/*
 * Run until the enclave ends. Returns the final run result (0 on exit: the value is in
 * e->retval; negative on failure). OCALL_SYS_WRITE text goes to the console unless `quiet`.
 */
u64 probe_during_ocall; /* attacks.c: an address to load from while an OCALL is served */
u64 probe_during_ocall_result;
void (*ocall_hook)(struct enclave *e);
void (*relay_hook)(struct enclave *e, u64 pa, u64 size);

i64 enclave_run(struct enclave *e, int quiet)
{
	return enclave_run_relay(e, 0, 0, quiet);
}

/* RUN with a relay region (0, 0: none), then the run loop. */
i64 enclave_run_relay(struct enclave *e, u64 relay, u64 relay_size, int quiet)
{
	rp.mm_arg_addr = relay;
	rp.mm_arg_size = relay_size;
	return enclave_loop(e, penglai(FID_RUN_ENCLAVE, e->eid, (u64)&rp, 0, 0, 0), quiet);
}

/*
 * The driver's run loop from a first result r (of RUN or RUN_SHADOW): timer exits resumed,
 * prints served, a relay return handed to relay_hook and the region mapped again.
 */
i64 enclave_loop(struct enclave *e, i64 r, int quiet)
{
	for (;;) {
		if (r == ENCLAVE_TIMER_IRQ || r == ENCLAVE_YIELD) {
			r = penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_TIMER_IRQ, 0, 0, 0);
		} else if (r == ENCLAVE_OCALL) {
			u64 id = e->ocall_func_id;
			if (probe_during_ocall)
				probe_during_ocall_result = probe_load(probe_during_ocall);
			if (ocall_hook)
				ocall_hook(e);
			if (id == OCALL_RETURN_RELAY_PAGE) {
				u64 pa = e->ocall_arg0, size = e->ocall_arg1;
				if (relay_hook)
					relay_hook(e, pa, size);
				r = penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, id, pa, size);
				continue;
			}
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
