/* Interrupts: CLINT msip (cause 0x8000000000000003) and mtimecmp (…07) with mstatus.MIE / mie
 * gating, M interrupts taken from U-mode regardless of MIE, priority MSI over MTI, vectored
 * mtvec (base + 4 * cause), a delegated supervisor software interrupt (mip.SSIP via sip), and
 * wfi waking on the timer (pltvm jumps mtime to mtimecmp). */
#include "test.h"

#define MIP_SSIP (1 << 1)
#define MIP_MSIP (1 << 3)
#define MIP_STIP (1 << 5)
#define MIP_MTIP (1 << 7)

/* Spin (bounded) until int_count reaches `cnt`; fail case n if it never does.
 * (Under QEMU 7.2 the first timer interrupt is occasionally never delivered: case 20 is flaky
 * there, not on pltvm where time is deterministic.) */
#define WAIT_COUNT(n, cnt) \
    li TESTNUM, n; li t3, 2000000; \
8888: la t4, int_count; ld t4, 0(t4); li t5, cnt; beq t4, t5, 8889f; addi t3, t3, -1; bnez t3, 8888b; j fail; \
8889:

#define CHECK_LOG(n, idx, val) \
    li TESTNUM, n; la t4, int_log; ld t4, (8 * (idx))(t4); li t5, val; bne t4, t5, fail

test_main:
    la t0, int_handler
    csrw mtvec, t0
    li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)

    /* ---- mtimecmp in the past -> MTIP pending; in the far future -> not pending */
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(1, a0, MIP_MTIP)
    li t1, -1
    sd t1, 0(t0)
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(2, a0, 0)
    /* msip sets mip.MSIP; the CSR bit itself is read-only */
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    csrr a0, mip
    andi a0, a0, MIP_MSIP
    CHECK(3, a0, MIP_MSIP)
    lw a0, 0(t0)
    CHECK(4, a0, 1)
    csrci mip, MIP_MSIP
    csrr a0, mip
    andi a0, a0, MIP_MSIP
    CHECK(5, a0, MIP_MSIP)
    sw zero, 0(t0)
    csrr a0, mip
    andi a0, a0, MIP_MSIP
    CHECK(6, a0, 0)

    /* ---- gating: pending + mie.MSIE but MIE = 0 -> nothing; MIE = 1 -> taken at once */
    li t0, MIP_MSIP
    csrw mie, t0
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    nop
    nop
    la a0, int_count
    ld a0, 0(a0)
    CHECK(10, a0, 0)
    /* pending, MIE = 1, but MSIE = 0 -> nothing */
    csrw mie, zero
    csrsi mstatus, MSTATUS_MIE
    nop
    la a0, int_count
    ld a0, 0(a0)
    CHECK(11, a0, 0)
    /* enable MSIE: taken before the next instruction, mepc = that instruction */
    li t0, MIP_MSIP
    csrs mie, t0
1:  nop
    la a0, int_count
    ld a0, 0(a0)
    CHECK(12, a0, 1)
    CHECK_LOG(13, 0, INTR | 3)
    la a0, int_epc
    ld a0, 0(a0)
    CHECK_LA(14, a0, 1b)
    /* the handler ran with MIE = 0, MPIE = 1, MPP = M */
    la a0, int_mstatus
    ld a0, 0(a0)
    andi a1, a0, MSTATUS_MIE
    CHECK(15, a1, 0)
    andi a1, a0, MSTATUS_MPIE
    CHECK(16, a1, MSTATUS_MPIE)
    csrr a0, mstatus
    andi a0, a0, MSTATUS_MIE
    CHECK(17, a0, MSTATUS_MIE)                      /* mret restored it */
    csrci mstatus, MSTATUS_MIE

    /* ---- timer interrupt */
    li t0, MIP_MTIP
    csrw mie, t0
    li t0, CLINT_MTIME
    ld t1, 0(t0)
    addi t1, t1, 200
    li t0, CLINT_MTIMECMP
    sd t1, 0(t0)
    csrsi mstatus, MSTATUS_MIE
    WAIT_COUNT(20, 2)
    csrci mstatus, MSTATUS_MIE
    CHECK_LOG(21, 1, INTR | 7)
    /* it was taken once mtime >= mtimecmp (the handler recorded mtime) */
    la a0, int_mtime
    ld a0, 0(a0)
    li TESTNUM, 22
    bltu a0, t1, fail

    /* ---- priority: MSI and MTI both pending -> MSI first, then MTI */
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    li t0, MIP_MSIP | MIP_MTIP
    csrw mie, t0
    csrsi mstatus, MSTATUS_MIE
    WAIT_COUNT(30, 4)
    csrci mstatus, MSTATUS_MIE
    CHECK_LOG(31, 2, INTR | 3)
    CHECK_LOG(32, 3, INTR | 7)

    /* ---- M interrupts are taken from U-mode even with mstatus.MIE = 0 */
    li t0, MIP_MSIP
    csrw mie, t0
    li TESTNUM, 40
    ARM_TRAP(2f)
    GOTO_MODE(PRV_U, 1f)
1:  li t0, CLINT_MSIP                               /* U-mode raises the MSI itself (no PMP) */
    li t1, 1
    sw t1, 0(t0)
    li t3, 2000000
3:  la t4, int_count
    ld t4, 0(t4)
    li t5, 5
    beq t4, t5, 4f
    addi t3, t3, -1
    bnez t3, 3b
4:  ecall
    j fail
2:  CHECK_MEM(40, trap_cause, CAUSE_ECALL_U)
    CHECK_MEM(41, int_count, 5)
    CHECK_LOG(42, 4, INTR | 3)
    la a0, int_mstatus
    ld a0, 0(a0)
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK(43, a0, PRV_U)                            /* MPP = U: taken from U-mode */

    /* ---- vectored mtvec: interrupts go to base + 4 * cause, exceptions to base */
    la t0, vec_table
    ori t0, t0, 1
    csrw mtvec, t0
    li t0, MIP_MSIP | MIP_MTIP
    csrw mie, t0
    csrsi mstatus, MSTATUS_MIE
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    WAIT_COUNT(50, 6)
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    WAIT_COUNT(51, 7)
    csrci mstatus, MSTATUS_MIE
    CHECK_MEM(52, vec_hits, 0x37)                   /* vector 3 then vector 7 */
    TEST_TRAP(53, CAUSE_ECALL_M, ecall)              /* exception through vector 0 */
    la t0, int_handler
    csrw mtvec, t0

    /* ---- delegated supervisor software interrupt: S sets sip.SSIP, taken in S */
    li t0, MIP_SSIP
    csrw mideleg, t0
    csrw mie, t0
    li TESTNUM, 60
    ARM_TRAP(2f)
    GOTO_MODE(PRV_S, 1f)
1:  csrsi sstatus, MSTATUS_SIE
    csrsi sip, MIP_SSIP                             /* pending + enabled: taken now */
3:  nop
    j fail
2:  CHECK_MEM(60, trap_cause, CAUSE_ECALL_S)         /* the S handler's ecall */
    CHECK_MEM(61, s_trap_cause, INTR | 1)
    la a0, s_trap_epc
    ld a0, 0(a0)
    CHECK_LA(62, a0, 3b)
    la a0, s_trap_sstatus
    ld a0, 0(a0)
    andi a1, a0, MSTATUS_SPP
    CHECK(63, a1, MSTATUS_SPP)
    andi a1, a0, MSTATUS_SPIE
    CHECK(64, a1, MSTATUS_SPIE)
    andi a1, a0, MSTATUS_SIE
    CHECK(65, a1, 0)
    csrr a0, mip
    andi a0, a0, MIP_SSIP
    CHECK(66, a0, MIP_SSIP)                         /* still pending (M does not take it) */
    csrci mip, MIP_SSIP
    csrr a0, mip
    andi a0, a0, MIP_SSIP
    CHECK(67, a0, 0)
    /* delegated S interrupts are not taken in M-mode, even with MIE = 1 */
    csrsi mip, MIP_SSIP
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    csrci mip, MIP_SSIP
    CHECK_MEM(68, int_count, 7)
    csrw mideleg, zero
    csrw mie, zero

    /* ---- wfi wakes on the timer with MIE = 0 (no trap), mtime >= mtimecmp afterwards */
    li t0, MIP_MTIP
    csrw mie, t0
    li t0, CLINT_MTIME
    ld t1, 0(t0)
    li t2, 100000
    add t1, t1, t2
    li t0, CLINT_MTIMECMP
    sd t1, 0(t0)
    wfi
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(70, a0, MIP_MTIP)
    li t0, CLINT_MTIME
    ld a0, 0(t0)
    li TESTNUM, 71
    bltu a0, t1, fail
    CHECK_MEM(72, int_count, 7)
    /* and with MIE = 1 the interrupt is taken after the wfi: mepc = next instruction */
    li t0, CLINT_MTIME
    ld t1, 0(t0)
    li t2, 100000
    add t1, t1, t2
    li t0, CLINT_MTIMECMP
    sd t1, 0(t0)
    csrsi mstatus, MSTATUS_MIE
    wfi
1:  nop
    csrci mstatus, MSTATUS_MIE
    CHECK_MEM(73, int_count, 8)
    CHECK_LOG(74, 7, INTR | 7)
    la a0, int_epc
    ld a0, 0(a0)
    CHECK_LA(75, a0, 1b)
    csrw mie, zero
    j pass

/* Interrupt handler: logs mcause, mepc, mstatus, mtime; clears the source; returns.
 * Exceptions go to the shared trap_vector. */
    .align 6
int_handler:
    csrr s10, mcause
    bgez s10, trap_vector
    la s11, int_count
    ld s10, 0(s11)
    slli s10, s10, 3
    la s11, int_log
    add s11, s11, s10
    csrr s10, mcause
    sd s10, 0(s11)
    la s11, int_count
    ld s10, 0(s11)
    addi s10, s10, 1
    sd s10, 0(s11)
    csrr s10, mepc
    sd s10, 8(s11)                  /* int_epc */
    csrr s10, mstatus
    sd s10, 16(s11)                 /* int_mstatus */
    li s10, CLINT_MTIME
    ld s10, 0(s10)
    sd s10, 24(s11)                 /* int_mtime */
    csrr s10, mcause
    slli s10, s10, 1
    srli s10, s10, 1
    addi s10, s10, -3
    bnez s10, 1f
    li s11, CLINT_MSIP
    sw zero, 0(s11)
    mret
1:  addi s10, s10, -4
    bnez s10, 2f
    li s11, CLINT_MTIMECMP
    li s10, -1
    sd s10, 0(s11)
    mret
2:  j unexpected_trap

    /* vectored table: entry i at base + 4 * i */
    .align 8
    .option push
    .option norvc                   /* 4-byte entries */
vec_table:
    j trap_vector                   /* 0: exceptions */
    j vec_bad                       /* 1 */
    j vec_bad                       /* 2 */
    j vec_3                         /* 3: MSI */
    j vec_bad
    j vec_bad
    j vec_bad
    j vec_7                         /* 7: MTI */
    j vec_bad
    j vec_bad
    j vec_bad
    j vec_bad
    .option pop
vec_3:
    la s11, vec_hits
    ld s10, 0(s11)
    slli s10, s10, 4
    ori s10, s10, 3
    sd s10, 0(s11)
    j int_handler
vec_7:
    la s11, vec_hits
    ld s10, 0(s11)
    slli s10, s10, 4
    ori s10, s10, 7
    sd s10, 0(s11)
    j int_handler
vec_bad:
    j unexpected_trap

    .data
    .align 4
int_count:   .dword 0
int_epc:     .dword 0
int_mstatus: .dword 0
int_mtime:   .dword 0
vec_hits:    .dword 0
int_log:     .skip 8 * 16
