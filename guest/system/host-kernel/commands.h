/*
 * commands.h - what the kernel's commands share (commands.c) and the commands themselves
 * (positive.c: the driver's work and legitimate page-table use; attacks.c: what an untrusted
 * kernel might try). docs/host-kernel.md lists them.
 *
 * Results are printed one per line as
 *     host-kernel: <name> = <value>
 * where <value> is a signed decimal SBI result, "ok" / "cause <n>" for a probed access, or a
 * hex value. An attack that ends with a real (unprobed) access leaves it to the trap handler,
 * which prints the trap line and exits with 100 + cause. "ATTACK SUCCEEDED" and exit code 1
 * mean the protection did not hold.
 */
#ifndef HOST_KERNEL_COMMANDS_H
#define HOST_KERNEL_COMMANDS_H

#include "kernel.h"

#define ALIAS_VA 0x40000000UL /* root entry 1: a VA range the identity map does not use */
#define BLOCK    MEGAPAGE

extern struct enclave enc[4];

void say(const char *name, i64 v);
void sayx(const char *name, u64 v);
void sayp(const char *name, u64 probe_result);
__attribute__((noreturn)) void succeeded(const char *what);
u64 elf_size(void);
u64 block(void);
i64 create(struct enclave *e, const char *name, u64 b);
u64 *pmd_entry(u64 va);
i64 destroy(struct enclave *e);
u64 donated_block(const char *name);

/* the commands (positive.c, attacks.c): arg selects a variant, see commands.c */
/* positive.c */
int cmd_hello(int arg);
int cmd_load(int arg);
int cmd_fids(int arg);
int cmd_pte(int arg);
int cmd_split(int with_enclave);
int cmd_remap(int arg);

/* attacks.c */
int cmd_set_pte_secure(int arg);
int cmd_write_gadget(int arg);
int cmd_enclave_victim(int arg);
int cmd_pt_store(int arg);
int cmd_satp(int arg);
int cmd_read_monitor(int arg);
int cmd_read_bitmap(int arg);
int cmd_stale(int how);
int cmd_copy_mixed(int with_enclaves);
int cmd_run_destroyed(int arg);
int cmd_exhaust(int arg);

/* kinds.c: shadow, server and relay through the monitor */
int cmd_shadow(int arg);
int cmd_server(int arg);
int cmd_relay(int fork);

/* kinds_attacks.c */
int cmd_attack_shadow(int arg);
int cmd_attack_server(int arg);
int cmd_attack_relay(int arg);

#endif
