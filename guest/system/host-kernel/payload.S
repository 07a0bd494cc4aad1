/*
 * payload.S - the enclave ELFs the kernel loads, embedded in the kernel image.
 * ENCLAVE_ELF is the path of guest/build's hello-world.elf (set by guest/Makefile); the others
 * are found in the same directory (guest/Makefile passes it to the assembler with -I).
 */
	.section .rodata.payload, "a", @progbits
	.balign	8
	.globl	embedded_enclave, embedded_enclave_end
embedded_enclave:
	.incbin	ENCLAVE_ELF
embedded_enclave_end:

	.balign	8
	.globl	embedded_relay, embedded_relay_end
embedded_relay:
	.incbin	"relay-page.elf"
embedded_relay_end:

	.balign	8
	.globl	embedded_server, embedded_server_end
embedded_server:
	.incbin	"server.elf"
embedded_server_end:

	.balign	8
	.globl	embedded_caller, embedded_caller_end
embedded_caller:
	.incbin	"caller.elf"
embedded_caller_end:
