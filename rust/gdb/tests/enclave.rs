//! One enclave of the monitor under the stub: breakpoints in the enclave's own address space,
//! the monitor's OCALLs (prints) served while gdb drives, a host OCALL answered by the
//! caller's handler, the exit value as the exit status, and no reverse execution.
use gdbstub::stub::SingleThreadStopReason as Stop;
use gdbstub::target::ext::breakpoints::SwBreakpoint;
use pltvm_core::monitor::consts::{fid, DEFAULT_STACK_SIZE, NORMAL_ENCLAVE, SBI_EXT_PENGLAI_ENCLAVE};
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::run::{BufferHost, Entry};
use pltvm_core::monitor::test_support::{addi, elf, lui};
use pltvm_core::monitor::{Config, Monitor};
use pltvm_gdb::enclave::{EnclaveDebuggee, Ended};
use pltvm_gdb::target::DebugTarget;
use pltvm_gdb::Debuggee;

mod support;
use support::{bundled, cont};

fn params(name: &[u8]) -> CreateParams {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name);
    CreateParams { name: n, kind: NORMAL_ENCLAVE, stack_size: DEFAULT_STACK_SIZE, shm: None, persistency: None }
}


/// `hello` in hello-world.elf (guest/demos/hello-world: main calls hello, which prints
/// "hello world!" and returns 0 with EAPP_RETURN). Its address in the bundled ELF: it moves
/// when the SDK's entry stub changes (`riscv64-unknown-elf-nm hello-world.elf`).
const HELLO: u64 = 0x10c6;


#[test]
fn breakpoint_inside_the_enclave_then_its_print_and_exit_value() {
    let monitor = Monitor::new(Config::default());
    let cell = monitor.create(&bundled("hello-world.elf"), &params(b"hello")).unwrap();
    let mut host = BufferHost::default();
    let mut ocall = |_: u64, _: [u64; 3]| Some(0);
    let mut d = EnclaveDebuggee::new(&monitor, &cell, Entry::Start { relay: None }, &mut host, &mut ocall).unwrap();
    {
        let mut t = DebugTarget::new(&mut d);
        assert!(!t.hist.enabled());
        assert!(t.hist.why_off().unwrap().contains("enclaves are not checkpointed"));
        assert!(matches!(t.add_sw_breakpoint(HELLO, 2), Ok(true)));
        assert_eq!(cont(&mut t, 1000), Stop::SwBreak(()));
        assert_eq!(t.d.hart().pc, HELLO);
        // memory through the enclave's page table: the code at `hello`
        let mut code = [0u8; 2];
        assert_eq!(t.read_virtual(HELLO, &mut code), 2);
        assert_ne!(code, [0, 0]);
        assert_eq!(cont(&mut t, 1000), Stop::Exited(0));
        t.end();
    }
    assert_eq!(d.ended, Some(Ended::Exited(0)));
    drop(d);
    assert_eq!(host.0, b"hello world!\n");
}



/// a0 = 100, a1 = 7: OCALL 100 to the host; then a0 = the answer + 1 and a load from address 0
/// (a page fault at 0x101c: the monitor destroys the enclave, gdb gets SIGSEGV).
fn ocall_then_fault() -> [u32; 8] {
    [
        lui(16, (SBI_EXT_PENGLAI_ENCLAVE as u32 + 0x800) >> 12),
        addi(16, 16, (SBI_EXT_PENGLAI_ENCLAVE & 0xfff) as i32),
        addi(17, 0, fid::OCALL as i32),
        addi(10, 0, 100),
        addi(11, 0, 7),
        0x0000_0073,                 // ecall
        addi(10, 10, 1),
        (3 << 12) | (5 << 7) | 0x03, // ld t0, 0(zero)
    ]
}

#[test]
fn a_host_ocall_is_answered_while_gdb_steps_and_a_fault_is_a_signal() {
    let code = ocall_then_fault();
    let monitor = Monitor::new(Config::default());
    let cell = monitor.create(&elf(&code), &params(b"ocall")).unwrap();
    cell.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![100];
    let mut host = BufferHost::default();
    let mut asked = Vec::new();
    let mut ocall = |id: u64, args: [u64; 3]| {
        asked.push((id, args[0]));
        Some(41)
    };
    let mut d = EnclaveDebuggee::new(&monitor, &cell, Entry::Start { relay: None }, &mut host, &mut ocall).unwrap();
    let mut t = DebugTarget::new(&mut d);
    for _ in 0..6 {
        assert_eq!(t.step_one(), None);
    }
    assert_eq!(t.d.hart().pc, 0x1018, "stepped over the ecall");
    assert_eq!(t.d.hart().x[10], 41, "the handler's answer is in a0");
    assert_eq!(t.step_one(), None);
    assert_eq!(t.d.hart().x[10], 42);
    let s = cont(&mut t, 1000);
    assert_eq!(s, Stop::Signal(gdbstub::common::Signal::SIGSEGV));
    assert_eq!(cont(&mut t, 1000), s, "a destroyed enclave is not run again");
    t.end();
    drop(t);
    assert!(matches!(d.ended, Some(Ended::Fault { cause: 13, pc: 0x101c, .. })), "{:?}", d.ended);
    drop(d);
    assert_eq!(asked, [(100, 7)]);
}

#[test]
fn a_fault_replayed_from_a_fresh_instance_shows_the_registers_before_the_faulting_instruction() {
    // The program above: its host OCALL answer (41) is on the tape, so the replay neither asks
    // the handler again nor differs; gdb then sees a0 = 42 and pc at the faulting load.
    let code = ocall_then_fault();
    let image = elf(&code);
    let monitor = Monitor::new(Config::default());
    let fresh = || {
        let c = monitor.create(&image, &params(b"ocall")).map_err(|e| e.to_string())?;
        c.try_inner().unwrap().as_mut().unwrap().user_ocalls = vec![100];
        Ok((c, Entry::Start { relay: None }))
    };
    let (cell, entry) = fresh().unwrap();
    let slot = std::sync::OnceLock::new();
    let mut host = BufferHost::default();
    let mut asked = 0;
    let mut ocall = |_: u64, _: [u64; 3]| {
        asked += 1;
        Some(41)
    };
    let mut made = 0;
    let make = Box::new(|| {
        made += 1;
        fresh()
    });
    let mut d = EnclaveDebuggee::new(&monitor, &cell, entry, &mut host, &mut ocall)
        .unwrap()
        .with_respawn(pltvm_gdb::enclave::Respawn { slot: &slot, make });
    {
        let mut t = DebugTarget::new(&mut d);
        assert_eq!(cont(&mut t, 1000), Stop::Signal(gdbstub::common::Signal::SIGSEGV));
        let h = t.d.hart();
        assert_eq!((h.pc, h.x[10], h.x[5]), (0x101c, 42, 0), "before the load, not after a trap");
        // The enclave's own memory, through its page table: the faulting instruction.
        let mut insn = [0u8; 4];
        assert_eq!(t.read_virtual(0x101c, &mut insn), 4);
        assert_eq!(u32::from_le_bytes(insn), code[7]);
        assert_eq!(cont(&mut t, 1000), Stop::Signal(gdbstub::common::Signal::SIGSEGV), "reported again, not re-run");
        assert_eq!(t.d.hart().pc, 0x101c);
        t.end();
    }
    assert_eq!(d.replay_error, None);
    assert_eq!(d.retired, 7, "seven instructions retired before the fault (the ecall counts)");
    drop(d);
    assert_eq!((asked, made), (1, 1), "the answer came from the tape");
    monitor.destroy(slot.get().unwrap());
    assert_eq!(monitor.stats().enclaves, 0);
}

#[test]
fn a_replay_that_does_not_reach_the_fault_is_not_shown_as_if_it_did() {
    // The respawned instance runs a different program (its first instruction jumps over the
    // next): after the one instruction the first retired it stands elsewhere, the stub says so
    // and gdb sees only the fault pc, not a state the fault never had.
    let load = (3 << 12) | (5 << 7) | 0x03; // ld t0, 0(zero)
    let monitor = Monitor::new(Config::default());
    let cell = monitor.create(&elf(&[addi(10, 0, 1), load]), &params(b"a")).unwrap();
    let other = elf(&[0x0080_006f, addi(11, 0, 2), load]); // j +8
    let slot = std::sync::OnceLock::new();
    let make = Box::new(|| monitor.create(&other, &params(b"b")).map(|c| (c, Entry::Start { relay: None })).map_err(|e| e.to_string()));
    let mut host = BufferHost::default();
    let mut ocall = |_: u64, _: [u64; 3]| Some(0);
    let mut d = EnclaveDebuggee::new(&monitor, &cell, Entry::Start { relay: None }, &mut host, &mut ocall)
        .unwrap()
        .with_respawn(pltvm_gdb::enclave::Respawn { slot: &slot, make });
    {
        let mut t = DebugTarget::new(&mut d);
        assert_eq!(cont(&mut t, 1000), Stop::Signal(gdbstub::common::Signal::SIGSEGV));
        let h = t.d.hart();
        assert_eq!((h.pc, h.x[10], h.x[11]), (0x1004, 0, 0), "the fault pc, no made-up registers");
        t.end();
    }
    let why = d.replay_error.clone().expect("the mismatch is reported");
    assert!(why.contains("not at the fault pc=0x1004"), "{why}");
    drop(d);
    monitor.destroy(slot.get().unwrap());
}
