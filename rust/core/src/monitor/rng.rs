//! Randomness for `OCALL_GETRANDOM` (§6.6, design decision 4, B10).
use std::io::Read;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RngMode {
    /// Default: a per-enclave generator seeded from the monitor seed and the enclave's creation
    /// number (reproducible runs, independent streams per enclave).
    Seeded,
    /// Penglai's monitor-global LCG (`seed = (9 * seed + 7) mod 2^20`, start 12345), shared
    /// by all enclaves of the monitor, byte for byte as §6.6 gives it.
    PenglaiLcg,
    /// The host operating system's randomness (`/dev/urandom`).
    Os,
}

/// SplitMix64: small, fast, good enough for a deterministic default.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub const LCG_SEED: u32 = 12345;

/// §6.6: four bytes per advance, most significant first; leftovers of the last step dropped.
pub fn lcg_fill(seed: &mut u32, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(4) {
        *seed = (seed.wrapping_mul(9).wrapping_add(7)) & 0xF_FFFF;
        let v = seed.to_be_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

pub fn os_fill(buf: &mut [u8]) -> bool {
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcg_matches_the_abi_test_vector() {
        let mut s = LCG_SEED;
        let mut a = [0u8; 8];
        lcg_fill(&mut s, &mut a);
        assert_eq!(a, [0x00, 0x01, 0xb2, 0x08, 0x00, 0x0f, 0x42, 0x4f]);
        lcg_fill(&mut s, &mut a);
        assert_eq!(a, [0x00, 0x09, 0x54, 0xce, 0x00, 0x03, 0xfb, 0x45]);
    }
}
