"""pltvm.Device, the Pythonic enclave API: the demo enclaves, relay re-runs, faults, threads,
context managers, output sinks, Python OCALL handlers and the EnclaveError family."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import A0, A1, A2, A6, A7, ECALL, ILLEGAL, S0, T0, ZERO, Seg, addi, bundled, code, jal, li, lui, make_elf, sd

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor")

import pltvm  # noqa: E402
from pltvm import (  # noqa: E402
    Device,
    ElfError,
    EnclaveDestroyed,
    EnclaveError,
    EnclaveFault,
    InvalidEnclave,
    PltvmError,
    RunResult,
    SecureMemoryExhausted,
)

SHM_VA = 0x39_0000_0000
TEXT = 0x1000
MINUS_ONE = (1 << 64) - 1


# --- hand-assembled enclaves ----------------------------------------------------------------------


def penglai(fid: int) -> list[int]:
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid), ECALL]


def ocall(oid: int, *setup: list[int]) -> list[int]:
    out = [addi(A0, ZERO, oid)]
    for s in setup:
        out += s
    return out + penglai(98)


def exit_with(v: int) -> list[int]:
    return li(A0, v) + penglai(99)


def flat(x: Any) -> list[int]:
    return [w for y in x for w in flat(y)] if isinstance(x, (list, tuple)) else [x]


def enclave_elf(*insns: Any) -> bytes:
    return make_elf([Seg(TEXT, code(flat(insns)), flags=7)], TEXT)


def exit_elf(v: int = 0) -> bytes:
    return enclave_elf(exit_with(v))


def spin_elf() -> bytes:
    return enclave_elf(addi(T0, T0, 1), jal(ZERO, -4))


def store(slot: int) -> int:
    """shm[slot] = a0 (s0 holds the shm VA)."""
    return sd(A0, 8 * slot, S0)


def words(b: Any, n: int) -> list[int]:
    return list(struct.unpack_from(f"<{n}Q", bytes(b)))


# OCALL 100 (a1 = 7, a2 = 8) -> shm[0]; OCALL 101 -> shm[1]; OCALL 40 (no handler) -> shm[2].
OCALL_ELF = enclave_elf(
    addi(S0, A0, 0),
    ocall(100, li(A1, 7), li(A2, 8)), store(0),
    ocall(101, li(A1, -1)), store(1),
    ocall(40), store(2),
    exit_with(5),
)


# --- the demos ----------------------------------------------------------------------------------


def test_hello_world(capsys: pytest.CaptureFixture[str]) -> None:
    with Device() as dev:
        with dev.create(bundled("hello-world"), shm=4096) as e:
            assert e.state == "FRESH" and e.id in dev.monitor.ids()
            r = e.run()
    assert isinstance(r, RunResult)
    assert (r.reason, r.value, r.exited, r.finished, r.fault, r.output) == ("exit", 0, True, True, None, None)
    assert r.instret > 0
    assert capsys.readouterr().out == "hello world!\n"


def test_bundled_name_and_bytes() -> None:
    dev = Device()
    a = dev.create("hello-world", output="capture")
    b = dev.create(bundled("hello-world").read_bytes(), output="capture")
    c = dev.create(str(bundled("hello-world")), output="capture")
    for e in (a, b, c):
        assert e.run().output == b"hello world!\n"
    assert dev.enclaves == [] and dev.monitor.ids() == []


def test_mem_demo() -> None:
    with Device() as dev:
        r = dev.create("mem").run(output="capture")
    assert r.exited and r.value == 0
    assert r.output is not None and r.output.endswith(b"mem: 0 failures\n"), r.output
    assert r.output.count(b"\n") == 20


def test_relay_page_flow() -> None:
    dev = Device()
    e = dev.create("relay-page", shm=0x1000, output="capture")
    r = e.run(relay=struct.pack("<i", 22222))
    assert r.relay_returned and r.output == b"relay_page 1 000056ce\n"
    assert e.state == "OCALLING"
    assert r.relay is not None and len(r.relay) == 4096 and struct.unpack_from("<i", r.relay)[0] == 22222
    assert e.relay is not None and bytes(e.relay) == r.relay
    struct.pack_into("<i", e.relay, 0, 2)  # what fork-host writes
    r2 = e.resume_relay()
    assert r2.exited and r2.value == 0 and r2.output == b"relay_page 2 00000002\n"
    # The same flow with run() and replacement bytes, as the C demo's while loop.
    e = dev.create("relay-page", output="capture")
    outs = []
    r = e.run(relay=struct.pack("<i", 22222) + bytes(4092))
    while r.relay_returned:
        outs.append(r.output)
        r = e.run(relay=bytes(4096))
    outs.append(r.output)
    assert outs == [b"relay_page 1 000056ce\n", b"relay_page 2 00000000\n"]
    with pytest.raises(EnclaveDestroyed):
        e.resume_relay()
    # Without a relay page the demo says so and exits 1.
    r = dev.create("relay-page", output="capture").run()
    assert (r.value, r.output) == (1, b"relay_page: no relay page\n")


def test_resume_relay_needs_a_relay_return() -> None:
    dev = Device()
    e = dev.create(exit_elf())
    with pytest.raises(EnclaveError, match="relay"):
        e.resume_relay()
    assert e.run().exited


def test_info_entry_registers() -> None:
    dev = Device()
    e = dev.create("info", shm=struct.pack("<i", 12345), output="capture")
    assert e.shm is not None and len(e.shm) == 4096
    r = e.run(relay=struct.pack("<i", 22222) + bytes(0x1FFC))
    assert r.exited
    lines = (r.output or b"").decode().splitlines()
    assert lines[:6] == [
        "info: a0 shm        0x3900000000",
        "info: a1 shm size   0x1000",
        "info: a2 run count  0",
        "info: a3 relay      0x3800000000",
        "info: a4 relay size 0x2000",
        "info: sp at entry   0x3800000000",
    ]
    assert "info: EAPP_RESERVE_REG block matches" in lines
    assert "info: shm[0] 12345" in lines and "info: relay[0] 22222" in lines
    # The run counter (a2) counts runs on this device.
    r = dev.create("info", output="capture").run()
    assert b"info: a2 run count  1\n" in (r.output or b"")
    assert b"info: a0 shm        0\n" in (r.output or b"")


def test_crash_raises_enclave_fault_and_destroys_only_itself() -> None:
    dev = Device()
    other = dev.create("hello-world", output="capture")
    crash = dev.create("crash", output="capture")
    with pytest.raises(EnclaveFault) as info:
        crash.run()
    f = info.value
    assert (f.cause, f.tval, f.cause_name) == (15, 0, "store/AMO page fault")
    assert TEXT <= f.pc < TEXT + 0x10000
    assert isinstance(f, EnclaveError) and isinstance(f, PltvmError)
    assert "store/AMO page fault" in str(f) and f"pc={f.pc:#x}" in str(f)
    res = f.result
    assert isinstance(res, RunResult) and res.faulted and res.output == b"crash: storing to address 0\n"
    assert res.fault is not None and (res.fault.cause, res.fault.pc, res.fault.tval) == (15, f.pc, 0)
    assert crash.state == "INVALID" and crash.id not in dev.monitor.ids()
    with pytest.raises(EnclaveDestroyed):
        crash.run()
    assert other.run().output == b"hello world!\n"


def test_fault_at_a_known_pc_and_check_false() -> None:
    # 0x1000: addi t0, zero, 0x123; 0x1004: sd zero, 0x40(t0) -> store page fault at 0x163.
    dev = Device()
    e = dev.create(enclave_elf(addi(T0, ZERO, 0x123), sd(ZERO, 0x40, T0), exit_with(0)))
    r = e.run(check=False)
    assert r.faulted and r.fault is not None
    assert (r.fault.cause, r.fault.pc, r.fault.tval, r.fault.syscall) == (15, 0x1004, 0x163, None)
    assert r.fault.cause_name == "store/AMO page fault" and "pc=0x1004" in str(r.fault)
    # An illegal instruction, and a Linux syscall other than ioctl (B25).
    with pytest.raises(EnclaveFault) as info:
        dev.create(enclave_elf(addi(T0, ZERO, 1), ILLEGAL)).run()
    assert (info.value.cause, info.value.pc, info.value.cause_name) == (2, 0x1004, "illegal instruction")
    with pytest.raises(EnclaveFault) as info:
        dev.create(enclave_elf(addi(A7, ZERO, 64), ECALL)).run()
    assert (info.value.cause, info.value.syscall) == (8, 64)
    assert dev.monitor.ids() == []


def wait_state(e: Any, state: str) -> None:
    deadline = time.time() + 10
    while e.state != state and time.time() < deadline:
        time.sleep(0.001)
    assert e.state == state


def test_loop_stop_resume_destroy_from_another_thread() -> None:
    dev = Device()
    e = dev.create("loop", output="capture")
    with pytest.raises(EnclaveError, match="FRESH"):
        e.stop()  # B24: not before it runs
    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(e.run()))
    t.start()
    wait_state(e, "RUNNING")
    e.stop()
    assert e.state == "STOPPED"
    with pytest.raises(EnclaveError, match="already running|cannot run"):
        e.run()  # another thread is in run()
    time.sleep(0.05)
    assert t.is_alive()
    e.resume()
    wait_state(e, "RUNNING")
    with pytest.raises(EnclaveError, match="not STOPPED"):
        e.resume()
    time.sleep(0.05)
    e.destroy()
    t.join(10)
    assert not t.is_alive()
    r = results[0]
    assert r.destroyed and r.finished and r.output == b"loop: spinning\n" and r.instret > 0
    assert e.state == "INVALID" and dev.monitor.ids() == [] and dev.secure_memory_used == 0
    e.destroy()  # idempotent
    with pytest.raises(EnclaveDestroyed):
        e.run()
    with pytest.raises(EnclaveDestroyed):
        e.stop()
    with pytest.raises(EnclaveDestroyed):
        e.resume()


def test_budget_and_continue() -> None:
    dev = Device()
    e = dev.create(spin_elf())
    r = e.run(max_instructions=1000)
    assert (r.reason, r.instret, e.state) == ("budget", 1000, "RUNNABLE")
    r = e.run(max_instructions=10)
    assert (r.reason, r.instret) == ("budget", 10)
    e.stop()  # stop between runs, then the next run blocks until resume
    e.resume()
    assert e.run(max_instructions=5).instret == 5
    e.destroy()


# --- context managers -------------------------------------------------------------------------


def test_context_managers_destroy() -> None:
    dev = Device()
    with dev.create(spin_elf()) as e:
        eid = e.id
        assert eid in dev.monitor.ids()
        assert e.run(max_instructions=100).reason == "budget"
    assert eid not in dev.monitor.ids() and dev.secure_memory_used == 0
    with pytest.raises(RuntimeError, match="boom"):
        with dev.create(exit_elf()) as e2:
            raise RuntimeError("boom")
    assert e2.id not in dev.monitor.ids() and not e2.alive

    with Device() as d2:
        es = [d2.create(spin_elf()) for _ in range(3)]
        es[0].run(max_instructions=10)
        assert sorted(x.id for x in d2.enclaves) == sorted(d2.monitor.ids()) and len(d2.monitor.ids()) == 3
        mon = d2.monitor
    assert mon.ids() == [] and d2.secure_memory_used == 0 and d2.closed
    assert all(not x.alive for x in es)
    with pytest.raises(EnclaveError, match="closed"):
        d2.create(exit_elf())
    d2.close()  # idempotent


def test_device_close_ends_runs_in_flight() -> None:
    results: list[Any] = []
    with Device() as dev:
        e = dev.create(spin_elf())
        t = threading.Thread(target=lambda: results.append(e.run()))
        t.start()
        wait_state(e, "RUNNING")
    t.join(10)
    assert results and results[0].destroyed and dev.monitor.ids() == []


# --- output sinks -----------------------------------------------------------------------------


def test_output_default_follows_sys_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    dev = Device()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r = dev.create("hello-world").run()
    assert buf.getvalue() == "hello world!\n" and r.output is None
    assert capsys.readouterr().out == ""
    dev.create("hello-world").run()
    assert capsys.readouterr().out == "hello world!\n"


def test_output_callable_bytes_capture_file(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[bytes] = []
    dev = Device(output=got.append)
    assert dev.create("hello-world").run().output is None
    assert got == [b"hello world!\n"]
    collected = bytearray(b"before:")
    r = dev.create("hello-world", output=collected).run()
    assert collected == b"before:hello world!\n" and r.output == b"hello world!\n"
    r = dev.create("hello-world").run(output="capture")  # per-run override
    assert r.output == b"hello world!\n"
    bio, sio = io.BytesIO(), io.StringIO()
    dev.create("hello-world").run(output=bio)
    dev.create("hello-world").run(output=sio)
    assert bio.getvalue() == b"hello world!\n" and sio.getvalue() == "hello world!\n"
    assert got == [b"hello world!\n"] and capsys.readouterr().out == ""
    with pytest.raises(ValueError):
        dev.create("hello-world", output="stdout")
    with pytest.raises(TypeError):
        dev.create("hello-world", output=42)  # type: ignore[arg-type]


def test_output_callable_that_raises_destroys_the_enclave() -> None:
    dev = Device()

    def sink(data: bytes) -> None:
        raise KeyError("sink failed")

    e = dev.create("loop", output=sink)
    other = dev.create("hello-world", output="capture")
    with pytest.raises(KeyError, match="sink failed"):
        e.run()
    assert not e.alive and e.id not in dev.monitor.ids() and e not in dev.enclaves
    assert other.run().output == b"hello world!\n"


# --- OCALL handlers ---------------------------------------------------------------------------


def test_ocall_handlers_device_and_enclave() -> None:
    dev = Device()
    calls: list[tuple[int, int, int, int]] = []

    @dev.ocall(100)
    def add(enclave: Any, a1: int, a2: int, a3: int) -> int:
        calls.append((enclave.id, a1, a2, a3))
        assert enclave.state == "OCALLING"
        return a1 + a2

    @dev.ocall(101)
    def neg(enclave: Any, a1: int, a2: int, a3: int) -> int:
        assert a1 == MINUS_ONE  # arguments arrive as unsigned 64-bit values
        return -7

    e = dev.create(OCALL_ELF, shm=4096)
    r = e.run()
    assert (r.value, r.ocalls) == (5, 2)  # 40 has no handler: never forwarded
    assert e.shm is not None and words(e.shm, 3) == [15, (1 << 64) - 7, MINUS_ONE]  # 40: no handler -> -1
    assert r.shm is not None and words(r.shm, 3) == words(e.shm, 3)
    assert calls == [(e.id, 7, 8, 0)]  # a3 untouched since entry: 0 without a relay region

    # An enclave handler overrides the device's and may use enclave memory.
    e2 = dev.create(OCALL_ELF, shm=struct.pack("<Q", 99))

    @e2.on_ocall(100)
    def mine(enclave: Any, a1: int, a2: int, a3: int) -> None:
        (v,) = struct.unpack("<Q", enclave.read(SHM_VA, 8))
        enclave.write(SHM_VA + 24, struct.pack("<Q", v + 1))

    def via_shm(enclave: Any, a1: int, a2: int, a3: int) -> int:
        struct.pack_into("<Q", enclave.shm, 40, 77)  # the host copy: copied in on the way back
        return 4040

    e2.on_ocall(40, via_shm)
    r2 = e2.run()
    assert r2.exited and e2.shm is not None and words(e2.shm, 6) == [0, (1 << 64) - 7, 4040, 100, 0, 77]
    assert len(calls) == 1


def test_ocall_ids_of_the_monitor_are_refused() -> None:
    dev = Device()
    e = dev.create(exit_elf())
    for oid in (1, 3, 7, 8, 12):
        with pytest.raises(ValueError, match="monitor"):
            dev.ocall(oid)
        with pytest.raises(ValueError, match="monitor"):
            e.on_ocall(oid, lambda *a: 0)
    with pytest.raises(TypeError):
        e.on_ocall("x", lambda *a: 0)  # type: ignore[arg-type]
    e.destroy()


def test_ocall_handler_exception_destroys_and_propagates() -> None:
    dev = Device()
    seen: list[int] = []

    @dev.ocall(100)
    def ok(enclave: Any, a1: int, a2: int, a3: int) -> int:
        seen.append(enclave.id)
        return 1

    bad = dev.create(OCALL_ELF, shm=4096)
    good = dev.create(OCALL_ELF, shm=4096)

    @bad.on_ocall(101)
    def fail(enclave: Any, a1: int, a2: int, a3: int) -> int:
        raise ZeroDivisionError("handler failed")

    with pytest.raises(ZeroDivisionError, match="handler failed"):
        bad.run()
    assert not bad.alive and bad.id not in dev.monitor.ids() and bad not in dev.enclaves
    with pytest.raises(EnclaveDestroyed):
        bad.run()
    r = good.run()
    assert r.exited and r.value == 5 and good.shm is not None and words(good.shm, 1) == [1]
    assert seen == [bad.id, good.id]
    # A handler returning something other than an int is a TypeError, with the same cleanup.
    odd = dev.create(OCALL_ELF)
    odd.on_ocall(100, lambda *a: "nope")
    with pytest.raises(TypeError, match="OCALL 100"):
        odd.run()
    assert not odd.alive and dev.monitor.ids() == []


def test_ocall_handlers_in_threads() -> None:
    dev = Device()

    @dev.ocall(100)
    def add(enclave: Any, a1: int, a2: int, a3: int) -> int:
        return a1 + a2 + enclave.eid

    @dev.ocall(101)
    def slow(enclave: Any, a1: int, a2: int, a3: int) -> int:
        time.sleep(0.001)
        return 0

    out: dict[int, list[int]] = {}

    def work(i: int) -> None:
        with dev.create(OCALL_ELF, shm=4096) as e:
            eid = e.eid
            assert e.run().exited
            assert e.shm is not None
            out[i] = [words(e.shm, 1)[0] - eid]

    ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert out == {i: [15] for i in range(6)}


# --- shm ---------------------------------------------------------------------------------------


def test_shm_is_synchronised_at_run_boundaries() -> None:
    # Read shm[0], store it + 1 into shm[1], then spin: the host sees the write when run() returns.
    prog = enclave_elf(addi(S0, A0, 0), [0x00043503], addi(A0, A0, 1), store(1), exit_with(0))  # ld a0, 0(s0)
    dev = Device()
    e = dev.create(prog, shm=8192)
    assert e.shm is not None and len(e.shm) == 8192
    view = memoryview(e.shm)
    struct.pack_into("<Q", view, 0, 41)  # written after create, before the run: seen by the enclave
    assert e.run().exited
    assert words(e.shm, 2) == [41, 42]
    for bad in (-1, "4096", True):
        with pytest.raises((ValueError, TypeError)):
            dev.create(prog, shm=bad)  # type: ignore[arg-type]
    assert dev.create(prog, shm=0).shm is None
    assert len(dev.create(prog, shm=b"x").shm or b"") == 4096


# --- typed exceptions for bad input -----------------------------------------------------------


def _bad_elves() -> list[tuple[str, bytes, str]]:
    seg = [Seg(TEXT, code(ILLEGAL), flags=7)]
    good = make_elf(seg, TEXT)
    return [
        ("empty", b"", "not an ELF"),
        ("garbage", b"hello world, not an ELF" * 4, "not an ELF"),
        ("truncated header", good[:40], "not an ELF"),
        ("truncated program headers", good[:80], "past the end"),
        ("elf32", make_elf(seg, TEXT, ei_class=1), "64-bit"),
        ("big-endian", make_elf(seg, TEXT, ei_data=2), "little-endian"),
        ("x86-64", make_elf(seg, TEXT, machine=62), "EM_RISCV"),
        ("shared object", make_elf(seg, TEXT, e_type=3), "ET_EXEC"),
        ("relocatable", make_elf(seg, TEXT, e_type=1), "ET_EXEC"),
        ("segment past EOF", make_elf([Seg(TEXT, code(ILLEGAL), filesz=1 << 20)], TEXT), "past the end"),
        ("entry 0", make_elf(seg, 0), "e_entry is 0"),
        ("unaligned segment", make_elf([Seg(0x1010, code(ILLEGAL), flags=7)], 0x1010), "page-aligned"),
    ]


@pytest.mark.parametrize("label, data, reason", _bad_elves(), ids=[b[0] for b in _bad_elves()])
def test_bad_elf_bytes(label: str, data: bytes, reason: str, tmp_path: Path) -> None:
    dev = Device()
    with pytest.raises(InvalidEnclave, match=reason) as info:
        dev.create(data)
    assert isinstance(info.value, ElfError) and isinstance(info.value, EnclaveError)
    assert str(info.value).startswith("<bytes>: ")
    p = tmp_path / "bad.elf"
    p.write_bytes(data)
    with pytest.raises(InvalidEnclave, match=reason) as info:
        dev.create(p)
    assert str(info.value).startswith(f"{p}: ")
    assert dev.monitor.ids() == [] and dev.secure_memory_used == 0


def test_bad_paths_names_and_parameters(tmp_path: Path) -> None:
    dev = Device()
    with pytest.raises(InvalidEnclave, match="no such file or bundled enclave"):
        dev.create("no-such-enclave")
    with pytest.raises(InvalidEnclave, match="no such file or bundled enclave"):
        dev.create(str(tmp_path / "missing.elf"))
    with pytest.raises(InvalidEnclave, match="cannot read"):
        dev.create(tmp_path)  # a directory
    with pytest.raises(TypeError):
        dev.create(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="16 bytes"):
        dev.create(exit_elf(), name="a-name-longer-than-16")
    with pytest.raises(ValueError, match="stack_size"):
        dev.create(exit_elf(), stack_size=65 << 20)
    with pytest.raises(ValueError, match="stack_size"):
        dev.create(exit_elf(), stack_size=-1)
    with pytest.raises(ValueError):
        Device(rng="dice")
    with pytest.raises(ValueError):
        Device(secure_memory="lots")
    assert Device(secure_memory="8M").secure_memory == 8 << 20
    e = dev.create(exit_elf(), name="named")
    assert e.name == "named" and e.run().exited
    with pytest.raises(EnclaveDestroyed):
        e.run()  # run after exit
    e2 = dev.create(exit_elf())
    e2.destroy()
    with pytest.raises(EnclaveDestroyed):
        e2.run()  # run after destroy
    with pytest.raises(EnclaveDestroyed):
        e2.measurement


def test_secure_memory_exhausted() -> None:
    dev = Device(secure_memory=5 << 20)
    a = dev.create(exit_elf(1))
    b = dev.create(exit_elf(2))
    with pytest.raises(SecureMemoryExhausted, match="secure memory exhausted") as info:
        dev.create(exit_elf(3))
    assert isinstance(info.value, EnclaveError)
    assert sorted(dev.monitor.ids()) == sorted([a.id, b.id]) and dev.secure_memory_used == 4 << 20
    assert a.run().value == 1 and b.run().value == 2
    assert dev.secure_memory_used == 0
    assert dev.create(exit_elf(3)).run().value == 3


def test_relay_name_clash_is_an_enclave_error() -> None:
    dev = Device()
    a = dev.create(spin_elf(), name="same")
    b = dev.create(exit_elf(), name="same")
    with pytest.raises(EnclaveError, match="name"):
        b.run(relay=bytes(4096))
    a.destroy()
    assert b.run(relay=bytes(4096)).exited


def test_exit_value_is_signed() -> None:
    assert Device().create(exit_elf(-3)).run().value == -3


# --- threads ----------------------------------------------------------------------------------


def test_many_enclaves_in_threads() -> None:
    dev = Device()
    errors: list[BaseException] = []
    outputs: list[bytes] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(5):
                with dev.create("hello-world", shm=4096) as e:
                    r = e.run(output="capture")
                    assert r.exited and r.value == 0
                    with lock:
                        outputs.append(r.output or b"")
        except BaseException as ex:  # pragma: no cover - reported below
            errors.append(ex)

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert outputs == [b"hello world!\n"] * 40
    assert dev.monitor.ids() == [] and dev.secure_memory_used == 0


def test_reexports() -> None:
    for name in ("Device", "Enclave", "RunResult", "Fault", "EnclaveError", "EnclaveFault", "EnclaveDestroyed",
                 "SecureMemoryExhausted", "InvalidEnclave"):
        assert name in pltvm.__all__ and getattr(pltvm, name) is not None
    r = RunResult("exit", value=0)
    with pytest.raises(Exception):
        r.value = 1  # type: ignore[misc]


def test_run_results_are_the_frozen_dataclass() -> None:
    """Run results are built without the dataclass __init__ (see results.make_result): they
    must be indistinguishable from RunResult(...)."""
    import dataclasses

    with Device() as dev:
        r = dev.create("hello-world").run(output="capture")
        want = RunResult(reason="exit", value=0, output=b"hello world!\n", instret=r.instret, ocalls=0)
        assert r == want and hash(r) == hash(want) and repr(r) == repr(want)
        assert dataclasses.asdict(r) == dataclasses.asdict(want)
        assert [f.name for f in dataclasses.fields(RunResult)] == list(vars(r))
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.value = 1  # type: ignore[misc]
        f = dev.create("crash").run(output="capture", check=False)
        assert f == RunResult(reason="fault", fault=f.fault, output=f.output, instret=f.instret)
        assert f.fault is not None and f.faulted


def test_ocall_handlers_are_per_enclave() -> None:
    """Enclaves start with a shared empty handler table; on_ocall gives one its own."""
    with Device() as dev:
        a, b = dev.create("hello-world"), dev.create("hello-world")
        a.on_ocall(100, lambda e, *args: 1)
        assert 100 in a._handlers and 100 not in b._handlers and not pltvm.Enclave._handlers
        assert a._handler(100) is not None and b._handler(100) is None


def test_enclaves_list_follows_create_run_and_destroy() -> None:
    with Device() as dev:
        a, b, c = (dev.create("hello-world") for _ in range(3))
        assert dev.enclaves == [a, b, c]
        b.run(output="capture")
        assert dev.enclaves == [a, c]
        a.destroy()
        d = dev.create("hello-world")
        assert d.id == a.id and dev.enclaves == [c, d]
        a.destroy()  # a no-op, also for d, which has a's driver id now
        assert dev.enclaves == [c, d]
    assert dev.enclaves == [] and not c.alive and not d.alive
