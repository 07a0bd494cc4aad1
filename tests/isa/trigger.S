/* Sdtrig triggers: enumeration and WARL read-back of tselect/tdata1/tdata2/tinfo, tcontrol
 * absent, execute/load/store address matches (equal, greater-or-equal) raising breakpoint
 * exceptions (mcause 3, mepc = the instruction, mtval = the matched address) before the
 * instruction has any effect, and the M/S/U enables with the MIE/SIE rule that replaces
 * tcontrol (an M-mode trigger fires only while mstatus.MIE = 1; an S-mode one, with
 * breakpoints delegated, only while SIE = 1). */
#include "test.h"

#define CSR_TSELECT 0x7a0
#define CSR_TDATA1  0x7a1
#define CSR_TDATA2  0x7a2
#define CSR_TDATA3  0x7a3
#define CSR_TINFO   0x7a4
#define CSR_TCONTROL 0x7a5

#define T_LOAD    1
#define T_STORE   2
#define T_EXECUTE 4
#define T_U       8
#define T_S       16
#define T_M       64
#define MCONTROL6 (6 << 60)
#define MCONTROL  (2 << 60)
#define DISABLED  (15 << 60)
#define MATCH_GE  (2 << 7)

/* Select trigger `i` and program it (the spec's order: disable, tdata2, tdata1). */
#define SET_TRIGGER(i, tdata1, addr_reg) \
    li t0, i; csrw CSR_TSELECT, t0; csrw CSR_TDATA1, zero; csrw CSR_TDATA2, addr_reg; \
    li t0, tdata1; csrw CSR_TDATA1, t0

#define CLEAR_TRIGGER(i) \
    li t0, i; csrw CSR_TSELECT, t0; csrw CSR_TDATA1, zero

test_main:
    /* ---- enumeration: four triggers; an index with none is ignored */
    li t1, 3
    csrw CSR_TSELECT, t1
    csrr a0, CSR_TSELECT
    CHECK(1, a0, 3)
    li t1, 4
    csrw CSR_TSELECT, t1
    csrr a0, CSR_TSELECT
    CHECK(2, a0, 3)
    csrr a0, CSR_TINFO
    CHECK(3, a0, (1 << 24) | (1 << 2) | (1 << 6) | (1 << 15))
    csrw CSR_TSELECT, zero
    csrr a0, CSR_TDATA1
    CHECK(4, a0, DISABLED)             /* reset: disabled */
    TEST_ILLEGAL(5, csrr a0, CSR_TCONTROL)

    /* ---- WARL: unsupported fields read back as 0, an unsupported match as equal */
    li t1, MCONTROL6 | (1 << 59) | (1 << 22) | (5 << 16) | (1 << 12) | (1 << 11) | (1 << 7) | T_M | T_LOAD
    csrw CSR_TDATA1, t1
    csrr a0, CSR_TDATA1
    CHECK(6, a0, MCONTROL6 | T_M | T_LOAD)
    li t1, (3 << 60) | T_M             /* icount: not supported, becomes disabled */
    csrw CSR_TDATA1, t1
    csrr a0, CSR_TDATA1
    CHECK(7, a0, DISABLED)
    li t1, MCONTROL | MATCH_GE | T_U | T_STORE
    csrw CSR_TDATA1, t1
    csrr a0, CSR_TDATA1
    CHECK(8, a0, MCONTROL | MATCH_GE | T_U | T_STORE)
    csrw CSR_TDATA1, zero
    li t1, -1
    csrw CSR_TDATA2, t1
    csrr a0, CSR_TDATA2
    CHECK(9, a0, -1)
    csrw CSR_TDATA3, t1
    csrr a0, CSR_TDATA3
    CHECK(10, a0, 0)
    /* other triggers keep their own tdata */
    li t0, 1
    csrw CSR_TSELECT, t0
    csrr a0, CSR_TDATA2
    CHECK(11, a0, 0)

    /* ---- execute, M-mode, MIE = 1: fires before the instruction; mtval = mepc = its pc */
    li a1, 0
    la t2, 1f
    SET_TRIGGER(0, MCONTROL6 | T_M | T_EXECUTE, t2)
    csrsi mstatus, MSTATUS_MIE
    li TESTNUM, 20
    ARM_TRAP(2f)
    nop
1:  li a1, 7                            /* must not run */
    j fail
2:  CHECK_MEM(20, trap_cause, CAUSE_BREAKPOINT)
    CHECK_EPC_LA(21, 1b)
    CHECK_TVAL_LA(22, 1b)
    CHECK(23, a1, 0)
    /* MIE = 0: the same trigger does not fire (and its handler could not re-trigger) */
    csrci mstatus, MSTATUS_MIE
    li TESTNUM, 24
    la t2, 3f
    SET_TRIGGER(0, MCONTROL6 | T_M | T_EXECUTE, t2)
3:  li a1, 5
    CHECK(25, a1, 5)
    /* a compressed instruction in the middle of a block */
    csrsi mstatus, MSTATUS_MIE
    la t2, 4f
    SET_TRIGGER(0, MCONTROL | T_M | T_EXECUTE, t2)
    li TESTNUM, 26
    ARM_TRAP(5f)
    addi a1, a1, 1
    addi a1, a1, 1
4:  c.addi a1, 1
    j fail
5:  CHECK_MEM(26, trap_cause, CAUSE_BREAKPOINT)
    CHECK_EPC_LA(27, 4b)
    CHECK(28, a1, 7)
    /* disabled again: the instruction runs */
    CLEAR_TRIGGER(0)
    li TESTNUM, 29
    la t2, 7f
    SET_TRIGGER(0, MCONTROL6 | T_M | T_EXECUTE, t2)
    CLEAR_TRIGGER(0)
7:  c.addi a1, 1
    CHECK(29, a1, 8)

    /* ---- load, exact address: every accessed byte is compared; stores do not match */
    la t2, data + 8
    SET_TRIGGER(1, MCONTROL6 | T_M | T_LOAD, t2)
    li a0, 0x55
    ld a1, 8(t2)                        /* data + 16..23: no match */
    lw a1, -4(t2)                       /* data + 4..7: no match */
    sd zero, 0(t2)                      /* a store: no match */
    li TESTNUM, 30
    ARM_TRAP(2f)
1:  lw a0, -2(t2)                       /* data + 6..9 includes data + 8 */
    j fail
2:  CHECK_MEM(30, trap_cause, CAUSE_BREAKPOINT)
    CHECK_TVAL_LA(31, data + 8)
    CHECK_EPC_LA(32, 1b)
    CHECK(33, a0, 0x55)                 /* rd untouched */
    CLEAR_TRIGGER(1)

    /* ---- store, exact address: memory unchanged; the load of it does not match */
    la t2, data + 24
    SET_TRIGGER(2, MCONTROL6 | T_M | T_STORE, t2)
    ld a1, 0(t2)
    li a0, 0x1234
    li TESTNUM, 34
    ARM_TRAP(2f)
1:  sb a0, 0(t2)
    j fail
2:  CHECK_MEM(34, trap_cause, CAUSE_BREAKPOINT)
    CHECK_TVAL_LA(35, data + 24)
    CHECK_EPC_LA(36, 1b)
    CHECK_MEM(37, data + 24, 0x1122334455667788)
    CLEAR_TRIGGER(2)
    sb a0, 0(t2)                        /* cleared: the store happens */
    CHECK_MEM(38, data + 24, 0x1122334455667734)

    /* ---- greater-or-equal on loads; an AMO is a load and a store */
    la t2, data + 32
    SET_TRIGGER(3, MCONTROL6 | MATCH_GE | T_M | T_LOAD, t2)
    ld a1, -8(t2)                       /* below: no match */
    li TESTNUM, 40
    ARM_TRAP(2f)
1:  lbu a1, 40(t2)
    j fail
2:  CLEAR_TRIGGER(3)
    CHECK_MEM(40, trap_cause, CAUSE_BREAKPOINT)
    CHECK_TVAL_LA(41, data + 72)        /* ge: tval is the accessed address */
    SET_TRIGGER(3, MCONTROL6 | MATCH_GE | T_M | T_LOAD, t2)
    li TESTNUM, 42
    ARM_TRAP(2f)
1:  amoadd.d a1, a0, (t2)
    j fail
2:  CLEAR_TRIGGER(3)                    /* before checking: the checks load above data */
    CHECK_MEM(42, trap_cause, CAUSE_BREAKPOINT)
    CHECK_MEM(43, data + 32, 0)         /* the AMO did not write */

    /* ---- two triggers armed at once, each fires on its own address */
    la t2, data
    la t3, data + 48
    SET_TRIGGER(0, MCONTROL6 | T_M | T_STORE, t2)
    SET_TRIGGER(1, MCONTROL6 | T_M | T_LOAD, t3)
    li TESTNUM, 44
    ARM_TRAP(2f)
    ld a1, 0(t2)
1:  ld a1, 0(t3)
    j fail
2:  CHECK_EPC_LA(44, 1b)
    CHECK_TVAL_LA(45, data + 48)
    li TESTNUM, 46
    ARM_TRAP(2f)
1:  sd a1, 0(t2)
    j fail
2:  CHECK_EPC_LA(46, 1b)
    CLEAR_TRIGGER(0)
    CLEAR_TRIGGER(1)

    /* ---- privilege enables: U-mode store trigger fires from U; an M-only one does not */
    la t2, data + 56
    SET_TRIGGER(0, MCONTROL6 | T_U | T_STORE, t2)
    TEST_TRAP_IN_MODE(50, PRV_U, CAUSE_BREAKPOINT, sd zero, 0(t2))
    CHECK_TVAL_LA(51, data + 56)
    SET_TRIGGER(0, MCONTROL6 | T_M | T_STORE, t2)
    RUN_IN_MODE(52, PRV_U, sd zero, 0(t2))
    /* S-mode, breakpoints not delegated: fires whatever SIE */
    SET_TRIGGER(0, MCONTROL6 | T_S | T_LOAD, t2)
    TEST_TRAP_IN_MODE(53, PRV_S, CAUSE_BREAKPOINT, ld a1, 0(t2))
    /* breakpoints delegated and SIE = 0: the S trigger does not fire */
    csrwi medeleg, 1 << CAUSE_BREAKPOINT
    csrci mstatus, MSTATUS_SIE
    RUN_IN_MODE(54, PRV_S, ld a1, 0(t2))
    csrw medeleg, zero
    CLEAR_TRIGGER(0)

    j pass

    .data
    .align 6
data:
    .dword 0, 0, 0, 0x1122334455667788, 0, 0, 0, 0, 0, 0
