//! pltvm-core: an RV64 hart, its MMU and memory, the machines built on it, and (later) the
//! Penglai-TVM monitor model. No Python here: `rust/python` is the only crate that knows PyO3.
pub mod bus;
pub mod device;
pub mod hart;
pub mod isa;
pub mod jit;
pub mod machine;
pub mod mem;
pub mod mmu;
pub mod shared_mem;
pub mod monitor;
pub mod system;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
