//! Regions with several entries: a compiled region also runs from the start of each of its
//! later members in the entry's own page, so a loop entered at another of its blocks (after a
//! return, a trap handler's `mret`, a call) runs the code compiled for it instead of
//! compiling an overlapping region of its own.
//!
//! Its own test binary (process): it needs the default compile threshold, which the other jit
//! tests lower process-wide to 1 (at 1 every block compiles as the entry of its own region
//! before its successors are even decoded, so no region would have later members to enter).
mod support;

use pltvm_core::jit::{self, Engine};
use pltvm_core::machine::{Exit, Machine};
use support::bare::*;

/// The three-block loop of the differential tests (x5 counts rounds, the third block starts
/// at +28 and adds x14 to x10 each round), with the third block's `addi x12` turned into
/// `auipc x12, 0`: its value depends on the pc the block runs at.
fn loop_code() -> Vec<u32> {
    let mut code = three_block_loop(false);
    code[8] = 12 << 7 | 0x17;
    code
}

fn machine(engine: Engine, origin: u64) -> Machine {
    let mut m = Machine::bare(RAM, false);
    m.hart.engine = engine;
    let bytes: Vec<u8> = loop_code().iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_segment(origin, &bytes, bytes.len() as u64).unwrap();
    m.hart.pc = origin;
    m.hart.x[14] = 3;
    m
}

#[test]
fn a_region_entered_at_a_later_member_runs_its_code_from_there() {
    jit::set_background(false);
    let jit = Engine::jit_supported();
    // The same code at two places: the second time it is found compiled by content and runs
    // from another pc, so the entry offset must be applied to the run-time pc.
    for origin in [CODE, CODE + 0x1000 + 0x100] {
        let third = origin + 28;
        let (mut a, mut j) = (machine(Engine::Interp, origin), machine(Engine::Jit, origin));
        // 400 rounds of 9 instructions: the first block reaches the threshold (200) after
        // every block is decoded and hot, so its region takes the other two as members.
        let (compiled, joined) = (jit::compiled_on_this_thread(), jit::joined_on_this_thread());
        assert_eq!((a.run(3600), j.run(3600)), (Exit::Budget, Exit::Budget));
        assert_eq!((a.hart.x, a.hart.pc), (j.hart.x, j.hart.pc));
        let (compiled, joined) = (jit::compiled_on_this_thread() - compiled, jit::joined_on_this_thread() - joined);
        if origin == CODE {
            assert_eq!((compiled, joined), (jit as u64, 2 * jit as u64), "one region of three blocks");
        }
        // Sent to the third block, as a handler's mret would: it runs the region from there.
        for m in [&mut a, &mut j] {
            m.hart.pc = third;
        }
        let before = (jit::compiled_on_this_thread(), jit::reused_on_this_thread());
        assert_eq!((a.run(9000), j.run(9000)), (Exit::Budget, Exit::Budget));
        assert_eq!((a.hart.x, a.hart.pc, a.hart.retired), (j.hart.x, j.hart.pc, j.hart.retired), "{origin:#x}");
        assert_eq!(j.hart.x[12], third + 4, "the auipc ran at {third:#x}");
        assert_eq!(
            (jit::compiled_on_this_thread(), jit::reused_on_this_thread()),
            before,
            "the third block compiled or looked up a region of its own"
        );
    }
}
