//! The Penglai host extension (`a7` = 0x100100, `a6` = fid): what the enclave driver calls.
//! A table of functions; unknown fids return -2 as Penglai does.
use super::{enclave, server, shadow};
use super::gpt::ERR;
use super::sbi::{Call, Outcome};

pub const SET_PTE: u64 = 101;
pub const SM_INIT: u64 = 100;
pub const CREATE_ENCLAVE: u64 = 99;
pub const ATTEST_ENCLAVE: u64 = 98;
pub const RUN_ENCLAVE: u64 = 97;
pub const STOP_ENCLAVE: u64 = 96;
pub const RESUME_ENCLAVE: u64 = 95;
pub const DESTROY_ENCLAVE: u64 = 94;
pub const MEMORY_EXTEND: u64 = 92;
pub const CREATE_SERVER: u64 = 90;
pub const DESTROY_SERVER: u64 = 89;
pub const RUN_SHADOW: u64 = 87;
pub const CREATE_SHADOW: u64 = 86;
pub const SCHRODINGER_INIT: u64 = 85;
pub const DEBUG_PRINT: u64 = 84;
pub const PT_AREA_SEPARATION: u64 = 83;
pub const MAP_PTE: u64 = 81;
pub const ATTEST_SHADOW: u64 = 80;
pub const DESTROY_SHADOW: u64 = 79;

type Fid = fn(&mut Call<'_>) -> i64;

const FIDS: &[(u64, Fid)] = &[
    (SET_PTE, |c| c.sys.gpt.set_pte(c.hart, c.bus, c.a[0], c.a[1], c.a[2], c.a[3])),
    (SM_INIT, |c| c.sys.gpt.sm_init(c.hart, c.bus, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4])),
    (PT_AREA_SEPARATION, |c| c.sys.gpt.separate(c.hart, c.bus, c.a[0], c.a[1])),
    (MAP_PTE, |c| c.sys.gpt.map_pte(c.hart, c.bus, c.a[0], c.a[1])),
    (SCHRODINGER_INIT, |c| c.sys.gpt.schrodinger_init(c.bus, c.a[0], c.a[1])),
    (MEMORY_EXTEND, memory_extend),
    (DEBUG_PRINT, |_| 0),
    (CREATE_ENCLAVE, enclave::create),
    (ATTEST_ENCLAVE, enclave::attest),
    (RUN_ENCLAVE, enclave::run_enclave),
    (STOP_ENCLAVE, enclave::stop),
    (RESUME_ENCLAVE, enclave::resume),
    (DESTROY_ENCLAVE, enclave::destroy),
    (CREATE_SERVER, server::create),
    (DESTROY_SERVER, server::destroy),
    (CREATE_SHADOW, shadow::create),
    (RUN_SHADOW, shadow::run),
    (ATTEST_SHADOW, shadow::attest),
    (DESTROY_SHADOW, shadow::destroy),
];

pub fn dispatch(c: &mut Call<'_>) -> Outcome {
    match FIDS.iter().find(|f| f.0 == c.fid) {
        Some(f) => Outcome::Penglai((f.1)(c)),
        None => Outcome::Penglai(-2),
    }
}

/// Memory for the monitor's own metadata: becomes secure for good.
fn memory_extend(c: &mut Call<'_>) -> i64 {
    let (pa, size) = (c.a[0], c.a[1]);
    if !c.sys.gpt.can_make_secure(c.bus, pa, size) {
        return ERR;
    }
    c.sys.gpt.make_secure(c.hart, c.bus, pa, size);
    c.sys.extended.push((pa, size));
    0
}
