//! Reports and derived keys (docs/abi.md §4.2, §6.2–§6.5): host attestation (fid 98,
//! and fid 80 for shadow templates through [`Monitor::attest_hash`]), the in-enclave calls
//! `get_report` (a7 = 94) and `get_key` (a7 = 88).
//!
//! `report_t` (328 bytes, LP64, no padding): `sm.hash[32]` @0, `sm.signature[64]` @32,
//! `sm.sm_pub_key[64]` @96, `enclave.hash[32]` @160, `enclave.signature[64]` @192,
//! `enclave.nonce` (u64 LE) @256, `dev_pub_key[64]` @264.
//!
//! | request | `enclave.hash` |
//! |---|---|
//! | host attest (FRESH or STOPPED enclave) | `SM3(stored ‖ le64(nonce))` |
//! | host attest of a template | `SM3(template hash ‖ le64(nonce))` |
//! | `get_report(NULL, r, nonce)` | a fresh measurement of the live address space with `nonce` (B6) |
//! | `get_report(name, r, nonce)` | `SM3(server's stored hash ‖ le64(nonce))`, computed from a copy (B7 fix: the server's hash is not overwritten) |
//!
//! `enclave.signature` is the SM key's signature over `enclave.hash`; the rest of the platform
//! block comes from [`super::keys::Platform`].
use super::consts::SERVER_ENCLAVE;
use super::enclave::Enclave;
use super::keys::{self, Keys, Platform};
use super::measure::{self, update_hash};
use super::rng::RngMode;
use super::{EnclaveCell, Monitor, State};
use std::sync::{Arc, Mutex};

pub const REPORT_SIZE: usize = 328;
pub const HASH_SIZE: usize = 32;

/// Key types of `get_key` (a0).
pub const ENCLAVE_KEY: u64 = 0;
pub const STORAGE_KEY: u64 = 1;
pub const ATTEST_KEY: u64 = 2;

/// The root key `key.c` fixes for ENCLAVE_KEY and STORAGE_KEY (§6.4).
pub const ROOT_KEY: [u8; 32] = [
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08, //
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
];

/// HKDF-SHA256 output limit (255 blocks).
pub const MAX_KEY_SIZE: u64 = 255 * 32;

/// `report_t`, field names as in the C structures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub sm_hash: [u8; 32],
    pub sm_signature: [u8; 64],
    pub sm_pub_key: [u8; 64],
    pub enclave_hash: [u8; 32],
    pub enclave_signature: [u8; 64],
    pub nonce: u64,
    pub dev_pub_key: [u8; 64],
}

impl Report {
    pub fn to_bytes(&self) -> [u8; REPORT_SIZE] {
        let mut b = [0u8; REPORT_SIZE];
        b[0..32].copy_from_slice(&self.sm_hash);
        b[32..96].copy_from_slice(&self.sm_signature);
        b[96..160].copy_from_slice(&self.sm_pub_key);
        b[160..192].copy_from_slice(&self.enclave_hash);
        b[192..256].copy_from_slice(&self.enclave_signature);
        b[256..264].copy_from_slice(&self.nonce.to_le_bytes());
        b[264..328].copy_from_slice(&self.dev_pub_key);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Report> {
        if b.len() != REPORT_SIZE {
            return None;
        }
        let f = |r: std::ops::Range<usize>| &b[r];
        Some(Report {
            sm_hash: f(0..32).try_into().ok()?,
            sm_signature: f(32..96).try_into().ok()?,
            sm_pub_key: f(96..160).try_into().ok()?,
            enclave_hash: f(160..192).try_into().ok()?,
            enclave_signature: f(192..256).try_into().ok()?,
            nonce: u64::from_le_bytes(f(256..264).try_into().ok()?),
            dev_pub_key: f(264..328).try_into().ok()?,
        })
    }

    /// Checks both signatures (device → SM key → enclave hash). Anchoring the device key
    /// and checking the hash against an expected measurement are the verifier's business.
    pub fn signatures_valid(&self) -> bool {
        keys::verify(&self.dev_pub_key, &keys::sm_signed_digest(&self.sm_hash, &self.sm_pub_key), &self.sm_signature)
            && keys::verify(&self.sm_pub_key, &self.enclave_hash, &self.enclave_signature)
    }
}

/// Why host attestation failed (the C API sees -1 for all of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttestError {
    /// The enclave is not FRESH or STOPPED (§5.4, §6.5).
    State(State),
    /// No platform keys (the key file cannot be read or created).
    Keys(String),
}

impl std::fmt::Display for AttestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttestError::State(s) => write!(f, "the enclave is {}; attestation needs FRESH or STOPPED", s.name()),
            AttestError::Keys(m) => f.write_str(m),
        }
    }
}

/// Per-monitor attestation state: the platform block, filled on first use.
#[derive(Default)]
pub struct AttestState {
    platform: Mutex<Option<Arc<Platform>>>,
}

impl Monitor {
    /// The stated description of this monitor whose SM3 is `sm.hash`.
    pub fn sm_description(&self) -> String {
        let rng = match self.config.rng {
            RngMode::Seeded => "seeded",
            RngMode::PenglaiLcg => "penglai-lcg",
            RngMode::Os => "os",
        };
        format!(
            "pltvm {}\n\
             monitor: Penglai-TVM secure monitor model (docs/abi.md)\n\
             measurement: SM3 over Penglai's hash_enclave stream (B3, B4 faithful)\n\
             report: report_t; SM2 sm2p256v1 over the 32-byte hash (no Z_A), RFC 6979 k\n\
             sm.signature: device key over SM3(sm.hash || sm_pub_key)\n\
             get_key: HKDF-SHA256(salt = stored measurement, IKM = Penglai root key)\n\
             get_report(name): server hash not modified (B7 fix)\n\
             rng: {}\n\
             caller_id_compat: {}\n",
            crate::version(),
            rng,
            self.config.caller_id_compat
        )
    }

    /// Uses these keys from now on (reports already made keep theirs).
    pub fn set_keys(&self, keys: Keys) {
        let p = Platform::new(keys, self.sm_description());
        *self.attest.platform.lock().unwrap() = Some(Arc::new(p));
    }

    /// The platform block; on first use the default keys are loaded ([`Keys::default_keys`]).
    pub fn platform(&self) -> Result<Arc<Platform>, String> {
        let mut g = self.attest.platform.lock().unwrap();
        if let Some(p) = g.as_ref() {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(Platform::new(Keys::default_keys()?, self.sm_description()));
        *g = Some(Arc::clone(&p));
        Ok(p)
    }

    /// A signed report for `enclave_hash` (already nonce-updated) and `nonce`.
    pub fn sign_report(&self, enclave_hash: [u8; 32], nonce: u64) -> Result<Report, String> {
        let p = self.platform()?;
        Ok(Report {
            sm_hash: p.sm_hash,
            sm_signature: p.sm_signature,
            sm_pub_key: p.sm_pub,
            enclave_hash,
            enclave_signature: keys::sign(&p.keys.sm, &enclave_hash),
            nonce,
            dev_pub_key: p.dev_pub,
        })
    }

    /// Report for a stored hash: fid 80 (a shadow template, no state check) and the body of
    /// fid 98.
    pub fn attest_hash(&self, stored: &[u8; 32], nonce: u64) -> Result<Report, String> {
        self.sign_report(update_hash(stored, nonce), nonce)
    }

    /// Host attestation (fid 98): FRESH or STOPPED enclaves only. The report is made under the
    /// enclave's control lock, so the ATTESTING state is never observable.
    pub fn attest(&self, cell: &EnclaveCell, nonce: u64) -> Result<Report, AttestError> {
        let c = cell.ctl.lock().unwrap();
        if !matches!(c.state, State::Fresh | State::Stopped) {
            return Err(AttestError::State(c.state));
        }
        let r = self.attest_hash(&cell.measurement, nonce).map_err(AttestError::Keys);
        drop(c);
        r
    }

    /// Stored measurement of the live server enclave named `name` (for `get_report(name)`).
    fn server_measurement(&self, name: &[u8]) -> Option<[u8; 32]> {
        let t = self.tables();
        t.eids.iter().flatten().find(|c| c.kind == SERVER_ENCLAVE && c.name_key() == name).map(|c| c.measurement)
    }
}

const MINUS_ONE: u64 = u64::MAX;

/// Reads a NUL-terminated name (at most 16 bytes count) at enclave VA `va`.
fn read_name(e: &mut Enclave, va: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..16u64 {
        let b = e.read_va(va.checked_add(i)?, 1)?[0];
        if b == 0 {
            break;
        }
        out.push(b);
    }
    Some(out)
}

/// `get_report(name, report, nonce)` (a7 = 94): 0 or -1.
pub fn get_report(e: &mut Enclave, m: &Monitor, name_va: u64, report_va: u64, nonce: u64) -> u64 {
    let hash = if name_va == 0 {
        measure::measure(&e.bus, e.root, e.entry, nonce) // B6: the live address space
    } else {
        let Some(name) = read_name(e, name_va) else { return MINUS_ONE };
        let Some(stored) = m.server_measurement(&name) else { return MINUS_ONE };
        update_hash(&stored, nonce) // B7 fix: from a copy, nothing written back
    };
    let Ok(r) = m.sign_report(hash, nonce) else { return MINUS_ONE };
    if e.write_va(report_va, &r.to_bytes()) { 0 } else { MINUS_ONE }
}

/// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` (empty: no salt) and `info`, `len` bytes;
/// `None` above 255 * 32 bytes. The one HKDF of `get_key`, exposed for known-answer tests.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Option<Vec<u8>> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new((!salt.is_empty()).then_some(salt), ikm);
    let mut okm = vec![0u8; len];
    hk.expand(info, &mut okm).ok()?;
    Some(okm)
}

/// HKDF-SHA256(salt = stored hash, IKM = root key, info = empty, L = `len`) (§6.4).
pub fn derive_key(stored: &[u8; 32], len: usize) -> Option<Vec<u8>> {
    hkdf_sha256(&ROOT_KEY, stored, &[], len)
}

/// `get_key(type, buf, size)` (a7 = 88): 0 or -1. ATTEST_KEY and unknown types write nothing
/// and return 0 (B9), with a warning on the enclave.
pub fn get_key(e: &mut Enclave, kind: u64, va: u64, len: u64) -> u64 {
    if kind != ENCLAVE_KEY && kind != STORAGE_KEY {
        if e.warnings.len() < 64 {
            e.warnings.push(format!("get_key: key type {kind} is not supported; nothing written (Penglai returns 0)"));
        }
        return 0;
    }
    if len > MAX_KEY_SIZE {
        return MINUS_ONE;
    }
    let Some(key) = derive_key(&e.measurement, len as usize) else { return MINUS_ONE };
    if e.write_va(va, &key) { 0 } else { MINUS_ONE }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 5869 A.1 and A.3 through `hkdf_sha256`, the function `derive_key` calls.
    #[test]
    fn hkdf_rfc5869_vectors() {
        let cases = [
            (
                "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                "000102030405060708090a0b0c",
                "f0f1f2f3f4f5f6f7f8f9",
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            ),
            (
                "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                "",
                "",
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            ),
        ];
        for (ikm, salt, info, okm) in cases {
            let (ikm, salt, info, okm) = (unhex(ikm), unhex(salt), unhex(info), unhex(okm));
            assert_eq!(hkdf_sha256(&ikm, &salt, &info, okm.len()), Some(okm));
        }
    }

    #[test]
    fn report_layout_round_trips() {
        let r = Report {
            sm_hash: [1; 32],
            sm_signature: [2; 64],
            sm_pub_key: [3; 64],
            enclave_hash: [4; 32],
            enclave_signature: [5; 64],
            nonce: 0x0102_0304_0506_0708,
            dev_pub_key: [6; 64],
        };
        let b = r.to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(b[32], 2);
        assert_eq!(b[96], 3);
        assert_eq!(b[160], 4);
        assert_eq!(b[192], 5);
        assert_eq!(&b[256..264], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(b[264], 6);
        assert_eq!(Report::from_bytes(&b), Some(r));
    }

    #[test]
    fn derived_keys_depend_on_the_measurement() {
        let a = derive_key(&[1; 32], 32).unwrap();
        assert_eq!(a, derive_key(&[1; 32], 32).unwrap());
        assert_ne!(a, derive_key(&[2; 32], 32).unwrap());
        assert_eq!(&derive_key(&[1; 32], 64).unwrap()[..32], &a[..]);
        assert!(derive_key(&[1; 32], 8161).is_none());
    }
}
