//! Physical memory as 4 KiB frames: a persistent radix tree shared copy-on-write, with a small
//! private overlay of the frames written since.
//!
//! Cloning a [`PhysMem`] clones one `Arc` (the tree's root): the two copies share every frame
//! until one of them writes. A write to a frame this memory does not own alone puts a private
//! copy (or, for an absent frame, a zeroed one) in the *overlay*, a short list that lookups
//! check before the tree. A fork instance writes a handful of frames, so its whole private
//! state is that list: forking copies no tree node, and destroying it frees the list's frames
//! and drops one reference to the template's tree, instead of path-copying 64-way nodes on each
//! first write (64 atomic reference-count increments per node) and undoing it all on drop.
//!
//! When the overlay passes [`OVERLAY_MAX`] entries it is folded into the tree (path copying as
//! before, once for many frames), so an enclave that writes thousands of pages ends up with a
//! private tree whose frames it writes in place. A memory whose tree root nobody shares (not a
//! fork, or a fork past its first fold) has no overlay at all: new frames go straight into the
//! tree, so lookups (every TLB refill) do not search a list first. A clone folds the source's
//! overlay into the clone's tree, so the memory of a template (a clone) never carries an
//! overlay and each fork of it starts with an empty one.
//!
//! Copy-on-write is exact: a frame is written in place only when this memory is its only owner
//! (an overlay frame with one reference, or a tree frame with one reference under nodes that
//! have one reference each); anything else is copied first.
mod pool;
mod tree;

use std::sync::Arc;
use tree::Tree;

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
pub const PAGE_MASK: u64 = PAGE_SIZE as u64 - 1;

pub type Frame = [u8; PAGE_SIZE];

/// 64-way nodes (512 bytes): a path copy re-counts at most 64 shared references per level,
/// instead of 512 with 4 KiB nodes.
const FANOUT_BITS: u32 = 6;
const FANOUT: usize = 1 << FANOUT_BITS;
/// Six levels of 6 bits: physical page numbers below 2^36, i.e. 48-bit physical addresses.
const LEVELS: u32 = 6;
pub const MAX_PPN: u64 = 1 << (FANOUT_BITS * LEVELS);

/// Overlay entries before a fold into the tree. A fork of a small enclave that runs to its end
/// writes well under this many frames (stack, kbuffer, a few data and page-table pages); the
/// linear search over the list stays a few nanoseconds.
pub const OVERLAY_MAX: usize = 32;

fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A sparse physical address space of frames.
pub struct PhysMem {
    tree: Tree,
    /// Frames written since the last fold: `(ppn, frame)`, at most one entry per ppn, shadowing
    /// the tree's slot; `None` marks a frame removed from this memory (absent even if the tree
    /// has one).
    over: Vec<(u64, Option<Arc<Frame>>)>,
    frames: usize,
    /// A new value, unique process-wide, whenever a frame of this memory is created, replaced
    /// (copy on write) or removed, and for each new memory (clones included): whoever saw the
    /// same generation before, on any memory, knows it is this memory and its frames then.
    generation: u64,
}

impl Default for PhysMem {
    fn default() -> Self {
        PhysMem { tree: Tree::default(), over: Vec::new(), frames: 0, generation: next_generation() }
    }
}

impl Clone for PhysMem {
    /// Shares every frame. The clone's tree takes the source's overlay in (the source keeps
    /// its own), so a clone starts without an overlay.
    fn clone(&self) -> Self {
        let mut m = PhysMem { tree: self.tree.clone(), over: self.over.clone(), frames: self.frames, generation: next_generation() };
        m.fold();
        m
    }
}

impl Drop for PhysMem {
    fn drop(&mut self) {
        for (_, f) in self.over.drain(..) {
            if let Some(f) = f {
                pool::give(f);
            }
        }
    }
}

impl PhysMem {
    /// Number of frames present.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Changes with every frame creation, replacement and removal (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Entries in the overlay (private frames written since the last fold).
    pub fn overlay_len(&self) -> usize {
        self.over.len()
    }

    #[inline]
    fn find(&self, ppn: u64) -> Option<usize> {
        self.over.iter().position(|e| e.0 == ppn)
    }

    /// The frame at `ppn`, shared or not.
    pub fn get(&self, ppn: u64) -> Option<&Arc<Frame>> {
        if ppn >= MAX_PPN {
            return None;
        }
        match self.find(ppn) {
            Some(i) => self.over[i].1.as_ref(),
            None => self.tree.get(ppn),
        }
    }

    /// Whether the frame at `ppn` is shared with another `PhysMem`, directly or through a
    /// shared tree node above it.
    pub fn is_shared(&self, ppn: u64) -> bool {
        if ppn >= MAX_PPN {
            return false;
        }
        match self.find(ppn) {
            Some(i) => self.over[i].1.as_ref().is_some_and(|f| Arc::strong_count(f) > 1),
            None => self.tree.is_shared(ppn),
        }
    }

    /// The frame at `ppn` for writing: a zero frame is created if absent, a shared frame is
    /// copied first (copy-on-write). Returns the frame and whether a copy or allocation happened.
    pub fn get_mut(&mut self, ppn: u64) -> Option<(&mut Frame, bool)> {
        if ppn >= MAX_PPN {
            return None;
        }
        let (data, fresh): (*mut Frame, bool) = if let Some(i) = self.find(ppn) {
            let slot = &mut self.over[i].1;
            let fresh = match slot {
                None => {
                    *slot = Some(pool::zeroed());
                    self.frames += 1;
                    true
                }
                Some(f) if Arc::strong_count(f) > 1 || Arc::weak_count(f) > 0 => {
                    *f = pool::copy_of(f);
                    true
                }
                Some(_) => false,
            };
            let f = slot.as_mut().expect("just filled");
            (Arc::get_mut(f).expect("private") as *mut Frame, fresh)
        } else if let Some(p) = self.tree.private_mut(ppn) {
            (p, false)
        } else {
            let unique = self.tree.root_unique();
            if unique && !self.over.is_empty() {
                // What shared the tree is gone: the overlay would only lengthen every lookup.
                self.fold();
            }
            let mut f = match self.tree.get(ppn) {
                Some(old) => pool::copy_of(old),
                None => {
                    self.frames += 1;
                    pool::zeroed()
                }
            };
            let p = Arc::get_mut(&mut f).expect("private") as *mut Frame;
            if unique {
                // Nobody shares the root (not a fork, or one whose overlay was folded): the
                // frame goes straight into the tree, path copying only nodes still shared.
                *self.tree.slot_mut(ppn) = Some(f);
            } else {
                self.over.push((ppn, Some(f)));
                if self.over.len() > OVERLAY_MAX {
                    // Moves the `Arc`s, not the frames: `p` stays valid.
                    self.fold();
                }
            }
            (p, true)
        };
        if fresh {
            self.generation = next_generation();
        }
        // SAFETY: `data` points into a frame that this memory alone owns (one reference, held
        // by the overlay or by private tree nodes); the only other access path to it is through
        // `&mut self`, which the returned borrow holds.
        Some((unsafe { &mut *data }, fresh))
    }

    /// Moves the overlay into the tree (path copying the slots it names).
    fn fold(&mut self) {
        for (ppn, f) in std::mem::take(&mut self.over) {
            if f.is_none() && self.tree.get(ppn).is_none() {
                continue;
            }
            *self.tree.slot_mut(ppn) = f;
        }
    }

    /// Page numbers in `[start, end)` that have a frame, ascending. Costs in proportion to the
    /// frames present, not to the range.
    pub fn present_in(&self, start: u64, end: u64) -> Vec<u64> {
        let mut out = self.tree.present_in(start, end);
        for (ppn, f) in &self.over {
            if *ppn < start || *ppn >= end {
                continue;
            }
            match (out.binary_search(ppn), f) {
                (Err(i), Some(_)) => out.insert(i, *ppn),
                (Ok(i), None) => {
                    out.remove(i);
                }
                _ => {}
            }
        }
        out
    }

    /// Drops the frame at `ppn` (it stays alive for other memories sharing it).
    pub fn remove(&mut self, ppn: u64) -> bool {
        if ppn >= MAX_PPN {
            return false;
        }
        match self.find(ppn) {
            Some(i) => match self.over[i].1.take() {
                Some(f) => pool::give(f),
                None => return false,
            },
            None => {
                if self.tree.get(ppn).is_none() {
                    return false;
                }
                if self.tree.root_unique() {
                    if let Some(f) = self.tree.slot_mut(ppn).take() {
                        pool::give(f);
                    }
                } else {
                    self.over.push((ppn, None));
                    if self.over.len() > OVERLAY_MAX {
                        self.fold();
                    }
                }
            }
        }
        self.frames -= 1;
        self.generation = next_generation();
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
    fn generation_moves_exactly_when_a_frame_is_created_replaced_or_removed() {
        let mut a = PhysMem::default();
        let g0 = a.generation();
        a.get_mut(3).unwrap().0[0] = 1;
        let g1 = a.generation();
        assert_ne!(g0, g1, "created");
        a.get_mut(3).unwrap().0[0] = 2;
        assert_eq!(a.generation(), g1, "written in place");
        let _ = a.get(3);
        let mut b = a.clone();
        assert_eq!(a.generation(), g1, "cloning does not move the source's frames");
        assert!(b.generation() != g1 && b.generation() != g0, "another memory never shares a value");
        let gb = b.generation();
        b.get_mut(3).unwrap().0[0] = 3;
        assert_ne!(b.generation(), gb, "copied on write");
        a.get_mut(3).unwrap().0[0] = 4;
        assert_ne!(a.generation(), g1, "the source copies too: b holds its frame");
        let g2 = a.generation();
        assert!(!a.remove(9));
        assert_eq!(a.generation(), g2, "nothing removed");
        assert!(a.remove(3));
        assert_ne!(a.generation(), g2, "removed");
    }

    /// A memory nobody shares keeps no overlay (every refill would search it first), and
    /// copy-on-write stays exact when it writes straight into its tree.
    #[test]
    fn an_unshared_memory_writes_into_its_tree_and_still_copies_shared_frames() {
        let mut a = PhysMem::default();
        for ppn in 0..(OVERLAY_MAX as u64 * 3) {
            a.get_mut(ppn).unwrap().0[0] = 1;
            assert_eq!(a.overlay_len(), 0, "ppn {ppn}");
        }
        let b = a.clone();
        let (f, fresh) = a.get_mut(5).unwrap();
        assert!(fresh, "shared with b: copied");
        f[0] = 9;
        assert_eq!(a.overlay_len(), 1, "a shared tree takes the overlay");
        assert_eq!((a.get(5).unwrap()[0], b.get(5).unwrap()[0]), (9, 1));
        drop(b);
        let (f, fresh) = a.get_mut(7).unwrap();
        assert!(!fresh, "b is gone: a owns every frame again");
        f[0] = 8;
        assert!(a.get_mut(1000).unwrap().1);
        assert_eq!(a.overlay_len(), 0, "the overlay was folded once the tree was a's alone");
        assert_eq!((a.get(5).unwrap()[0], a.get(7).unwrap()[0], a.frames()), (9, 8, OVERLAY_MAX * 3 + 1));
        assert!(a.remove(7) && a.get(7).is_none() && a.overlay_len() == 0);
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

    #[test]
    fn a_clone_writes_into_its_overlay_and_leaves_the_source_alone() {
        let mut tpl = PhysMem::default();
        for ppn in 0..200 {
            tpl.get_mut(ppn).unwrap().0[7] = ppn as u8;
        }
        let tpl = tpl.clone();
        assert_eq!(tpl.overlay_len(), 0, "a clone starts without an overlay");
        let mut a = tpl.clone();
        let (f, fresh) = a.get_mut(5).unwrap();
        assert!(fresh);
        assert_eq!(f[7], 5, "a copy of the template's frame");
        f[7] = 0xaa;
        let (f, fresh) = a.get_mut(5).unwrap();
        assert!(!fresh, "the overlay frame is private now");
        assert_eq!(f[7], 0xaa);
        assert!(a.get_mut(1000).unwrap().1, "an absent frame is created zeroed");
        assert_eq!((a.overlay_len(), a.frames(), tpl.frames()), (2, 201, 200));
        assert_eq!(tpl.get(5).unwrap()[7], 5);
        assert!(tpl.get(1000).is_none());
        assert!(!a.is_shared(5) && a.is_shared(6) && !a.is_shared(1000));
    }

    #[test]
    fn the_overlay_folds_past_its_bound_and_folded_frames_are_written_in_place() {
        let mut tpl = PhysMem::default();
        for ppn in 0..100 {
            tpl.get_mut(ppn).unwrap().0[0] = 1;
        }
        let tpl = tpl.clone();
        let mut a = tpl.clone();
        for ppn in 0..(OVERLAY_MAX as u64 + 5) {
            a.get_mut(ppn * 3).unwrap().0[0] = 2;
            assert!(a.overlay_len() <= OVERLAY_MAX);
        }
        for ppn in 0..(OVERLAY_MAX as u64 + 5) {
            assert_eq!(a.get(ppn * 3).unwrap()[0], 2);
            let (_, fresh) = a.get_mut(ppn * 3).unwrap();
            assert!(!fresh, "ppn {ppn} is private after the fold");
        }
        assert!((0..100).all(|p| tpl.get(p).unwrap()[0] == 1), "the template is untouched");
        assert_eq!(a.frames(), 100 + (OVERLAY_MAX + 5 - 34));
    }

    #[test]
    fn fork_of_a_fork_keeps_each_copy_isolated() {
        let mut a = PhysMem::default();
        a.get_mut(1).unwrap().0[0] = 1;
        let mut b = a.clone();
        b.get_mut(1).unwrap().0[0] = 2;
        b.get_mut(2).unwrap().0[4095] = 3;
        let mut c = b.clone();
        assert_eq!((c.get(1).unwrap()[0], c.get(2).unwrap()[4095]), (2, 3), "c sees b at the clone");
        assert!(b.is_shared(1) && c.is_shared(1), "b's overlay frames are shared with c now");
        let (f, fresh) = b.get_mut(1).unwrap();
        assert!(fresh, "b copies before writing a frame c holds");
        f[0] = 4;
        c.get_mut(2).unwrap().0[4095] = 5;
        assert_eq!((a.get(1).unwrap()[0], b.get(1).unwrap()[0], c.get(1).unwrap()[0]), (1, 4, 2));
        assert_eq!((b.get(2).unwrap()[4095], c.get(2).unwrap()[4095]), (3, 5));
        assert!(a.get(2).is_none());
        drop(b);
        assert_eq!(c.get(1).unwrap()[0], 2);
    }

    #[test]
    fn pooled_frames_come_back_zeroed_or_as_exact_copies() {
        let mut tpl = PhysMem::default();
        tpl.get_mut(3).unwrap().0.copy_from_slice(&[0x5a; PAGE_SIZE]);
        let tpl = tpl.clone();
        for round in 0..3u8 {
            let mut a = tpl.clone();
            let (f, _) = a.get_mut(9).unwrap();
            assert!(f.iter().all(|&b| b == 0), "round {round}: a fresh frame is zero");
            f.fill(0xff);
            let (f, _) = a.get_mut(3).unwrap();
            assert!(f.iter().all(|&b| b == 0x5a), "round {round}: a copy is the template's frame");
            f.fill(round);
            drop(a);
            assert!(pool::pooled() >= 2, "the instance's frames went to the pool");
        }
        assert!(tpl.get(3).unwrap().iter().all(|&b| b == 0x5a));
    }

    #[test]
    fn removals_shadow_the_tree_and_clones_agree() {
        let mut a = PhysMem::default();
        for ppn in [0, 1, 64, 4096] {
            a.get_mut(ppn).unwrap().0[0] = 9;
        }
        let mut b = a.clone();
        assert!(b.remove(64) && !b.remove(64) && !b.remove(65) && !b.remove(MAX_PPN));
        assert!(b.get(64).is_none() && !b.is_shared(64));
        assert_eq!(b.present_in(0, u64::MAX), vec![0, 1, 4096]);
        assert_eq!(b.frames(), 3);
        let (f, fresh) = b.get_mut(64).unwrap();
        assert!(fresh && f[0] == 0, "written again after removal: a zero frame");
        assert_eq!(b.frames(), 4);
        assert!(b.remove(64));
        let c = b.clone();
        assert_eq!(c.present_in(0, u64::MAX), vec![0, 1, 4096]);
        assert_eq!(a.present_in(0, u64::MAX), vec![0, 1, 64, 4096]);
        assert_eq!(a.get(64).unwrap()[0], 9);
    }

    /// Random writes, removals and clones over several memories against a plain map per
    /// memory: contents, presence, counts and `present_in` always agree, and no write through
    /// one memory is ever seen by another.
    #[test]
    fn random_operations_match_a_model() {
        use std::collections::BTreeMap;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let pages = [0, 1, 2, 63, 64, 65, 4095, 4096, 1 << 20, MAX_PPN - 1];
        let mut mems: Vec<(PhysMem, BTreeMap<u64, (u16, u8)>)> = vec![(PhysMem::default(), BTreeMap::new())];
        for step in 0..20_000u32 {
            let m = rnd(mems.len() as u64) as usize;
            match rnd(10) {
                0 if mems.len() < 6 => {
                    let c = (mems[m].0.clone(), mems[m].1.clone());
                    mems.push(c);
                }
                1 if mems.len() > 1 => {
                    mems.swap_remove(m);
                }
                2 => {
                    let ppn = pages[rnd(pages.len() as u64) as usize];
                    let had = mems[m].1.remove(&ppn).is_some();
                    assert_eq!(mems[m].0.remove(ppn), had, "step {step}");
                }
                _ => {
                    let ppn = if rnd(2) == 0 { pages[rnd(pages.len() as u64) as usize] } else { rnd(150) };
                    let off = rnd(PAGE_SIZE as u64) as u16;
                    let v = (step % 251) as u8 + 1;
                    let (f, _) = mems[m].0.get_mut(ppn).unwrap();
                    f[off as usize] = v;
                    f[0] = v;
                    mems[m].1.insert(ppn, (off, v));
                }
            }
            if step % 97 == 0 {
                for (mem, model) in &mems {
                    assert_eq!(mem.frames(), model.len(), "step {step}");
                    assert_eq!(mem.present_in(0, u64::MAX), model.keys().copied().collect::<Vec<_>>(), "step {step}");
                }
            }
            for (mem, model) in &mems {
                for (&ppn, &(off, v)) in model.iter().take(8) {
                    let f = mem.get(ppn).expect("present");
                    assert_eq!((f[0], f[off as usize]), (v, v), "step {step} ppn {ppn}");
                }
            }
        }
    }
}
