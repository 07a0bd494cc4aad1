//! Regions: the decoded blocks compiled together as one function.
//!
//! A region starts at a hot block (its entry) and takes in the blocks that direct branches and
//! `jal`s (or falling through) reach from it, as long as they lie in the same guest page and
//! the decode cache already holds them. Everything a region contains therefore comes from one
//! decoded page, which the decode cache drops as a whole (a write to the frame, `fence.i`, a
//! cache reset), so the region's code is dropped with its entry block and can never run a
//! block that no longer exists. Every pc in it is the entry pc plus a constant, as for single
//! blocks, so its code stays shareable by content (`cache`): the key is the members' offsets
//! from the entry and their instructions.
//!
//! A region may also take blocks of the neighbouring virtual pages (*foreign* members: loops
//! and functions that cross a page boundary). Their page can be dropped or remapped while the
//! entry's lives on, so the region enters a foreign member only while the chaining loop has
//! checked, for the current decode-cache epoch and entry pc, that the decode cache still gives
//! a block with the same instructions at that pc (`Slot::cross_ok`); otherwise it leaves there.
//!
//! With coverage or cmplog on, regions are single blocks (the instrumentation counts edges
//! between blocks outside compiled code).
use crate::hart::decode_cache::{Block, Page};
use crate::hart::packed::Packed;
use crate::isa::Op;

/// At most this many blocks and instructions per region: compile time grows with the size,
/// and a hot loop rarely needs more.
pub(crate) const MAX_BLOCKS: usize = 24;
pub(crate) const MAX_INSNS: usize = 256;

/// One block of a region: its start as an offset from the entry pc, and the block.
#[derive(Clone, Copy)]
pub(crate) struct Member {
    pub delta: u64,
    pub block: Block,
    /// In the page before or after the entry's (see the module comment): `block` is only
    /// valid while the chaining loop's check holds.
    pub foreign: bool,
}

impl Member {
    pub fn insns(&self) -> &[Packed] {
        // SAFETY: members are blocks of a live decoded page (see `form`); a region's blocks
        // live as long as its entry block.
        unsafe { &(*self.block).insns }
    }
}

/// Whether the translator emits `op` itself; the others run through their interpreter
/// handler (`helpers::exec`) and choose the next pc at run time.
pub(crate) fn translated(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Lui | Auipc | Jal | Jalr | Beq | Bne | Blt | Bge | Bltu | Bgeu | Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu | Sb
            | Sh | Sw | Sd | Addi | Slti | Sltiu | Xori | Ori | Andi | Slli | Srli | Srai | Add | Sub | Sll | Slt
            | Sltu | Xor | Srl | Sra | Or | And | Addiw | Slliw | Srliw | Sraiw | Addw | Subw | Sllw | Srlw
            | Sraw | Mul | Mulh | Mulhsu | Mulhu | Div | Divu | Rem | Remu | Mulw | Divw | Divuw | Remw
            | Remuw | Fence
    )
}

/// The offset from the entry of the block's last instruction, for a block starting at
/// `delta` (a block follows in-page `jal`s, so it is not a straight run).
pub(crate) fn last_delta(insns: &[Packed], delta: u64) -> u64 {
    let mut d = delta;
    for i in &insns[..insns.len() - 1] {
        d = if i.op() == Op::Jal { d.wrapping_add(i.imm() as i64 as u64) } else { d.wrapping_add(i.len()) };
    }
    d
}

/// Where the block starting at `delta` goes next, as offsets from the entry, when that is
/// known at compile time: a branch's two targets, a `jal`'s target, or the next instruction
/// after a block cut at its size limit or the page end. `jalr` and instructions run by their
/// interpreter handler decide at run time (none).
pub(crate) fn successors(insns: &[Packed], delta: u64) -> [Option<u64>; 2] {
    let l = insns.last().expect("a block has at least one instruction");
    let d = last_delta(insns, delta);
    let imm = l.imm() as i64 as u64;
    match l.op() {
        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
            [Some(d.wrapping_add(imm)), Some(d.wrapping_add(l.len()))]
        }
        Op::Jal => [Some(d.wrapping_add(imm)), None],
        Op::Jalr => [None, None],
        // F/D instructions are compiled too (`translate::fp`) and go on to the next one.
        op if translated(op) || op.is_fp() => [Some(d.wrapping_add(l.len())), None],
        _ => [None, None],
    }
}

/// The region entered at `entry` (page offset `off0`): the entry first, then the blocks of
/// `page` reachable from it, breadth first, and those of the neighbouring virtual pages
/// (`near`: the page before and the page after, as the decode cache maps them now), and the
/// blocks of instructions that straddle one of those page boundaries (`straddlers`, by offset
/// from the entry). `page` is None (or `single` set) for a one-block region.
pub(crate) fn form(
    page: Option<&Page>,
    near: [Option<&Page>; 2],
    straddlers: &[(u64, Block)],
    entry: Block,
    off0: u64,
    single: bool,
) -> Vec<Member> {
    let mut members = vec![Member { delta: 0, block: entry, foreign: false }];
    let Some(page) = page else { return members };
    if single {
        return members;
    }
    // Only blocks that ran at least an eighth as often as the entry (interpreted, so far):
    // cold paths (error handling, rare cases) would only add compile time.
    // SAFETY: as in `Member::insns`.
    let entry_hits = unsafe { (*entry).jit.hits } as u64;
    let mut total = members[0].insns().len();
    let mut i = 0;
    while i < members.len() {
        let m = members[i];
        for s in successors(m.insns(), m.delta).into_iter().flatten() {
            if members.len() >= MAX_BLOCKS || members.iter().any(|m| m.delta == s) {
                continue;
            }
            // The target's offset from the entry's page start, without wrapping: in that page,
            // or in the one before or after it.
            let off = (off0 as i64).wrapping_add(s as i64);
            let (pg, off, foreign) = match off {
                0..0x1000 => (Some(page), off, false),
                0x1000..0x2000 => (near[1], off - 0x1000, true),
                -0x1000..0 => (near[0], off + 0x1000, true),
                _ => continue,
            };
            // A straddling instruction is no page's block: it depends on two frames, so it is
            // a foreign member wherever it is.
            let (b, foreign) = match pg.and_then(|p| p.block_at(off as u64)) {
                Some(b) => (b, foreign),
                None => match straddlers.iter().find(|x| x.0 == s) {
                    Some(&(_, b)) => (b, true),
                    None => continue,
                },
            };
            // SAFETY: as in `Member::insns`.
            if 8 * unsafe { (*b).jit.hits } as u64 <= entry_hits.saturating_sub(1) {
                continue;
            }
            let member = Member { delta: s, block: b, foreign };
            let n = member.insns().len();
            if total + n > MAX_INSNS {
                continue;
            }
            total += n;
            members.push(member);
        }
        i += 1;
    }
    members
}
