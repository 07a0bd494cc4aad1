//! xorshift64*: a small deterministic stream for the random-program and sweep tests, so a
//! failing seed can be replayed and no dependency is needed.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough below `n` (> 0) for test generation.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
