/* RV64I: every base instruction, checked against precomputed values. */
#include "test.h"

test_main:
    /* ---- add/sub/addi and W forms */
    TEST_RR(1, add, 0x0000000000000000, 0, 0)
    TEST_RR(2, add, 0x0000000000000002, 1, 1)
    TEST_RR(3, add, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(4, add, 0xfffffffffffffffe, -1, -1)
    TEST_RR(5, add, 0x0000000000000000, 0x8000000000000000, 0x8000000000000000)
    TEST_RR(6, sub, 0xffffffffffffffff, 0, 1)
    TEST_RR(7, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
    TEST_RR(8, sub, 0x0000000000000000, 0x123456789abcdef0, 0x123456789abcdef0)
    TEST_RI(9, addi, 0xffffffffffffffff, 0, -1)
    TEST_RI(10, addi, 0x00000000000007ff, 0, 2047)
    TEST_RI(11, addi, 0xfffffffffffff800, 0, -2048)
    TEST_RI(12, addi, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(13, addw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RR(14, addw, 0x0000000000000000, 0xffffffff, 1)
    TEST_RR(15, addw, 0x0000000000000003, 0x1234567800000001, 0x9abcdef000000002)
    TEST_RR(16, subw, 0x000000007fffffff, 0x80000000, 1)
    TEST_RR(17, subw, 0xffffffffffffffff, 0x100000000, 1)
    TEST_RI(18, addiw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RI(19, addiw, 0x0000000000000000, 0xffffffff00000000, 0)
    TEST_RI(20, addiw, 0xffffffffffffffff, 0x00000000ffffffff, 0)   /* sext.w */
    TEST_RI(21, addiw, 0x00000000000007fe, 0xffffffffffffffff, 2047)
    TEST_RR_SRC1_EQ_DEST(22, add, 24, 13, 11)
    TEST_RR_SRC2_EQ_DEST(23, sub, 2, 13, 11)

    /* ---- logic */
    TEST_RR(30, and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(31, or,  0xff0fff0f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(32, xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RI(33, andi, 0xff00ff00, 0xff00ff00, -1)
    TEST_RI(34, andi, 0x0000000f, 0xff00ff0f, 0x0f)
    TEST_RI(35, ori, 0xffffffffffffff0f, 0xff00ff00, -241)      /* imm 0xf0f */
    TEST_RI(36, xori, 0xffffffff00ff00ff, 0xff00ff00, -1)       /* not */
    TEST_RI(37, xori, 0x00000000ff00ff0f, 0xff00ff00, 0x00f)

    /* ---- shifts, including amounts that use bit 5 and the W forms (bit 5 ignored by *W reg) */
    TEST_RR(40, sll, 0x0000000000000001, 1, 0)
    TEST_RR(41, sll, 0x8000000000000000, 1, 63)
    TEST_RR(42, sll, 0x0000000100000000, 1, 32)
    TEST_RR(43, sll, 0x0000000000000002, 1, 65)                 /* only 6 bits used */
    TEST_RR(44, srl, 0x0000000000000001, 0x8000000000000000, 63)
    TEST_RR(45, srl, 0x0000000080000000, 0x8000000000000000, 32)
    TEST_RR(46, srl, 0x4000000000000000, 0x8000000000000000, 0xffffffffffffffc1)
    TEST_RR(47, sra, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RR(48, sra, 0xffffffff80000000, 0x8000000000000000, 32)
    TEST_RR(49, sra, 0x3fffffffffffffff, 0x7fffffffffffffff, 1)
    TEST_RI(50, slli, 0x8000000000000000, 1, 63)
    TEST_RI(51, slli, 0x0000000100000000, 1, 32)
    TEST_RI(52, srli, 0x0000000000000001, 0x8000000000000000, 63)
    TEST_RI(53, srli, 0x00000000ffffffff, 0xffffffffffffffff, 32)
    TEST_RI(54, srai, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RI(55, srai, 0xffffffffff800000, 0x8000000000000000, 40)
    TEST_RI(56, srai, 0x0000000000000000, 0x7fffffffffffffff, 63)
    TEST_RR(57, sllw, 0xffffffff80000000, 1, 31)
    TEST_RR(58, sllw, 0x0000000000000001, 1, 32)                /* shamt = rs2[4:0] */
    TEST_RR(59, sllw, 0xffffffffabcdef00, 0x12345678abcdef, 8)
    TEST_RR(60, srlw, 0x0000000000000001, 0x80000000, 31)
    TEST_RR(61, srlw, 0xffffffff80000000, 0xffffffff80000000, 32)  /* shamt 0: result is sext of low word */
    TEST_RR(62, srlw, 0x0000000000ffffff, 0xffffffffffffffff, 40)
    TEST_RR(63, sraw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RR(64, sraw, 0x0000000000000001, 0xff00000002, 33)
    TEST_RR(65, sraw, 0xfffffffff8000000, 0x0000000080000000, 4)
    TEST_RI(66, slliw, 0xffffffff80000000, 1, 31)
    TEST_RI(67, slliw, 0x0000000000000000, 0xffffffff00000000, 0)
    TEST_RI(68, srliw, 0x0000000000000001, 0xffffffff80000000, 31)
    TEST_RI(69, srliw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RI(70, sraiw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RI(71, sraiw, 0x0000000012345678, 0xabcdef0012345678, 0)
    TEST_RI(72, sraiw, 0xfffffffffff00000, 0x80000000, 11)

    /* ---- compares */
    TEST_RR(80, slt, 1, -1, 0)
    TEST_RR(81, slt, 0, 0, -1)
    TEST_RR(82, slt, 0, 5, 5)
    TEST_RR(83, slt, 1, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(84, sltu, 0, -1, 0)
    TEST_RR(85, sltu, 1, 0, -1)
    TEST_RR(86, sltu, 0, 5, 5)
    TEST_RR(87, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RI(88, slti, 1, -2, -1)
    TEST_RI(89, slti, 0, 0, -2048)
    TEST_RI(90, slti, 1, 0x8000000000000000, 0)
    TEST_RI(91, sltiu, 1, 5, -1)                                /* imm sign-extends then compares unsigned */
    TEST_RI(92, sltiu, 0, -1, -1)
    TEST_RI(93, sltiu, 1, 0, 1)                                 /* seqz */
    TEST_RI(94, sltiu, 0, 7, 1)
    TEST_RR(95, sltu, 1, 0, 3)                                  /* snez via sltu rd, x0, rs */
    li TESTNUM, 96; li a1, 7; sltu a0, x0, a1; CHECK(96, a0, 1)

    /* ---- lui / auipc */
    li TESTNUM, 100
    lui a0, 0x80000
    CHECK(100, a0, 0xffffffff80000000)
    lui a0, 0x7ffff
    CHECK(101, a0, 0x000000007ffff000)
    lui a0, 0xfffff
    CHECK(102, a0, 0xfffffffffffff000)
    lui a0, 0
    CHECK(103, a0, 0)
1:  auipc a0, 0
    CHECK_LA(104, a0, 1b)
2:  auipc a0, 1
    la a1, 2b
    sub a0, a0, a1
    CHECK(105, a0, 0x1000)
3:  auipc a0, 0xfffff
    la a1, 3b
    sub a0, a0, a1
    CHECK(106, a0, -0x1000)
4:  auipc a0, 0x80000                                            /* -2 GiB: wraps below 0x8000_0000 */
    la a1, 4b
    sub a0, a0, a1
    CHECK(107, a0, 0xffffffff80000000)

    /* ---- branches: taken and not taken, forward and backward */
#define TEST_BR_TAKEN(n, inst, v1, v2) \
    li TESTNUM, n; li a1, v1; li a2, v2; inst a1, a2, 7f; j fail; \
  8: j 9f; \
  7: inst a1, a2, 8b; j fail; \
  9:
#define TEST_BR_NOT(n, inst, v1, v2) \
    li TESTNUM, n; li a1, v1; li a2, v2; j 8f; \
  7: j fail; \
  8: inst a1, a2, 7b; inst a1, a2, 9f; j 6f; \
  9: j fail; \
  6:
    TEST_BR_TAKEN(110, beq, 5, 5)
    TEST_BR_TAKEN(111, beq, -1, -1)
    TEST_BR_NOT(112, beq, 5, 6)
    TEST_BR_NOT(113, beq, 0x100000000, 0)
    TEST_BR_TAKEN(114, bne, 0x100000000, 0)
    TEST_BR_NOT(115, bne, -3, -3)
    TEST_BR_TAKEN(116, blt, -1, 0)
    TEST_BR_TAKEN(117, blt, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_BR_NOT(118, blt, 0, -1)
    TEST_BR_NOT(119, blt, 4, 4)
    TEST_BR_TAKEN(120, bge, 0, -1)
    TEST_BR_TAKEN(121, bge, 4, 4)
    TEST_BR_NOT(122, bge, -1, 0)
    TEST_BR_TAKEN(123, bltu, 0, -1)
    TEST_BR_NOT(124, bltu, -1, 0)
    TEST_BR_NOT(125, bltu, 4, 4)
    TEST_BR_TAKEN(126, bgeu, -1, 0)
    TEST_BR_TAKEN(127, bgeu, 4, 4)
    TEST_BR_NOT(128, bgeu, 0x7fffffffffffffff, 0x8000000000000000)
    /* x0 operands */
    li TESTNUM, 129
    beq x0, x0, 1f
    j fail
1:  bne x0, x0, fail

    /* ---- jal / jalr */
    li TESTNUM, 130
    jal ra, 1f
2:  j fail
1:  CHECK_LA(130, ra, 2b)
    li TESTNUM, 131
    jal x0, 1f                                                  /* j: rd = x0 stays 0 */
    j fail
1:  CHECK(131, x0, 0)
    /* jalr with offset, link value, and bit 0 of the target cleared */
    li TESTNUM, 132
    la a1, 3f
    addi a1, a1, -3                                             /* target - 3 */
    jalr ra, 4(a1)                                              /* (a1 + 4) = target + 1 -> bit 0 cleared */
4:  j fail
3:  CHECK_LA(132, ra, 4b)
    /* rd == rs1: target computed from the old value */
    li TESTNUM, 133
    la a1, 5f
    jalr a1, 0(a1)
6:  j fail
5:  CHECK_LA(133, a1, 6b)
    /* negative offset */
    li TESTNUM, 134
    la a2, 7f
    addi a2, a2, 16
    jalr a3, -16(a2)
    j fail
7:  li TESTNUM, 135
    jal a4, 8f                                                  /* backward jump target via forward-backward */
    j 9f
8:  jalr x0, 0(a4)                                              /* ret-like: back to the j 9f */
    j fail
9:

    /* ---- loads and stores of every width */
    la a5, ldata
    lb a0, 0(a5)
    CHECK(140, a0, 0xffffffffffffff81)
    lbu a0, 0(a5)
    CHECK(141, a0, 0x81)
    lb a0, 1(a5)
    CHECK(142, a0, 0x72)
    lh a0, 0(a5)
    CHECK(143, a0, 0x7281)
    lh a0, 2(a5)
    CHECK(144, a0, 0xffffffffffff83f4)
    lhu a0, 2(a5)
    CHECK(145, a0, 0x83f4)
    lw a0, 0(a5)
    CHECK(146, a0, 0xffffffff83f47281)
    lwu a0, 0(a5)
    CHECK(147, a0, 0x83f47281)
    lw a0, 4(a5)
    CHECK(148, a0, 0x0123abcd)
    lwu a0, 4(a5)
    CHECK(149, a0, 0x0123abcd)
    ld a0, 0(a5)
    CHECK(150, a0, 0x0123abcd83f47281)
    ld a0, 8(a5)
    CHECK(151, a0, 0xfedcba9876543210)
    addi a6, a5, 16
    lb a0, -1(a6)                                               /* negative offset */
    CHECK(152, a0, 0xfffffffffffffffe)
    lhu a0, -2(a6)
    CHECK(153, a0, 0xfedc)
    lwu a0, -4(a6)
    CHECK(154, a0, 0xfedcba98)
    /* stores: each width writes only its bytes */
    la a5, sdata
    li a0, -1
    sd a0, 0(a5)
    sd a0, 8(a5)
    li a1, 0x1122334455667788
    sb a1, 0(a5)
    ld a0, 0(a5)
    CHECK(160, a0, 0xffffffffffffff88)
    sh a1, 2(a5)
    ld a0, 0(a5)
    CHECK(161, a0, 0xffffffff7788ff88)
    sw a1, 4(a5)
    ld a0, 0(a5)
    CHECK(162, a0, 0x556677887788ff88)
    sd a1, 8(a5)
    ld a0, 8(a5)
    CHECK(163, a0, 0x1122334455667788)
    addi a6, a5, 16
    sb zero, -1(a6)
    ld a0, 8(a5)
    CHECK(164, a0, 0x0022334455667788)
    /* load into x0 has no effect on x0 */
    ld x0, 8(a5)
    CHECK(165, x0, 0)
    /* load with rd == base */
    mv a7, a5
    ld a7, 8(a7)
    CHECK(166, a7, 0x0022334455667788)

    /* ---- writes to x0 are discarded */
    li TESTNUM, 170
    addi x0, x0, 5
    lui x0, 0x12345
    auipc x0, 1
    CHECK(170, x0, 0)

    /* ---- fence, fence.tso-free fences and ecall-free misc: must execute as no-ops */
    fence
    fence rw, rw
    fence i, o
    li TESTNUM, 171

    j pass

    .data
    .align 4
ldata:
    .dword 0x0123abcd83f47281
    .dword 0xfedcba9876543210
sdata:
    .dword 0, 0
