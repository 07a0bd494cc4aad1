//! Address translation and the hart's data-access paths.
//!
//! Loads and stores first look in a direct-mapped software TLB that maps a virtual page straight
//! to a host pointer; everything else (page walks, MMIO, HTIF, copy-on-write, pages crossing)
//! is in [`access`]'s slow paths. The TLB only ever holds RAM pages, write entries only pages
//! that are private to this machine, hold no decoded code and are not watched by a device.
pub mod access;
#[cfg(test)]
mod cow_tests;
pub mod pmp;
pub mod sv39;
pub(crate) mod tlb;
#[cfg(test)]
mod walk_tests;

pub use tlb::Tlb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Fetch,
    Load,
    Store,
}
