//! Shadow templates and forks (fids 86/87/80/79), server enclaves (90/89) and relay pages
//! from an S-mode host, accepting and refusing.
use super::enclave_tests::*;
use super::gpt::PAGE;
use super::tests::*;
use super::*;
use crate::machine::Machine;
use crate::monitor::consts::RELAY_POOL;
use crate::mmu::sv39::PTE_V;

const INSTANCE: u64 = 0x80A0_0000; // PMD[5]'s leaf
const RELAY: u64 = 0x80C0_0000; // PMD[6]'s leaf
const SERVER_BLOCK: u64 = 0x80E0_0000; // PMD[7]'s leaf
const RUNP: u64 = 0x8070_5000;
const I_EID: u64 = 0x8070_6000;
const I_MAILBOX: u64 = 0x8070_6008;
const I_RETVAL: u64 = 0x8070_6028;
const I_KBUF: u64 = 0x8070_7000;
const RELAY_ARG: u64 = 0x8070_8000;

fn sd(rs2: u32, rs1: u32, imm: u32) -> u32 {
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 31) << 7) | 0x23
}

/// `shadow_enclave_run_param` at RUNP for an instance block at `block` (`size` bytes).
fn run_param(m: &mut Machine, block: u64, size: u64, mm_arg: (u64, u64)) {
    let mut p = [0u8; 136];
    let mut put = |off: usize, v: u64| p[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(8, block);
    put(16, size);
    put(24, I_EID);
    put(32, I_KBUF);
    put(40, 4096);
    put(64, mm_arg.0);
    put(72, mm_arg.1);
    for i in 0..4 {
        put(80 + 8 * i, I_MAILBOX + 8 * i as u64);
    }
    put(112, I_RETVAL);
    p[120..126].copy_from_slice(b"fork-1");
    assert!(m.mem_write(RUNP, &p));
}

/// A template of `program()` (prints "hi", returns 42) in BLOCK; shadow eid 0.
fn template() -> (Machine, Capture) {
    let (mut m, out) = installed();
    let free = build_block_at(&mut m, BLOCK, &program(), None);
    param_at(&mut m, PARAM, BLOCK, free, b"tpl");
    assert_eq!(call(&mut m, 86, &[PARAM]), (0, 0));
    assert_eq!(read(&mut m, EID_PTR) as u32, 0, "shadow eid");
    (m, out)
}

fn live_enclaves(m: &mut Machine) -> usize {
    sys(m).monitor.ids().len()
}

#[test]
fn a_template_forks_instances_that_run_like_enclaves_and_give_their_block_back() {
    let (mut m, _) = template();
    assert_eq!(read(&mut m, PMD + 8 * 4) & PTE_V, 0, "the template's block is secure, host leaf cleared");
    for round in 0..2 {
        run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
        assert_eq!(call(&mut m, 87, &[0, RUNP]), (0, 2), "round {round}: print OCALL");
        let eid = read(&mut m, I_EID) as u32 as u64;
        assert_eq!(read(&mut m, I_MAILBOX), 3);
        let mut text = [0u8; 3];
        m.bus.read(I_KBUF, &mut text);
        assert_eq!(&text, b"hi\0");
        assert!(sys(&mut m).gpt.is_secure(INSTANCE), "instance block secure while the instance lives");
        assert_eq!(read(&mut m, PMD + 8 * 5) & PTE_V, 0);
        assert_eq!(call(&mut m, 95, &[eid, 2, 3]), (0, 0));
        assert_eq!(read(&mut m, I_RETVAL), 42);
        assert!(!sys(&mut m).gpt.is_secure(INSTANCE));
        assert_eq!(read(&mut m, PMD + 8 * 5), leaf(INSTANCE), "host leaf valid again");
        assert_eq!(call(&mut m, 94, &[eid]).0, -1, "the instance is gone");
    }
    // ATTEST_SHADOW: the template's hash with the nonce; not the instance's table.
    assert_eq!(call(&mut m, 80, &[0, REPORT, 9]), (0, 0));
    let mut report = [0u8; 328];
    m.bus.read(REPORT, &mut report);
    let meas = sys(&mut m).enclaves.shadows[&0].0.measurement;
    let want = sys(&mut m).monitor.attest_hash(&meas, 9).unwrap().to_bytes();
    assert_eq!(report.to_vec(), want.to_vec());
    assert_eq!(call(&mut m, 98, &[0, REPORT, 9]).0, -1, "fid 98 addresses normal eids, not templates");
    assert_eq!(call(&mut m, 79, &[0]), (0, 0));
    assert!(!sys(&mut m).gpt.is_secure(BLOCK));
    assert_eq!(read(&mut m, PMD + 8 * 4), leaf(BLOCK));
    assert_eq!(read(&mut m, BLOCK + PAGE), 0, "scrubbed");
    for (fid, args) in [(79, vec![0]), (80, vec![0, REPORT, 9]), (87, vec![0, RUNP])] {
        assert_eq!(call(&mut m, fid, &args).0, -1, "fid {fid} on a destroyed template");
    }
    assert_eq!(live_enclaves(&mut m), 0);
}

#[test]
fn destroying_the_template_leaves_a_live_instance_running() {
    let (mut m, _) = template();
    run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
    assert_eq!(call(&mut m, 87, &[0, RUNP]), (0, 2));
    let eid = read(&mut m, I_EID) as u32 as u64;
    assert_eq!(call(&mut m, 79, &[0]), (0, 0));
    assert_eq!(call(&mut m, 95, &[eid, 2, 3]), (0, 0));
    assert_eq!(read(&mut m, I_RETVAL), 42);
    assert!(!sys(&mut m).gpt.is_secure(INSTANCE) && !sys(&mut m).gpt.is_secure(BLOCK));
}

#[test]
fn run_shadow_refuses_wrong_ids_secure_or_foreign_memory_and_changes_nothing() {
    let (mut m, _) = template();
    // A normal enclave next to it, to have a normal eid that is not a shadow eid.
    for sid in [1u64, u64::MAX, 1 << 32, 0xFFFF_FFFF] {
        run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
        assert_eq!(call(&mut m, 87, &[sid, RUNP]).0, -1, "shadow eid {sid:#x}");
    }
    for pa in [0, MONITOR_BASE, BITMAP, BLOCK + 0x2000, u64::MAX - 8, RUNP + 0x1000 - 64 + 0x10_0000_0000] {
        assert_eq!(call(&mut m, 87, &[0, pa]).0, -1, "run param at {pa:#x}");
    }
    let bad_blocks = [
        (BLOCK, BLOCK_SIZE),                     // the template's own (secure) block
        (MONITOR_BASE, BLOCK_SIZE),              // the monitor
        (PT, PAGE),                              // the PT area
        (BITMAP, BLOCK_SIZE),                    // the bitmap
        (INSTANCE + 0x1000, BLOCK_SIZE - 0x1000), // partly under a 2 MiB host leaf
        (INSTANCE + 1, BLOCK_SIZE),              // unaligned
        (INSTANCE, 0),                           // empty
        (INSTANCE, u64::MAX & !0xfff),           // overflowing
        (INSTANCE, 1 << 40),                     // past RAM
        (0x8070_0000, BLOCK_SIZE),               // holds the run param, eid word and kbuffer
    ];
    for (b, n) in bad_blocks {
        run_param(&mut m, b, n, (0, 0));
        assert_eq!(call(&mut m, 87, &[0, RUNP]).0, -1, "instance block {b:#x}+{n:#x}");
    }
    // Host words in secure memory or inside the instance block.
    for (off, v) in [(24usize, BLOCK + 0x100), (24, INSTANCE + 8), (32, BLOCK + 0x1000), (32, INSTANCE), (80, BLOCK), (112, INSTANCE + 0x18), (24, I_EID + 1)] {
        run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
        m.mem_write(RUNP + off as u64, &v.to_le_bytes());
        assert_eq!(call(&mut m, 87, &[0, RUNP]).0, -1, "param offset {off} = {v:#x}");
    }
    // A relay region in secure memory, inside the instance block, or not page-aligned.
    for arg in [(BLOCK, BLOCK_SIZE), (INSTANCE, BLOCK_SIZE), (RELAY + 8, BLOCK_SIZE), (0, PAGE), (0xFFFF, 0)] {
        run_param(&mut m, INSTANCE, BLOCK_SIZE, arg);
        assert_eq!(call(&mut m, 87, &[0, RUNP]).0, -1, "relay {arg:x?}");
    }
    assert_eq!(live_enclaves(&mut m), 1, "only the template: no instance was left behind");
    for pa in [INSTANCE, RELAY] {
        assert!(!sys(&mut m).gpt.is_secure(pa), "{pa:#x} public again");
    }
    assert_eq!(read(&mut m, PMD + 8 * 5), leaf(INSTANCE));
    // And a good one still works.
    run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
    assert_eq!(call(&mut m, 87, &[0, RUNP]), (0, 2));
}

#[test]
fn create_shadow_refuses_bad_blocks_and_a_full_pool() {
    let (mut m, _) = installed();
    let free = build_block_at(&mut m, BLOCK, &program(), Some(0x8050_0000));
    param_at(&mut m, PARAM, BLOCK, free, b"tpl");
    assert_eq!(call(&mut m, 86, &[PARAM]).0, -1, "a leaf outside the block");
    let free = build_block_at(&mut m, BLOCK, &program(), None);
    param_at(&mut m, PARAM, BLOCK, free, b"tpl");
    m.mem_write(PARAM, &(BLOCK + 0x10).to_le_bytes());
    assert_eq!(call(&mut m, 86, &[PARAM]).0, -1, "eid_ptr inside the block");
    m.mem_write(PARAM, &(ROOT).to_le_bytes());
    assert_eq!(call(&mut m, 86, &[PARAM]).0, -1, "eid_ptr in the PT area");
    param_at(&mut m, PARAM, BLOCK, BLOCK + BLOCK_SIZE, b"tpl");
    assert_eq!(call(&mut m, 86, &[PARAM]).0, -1, "free_mem outside the block");
    assert!(!sys(&mut m).gpt.is_secure(BLOCK));
    sys(&mut m).monitor.config.secure_memory = BLOCK_SIZE - PAGE;
    param_at(&mut m, PARAM, BLOCK, free, b"tpl");
    assert_eq!(call(&mut m, 86, &[PARAM]).0, -2, "secure pool full");
    sys(&mut m).monitor.config.secure_memory = BLOCK_SIZE;
    assert_eq!(call(&mut m, 86, &[PARAM]), (0, 0));
    run_param(&mut m, INSTANCE, BLOCK_SIZE, (0, 0));
    assert_eq!(call(&mut m, 87, &[0, RUNP]).0, -2, "the instance block does not fit the pool");
    assert!(!sys(&mut m).gpt.is_secure(INSTANCE));
}

// ---- servers ---------------------------------------------------------------------------------

#[test]
fn a_server_is_created_cannot_be_run_by_the_host_and_is_destroyed_with_fid_89() {
    let (mut m, _) = installed();
    let free = build_block_at(&mut m, SERVER_BLOCK, &program(), None);
    param_at(&mut m, PARAM, SERVER_BLOCK, free, b"test-server");
    assert_eq!(call(&mut m, 90, &[PARAM]), (0, 0));
    let eid = read(&mut m, EID_PTR) as u32 as u64;
    assert_eq!(read(&mut m, PMD + 8 * 7) & PTE_V, 0, "server block secure");
    // A second server of the same name, and a nameless one, are refused.
    let free2 = build_block_at(&mut m, BLOCK, &program(), None);
    param_at(&mut m, PARAM, BLOCK, free2, b"test-server");
    assert_eq!(call(&mut m, 90, &[PARAM]).0, -1, "duplicate name");
    param_at(&mut m, PARAM, BLOCK, free2, b"");
    assert_eq!(call(&mut m, 90, &[PARAM]).0, -1, "empty name");
    assert!(!sys(&mut m).gpt.is_secure(BLOCK));
    // The host cannot run, resume, stop, attest or fid-94-destroy it.
    for (fid, args) in [(97, vec![eid, 0]), (95, vec![eid, 0]), (96, vec![eid]), (98, vec![eid, REPORT, 1]), (94, vec![eid])] {
        assert_eq!(call(&mut m, fid, &args).0, -1, "fid {fid}");
    }
    // fid 89 on a normal enclave is refused.
    param_at(&mut m, PARAM, BLOCK, free2, b"plain");
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0));
    let normal = read(&mut m, EID_PTR) as u32 as u64;
    assert_eq!(call(&mut m, 89, &[normal]).0, -1);
    for bad in [u64::MAX, 1 << 32, 77] {
        assert_eq!(call(&mut m, 89, &[bad]).0, -1, "eid {bad:#x}");
    }
    assert_eq!(call(&mut m, 89, &[eid]), (0, 0));
    assert!(!sys(&mut m).gpt.is_secure(SERVER_BLOCK));
    assert_eq!(read(&mut m, PMD + 8 * 7), leaf(SERVER_BLOCK));
    assert_eq!(call(&mut m, 89, &[eid]).0, -1, "twice");
    // The name is free again.
    let free = build_block_at(&mut m, SERVER_BLOCK, &program(), None);
    param_at(&mut m, PARAM, SERVER_BLOCK, free, b"test-server");
    assert_eq!(call(&mut m, 90, &[PARAM]), (0, 0));
}

// ---- relay pages -----------------------------------------------------------------------------

/// Prints "h", adds 1 to the relay's first doubleword, returns the relay page, adds 1 again
/// and exits with the value.
fn relay_program() -> Vec<u32> {
    vec![
        lui(16, 0x100),
        addi(16, 16, 0x101), // a6 = 0x100101
        ld(5, 13),           // t0 = relay[0] (a3 = 0x38_0000_0000)
        addi(5, 5, 1),
        sd(5, 13, 0),
        addi(6, 0, -1),
        slli(6, 6, 37), // t1 = the kbuffer
        addi(7, 0, b'h' as i32),
        sb(7, 6, 0),
        sb(0, 6, 1),
        addi(10, 0, 3),
        addi(17, 0, 98),
        ECALL, // print
        addi(10, 0, 7),
        addi(17, 0, 98),
        ECALL, // OCALL_RETURN_RELAY_PAGE
        ld(5, 13),
        addi(5, 5, 1),
        sd(5, 13, 0),
        addi(10, 5, 0),
        addi(17, 0, 99),
        ECALL, // EAPP_RETURN(relay[0])
    ]
}

fn relay_enclave() -> (Machine, u64) {
    let (mut m, _) = installed();
    let free = build_block_at(&mut m, BLOCK, &relay_program(), None);
    param_at(&mut m, PARAM, BLOCK, free, b"relay");
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0));
    assert!(m.mem_write(RELAY, &41u64.to_le_bytes()));
    let eid = read(&mut m, EID_PTR) as u32 as u64;
    (m, eid)
}

fn relay_arg(m: &mut Machine, pa: u64, size: u64) {
    assert!(m.mem_write(RELAY_ARG, &pa.to_le_bytes()));
    assert!(m.mem_write(RELAY_ARG + 8, &size.to_le_bytes()));
}

#[test]
fn relay_pages_go_to_the_enclave_secure_and_come_back_with_its_contents() {
    let (mut m, eid) = relay_enclave();
    relay_arg(&mut m, RELAY, BLOCK_SIZE);
    assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]), (0, 2));
    assert_eq!(read(&mut m, MAILBOX), 3, "the print comes first");
    assert!(sys(&mut m).gpt.is_secure(RELAY), "the relay region is the enclave's meanwhile");
    assert_eq!(read(&mut m, PMD + 8 * 6) & PTE_V, 0, "host leaf cleared");
    assert_eq!(call(&mut m, 95, &[eid, 2, 3]), (0, 2), "then the relay return");
    assert_eq!([read(&mut m, MAILBOX), read(&mut m, MAILBOX + 8), read(&mut m, MAILBOX + 16)], [7, RELAY, BLOCK_SIZE]);
    assert!(!sys(&mut m).gpt.is_secure(RELAY));
    assert_eq!(read(&mut m, PMD + 8 * 6), leaf(RELAY), "host leaf valid again");
    assert_eq!(read(&mut m, RELAY), 42, "the enclave's contents");
    assert!(m.mem_write(RELAY, &100u64.to_le_bytes()), "the host changes it");
    assert_eq!(call(&mut m, 95, &[eid, 0]).0, -1, "a timer resume does not answer a relay return");
    assert_eq!(call(&mut m, 95, &[eid, 2, 7, RELAY, BLOCK_SIZE]), (0, 0));
    assert_eq!(read(&mut m, RETVAL), 101, "the enclave saw the host's change");
    assert_eq!(read(&mut m, RELAY), 101, "and its exit gave the region back with its contents");
    assert!(!sys(&mut m).gpt.is_secure(RELAY) && !sys(&mut m).gpt.is_secure(BLOCK));
}

#[test]
fn relay_regions_that_are_not_the_hosts_to_give_are_refused_and_the_enclave_stays_fresh() {
    let (mut m, eid) = relay_enclave();
    let bad = [
        (BLOCK, BLOCK_SIZE),             // the enclave's own secure block
        (MONITOR_BASE, BLOCK_SIZE),      // the monitor
        (PT, PAGE),                      // the PT area
        (BITMAP, BLOCK_SIZE),            // the bitmap
        (RELAY, PAGE),                   // partly under a 2 MiB host leaf
        (RELAY + 8, BLOCK_SIZE),         // unaligned
        (RELAY, BLOCK_SIZE + 8),         // unaligned size
        (0, PAGE),                       // size without an address
        (RELAY, RELAY_POOL * 2),         // larger than the relay pool
        (RELAY, u64::MAX & !0xfff),      // overflowing
        (RELAY, 1 << 63),                // 2^63
        (1 << 40, BLOCK_SIZE),           // past RAM
        (0x8070_0000, BLOCK_SIZE),       // holds the kbuffer, mailbox and retval
        (0xFFFF, 0),                     // inherit by name: nothing registered
    ];
    for (pa, n) in bad {
        relay_arg(&mut m, pa, n);
        assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]).0, -1, "relay {pa:#x}+{n:#x}");
        assert!(!sys(&mut m).gpt.is_secure(RELAY));
    }
    for pa in [BLOCK - 8, BLOCK, MONITOR_BASE, u64::MAX - 7] {
        assert_eq!(call(&mut m, 97, &[eid, pa]).0, -1, "run param at {pa:#x}");
    }
    assert_eq!(live_enclaves(&mut m), 1, "the enclave is still there (FRESH)");
    // Another live enclave of the same name: relay pages need a unique name.
    let free = build_block_at(&mut m, INSTANCE, &relay_program(), None);
    param_at(&mut m, PARAM, INSTANCE, free, b"relay");
    m.mem_write(PARAM, &(EID_PTR + 4).to_le_bytes());
    assert_eq!(call(&mut m, 99, &[PARAM]), (0, 0));
    relay_arg(&mut m, RELAY, BLOCK_SIZE);
    assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]).0, -1, "name not unique");
    assert!(!sys(&mut m).gpt.is_secure(RELAY), "refused run: the region is public again");
    assert_eq!(read(&mut m, RELAY), 41, "and untouched");
    let other = read(&mut m, EID_PTR + 4) as u32 as u64;
    assert_eq!(call(&mut m, 94, &[other]), (0, 0));
    // Still FRESH: a good run works.
    assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]), (0, 2));
}

#[test]
fn a_bad_region_at_the_relay_rerun_is_refused_and_a_destroy_scrubs_a_held_region() {
    let (mut m, eid) = relay_enclave();
    relay_arg(&mut m, RELAY, BLOCK_SIZE);
    assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]), (0, 2));
    assert_eq!(call(&mut m, 95, &[eid, 2, 3]), (0, 2));
    for (pa, n) in [(BLOCK, BLOCK_SIZE), (RELAY + 8, BLOCK_SIZE), (MONITOR_BASE, PAGE), (RELAY, u64::MAX & !0xfff), (0, PAGE)] {
        assert_eq!(call(&mut m, 95, &[eid, 2, 7, pa, n]).0, -1, "rerun with {pa:#x}+{n:#x}");
        assert!(!sys(&mut m).gpt.is_secure(RELAY));
    }
    assert_eq!(call(&mut m, 95, &[eid, 2, 7, RELAY, BLOCK_SIZE]), (0, 0), "a good one still works");
    assert_eq!(read(&mut m, RETVAL), 43);
    // Destroy while the enclave holds the region (waiting in its print): scrubbed, public.
    let (mut m, eid) = relay_enclave();
    relay_arg(&mut m, RELAY, BLOCK_SIZE);
    assert_eq!(call(&mut m, 97, &[eid, RELAY_ARG]), (0, 2));
    assert_eq!(call(&mut m, 94, &[eid]), (0, 0));
    assert!(!sys(&mut m).gpt.is_secure(RELAY));
    assert_eq!(read(&mut m, RELAY), 0, "scrubbed");
    assert_eq!(read(&mut m, PMD + 8 * 6), leaf(RELAY));
}

#[test]
fn a_server_beyond_the_secure_pool_gets_enclave_no_mem_and_nothing_changes() {
    let (mut m, _) = installed();
    sys(&mut m).monitor.config.secure_memory = BLOCK_SIZE - PAGE;
    let free = build_block_at(&mut m, SERVER_BLOCK, &program(), None);
    param_at(&mut m, PARAM, SERVER_BLOCK, free, b"test-server");
    assert_eq!(call(&mut m, 90, &[PARAM]).0, -2);
    assert!(!sys(&mut m).gpt.is_secure(SERVER_BLOCK));
    assert_eq!(read(&mut m, PMD + 8 * 7), leaf(SERVER_BLOCK));
    assert_eq!(live_enclaves(&mut m), 0);
    sys(&mut m).monitor.config.secure_memory = BLOCK_SIZE;
    assert_eq!(call(&mut m, 90, &[PARAM]), (0, 0), "the name was not taken by the refused create");
}
