/* SBI calls and checks for the S-mode test programs (assembler macros). */
#define EXT_LEGACY_PUTCHAR 0x01
#define EXT_BASE 0x10
#define EXT_SRST 0x53525354
#define EXT_DBCN 0x4442434E
#define EXT_PENGLAI_HOST 0x100100

/* ecall with a7 = ext, a6 = fid (arguments already in a0..a5). */
.macro SBI ext, fid
  li a7, \ext
  li a6, \fid
  ecall
.endm

/* If reg != val, end the run with exit code `step` (SRST shutdown, reason = step). */
.macro CHECK step, reg, val
  li t0, \val
  li s0, \step
  bne \reg, t0, fail
.endm

/* Exit code 0: every check passed. */
.macro PASS
  li a0, 0
  li a1, 0
  SBI EXT_SRST, 0
.endm

.macro FAIL_HANDLER
fail:
  li a0, 0
  mv a1, s0
  SBI EXT_SRST, 0
1: j 1b
.endm
