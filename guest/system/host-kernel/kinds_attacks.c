/*
 * kinds_attacks.c - what an untrusted kernel might try with the shadow, server and relay calls:
 * bad physical addresses, secure frames, ids that are not what the call expects. Every attempt
 * must be refused (−1) with nothing changed; each command then checks that the good call still
 * works and ends with a load from secure memory through the kernel's old mapping, which must
 * page-fault (trap 13, exit 113). Output format: commands.h.
 */
#include "commands.h"

i64 create_template(struct enclave *t, const char *name, u64 b, const u8 *elf, u64 size);
i64 fork_run(struct enclave *e, u32 sid, u64 ib, u64 relay, u64 relay_size, int quiet);
i64 create_server(struct enclave *s, const char *name, u64 b);
u64 relay_page(void);

static struct create_param kp;
static struct shadow_run_param srp;
static struct run_param rp;
static u8 report[328];

/* A block split into 4 KiB leaves (so single pages of it can be given away) followed by a
 * block donated with MEMORY_EXTEND: d - PAGE is public and mapped by a 4 KiB leaf, d secure. */
static u64 public_then_secure(const char *name)
{
	u64 pad = block();
	i64 r = penglai(FID_MAP_PTE, (u64)pmd_entry(pad), pt_alloc_pte(), 0, 0, 0);
	if (r != 0)
		panic("MAP_PTE failed (%ld)", r);
	flush_tlb();
	u64 d = donated_block(name);
	if (d != pad + BLOCK)
		panic("blocks not contiguous");
	return d;
}

__attribute__((noreturn)) static void read_secure(u64 pa, const char *what)
{
	flush_tlb();
	u64 v = *(volatile u64 *)pa; /* traps: 13 */
	(void)v;
	succeeded(what);
}

/* ---- shadow templates and forks ---- */

int cmd_attack_shadow(int arg)
{
	(void)arg;
	u64 d = public_then_secure("ashadow.donate");
	struct enclave *t = &enc[0], *inst = &enc[1];
	u64 tb = block();
	u64 ib = block();
	enclave_prepare_stack(t, &kp, "tpl", tb, embedded_enclave, elf_size(), 0);
	struct create_param good = kp;
	kp.eid_ptr = d + 8;
	say("ashadow.create_eid_secure", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.eid_ptr = tb + 8;
	say("ashadow.create_eid_in_block", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.paddr = d;
	say("ashadow.create_block_secure", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.paddr = 0x80000000UL;
	say("ashadow.create_block_monitor", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.paddr = pt.base;
	kp.size = pt.size;
	say("ashadow.create_block_pt_area", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.free_mem = tb + BLOCK;
	say("ashadow.create_free_mem_outside", penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kmemcpy((void *)(d - 64), &kp, 64);
	say("ashadow.create_param_straddles", penglai(FID_CREATE_SHADOW, d - 64, 0, 0, 0, 0));
	flush_tlb();
	sayp("ashadow.template_block_public", probe_load(tb + PAGE));

	i64 r = penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0);
	say("ashadow.create", r);
	if (r != 0)
		return 1;
	u32 sid = t->eid;

	fork_prepare(inst, &srp, "fork", ib, 0, 0);
	struct shadow_run_param gs = srp;
	say("ashadow.run_next_sid", penglai(FID_RUN_SHADOW, sid + 1, (u64)&srp, 0, 0, 0));
	say("ashadow.run_sid_ffffffff", penglai(FID_RUN_SHADOW, 0xffffffffUL, (u64)&srp, 0, 0, 0));
	say("ashadow.run_sid_2_32", penglai(FID_RUN_SHADOW, 1UL << 32, (u64)&srp, 0, 0, 0));
	srp.free_page = tb;
	say("ashadow.instance_is_template", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = d;
	say("ashadow.instance_secure", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = 0x80000000UL;
	say("ashadow.instance_monitor", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = plan_bitmap_base;
	say("ashadow.instance_bitmap", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = pt.base;
	srp.size = PAGE;
	say("ashadow.instance_pt_area", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = ib + PAGE;
	srp.size = BLOCK - PAGE;
	say("ashadow.instance_partial_leaf", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.free_page = ib;
	srp.size = 1UL << 63;
	say("ashadow.instance_size_2_63", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.size = -PAGE;
	say("ashadow.instance_size_wraps", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	srp.eid_ptr = d + 4;
	say("ashadow.eid_secure", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.eid_ptr = ib + 16;
	say("ashadow.eid_in_instance", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	srp.kbuffer = d;
	say("ashadow.kbuffer_secure", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.kbuffer = ib;
	say("ashadow.kbuffer_in_instance", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	srp.ecall_arg0 = d;
	say("ashadow.mailbox_secure", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	srp.retval = tb;
	say("ashadow.retval_in_template", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	srp.mm_arg_addr = d;
	srp.mm_arg_size = PAGE;
	say("ashadow.relay_secure", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.mm_arg_addr = ib;
	srp.mm_arg_size = BLOCK;
	say("ashadow.relay_is_instance", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp.mm_arg_addr = d - PAGE;
	srp.mm_arg_size = 2 * PAGE;
	say("ashadow.relay_straddles", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	srp = gs;
	kmemcpy((void *)(d - 64), &srp, 64);
	say("ashadow.run_param_straddles", penglai(FID_RUN_SHADOW, sid, d - 64, 0, 0, 0));
	say("ashadow.attest_report_secure", penglai(FID_ATTEST_SHADOW, sid, d, 1, 0, 0));
	say("ashadow.attest_report_monitor", penglai(FID_ATTEST_SHADOW, sid, 0x80000000UL, 1, 0, 0));
	say("ashadow.attest_report_straddles", penglai(FID_ATTEST_SHADOW, sid, d - 64, 1, 0, 0));
	say("ashadow.attest_next_sid", penglai(FID_ATTEST_SHADOW, sid + 1, (u64)report, 1, 0, 0));
	say("ashadow.attest_with_fid_98", penglai(FID_ATTEST_ENCLAVE, sid, (u64)report, 1, 0, 0));
	say("ashadow.destroy_next_sid", penglai(FID_DESTROY_SHADOW, sid + 1, 0, 0, 0, 0));
	say("ashadow.destroy_with_fid_94", penglai(FID_DESTROY_ENCLAVE, sid, 0, 0, 0, 0));
	flush_tlb();
	sayp("ashadow.instance_block_public", probe_load(ib + PAGE));
	say("ashadow.good_fork", fork_run(inst, sid, ib, 0, 0, 0));
	read_secure(tb + 3 * PAGE, "read a shadow template's block");
}

/* ---- servers ---- */

int cmd_attack_server(int arg)
{
	(void)arg;
	u64 d = public_then_secure("aserver.donate");
	struct enclave *s = &enc[0], *n = &enc[1];
	u64 sb = block();
	enclave_prepare(s, &kp, "test-server", sb, embedded_server, embedded_server_end - embedded_server);
	struct create_param good = kp;
	kp.eid_ptr = d;
	say("aserver.create_eid_secure", penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.paddr = d;
	say("aserver.create_block_secure", penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.shm_paddr = d;
	kp.shm_size = PAGE;
	say("aserver.create_shm_secure", penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0));
	kp.shm_paddr = sb + PAGE;
	say("aserver.create_shm_in_block", penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kp.name[0] = 0;
	say("aserver.create_nameless", penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0));
	kp = good;
	kmemcpy((void *)(d - 64), &kp, 64);
	say("aserver.create_param_straddles", penglai(FID_CREATE_SERVER, d - 64, 0, 0, 0, 0));
	flush_tlb();
	sayp("aserver.block_public", probe_load(sb + PAGE));
	i64 r = penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0);
	say("aserver.create", r);
	if (r != 0)
		return 1;
	u32 eid = s->eid;
	say("aserver.create_same_name", create_server(&enc[2], "test-server", block()));
	say("aserver.run", penglai(FID_RUN_ENCLAVE, eid, 0, 0, 0, 0));
	say("aserver.resume", penglai(FID_RESUME_ENCLAVE, eid, RESUME_FROM_TIMER_IRQ, 0, 0, 0));
	say("aserver.stop", penglai(FID_STOP_ENCLAVE, eid, 0, 0, 0, 0));
	say("aserver.attest", penglai(FID_ATTEST_ENCLAVE, eid, (u64)report, 1, 0, 0));
	say("aserver.destroy_94", penglai(FID_DESTROY_ENCLAVE, eid, 0, 0, 0, 0));
	say("aserver.destroy_shadow_fid", penglai(FID_DESTROY_SHADOW, eid, 0, 0, 0, 0));
	say("aserver.destroy_next_eid", penglai(FID_DESTROY_SERVER, eid + 1, 0, 0, 0, 0));
	say("aserver.destroy_ffffffff", penglai(FID_DESTROY_SERVER, 0xffffffffUL, 0, 0, 0, 0));
	r = create(n, "plain", block());
	say("aserver.normal_create", r);
	say("aserver.destroy_server_of_normal", penglai(FID_DESTROY_SERVER, n->eid, 0, 0, 0, 0));
	say("aserver.normal_destroy", destroy(n));
	read_secure(sb + 3 * PAGE, "read a server enclave's block");
}

/* ---- relay pages ---- */

static struct enclave *relay_victim;
static u64 relay_secure, relay_at;
extern u64 relay_pa;

/* at the relay return: map back memory that is not the host's to give */
static void bad_reruns(struct enclave *e, u64 pa, u64 size)
{
	(void)pa;
	(void)size;
	say("arelay.rerun_secure", penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, 7, relay_secure, PAGE));
	say("arelay.rerun_own_block", penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, 7, e->blk.pa, BLOCK));
	say("arelay.rerun_monitor", penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, 7, 0x80000000UL, PAGE));
	say("arelay.rerun_unaligned", penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, 7, pa + 8, PAGE));
	say("arelay.rerun_size_wraps", penglai(FID_RESUME_ENCLAVE, e->eid, RESUME_FROM_OCALL, 7, pa, -PAGE));
}

/* while the enclave holds the relay page, read it through the kernel's own mapping */
static void read_held_relay(struct enclave *e)
{
	(void)e;
	read_secure(relay_at, "read a relay page the enclave holds");
}

static i64 run_with(struct enclave *e, u64 pa, u64 size)
{
	rp.mm_arg_addr = pa;
	rp.mm_arg_size = size;
	return penglai(FID_RUN_ENCLAVE, e->eid, (u64)&rp, 0, 0, 0);
}

int cmd_attack_relay(int arg)
{
	(void)arg;
	u64 d = public_then_secure("arelay.donate");
	u64 rp_page = relay_page();
	u64 whole = block(); /* under one 2 MiB leaf */
	struct enclave *e = &enc[0], *other = &enc[1];
	u64 size = embedded_relay_end - embedded_relay;
	i64 r = enclave_create(e, "relay-page", block(), embedded_relay, size);
	say("arelay.create", r);
	if (r != 0)
		return 1;
	relay_victim = e;
	relay_secure = d;
	say("arelay.secure", run_with(e, d, PAGE));
	say("arelay.straddles", run_with(e, d - PAGE, 2 * PAGE));
	say("arelay.own_block", run_with(e, e->blk.pa, BLOCK));
	say("arelay.monitor", run_with(e, 0x80000000UL, PAGE));
	say("arelay.pt_area", run_with(e, pt.base, PAGE));
	say("arelay.bitmap", run_with(e, plan_bitmap_base, PAGE));
	say("arelay.partial_leaf", run_with(e, whole, PAGE));
	say("arelay.unaligned", run_with(e, rp_page + 8, PAGE));
	say("arelay.unaligned_size", run_with(e, rp_page, PAGE + 8));
	say("arelay.size_without_address", run_with(e, 0, PAGE));
	say("arelay.size_2_63", run_with(e, rp_page, 1UL << 63));
	say("arelay.size_wraps", run_with(e, rp_page, -PAGE));
	say("arelay.larger_than_pool", run_with(e, rp_page, 32UL << 20));
	say("arelay.past_ram", run_with(e, 1UL << 40, PAGE));
	say("arelay.kbuffer", run_with(e, (u64)e->kbuffer, PAGE));
	say("arelay.inherit_nothing", run_with(e, 0xFFFF, 0));
	*(volatile u64 *)(d - 8) = 0;
	say("arelay.run_param_straddles", penglai(FID_RUN_ENCLAVE, e->eid, d - 8, 0, 0, 0));
	/* another live enclave with the same name: relay pages need a unique name */
	r = enclave_create(other, "relay-page", block(), embedded_relay, size);
	say("arelay.twin_create", r);
	say("arelay.name_not_unique", run_with(e, rp_page, PAGE));
	say("arelay.twin_destroy", destroy(other));
	flush_tlb();
	sayp("arelay.page_public", probe_load(rp_page));
	sayx("arelay.page_value", probe_value & 0xffffffffUL);
	/* the enclave is still FRESH: a good run, with bad re-runs tried at its relay return */
	relay_hook = bad_reruns;
	r = enclave_loop(e, run_with(e, rp_page, PAGE), 0);
	relay_hook = 0;
	say("arelay.good_run", r);
	say("arelay.good_retval", (i64)e->retval);
	/* a second enclave holds the page; the kernel reads it */
	r = enclave_create(e, "relay-page", block(), embedded_relay, size);
	say("arelay.second_create", r);
	relay_at = rp_page;
	ocall_hook = read_held_relay;
	enclave_loop(e, run_with(e, rp_page, PAGE), 1);
	succeeded("no OCALL while the relay page was held");
}
