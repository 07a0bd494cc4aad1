/* Sv39 translation for S/U-mode and for M-mode loads/stores with MPRV: 4 KiB pages, 2 MiB and
 * 1 GiB superpages, misaligned superpages, V=0, W-without-R, reserved bits 63:54, a pointer at
 * level 0, non-canonical addresses, U-bit rules (SUM, S never executes U pages, U cannot touch
 * non-U pages), MXR, Svade (A=0 / D=0 fault, the hart never writes PTEs), causes 12/13/15 with
 * mtval = virtual address, sfence.vma after a PTE change, and PTEs outside RAM (access fault).
 * All traps go to M (no delegation); tests run from the 1 GiB identity superpage at 0x8000_0000. */
#include "test.h"

#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define RW   (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RWX  (RW | PTE_X)

/* table[idx] = PTE(pa in register, flags) */
#define SET_PTE(table, idx, pareg, flags) \
    srli t1, pareg, 12; slli t1, t1, 10; li t2, flags; or t1, t1, t2; la t2, table; sd t1, (8 * (idx))(t2)
#define SET_PTE_LA(table, idx, sym, flags) la t0, sym; SET_PTE(table, idx, t0, flags)
#define SET_PTE_LI(table, idx, pa, flags)  li t0, pa; SET_PTE(table, idx, t0, flags)

#define VA(i)  (0x40000000 + (i) * 0x1000)     /* 4 KiB pages through l0 */
#define VA2M   0x40200000                       /* 2 MiB page */
#define VA2MB  0x40400000                       /* misaligned 2 MiB page */
#define VAPTR0 0x40600000                       /* l1[3] -> l0b whose entry 0 is a pointer */
#define VABADPT 0x40800000                      /* l1[4] -> "table" outside RAM */
#define VA1G   0xC0000000                       /* 1 GiB alias of RAM */
#define VA1GB  0x100000000                      /* misaligned 1 GiB page */

#define S_LOAD_FAULT(n, va)  li a1, va; TEST_TRAP_IN_MODE(n, PRV_S, CAUSE_LOAD_PAGE, ld a0, 0(a1)); CHECK_TVAL(n, va)
#define S_STORE_FAULT(n, va) li a1, va; TEST_TRAP_IN_MODE(n, PRV_S, CAUSE_STORE_PAGE, sd a0, 0(a1)); CHECK_TVAL(n, va)
#define S_FETCH_FAULT(n, va) li a1, va; TEST_TRAP_IN_MODE(n, PRV_S, CAUSE_FETCH_PAGE, jr a1); CHECK_TVAL(n, va)
#define S_LOAD_OK(n, va, val) li a1, va; RUN_IN_MODE(n, PRV_S, ld a0, 0(a1)); CHECK(n, a0, val)

test_main:
    /* ---- data pages: page k holds 0x1000 * k + 0xd0d0 in its first dword */
    la t0, pages
    li t1, 0
1:  li t2, 0xd0d0
    add t2, t2, t1
    sd t2, 0(t0)
    li t3, 0x1000
    add t0, t0, t3
    add t1, t1, t3
    li t3, 0x10000
    bltu t1, t3, 1b
    /* the 2 MiB page's physical frame: first dword */
    li t0, 0x80400000
    li t1, 0x2222
    sd t1, 0(t0)

    /* ---- page tables */
    SET_PTE_LI(root, 2, 0x80000000, RWX | PTE_G)        /* identity 1 GiB for code/data */
    SET_PTE_LI(root, 3, 0x80000000, RW)                 /* alias at 0xC000_0000 */
    SET_PTE_LI(root, 4, 0x80200000, RW)                 /* misaligned 1 GiB */
    SET_PTE_LA(root, 1, l1, PTE_V)
    SET_PTE_LA(l1, 0, l0, PTE_V)
    SET_PTE_LI(l1, 1, 0x80400000, RW)                   /* 2 MiB */
    SET_PTE_LI(l1, 2, 0x80401000, RW)                   /* misaligned 2 MiB */
    SET_PTE_LA(l1, 3, l0b, PTE_V)
    SET_PTE_LA(l0b, 0, l0, PTE_V)                       /* pointer at level 0 */
    SET_PTE_LI(l1, 4, 0x10000000, PTE_V)                /* next level outside RAM */
    SET_PTE_LA(l0, 0, pages + 0x0000, RW)
    /* l0[1]: V = 0 (left zero) */
    SET_PTE_LA(l0, 2, pages + 0x2000, PTE_V | PTE_W | PTE_A | PTE_D)   /* W without R */
    SET_PTE_LA(l0, 3, pages + 0x3000, RW | (1 << 54))                   /* reserved bit */
    SET_PTE_LA(l0, 4, pages + 0x4000, RW | PTE_U)
    SET_PTE_LA(l0, 5, u_code, PTE_V | PTE_R | PTE_X | PTE_A | PTE_U)
    SET_PTE_LA(l0, 6, pages + 0x6000, PTE_V | PTE_X | PTE_A)           /* execute-only */
    SET_PTE_LA(l0, 7, pages + 0x7000, PTE_V | PTE_R | PTE_W | PTE_D)   /* A = 0 */
    SET_PTE_LA(l0, 8, pages + 0x8000, PTE_V | PTE_R | PTE_W | PTE_A)   /* D = 0 */
    SET_PTE_LA(l0, 9, pages + 0x9000, RW)                               /* remapped later */
    SET_PTE_LA(l0, 10, s_code, PTE_V | PTE_R | PTE_X | PTE_A)          /* S code at a VA */
    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma

    /* ---- valid mappings */
    S_LOAD_OK(1, VA(0), 0xd0d0)
    S_LOAD_OK(2, VA2M, 0x2222)                          /* 2 MiB superpage */
    la t0, pages
    li t1, 0x80000000
    sub t0, t0, t1
    li t1, VA1G
    add s3, t0, t1                                      /* pages through the 1 GiB alias */
    mv a1, s3
    RUN_IN_MODE(3, PRV_S, ld a0, 0(a1))
    CHECK(3, a0, 0xd0d0)
    li t0, 0x3000
    add a1, s3, t0
    RUN_IN_MODE(4, PRV_S, ld a0, 0(a1))
    CHECK(4, a0, 0xd0d0 + 0x3000)
    /* stores through a mapping land in the physical page */
    li a1, VA(0) + 8
    li a0, 0x5151
    RUN_IN_MODE(5, PRV_S, sd a0, 0(a1))
    la t0, pages
    ld a0, 8(t0)
    CHECK(6, a0, 0x5151)
    /* executing S code through a 4 KiB mapping at another VA */
    li a1, VA(10)
    RUN_IN_MODE(7, PRV_S, jalr a1)
    CHECK(8, a0, 0x777)

    /* ---- invalid or reserved PTEs: page faults with mtval = VA */
    S_LOAD_FAULT(10, VA(1))                             /* V = 0 */
    S_STORE_FAULT(11, VA(1) + 0x10)
    S_FETCH_FAULT(12, VA(1))
    S_LOAD_FAULT(13, VA(2))                             /* W without R */
    S_STORE_FAULT(14, VA(2))
#ifndef QEMU
    S_LOAD_FAULT(15, VA(3) + 0x18)                      /* reserved bits 63:54 (QEMU 7.2 ignores them) */
#endif
    S_LOAD_FAULT(16, VA2MB)                             /* misaligned 2 MiB superpage */
    S_LOAD_FAULT(17, VA1GB + 0x40)                      /* misaligned 1 GiB superpage */
    S_LOAD_FAULT(18, VAPTR0)                            /* pointer at level 0 */
    S_LOAD_FAULT(19, 0x0000008000000000)                /* non-canonical: bit 39 set, 38 clear */
    S_STORE_FAULT(20, 0xffffff0000000000)               /* non-canonical: bit 38 clear, 63:39 set */
    S_FETCH_FAULT(21, 0x4000000000)
    S_LOAD_FAULT(22, 0x2000)                            /* unmapped: root[0] = 0 */

    /* ---- U bit */
    S_LOAD_FAULT(30, VA(4))                             /* S on a U page without SUM */
    S_STORE_FAULT(31, VA(4))
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    S_LOAD_OK(32, VA(4), 0xd0d0 + 0x4000)
    S_FETCH_FAULT(33, VA(5))                            /* S never executes U pages, even with SUM */
    li t0, MSTATUS_SUM
    csrc mstatus, t0
    /* U-mode runs u_code at VA(5): "ld a0, 0(a1); ecall" */
    li a1, VA(4)
    li TESTNUM, 34
    ARM_TRAP(1f)
    GOTO_MODE(PRV_U, VA(5))
1:  CHECK_MEM(34, trap_cause, CAUSE_ECALL_U)
    CHECK(35, a0, 0xd0d0 + 0x4000)
    /* U touching a non-U page */
    li a1, VA(0)
    li TESTNUM, 36
    ARM_TRAP(1f)
    GOTO_MODE(PRV_U, VA(5))
1:  CHECK_MEM(36, trap_cause, CAUSE_LOAD_PAGE)
    CHECK_TVAL(37, VA(0))
    /* U storing: "sd a0, 0(a1); ecall" at VA(5) + 8; the U page is read-only (no W) for itself */
    li a1, VA(5) + 0x100
    li TESTNUM, 38
    ARM_TRAP(1f)
    GOTO_MODE(PRV_U, VA(5) + 8)
1:  CHECK_MEM(38, trap_cause, CAUSE_STORE_PAGE)
    CHECK_TVAL(39, VA(5) + 0x100)
    /* U fetching from a non-U page */
    li TESTNUM, 40
    ARM_TRAP(1f)
    GOTO_MODE(PRV_U, VA(10))
1:  CHECK_MEM(40, trap_cause, CAUSE_FETCH_PAGE)
    CHECK_TVAL(41, VA(10))

    /* ---- MXR: loads from an execute-only page */
    S_LOAD_FAULT(50, VA(6))
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    S_LOAD_OK(51, VA(6), 0xd0d0 + 0x6000)
    S_STORE_FAULT(52, VA(6))                            /* MXR does not grant W */
    li t0, MSTATUS_MXR
    csrc mstatus, t0

    /* ---- Svade: A = 0 faults on any access, D = 0 faults on stores; PTEs never written.
     * (QEMU 7.2 sets A/D in hardware instead) */
#ifndef QEMU
    S_LOAD_FAULT(60, VA(7))
    S_STORE_FAULT(61, VA(7))
    S_LOAD_OK(62, VA(8), 0xd0d0 + 0x8000)
    S_STORE_FAULT(63, VA(8) + 0x20)
    la t0, l0
    ld a0, 8 * 7(t0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(64, a0, PTE_D)
    ld a0, 8 * 8(t0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(65, a0, PTE_A)
    ld a0, 8 * 0(t0)                                    /* accessed page: PTE unchanged too */
    andi a0, a0, 0x3ff
    CHECK(66, a0, RW)
#endif

    /* ---- sfence.vma after changing a PTE: the new mapping takes effect */
    S_LOAD_OK(70, VA(9), 0xd0d0 + 0x9000)
    SET_PTE_LA(l0, 9, pages + 0xa000, RW)
    sfence.vma
    S_LOAD_OK(71, VA(9), 0xd0d0 + 0xa000)
    /* and an invalidated PTE faults after sfence.vma (issued from S-mode this time) */
    la t0, l0
    sd zero, 8 * 9(t0)
    li a1, VA(9)
    TEST_TRAP_IN_MODE(72, PRV_S, CAUSE_LOAD_PAGE, sfence.vma; ld a0, 0(a1))
    SET_PTE_LA(l0, 9, pages + 0x9000, RW)
    sfence.vma

    /* ---- page-table walk reading outside RAM: access fault of the access type
     * (QEMU 7.2 reports a page fault) */
#ifndef QEMU
    li a1, VABADPT
    TEST_TRAP_IN_MODE(80, PRV_S, CAUSE_LOAD_ACCESS, ld a0, 0(a1))
    CHECK_TVAL(81, VABADPT)
    TEST_TRAP_IN_MODE(82, PRV_S, CAUSE_STORE_ACCESS, sd a0, 0(a1))
    TEST_TRAP_IN_MODE(83, PRV_S, CAUSE_FETCH_ACCESS, jr a1)
#endif

    /* ---- MPRV: M-mode loads/stores translate with MPP's privilege; fetches do not */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | (PRV_S << 11)
    csrs mstatus, t0
    li a1, VA(0)
    ld a0, 0(a1)
    CHECK(90, a0, 0xd0d0)
    li a0, 0x6161
    sd a0, 16(a1)
    li a1, VA(4)                                        /* U page as S without SUM: fault */
    li TESTNUM, 91
    ARM_TRAP(1f)
    ld a0, 0(a1)
    j fail
    /* resumed by mret with MPP = M, which leaves MPP = U and MPRV = 1: M-mode loads would
     * now translate as U, so clear MPRV before touching memory */
1:  csrr s4, mstatus
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK_MEM(91, trap_cause, CAUSE_LOAD_PAGE)
    CHECK_TVAL(92, VA(4))
    srli s4, s4, 11
    andi s4, s4, 3
    CHECK(93, s4, PRV_U)
    la t0, pages
    ld a0, 16(t0)
    CHECK(97, a0, 0x6161)
    /* MPP = U: U pages accessible, non-U pages fault */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    li a1, VA(4)
    ld a0, 0(a1)
    CHECK(94, a0, 0xd0d0 + 0x4000)
    li a1, VA(0) + 8
    li TESTNUM, 95
    li t0, MSTATUS_MPRV                                 /* arm the handler untranslated */
    csrc mstatus, t0
    ARM_TRAP(1f)
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    sd a0, 0(a1)
    j fail
1:  li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK_MEM(95, trap_cause, CAUSE_STORE_PAGE)
    CHECK_TVAL(96, VA(0) + 8)
    li t0, MSTATUS_MPRV
    csrc mstatus, t0

    /* ---- satp = Bare: no translation in S-mode */
    csrw satp, zero
    la a1, pages
    RUN_IN_MODE(100, PRV_S, ld a0, 0(a1))
    CHECK(101, a0, 0xd0d0)
    j pass

    /* code executed by S at VA(10) */
    .align 12
s_code:
    li a0, 0x777
    ret
    /* code executed by U at VA(5) */
    .align 12
    .option push
    .option norvc
u_code:
    ld a0, 0(a1)
    ecall
    sd a0, 0(a1)
    ecall
    .option pop

    .data
    .align 12
root:  .skip 4096
l1:    .skip 4096
l0:    .skip 4096
l0b:   .skip 4096
pages: .skip 16 * 4096
