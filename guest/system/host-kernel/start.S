/*
 * start.S - entry and trap vector of the pltvm host kernel (S-mode).
 *
 * The system machine enters _start in S-mode with a0 = hart id, a1 = 0, satp = 0 (bare), as a
 * firmware hands over. We take a stack from the image, clear .bss and call kmain(hartid, a1).
 *
 * Traps: stvec = trap_entry (direct mode). Every register is saved in a frame on the stack and
 * trap_handler(frame) decides: a fault on one of the probe instructions below is recoverable
 * (the probe returns cause + 1), anything else is reported and ends the machine.
 */
	.section .text.entry, "ax", @progbits
	.globl	_start
_start:
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	la	sp, __stack_top
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	la	t0, trap_entry
	csrw	stvec, t0
	call	kmain
	/* kmain does not return; if it does, the trap handler reports the ebreak */
	ebreak
3:	j	3b

	.text
	.balign	4
	.globl	trap_entry
trap_entry:
	addi	sp, sp, -272
	sd	x1, 8(sp)
	sd	x3, 24(sp)
	sd	x4, 32(sp)
	sd	x5, 40(sp)
	sd	x6, 48(sp)
	sd	x7, 56(sp)
	sd	x8, 64(sp)
	sd	x9, 72(sp)
	sd	x10, 80(sp)
	sd	x11, 88(sp)
	sd	x12, 96(sp)
	sd	x13, 104(sp)
	sd	x14, 112(sp)
	sd	x15, 120(sp)
	sd	x16, 128(sp)
	sd	x17, 136(sp)
	sd	x18, 144(sp)
	sd	x19, 152(sp)
	sd	x20, 160(sp)
	sd	x21, 168(sp)
	sd	x22, 176(sp)
	sd	x23, 184(sp)
	sd	x24, 192(sp)
	sd	x25, 200(sp)
	sd	x26, 208(sp)
	sd	x27, 216(sp)
	sd	x28, 224(sp)
	sd	x29, 232(sp)
	sd	x30, 240(sp)
	sd	x31, 248(sp)
	addi	t0, sp, 272
	sd	t0, 16(sp)		/* the trapping sp */
	csrr	t0, sepc
	sd	t0, 256(sp)
	mv	a0, sp
	call	trap_handler		/* returns only for a recovered probe fault */
	ld	t0, 256(sp)
	csrw	sepc, t0
	ld	x1, 8(sp)
	ld	x3, 24(sp)
	ld	x4, 32(sp)
	ld	x5, 40(sp)
	ld	x6, 48(sp)
	ld	x7, 56(sp)
	ld	x8, 64(sp)
	ld	x9, 72(sp)
	ld	x10, 80(sp)
	ld	x11, 88(sp)
	ld	x12, 96(sp)
	ld	x13, 104(sp)
	ld	x14, 112(sp)
	ld	x15, 120(sp)
	ld	x16, 128(sp)
	ld	x17, 136(sp)
	ld	x18, 144(sp)
	ld	x19, 152(sp)
	ld	x20, 160(sp)
	ld	x21, 168(sp)
	ld	x22, 176(sp)
	ld	x23, 184(sp)
	ld	x24, 192(sp)
	ld	x25, 200(sp)
	ld	x26, 208(sp)
	ld	x27, 216(sp)
	ld	x28, 224(sp)
	ld	x29, 232(sp)
	ld	x30, 240(sp)
	ld	x31, 248(sp)
	addi	sp, sp, 272
	sret

/*
 * Probes: u64 probe_load(u64 addr) / u64 probe_store(u64 addr, u64 value).
 * Return 0 if the access worked, else (scause + 1): the trap handler sees sepc at
 * probe_load_insn / probe_store_insn, puts cause + 1 in t0 and skips the instruction.
 * probe_load leaves the loaded doubleword in probe_value.
 */
	.option	push
	.option	norvc		/* every probe instruction is 4 bytes: the handler skips 4 */
	.globl	probe_load, probe_load_insn, probe_store, probe_store_insn
probe_load:
	li	t0, 0
probe_load_insn:
	ld	a1, 0(a0)
	la	t1, probe_value
	sd	a1, 0(t1)
	mv	a0, t0
	ret
probe_store:
	li	t0, 0
probe_store_insn:
	sd	a1, 0(a0)
	mv	a0, t0
	ret

/* u64 probe_satp(u64 value): csrw satp under TVM; 0, or cause + 1 if it trapped. */
	.globl	probe_satp, probe_satp_insn
probe_satp:
	li	t0, 0
probe_satp_insn:
	csrw	satp, a0
	mv	a0, t0
	ret
	.option	pop

	.section .bss
	.balign	8
	.globl	probe_value
probe_value:
	.zero	8
