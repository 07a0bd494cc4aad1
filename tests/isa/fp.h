/* Helpers for the F/D ISA tests (rv64f.S, rv64d.S, fp-*.S). Operands are 64-bit patterns moved
 * into f registers with fmv.d.x, so singles may be boxed or not; results are read back with
 * fmv.x.d (the whole register, boxing included) and fflags with frflags. Clobbers t1, a0, a1. */
#define FS_INITIAL (1 << 13)
#define FS_DIRTY   (3 << 13)
#define FS_ON      li t1, FS_INITIAL; csrs mstatus, t1

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

#define CHECK_FP(n, res, flags) \
    fmv.x.d a0, ft2; frflags a1; CHECK(n, a0, res); CHECK(n, a1, flags)

/* Two f operands, f result, static rounding mode given as the last operand text. */
#define TEST_FF2(n, inst, res, flags, a, b, ...) \
    li TESTNUM, n; fsflags zero; li t1, a; fmv.d.x ft0, t1; li t1, b; fmv.d.x ft1, t1; \
    inst ft2, ft0, ft1 __VA_ARGS__; CHECK_FP(n, res, flags)
/* One f operand, f result. */
#define TEST_FF1(n, inst, res, flags, a, ...) \
    li TESTNUM, n; fsflags zero; li t1, a; fmv.d.x ft0, t1; inst ft2, ft0 __VA_ARGS__; CHECK_FP(n, res, flags)
/* Three f operands (fused multiply-add). */
#define TEST_FF3(n, inst, res, flags, a, b, c, ...) \
    li TESTNUM, n; fsflags zero; li t1, a; fmv.d.x ft0, t1; li t1, b; fmv.d.x ft1, t1; \
    li t1, c; fmv.d.x ft3, t1; inst ft2, ft0, ft1, ft3 __VA_ARGS__; CHECK_FP(n, res, flags)
/* f operand(s), x result. */
#define TEST_XF(n, inst, res, flags, a, ...) \
    li TESTNUM, n; fsflags zero; li t1, a; fmv.d.x ft0, t1; inst a0, ft0 __VA_ARGS__; \
    frflags a1; CHECK(n, a0, res); CHECK(n, a1, flags)
#define TEST_XFF(n, inst, res, flags, a, b) \
    li TESTNUM, n; fsflags zero; li t1, a; fmv.d.x ft0, t1; li t1, b; fmv.d.x ft1, t1; \
    inst a0, ft0, ft1; frflags a1; CHECK(n, a0, res); CHECK(n, a1, flags)
/* x operand, f result. */
#define TEST_FX(n, inst, res, flags, a, ...) \
    li TESTNUM, n; fsflags zero; li t1, a; inst ft2, t1 __VA_ARGS__; CHECK_FP(n, res, flags)
