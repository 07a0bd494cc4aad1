/*
 * commands.c - the helpers the commands share and the command table (commands.h).
 */
#include "commands.h"

struct enclave enc[4];

void say(const char *name, i64 v)
{
	kprintf("host-kernel: %s = %ld\n", name, v);
}

void sayx(const char *name, u64 v)
{
	kprintf("host-kernel: %s = 0x%lx\n", name, v);
}

/* a probe's result: 0 -> "ok", else "cause <scause>" */
void sayp(const char *name, u64 r)
{
	if (r == 0)
		kprintf("host-kernel: %s = ok\n", name);
	else
		kprintf("host-kernel: %s = cause %lu\n", name, r - 1);
}

__attribute__((noreturn)) void succeeded(const char *what)
{
	kprintf("host-kernel: ATTACK SUCCEEDED: %s\n", what);
	sbi_exit(1);
}

u64 elf_size(void)
{
	return (u64)(embedded_enclave_end - embedded_enclave);
}

u64 block(void)
{
	u64 b = alloc_aligned(BLOCK, BLOCK);
	if (!b)
		panic("out of free memory for enclave blocks");
	return b;
}

i64 create(struct enclave *e, const char *name, u64 b)
{
	return enclave_create(e, name, b, embedded_enclave, elf_size());
}

u64 *pmd_entry(u64 va)
{
	u64 *e = walk(kernel_root, va, 1);
	if (!e)
		panic("no PMD entry for %p", (void *)va);
	return e;
}

i64 destroy(struct enclave *e)
{
	return penglai(FID_DESTROY_ENCLAVE, e->eid, 0, 0, 0, 0);
}

/*
 * Make a fresh block secure without an enclave: MEMORY_EXTEND (fid 92) donates it to the
 * monitor for good (its metadata memory), with the same checks and the same invalidation of
 * the kernel's leaves as an enclave's block at CREATE.
 */
u64 donated_block(const char *name)
{
	u64 b = block();
	*(volatile u64 *)(b + 0x3000) = 0x1234;
	say(name, penglai(FID_MEMORY_EXTEND, b, BLOCK, 0, 0, 0));
	return b;
}

struct command {
	const char *name;
	int (*run)(int arg);
	int arg;
};

static const struct command commands[] = {
	{ "hello", cmd_hello, 0 },
	{ "demo", cmd_hello, 0 },
	{ "load", cmd_load, 0 },
	{ "fids", cmd_fids, 0 },
	{ "pte", cmd_pte, 0 },
	{ "map-pte", cmd_split, 0 },
	{ "split", cmd_split, 1 },
	{ "remap", cmd_remap, 0 },
	{ "set-pte-secure", cmd_set_pte_secure, 0 },
	{ "enclave-victim", cmd_enclave_victim, 0 },
	{ "write-gadget", cmd_write_gadget, 0 },
	{ "pt-store", cmd_pt_store, 0 },
	{ "satp", cmd_satp, 0 },
	{ "read-monitor", cmd_read_monitor, 0 },
	{ "read-bitmap", cmd_read_bitmap, 0 },
	{ "stale-read", cmd_stale, 0 },
	{ "stale-read-4k", cmd_stale, 1 },
	{ "stale-enclave", cmd_stale, 2 },
	{ "copy-mixed", cmd_copy_mixed, 0 },
	{ "copy-mixed-enclave", cmd_copy_mixed, 1 },
	{ "run-destroyed", cmd_run_destroyed, 0 },
	{ "exhaust", cmd_exhaust, 0 },
	{ "shadow", cmd_shadow, 0 },
	{ "server", cmd_server, 0 },
	{ "relay", cmd_relay, 0 },
	{ "relay-fork", cmd_relay, 1 },
	{ "attack-shadow", cmd_attack_shadow, 0 },
	{ "attack-server", cmd_attack_server, 0 },
	{ "attack-relay", cmd_attack_relay, 0 },
};

int run_command(const char *cmd)
{
	for (u64 i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!kstrcmp(cmd, commands[i].name))
			return commands[i].run(commands[i].arg);
	kprintf("host-kernel: unknown command \"%s\"\n", cmd);
	return 2;
}
