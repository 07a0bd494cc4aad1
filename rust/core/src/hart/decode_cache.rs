//! Decoded instructions cached per physical code page, with a small virtual-page index.
//!
//! Each page holds one slot per halfword, filled the first time that address executes. A page is
//! dropped when anything writes to its frame (the hart never keeps a write-TLB entry for a page
//! that has decoded code, so every such write takes the slow path that calls `forget_page`).
use crate::isa::{Insn, Op};
use std::collections::HashMap;

const SLOTS: usize = 2048;
/// Above this many decoded pages the cache starts over, bounding host memory per machine.
const MAX_PAGES: usize = 4096;
const INDEX: usize = 64;
const NONE: u64 = u64::MAX;
const EMPTY: Insn = Insn { op: Op::Illegal, rd: 0, rs1: 0, rs2: 0, len: 0, imm: 0 };

struct Page {
    slots: [Insn; SLOTS],
}

#[derive(Clone, Copy)]
struct IndexEntry {
    vpn: u64,
    ppn: u64,
    page: *mut Page,
}

const NO_ENTRY: IndexEntry = IndexEntry { vpn: NONE, ppn: NONE, page: std::ptr::null_mut() };

pub struct DecodeCache {
    pages: HashMap<u64, Box<Page>>,
    index: [IndexEntry; INDEX],
    cur: IndexEntry,
}

// SAFETY: the raw pointers point into boxes owned by `pages`; the cache moves between threads
// only as a whole, together with its boxes.
unsafe impl Send for DecodeCache {}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache { pages: HashMap::new(), index: [NO_ENTRY; INDEX], cur: NO_ENTRY }
    }
}

impl DecodeCache {
    /// The cached instruction at `pc` if its page is the current one and the slot is filled.
    #[inline(always)]
    pub fn lookup(&self, pc: u64) -> Option<Insn> {
        if pc >> 12 != self.cur.vpn {
            return None;
        }
        // SAFETY: `cur.page` is valid while `cur.vpn` is not NONE (reset whenever pages go).
        let insn = unsafe { (*self.cur.page).slots[(pc as usize & 0xfff) >> 1] };
        (insn.len != 0).then_some(insn)
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
        if self.pages.len() >= MAX_PAGES && !self.pages.contains_key(&ppn) {
            self.clear();
        }
        let mut created = false;
        let page = self.pages.entry(ppn).or_insert_with(|| {
            created = true;
            Box::new(Page { slots: [EMPTY; SLOTS] })
        });
        let e = IndexEntry { vpn, ppn, page: &mut **page };
        self.index[vpn as usize % INDEX] = e;
        self.cur = e;
        created
    }

    pub fn current_ppn(&self) -> u64 {
        self.cur.ppn
    }

    /// Stores the decoded instruction at page offset `off` of the current page.
    pub fn store(&mut self, off: u64, insn: Insn) {
        // SAFETY: only called right after `select`/`install` made `cur` valid.
        unsafe { (*self.cur.page).slots[(off as usize & 0xfff) >> 1] = insn };
    }

    /// Translations changed: the virtual index is stale, the decoded pages are not.
    pub fn forget_translations(&mut self) {
        self.index = [NO_ENTRY; INDEX];
        self.cur = NO_ENTRY;
    }

    pub fn forget_page(&mut self, ppn: u64) {
        if self.pages.remove(&ppn).is_some() {
            self.forget_translations();
        }
    }

    pub fn clear(&mut self) {
        self.pages.clear();
        self.forget_translations();
    }
}
