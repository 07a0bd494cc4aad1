/* Misaligned accesses with the machine option misaligned="trap" (tests/test_isa.py picks the
 * option from the "-trap" suffix): loads trap with cause 4, stores with cause 6, mtval = the
 * address, mepc = the instruction, rd and memory unchanged. Aligned accesses still work.
 * Not run under QEMU (QEMU emulates misaligned loads/stores). */
#include "test.h"

#define MIS_LOAD(n, off, ...) \
    addi a1, s0, off; li a0, 0x5a5a; TEST_TRAP(n, CAUSE_MISALIGNED_LOAD, __VA_ARGS__); \
    CHECK_TVAL_LA(n, buf + off); CHECK(n, a0, 0x5a5a)
#define MIS_STORE(n, off, ...) \
    addi a1, s0, off; TEST_TRAP(n, CAUSE_MISALIGNED_STORE, __VA_ARGS__); CHECK_TVAL_LA(n, buf + off)

test_main:
    la s0, buf
    li t0, 0x0706050403020100
    sd t0, 0(s0)
    sd t0, 8(s0)
    li a2, -1
    MIS_LOAD(1, 1, lh a0, 0(a1))
    MIS_LOAD(2, 3, lhu a0, 0(a1))
    MIS_LOAD(3, 2, lw a0, 0(a1))
    MIS_LOAD(4, 1, lwu a0, 0(a1))
    MIS_LOAD(5, 4, ld a0, 0(a1))
    MIS_LOAD(6, 7, ld a0, 0(a1))
    MIS_LOAD(7, 6, c.lw a0, 0(a1))
    MIS_LOAD(8, 3, lw a0, 0(a1))
    MIS_STORE(10, 1, sh a2, 0(a1))
    MIS_STORE(11, 2, sw a2, 0(a1))
    MIS_STORE(12, 5, sw a2, 0(a1))
    MIS_STORE(13, 4, sd a2, 0(a1))
    MIS_STORE(14, 1, sd a2, 0(a1))
    MIS_STORE(15, 2, c.sw a2, 0(a1))
    /* memory untouched */
    ld a0, 0(s0)
    CHECK(16, a0, 0x0706050403020100)
    ld a0, 8(s0)
    CHECK(17, a0, 0x0706050403020100)
    /* aligned and byte accesses are fine */
    lb a0, 3(s0)
    CHECK(18, a0, 3)
    lh a0, 2(s0)
    CHECK(19, a0, 0x0302)
    lw a0, 4(s0)
    CHECK(20, a0, 0x07060504)
    sh a2, 6(s0)
    ld a0, 0(s0)
    CHECK(21, a0, 0xffff050403020100)
    /* the trap is also taken from U-mode with the same cause/tval */
    addi a1, s0, 1
    TEST_TRAP_IN_MODE(22, PRV_U, CAUSE_MISALIGNED_LOAD, lw a0, 0(a1))
    CHECK_TVAL_LA(23, buf + 1)

#include "misaligned_atomics.h"

    j pass

    .data
    .align 4
buf: .skip 16
