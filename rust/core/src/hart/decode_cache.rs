//! Decoded basic blocks cached per physical code page, with a small virtual-page index.
//!
//! A block is a run of consecutive instructions inside one page that ends at the first
//! instruction that may change control flow, privilege or translation (or at the page end, or
//! after [`MAX_BLOCK`] instructions). The run loop executes a block from a contiguous array
//! without looking the pc up again, and counts its instructions once.
//!
//! A page's blocks are dropped when anything writes to its frame: the hart never keeps a
//! write-TLB entry for a page with decoded code, so every such write takes the slow path, which
//! calls [`DecodeCache::forget_page`]. Dropped pages go to a graveyard that is emptied between
//! blocks, because the block being executed may be the one whose page was just written.
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
const LEN_BITS: u32 = 7;
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

pub struct Page {
    /// Per halfword offset: 0, or `(arena start << LEN_BITS) | length` of the block there.
    entry: Box<[u32; SLOTS]>,
    arena: Vec<Packed>,
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
    straddlers: Box<[(u64, Packed); STRADDLERS]>,
}

// SAFETY: the raw pointers point into boxes owned by `pages`; the cache moves between threads
// only as a whole, together with its boxes.
unsafe impl Send for DecodeCache {}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            pages: PageMap::default(),
            graveyard: Vec::new(),
            index: [NO_ENTRY; INDEX],
            cur: NO_ENTRY,
            straddlers: Box::new([(NONE, Packed::new(Insn::illegal(0, 4))); STRADDLERS]),
        }
    }
}

/// A block to execute: `len` instructions from `start`, valid until the next [`DecodeCache::collect`].
#[derive(Clone, Copy)]
pub struct Block {
    pub start: *const Packed,
    pub len: usize,
}

impl DecodeCache {
    /// The cached block at `pc` if its page is the current one and the block is built.
    #[inline(always)]
    pub fn lookup(&self, pc: u64) -> Option<Block> {
        if pc >> 12 != self.cur.vpn {
            return None;
        }
        // SAFETY: `cur.page` is valid while `cur.vpn` is not NONE (reset whenever pages go).
        let page = unsafe { &*self.cur.page };
        let e = page.entry[(pc as usize & 0xfff) >> 1];
        if e == 0 {
            return None;
        }
        let start = (e >> LEN_BITS) as usize;
        // SAFETY: entries only ever describe ranges inside the arena.
        Some(Block { start: unsafe { page.arena.as_ptr().add(start) }, len: (e & ((1 << LEN_BITS) - 1)) as usize })
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
            Box::new(Page { entry: Box::new([0; SLOTS]), arena: Vec::new() })
        });
        (&mut **page, created)
    }

    pub fn current_ppn(&self) -> u64 {
        self.cur.ppn
    }

    /// Records `insns` as the block at `pc` of the current page.
    pub fn add_block(&mut self, pc: u64, insns: &[Insn]) -> Block {
        debug_assert!(!insns.is_empty() && insns.len() <= MAX_BLOCK);
        // SAFETY: only called right after `select`/`install` made `cur` valid.
        let page = unsafe { &mut *self.cur.page };
        let start = page.arena.len();
        page.arena.extend(insns.iter().map(|&i| Packed::new(i)));
        page.entry[(pc as usize & 0xfff) >> 1] = ((start as u32) << LEN_BITS) | insns.len() as u32;
        Block { start: page.arena[start..].as_ptr(), len: insns.len() }
    }

    fn straddler_slot(pc: u64) -> usize {
        (pc >> 12) as usize % STRADDLERS
    }

    /// The cached one-instruction block for a page-straddling instruction at `pc`.
    pub fn straddler(&self, pc: u64) -> Option<Block> {
        let e = &self.straddlers[Self::straddler_slot(pc)];
        (e.0 == pc).then_some(Block { start: &e.1, len: 1 })
    }

    /// Caches the page-straddling instruction at `pc`.
    pub fn add_straddler(&mut self, pc: u64, insn: Insn) -> Block {
        let e = &mut self.straddlers[Self::straddler_slot(pc)];
        *e = (pc, Packed::new(insn));
        Block { start: &e.1, len: 1 }
    }

    /// Translations changed: the virtual index is stale, the decoded pages are not.
    pub fn forget_translations(&mut self) {
        self.index = [NO_ENTRY; INDEX];
        self.cur = NO_ENTRY;
        for e in self.straddlers.iter_mut() {
            e.0 = NONE;
        }
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

    /// Frees dropped pages; no block may be executing.
    pub fn collect(&mut self) {
        self.graveyard.clear();
    }
}
