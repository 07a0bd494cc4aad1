/* Privilege checks: S/U touching M CSRs, U touching S CSRs, xRET from too-low modes,
 * mstatus.TVM/TW/TSR, wfi in U-mode, and the counters (mcounteren/scounteren gating,
 * exact minstret/mcycle/time deltas since time = cycle = instret, mcountinhibit). */
#include "test.h"

#define ILL(n, mode, ...) TEST_TRAP_IN_MODE(n, mode, CAUSE_ILLEGAL, __VA_ARGS__)

test_main:
    /* ---- CSR privilege */
    ILL(1, PRV_S, csrr a0, mstatus)
    ILL(2, PRV_S, csrw mscratch, a0)
    ILL(3, PRV_S, csrr a0, mhartid)
    ILL(4, PRV_U, csrr a0, mepc)
    ILL(5, PRV_U, csrr a0, sstatus)
    ILL(6, PRV_U, csrw sscratch, a0)
    ILL(7, PRV_U, csrr a0, satp)
    ILL(8, PRV_S, csrr a0, pmpcfg0)
    ILL(9, PRV_S, csrr a0, mcycle)
    /* legal accesses at the right level */
    RUN_IN_MODE(10, PRV_S, csrw sscratch, 5; csrr a0, sscratch; csrr a1, sstatus; csrr a2, stvec; csrr a3, satp)
    CHECK(11, a0, 5)
    CHECK(12, a3, 0)
    RUN_IN_MODE(13, PRV_U, li a0, 1)

    /* ---- xRET privilege */
    ILL(20, PRV_S, mret)
    ILL(21, PRV_U, mret)
    ILL(22, PRV_U, sret)

    /* ---- TVM: satp and sfence.vma illegal in S when set, legal when clear */
    li t0, MSTATUS_TVM
    csrs mstatus, t0
    ILL(30, PRV_S, csrr a0, satp)
    ILL(31, PRV_S, csrw satp, zero)
    ILL(32, PRV_S, sfence.vma)
    ILL(33, PRV_S, sfence.vma a0, zero)
    /* M-mode is not affected */
    csrr a0, satp
    sfence.vma
    li t0, MSTATUS_TVM
    csrc mstatus, t0
    RUN_IN_MODE(34, PRV_S, csrr a0, satp; sfence.vma)
    ILL(35, PRV_U, sfence.vma)

    /* ---- TW: wfi illegal in S when set; wfi in U-mode is always illegal on pltvm */
    li t0, MSTATUS_TW
    csrs mstatus, t0
    ILL(40, PRV_S, wfi)
    ILL(41, PRV_U, wfi)
    li t0, MSTATUS_TW
    csrc mstatus, t0
    ILL(42, PRV_U, wfi)
#ifndef QEMU
    /* no interrupt can end this wfi: a no-op on pltvm (QEMU would sleep forever) */
    RUN_IN_MODE(43, PRV_S, wfi)
    wfi
#endif

    /* ---- TSR: sret illegal in S when set */
    li t0, MSTATUS_TSR
    csrs mstatus, t0
    ILL(50, PRV_S, la t0, 1f; csrw sepc, t0; sret; 1: nop)
    li t0, MSTATUS_TSR
    csrc mstatus, t0
    /* with TSR clear, sret works from S (SPP = S, back to S) */
    RUN_IN_MODE(51, PRV_S, li t0, MSTATUS_SPP; csrs sstatus, t0; la t0, 1f; csrw sepc, t0; sret; j fail; 1: nop)

    /* ---- counter enables */
    csrw mcounteren, zero
    csrw scounteren, zero
    ILL(60, PRV_S, rdcycle a0)
    ILL(61, PRV_S, rdinstret a0)
    ILL(62, PRV_U, rdcycle a0)
    ILL(63, PRV_U, rdinstret a0)
#ifndef QEMU
    ILL(64, PRV_S, rdtime a0)
    ILL(65, PRV_U, rdtime a0)
#endif
    li t0, 5                                    /* CY and IR */
    csrw mcounteren, t0
    RUN_IN_MODE(66, PRV_S, rdcycle a0; rdinstret a1)
    ILL(67, PRV_U, rdcycle a0)                  /* scounteren still 0 */
#ifndef QEMU
    ILL(68, PRV_S, rdtime a0)                   /* TM not enabled */
#endif
    csrwi scounteren, 1
    RUN_IN_MODE(69, PRV_U, rdcycle a0)
    ILL(70, PRV_U, rdinstret a0)
    csrwi scounteren, 7
    csrwi mcounteren, 7
    RUN_IN_MODE(71, PRV_U, rdcycle a0; rdinstret a1)
#ifndef QEMU
    RUN_IN_MODE(72, PRV_U, rdtime a0)
    RUN_IN_MODE(73, PRV_S, rdtime a0)
    /* only bits 0-2 are writable; hpmcounter3+ are illegal outside M */
    li t0, -1
    csrw mcounteren, t0
    csrr a0, mcounteren
    CHECK(74, a0, 7)
    csrw scounteren, t0
    csrr a0, scounteren
    CHECK(75, a0, 7)
    ILL(76, PRV_S, csrr a0, hpmcounter3)
    ILL(77, PRV_U, csrr a0, hpmcounter4)
#endif
    ILL(78, PRV_S, csrr a0, minstret)

#ifndef QEMU
    /* ---- exact counts: a counter read returns the count before the reading instruction
     * retires, so two reads k instructions apart differ by k + 1 (QEMU: host ticks) */
    csrr a0, minstret
    csrr a1, minstret
    sub a2, a1, a0
    CHECK(80, a2, 1)
    csrr a0, minstret
    nop
    nop
    nop
    csrr a1, minstret
    sub a2, a1, a0
    CHECK(81, a2, 4)
    csrr a0, instret
    addi x0, x0, 0
    csrr a1, instret
    sub a2, a1, a0
    CHECK(82, a2, 2)
    /* cycle == instret, mcycle likewise */
    csrr a0, mcycle
    nop
    csrr a1, mcycle
    sub a2, a1, a0
    CHECK(83, a2, 2)
    /* time advances by one per retired instruction */
    csrr a0, time
    nop
    nop
    csrr a1, time
    sub a2, a1, a0
    CHECK(84, a2, 3)
    /* mtime (CLINT) agrees */
    li t1, CLINT_MTIME
    ld a0, 0(t1)
    nop
    ld a1, 0(t1)
    sub a2, a1, a0
    CHECK(85, a2, 2)
    /* a taken branch / loop retires each instruction once */
    csrr a0, minstret
    li t1, 10
1:  addi t1, t1, -1
    bnez t1, 1b
    csrr a1, minstret
    sub a2, a1, a0
    CHECK(86, a2, 22)                           /* li + 10 * 2 + the second csrr */
    /* mcountinhibit.IR freezes minstret, .CY freezes mcycle */
    csrwi mcountinhibit, 4
    csrr a0, minstret
    nop
    csrr a1, minstret
    csrwi mcountinhibit, 0
    sub a2, a1, a0
    CHECK(87, a2, 0)
    csrwi mcountinhibit, 1
    csrr a0, mcycle
    nop
    csrr a1, mcycle
    csrwi mcountinhibit, 0
    sub a2, a1, a0
    CHECK(88, a2, 0)
    /* counting resumes */
    csrr a0, minstret
    csrr a1, minstret
    sub a2, a1, a0
    CHECK(89, a2, 1)
    /* minstret is writable; it continues from the written value */
    li t0, 1000
    csrw minstret, t0
    csrr a0, minstret
    li TESTNUM, 90
    li t1, 1000
    bltu a0, t1, fail
    li t1, 1002
    bgtu a0, t1, fail
#else
    /* QEMU: only monotonicity */
    csrr a0, minstret
    nop
    csrr a1, minstret
    li TESTNUM, 80
    bgeu a0, a1, fail
#endif
    j pass
