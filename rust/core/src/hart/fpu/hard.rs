//! The fast path: the host's own IEEE 754 arithmetic (x86-64 SSE/FMA), run with a rounding mode
//! and fresh status flags loaded into MXCSR around the single instruction and the host's MXCSR
//! restored after it, all inside one `asm!` block so the compiler cannot move anything across.
//!
//! SSE arithmetic is IEEE 754 binary32/binary64 with tininess detected after rounding and, with
//! the underflow exception masked, the underflow flag raised only for inexact tiny results —
//! exactly the RISC-V rules. Callers never pass NaN operands (their results and flags are decided
//! in [`super::arith`]) and canonicalise NaN results. There is no ties-to-away mode in MXCSR:
//! `rm = 4` is refused (`None`) except for square root, where ties cannot occur.
//! Other hosts get `None` everywhere and use the soft-float path.
use super::arith::{Arith, NV, DZ, OF, UF, NX};

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::*;
    use core::arch::asm;

    /// MXCSR with every exception masked, flags clear, FTZ/DAZ off, and the rounding control of
    /// RISC-V `rm` (0 RNE, 1 RTZ, 2 RDN, 3 RUP).
    fn mxcsr(rm: u8) -> u32 {
        let rc = match rm {
            1 => 3,
            2 => 1,
            3 => 2,
            _ => 0,
        };
        0x1f80 | rc << 13
    }

    fn flags(m: u32) -> u8 {
        let mut f = 0;
        if m & 1 != 0 {
            f |= NV;
        }
        if m & 4 != 0 {
            f |= DZ;
        }
        if m & 8 != 0 {
            f |= OF;
        }
        if m & 16 != 0 {
            f |= UF;
        }
        if m & 32 != 0 {
            f |= NX;
        }
        f
    }

    use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// Whether the CPU has FMA: 0 not yet asked, 1 no, 2 yes.
    static FMA: AtomicU8 = AtomicU8::new(0);

    fn has_fma() -> bool {
        match FMA.load(Relaxed) {
            0 => detect_fma(),
            v => v == 2,
        }
    }

    #[cold]
    fn detect_fma() -> bool {
        let yes = std::is_x86_feature_detected!("fma");
        FMA.store(if yes { 2 } else { 1 }, Relaxed);
        yes
    }

    /// `a * b + c` rounded once on the FMA unit, in the host's current (default: nearest-even)
    /// mode; `None` when the CPU has no FMA or has not been asked yet (the full path asks). No
    /// call on this path: a call would make every quick-path handler save registers.
    #[inline(always)]
    pub fn fma_d(a: f64, b: f64, c: f64) -> Option<f64> {
        if FMA.load(Relaxed) != 2 {
            return None;
        }
        let mut x = a;
        // SAFETY: the CPU has FMA; the instruction touches only the named registers.
        unsafe {
            asm!("vfmadd213sd {x}, {y}, {z}", x = inout(xmm_reg) x, y = in(xmm_reg) b, z = in(xmm_reg) c,
                options(pure, nomem, nostack, preserves_flags))
        };
        Some(x)
    }

    /// [`fma_d`] for binary32.
    #[inline(always)]
    pub fn fma_s(a: f32, b: f32, c: f32) -> Option<f32> {
        if FMA.load(Relaxed) != 2 {
            return None;
        }
        let mut x = a;
        // SAFETY: as in `fma_d`.
        unsafe {
            asm!("vfmadd213ss {x}, {y}, {z}", x = inout(xmm_reg) x, y = in(xmm_reg) b, z = in(xmm_reg) c,
                options(pure, nomem, nostack, preserves_flags))
        };
        Some(x)
    }

    // `m[0]` keeps the host's MXCSR, `m[1]` carries ours in and the resulting flags out.
    macro_rules! sse1 {
        ($ins:literal, $m:expr, $x:ident) => {
            asm!(
                "stmxcsr dword ptr [{p}]",
                "ldmxcsr dword ptr [{p} + 4]",
                $ins,
                "stmxcsr dword ptr [{p} + 4]",
                "ldmxcsr dword ptr [{p}]",
                p = in(reg) $m,
                x = inout(xmm_reg) $x,
                options(nostack)
            )
        };
    }
    macro_rules! sse2 {
        ($ins:literal, $m:expr, $x:ident, $y:ident) => {
            asm!(
                "stmxcsr dword ptr [{p}]",
                "ldmxcsr dword ptr [{p} + 4]",
                $ins,
                "stmxcsr dword ptr [{p} + 4]",
                "ldmxcsr dword ptr [{p}]",
                p = in(reg) $m,
                x = inout(xmm_reg) $x,
                y = in(xmm_reg) $y,
                options(nostack)
            )
        };
    }
    macro_rules! sse3 {
        ($ins:literal, $m:expr, $x:ident, $y:ident, $z:ident) => {
            asm!(
                "stmxcsr dword ptr [{p}]",
                "ldmxcsr dword ptr [{p} + 4]",
                $ins,
                "stmxcsr dword ptr [{p} + 4]",
                "ldmxcsr dword ptr [{p}]",
                p = in(reg) $m,
                x = inout(xmm_reg) $x,
                y = in(xmm_reg) $y,
                z = in(xmm_reg) $z,
                options(nostack)
            )
        };
    }

    /// `op` on binary64 (`d`) or binary32 (low 32 bits) operands; fma computes `a * b + c`.
    #[inline]
    pub fn arith(op: Arith, d: bool, a: u64, b: u64, c: u64, rm: u8) -> Option<(u64, u8)> {
        if rm > 3 && op != Arith::Sqrt {
            return None;
        }
        if op == Arith::Fma && !has_fma() {
            return None;
        }
        let mut m = [0u32, mxcsr(rm)];
        let p = m.as_mut_ptr();
        let bits = if d {
            let mut x = f64::from_bits(a);
            let y = f64::from_bits(b);
            let z = f64::from_bits(c);
            // SAFETY: the asm reads and writes only `m` and the named registers, and leaves
            // MXCSR as it found it.
            unsafe {
                match op {
                    Arith::Add => sse2!("addsd {x}, {y}", p, x, y),
                    Arith::Sub => sse2!("subsd {x}, {y}", p, x, y),
                    Arith::Mul => sse2!("mulsd {x}, {y}", p, x, y),
                    Arith::Div => sse2!("divsd {x}, {y}", p, x, y),
                    Arith::Sqrt => sse1!("sqrtsd {x}, {x}", p, x),
                    Arith::Fma => sse3!("vfmadd213sd {x}, {y}, {z}", p, x, y, z),
                }
            }
            x.to_bits()
        } else {
            let mut x = f32::from_bits(a as u32);
            let y = f32::from_bits(b as u32);
            let z = f32::from_bits(c as u32);
            // SAFETY: as above.
            unsafe {
                match op {
                    Arith::Add => sse2!("addss {x}, {y}", p, x, y),
                    Arith::Sub => sse2!("subss {x}, {y}", p, x, y),
                    Arith::Mul => sse2!("mulss {x}, {y}", p, x, y),
                    Arith::Div => sse2!("divss {x}, {y}", p, x, y),
                    Arith::Sqrt => sse1!("sqrtss {x}, {x}", p, x),
                    Arith::Fma => sse3!("vfmadd213ss {x}, {y}, {z}", p, x, y, z),
                }
            }
            x.to_bits() as u64
        };
        Some((bits, flags(m[1])))
    }

    /// binary64 -> binary32 under `rm` (not 4).
    #[inline]
    pub fn d_to_s(a: u64, rm: u8) -> Option<(u64, u8)> {
        if rm > 3 {
            return None;
        }
        let mut m = [0u32, mxcsr(rm)];
        let p = m.as_mut_ptr();
        let y = f64::from_bits(a);
        let mut x = 0f32;
        // SAFETY: as in `arith`.
        unsafe { sse2!("cvtsd2ss {x}, {y}", p, x, y) };
        Some((x.to_bits() as u64, flags(m[1])))
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::*;
    pub fn arith(_: Arith, _: bool, _: u64, _: u64, _: u64, _: u8) -> Option<(u64, u8)> {
        None
    }
    pub fn d_to_s(_: u64, _: u8) -> Option<(u64, u8)> {
        None
    }
    /// `a * b + c` rounded once (the library's correctly rounded fused multiply-add; one
    /// instruction on aarch64).
    #[inline(always)]
    pub fn fma_d(a: f64, b: f64, c: f64) -> Option<f64> {
        Some(a.mul_add(b, c))
    }
    #[inline(always)]
    pub fn fma_s(a: f32, b: f32, c: f32) -> Option<f32> {
        Some(a.mul_add(b, c))
    }
}

pub use imp::{arith, d_to_s, fma_d, fma_s};
