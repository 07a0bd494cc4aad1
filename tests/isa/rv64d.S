/* RV64D: arithmetic under every rounding mode, fused multiply-add, square root, sign injection,
 * min/max, compares, classify, conversions (saturation and flags), moves, loads/stores incl.
 * the compressed forms, and the dynamic rounding mode. Values follow IEEE 754 / the RISC-V spec. */
#include "test.h"
#include "fp.h"

#define ONE   0x3ff0000000000000
#define TWO   0x4000000000000000
#define THREE 0x4008000000000000
#define THIRD_RNE 0x3fd5555555555555
#define INF   0x7ff0000000000000
#define NINF  0xfff0000000000000
#define CNAN  0x7ff8000000000000
#define SNAN  0x7ff0000000000001
#define QNAN  0x7ff8000000000123
#define MAXD  0x7fefffffffffffff
#define MINN  0x0010000000000000
#define NZERO 0x8000000000000000

test_main:
    FS_ON
    /* 1/3 in each rounding mode */
    TEST_FF2(1, fdiv.d, THIRD_RNE, NX, ONE, THREE, , rne)
    TEST_FF2(2, fdiv.d, THIRD_RNE, NX, ONE, THREE, , rtz)
    TEST_FF2(3, fdiv.d, THIRD_RNE, NX, ONE, THREE, , rdn)
    TEST_FF2(4, fdiv.d, 0x3fd5555555555556, NX, ONE, THREE, , rup)
    TEST_FF2(5, fdiv.d, THIRD_RNE, NX, ONE, THREE, , rmm)
    /* ties: 1 + 2^-53 is halfway; 1 + 3*2^-53 too */
    TEST_FF2(6, fadd.d, ONE, NX, ONE, 0x3ca0000000000000, , rne)
    TEST_FF2(7, fadd.d, 0x3ff0000000000001, NX, ONE, 0x3ca0000000000000, , rmm)
    TEST_FF2(8, fadd.d, 0x3ff0000000000002, NX, 0x3ff0000000000001, 0x3ca0000000000000, , rne)
    TEST_FF2(9, fsub.d, 0x8000000000000000, 0, ONE, ONE, , rdn)
    TEST_FF2(10, fsub.d, 0, 0, ONE, ONE, , rne)
    TEST_FF2(11, fmul.d, INF, OF|NX, MAXD, TWO, , rne)
    TEST_FF2(12, fmul.d, MAXD, OF|NX, MAXD, TWO, , rtz)
    TEST_FF2(13, fmul.d, 0, UF|NX, 0x0000000000000001, 0x3fe0000000000000, , rne)
    /* tininess after rounding: (1 - 2^-53) * MIN_NORMAL rounds to MIN_NORMAL but is tiny */
    TEST_FF2(14, fmul.d, MINN, UF|NX, 0x3fefffffffffffff, MINN, , rne)
    TEST_FF2(15, fdiv.d, INF, DZ, ONE, 0, , rne)
    TEST_FF2(16, fdiv.d, CNAN, NV, 0, 0, , rne)
    TEST_FF2(17, fsub.d, CNAN, NV, INF, INF, , rne)
    TEST_FF2(18, fadd.d, CNAN, NV, SNAN, ONE, , rne)
    TEST_FF2(19, fadd.d, CNAN, 0, QNAN, ONE, , rne)
    /* fused multiply-add: one rounding */
    TEST_FF3(20, fmadd.d, 0x3cd0000000000000, 0, 0x3ff0000008000000, 0x3ff0000008000000, 0xbff0000010000000, , rne)
    TEST_FF3(21, fmsub.d, 0x3cd0000000000000, 0, 0x3ff0000008000000, 0x3ff0000008000000, 0x3ff0000010000000, , rne)
    TEST_FF3(22, fnmadd.d, 0xc01c000000000000, 0, TWO, THREE, ONE, , rne)
    TEST_FF3(23, fnmsub.d, 0xc014000000000000, 0, TWO, THREE, ONE, , rne)
    TEST_FF3(24, fmadd.d, CNAN, NV, INF, 0, QNAN, , rne)
    TEST_FF3(25, fmadd.d, CNAN, NV, ONE, ONE, SNAN, , rne)
    /* -(0*1) - 0 = -0 - 0 = -0; 0*1 + -0 = +0 */
    TEST_FF3(26, fnmadd.d, NZERO, 0, 0, ONE, 0, , rne)
    TEST_FF3(27, fmadd.d, 0, 0, 0, ONE, NZERO, , rne)
    /* square root */
    TEST_FF1(30, fsqrt.d, 0x3ff6a09e667f3bcd, NX, TWO, , rne)
    TEST_FF1(31, fsqrt.d, 0x3ff6a09e667f3bcc, NX, TWO, , rtz)
    TEST_FF1(32, fsqrt.d, 0x3ff6a09e667f3bcd, NX, TWO, , rup)
    TEST_FF1(33, fsqrt.d, 0x4000000000000000, 0, 0x4010000000000000, , rne)
    TEST_FF1(34, fsqrt.d, NZERO, 0, NZERO, , rne)
    TEST_FF1(35, fsqrt.d, CNAN, NV, 0xbff0000000000000, , rne)
    TEST_FF1(36, fsqrt.d, 0x1e60000000000000, 0, 0x0000000000000001, , rne)
    /* sign injection */
    TEST_FF2(40, fsgnj.d, 0xbff0000000000000, 0, ONE, 0x8000000000000000)
    TEST_FF2(41, fsgnjn.d, 0xbff0000000000000, 0, ONE, ONE)
    TEST_FF2(42, fsgnjx.d, 0x3ff0000000000000, 0, 0xbff0000000000000, 0xbff0000000000000)
    TEST_FF2(43, fsgnj.d, 0xfff0000000000001, 0, SNAN, NZERO)
    /* min/max: signed zeros, NaNs */
    TEST_FF2(50, fmin.d, NZERO, 0, 0, NZERO)
    TEST_FF2(51, fmax.d, 0, 0, NZERO, 0)
    TEST_FF2(52, fmin.d, ONE, NV, SNAN, ONE)
    TEST_FF2(53, fmax.d, ONE, 0, ONE, QNAN)
    TEST_FF2(54, fmin.d, CNAN, 0, QNAN, QNAN)
    TEST_FF2(55, fmax.d, CNAN, NV, QNAN, SNAN)
    TEST_FF2(56, fmin.d, NINF, 0, NINF, ONE)
    /* compares */
    TEST_XFF(60, feq.d, 1, 0, 0, NZERO)
    TEST_XFF(61, feq.d, 0, 0, QNAN, ONE)
    TEST_XFF(62, feq.d, 0, NV, SNAN, ONE)
    TEST_XFF(63, flt.d, 0, NV, QNAN, ONE)
    TEST_XFF(64, fle.d, 1, 0, NZERO, 0)
    TEST_XFF(65, flt.d, 1, 0, NINF, ONE)
    /* classify */
    TEST_XF(70, fclass.d, 1 << 0, 0, NINF)
    TEST_XF(71, fclass.d, 1 << 1, 0, 0xbff0000000000000)
    TEST_XF(72, fclass.d, 1 << 2, 0, 0x8000000000000001)
    TEST_XF(73, fclass.d, 1 << 3, 0, NZERO)
    TEST_XF(74, fclass.d, 1 << 4, 0, 0)
    TEST_XF(75, fclass.d, 1 << 5, 0, 0x000fffffffffffff)
    TEST_XF(76, fclass.d, 1 << 6, 0, ONE)
    TEST_XF(77, fclass.d, 1 << 7, 0, INF)
    TEST_XF(78, fclass.d, 1 << 8, 0, SNAN)
    TEST_XF(79, fclass.d, 1 << 9, 0, QNAN)
    /* float -> int: rounding, saturation, NaN */
    TEST_XF(80, fcvt.w.d, 2, NX, 0x4004000000000000, , rne)      /* 2.5 */
    TEST_XF(81, fcvt.w.d, 3, NX, 0x4004000000000000, , rmm)
    TEST_XF(82, fcvt.w.d, -3, NX, 0xc004000000000000, , rdn)
    TEST_XF(83, fcvt.w.d, -2, NX, 0xc004000000000000, , rtz)
    TEST_XF(84, fcvt.w.d, 0x7fffffff, NV, 0x41e0000000000000, , rtz) /* 2^31 */
    TEST_XF(85, fcvt.w.d, 0xffffffff80000000, NV, NINF, , rtz)
    TEST_XF(86, fcvt.w.d, 0x7fffffff, NV, QNAN, , rtz)
    TEST_XF(87, fcvt.wu.d, 0xffffffffffffffff, 0, 0x41efffffffe00000, , rtz) /* 2^32-1, sign-extended */
    TEST_XF(88, fcvt.wu.d, 0, NV, 0xbff0000000000000, , rtz)
    TEST_XF(89, fcvt.wu.d, 0, NX, 0xbfe0000000000000, , rtz)       /* -0.5 -> 0, inexact only */
    TEST_XF(90, fcvt.l.d, 0x7fffffffffffffff, NV, 0x43e0000000000000, , rtz)
    TEST_XF(91, fcvt.l.d, 0x8000000000000000, 0, 0xc3e0000000000000, , rtz)
    TEST_XF(92, fcvt.lu.d, 0x8000000000000000, 0, 0x43e0000000000000, , rtz)
    TEST_XF(93, fcvt.lu.d, 0xffffffffffffffff, NV, INF, , rtz)
    TEST_XF(94, fcvt.lu.d, 0, NV, NINF, , rtz)
    /* int -> float */
    TEST_FX(100, fcvt.d.w, 0xbff0000000000000, 0, 0xffffffff)
    TEST_FX(101, fcvt.d.wu, 0x41efffffffe00000, 0, 0xffffffff)
    TEST_FX(102, fcvt.d.l, 0x4340000000000000, NX, 0x20000000000001, , rne)
    TEST_FX(103, fcvt.d.l, 0x4340000000000001, NX, 0x20000000000001, , rup)
    TEST_FX(104, fcvt.d.lu, 0x43f0000000000000, NX, 0xffffffffffffffff, , rne)
    TEST_FX(105, fcvt.d.lu, 0x43efffffffffffff, NX, 0xffffffffffffffff, , rtz)
    /* double <-> single */
    TEST_FF1(110, fcvt.s.d, 0xffffffff3eaaaaab, NX, THIRD_RNE, , rne)
    TEST_FF1(111, fcvt.s.d, 0xffffffff3eaaaaaa, NX, THIRD_RNE, , rtz)
    TEST_FF1(112, fcvt.s.d, 0xffffffff7f800000, OF|NX, 0x47f0000000000000, , rne)
    TEST_FF1(113, fcvt.s.d, 0xffffffff7fc00000, NV, SNAN, , rne)
    TEST_FF1(114, fcvt.d.s, 0x3ff0000000000000, 0, 0xffffffff3f800000)
    TEST_FF1(115, fcvt.d.s, CNAN, 0, 0x000000003f800000)  /* not NaN-boxed: canonical NaN */
    /* moves */
    li TESTNUM, 120; li t1, 0x123456789abcdef0; fmv.d.x ft4, t1; fmv.x.d a0, ft4; CHECK(120, a0, 0x123456789abcdef0)
    /* loads/stores, 32-bit and compressed forms */
    li TESTNUM, 121
    la s1, buf; li t1, 0x0123456789abcdef; sd t1, 0(s1)
    fld fa0, 0(s1); fsd fa0, 8(s1); ld a0, 8(s1); CHECK(121, a0, 0x0123456789abcdef)
    li TESTNUM, 122
    .option push
    .option rvc
    c.fld fa1, 0(s1)
    c.fsd fa1, 16(s1)
    .option pop
    ld a0, 16(s1); CHECK(122, a0, 0x0123456789abcdef)
    li TESTNUM, 123
    mv s2, sp; mv sp, s1
    .option push
    .option rvc
    c.fldsp ft5, 16(sp)
    c.fsdsp ft5, 24(sp)
    .option pop
    mv sp, s2
    ld a0, 24(s1); CHECK(123, a0, 0x0123456789abcdef)
    /* dynamic rounding mode from frm */
    li TESTNUM, 130; li t1, 3; fsrm t1
    TEST_FF2(131, fdiv.d, 0x3fd5555555555556, NX, ONE, THREE)
    li t1, 2; fsrm t1
    TEST_XF(132, fcvt.w.d, -3, NX, 0xc004000000000000)
    fsrm zero
    /* fflags accrue across instructions */
    li TESTNUM, 133; fsflags zero
    li t1, ONE; fmv.d.x ft0, t1; li t1, THREE; fmv.d.x ft1, t1; fdiv.d ft2, ft0, ft1
    fmv.d.x ft1, zero; fdiv.d ft2, ft0, ft1
    frflags a0; CHECK(133, a0, NX|DZ)
    j pass

    .data
    .balign 8
buf: .dword 0, 0, 0, 0
