//! What the stub's enclave tests share: bundled enclaves, running a target to its next stop.
#![allow(dead_code)] // each test file uses its own part

use gdbstub::stub::SingleThreadStopReason as Stop;
use pltvm_gdb::target::DebugTarget;
use pltvm_gdb::Debuggee;
use std::path::Path;

/// A bundled enclave ELF (python/pltvm/enclaves).
pub fn bundled(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/pltvm/enclaves")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// gdb's `continue`: one step (off a breakpoint), then chunks of `chunk` instructions until a
/// stop.
pub fn cont<D: Debuggee>(t: &mut DebugTarget<'_, D>, chunk: u64) -> Stop<u64> {
    if let Some(s) = t.step_one() {
        return s;
    }
    loop {
        if let Some(s) = t.run_chunk(chunk) {
            return s;
        }
    }
}
