/* Shared by misaligned.S and misaligned-trap.S: misaligned LR/SC/AMOs always trap,
 * with cause 4 (LR) or 6 (SC, AMO) and mtval = the address; memory is unchanged. */
    la s2, abuf
    li t0, 0x1111111111111111
    sd t0, 0(s2)
    sd t0, 8(s2)
    addi a1, s2, 4
    TEST_TRAP(100, CAUSE_MISALIGNED_LOAD, lr.d a0, (a1))
    CHECK_TVAL_LA(101, abuf + 4)
    addi a1, s2, 2
    TEST_TRAP(102, CAUSE_MISALIGNED_LOAD, lr.w a0, (a1))
    CHECK_TVAL_LA(103, abuf + 2)
#ifndef QEMU
    /* QEMU 7.2 fails an SC without a reservation before checking alignment */
    addi a1, s2, 1
    TEST_TRAP(104, CAUSE_MISALIGNED_STORE, sc.w a0, a0, (a1))
    CHECK_TVAL_LA(105, abuf + 1)
    addi a1, s2, 4
    TEST_TRAP(106, CAUSE_MISALIGNED_STORE, sc.d a0, a0, (a1))
    /* QEMU 7.2 reports misaligned AMOs as misaligned loads (4) */
    addi a1, s2, 2
    TEST_TRAP(107, CAUSE_MISALIGNED_STORE, amoadd.w a0, a0, (a1))
    CHECK_TVAL_LA(108, abuf + 2)
    addi a1, s2, 3
    TEST_TRAP(109, CAUSE_MISALIGNED_STORE, amoswap.d a0, a0, (a1))
    CHECK_TVAL_LA(110, abuf + 3)
    addi a1, s2, 4
    TEST_TRAP(111, CAUSE_MISALIGNED_STORE, amomaxu.d a0, a0, (a1))
    addi a1, s2, 6
    TEST_TRAP(112, CAUSE_MISALIGNED_STORE, amoor.w a0, a0, (a1))
#endif
    ld a0, 0(s2)
    CHECK(113, a0, 0x1111111111111111)
    ld a0, 8(s2)
    CHECK(114, a0, 0x1111111111111111)

    .data
    .align 4
abuf: .skip 16
    .text
