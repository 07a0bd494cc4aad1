/* WARL fields with pltvm's legalisation: misa read-only, mtvec/stvec MODE 2/3 -> 0,
 * mstatus.MPP = 2 -> 0, UXL/SXL = 64, sstatus is a restricted view, mepc/sepc bit 0 = 0,
 * medeleg bit 11 read-only 0, mideleg bits 1/5/9 only, satp (unsupported MODE ignored,
 * ASIDLEN = 0), PMP config legalisation and locking. */
#include "test.h"

test_main:
    /* ---- misa: read-only, RV64 with A, C, I, M, S, U */
    csrr s0, misa
    li t0, (2 << 62) | (1 << 0) | (1 << 2) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
    and a0, s0, t0
    li TESTNUM, 1
    bne a0, t0, fail
    csrw misa, zero
    csrr a0, misa
    li TESTNUM, 2
    bne a0, s0, fail
    li t0, -1
    csrw misa, t0
    csrr a0, misa
    li TESTNUM, 3
    bne a0, s0, fail
    li t0, 1 << 2                               /* try to turn C off */
    csrc misa, t0
    csrr a0, misa
    li TESTNUM, 4
    bne a0, s0, fail

    /* ---- mtvec / stvec: MODE 1 (vectored) kept, MODE 2/3 written as 0.
     * (QEMU 7.2 ignores the whole write for MODE >= 2.) */
    la s0, trap_vector
    addi t0, s0, 1
    csrw mtvec, t0
    csrr a0, mtvec
    csrw mtvec, s0
    sub a0, a0, s0
    CHECK(10, a0, 1)
#ifndef QEMU
    addi t0, s0, 2
    csrw mtvec, t0
    csrr a0, mtvec
    csrw mtvec, s0
    sub a0, a0, s0
    CHECK(11, a0, 0)
    addi t0, s0, 3
    csrw mtvec, t0
    csrr a0, mtvec
    csrw mtvec, s0
    sub a0, a0, s0
    CHECK(12, a0, 0)
    la s1, s_trap_vector
    addi t0, s1, 3
    csrw stvec, t0
    csrr a0, stvec
    csrw stvec, s1
    sub a0, a0, s1
    CHECK(13, a0, 0)
    addi t0, s1, 2
    csrw stvec, t0
    csrr a0, stvec
    csrw stvec, s1
    sub a0, a0, s1
    CHECK(14, a0, 0)
#endif

    /* ---- mstatus */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, 2 << 11
    csrs mstatus, t0
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
#ifndef QEMU
    CHECK(20, a0, PRV_U)                        /* the reserved value 2 becomes U */
#endif
    li t0, 1 << 11
    csrw mstatus, t0
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK(21, a0, PRV_S)
    csrr a0, mstatus
    srli a0, a0, 32
    andi a0, a0, 0xf
    CHECK(22, a0, 0xa)                          /* UXL = SXL = 2 (64-bit), read-only */
    li t0, 0xf << 32
    csrc mstatus, t0
    csrr a0, mstatus
    srli a0, a0, 32
    andi a0, a0, 0xf
    CHECK(23, a0, 0xa)
    csrw mstatus, zero
    /* sstatus is a view: it cannot touch M-only fields */
    li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
    csrs sstatus, t0
    csrr a0, mstatus
    CHECK(24, a0, 0xa00000000)
    li t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
    csrs sstatus, t0
    csrr a0, mstatus
    li t1, 0xa00000000 | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
    CHECK(25, a0, 0xa00000000 | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR)
    csrr a1, sstatus
    li t0, MSTATUS_MPP | MSTATUS_MIE
    csrs mstatus, t0
    csrr a2, sstatus                            /* M fields are not visible in sstatus */
    li TESTNUM, 26
    bne a1, a2, fail
    csrw mstatus, zero

    /* ---- mepc / sepc: bit 0 always 0 (QEMU 7.2 keeps it) */
    li t0, 0x80001235
    csrw mepc, t0
    csrr a0, mepc
#ifndef QEMU
    CHECK(30, a0, 0x80001234)
#endif
    li t0, -1
    csrw sepc, t0
    csrr a0, sepc
#ifndef QEMU
    CHECK(31, a0, -2)
#endif

    /* ---- medeleg: bit 11 (ecall from M) is read-only 0 */
    li t0, -1
    csrw medeleg, t0
    csrr a0, medeleg
    srli a1, a0, 11
    andi a1, a1, 1
#ifndef QEMU
    CHECK(40, a1, 0)                            /* QEMU 7.2 lets bit 11 be set */
#endif
    li t0, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
    and a1, a0, t0
    li TESTNUM, 41
    bne a1, t0, fail
    csrw medeleg, zero
#ifndef QEMU
    li t0, 1 << 11
    csrw medeleg, t0
    csrr a0, medeleg
    CHECK(42, a0, 0)
#endif

    /* ---- mideleg: only SSIP, STIP, SEIP */
    li t0, -1
    csrw mideleg, t0
    csrr a0, mideleg
#ifndef QEMU
    CHECK(50, a0, 0x222)                        /* QEMU 7.2 has more delegable interrupts */
#endif
    csrw mideleg, zero
    csrr a0, mideleg
#ifndef QEMU
    CHECK(51, a0, 0)                            /* QEMU's H extension forces VS bits */
#endif

    /* ---- satp: Sv39 accepted, other modes ignored, ASIDLEN = 0 */
    li s0, (8 << 60) | 0x80123
    csrw satp, s0
    csrr a0, satp
    CHECK(60, a0, (8 << 60) | 0x80123)
    li t0, (5 << 60) | 0x80456                  /* reserved mode: write ignored */
    csrw satp, t0
    csrr a0, satp
    CHECK(61, a0, (8 << 60) | 0x80123)
#ifndef QEMU
    li t0, (9 << 60) | 0x80456                  /* Sv48: not supported by pltvm (QEMU has it) */
    csrw satp, t0
    csrr a0, satp
    CHECK(62, a0, (8 << 60) | 0x80123)
    li t0, (8 << 60) | (0xffff << 44) | 0x80789 /* ASID bits read 0 */
    csrw satp, t0
    csrr a0, satp
    CHECK(63, a0, (8 << 60) | 0x80789)
#endif
    csrw satp, zero
    csrr a0, satp
    CHECK(64, a0, 0)

    /* ---- PMP: R=0,W=1 becomes R=W=0 (X and A kept); locked entries ignore writes.
     * Entry 0 (NAPOT, RWX, everything) is left alone for QEMU's sake. */
#ifndef QEMU
    li t0, 0x1e1f                               /* entry 1: NAPOT | X | W */
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    CHECK(70, a0, 0x1c1f)
    li t0, 0x021f                               /* entry 1: W only */
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    CHECK(71, a0, 0x001f)
    li t0, 0x0b1f                               /* entry 1: TOR | W | R kept */
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    CHECK(72, a0, 0x0b1f)
    li t0, 0x12345
    csrw pmpaddr1, t0
    csrr a0, pmpaddr1
    CHECK(73, a0, 0x12345)
    /* lock entry 2 (OFF, no permissions): its cfg and address can no longer change */
    li t0, 0x55555
    csrw pmpaddr2, t0
    li t0, 0x80001f                             /* entry 2: L, OFF; entry 1 cleared */
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    CHECK(74, a0, 0x80001f)
    li t0, 0x77777
    csrw pmpaddr2, t0
    csrr a0, pmpaddr2
    CHECK(75, a0, 0x55555)
    li t0, 0x0f1f                               /* try to rewrite entry 2 (and set entry 1) */
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    CHECK(76, a0, 0x800f1f)
    /* pmpcfg2 and pmpaddr15 are WARL registers too; other PMP CSRs read 0 */
    li t0, 0x0d
    csrw pmpcfg2, t0
    csrr a0, pmpcfg2
    CHECK(77, a0, 0x0d)
    csrw pmpcfg2, zero
    li t0, 0xabc
    csrw pmpaddr15, t0
    csrr a0, pmpaddr15
    CHECK(78, a0, 0xabc)
    /* the locked entry never blocks anything here: S-mode still runs and loads */
    RUN_IN_MODE(79, PRV_S, la t0, tohost; ld t1, 0(t0))
#endif
    j pass
