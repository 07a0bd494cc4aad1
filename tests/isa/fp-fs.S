/* mstatus.FS, misa F/D and the FP CSRs: with FS = Off every F/D instruction and fflags/frm/fcsr
 * are illegal; FP register or fcsr writes make FS Dirty (and set SD); an instruction that only
 * writes an x register without raising a flag leaves FS alone; reserved rounding modes. */
#include "test.h"
#include "fp.h"

#define SD (1 << 63)

test_main:
    /* misa has F (bit 5) and D (bit 3) */
    li TESTNUM, 1; csrr a0, misa; srli a0, a0, 3; andi a0, a0, 5; CHECK(1, a0, 5)
    /* the bare machine starts with FS = Off */
    li TESTNUM, 2; csrr a0, mstatus; li t1, FS_DIRTY; and a0, a0, t1; CHECK(2, a0, 0)
    TEST_ILLEGAL(3, fadd.d ft0, ft1, ft2)
    TEST_ILLEGAL(4, fmv.x.d a0, ft0)
    TEST_ILLEGAL(5, fld ft0, 0(sp))
    TEST_ILLEGAL(6, csrr a0, fflags)
    TEST_ILLEGAL(7, csrw frm, zero)
    TEST_ILLEGAL(8, csrr a0, fcsr)
    .option push
    .option rvc
    TEST_ILLEGAL(9, c.fldsp ft0, 0(sp))
    .option pop
    /* Initial: usable, still clean */
    li t1, FS_INITIAL; csrs mstatus, t1
    li TESTNUM, 10; feq.d a0, ft0, ft0; csrr a0, mstatus; li t1, FS_DIRTY; and a0, a0, t1
    CHECK(10, a0, FS_INITIAL)
    li TESTNUM, 11; csrr a0, mstatus; li t1, SD; and a0, a0, t1; CHECK(11, a0, 0)
    /* an f register write makes it Dirty, and SD reads 1 (also in sstatus) */
    li TESTNUM, 12; fmv.d.x ft0, zero; csrr a0, mstatus; li t1, FS_DIRTY; and a0, a0, t1; CHECK(12, a0, FS_DIRTY)
    li TESTNUM, 13; csrr a0, mstatus; srli a0, a0, 63; CHECK(13, a0, 1)
    li TESTNUM, 14; csrr a0, sstatus; srli a0, a0, 63; CHECK(14, a0, 1)
    /* a CSR write makes it Dirty too */
    li t1, FS_DIRTY; csrc mstatus, t1; li t1, FS_INITIAL; csrs mstatus, t1
    li TESTNUM, 15; csrwi fflags, 0; csrr a0, mstatus; li t1, FS_DIRTY; and a0, a0, t1; CHECK(15, a0, FS_DIRTY)
    /* fcsr = frm << 5 | fflags; fields are masked */
    li TESTNUM, 16; li t1, 0xfff; csrw fcsr, t1; csrr a0, fcsr; CHECK(16, a0, 0xff)
    li TESTNUM, 17; csrr a0, frm; CHECK(17, a0, 7)
    li TESTNUM, 18; csrr a0, fflags; CHECK(18, a0, 0x1f)
    li TESTNUM, 19; csrwi fflags, 0x3; csrr a0, fcsr; CHECK(19, a0, 0xe3)
    li TESTNUM, 20; csrwi frm, 1; csrr a0, fcsr; CHECK(20, a0, 0x23)
    /* frm = 5, 6, 7: dynamic rounding is illegal; static modes still work */
    csrwi frm, 5
    TEST_ILLEGAL(21, fadd.d ft0, ft1, ft2)
    csrwi frm, 7
    TEST_ILLEGAL(22, fcvt.w.d a0, ft0)
    li TESTNUM, 23; fadd.d ft0, ft1, ft2, rne
    /* ops without a rounding mode do not care */
    li TESTNUM, 24; fsgnj.d ft0, ft1, ft2; fmv.x.d a0, ft0
    csrwi frm, 0
    /* reserved static rounding modes 5 and 6: fadd.d ft0,ft1,ft2 with rm = 5 / 6 */
    TEST_ILLEGAL(25, .4byte 0x0220d053)
    TEST_ILLEGAL(26, .4byte 0x0220e053)
    /* fmadd.d with rm = 5 */
    TEST_ILLEGAL(27, .4byte 0x1a20d043)
    /* fmt = 2 (H) / 3 (Q) of fmadd is not implemented */
    TEST_ILLEGAL(28, .4byte 0x1c20f043)
    /* turning FS Off again makes them illegal again */
    li t1, FS_DIRTY; csrc mstatus, t1
    TEST_ILLEGAL(29, fmv.d.x ft0, zero)
    j pass
