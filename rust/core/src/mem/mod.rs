//! Physical memory as 4 KiB frames behind a persistent (path-copying) radix tree.
//!
//! Cloning a [`PhysMem`] clones one `Arc`: the two copies share every frame until one of them
//! writes, and then only the frames (and the tree nodes above them) on that path are copied.
//! This is what makes fork O(1) in the image size.
use std::sync::Arc;

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
pub const PAGE_MASK: u64 = PAGE_SIZE as u64 - 1;

pub type Frame = [u8; PAGE_SIZE];

/// 64-way nodes (512 bytes): a first write to a shared frame copies six small nodes and
/// re-counts at most 64 shared references per level, instead of 4 KiB nodes with 512 each.
const FANOUT_BITS: u32 = 6;
const FANOUT: usize = 1 << FANOUT_BITS;
/// Six levels of 6 bits: physical page numbers below 2^36, i.e. 48-bit physical addresses.
const LEVELS: u32 = 6;
pub const MAX_PPN: u64 = 1 << (FANOUT_BITS * LEVELS);

#[derive(Clone)]
enum Node {
    Inner([Option<Arc<Node>>; FANOUT]),
    Leaf([Option<Arc<Frame>>; FANOUT]),
}

impl Node {
    fn new(level: u32) -> Node {
        if level == 0 {
            Node::Leaf([const { None }; FANOUT])
        } else {
            Node::Inner([const { None }; FANOUT])
        }
    }
}

fn index(ppn: u64, level: u32) -> usize {
    ((ppn >> (FANOUT_BITS * level)) as usize) & (FANOUT - 1)
}

/// A sparse physical address space of frames.
#[derive(Clone)]
pub struct PhysMem {
    root: Arc<Node>,
    frames: usize,
}

impl Default for PhysMem {
    fn default() -> Self {
        PhysMem { root: Arc::new(Node::new(LEVELS - 1)), frames: 0 }
    }
}

impl PhysMem {
    /// Number of frames present.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The frame at `ppn`, shared or not.
    pub fn get(&self, ppn: u64) -> Option<&Arc<Frame>> {
        if ppn >= MAX_PPN {
            return None;
        }
        let mut node = &*self.root;
        let mut level = LEVELS - 1;
        loop {
            match node {
                Node::Inner(children) => node = children[index(ppn, level)].as_deref()?,
                Node::Leaf(frames) => return frames[index(ppn, 0)].as_ref(),
            }
            level -= 1;
        }
    }

    /// Whether the frame at `ppn` is shared with another `PhysMem`, directly or through a
    /// shared tree node above it.
    pub fn is_shared(&self, ppn: u64) -> bool {
        if ppn >= MAX_PPN {
            return false;
        }
        let mut node = &self.root;
        let mut level = LEVELS - 1;
        loop {
            if Arc::strong_count(node) > 1 {
                return true;
            }
            match &**node {
                Node::Inner(children) => match &children[index(ppn, level)] {
                    Some(child) => node = child,
                    None => return false,
                },
                Node::Leaf(frames) => {
                    return frames[index(ppn, 0)].as_ref().is_some_and(|f| Arc::strong_count(f) > 1)
                }
            }
            level -= 1;
        }
    }

    /// The slot for `ppn`, with every node on the path made private to this tree.
    fn slot_mut(&mut self, ppn: u64) -> &mut Option<Arc<Frame>> {
        let mut node = Arc::make_mut(&mut self.root);
        let mut level = LEVELS - 1;
        loop {
            match node {
                Node::Inner(children) => {
                    let child = children[index(ppn, level)].get_or_insert_with(|| Arc::new(Node::new(level - 1)));
                    node = Arc::make_mut(child);
                }
                Node::Leaf(frames) => return &mut frames[index(ppn, 0)],
            }
            level -= 1;
        }
    }

    /// The frame at `ppn` for writing: a zero frame is created if absent, a shared frame is
    /// copied first (copy-on-write). Returns the frame and whether a copy or allocation happened.
    pub fn get_mut(&mut self, ppn: u64) -> Option<(&mut Frame, bool)> {
        if ppn >= MAX_PPN {
            return None;
        }
        let mut created = false;
        let slot = self.slot_mut(ppn);
        let frame = slot.get_or_insert_with(|| {
            created = true;
            Arc::new([0u8; PAGE_SIZE])
        });
        let copied = Arc::strong_count(frame) > 1;
        let data: *mut Frame = Arc::make_mut(frame);
        if created {
            self.frames += 1;
        }
        // SAFETY: `data` points into a frame now owned by this tree alone; the only other
        // access path to it is through `&mut self`, which the returned borrow holds.
        Some((unsafe { &mut *data }, created || copied))
    }

    /// Page numbers in `[start, end)` that have a frame, ascending. The walk skips absent
    /// subtrees, so it costs in proportion to the frames present, not to the range.
    pub fn present_in(&self, start: u64, end: u64) -> Vec<u64> {
        fn walk(node: &Node, level: u32, base: u64, start: u64, end: u64, out: &mut Vec<u64>) {
            match node {
                Node::Inner(children) => {
                    let span = 1u64 << (FANOUT_BITS * level);
                    for (i, c) in children.iter().enumerate() {
                        let b = base + i as u64 * span;
                        if let Some(c) = c.as_deref().filter(|_| b < end && b + span > start) {
                            walk(c, level - 1, b, start, end, out);
                        }
                    }
                }
                Node::Leaf(frames) => {
                    for (i, f) in frames.iter().enumerate() {
                        let p = base + i as u64;
                        if f.is_some() && p >= start && p < end {
                            out.push(p);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, LEVELS - 1, 0, start, end.min(MAX_PPN), &mut out);
        out
    }

    /// Drops the frame at `ppn` (it stays alive for other trees sharing it).
    pub fn remove(&mut self, ppn: u64) -> bool {
        if self.get(ppn).is_none() {
            return false;
        }
        *self.slot_mut(ppn) = None;
        self.frames -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_frames_read_as_none_and_write_creates_zeroed() {
        let mut m = PhysMem::default();
        assert!(m.get(0x80000).is_none());
        let (f, fresh) = m.get_mut(0x80000).unwrap();
        assert!(fresh);
        assert!(f.iter().all(|&b| b == 0));
        f[5] = 7;
        assert_eq!(m.get(0x80000).unwrap()[5], 7);
        assert_eq!(m.frames(), 1);
        assert!(m.get_mut(MAX_PPN).is_none());
    }

    #[test]
    fn clone_shares_until_first_write_then_copies_one_frame() {
        let mut a = PhysMem::default();
        for ppn in 0..100 {
            a.get_mut(ppn).unwrap().0[0] = ppn as u8;
        }
        let mut b = a.clone();
        assert!(b.is_shared(3));
        let (f, copied) = b.get_mut(3).unwrap();
        assert!(copied);
        f[0] = 0xee;
        assert_eq!(a.get(3).unwrap()[0], 3, "parent unchanged");
        assert_eq!(b.get(3).unwrap()[0], 0xee);
        assert!(!b.is_shared(3));
        assert!(b.is_shared(4), "other frames still shared");
        let (_, copied_again) = b.get_mut(3).unwrap();
        assert!(!copied_again);
        drop(a);
        assert!(!b.is_shared(4), "dropping the parent leaves the child sole owner");
    }

    #[test]
    fn present_in_walks_only_what_is_there() {
        let mut m = PhysMem::default();
        for ppn in [0, 63, 64, 4095, 4096, 1 << 30, MAX_PPN - 1] {
            m.get_mut(ppn).unwrap();
        }
        assert_eq!(m.present_in(0, u64::MAX), vec![0, 63, 64, 4095, 4096, 1 << 30, MAX_PPN - 1]);
        assert_eq!(m.present_in(63, 4096), vec![63, 64, 4095]);
        assert_eq!(m.present_in(65, 4095), Vec::<u64>::new());
        assert_eq!(m.present_in(MAX_PPN, u64::MAX), Vec::<u64>::new());
    }

    #[test]
    fn remove_keeps_other_trees_intact() {
        let mut a = PhysMem::default();
        a.get_mut(9).unwrap().0[1] = 1;
        let mut b = a.clone();
        assert!(b.remove(9));
        assert!(!b.remove(9));
        assert!(b.get(9).is_none());
        assert_eq!(a.get(9).unwrap()[1], 1);
        assert_eq!((a.frames(), b.frames()), (1, 0));
    }
}
