/*
 * kinds.c - shadow enclaves (templates and forks), server enclaves and relay pages, driven the
 * way Penglai's driver drives them (docs/host-kernel.md): the commands shadow, server, relay
 * and relay-fork, and the helpers kinds_attacks.c shares. Output format: commands.h.
 */
#include "commands.h"

static struct create_param kp;
static struct shadow_run_param srp;
static u8 report[328];

/* Load elf as a shadow template (no stack, as the driver does) into b; CREATE_SHADOW. The
 * shadow eid arrives in t->eid. */
i64 create_template(struct enclave *t, const char *name, u64 b, const u8 *elf, u64 size)
{
	enclave_prepare_stack(t, &kp, name, b, elf, size, 0);
	return penglai(FID_CREATE_SHADOW, (u64)&kp, 0, 0, 0, 0);
}

/* RUN_SHADOW: fork an instance of template sid into the instance block ib (with an optional
 * relay region) and run it to its end with the driver's loop. */
i64 fork_run(struct enclave *e, u32 sid, u64 ib, u64 relay, u64 relay_size, int quiet)
{
	fork_prepare(e, &srp, "instance", ib, relay, relay_size);
	return enclave_loop(e, penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0), quiet);
}

/* ---- shadow: a template, three forks, attestation, destroy ---- */

static u32 hook_sid;
static i64 hook_result = 1;

/* B33: the template goes while one of its instances waits in its print OCALL */
static void destroy_template_once(struct enclave *e)
{
	(void)e;
	if (hook_result == 1)
		hook_result = penglai(FID_DESTROY_SHADOW, hook_sid, 0, 0, 0, 0);
}

int cmd_shadow(int arg)
{
	(void)arg;
	struct enclave *t = &enc[0], *inst = &enc[1];
	u64 tb = block();
	i64 r = create_template(t, "hello-world", tb, embedded_enclave, elf_size());
	say("shadow.create", r);
	if (r != 0)
		return 1;
	u32 sid = t->eid;
	say("shadow.sid", sid);
	sayx("shadow.template_pmd", *pmd_entry(tb));
	flush_tlb();
	sayp("shadow.template_read", probe_load(tb + 3 * PAGE));
	say("shadow.attest", penglai(FID_ATTEST_SHADOW, sid, (u64)report, 5, 0, 0));
	sayx("shadow.attest_nonce", *(u64 *)(report + 256));
	/* enclave.hash (report offset 160): four little-endian doublewords */
	sayx("shadow.attest_hash0", *(u64 *)(report + 160));
	sayx("shadow.attest_hash1", *(u64 *)(report + 168));
	sayx("shadow.attest_hash2", *(u64 *)(report + 176));
	sayx("shadow.attest_hash3", *(u64 *)(report + 184));
	/* two forks, each into a fresh 2 MiB instance block, read during its print OCALL */
	for (int i = 0; i < 2; i++) {
		u64 ib = block();
		probe_during_ocall = ib + PAGE;
		r = fork_run(inst, sid, ib, 0, 0, 0);
		probe_during_ocall = 0;
		say(i ? "shadow.fork2" : "shadow.fork1", r);
		say(i ? "shadow.fork2_eid" : "shadow.fork1_eid", inst->eid);
		say(i ? "shadow.fork2_retval" : "shadow.fork1_retval", (i64)inst->retval);
		sayp(i ? "shadow.fork2_block_during" : "shadow.fork1_block_during",
		     probe_during_ocall_result);
		flush_tlb();
		sayp(i ? "shadow.fork2_block_after" : "shadow.fork1_block_after", probe_load(ib + PAGE));
		say(i ? "shadow.fork2_destroy" : "shadow.fork1_destroy", destroy(inst));
	}
	/* a third fork outlives its template */
	hook_sid = sid;
	ocall_hook = destroy_template_once;
	r = fork_run(inst, sid, block(), 0, 0, 0);
	ocall_hook = 0;
	say("shadow.destroy_during_fork", hook_result);
	say("shadow.fork3", r);
	say("shadow.destroy_again", penglai(FID_DESTROY_SHADOW, sid, 0, 0, 0, 0));
	say("shadow.run_destroyed", penglai(FID_RUN_SHADOW, sid, (u64)&srp, 0, 0, 0));
	say("shadow.attest_destroyed", penglai(FID_ATTEST_SHADOW, sid, (u64)report, 5, 0, 0));
	flush_tlb();
	sayp("shadow.template_read_after", probe_load(tb + 3 * PAGE));
	sayx("shadow.template_value_after", probe_value);
	return 0;
}

/* ---- server: a server enclave called by the IPC demo's caller ---- */

static u32 server_eid;
static i64 busy_destroy = 1;

/* DESTROY_SERVER while the server serves the call (its first print reaches us) */
static void destroy_server_in_call(struct enclave *e)
{
	if (busy_destroy == 1 && !kstrncmp((const char *)e->kbuffer, "server:", 7))
		busy_destroy = penglai(FID_DESTROY_SERVER, server_eid, 0, 0, 0, 0);
}

i64 create_server(struct enclave *s, const char *name, u64 b)
{
	enclave_prepare(s, &kp, name, b, embedded_server, embedded_server_end - embedded_server);
	return penglai(FID_CREATE_SERVER, (u64)&kp, 0, 0, 0, 0);
}

int cmd_server(int arg)
{
	(void)arg;
	struct enclave *s = &enc[0], *c = &enc[1];
	u64 sb = block();
	i64 r = create_server(s, "test-server", sb);
	say("server.create", r);
	if (r != 0)
		return 1;
	server_eid = s->eid;
	sayx("server.pmd", *pmd_entry(sb));
	/* the host may not run, stop, attest or fid-94-destroy a server */
	say("server.run", penglai(FID_RUN_ENCLAVE, server_eid, 0, 0, 0, 0));
	say("server.stop", penglai(FID_STOP_ENCLAVE, server_eid, 0, 0, 0, 0));
	say("server.attest", penglai(FID_ATTEST_ENCLAVE, server_eid, (u64)report, 1, 0, 0));
	say("server.destroy_94", penglai(FID_DESTROY_ENCLAVE, server_eid, 0, 0, 0, 0));
	say("server.create_same_name", create_server(&enc[2], "test-server", block()));
	r = enclave_create(c, "caller", block(), embedded_caller, embedded_caller_end - embedded_caller);
	say("server.caller_create", r);
	if (r != 0)
		return 1;
	ocall_hook = destroy_server_in_call;
	r = enclave_run(c, 0);
	ocall_hook = 0;
	say("server.destroy_in_call", busy_destroy);
	say("server.caller_run", r);
	say("server.caller_retval", (i64)c->retval);
	say("server.destroy", penglai(FID_DESTROY_SERVER, server_eid, 0, 0, 0, 0));
	say("server.destroy_again", penglai(FID_DESTROY_SERVER, server_eid, 0, 0, 0, 0));
	flush_tlb();
	sayp("server.block_after", probe_load(sb + PAGE));
	return 0;
}

/* ---- relay / relay-fork: the relay-page demo with a page of host RAM ---- */

u64 relay_pa;
static u32 relay_new;
static i64 relay_during = -1;

/* at the first print the relay page is the enclave's: a load page-faults */
static void probe_relay_at_print(struct enclave *e)
{
	if (relay_during == -1 && e->ocall_func_id == OCALL_SYS_WRITE)
		relay_during = (i64)probe_load(relay_pa);
}

/* the enclave returned the page: it is ours again with its contents; change it (as the SDK's
 * host and fork-host demos do) before the driver maps it again */
static void relay_returned(struct enclave *e, u64 pa, u64 size)
{
	(void)e;
	say("relay.returned_pa_ok", pa == relay_pa);
	sayx("relay.returned_size", size);
	flush_tlb();
	sayp("relay.read_returned", probe_load(pa));
	sayx("relay.value_returned", probe_value & 0xffffffffUL);
	*(volatile u32 *)pa = relay_new;
}

/* A 2 MiB block split with MAP_PTE (as the driver's relay pool is), its first page = 22222. */
u64 relay_page(void)
{
	u64 rb = block();
	i64 r = penglai(FID_MAP_PTE, (u64)pmd_entry(rb), pt_alloc_pte(), 0, 0, 0);
	if (r != 0)
		panic("MAP_PTE of the relay block failed (%ld)", r);
	flush_tlb();
	*(volatile u32 *)rb = 22222;
	return rb;
}

int cmd_relay(int fork)
{
	struct enclave *e = &enc[0], *inst = &enc[1];
	u64 size = embedded_relay_end - embedded_relay;
	relay_pa = relay_page();
	relay_new = fork ? 2 : 0;
	i64 r;
	if (fork) {
		r = create_template(e, "relay-page", block(), embedded_relay, size);
		say("relay.create_template", r);
		if (r != 0)
			return 1;
	} else {
		r = enclave_create(e, "relay-page", block(), embedded_relay, size);
		say("relay.create", r);
		if (r != 0)
			return 1;
	}
	ocall_hook = probe_relay_at_print;
	relay_hook = relay_returned;
	if (fork)
		r = fork_run(inst, e->eid, block(), relay_pa, PAGE, 0);
	else
		r = enclave_run_relay(e, relay_pa, PAGE, 0);
	ocall_hook = 0;
	relay_hook = 0;
	struct enclave *ran = fork ? inst : e;
	sayp("relay.read_during_print", (u64)relay_during);
	say("relay.run", r);
	say("relay.retval", (i64)ran->retval);
	flush_tlb();
	sayp("relay.read_after", probe_load(relay_pa));
	sayx("relay.value_after", probe_value & 0xffffffffUL);
	if (fork)
		say("relay.destroy_template", penglai(FID_DESTROY_SHADOW, e->eid, 0, 0, 0, 0));
	return 0;
}
