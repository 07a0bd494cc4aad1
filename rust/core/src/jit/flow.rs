//! What the translator knows about a region before emitting it: which registers may be dirty
//! at each member's head, and the region's loops.
use super::fp;
use crate::hart::packed::Packed;

/// Per member, the registers that may differ from the hart's copy at its head: those written
/// on some path from the function's entry (which loads every register, whichever member it
/// enters at) through other members to it. A union over the region's edges to a fixed point:
/// a member may leave dirty what was dirty at its head plus what it writes (a handler call in
/// it cleans everything, which this ignores: a superset is safe). A member's successors are
/// where `Tx::member` ends it with `goto`: the offsets the region former follows
/// (`region::successors`).
/// A register clean at a head is stored at no exit before its first write, and its value is
/// not kept live to those exits: exits are most of a region's IR and of regalloc's work.
///
/// Then, inside a loop, only the registers the loop writes stay dirty: the edge into the loop
/// stores the others (`Tx::goto` stores whatever its target takes as clean).
pub(super) fn head_dirty(members: &[(u64, bool, &[Packed])], loops: &[Loop]) -> Vec<u32> {
    let mut head = head_dirty_by(members, x_writes);
    for (j, h) in head.iter_mut().enumerate() {
        let at = members[j].0 as i64;
        if let Some(l) = loops.iter().filter(|l| l.holds(at)).min_by_key(|l| l.hi - l.lo) {
            *h &= l.writes;
        }
    }
    head
}

/// The x register an instruction writes, as a mask (as `compile`'s declaration loop: F/D
/// register fields name f registers).
fn x_writes(i: &Packed) -> u32 {
    (1 << if i.op().is_fp() { fp::x_regs(i)[1] } else { i.rd() }) & !1
}

/// The x registers an instruction reads or writes.
fn x_uses(i: &Packed) -> u32 {
    let [a, b, c] = if i.op().is_fp() {
        let [x_in, x_out] = fp::x_regs(i);
        [x_in, x_out, 0]
    } else {
        [i.rd(), i.rs1(), i.rs2()]
    };
    (1 << a | 1 << b | 1 << c) & !1
}

/// A loop of the region: a backward edge's span, the members from its target's offset to its
/// source's (offsets signed: a foreign member of the page before is below the entry), and the
/// x registers its members write and use.
///
/// Inside sieve's inner loop, the outer loop's registers were dirty, so every exit of the
/// inner loop stored them: live through it, they took host registers and regalloc moved them
/// around in the loop (two reloads and three spills per round of a 4-instruction loop). Now
/// the edge into a loop stores what it does not write (`head_dirty`) and an edge out of it
/// reloads what it does not use (`Tx::goto`), so those values are not live inside at all.
pub(super) struct Loop {
    lo: i64,
    hi: i64,
    writes: u32,
    pub uses: u32,
}

impl Loop {
    pub fn holds(&self, at: i64) -> bool {
        self.lo <= at && at <= self.hi
    }
}

pub(super) fn loops(members: &[(u64, bool, &[Packed])]) -> Vec<Loop> {
    let mut loops = Vec::new();
    for &(start, _, insns) in members {
        for to in super::super::region::successors(insns, start).into_iter().flatten() {
            if (to as i64) <= start as i64 && members.iter().any(|m| m.0 == to) {
                let (lo, hi) = (to as i64, start as i64);
                let body = members.iter().filter(|m| lo <= m.0 as i64 && m.0 as i64 <= hi).flat_map(|m| m.2.iter());
                let (writes, uses) = body.fold((0, 0), |(w, u), i| (w | x_writes(i), u | x_uses(i)));
                loops.push(Loop { lo, hi, writes, uses });
            }
        }
    }
    loops
}

/// `head_dirty` for the registers each instruction writes by `writes` (a mask): x registers
/// here, f registers in `fp::head_fdirty`.
pub(super) fn head_dirty_by(members: &[(u64, bool, &[Packed])], writes: impl Fn(&Packed) -> u32) -> Vec<u32> {
    let edges: Vec<_> = members
        .iter()
        .map(|&(start, _, insns)| (insns.iter().fold(0u32, |w, i| w | writes(i)), super::super::region::successors(insns, start)))
        .collect();
    let mut head = vec![0u32; members.len()];
    loop {
        let mut changed = false;
        for (i, (writes, succ)) in edges.iter().enumerate() {
            let out = head[i] | writes;
            for (j, m) in members.iter().enumerate() {
                if succ.contains(&Some(m.0)) && head[j] | out != head[j] {
                    head[j] |= out;
                    changed = true;
                }
            }
        }
        if !changed {
            return head;
        }
    }
}
