//! Coverage for fuzzing, opt-in per hart: edge hit counts and comparison operands (cmplog).
//!
//! **Edges.** One map entry per control-flow edge between blocks, i.e. per pair (start pc of
//! the block just run, pc of the next block); a run entering the guest (start, trap, OCALL
//! return) counts as an edge from "nowhere" (`u64::MAX`). Edge ids are *interned*, not
//! hashed: the first time a hart sees an edge it asks an [`EdgeIds`] table for the next free
//! id and remembers it in the block link (see `decode_cache`), so the fast path — following a
//! link — bumps `map[link.edge]` with no hashing at all. The table is shared (an `Arc`) by
//! every hart fuzzing one template, so an edge has the same id in every fork and every worker
//! thread, and ids are collision-free until there are more edges than map entries (then ids
//! wrap around the map, degrading gracefully to AFL-like sharing). AFL's `prev >> 1 ^ cur`
//! hash was not chosen: it needs no table but collides (on a 64 KiB map a few thousand edges
//! already lose some to collisions), and its cost is paid on every block, where ours is paid
//! once per edge per hart. With one worker, ids follow discovery order, so a seeded campaign
//! gets the same ids every time.
//!
//! **Cmplog.** With [`Coverage::with_cmplog`], blocks are decoded with logging handlers for
//! `beq/bne/blt/bge/bltu/bgeu` (and `c.beqz/c.bnez`, which decode to `beq/bne` with `x0`) and
//! `slt/slti/sltu/sltiu`: each records (pc, both operands, width) before executing. The width
//! is 4 when both operands are 32-bit values sign- or zero-extended (what `lw`/`lwu`, `li`
//! and `*w` ops produce), else 8; the fuzzer then searches the input for either width.
//! Handlers are chosen when a block is decoded, so with cmplog off no instruction pays for it.
//!
//! The hit map is an `Arc<HitMap>` of relaxed atomic bytes: the hart updates it with plain
//! loads and stores (no locked instructions), and the fuzzer that owns another `Arc` reads and
//! clears it between runs.
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Default edge map size (entries), as AFL's.
pub const DEFAULT_MAP_SIZE: usize = 1 << 16;
/// Past this many distinct edges, new edges are hashed instead of interned, bounding the
/// tables if a guest jumps to input-controlled addresses.
const MAX_INTERNED: usize = 1 << 22;
/// Comparisons logged per run; later ones are dropped (loops repeat the same compare).
pub const CMPLOG_CAP: usize = 4096;
/// Edge source of a block entered from outside (run start, after a trap).
pub const NOWHERE: u64 = u64::MAX;

/// Hit counts, one byte per edge id (saturating at 255).
pub struct HitMap {
    cells: Box<[AtomicU8]>,
}

impl HitMap {
    /// A zeroed map of `size` entries; `size` must be a power of two of at least 64.
    pub fn new(size: usize) -> Option<Arc<HitMap>> {
        if !size.is_power_of_two() || size < 64 {
            return None;
        }
        Some(Arc::new(HitMap { cells: (0..size).map(|_| AtomicU8::new(0)).collect() }))
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    #[inline(always)]
    fn bump(&self, id: u32) {
        let c = &self.cells[id as usize & (self.cells.len() - 1)];
        c.store(c.load(Relaxed).saturating_add(1), Relaxed);
    }

    pub fn get(&self, id: usize) -> u8 {
        self.cells[id].load(Relaxed)
    }

    pub fn clear(&self) {
        for c in self.cells.iter() {
            c.store(0, Relaxed);
        }
    }

    /// Pointer to the first count, for map observers that read and reset the map in place
    /// between runs (`AtomicU8` has `u8`'s layout). Valid while this `HitMap` lives.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.cells.as_ptr() as *mut u8
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<EdgeHasher>>;

#[derive(Default)]
struct EdgeHasher(u64);

impl std::hash::Hasher for EdgeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Edge id table shared by every hart fuzzing one template (see the module comment).
#[derive(Default)]
pub struct EdgeIds {
    ids: Mutex<FastMap<(u64, u64), u32>>,
    /// `ids.len()`, readable without the lock.
    count: AtomicUsize,
}

impl EdgeIds {
    pub fn new() -> Arc<EdgeIds> {
        Arc::new(EdgeIds::default())
    }

    /// How many distinct edges have been seen.
    pub fn len(&self) -> usize {
        self.count.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn intern(&self, edge: (u64, u64)) -> u32 {
        let mut ids = self.ids.lock().unwrap();
        let n = ids.len();
        if n >= MAX_INTERNED {
            return ids.get(&edge).copied().unwrap_or_else(|| hash_edge(edge));
        }
        let id = *ids.entry(edge).or_insert(n as u32);
        self.count.store(ids.len(), Relaxed);
        id
    }
}

fn hash_edge((a, b): (u64, u64)) -> u32 {
    let h = (a.rotate_left(17) ^ b).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as u32
}

/// One logged comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmp {
    pub pc: u64,
    pub a: u64,
    pub b: u64,
    /// 4 or 8 bytes (see the module comment).
    pub size: u8,
}

/// A hart's coverage state (`Hart::set_coverage`).
pub struct Coverage {
    hits: Arc<HitMap>,
    ids: Arc<EdgeIds>,
    /// This hart's copy of the ids it has used, so the shared table is locked once per edge.
    local: FastMap<(u64, u64), u32>,
    cmplog: Option<Vec<Cmp>>,
}

impl Coverage {
    /// Edge coverage into `hits`, with ids from `ids`.
    pub fn new(hits: Arc<HitMap>, ids: Arc<EdgeIds>) -> Box<Coverage> {
        Box::new(Coverage { hits, ids, local: FastMap::default(), cmplog: None })
    }

    /// Edge coverage and comparison logging.
    pub fn with_cmplog(hits: Arc<HitMap>, ids: Arc<EdgeIds>) -> Box<Coverage> {
        let mut c = Coverage::new(hits, ids);
        c.cmplog = Some(Vec::with_capacity(CMPLOG_CAP));
        c
    }

    pub fn hits(&self) -> &Arc<HitMap> {
        &self.hits
    }

    pub fn cmplog_enabled(&self) -> bool {
        self.cmplog.is_some()
    }

    /// Comparisons logged since the last [`Coverage::clear_cmps`] (empty without cmplog).
    pub fn cmps(&self) -> &[Cmp] {
        self.cmplog.as_deref().unwrap_or(&[])
    }

    pub fn clear_cmps(&mut self) {
        if let Some(l) = &mut self.cmplog {
            l.clear();
        }
    }

    /// The id of edge `from -> to`, interning it on first sight.
    #[inline]
    pub(crate) fn edge_id(&mut self, from: u64, to: u64) -> u32 {
        if let Some(&id) = self.local.get(&(from, to)) {
            return id;
        }
        let id = self.ids.intern((from, to));
        if self.local.len() < MAX_INTERNED {
            self.local.insert((from, to), id);
        }
        id
    }

    #[inline(always)]
    pub(crate) fn hit(&self, id: u32) {
        self.hits.bump(id);
    }

    #[inline(always)]
    pub(crate) fn log_cmp(&mut self, pc: u64, a: u64, b: u64) {
        if let Some(l) = &mut self.cmplog {
            if l.len() < CMPLOG_CAP {
                let narrow = |v: u64| v as i32 as i64 as u64 == v || v >> 32 == 0;
                let size = if narrow(a) && narrow(b) { 4 } else { 8 };
                l.push(Cmp { pc, a, b, size });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_sizes_must_be_powers_of_two() {
        assert!(HitMap::new(0).is_none());
        assert!(HitMap::new(63).is_none());
        assert!(HitMap::new(100).is_none());
        assert!(HitMap::new(usize::MAX).is_none());
        assert_eq!(HitMap::new(64).unwrap().len(), 64);
        assert_eq!(HitMap::new(1 << 16).unwrap().len(), 1 << 16);
    }

    #[test]
    fn edge_ids_are_dense_shared_and_stable() {
        let ids = EdgeIds::new();
        let map = HitMap::new(64).unwrap();
        let mut a = Coverage::new(map.clone(), ids.clone());
        let mut b = Coverage::new(map.clone(), ids.clone());
        assert_eq!(a.edge_id(1, 2), 0);
        assert_eq!(a.edge_id(2, 3), 1);
        assert_eq!(b.edge_id(2, 3), 1, "another hart of the same template gets the same id");
        assert_eq!(b.edge_id(NOWHERE, 2), 2);
        assert_eq!(a.edge_id(1, 2), 0);
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn hits_saturate_and_wrap_around_the_map() {
        let map = HitMap::new(64).unwrap();
        let c = Coverage::new(map.clone(), EdgeIds::new());
        for _ in 0..300 {
            c.hit(3);
        }
        c.hit(64 + 5);
        assert_eq!(map.get(3), 255);
        assert_eq!(map.get(5), 1);
        map.clear();
        assert_eq!(map.get(3), 0);
    }

    #[test]
    fn cmplog_widths_and_cap() {
        let mut c = Coverage::with_cmplog(HitMap::new(64).unwrap(), EdgeIds::new());
        c.log_cmp(0x10, 0xffff_ffff_dead_beef, 0xffff_ffff_dead_beef);
        c.log_cmp(0x14, 0xdead_beef, 7);
        c.log_cmp(0x18, 0x1_0000_0000, 7);
        let sizes: Vec<u8> = c.cmps().iter().map(|x| x.size).collect();
        assert_eq!(sizes, [4, 4, 8]);
        for i in 0..2 * CMPLOG_CAP as u64 {
            c.log_cmp(i, i, i);
        }
        assert_eq!(c.cmps().len(), CMPLOG_CAP);
        c.clear_cmps();
        assert!(c.cmps().is_empty());
        let mut off = Coverage::new(HitMap::new(64).unwrap(), EdgeIds::new());
        off.log_cmp(0, 1, 2);
        assert!(off.cmps().is_empty());
    }

    /// Both ways into a block count an edge: the first time (link created) and every time
    /// after (link followed); cmplog sees every `bne`.
    #[test]
    fn a_loop_counts_its_edges_on_the_hart() {
        use crate::machine::{Exit, Machine, RAM_BASE};
        let addi = |rd: u32, rs1: u32, imm: i32| ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
        // bne x1, x0, -4
        let bne_back = 0xfe00_9ee3u32;
        let code: Vec<u8> = [addi(1, 0, 10), addi(1, 1, -1), bne_back, addi(2, 0, 1)]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        for cmplog in [false, true] {
            let mut m = Machine::bare(1 << 20, false);
            m.load_segment(RAM_BASE, &code, code.len() as u64).unwrap();
            let (map, ids) = (HitMap::new(64).unwrap(), EdgeIds::new());
            let cov = if cmplog { Coverage::with_cmplog(map.clone(), ids.clone()) } else { Coverage::new(map.clone(), ids.clone()) };
            m.hart.set_coverage(Some(cov));
            assert_eq!(m.run(22), Exit::Budget);
            assert_eq!((m.hart.x[1], m.hart.x[2]), (0, 1));
            // Ids in order of discovery: entry, first block -> loop, loop -> loop, loop -> exit.
            assert_eq!(ids.len(), 4);
            assert_eq!([map.get(0), map.get(1), map.get(2), map.get(3)], [1, 1, 8, 1]);
            let cmps = m.hart.coverage().unwrap().cmps();
            if cmplog {
                assert_eq!(cmps.len(), 10);
                assert!(cmps.iter().all(|c| c.pc == RAM_BASE + 8 && c.b == 0 && c.size == 4));
                assert_eq!(cmps.iter().map(|c| c.a).collect::<Vec<_>>(), (0..10).rev().collect::<Vec<u64>>());
            } else {
                assert!(cmps.is_empty());
            }
        }
    }
}
