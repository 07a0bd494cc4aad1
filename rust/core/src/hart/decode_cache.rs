//! Decoded basic blocks cached per physical code page, with a small virtual-page index.
//!
//! A block is a run of consecutive instructions inside one page that ends at the first
//! instruction that may change control flow, privilege or translation (or at the page end, or
//! after [`MAX_BLOCK`] instructions). The run loop executes a block from a contiguous array
//! without looking the pc up again, and counts its instructions once.
//!
//! Each block remembers the last two blocks that followed it (with their pc), so a loop or a
//! call/return pair goes from block to block without a lookup. A link is valid only while the
//! cache's epoch is unchanged; the epoch moves whenever a block is added or dropped or
//! translations change, so a link can never lead to a freed or stale block.
//!
//! A page's blocks are dropped when anything writes to its frame: the hart never keeps a
//! write-TLB entry for a page with decoded code, so every such write takes the slow path, which
//! calls [`DecodeCache::forget_page`]. Dropped pages go to a graveyard that is emptied between
//! slices, because the block being executed may be the one whose page was just written.
use super::packed::Packed;
use crate::isa::{Insn, Op};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Page numbers are already well spread; one multiply mixes them into the high bits the table
/// uses, far cheaper than SipHash on the store slow path that asks "is this page code?".
#[derive(Default)]
struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PageMap = HashMap<u64, Box<Page>, BuildHasherDefault<PageHasher>>;

pub const MAX_BLOCK: usize = 64;
const SLOTS: usize = 2048;
/// Above this many decoded pages the cache starts over, bounding host memory per machine.
const MAX_PAGES: usize = 1024;
const INDEX: usize = 64;
const NONE: u64 = u64::MAX;
const STRADDLERS: usize = 4;

/// Whether `op` must be the last instruction of a block.
pub fn ends_block(op: Op) -> bool {
    matches!(
        op,
        Op::Jal | Op::Jalr | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu
            | Op::Illegal | Op::FenceI | Op::Ecall | Op::Ebreak | Op::Mret | Op::Sret | Op::Wfi
            | Op::SfenceVma | Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci
    )
}

#[derive(Clone, Copy)]
struct Link {
    pc: u64,
    epoch: u64,
    to: *mut BlockData,
    /// The coverage edge id of this transition (0 on harts without coverage).
    edge: u32,
}

const NO_LINK: Link = Link { pc: NONE, epoch: NONE, to: std::ptr::null_mut(), edge: 0 };

/// One decoded block and its links to the blocks seen after it.
pub struct BlockData {
    pub insns: Box<[Packed]>,
    links: [Link; 2],
    /// Execution count and compiled code (engine `jit`); dropped with the block.
    pub jit: crate::jit::Slot,
}

impl BlockData {
    fn new(insns: Box<[Packed]>) -> Box<BlockData> {
        Box::new(BlockData { insns, links: [NO_LINK; 2], jit: Default::default() })
    }

    /// The block recorded as following this one at `pc`, if still valid.
    #[inline(always)]
    pub fn follow(&self, pc: u64, epoch: u64) -> Option<*mut BlockData> {
        for l in &self.links {
            if l.pc == pc && l.epoch == epoch {
                return Some(l.to);
            }
        }
        None
    }

    /// [`BlockData::follow`] with the link's coverage edge id.
    #[inline(always)]
    pub fn follow_edge(&self, pc: u64, epoch: u64) -> Option<(*mut BlockData, u32)> {
        for l in &self.links {
            if l.pc == pc && l.epoch == epoch {
                return Some((l.to, l.edge));
            }
        }
        None
    }

    /// Records `to` as following this block at `pc`, replacing the older link.
    pub fn link(&mut self, pc: u64, to: *mut BlockData, epoch: u64, edge: u32) {
        self.links[1] = self.links[0];
        self.links[0] = Link { pc, epoch, to, edge };
    }
}

pub struct Page {
    /// Per halfword offset: 0, or 1 + the index in `blocks` of the block starting there.
    entry: Box<[u32; SLOTS]>,
    blocks: Vec<Box<BlockData>>,
}

impl Page {
    /// The block starting at page offset `off`, if one was decoded (the jit's region former:
    /// the blocks of one page are dropped together, so they may be compiled together).
    pub(crate) fn block_at(&self, off: u64) -> Option<Block> {
        let e = *self.entry.get((off as usize & 0xfff) >> 1)?;
        if off >= 0x1000 || e == 0 {
            return None;
        }
        Some(&*self.blocks[e as usize - 1] as *const BlockData as *mut BlockData)
    }
}

#[derive(Clone, Copy)]
struct IndexEntry {
    vpn: u64,
    ppn: u64,
    page: *mut Page,
}

const NO_ENTRY: IndexEntry = IndexEntry { vpn: NONE, ppn: NONE, page: std::ptr::null_mut() };

pub struct DecodeCache {
    pages: PageMap,
    graveyard: Vec<Box<Page>>,
    index: [IndexEntry; INDEX],
    cur: IndexEntry,
    /// Instructions that straddle two pages, by virtual pc. They depend on two frames and on
    /// the translation of both pages, so any change to either empties this small cache.
    straddlers: [(u64, Option<Box<BlockData>>); STRADDLERS],
    dead_straddlers: Vec<Box<BlockData>>,
    epoch: u64,
}

// SAFETY: the raw pointers point into boxes owned by this cache; it moves between threads only
// as a whole, together with its boxes.
unsafe impl Send for DecodeCache {}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            pages: PageMap::default(),
            graveyard: Vec::new(),
            index: [NO_ENTRY; INDEX],
            cur: NO_ENTRY,
            straddlers: [const { (NONE, None) }; STRADDLERS],
            dead_straddlers: Vec::new(),
            epoch: 0,
        }
    }
}

/// A block to execute; valid until the next [`DecodeCache::collect`].
pub type Block = *mut BlockData;

impl DecodeCache {
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The cached block at `pc` if its page is the current one and the block is built.
    #[inline(always)]
    pub fn lookup(&self, pc: u64) -> Option<Block> {
        if pc >> 12 != self.cur.vpn {
            return None;
        }
        // SAFETY: `cur.page` is valid while `cur.vpn` is not NONE (reset whenever pages go).
        let page = unsafe { &mut *self.cur.page };
        let e = page.entry[(pc as usize & 0xfff) >> 1];
        if e == 0 {
            return None;
        }
        Some(&mut *page.blocks[e as usize - 1])
    }

    /// The decoded page that the current translation of `pc`'s virtual page leads to, if the
    /// index knows it and its block at `pc` is `b` (for the jit's region former).
    pub(crate) fn page_holding(&self, pc: u64, b: Block) -> Option<&Page> {
        let vpn = pc >> 12;
        let e = if self.cur.vpn == vpn { self.cur } else { self.index[vpn as usize % INDEX] };
        if e.vpn != vpn {
            return None;
        }
        // SAFETY: index entries point to live pages (reset whenever pages go).
        let page = unsafe { &*e.page };
        (page.block_at(pc & 0xfff) == Some(b)).then_some(page)
    }

    /// The decoded page that the current translation of virtual page `vpn` leads to, if the
    /// index knows it (the jit: regions take blocks of the neighbouring page, and enter them
    /// only while this still gives the same blocks).
    pub(crate) fn page_of(&self, vpn: u64) -> Option<&Page> {
        let e = if self.cur.vpn == vpn { self.cur } else { self.index[vpn as usize % INDEX] };
        // SAFETY: index entries point to live pages (reset whenever pages go).
        (e.vpn == vpn && !e.page.is_null()).then(|| unsafe { &*e.page })
    }

    /// Makes the page for `vpn` current if the index knows its frame.
    pub fn select(&mut self, vpn: u64) -> bool {
        let e = self.index[vpn as usize % INDEX];
        if e.vpn == vpn {
            self.cur = e;
            return true;
        }
        false
    }

    /// Makes `vpn -> ppn` current, creating the decoded page if needed; true if created.
    pub fn install(&mut self, vpn: u64, ppn: u64) -> bool {
        let (page, created) = self.page(ppn);
        let e = IndexEntry { vpn, ppn, page };
        self.index[vpn as usize % INDEX] = e;
        self.cur = e;
        created
    }

    /// The decoded page for frame `ppn`, created if needed (then `true`): from then on
    /// writes to the frame drop it.
    pub fn page(&mut self, ppn: u64) -> (*mut Page, bool) {
        if self.pages.len() >= MAX_PAGES && !self.pages.contains_key(&ppn) {
            self.clear();
        }
        let mut created = false;
        let page = self.pages.entry(ppn).or_insert_with(|| {
            created = true;
            Box::new(Page { entry: Box::new([0; SLOTS]), blocks: Vec::new() })
        });
        (&mut **page, created)
    }

    pub fn current_ppn(&self) -> u64 {
        self.cur.ppn
    }

    /// Records `insns` as the block at `pc` of the current page (with comparison-logging
    /// handlers if `cmplog`).
    pub fn add_block(&mut self, pc: u64, insns: &[Insn], cmplog: bool) -> Block {
        debug_assert!(!insns.is_empty() && insns.len() <= MAX_BLOCK);
        // SAFETY: only called right after `select`/`install` made `cur` valid.
        let page = unsafe { &mut *self.cur.page };
        page.blocks.push(BlockData::new(insns.iter().map(|&i| Packed::with(i, cmplog)).collect()));
        page.entry[(pc as usize & 0xfff) >> 1] = page.blocks.len() as u32;
        self.epoch += 1;
        &mut **page.blocks.last_mut().expect("just pushed")
    }

    fn straddler_slot(pc: u64) -> usize {
        (pc >> 12) as usize % STRADDLERS
    }

    /// The cached one-instruction block for a page-straddling instruction at `pc`.
    pub fn straddler(&mut self, pc: u64) -> Option<Block> {
        match &mut self.straddlers[Self::straddler_slot(pc)] {
            (p, Some(b)) if *p == pc => Some(&mut **b),
            _ => None,
        }
    }

    /// [`DecodeCache::straddler`] without changing anything (the jit's region former and
    /// its check that a region's foreign members are still current).
    pub(crate) fn straddler_at(&self, pc: u64) -> Option<Block> {
        match &self.straddlers[Self::straddler_slot(pc)] {
            (p, Some(b)) if *p == pc => Some(&**b as *const BlockData as *mut BlockData),
            _ => None,
        }
    }

    /// Caches the page-straddling instruction at `pc`.
    pub fn add_straddler(&mut self, pc: u64, insn: Insn, cmplog: bool) -> Block {
        let slot = &mut self.straddlers[Self::straddler_slot(pc)];
        if let Some(old) = slot.1.take() {
            self.dead_straddlers.push(old);
        }
        let b = slot.1.insert(BlockData::new(Box::new([Packed::with(insn, cmplog)])));
        slot.0 = pc;
        self.epoch += 1;
        &mut **b
    }

    /// Translations changed: the virtual index and the links are stale, the decoded pages
    /// are not.
    pub fn forget_translations(&mut self) {
        self.index = [NO_ENTRY; INDEX];
        self.cur = NO_ENTRY;
        for s in self.straddlers.iter_mut() {
            s.0 = NONE;
        }
        self.epoch += 1;
    }

    /// Frame `ppn` was written; true if it held decoded code.
    pub fn forget_page(&mut self, ppn: u64) -> bool {
        match self.pages.remove(&ppn) {
            Some(page) => {
                self.graveyard.push(page);
                // Also drops the straddlers, whose halves may live in this frame.
                self.forget_translations();
                true
            }
            None => false,
        }
    }

    pub fn clear(&mut self) {
        self.graveyard.extend(self.pages.drain().map(|(_, p)| p));
        self.forget_translations();
    }

    /// Keeps the decoded pages of the frames `keep` accepts and drops the others, for a hart
    /// passed on to another machine that shares some frames with this one (fork instances).
    pub fn retain_pages(&mut self, mut keep: impl FnMut(u64) -> bool) {
        let gone: Vec<u64> = self.pages.keys().copied().filter(|&ppn| !keep(ppn)).collect();
        for ppn in gone {
            self.forget_page(ppn);
        }
    }

    /// Drops everything decoded and the memory behind it; no block may be executing or held.
    pub fn release(&mut self) {
        self.clear();
        self.pages = PageMap::default();
        self.collect();
        self.graveyard = Vec::new();
        self.dead_straddlers = Vec::new();
        for s in self.straddlers.iter_mut() {
            s.1 = None;
        }
    }

    /// Frees dropped pages and blocks; no block may be executing or held.
    pub fn collect(&mut self) {
        self.graveyard.clear();
        self.dead_straddlers.clear();
    }
}
