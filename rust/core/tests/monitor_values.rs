//! Every way a value reaches an enclave or leaves it keeps all 64 bits: host OCALL arguments and
//! results, `EAPP_RETURN` values, the addresses `mmap`/`sbrk` return, `getrandom` counts and
//! errors, the entry registers of a relay region and the registers seen after a relay re-run.
//!
//! Values are chosen so that a 32-bit truncation, sign- or zero-extended, changes them.
mod support;

use pltvm_core::monitor::consts::{fid, ocall, HEAP_BASE, MMAP_BASE, MM_ARG_BASE, PAGE};
use pltvm_core::monitor::{BufferHost, Config, Entry, Monitor, RunExit, RunRequest, State};
use support::*;

fn monitor() -> Monitor {
    Monitor::new(Config::default())
}

fn run(m: &Monitor, cell: &std::sync::Arc<pltvm_core::monitor::EnclaveCell>, entry: Entry) -> pltvm_core::monitor::RunOutcome {
    m.run(cell, RunRequest { entry, shm: None, budget: None }, &mut BufferHost::default())
}

/// `EAPP_RETURN(v)` hands `v` to the host unchanged.
#[test]
fn exit_values_keep_64_bits() {
    let m = monitor();
    for v in WIDE_VALUES.into_iter().chain([0, 1, 0x7FFF_FFFF]) {
        let mut code = li64(A0, T0, v);
        code.extend(penglai(fid::EXIT));
        let cell = m.create(&elf(&code, &[]), &params("exit", None)).unwrap();
        let out = run(&m, &cell, Entry::Start { relay: None });
        assert_eq!(out.exit, RunExit::Exited { retval: v }, "exit value {v:#x}");
    }
}

/// A host-handled OCALL: the three arguments arrive whole, and the host's result is what the
/// enclave finds in `a0` (stored to shm, then returned as the exit value).
#[test]
fn host_ocall_arguments_and_result_keep_64_bits() {
    let m = monitor();
    for v in WIDE_VALUES {
        let args = [v, !v, v.rotate_left(17)];
        let mut code = vec![addi(S0, A0, 0)];
        code.extend(li64(A1, T0, args[0]));
        code.extend(li64(A2, T0, args[1]));
        code.extend(li64(A3, T0, args[2]));
        code.push(addi(A0, ZERO, 100));
        code.extend(penglai(fid::OCALL));
        code.push(sd(A0, 0, S0));
        code.extend(penglai(fid::EXIT));
        let cell = m.create(&elf(&code, &[]), &params("ocall", Some(PAGE as usize))).unwrap();
        cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![100];
        let out = run(&m, &cell, Entry::Start { relay: None });
        assert_eq!(out.exit, RunExit::Ocall { id: 100, args }, "arguments of {v:#x}");
        assert_eq!(cell.state(), State::Ocalling);
        let result = v ^ 0x0123_4567_89AB_CDEF;
        let out = run(&m, &cell, Entry::OcallReturn(result));
        assert_eq!(out.exit, RunExit::Exited { retval: result }, "result {result:#x}");
        assert_eq!(word(&out.shm.unwrap(), 0), result);
    }
}

/// Addresses and counts the monitor's own OCALLs return, as the enclave sees them in `a0`.
#[test]
fn monitor_ocall_results_keep_64_bits() {
    let m = monitor();
    let hint: u64 = 0x20_0000_0000;
    let mut code = vec![addi(S0, A0, 0)];
    let call = |code: &mut Vec<u32>, id: u64, a1: u64, a2: u64, slot: i32| {
        code.push(addi(A0, ZERO, id as i32));
        code.extend(li64(A1, T0, a1));
        code.extend(li64(A2, T0, a2));
        code.extend(penglai(fid::OCALL));
        code.push(sd(A0, 8 * slot, S0));
    };
    call(&mut code, ocall::MMAP, 0, PAGE, 0);
    call(&mut code, ocall::MMAP, hint, 2 * PAGE, 1);
    call(&mut code, ocall::SBRK, 0, 0, 2);
    call(&mut code, ocall::SBRK, PAGE, 0, 3);
    call(&mut code, ocall::GETRANDOM, hint, PAGE, 4);
    call(&mut code, ocall::GETRANDOM, hint, (1 << 24) + 1, 5);
    call(&mut code, ocall::SBRK, 5, 0, 6); // not a multiple of the page size: -1
    // The mapped memory works at those addresses: write through the mmap and heap results.
    code.extend([ld(T1, 0, S0), sd(T1, 0, T1), ld(T1, 8 * 3, S0), sd(T1, -8, T1)]);
    code.push(addi(A0, ZERO, 0));
    code.extend(penglai(fid::EXIT));
    let cell = m.create(&elf(&code, &[]), &params("mm", Some(PAGE as usize))).unwrap();
    let out = run(&m, &cell, Entry::Start { relay: None });
    let got: Vec<u64> = (0..7).map(|i| word(out.shm.as_ref().unwrap(), i)).collect();
    // mmap(0, 4096): a block of 2 pages (one of them metadata) placed right below MMAP_BASE.
    // sbrk(4096): a 2-page block too; the break moves up one page.
    assert_eq!(
        got,
        [MMAP_BASE - PAGE, hint, HEAP_BASE, HEAP_BASE + PAGE, PAGE, u64::MAX, u64::MAX],
        "{got:#x?}"
    );
    assert_eq!(out.exit, RunExit::Exited { retval: 0 });
}

/// Relay entry registers (a3 = the region's address, a4 = its size), then after a relay
/// re-run: `a0` is 0, other registers are as the enclave left them, the new contents are there.
#[test]
fn relay_entry_and_rerun_values_keep_64_bits() {
    let m = monitor();
    let kept: u64 = 0x5A5A_0000_FFFF_1234;
    let mut code = vec![addi(S0, A0, 0), addi(S1, A3, 0), sd(A3, 0, S0), sd(A4, 8, S0)];
    code.extend(li64(S2, T0, kept));
    code.push(addi(A0, ZERO, ocall::RETURN_RELAY_PAGE as i32));
    code.extend(penglai(fid::OCALL));
    code.extend([sd(A0, 16, S0), sd(S2, 24, S0), ld(T1, 0, S1), sd(T1, 32, S0), ld(A0, 8, S1)]);
    code.extend(penglai(fid::EXIT));
    let cell = m.create(&elf(&code, &[]), &params("relay", Some(PAGE as usize))).unwrap();

    let mut first = vec![0u8; 2 * PAGE as usize];
    first[..8].copy_from_slice(&0x8765_4321_0FED_CBA9u64.to_le_bytes());
    let out = run(&m, &cell, Entry::Start { relay: Some(first.clone()) });
    assert_eq!(out.exit, RunExit::Relay);
    assert_eq!(out.relay, vec![first]);
    let shm = out.shm.unwrap();
    assert_eq!([word(&shm, 0), word(&shm, 1)], [MM_ARG_BASE, 2 * PAGE]);

    let mut again = vec![0u8; PAGE as usize];
    again[..8].copy_from_slice(&0xFEDC_BA98_7654_3210u64.to_le_bytes());
    again[8..16].copy_from_slice(&0x8000_0000_0000_0001u64.to_le_bytes());
    let out = run(&m, &cell, Entry::RerunRelay { relay: Some(again.clone()) });
    let shm = out.shm.unwrap();
    assert_eq!([word(&shm, 2), word(&shm, 3), word(&shm, 4)], [0, kept, 0xFEDC_BA98_7654_3210]);
    assert_eq!(out.relay, vec![again]);
    assert_eq!(out.exit, RunExit::Exited { retval: 0x8000_0000_0000_0001 });
}
