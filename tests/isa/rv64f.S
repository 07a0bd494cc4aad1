/* RV64F: NaN-boxing (results boxed, improperly boxed operands read as the canonical NaN),
 * fmv.x.w sign extension, sign injection on boxed values, flw/fsw, arithmetic and flags,
 * conversions. Values follow IEEE 754 / the RISC-V spec. */
#include "test.h"
#include "fp.h"

#define B(x)  (0xffffffff00000000 | (x))
#define ONE   0x3f800000
#define THREE 0x40400000
#define CNAN  B(0x7fc00000)

test_main:
    FS_ON
    TEST_FF2(1, fadd.s, B(0x40800000), 0, B(ONE), B(THREE), , rne)
    TEST_FF2(2, fdiv.s, B(0x3eaaaaab), NX, B(ONE), B(THREE), , rne)
    TEST_FF2(3, fdiv.s, B(0x3eaaaaaa), NX, B(ONE), B(THREE), , rdn)
    /* improperly boxed operands are the canonical NaN */
    TEST_FF2(4, fadd.s, CNAN, 0, 0x000000003f800000, B(ONE), , rne)
    TEST_FF2(5, fadd.s, CNAN, 0, 0x7fffffff3f800000, B(ONE), , rne)
    TEST_FF2(6, fmin.s, B(ONE), 0, 0x000000003f800000, B(ONE))
    TEST_XF(7, fclass.s, 1 << 9, 0, 0x0000000000000000)
    TEST_XF(8, fclass.s, 1 << 3, 0, B(0x80000000))
    TEST_FF2(9, fsgnj.s, CNAN, 0, 0x12345678bf800000, B(ONE))
    TEST_FF2(10, fsgnjn.s, B(0xbf800000), 0, B(ONE), B(ONE))
    TEST_FF2(11, fsgnjx.s, B(0xbf800000), 0, B(ONE), B(0x80000000))
    /* NaN results are canonical, sNaN signals */
    TEST_FF2(12, fmul.s, CNAN, NV, B(0x7f800001), B(ONE), , rne)
    TEST_FF2(13, fmul.s, CNAN, 0, B(0xffc01234), B(ONE), , rne)
    TEST_FF2(14, fmul.s, CNAN, NV, B(0x7f800000), B(0), , rne)
    TEST_FF2(15, fmul.s, B(0x7f7fffff), OF|NX, B(0x7f7fffff), B(0x40000000), , rtz)
    TEST_FF2(16, fmul.s, B(0x00800000), UF|NX, B(0x3f7fffff), B(0x00800000), , rne)
    TEST_FF3(17, fmadd.s, CNAN, NV, B(0x7f800000), B(0), CNAN, , rne)
    TEST_FF1(18, fsqrt.s, B(0x40000000), 0, B(0x40800000), , rne)
    TEST_FF1(19, fsqrt.s, CNAN, NV, B(0xbf800000), , rne)
    /* min/max */
    TEST_FF2(20, fmin.s, B(0x80000000), 0, B(0), B(0x80000000))
    TEST_FF2(21, fmax.s, B(0), 0, B(0x80000000), B(0))
    TEST_FF2(22, fmax.s, B(ONE), NV, B(0x7f800001), B(ONE))
    TEST_FF2(23, fmax.s, CNAN, 0, B(0x7fc00001), B(0xffc00000))
    /* compares */
    TEST_XFF(24, feq.s, 0, NV, B(0x7f800001), B(ONE))
    TEST_XFF(25, fle.s, 0, NV, B(0x7fc00000), B(ONE))
    TEST_XFF(26, flt.s, 1, 0, B(0x80000001), B(0))
    /* fmv.x.w sign-extends the low word whatever the boxing; fmv.w.x boxes */
    TEST_XF(30, fmv.x.w, 0xffffffff80000001, 0, 0x1234567880000001)
    TEST_XF(31, fmv.x.w, 0x000000007fffffff, 0, 0xffffffff7fffffff)
    TEST_FX(32, fmv.w.x, B(0x89abcdef), 0, 0x0123456789abcdef)
    /* conversions */
    TEST_XF(40, fcvt.w.s, 0x7fffffff, NV, B(0x4f000000), , rtz)  /* 2^31 */
    TEST_XF(41, fcvt.w.s, 0xffffffff80000000, 0, B(0xcf000000), , rtz)
    TEST_XF(42, fcvt.wu.s, 0xffffffffffffffff, NV, B(0x7fc00000), , rtz)
    TEST_XF(43, fcvt.lu.s, 0, NV, B(0xbf800000), , rtz)
    TEST_XF(44, fcvt.l.s, 0x7fffffffffffffff, NV, B(0x7f800000), , rtz)
    TEST_XF(45, fcvt.w.s, 1, NX, B(0x3fc00000), , rtz)  /* 1.5 */
    TEST_XF(46, fcvt.w.s, 2, NX, B(0x3fc00000), , rne)
    TEST_FX(50, fcvt.s.w, B(0xbf800000), 0, 0xffffffff, , rne)
    TEST_FX(51, fcvt.s.wu, B(0x4f800000), NX, 0xffffffff, , rne)
    TEST_FX(52, fcvt.s.wu, B(0x4f7fffff), NX, 0xffffffff, , rtz)
    TEST_FX(53, fcvt.s.l, B(0x4b800002), NX, 0x1000003, , rne)   /* 2^24+3 -> 2^24+4 */
    TEST_FX(54, fcvt.s.lu, B(0x5f800000), NX, 0xffffffffffffffff, , rne)
    /* flw boxes; fsw stores the low word even of an unboxed register */
    li TESTNUM, 60
    la s1, buf; li t1, 0x40490fdb; sw t1, 0(s1)
    flw fa0, 0(s1); fmv.x.d a0, fa0; CHECK(60, a0, B(0x40490fdb))
    li TESTNUM, 61
    li t1, 0x1122334455667788; fmv.d.x fa1, t1; fsw fa1, 4(s1); lwu a0, 4(s1); CHECK(61, a0, 0x55667788)
    j pass

    .data
    .balign 8
buf: .dword 0, 0
