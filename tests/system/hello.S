/* S-mode hello: debug-console write, legacy putchar, BASE probe, then SBI system reset with
   reason 7, which is the machine's exit code. Expected output "hello from S-mode!\n". */
#include "sbi.h"
  .option norvc
  .section .text.init
  .globl _start
_start:
  CHECK 1, a0, 0            /* a0 = hart id */
  CHECK 2, a1, 0            /* a1 = 0: no device tree */
  li a0, 17
  la a1, msg
  li a2, 0
  SBI EXT_DBCN, 0
  CHECK 3, a0, 0
  CHECK 4, a1, 17
  li a0, '!'
  SBI EXT_LEGACY_PUTCHAR, 0
  li a0, '\n'
  SBI EXT_LEGACY_PUTCHAR, 0
  li a0, EXT_SRST
  SBI EXT_BASE, 3           /* probe_extension(SRST) */
  CHECK 5, a0, 0
  CHECK 6, a1, 1
  li a0, 0x12345
  SBI EXT_BASE, 3           /* probe of an extension nobody has */
  CHECK 7, a1, 0
  SBI 0x7ff, 0              /* unknown extension: not supported */
  CHECK 8, a0, -2
  li a0, 0
  li a1, 7
  SBI EXT_SRST, 0
  FAIL_HANDLER

  .section .rodata
msg:
  .ascii "hello from S-mode"
msg_end:
