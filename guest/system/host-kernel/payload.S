/*
 * payload.S - the enclave ELF the kernel loads, embedded in the kernel image.
 * ENCLAVE_ELF is the path of guest/build's hello-world.elf (set by guest/Makefile).
 */
	.section .rodata.payload, "a", @progbits
	.balign	8
	.globl	embedded_enclave, embedded_enclave_end
embedded_enclave:
	.incbin	ENCLAVE_ELF
embedded_enclave_end:
