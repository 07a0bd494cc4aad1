//! Decoder tests for RV64F/RV64D (`pltvm_core::isa`): every F/D encoding, including the
//! compressed forms, and the illegal ones (reserved rounding modes, unimplemented formats,
//! non-zero rs2 fields of unary ops).
//!
//! The hex words were produced by the GNU assembler from the instruction text in each comment;
//! the expected fields are written from that text (rm in `imm`, rs3 in `imm >> 3`), not from
//! the decoder. No test needs the cross toolchain.

use pltvm_core::isa::{decode, Insn, Op};

#[track_caller]
fn chk(raw: u32, op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) {
    let len = if raw & 3 == 3 { 4 } else { 2 };
    let want = Insn { op, rd, rs1, rs2, len, imm };
    assert_eq!(decode(raw), want, "raw {raw:#010x}");
    assert!(op.is_fp());
}

#[track_caller]
fn illegal(raw: u32) {
    let d = decode(raw);
    assert_eq!(d.op, Op::Illegal, "raw {raw:#010x} decoded as {d:?}");
}

#[test]
fn every_fp_encoding() {
    use Op::*;
    chk(0xffc5a507, Flw, 10, 11, 0, -4); // flw fa0, -4(a1)
    chk(0x7ff13f87, Fld, 31, 2, 0, 2047); // fld ft11, 2047(sp)
    chk(0x8092a027, Fsw, 0, 5, 9, -2048); // fsw fs1, -2048(t0)
    chk(0x01143427, Fsd, 0, 8, 17, 8); // fsd fa7, 8(s0)
    chk(0xf8c58543, FmaddS, 10, 11, 12, 248); // fmadd.s fa0, fa1, fa2, ft11, rne
    chk(0xf8c59547, FmsubS, 10, 11, 12, 249); // fmsub.s fa0, fa1, fa2, ft11, rtz
    chk(0xf8c5b54b, FnmsubS, 10, 11, 12, 251); // fnmsub.s fa0, fa1, fa2, ft11, rup
    chk(0xf8c5f54f, FnmaddS, 10, 11, 12, 255); // fnmadd.s fa0, fa1, fa2, ft11, dyn
    chk(0x001d8053, FaddS, 0, 27, 1, 0); // fadd.s ft0, fs11, ft1, rne
    chk(0x081da053, FsubS, 0, 27, 1, 2); // fsub.s ft0, fs11, ft1, rdn
    chk(0x101dc053, FmulS, 0, 27, 1, 4); // fmul.s ft0, fs11, ft1, rmm
    chk(0x181df053, FdivS, 0, 27, 1, 7); // fdiv.s ft0, fs11, ft1, dyn
    chk(0x580716d3, FsqrtS, 13, 14, 0, 1); // fsqrt.s fa3, fa4, rtz
    chk(0x21498953, FsgnjS, 18, 19, 20, 0); // fsgnj.s fs2, fs3, fs4
    chk(0x21499953, FsgnjnS, 18, 19, 20, 0); // fsgnjn.s fs2, fs3, fs4
    chk(0x2149a953, FsgnjxS, 18, 19, 20, 0); // fsgnjx.s fs2, fs3, fs4
    chk(0x29498953, FminS, 18, 19, 20, 0); // fmin.s fs2, fs3, fs4
    chk(0x29499953, FmaxS, 18, 19, 20, 0); // fmax.s fs2, fs3, fs4
    chk(0xa0312553, FeqS, 10, 2, 3, 0); // feq.s a0, ft2, ft3
    chk(0xa0311553, FltS, 10, 2, 3, 0); // flt.s a0, ft2, ft3
    chk(0xa0310553, FleS, 10, 2, 3, 0); // fle.s a0, ft2, ft3
    chk(0xe0021fd3, FclassS, 31, 4, 0, 0); // fclass.s t6, ft4
    chk(0xc00795d3, FcvtWS, 11, 15, 0, 1); // fcvt.w.s a1, fa5, rtz
    chk(0xd0064853, FcvtSW, 16, 12, 0, 4); // fcvt.s.w fa6, a2, rmm
    chk(0xc01795d3, FcvtWuS, 11, 15, 0, 1); // fcvt.wu.s a1, fa5, rtz
    chk(0xd0164853, FcvtSWu, 16, 12, 0, 4); // fcvt.s.wu fa6, a2, rmm
    chk(0xc02795d3, FcvtLS, 11, 15, 0, 1); // fcvt.l.s a1, fa5, rtz
    chk(0xd0264853, FcvtSL, 16, 12, 0, 4); // fcvt.s.l fa6, a2, rmm
    chk(0xc03795d3, FcvtLuS, 11, 15, 0, 1); // fcvt.lu.s a1, fa5, rtz
    chk(0xd0364853, FcvtSLu, 16, 12, 0, 4); // fcvt.s.lu fa6, a2, rmm
    chk(0xfac58543, FmaddD, 10, 11, 12, 248); // fmadd.d fa0, fa1, fa2, ft11, rne
    chk(0xfac59547, FmsubD, 10, 11, 12, 249); // fmsub.d fa0, fa1, fa2, ft11, rtz
    chk(0xfac5b54b, FnmsubD, 10, 11, 12, 251); // fnmsub.d fa0, fa1, fa2, ft11, rup
    chk(0xfac5f54f, FnmaddD, 10, 11, 12, 255); // fnmadd.d fa0, fa1, fa2, ft11, dyn
    chk(0x021d8053, FaddD, 0, 27, 1, 0); // fadd.d ft0, fs11, ft1, rne
    chk(0x0a1da053, FsubD, 0, 27, 1, 2); // fsub.d ft0, fs11, ft1, rdn
    chk(0x121dc053, FmulD, 0, 27, 1, 4); // fmul.d ft0, fs11, ft1, rmm
    chk(0x1a1df053, FdivD, 0, 27, 1, 7); // fdiv.d ft0, fs11, ft1, dyn
    chk(0x5a0716d3, FsqrtD, 13, 14, 0, 1); // fsqrt.d fa3, fa4, rtz
    chk(0x23498953, FsgnjD, 18, 19, 20, 0); // fsgnj.d fs2, fs3, fs4
    chk(0x23499953, FsgnjnD, 18, 19, 20, 0); // fsgnjn.d fs2, fs3, fs4
    chk(0x2349a953, FsgnjxD, 18, 19, 20, 0); // fsgnjx.d fs2, fs3, fs4
    chk(0x2b498953, FminD, 18, 19, 20, 0); // fmin.d fs2, fs3, fs4
    chk(0x2b499953, FmaxD, 18, 19, 20, 0); // fmax.d fs2, fs3, fs4
    chk(0xa2312553, FeqD, 10, 2, 3, 0); // feq.d a0, ft2, ft3
    chk(0xa2311553, FltD, 10, 2, 3, 0); // flt.d a0, ft2, ft3
    chk(0xa2310553, FleD, 10, 2, 3, 0); // fle.d a0, ft2, ft3
    chk(0xe2021fd3, FclassD, 31, 4, 0, 0); // fclass.d t6, ft4
    chk(0xc20795d3, FcvtWD, 11, 15, 0, 1); // fcvt.w.d a1, fa5, rtz
    chk(0xd2060853, FcvtDW, 16, 12, 0, 0); // fcvt.d.w fa6, a2
    chk(0xc21795d3, FcvtWuD, 11, 15, 0, 1); // fcvt.wu.d a1, fa5, rtz
    chk(0xd2160853, FcvtDWu, 16, 12, 0, 0); // fcvt.d.wu fa6, a2
    chk(0xc22795d3, FcvtLD, 11, 15, 0, 1); // fcvt.l.d a1, fa5, rtz
    chk(0xd2264853, FcvtDL, 16, 12, 0, 4); // fcvt.d.l fa6, a2, rmm
    chk(0xc23795d3, FcvtLuD, 11, 15, 0, 1); // fcvt.lu.d a1, fa5, rtz
    chk(0xd2364853, FcvtDLu, 16, 12, 0, 4); // fcvt.d.lu fa6, a2, rmm
    chk(0x401b2ad3, FcvtSD, 21, 22, 0, 2); // fcvt.s.d fs5, fs6, rdn
    chk(0x420c0bd3, FcvtDS, 23, 24, 0, 0); // fcvt.d.s fs7, fs8
    chk(0xe00386d3, FmvXW, 13, 7, 0, 0); // fmv.x.w a3, ft7
    chk(0xe20e0753, FmvXD, 14, 28, 0, 0); // fmv.x.d a4, ft8
    chk(0xf0078ed3, FmvWX, 29, 15, 0, 0); // fmv.w.x ft9, a5
    chk(0xf2080f53, FmvDX, 30, 16, 0, 0); // fmv.d.x ft10, a6
    chk(0x3ce8, Fld, 10, 9, 0, 248); // c.fld fa0, 248(s1)
    chk(0xa784, Fsd, 0, 15, 9, 8); // c.fsd fs1, 8(a5)
    chk(0x307e, Fld, 0, 2, 0, 504); // c.fldsp ft0, 504(sp)
    chk(0xa07e, Fsd, 0, 2, 31, 0); // c.fsdsp ft11, 0(sp)
}

#[test]
fn fp_illegal_encodings() {
    // fadd.d ft0,ft1,ft2 with rm = 5 and 6 (reserved); rm = 7 (dynamic) decodes.
    illegal(0x0220d053);
    illegal(0x0220e053);
    assert_eq!(decode(0x0220f053).op, Op::FaddD);
    // fmadd.d with rm = 5; fmadd with fmt = 2 (H) and 3 (Q).
    illegal(0x1a20d043);
    illegal(0x1c20f043);
    illegal(0x1e20f043);
    // fsqrt.d with rs2 != 0, fcvt.s.d with rs2 = 0, fcvt.d.s with rs2 = 1.
    illegal(0x5a208053 | (1 << 20));
    illegal(0x40008053);
    illegal(0x42108053);
    // fcvt.w.d with rs2 = 4, fmv.x.d with funct3 = 2, fmv.d.x with rs2 != 0.
    illegal(0xc2400553);
    illegal(0xe2002553);
    illegal(0xf2150053);
    // flw/fsw with funct3 = 1 (half) and 4 (quad).
    illegal(0x00059507);
    illegal(0x0005c507);
    illegal(0x00a59027);
    // fsgnj with funct3 = 3, fmin with funct3 = 2, feq with funct3 = 3.
    illegal(0x22003053);
    illegal(0x2a002053);
    illegal(0xa2003553);
    // Reserved static rm on the conversions and square root.
    illegal(0xc2205553);
    illegal(0x5a006053);
}

#[test]
fn fp_display() {
    assert_eq!(decode(0xffc5a507).to_string(), "flw fa0,-4(a1)");
    assert_eq!(decode(0xf8c58543).to_string(), "fmadd.s fa0,fa1,fa2,ft11,rne");
    assert_eq!(decode(0x0220f053).to_string(), "fadd.d ft0,ft1,ft2");
    assert_eq!(decode(0x0220f053 & !(7 << 12) | (1 << 12)).to_string(), "fadd.d ft0,ft1,ft2,rtz");
    assert_eq!(decode(0xe2040553).to_string(), "fmv.x.d a0,fs0");
}
