/* Trap delegation (medeleg) to S-mode: scause/stval/sepc and sstatus.SPP/SPIE/SIE; traps
 * taken in M-mode are never delegated; mret/sret updates of MIE/MPIE/MPP, SIE/SPIE/SPP and
 * MPRV clearing when returning below M. (Interrupt delegation is in interrupts.S.) */
#include "test.h"

#define FIELD(reg, shift, mask) srli reg, reg, shift; andi reg, reg, mask

test_main:
    /* ---- delegated illegal instruction from S-mode, with SIE = 1 before the trap */
    li t0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_ECALL_U) | (1 << CAUSE_LOAD_ACCESS)
    csrw medeleg, t0
    li TESTNUM, 1
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  csrsi sstatus, MSTATUS_SIE
3:  .word 0x0000000b
    j fail
2:  CHECK_MEM(1, trap_cause, CAUSE_ECALL_S)         /* the S handler's ecall */
    CHECK_MEM(2, s_trap_cause, CAUSE_ILLEGAL)
    CHECK_MEM(3, s_trap_tval, 0x0000000b)
    li TESTNUM, 4
    la a0, s_trap_epc
    ld a0, 0(a0)
    la a1, 3b
    bne a0, a1, fail
    la a0, s_trap_sstatus
    ld a0, 0(a0)
    mv a1, a0
    FIELD(a1, 8, 1)
    CHECK(5, a1, 1)                                 /* SPP = S */
    mv a1, a0
    FIELD(a1, 5, 1)
    CHECK(6, a1, 1)                                 /* SPIE = old SIE */
    mv a1, a0
    FIELD(a1, 1, 1)
    CHECK(7, a1, 0)                                 /* SIE cleared */
    csrr a0, scause
    CHECK(8, a0, CAUSE_ILLEGAL)
    /* mcause belongs to the last M trap (the ecall), sepc was written, mepc is the S ecall */

    /* ---- delegated ecall from U-mode: scause 8, SPP = U, SPIE = 0 (SIE was 0) */
    csrci sstatus, MSTATUS_SIE
    li TESTNUM, 10
    ARM_TRAP(2f)
    GOTO_MODE(PRV_U, 1f)
1:  ecall
    j fail
2:  CHECK_MEM(10, trap_cause, CAUSE_ECALL_S)
    CHECK_MEM(11, s_trap_cause, CAUSE_ECALL_U)
    CHECK_MEM(12, s_trap_tval, 0)
    la a0, s_trap_epc
    ld a0, 0(a0)
    CHECK_LA(13, a0, 1b)
    la a0, s_trap_sstatus
    ld a0, 0(a0)
    mv a1, a0
    FIELD(a1, 8, 1)
    CHECK(14, a1, 0)                                /* SPP = U */
    mv a1, a0
    FIELD(a1, 5, 1)
    CHECK(15, a1, 0)                                /* SPIE = 0 */

    /* ---- delegated load access fault from U-mode: stval = address */
    li TESTNUM, 20
    ARM_TRAP(2f)
    GOTO_MODE(PRV_U, 1f)
1:  li a1, 0x10000010
    lw a0, 0(a1)
    j fail
2:  CHECK_MEM(20, trap_cause, CAUSE_ECALL_S)
    CHECK_MEM(21, s_trap_cause, CAUSE_LOAD_ACCESS)
    CHECK_MEM(22, s_trap_tval, 0x10000010)

    /* ---- traps in M-mode are not delegated */
    la a0, s_trap_count
    ld s0, 0(a0)
    TEST_ILLEGAL(30, .word 0x0000000b)
    li TESTNUM, 31
    la a0, s_trap_count
    ld a0, 0(a0)
    bne a0, s0, fail
    /* and non-delegated traps from S go to M: ecall from U is delegated but ebreak is not */
    li TESTNUM, 32
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  ebreak
    j fail
2:  CHECK_MEM(32, trap_cause, CAUSE_BREAKPOINT)
    li TESTNUM, 33
    la a0, s_trap_count
    ld a0, 0(a0)
    bne a0, s0, fail
    csrw medeleg, zero

    /* ---- mret to M: MIE = MPIE, MPIE = 1, MPP = U (least privileged), MPRV kept */
    li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MPRV
    csrs mstatus, t0                                /* MPP = M, MPIE = 1, MPRV = 1, MIE = 0 */
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr a0, mstatus
    mv a1, a0
    FIELD(a1, 3, 1)
    CHECK(40, a1, 1)                                /* MIE */
    mv a1, a0
    FIELD(a1, 7, 1)
    CHECK(41, a1, 1)                                /* MPIE */
    mv a1, a0
    FIELD(a1, 11, 3)
    CHECK(42, a1, PRV_U)                            /* MPP */
    mv a1, a0
    FIELD(a1, 17, 1)
    CHECK(43, a1, 1)                                /* MPRV stays when returning to M */
    /* mret with MPIE = 0: MIE becomes 0 */
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    li t0, MSTATUS_MPIE
    csrc mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr a0, mstatus
    mv a1, a0
    FIELD(a1, 3, 1)
    CHECK(44, a1, 0)
    mv a1, a0
    FIELD(a1, 7, 1)
    CHECK(45, a1, 1)
    /* mret to U clears MPRV (seen by the handler of the U-mode ecall) */
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    li TESTNUM, 46
    ARM_TRAP(2f)
    GOTO_MODE(PRV_U, 1f)
1:  ecall
    j fail
2:  CHECK_MEM(46, trap_cause, CAUSE_ECALL_U)
    /* QEMU 7.2 (priv 1.11 behaviour here) keeps MPRV; priv 1.12 and pltvm clear it */
#ifndef QEMU
    la a0, trap_mstatus
    ld a0, 0(a0)
    FIELD(a0, 17, 1)
    CHECK(47, a0, 0)
#endif
    /* mret to S clears MPRV too */
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    li TESTNUM, 48
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  ecall
    j fail
2:  CHECK_MEM(48, trap_cause, CAUSE_ECALL_S)
#ifndef QEMU
    la a0, trap_mstatus
    ld a0, 0(a0)
    FIELD(a0, 17, 1)
    CHECK(49, a0, 0)
    csrr a0, mstatus
    FIELD(a0, 17, 1)
    CHECK(50, a0, 0)
#endif
    li t0, MSTATUS_MPRV
    csrc mstatus, t0

    /* ---- sret from S to U: SIE = SPIE, SPIE = 1, SPP = U; then to S with SPP = S */
    li TESTNUM, 60
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  li t0, MSTATUS_SPP
    csrc sstatus, t0                                /* SPP = U */
    li t0, MSTATUS_SPIE
    csrs sstatus, t0                                /* SPIE = 1 */
    csrci sstatus, MSTATUS_SIE
    la t0, 3f
    csrw sepc, t0
    sret
3:  ecall                                           /* from U: cause 8 proves the mode */
    j fail
2:  CHECK_MEM(60, trap_cause, CAUSE_ECALL_U)
    la a0, trap_mstatus
    ld a0, 0(a0)
    mv a1, a0
    FIELD(a1, 1, 1)
    CHECK(61, a1, 1)                                /* SIE = old SPIE */
    mv a1, a0
    FIELD(a1, 5, 1)
    CHECK(62, a1, 1)                                /* SPIE = 1 */
    mv a1, a0
    FIELD(a1, 8, 1)
    CHECK(63, a1, 0)                                /* SPP = U */
    csrci mstatus, MSTATUS_SIE
    /* sret with SPP = S stays in S; SPIE = 0 -> SIE = 0; SPP becomes U */
    li TESTNUM, 64
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  li t0, MSTATUS_SPP
    csrs sstatus, t0
    li t0, MSTATUS_SPIE
    csrc sstatus, t0
    csrsi sstatus, MSTATUS_SIE
    la t0, 3f
    csrw sepc, t0
    sret
3:  csrr a0, sstatus                                /* legal only in S: proves the mode */
    ecall
    j fail
2:  CHECK_MEM(64, trap_cause, CAUSE_ECALL_S)
    mv a1, a0
    FIELD(a1, 1, 1)
    CHECK(65, a1, 0)                                /* SIE = old SPIE = 0 */
    mv a1, a0
    FIELD(a1, 5, 1)
    CHECK(66, a1, 1)                                /* SPIE = 1 */
    mv a1, a0
    FIELD(a1, 8, 1)
    CHECK(67, a1, 0)                                /* SPP = U */

    /* ---- mret uses mepc with bit 0 ignored (mepc[0] always reads 0; QEMU 7.2 keeps it) */
#ifndef QEMU
    la t0, 1f
    ori t0, t0, 1
    csrw mepc, t0
    csrr a0, mepc
    CHECK_LA(70, a0, 1f)
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    mret
    j fail
1:
#endif
    j pass
