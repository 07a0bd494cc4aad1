/* Signature dump: writes known values between begin_signature and end_signature and passes.
 * tests/test_isa.py runs it with `pltvm exec --bare --signature` and compares the dump with
 * signature.reference (one 32-bit little-endian word per line, 8 lowercase hex digits). */
#include "test.h"

test_main:
    la a0, begin_signature
    li t0, 0x12345678
    sw t0, 0(a0)
    li t0, 0xcafef00d0badc0de
    sd t0, 8(a0)
    li t1, 0x10001
    mul t2, t1, t1                          /* 0x100020001 */
    sd t2, 16(a0)
    li t0, 0xa5
    sb t0, 25(a0)
    li t0, 0x7788
    sh t0, 30(a0)
    li t0, -1
    sw t0, 60(a0)                           /* last word */
    ld t3, 16(a0)
    CHECK(1, t3, 0x100020001)
    j pass

    .data
    .align 4
    .globl begin_signature, end_signature
begin_signature:
    .fill 16, 4, 0xdeadbeef
end_signature:
    .word 0x11111111                        /* not part of the signature */
