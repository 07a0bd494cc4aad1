/* RV64M: every multiply/divide instruction, incl. division by zero and MIN / -1 overflow.
 * Expected values were computed with a small Python model of the spec definitions. */
#include "test.h"

test_main:
    /* mul */
    TEST_RR(1, mul, 0x2a, 0x7, 0x6)
    TEST_RR(2, mul, 0xffffffffffffffd6, 0xfffffffffffffff9, 0x6)
    TEST_RR(3, mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 0x2)
    TEST_RR(4, mul, 0x8000000000000000, 0x8000000000000000, 0xffffffffffffffff)
    TEST_RR(5, mul, 0x236d88fe5618cf00, 0x123456789abcdef0, 0xfedcba9876543210)
    /* mulh */
    TEST_RR(20, mulh, 0x0, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR(21, mulh, 0xffffffffffffffff, 0xffffffffffffffff, 0x1)
    TEST_RR(22, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000)
    TEST_RR(23, mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_RR(24, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(25, mulh, 0xffeb49923cc09532, 0x123456789abcdef0, 0xfedcba9876543210)
    /* mulhu */
    TEST_RR(40, mulhu, 0xfffffffffffffffe, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR(41, mulhu, 0x0, 0xffffffffffffffff, 0x1)
    TEST_RR(42, mulhu, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000)
    TEST_RR(43, mulhu, 0x121fa00ad77d7422, 0x123456789abcdef0, 0xfedcba9876543210)
    /* mulhsu */
    TEST_RR(60, mulhsu, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR(61, mulhsu, 0xffffffffffffffff, 0xffffffffffffffff, 0x1)
    TEST_RR(62, mulhsu, 0x0, 0x1, 0xffffffffffffffff)
    TEST_RR(63, mulhsu, 0x8000000000000000, 0x8000000000000000, 0xffffffffffffffff)
    TEST_RR(64, mulhsu, 0x7ffffffffffffffe, 0x7fffffffffffffff, 0xffffffffffffffff)
    TEST_RR(65, mulhsu, 0x121fa00ad77d7422, 0x123456789abcdef0, 0xfedcba9876543210)
    /* mulw */
    TEST_RR(80, mulw, 0xfffffffffffffffe, 0x7fffffff, 0x2)
    TEST_RR(81, mulw, 0x0, 0x10000, 0x10000)
    TEST_RR(82, mulw, 0x1, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR(83, mulw, 0x5618cf00, 0x123456789abcdef0, 0xfedcba9876543210)
    TEST_RR(84, mulw, 0xf, 0xffffffff00000003, 0x100000005)
    /* div */
    TEST_RR(100, div, 0x3, 0x14, 0x6)
    TEST_RR(101, div, 0xfffffffffffffffd, 0xffffffffffffffec, 0x6)
    TEST_RR(102, div, 0xfffffffffffffffd, 0x14, 0xfffffffffffffffa)
    TEST_RR(103, div, 0x3, 0xffffffffffffffec, 0xfffffffffffffffa)
    TEST_RR(104, div, 0xffffffffffffffff, 0x1, 0x0)
    TEST_RR(105, div, 0xffffffffffffffff, 0xffffffffffffffff, 0x0)
    TEST_RR(106, div, 0x8000000000000000, 0x8000000000000000, 0xffffffffffffffff)
    TEST_RR(107, div, 0x8000000000000000, 0x8000000000000000, 0x1)
    TEST_RR(108, div, 0xffffffffffffffff, 0x0, 0x0)
    /* divu */
    TEST_RR(120, divu, 0x3, 0x14, 0x6)
    TEST_RR(121, divu, 0x2aaaaaaaaaaaaaa7, 0xffffffffffffffec, 0x6)
    TEST_RR(122, divu, 0xffffffffffffffff, 0xffffffffffffffff, 0x0)
    TEST_RR(123, divu, 0xffffffffffffffff, 0x0, 0x0)
    TEST_RR(124, divu, 0x0, 0x8000000000000000, 0xffffffffffffffff)
    /* rem */
    TEST_RR(140, rem, 0x2, 0x14, 0x6)
    TEST_RR(141, rem, 0xfffffffffffffffe, 0xffffffffffffffec, 0x6)
    TEST_RR(142, rem, 0x2, 0x14, 0xfffffffffffffffa)
    TEST_RR(143, rem, 0xfffffffffffffffe, 0xffffffffffffffec, 0xfffffffffffffffa)
    TEST_RR(144, rem, 0x7, 0x7, 0x0)
    TEST_RR(145, rem, 0xfffffffffffffff9, 0xfffffffffffffff9, 0x0)
    TEST_RR(146, rem, 0x0, 0x8000000000000000, 0xffffffffffffffff)
    TEST_RR(147, rem, 0x0, 0x8000000000000000, 0x1)
    /* remu */
    TEST_RR(160, remu, 0x2, 0x14, 0x6)
    TEST_RR(161, remu, 0x2, 0xffffffffffffffec, 0x6)
    TEST_RR(162, remu, 0x7, 0x7, 0x0)
    TEST_RR(163, remu, 0xfffffffffffffff9, 0xfffffffffffffff9, 0x0)
    TEST_RR(164, remu, 0x8000000000000000, 0x8000000000000000, 0xffffffffffffffff)
    /* divw */
    TEST_RR(180, divw, 0x3, 0x14, 0x6)
    TEST_RR(181, divw, 0xfffffffffffffffd, 0xffffffffffffffec, 0x6)
    TEST_RR(182, divw, 0xffffffff80000000, 0x80000000, 0xffffffffffffffff)
    TEST_RR(183, divw, 0xffffffff80000000, 0xffffffff80000000, 0xffffffffffffffff)
    TEST_RR(184, divw, 0xffffffffffffffff, 0x5, 0x0)
    TEST_RR(185, divw, 0x3, 0x123456780000000a, 0xff00000003)
    TEST_RR(186, divw, 0xffffffffffffffff, 0x1, 0x100000000)
    /* divuw */
    TEST_RR(200, divuw, 0x3, 0x14, 0x6)
    TEST_RR(201, divuw, 0xfffffffffffffffe, 0xfffffffe, 0x1)
    TEST_RR(202, divuw, 0x7fffffff, 0xfffffffe, 0x2)
    TEST_RR(203, divuw, 0x2aaaaaa7, 0xffffffffffffffec, 0x6)
    TEST_RR(204, divuw, 0xffffffffffffffff, 0x5, 0x0)
    TEST_RR(205, divuw, 0xffffffffffffffff, 0x1, 0x100000000)
    /* remw */
    TEST_RR(220, remw, 0x2, 0x14, 0x6)
    TEST_RR(221, remw, 0xfffffffffffffffe, 0xffffffffffffffec, 0x6)
    TEST_RR(222, remw, 0x0, 0x80000000, 0xffffffffffffffff)
    TEST_RR(223, remw, 0x5, 0x5, 0x0)
    TEST_RR(224, remw, 0xfffffffffffffffb, 0xfffffffb, 0x0)
    TEST_RR(225, remw, 0xfffffffffffffffd, 0x12345678ffffffeb, 0x6)
    /* remuw */
    TEST_RR(240, remuw, 0x2, 0x14, 0x6)
    TEST_RR(241, remuw, 0x2, 0xffffffffffffffec, 0x6)
    TEST_RR(242, remuw, 0xfffffffffffffffb, 0xfffffffb, 0x0)
    TEST_RR(243, remuw, 0xffffffff80000005, 0x80000005, 0x100000000)
    TEST_RR(244, remuw, 0x7ffffffc, 0xfffffffb, 0x7fffffff)
    /* destination overlapping a source */
    TEST_RR_SRC1_EQ_DEST(260, mul, 0x8f, 13, 11)
    TEST_RR_SRC2_EQ_DEST(261, div, 0xd, 143, 11)
    TEST_RR_SRC1_EQ_DEST(262, mulhu, 0xfffffffffffffffe, -1, -1)
    li TESTNUM, 263; li a1, 7; mul a0, a1, a1; CHECK(263, a0, 49)
    j pass
