//! Where a region's code starts in its mapping: 0 or 16 bytes in, whichever puts fewer of its
//! loops' jumps across or at the end of a 32-byte boundary.
//!
//! On the Intel cores with the jump-boundary erratum fix (Skylake and its successors), a jump
//! (with a compare fused to it) that crosses or ends at a 32-byte boundary is not kept in the
//! decoded-instruction cache, so a loop with one runs from the legacy decoders. Cranelift has no
//! say in it (it pads nothing). Moving the whole function changes which jumps are hit: sieve's
//! region ran at 1,840-1,980 MIPS placed 0 or 32 bytes in and at 2,540-2,730 placed 16, 24, 48
//! or 56 bytes in (`jit_bench`, docs/jit.md). The shift stays a multiple of 16, the alignment
//! Cranelift's constant pool assumes.
use cranelift_codegen::binemit::CodeOffset;

/// The offset (0 or 16) to place code at, from its blocks' starts and its control-flow edges
/// (Cranelift's `machine_code_cfg_info`) and its length.
pub(super) fn offset(starts: &[CodeOffset], edges: &[(CodeOffset, CodeOffset)], len: usize) -> usize {
    let len = len as CodeOffset;
    let end_of = |s: CodeOffset| starts.iter().copied().find(|&t| t > s).unwrap_or(len);
    // Loops: a backward edge's span, weighted so that small (inner) loops count most.
    let loops: Vec<(CodeOffset, CodeOffset, u64)> = edges
        .iter()
        .filter(|&&(from, to)| to <= from)
        .map(|&(from, to)| {
            let end = end_of(from);
            (to, end, 1 + (1 << 16) / u64::from(end - to).max(1))
        })
        .collect();
    // Blocks that end in a jump: with an edge to some block other than the next one.
    let jumps: Vec<CodeOffset> = starts
        .iter()
        .filter_map(|&s| {
            let end = end_of(s);
            edges.iter().any(|&(from, to)| from == s && to != end).then_some(end)
        })
        .collect();
    let cost = |pad: CodeOffset| -> u64 {
        jumps
            .iter()
            .filter(|&&end| (end + pad) % 32 < 8)
            .map(|&end| loops.iter().filter(|&&(lo, hi, _)| lo < end && end <= hi).map(|l| l.2).sum::<u64>())
            .sum()
    };
    if cost(16) < cost(0) {
        16
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::offset;

    #[test]
    fn a_loops_jump_at_a_32_byte_boundary_moves_the_code_16_bytes_in() {
        // Blocks at 0, 8 and 32; the block at 8 loops on itself, its jump ending at 32.
        assert_eq!(offset(&[0, 8, 32], &[(0, 8), (8, 8), (8, 32)], 40), 16);
        // Ending at 48 instead, it would end at 64 placed 16 bytes in.
        assert_eq!(offset(&[0, 8, 48], &[(0, 8), (8, 8), (8, 48)], 56), 0);
        // A jump at a boundary outside any loop does not count.
        assert_eq!(offset(&[0, 32, 40], &[(0, 40), (32, 40)], 48), 0);
    }
}
