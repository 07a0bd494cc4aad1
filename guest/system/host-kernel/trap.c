/*
 * trap.c - the kernel's S-mode trap handler.
 *
 * A fault on a probe instruction (start.S) is recovered: the probe returns scause + 1.
 * Any other trap is reported on one line, in a fixed format tests parse,
 *     host-kernel: trap cause=<decimal> tval=0x<16 hex> sepc=0x<16 hex>
 * and ends the machine with exit code TRAP_EXIT_BASE + cause (cause < 64), through SBI SRST.
 */
#include "kernel.h"

#define TRAP_EXIT_BASE 100

extern char probe_load_insn[], probe_store_insn[], probe_satp_insn[];

/* frame layout (start.S): slot n = register xn, slot 32 = sepc */
void trap_handler(u64 *frame)
{
	u64 cause, tval;
	__asm__ volatile("csrr %0, scause" : "=r"(cause));
	__asm__ volatile("csrr %0, stval" : "=r"(tval));
	u64 sepc = frame[32];
	int interrupt = (i64)cause < 0;
	if (!interrupt && (sepc == (u64)probe_load_insn || sepc == (u64)probe_store_insn ||
			   sepc == (u64)probe_satp_insn)) {
		frame[5] = cause + 1; /* t0 */
		frame[32] = sepc + 4;
		return;
	}
	kprintf("host-kernel: trap cause=%lu tval=0x%016lx sepc=0x%016lx\n", cause, tval, sepc);
	if (interrupt)
		sbi_exit(TRAP_EXIT_BASE + 64);
	sbi_exit(TRAP_EXIT_BASE + (cause & 63));
}
