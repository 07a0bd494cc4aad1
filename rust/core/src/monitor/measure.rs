//! Enclave measurement, byte for byte as Penglai's `hash_enclave` / `hash_shadow_enclave`
//! (docs/abi.md §6.1, §6.2), quirks included:
//!
//! * B3: the VA hashed for a root-level entry `i` is `0xFFFF_FF80_0000_0000 + (i << 30)` for
//!   every `i`, i.e. `(real VA mod 2^39) | 0xFFFF_FF80_0000_0000`;
//! * B4: the "page attribute" hashed after that VA is byte 7 of the PTE (always 0 here).
//!
//! Stream: `le64(entry)`, then a depth-first walk of the Sv39 table (index order) in which
//! every maximal run of virtually contiguous mapped pages contributes its quirky start VA and
//! that zero byte once, followed by the contents of each page; then `le64(nonce)`. SM3 is
//! RustCrypto's `sm3` crate.
//!
//! Who calls what: a normal enclave is measured once at create, after its stack, kbuffer and
//! shm are mapped ([`measure`] with nonce 0, stored in `Enclave::measurement`); a shadow
//! template is measured the same way before any stack/kbuffer/shm exists; a fork instance
//! copies its template's stored hash (B36). Reports use [`update_hash`]; the in-enclave
//! `get_report(NULL)` re-measures the live address space with its nonce (B6).
//!
//! [`measure_elf`] is the ahead-of-time measurement behind `pltvm.measure`: it runs the very
//! steps of creation (file checks, block size, loader, the monitor's mappings) without taking
//! pool memory or an id, so there is one loader rule set and nothing to keep in sync.
use super::consts::{NORMAL_ENCLAVE, SERVER_ENCLAVE, SHADOW_ENCLAVE};
use super::enclave::{self, CreateError, CreateParams, Enclave};
use super::{Config, Monitor};
use crate::bus::Bus;
use crate::mem::{PAGE_SHIFT, PAGE_SIZE};
use sm3::{Digest, Sm3};

/// VA of root entry 0 as the walk computes it (B3).
pub const ROOT_VA_BASE: u64 = 0xFFFF_FF80_0000_0000;

const V: u64 = 0x01;
const RX: u64 = 0x0A;

static ZERO: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// The 4 KiB frame at `pa` (zeros for RAM never written, and for anything that is not RAM).
fn frame(bus: &Bus, pa: u64) -> &[u8; PAGE_SIZE] {
    if !bus.is_ram(pa) {
        return &ZERO;
    }
    // `page`, not `mem`: secure shm pages live outside the frame tree.
    bus.page(pa >> PAGE_SHIFT).unwrap_or(&ZERO)
}

fn walk(bus: &Bus, h: &mut Sm3, table: u64, level: u32, base: u64, need_va: &mut bool) {
    let t = frame(bus, table & !(PAGE_SIZE as u64 - 1));
    for i in 0..512u64 {
        let o = (i * 8) as usize;
        let pte = u64::from_le_bytes(t[o..o + 8].try_into().unwrap());
        if pte & V == 0 {
            *need_va = true;
            continue;
        }
        let va = base.wrapping_add(i << (12 + 9 * level));
        let pa = ((pte >> 10) & ((1 << 44) - 1)) << 12;
        if pte & RX != 0 {
            if *need_va {
                h.update(va.to_le_bytes());
                h.update([(pte >> 56) as u8]); // B4
                *need_va = false;
            }
            match level {
                0 => h.update(frame(bus, pa)),
                1 => {
                    for k in 0..512u64 {
                        h.update(frame(bus, pa + (k << 12)));
                    }
                }
                _ => {} // a root-level (1 GiB) leaf: Penglai hashes no contents for it
            }
        } else if level > 0 {
            walk(bus, h, pa, level - 1, va, need_va);
        }
        // A pointer-shaped (W-only) entry at the leaf level adds nothing. The monitor never
        // builds one (the create-time layout check rejects W without R).
    }
}

/// SM3 measurement of the address space rooted at `root` (§6.1), with `nonce`.
pub fn measure(bus: &Bus, root: u64, entry: u64, nonce: u64) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(entry.to_le_bytes());
    let mut need_va = true;
    walk(bus, &mut h, root, 2, ROOT_VA_BASE, &mut need_va);
    h.update(nonce.to_le_bytes());
    h.finalize().into()
}

/// `update_enclave_hash` (§6.2): `SM3(stored ‖ le64(nonce))`, what host attestation reports.
pub fn update_hash(stored: &[u8; 32], nonce: u64) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(stored);
    h.update(nonce.to_le_bytes());
    h.finalize().into()
}

/// The measurement the monitor stores when it creates an enclave of `kind` from `elf` (stack
/// of `stack_size` bytes, host shm contents `shm`), with `nonce` in place of 0 at the end of
/// the stream; or the error the monitor's create returns for this file and these parameters.
///
/// `kind`: [`NORMAL_ENCLAVE`] and [`SHADOW_ENCLAVE`] are created in a private monitor (a pool
/// large enough for any block), so every check, the loader and the monitor's mappings are the
/// ones `Monitor::create` runs. [`SERVER_ENCLAVE`]: the monitor does not create server enclaves,
/// so this is the only place that value comes from: image and stack as the loader maps them,
/// then the shm, without the kbuffer page.
pub fn measure_elf(elf: &[u8], kind: u32, stack_size: u64, shm: Option<&[u8]>, nonce: u64) -> Result<[u8; 32], CreateError> {
    let p = CreateParams { name: [0u8; 16], kind, stack_size, shm: None, persistency: None };
    if kind == SERVER_ENCLAVE {
        // Built as a template stops after the loader (image and stack, no kbuffer); the shm is
        // then mapped the way the monitor maps a normal enclave's.
        let info = enclave::parse(elf)?;
        let pages = enclave::block_pages(&info, stack_size)?;
        let mut e = Enclave::build(elf, &info, &CreateParams { kind: SHADOW_ENCLAVE, ..p }, pages)?;
        if let Some(shm) = shm {
            e.map_shm(shm)?;
        }
        return Ok(measure(&e.bus, e.root, e.entry, nonce));
    }
    if kind != NORMAL_ENCLAVE && kind != SHADOW_ENCLAVE {
        return Err(CreateError::Param(format!("unknown enclave type {kind}")));
    }
    let m = Monitor::new(Config { secure_memory: u64::MAX, ..Config::default() });
    let cell = m.create_with_shm(elf, &p, shm)?;
    if nonce == 0 {
        return Ok(cell.measurement);
    }
    // The stored hash has nonce 0 in its stream; re-measure the enclave as created.
    let guard = cell.try_inner().map_err(|_| CreateError::Param("the enclave is busy".into()))?;
    let e = guard.as_ref().expect("try_inner returns a live enclave");
    Ok(measure(&e.bus, e.root, e.entry, nonce))
}

/// SM3 of `data` (GB/T 32905).
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::pt;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sm3_known_answers() {
        // GB/T 32905-2016 Appendix A, examples 1 and 2.
        assert_eq!(hex(&sm3(b"abc")), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        assert_eq!(
            hex(&sm3(&b"abcd".repeat(16))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    /// Throughput of the walk + SM3 over a 64 MiB mapped image (figures, not pass/fail):
    /// `cargo test -p pltvm-core --lib measure::tests::throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn throughput_64mib() {
        let mut bus = Bus::default();
        let (root, data, pages) = (0x1000_0000u64, 0x2000_0000u64, 16384u64);
        bus.add_ram(root, root + 0x10_0000);
        bus.add_ram(data, data + pages * 4096);
        let mut next = root + 0x1000;
        let mut alloc = |_: &mut Bus| {
            let p = next;
            next += 0x1000;
            Some(p)
        };
        for k in 0..pages {
            bus.write(data + k * 4096, &[(k as u8) | 1; 4096]);
        }
        assert!(pt::map_range(&mut bus, root, 0x1000, data, pages, 0xDF, &mut alloc));
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            std::hint::black_box(measure(&bus, root, 0x1000, 0));
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("measure: 64 MiB in {:.1} ms = {:.0} MiB/s", best * 1e3, 64.0 / best);
    }

    /// A small table by hand; the expected stream is written out independently of the walk.
    #[test]
    fn walk_matches_the_documented_stream() {
        let mut bus = Bus::default();
        bus.add_ram(0x1000_0000, 0x1010_0000);
        let root = 0x1000_0000;
        let mut next = root + 0x1000;
        let mut alloc = |_: &mut Bus| {
            let p = next;
            next += 0x1000;
            Some(p)
        };
        let data = 0x1008_0000u64;
        // Two contiguous pages at 0x1000, one at 0x38_0000_0000 - 0x1000, kbuffer.
        for (k, va) in [0x1000u64, 0x2000, 0x37_FFFF_F000, 0xFFFF_FFE0_0000_0000].iter().enumerate() {
            let pa = data + k as u64 * 0x1000;
            bus.write(pa, &[k as u8 + 1; 16]);
            assert!(pt::map_range(&mut bus, root, *va, pa, 1, 0xDF, &mut alloc));
        }
        let got = measure(&bus, root, 0x1234, 7);
        let mut s = Vec::new();
        s.extend_from_slice(&0x1234u64.to_le_bytes());
        let page = |k: u8| {
            let mut p = vec![0u8; 4096];
            p[..16].fill(k);
            p
        };
        s.extend_from_slice(&0xFFFF_FF80_0000_1000u64.to_le_bytes());
        s.push(0);
        s.extend(page(1));
        s.extend(page(2));
        s.extend_from_slice(&0xFFFF_FFB7_FFFF_F000u64.to_le_bytes());
        s.push(0);
        s.extend(page(3));
        s.extend_from_slice(&0xFFFF_FFE0_0000_0000u64.to_le_bytes());
        s.push(0);
        s.extend(page(4));
        s.extend_from_slice(&7u64.to_le_bytes());
        assert_eq!(got, sm3(&s));
        assert_eq!(update_hash(&got, 9), {
            let mut v = got.to_vec();
            v.extend_from_slice(&9u64.to_le_bytes());
            sm3(&v)
        });
    }
}

#[cfg(test)]
mod elf_tests {
    use super::*;
    use crate::monitor::test_support::elf_with_data;

    fn created(elf: &[u8], kind: u32, stack: u64, shm: Option<&[u8]>) -> Result<[u8; 32], CreateError> {
        let m = Monitor::new(Config::default());
        let p = CreateParams { name: [0; 16], kind, stack_size: stack, shm: shm.map(<[u8]>::to_vec), persistency: None };
        m.create(elf, &p).map(|c| c.measurement)
    }

    #[test]
    fn ahead_of_time_equals_create() {
        let f = elf_with_data(&[0x73], &[7u8; 5000]);
        let shm = vec![3u8; 8192];
        for (stack, shm) in [(0x10000, None), (0, None), (0x3000, Some(&shm[..]))] {
            assert_eq!(measure_elf(&f, NORMAL_ENCLAVE, stack, shm, 0), created(&f, NORMAL_ENCLAVE, stack, shm));
        }
        assert_eq!(measure_elf(&f, SHADOW_ENCLAVE, 0, None, 0), created(&f, SHADOW_ENCLAVE, 0, None));
        let normal = measure_elf(&f, NORMAL_ENCLAVE, 0x10000, None, 0).unwrap();
        assert_ne!(measure_elf(&f, NORMAL_ENCLAVE, 0x10000, None, 1).unwrap(), normal);
        assert_ne!(measure_elf(&f, SERVER_ENCLAVE, 0x10000, None, 0).unwrap(), normal);
        let mut bad = f.clone();
        bad[24..32].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(measure_elf(&bad, NORMAL_ENCLAVE, 0x10000, None, 0), created(&bad, NORMAL_ENCLAVE, 0x10000, None));
        assert!(measure_elf(&f, 7, 0, None, 0).is_err());
    }

    /// A program header in the page below the topmost one loads (its walk used to be refused
    /// as reading past the end of the file, or overflow); one in the topmost page is refused,
    /// naming the address space, not the file.
    #[test]
    fn segments_near_the_top_of_the_address_space() {
        for (vaddr, ok) in [(0u64.wrapping_sub(0x2000), true), (1 << 63, true), (0u64.wrapping_sub(0x1000), false)] {
            let mut f = elf_with_data(&[0x73; 4], &[]); // 16 file bytes
            f[64 + 16..64 + 24].copy_from_slice(&vaddr.to_le_bytes());
            let got = measure_elf(&f, NORMAL_ENCLAVE, 0x10000, None, 0);
            assert_eq!(got.is_ok(), ok, "{vaddr:#x}: {got:?}");
            assert_eq!(got, created(&f, NORMAL_ENCLAVE, 0x10000, None));
            if !ok {
                assert!(got.unwrap_err().to_string().contains("past the end of the address space"));
            }
        }
    }
}
