//! A CLINT-style timer and software-interrupt block for hart 0.
//!
//! `mtime` is not wall-clock: the hart derives it from retired instructions (plus the ticks a
//! `wfi` skipped), so runs are deterministic. The hart passes it in on every access.

pub const BASE: u64 = 0x0200_0000;
pub const SIZE: u64 = 0x1_0000;
const MSIP: u64 = 0x0;
const MTIMECMP: u64 = 0x4000;
const MTIME: u64 = 0xBFF8;

#[derive(Clone, Debug)]
pub struct Clint {
    pub msip: bool,
    pub mtimecmp: u64,
}

impl Default for Clint {
    fn default() -> Self {
        Clint { msip: false, mtimecmp: u64::MAX }
    }
}

/// What a store to the CLINT changed, so the hart can adjust `mtime` or re-check interrupts.
pub enum ClintWrite {
    Plain,
    SetTime(u64),
}

impl Clint {
    pub fn contains(pa: u64) -> bool {
        (BASE..BASE + SIZE).contains(&pa)
    }

    /// Load of `size` bytes (1, 2, 4 or 8, naturally aligned) at offset `pa - BASE`.
    pub fn load(&self, pa: u64, size: u64, mtime: u64) -> Option<u64> {
        let off = pa - BASE;
        let (reg_off, reg) = match off & !7 {
            MSIP => (MSIP, self.msip as u64),
            MTIMECMP => (MTIMECMP, self.mtimecmp),
            MTIME => (MTIME, mtime),
            _ => return Some(0),
        };
        if reg_off == MSIP && off >= 4 {
            return Some(0);
        }
        let shift = (off & 7) * 8;
        Some(mask(reg >> shift, size))
    }

    pub fn store(&mut self, pa: u64, size: u64, value: u64, mtime: u64) -> ClintWrite {
        let off = pa - BASE;
        match off & !7 {
            MSIP if off < 4 => {
                self.msip = value & 1 != 0;
                ClintWrite::Plain
            }
            MTIMECMP => {
                self.mtimecmp = merge(self.mtimecmp, off & 7, size, value);
                ClintWrite::Plain
            }
            MTIME => ClintWrite::SetTime(merge(mtime, off & 7, size, value)),
            _ => ClintWrite::Plain,
        }
    }
}

fn mask(v: u64, size: u64) -> u64 {
    if size >= 8 {
        v
    } else {
        v & ((1u64 << (size * 8)) - 1)
    }
}

fn merge(old: u64, byte_off: u64, size: u64, value: u64) -> u64 {
    let shift = byte_off * 8;
    let m = if size >= 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 } << shift;
    (old & !m) | ((value << shift) & m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtimecmp_halves_and_mtime_view() {
        let mut c = Clint::default();
        c.store(BASE + MTIMECMP, 4, 0x1234, 0);
        c.store(BASE + MTIMECMP + 4, 4, 0x1, 0);
        assert_eq!(c.mtimecmp, 0x1_0000_1234);
        assert_eq!(c.load(BASE + MTIME, 8, 77), Some(77));
        assert_eq!(c.load(BASE + MTIME + 4, 4, 0x5_0000_0000), Some(5));
        c.store(BASE, 4, 3, 0);
        assert!(c.msip);
        assert_eq!(c.load(BASE, 4, 0), Some(1));
    }
}
