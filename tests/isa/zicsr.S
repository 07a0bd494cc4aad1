/* Zicsr: csrrw/csrrs/csrrc and the immediate forms, returned old values, and the rules on
 * when an instruction writes (rd = x0 / rs1 = x0 / uimm = 0): reading a read-only CSR is legal,
 * any write attempt to it is an illegal instruction (mtval = instruction bits). */
#include "test.h"

test_main:
    /* ---- csrrw / csrrs / csrrc on mscratch (all 64 bits writable) */
    li a1, 0x0123456789abcdef
    csrrw a0, mscratch, a1
    CHECK(1, a0, 0)
    csrr a0, mscratch
    CHECK(2, a0, 0x0123456789abcdef)
    li a1, 0xf0000000000000f0
    csrrs a0, mscratch, a1
    CHECK(3, a0, 0x0123456789abcdef)
    csrr a0, mscratch
    CHECK(4, a0, 0xf123456789abcdff)
    li a1, 0xff000000000000ff
    csrrc a0, mscratch, a1
    CHECK(5, a0, 0xf123456789abcdff)
    csrr a0, mscratch
    CHECK(6, a0, 0x0023456789abcd00)
    /* rd = x0: csrrw still writes */
    li a1, -1
    csrrw x0, mscratch, a1
    csrr a0, mscratch
    CHECK(7, a0, -1)
    /* swap with rd == rs1 */
    li a0, 0x55
    csrrw a0, mscratch, a0
    CHECK(8, a0, -1)
    csrr a0, mscratch
    CHECK(9, a0, 0x55)
    /* csrrs / csrrc with rs1 = x0 only read */
    csrrs a0, mscratch, x0
    CHECK(10, a0, 0x55)
    csrrc a0, mscratch, x0
    CHECK(11, a0, 0x55)
    csrr a0, mscratch
    CHECK(12, a0, 0x55)

    /* ---- immediate forms: uimm is 5 bits, zero-extended */
    csrrwi a0, mscratch, 31
    CHECK(20, a0, 0x55)
    csrr a0, mscratch
    CHECK(21, a0, 31)
    csrrci a0, mscratch, 0x15
    CHECK(22, a0, 31)
    csrr a0, mscratch
    CHECK(23, a0, 0x0a)
    csrrsi a0, mscratch, 0x10
    CHECK(24, a0, 0x0a)
    csrr a0, mscratch
    CHECK(25, a0, 0x1a)
    csrrsi a0, mscratch, 0                  /* no write */
    CHECK(26, a0, 0x1a)
    csrrci a0, mscratch, 0                  /* no write */
    CHECK(27, a0, 0x1a)
    csrrwi a0, mscratch, 0                  /* writes 0 */
    CHECK(28, a0, 0x1a)
    csrr a0, mscratch
    CHECK(29, a0, 0)
    csrwi mscratch, 7                       /* csrrwi x0 */
    csrr a0, mscratch
    CHECK(30, a0, 7)
    csrsi mscratch, 8
    csrci mscratch, 1
    csrr a0, mscratch
    CHECK(31, a0, 14)

    /* ---- read-only CSRs: reads are legal, write attempts are illegal */
    csrr a0, mhartid
    CHECK(40, a0, 0)
    csrrs a0, mvendorid, x0
    csrrc a0, marchid, x0
    csrrsi a0, mimpid, 0
    csrrci a0, mhartid, 0
    csrr a0, misa
    srli a0, a0, 62
    CHECK(41, a0, 2)                        /* MXL = 64 */
    TEST_ILLEGAL(42, csrw mhartid, a1)
    TEST_ILLEGAL(43, csrrw a0, mhartid, x0)      /* csrrw always writes, even from x0 */
    TEST_ILLEGAL(44, csrrwi a0, mhartid, 0)
    li a1, 0
#ifndef QEMU
    /* rs1 != x0 holding 0 is still a write attempt (QEMU 7.2 only looks at the value) */
    TEST_ILLEGAL(45, csrrs a0, mhartid, a1)
    TEST_ILLEGAL(46, csrrc a0, mvendorid, a1)
#endif
    TEST_ILLEGAL(47, csrrsi a0, mhartid, 1)
    TEST_ILLEGAL(48, csrrci a0, mimpid, 1)
    TEST_ILLEGAL(49, csrw cycle, a1)             /* user counters are read-only */
    li a2, 1
    TEST_ILLEGAL(50, csrs instret, a2)
    TEST_ILLEGAL(51, csrwi time, 3)
    /* rd of a trapping CSR instruction is not written */
    li a0, 0x77
    TEST_ILLEGAL(52, csrrw a0, mhartid, a1)
    CHECK(53, a0, 0x77)

    /* ---- nonexistent CSRs are illegal, read or write */
    TEST_ILLEGAL(60, csrr a0, fcsr)              /* no F extension */
    TEST_ILLEGAL(61, csrr a0, 0x800)             /* custom read/write user CSR: not implemented */
    TEST_ILLEGAL(62, csrw 0x7c0, a1)
    TEST_ILLEGAL(63, csrr a0, 0x5ff)

    /* ---- hpmcounter3..31 read 0 in M-mode (pltvm's choice; QEMU 7.2 makes them illegal) */
#ifndef QEMU
    csrr a0, hpmcounter3
    CHECK(70, a0, 0)
    csrr a0, hpmcounter31
    CHECK(71, a0, 0)
#endif

    /* ---- the counters are readable in M-mode through the user aliases */
    csrr a0, cycle
    csrr a1, instret
#ifndef QEMU
    csrr a2, time                            /* QEMU's spike machine provides no time CSR */
#endif
    csrr a3, mcycle
    csrr a4, minstret
    li TESTNUM, 72
    bgeu a0, a3, fail                        /* later reads see larger values */
    bgeu a1, a4, fail
    beqz a4, fail

    j pass
