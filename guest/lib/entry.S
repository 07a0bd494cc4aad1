/*
 * pltvm guest SDK: enclave entry stub and exit.
 *
 * The monitor enters at e_entry (= _start, placed at 0x1000 by enclave.lds) in U-mode with
 *   sp = 0x38_0000_0000, a0 = shm VA, a1 = shm size, a2 = run counter, a3 = relay VA,
 *   a4 = relay size, every other register 0 (docs/abi.md §2.1). A server enclave is entered
 *   the same way at the start of every call, with a0..a4 = req_arg, region VA, region size,
 *   its shm VA and size, and again every other register 0 (docs/ipc.md).
 * __eapp_args points at a 256-byte block at the top of the stack holding the entry registers
 * (slot n = register xn, slot 2 = the entry sp): exactly the block the SDK's EAPP_RESERVE_REG
 * builds, but from assembly so the compiler cannot clobber a0..a4 first [B38].
 * Then gp and tp are set up and main(a0, a1, a2, a3, a4) is called. If main returns, its
 * return value is passed to EAPP_RETURN (the SDK would jump to 0 and fault).
 *
 * First entry: every register is stored and the constructors run. Later entries (a server's
 * calls; a normal enclave is entered once) store only a0..a4 and the entry sp: the other
 * slots already hold what those registers are at every entry, zero, stored on the first one
 * (the block is the top of the stack, which nothing else writes), and constructors run once
 * per enclave, as they run once per program. This keeps an empty call about 45 instructions
 * shorter. __eapp_entered (in .bss: 0 in a fresh enclave and in every fork instance of a
 * template, which never ran) tells the two apart.
 */
	.section .text.entry, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	addi	sp, sp, -256
	sd	x5, 40(sp)		/* t0 is the scratch register below: stored first */
	sd	x10, 80(sp)
	sd	x11, 88(sp)
	sd	x12, 96(sp)
	sd	x13, 104(sp)
	sd	x14, 112(sp)
	addi	t0, sp, 256
	sd	t0, 16(sp)		/* slot 2: sp at entry */
	lla	t0, __eapp_entered
	lbu	t0, 0(t0)
	beqz	t0, 1f

	.option	push
	.option	norelax
	la	gp, __global_pointer$
	.option	pop
	la	tp, __tls_base
	lla	t0, __eapp_args
	sd	sp, 0(t0)
	call	main			/* a0..a4 are still the entry values */
	tail	EAPP_RETURN		/* a0 = main's return value */

1:	/* first entry: the remaining registers, then constructors */
	sd	zero, 0(sp)
	sd	x1, 8(sp)
	sd	x3, 24(sp)
	sd	x4, 32(sp)
	sd	x6, 48(sp)
	sd	x7, 56(sp)
	sd	x8, 64(sp)
	sd	x9, 72(sp)
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

	.option	push
	.option	norelax
	la	gp, __global_pointer$
	.option	pop
	la	tp, __tls_base
	lla	t0, __eapp_args
	sd	sp, 0(t0)
	lla	t0, __eapp_entered
	li	t1, 1
	sb	t1, 0(t0)

	call	__eapp_init		/* constructors (C); may clobber a0..a4 */

	ld	a0, 80(sp)
	ld	a1, 88(sp)
	ld	a2, 96(sp)
	ld	a3, 104(sp)
	ld	a4, 112(sp)
	call	main
	tail	EAPP_RETURN		/* a0 = main's return value */
	.size	_start, . - _start

	.section .bss.__eapp_entered, "aw", @nobits
	.type	__eapp_entered, @object
	.size	__eapp_entered, 1
__eapp_entered:
	.zero	1
