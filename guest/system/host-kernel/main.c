/*
 * main.c - the pltvm host kernel: a minimal S-mode kernel that plays the Penglai driver's part
 * under the system machine's monitor (docs/host-kernel.md).
 *
 * Boot: probe RAM, SM_INIT + PT_AREA_SEPARATION (the guarded page table), build the kernel's
 * Sv39 identity map through SET_PTE, switch satp, then run the command in host_command
 * (attacks.c) and exit through SBI SRST with its result as the exit code.
 */
#include "kernel.h"

/*
 * What to run. A NUL-padded string in its own section so that a test (or a user) can patch
 * the ELF file: the section's bytes are the command. Default: "hello".
 */
__attribute__((section(".host_command"), used))
volatile char host_command[64] = "hello";

int verbose;

void kmain(u64 hartid, u64 a1)
{
	(void)a1;
	char cmd[64];
	for (int i = 0; i < 63; i++)
		cmd[i] = host_command[i];
	cmd[63] = 0;
	verbose = kstrcmp(cmd, "hello") != 0;
	memory_probe();
	if (verbose)
		kprintf("host-kernel: hart %lu, RAM 0x80000000..0x%lx, command \"%s\"\n", hartid,
			ram_end(), cmd);
	mm_init();
	mm_enable();
	sbi_exit((u64)run_command(cmd));
}
