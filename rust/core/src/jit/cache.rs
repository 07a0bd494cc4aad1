//! Compiled code shared by content, process-wide: compile once per template, not per fork.
//!
//! A region's compiled code is a pure function of its blocks' offsets from the entry and their
//! instructions (op, registers, immediate, length; see `region`): every pc is the run-time
//! entry pc plus a constant, the TLB and the hart are reached through the function's arguments, and the interpreter handler of an instruction it does not
//! translate is found at run time in the region being run (`Ctx::region`), never baked in. So two
//! decoded blocks with the same instructions can run the same code, whichever hart, machine or
//! frame they came from: the forks of a shadow template, which share its frames copy-on-write,
//! find the code a sibling already compiled, and a fork that rewrites a code page decodes new
//! instructions, gets a different key and compiles (or finds) code for exactly those.
//!
//! The table is bounded: past [`MAX_ENTRIES`] it starts over. Blocks hold their code by `Arc`,
//! so dropping the table's references never frees code a block may still run.
use super::region::Member;
use super::Code;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Distinct blocks kept (about one page of executable memory each).
const MAX_ENTRIES: usize = 4096;

/// What the translator reads of a region: the instrumentation mode, then per member its
/// offset from the entry, length and whether it is foreign (`region`), then per instruction op, rd, rs1, rs2, length, immediate.
pub(super) type Key = Box<[u128]>;

/// Marks the start of a member in a key (instruction words use bits 0..72 only).
const MEMBER: u128 = 1 << 127;

/// `instr`: code instrumented for coverage (`cov`), a different function for the same
/// instructions; the key's first element says which.
pub(super) fn key(members: &[Member], instr: bool) -> Key {
    let mut k = Vec::with_capacity(1 + members.iter().map(|m| 1 + m.insns().len()).sum::<usize>());
    k.push(instr as u128);
    for m in members {
        k.push(MEMBER | m.foreign as u128 | (m.delta as u128) << 8 | (m.insns().len() as u128) << 80);
        k.extend(m.insns().iter().map(|p| {
            let i = p.unpack();
            (i.op as u8 as u128)
                | (i.rd as u128) << 8
                | (i.rs1 as u128) << 16
                | (i.rs2 as u128) << 24
                | (i.len as u128) << 32
                | (i.imm as u32 as u128) << 40
        }));
    }
    k.into_boxed_slice()
}

fn table() -> &'static Mutex<HashMap<Key, Arc<Code>>> {
    static T: OnceLock<Mutex<HashMap<Key, Arc<Code>>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// The code compiled for these instructions, if any block compiled them.
pub(super) fn get(key: &Key) -> Option<Arc<Code>> {
    // A poisoned lock only means a panic elsewhere while it was held; the map stays usable.
    table().lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
}

pub(super) fn put(key: Key, code: Arc<Code>) {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    if t.len() >= MAX_ENTRIES {
        t.clear();
    }
    t.insert(key, code);
}
