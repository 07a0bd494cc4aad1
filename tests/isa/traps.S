/* Synchronous exceptions taken to M-mode: mcause, mepc and mtval for illegal instructions
 * (mtval = instruction bits, incl. the all-zero compressed instruction -> 0), ebreak
 * (mtval = pc), ecall from M/S/U (causes 11/9/8), load/store/AMO access faults (mtval =
 * address; only RAM and the CLINT exist) and instruction access faults. */
#include "test.h"

test_main:
    /* ---- illegal instructions: mepc = pc, mtval = the instruction bits */
    TEST_ILLEGAL(1, .word 0x0000000b)               /* custom-0 */
    TEST_ILLEGAL(2, .word 0x00052007)               /* flw: no F extension */
    TEST_ILLEGAL(3, .word 0x0205151b)               /* slliw with imm[5] = 1: reserved */
    TEST_ILLEGAL(4, .word 0x0c05551b)               /* srliw-like OP-IMM-32 with funct7 = 0000110: reserved */
    TEST_ILLEGAL(5, .half 0x0000)                   /* all-zero: defined illegal, mtval = 0 */
    CHECK_MEM(6, trap_tval, 0)
    TEST_ILLEGAL(7, .half 0x0004)                   /* c.addi4spn with nzuimm = 0 */
    TEST_ILLEGAL(8, .half 0x6081)                   /* c.lui with nzimm = 0 */
    TEST_ILLEGAL(9, .half 0x8002)                   /* c.jr x0 */
    TEST_ILLEGAL(10, .half 0x2008)                  /* c.fld: no D extension */
    TEST_ILLEGAL(11, .word 0x7ff00073)              /* SYSTEM with an undefined funct12 */
    /* a 32-bit illegal instruction at an address = 2 mod 4 */
    .balign 4
    c.nop
    TEST_ILLEGAL(12, .word 0x0000000b)
    /* an illegal instruction leaves registers untouched and the trap disarms the handler */
    CHECK_MEM(13, trap_resume, 0)

    /* ---- ebreak: mcause 3, mepc = mtval = pc */
    li TESTNUM, 20
    ARM_TRAP(2f)
1:  ebreak
    j fail
2:  CHECK_MEM(20, trap_cause, CAUSE_BREAKPOINT)
    CHECK_EPC_LA(21, 1b)
    /* mtval = pc for ebreak is pltvm's choice (QEMU 7.2 writes 0) */
#ifndef QEMU
    CHECK_TVAL_LA(22, 1b)
#endif

    /* ---- ecall from M, S and U: causes 11, 9, 8; mtval = 0; mepc = the ecall */
    li TESTNUM, 30
    ARM_TRAP(2f)
1:  ecall
    j fail
2:  CHECK_MEM(30, trap_cause, CAUSE_ECALL_M)
    CHECK_EPC_LA(31, 1b)
    CHECK_TVAL(32, 0)
    li TESTNUM, 33
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  ecall
    j fail
2:  CHECK_MEM(33, trap_cause, CAUSE_ECALL_S)
    CHECK_EPC_LA(34, 1b)
    CHECK_TVAL(35, 0)
    /* mstatus.MPP recorded by the handler shows the trapped mode */
    la a0, trap_mstatus
    ld a0, 0(a0)
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK(36, a0, PRV_S)
    li TESTNUM, 37
    ARM_TRAP(2f)
    GOTO_MODE(PRV_U, 1f)
1:  ecall
    j fail
2:  CHECK_MEM(37, trap_cause, CAUSE_ECALL_U)
    CHECK_EPC_LA(38, 1b)
    la a0, trap_mstatus
    ld a0, 0(a0)
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK(39, a0, PRV_U)

    /* ---- load access faults: mtval = address */
    li a1, 0
    TEST_TRAP(40, CAUSE_LOAD_ACCESS, ld a0, 0(a1))
    CHECK_TVAL(41, 0)
    li a1, 0x10000000
    TEST_TRAP(42, CAUSE_LOAD_ACCESS, lw a0, 4(a1))
    CHECK_TVAL(43, 0x10000004)
    li a1, 0x02010000                                /* just past the CLINT */
    TEST_TRAP(44, CAUSE_LOAD_ACCESS, lbu a0, 0(a1))
    CHECK_TVAL(45, 0x02010000)
    li a1, 0x7ffffff8                                /* just below RAM */
    TEST_TRAP(46, CAUSE_LOAD_ACCESS, lh a0, 6(a1))
    CHECK_TVAL(47, 0x7ffffffe)
    li a1, 0x20001000
    TEST_TRAP(48, CAUSE_LOAD_ACCESS, lr.d a0, (a1))
    CHECK_TVAL(49, 0x20001000)
    /* rd is not written by a faulting load */
    li a0, 0x1234
    li a1, 0
    TEST_TRAP(50, CAUSE_LOAD_ACCESS, ld a0, 8(a1))
    CHECK(51, a0, 0x1234)

    /* ---- store / AMO access faults: cause 7, mtval = address */
    li a1, 0
    TEST_TRAP(60, CAUSE_STORE_ACCESS, sd a0, 0(a1))
    CHECK_TVAL(61, 0)
    li a1, 0x10000000
    TEST_TRAP(62, CAUSE_STORE_ACCESS, sw a0, 8(a1))
    CHECK_TVAL(63, 0x10000008)
    li a1, 0x02010000                                /* just past a 64 KiB CLINT window */
    TEST_TRAP(64, CAUSE_STORE_ACCESS, sb a0, 0(a1))
    CHECK_TVAL(65, 0x02010000)
    /* AMOs fault as stores (cause 7); QEMU 7.2 reports a load access fault (5) */
#ifndef QEMU
    li a1, 0x20002000
    TEST_TRAP(66, CAUSE_STORE_ACCESS, amoadd.w a0, a0, (a1))
    CHECK_TVAL(67, 0x20002000)
    li a1, 0x20002008
    TEST_TRAP(68, CAUSE_STORE_ACCESS, amoswap.d a0, a0, (a1))
    CHECK_TVAL(69, 0x20002008)
#endif
    /* (Not tested: whether an SC without a reservation to a non-RAM address faults or just
     * fails. The README does not say; QEMU 7.2 just fails it.) */

    /* ---- instruction access faults: mepc = mtval = target */
    li a1, 0x10000000
    TEST_TRAP(80, CAUSE_FETCH_ACCESS, jr a1)
    CHECK_TVAL(81, 0x10000000)
    li TESTNUM, 82
    la a0, trap_epc
    ld a0, 0(a0)
    bne a0, a1, fail
    li a1, 0
    TEST_TRAP(83, CAUSE_FETCH_ACCESS, jalr ra, 0(a1))
    CHECK_TVAL(84, 0)
    /* the link register of the faulting jump was written (the jump itself retired) */
    li TESTNUM, 85
    beqz ra, fail
    j pass
