//! The persistent (path-copying) radix tree of frames under a [`PhysMem`](super::PhysMem).
//!
//! Cloning a [`Tree`] clones one `Arc`: the copies share every node and frame. Changing a slot
//! copies the nodes on its path that are shared (`Arc::make_mut`), which costs a 512-byte copy
//! and 64 reference-count increments per node; `PhysMem` batches such changes in its overlay so
//! that a short-lived fork never pays for it.
use super::{Frame, FANOUT, FANOUT_BITS, LEVELS, MAX_PPN};
use std::sync::Arc;

#[derive(Clone)]
pub(super) enum Node {
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

/// `Arc::get_mut` without its compare-and-swap, which costs more than the rest of a TLB refill
/// (seven of them per store miss). Sound here because no `Weak` of a node or frame is ever
/// made (nothing in the crate calls `Arc::downgrade`): with `&mut` to the only strong
/// reference, nobody else can reach the value or make a new reference to it. The acquire fence
/// pairs with the release decrement of whoever dropped the last other reference, so their
/// reads of the value happen before our writes.
#[inline(always)]
pub(super) fn unique_mut<T>(a: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(a) != 1 || Arc::weak_count(a) != 0 {
        return None;
    }
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    // SAFETY: see above: this `Arc` is the value's only reference and we hold it mutably.
    Some(unsafe { &mut *(Arc::as_ptr(a) as *mut T) })
}

#[derive(Clone)]
pub(super) struct Tree {
    root: Arc<Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree { root: Arc::new(Node::new(LEVELS - 1)) }
    }
}

impl Tree {
    /// The frame at `ppn` (`ppn < MAX_PPN`).
    pub(super) fn get(&self, ppn: u64) -> Option<&Arc<Frame>> {
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

    /// Whether the frame at `ppn` can be reached from another tree (a shared node on its path or
    /// a shared frame). False if absent.
    pub(super) fn is_shared(&self, ppn: u64) -> bool {
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
                Node::Leaf(frames) => return frames[index(ppn, 0)].as_ref().is_some_and(|f| Arc::strong_count(f) > 1),
            }
            level -= 1;
        }
    }

    /// The frame at `ppn` for writing in place, if this tree alone owns it and every node above
    /// it (nothing is copied; None otherwise). A fork's tree is shared at its root, so for a
    /// fork this returns at the first test.
    pub(super) fn private_mut(&mut self, ppn: u64) -> Option<*mut Frame> {
        let mut node = unique_mut(&mut self.root)?;
        let mut level = LEVELS - 1;
        loop {
            match node {
                Node::Inner(children) => node = unique_mut(children[index(ppn, level)].as_mut()?)?,
                Node::Leaf(frames) => return unique_mut(frames[index(ppn, 0)].as_mut()?).map(|f| f as *mut Frame),
            }
            level -= 1;
        }
    }

    /// Whether no other tree shares this one's root (then a changed slot copies only the
    /// nodes below it that are shared).
    pub(super) fn root_unique(&mut self) -> bool {
        unique_mut(&mut self.root).is_some()
    }

    /// The slot for `ppn`, with every node on the path made private to this tree.
    pub(super) fn slot_mut(&mut self, ppn: u64) -> &mut Option<Arc<Frame>> {
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

    /// Page numbers in `[start, end)` that have a frame, ascending. The walk skips absent
    /// subtrees, so it costs in proportion to the frames present, not to the range.
    pub(super) fn present_in(&self, start: u64, end: u64) -> Vec<u64> {
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
}
