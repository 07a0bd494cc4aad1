/* pltvm user-mode test runtime: process entry point.
 *
 * The Linux initial stack at _start: sp -> argc, argv[0..argc-1], NULL, envp..., NULL, auxv pairs.
 * We set gp (for linker relaxation), compute argc/argv/envp and hand over to C. */
	.file "crt0.S"
	.section .text._start, "ax", @progbits
	.globl _start
	.type _start, @function
_start:
	.option push
	.option norelax
	lla	gp, __global_pointer$
	.option pop
	ld	a0, 0(sp)		/* argc */
	addi	a1, sp, 8		/* argv */
	slli	t0, a0, 3
	add	a2, a1, t0
	addi	a2, a2, 8		/* envp = argv + argc + 1 */
	andi	sp, sp, -16
	li	ra, 0
	call	__rt_start		/* never returns */
1:	j	1b
	.size _start, . - _start
