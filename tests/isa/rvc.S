/* RV64C: every compressed instruction form (no F/D), executed and checked, plus 32-bit
 * instructions at 2-byte aligned addresses and c.ebreak trapping with mepc/mtval = its pc. */
#include "test.h"

    .option push
    .option rvc
test_main:
    /* ---- C.LI, C.LUI, C.ADDI, C.ADDIW, C.NOP */
    c.li a0, 31
    CHECK(1, a0, 31)
    c.li a0, -32
    CHECK(2, a0, -32)
    c.lui a1, 0x1f
    CHECK(3, a1, 0x1f000)
    c.lui a1, 0xfffe0
    CHECK(4, a1, 0xfffffffffffe0000)
    c.lui a1, 0xfffff
    CHECK(5, a1, 0xfffffffffffff000)
    li a0, 10
    c.addi a0, -11
    CHECK(6, a0, -1)
    c.addi a0, 31
    CHECK(7, a0, 30)
    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK(8, a0, 0xffffffff80000000)
    li a0, 0x1ffffffff
    c.addiw a0, 0                           /* sext.w */
    CHECK(9, a0, -1)
    c.nop
    li a0, 0x123456789
    c.addiw a0, -1
    CHECK(10, a0, 0x23456788)

    /* ---- C.ADDI16SP, C.ADDI4SPN (use sp) */
    mv s1, sp
    c.addi16sp sp, -64
    sub a0, s1, sp
    CHECK(11, a0, 64)
    c.addi16sp sp, 496
    sub a0, sp, s1
    CHECK(12, a0, 432)
    c.addi16sp sp, -512
    sub a0, s1, sp
    CHECK(13, a0, 80)
    mv sp, s1
    c.addi4spn a0, sp, 4
    sub a0, a0, sp
    CHECK(14, a0, 4)
    c.addi4spn a1, sp, 1020
    sub a1, a1, sp
    CHECK(15, a1, 1020)

    /* ---- shifts and immediate logic */
    li s0, 0x8000000000000001
    c.srli s0, 63
    CHECK(20, s0, 1)
    li s0, 0x8000000000000000
    c.srai s0, 32
    CHECK(21, s0, 0xffffffff80000000)
    li s0, 0x8000000000000000
    c.srli s0, 1
    CHECK(22, s0, 0x4000000000000000)
    li a0, 1
    c.slli a0, 63
    CHECK(23, a0, 0x8000000000000000)
    li a0, 0x123
    c.slli a0, 4
    CHECK(24, a0, 0x1230)
    li a2, 0xff0
    c.andi a2, -16
    CHECK(25, a2, 0xff0)
    li a2, -1
    c.andi a2, 15
    CHECK(26, a2, 15)

    /* ---- register-register: C.SUB, C.XOR, C.OR, C.AND, C.SUBW, C.ADDW, C.MV, C.ADD */
    li a3, 0xff00ff00ff00ff00
    li a4, 0x0ff00ff00ff00ff0
    mv a5, a3
    c.sub a5, a4
    CHECK(30, a5, 0xef10ef10ef10ef10)
    mv a5, a3
    c.xor a5, a4
    CHECK(31, a5, 0xf0f0f0f0f0f0f0f0)
    mv a5, a3
    c.or a5, a4
    CHECK(32, a5, 0xfff0fff0fff0fff0)
    mv a5, a3
    c.and a5, a4
    CHECK(33, a5, 0x0f000f000f000f00)
    li a5, 0x80000000
    li a4, 1
    c.subw a5, a4
    CHECK(34, a5, 0x7fffffff)
    li a5, 0x7fffffff
    c.addw a5, a4
    CHECK(35, a5, 0xffffffff80000000)
    li a5, 0x100000000
    c.subw a5, a4
    CHECK(36, a5, -1)
    li t1, 0x5555
    c.mv t2, t1
    CHECK(37, t2, 0x5555)
    li t2, 0x1111
    c.add t2, t1
    CHECK(38, t2, 0x6666)

    /* ---- loads/stores: C.LW, C.LD, C.SW, C.SD, C.LWSP, C.LDSP, C.SWSP, C.SDSP */
    la a0, cdata
    c.lw a1, 0(a0)
    CHECK(40, a1, 0xffffffff87654321)       /* c.lw sign-extends */
    c.lw a1, 4(a0)
    CHECK(41, a1, 0x12345678)
    c.ld a1, 0(a0)
    CHECK(42, a1, 0x1234567887654321)
    c.ld a1, 8(a0)
    CHECK(43, a1, 0xfedcba9876543210)
    li a2, 0xaaaaaaaabbbbbbbb
    c.sw a2, 16(a0)
    c.ld a1, 16(a0)
    CHECK(44, a1, 0xccccccccbbbbbbbb)
    c.sd a2, 24(a0)
    ld a1, 24(a0)
    CHECK(45, a1, 0xaaaaaaaabbbbbbbb)
    mv s1, sp
    mv sp, a0
    c.lwsp a3, 0(sp)
    CHECK(46, a3, 0xffffffff87654321)
    c.lwsp a3, 4(sp)
    CHECK(47, a3, 0x12345678)
    c.ldsp a3, 8(sp)
    CHECK(48, a3, 0xfedcba9876543210)
    li a4, 0x0102030405060708
    c.swsp a4, 32(sp)
    c.sdsp a4, 40(sp)
    mv sp, s1
    ld a1, 32(a0)
    CHECK(49, a1, 0xdddddddd05060708)
    ld a1, 40(a0)
    CHECK(50, a1, 0x0102030405060708)

    /* ---- control transfer: C.J, C.BEQZ, C.BNEZ, C.JR, C.JALR */
    li TESTNUM, 60
    c.j 1f
    c.j fail_far
1:  li s0, 0
    li TESTNUM, 61
    c.beqz s0, 2f
    c.j fail_far
2:  c.bnez s0, fail_far
    li s0, -1
    li TESTNUM, 62
    c.bnez s0, 3f
    c.j fail_far
3:  c.beqz s0, fail_far
    /* backward branches */
    li TESTNUM, 63
    li s0, 3
4:  c.addi s0, -1
    c.bnez s0, 4b
    CHECK(64, s0, 0)
    li TESTNUM, 65
    la a0, 5f
    c.jr a0
    c.j fail_far
5:  la a0, 6f
    c.jalr a0
7:  c.j 8f
6:  CHECK_LA(66, ra, 7b)                    /* link = pc + 2 */
    c.jr ra
8:

    /* ---- 32-bit instructions at addresses = 2 mod 4 */
    .balign 4
    c.nop
9:  addi a0, zero, 123                      /* at 4n + 2 */
    CHECK(70, a0, 123)
    la a0, 9b
    andi a0, a0, 3
    CHECK(71, a0, 2)
    /* jal to a 2-byte aligned target and a jalr whose target is 4n+2 */
    li TESTNUM, 72
    jal ra, 10f
11: c.j 12f
    .balign 4
    c.nop
10: CHECK_LA(73, ra, 11b)
    jalr zero, 0(ra)
12:

    /* ---- C.EBREAK traps: mcause 3, mepc = mtval = its address */
    li TESTNUM, 80
    ARM_TRAP(14f)
13: c.ebreak
    j fail
14: CHECK_MEM(80, trap_cause, CAUSE_BREAKPOINT)
    CHECK_EPC_LA(81, 13b)
    /* mtval = pc for breakpoints is pltvm's choice (the spec also allows 0; QEMU 7.2 writes 0). */
#ifndef QEMU
    CHECK_TVAL_LA(82, 13b)
#endif

    j pass

fail_far:
    j fail
    .option pop

    .data
    .align 4
cdata:
    .dword 0x1234567887654321
    .dword 0xfedcba9876543210
    .dword 0xcccccccccccccccc
    .dword 0
    .dword 0xdddddddddddddddd
    .dword 0
