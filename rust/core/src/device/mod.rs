//! Devices a bare machine has besides RAM.
pub mod clint;
pub mod console;
pub mod htif;
