"""The monitor model through pltvm._core.Monitor: layout, entry registers, enclave calls and
OCALLs (docs/abi.md §1–§3, §8), with enclaves assembled by hand as ELF bytes."""

from __future__ import annotations

import struct
import threading
import time
from typing import Any

import pytest
from conftest import (
    A0, A1, A2, A3, A4, A6, A7, ECALL, ILLEGAL, S0, SP, T0, T1, T2, ZERO,
    Seg, addi, bne, code, jal, li, lui, make_elf, sd,
)

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor")

TEXT = 0x1000
SHM = 0x39_0000_0000
RELAY = 0x38_0000_0000
STACK = 0x38_0000_0000
HEAP = 0x10_0000_0000
MMAP = 0x30_0000_0000
EXT = 0x100101
MINUS_ONE = (1 << 64) - 1


def slli(rd: int, rs1: int, sh: int) -> int:
    return (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13


def add(rd: int, rs1: int, rs2: int) -> int:
    return (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33


def sb(rs2: int, off: int, rs1: int) -> int:
    imm = off & 0xFFF
    return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | ((imm & 0x1F) << 7) | 0x23


def penglai(fid: int) -> list[int]:
    """a6 = 0x100101, a7 = fid, ecall."""
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid), ECALL]


def ocall(oid: int, a1: list[int] | None = None, a2: list[int] | None = None) -> list[int]:
    out = [addi(A0, ZERO, oid)]
    out += a1 or []
    out += a2 or []
    return out + penglai(98)


def exit_with(v: int) -> list[int]:
    return li(A0, v) + penglai(99)


def store(slot: int) -> int:
    """shm[slot] = a0 (s0 holds the shm VA)."""
    return sd(A0, 8 * slot, S0)


def flat(x: Any) -> list[int]:
    return [w for y in x for w in flat(y)] if isinstance(x, (list, tuple)) else [x]


def enclave_elf(*insns: Any, flags: int = 7) -> bytes:
    return make_elf([Seg(TEXT, code(flat(insns)), flags=flags)], TEXT)


def words(b: bytes, n: int) -> list[int]:
    return list(struct.unpack_from(f"<{n}Q", b))


@pytest.fixture
def mon() -> Any:
    return _core.Monitor.new()


def run(mon: Any, elf: bytes, shm: int = 0x1000, **kw: Any) -> Any:
    e = mon.create(elf, shm=bytes(shm) if shm else None, name=kw.pop("name", b"t"))
    return e, e.run(**kw)


def test_entry_registers_and_run_counter(mon: Any) -> None:
    prog = enclave_elf(
        addi(T0, A0, 0),
        [sd(r, 8 * i, T0) for i, r in enumerate([A0, A1, A2, A3, A4, SP])],
        exit_with(42),
    )
    out = []
    for i in range(3):
        relay = bytes([i + 1]) * 0x2000 if i == 1 else None
        e, r = run(mon, prog, shm=0x3000, relay=relay)
        assert (r.reason, r.retval) == ("exit", 42)
        out.append(words(r.shm, 6))
        assert e.state == "INVALID" and mon.lookup(e.id) is None
    assert out[0] == [SHM, 0x3000, 0, 0, 0, STACK]
    assert out[1] == [SHM, 0x3000, 1, RELAY, 0x2000, STACK]
    assert out[2][2] == 2 and mon.eapp_args == 3
    # Without shm a0 = a1 = 0; the run counter still counts.
    prog2 = enclave_elf(add(A0, A0, A1), add(A0, A0, A2), penglai(99))
    e, r = run(mon, prog2, shm=0)
    assert (r.reason, r.retval, r.shm) == ("exit", 3, None)


def test_layout_is_the_drivers(mon: Any) -> None:
    e = mon.create(enclave_elf(exit_with(0)), shm=bytes(0x2000))
    assert e.read(TEXT, 4) == code(li(A0, 0)[0])
    assert e.read(STACK - 0x10000, 8) == bytes(8)
    assert e.read(0xFFFF_FFE0_0000_0000, 8) == bytes(8)
    for va in (TEXT + 0x1000, STACK, STACK - 0x11000, SHM + 0x2000, HEAP):
        with pytest.raises(ValueError):
            e.read(va, 1)
    assert (e.eid, e.id, e.state) == (0, 0x1000, "FRESH")
    assert mon.secure_memory_used == 2 << 20  # 1 + 16 + 256 pages -> 2^9 pages


def test_stack_size_follows_params(mon: Any) -> None:
    e = mon.create(enclave_elf(exit_with(0)), stack_size=0x3000)
    e.read(STACK - 0x3000, 1)
    with pytest.raises(ValueError):
        e.read(STACK - 0x4000, 1)
    with pytest.raises(ValueError, match="64 MiB"):
        mon.create(enclave_elf(exit_with(0)), stack_size=(64 << 20) + 4096)


@pytest.mark.parametrize(
    "segs, entry, message",
    [
        ([Seg(TEXT, code(ILLEGAL))], 0, "e_entry is 0"),
        ([Seg(TEXT + 0x10, code(ILLEGAL))], TEXT + 0x10, "not page-aligned"),
        ([Seg(TEXT, code(ILLEGAL), filesz=0x100000)], TEXT, "past the end of the file"),
    ],
)
def test_bad_elf_is_refused(mon: Any, segs: list[Seg], entry: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mon.create(make_elf(segs, entry))
    assert mon.ids() == [] and mon.secure_memory_used == 0


def test_page_mapped_twice_warns_and_later_wins(mon: Any) -> None:
    first = Seg(TEXT, code(ILLEGAL), flags=7)
    second = Seg(TEXT, code(flat(exit_with(5))), flags=5)
    e = mon.create(make_elf([first, second], TEXT))
    assert any("mapped twice" in w for w in e.warnings)
    assert e.run(output=lambda b: None).retval == 5


def test_fault_destroys_only_the_faulting_enclave(mon: Any) -> None:
    good = mon.create(enclave_elf(exit_with(1)), name=b"good")
    bad = mon.create(enclave_elf(addi(A0, ZERO, 1), ILLEGAL), name=b"bad")
    r = bad.run()
    assert (r.reason, r.cause, r.pc, r.tval) == ("fault", 2, TEXT + 4, 0)
    assert bad.state == "INVALID" and mon.ids() == [good.id]
    assert bad.destroy() == -1
    assert good.run().retval == 1


@pytest.mark.parametrize("a6, a7, survives", [(0, 29, True), (0, 64, False), (0, 93, False),
                                                (EXT, 77, False), (EXT, 98, True)])
def test_non_penglai_ecalls(mon: Any, a6: int, a7: int, survives: bool) -> None:
    prog = enclave_elf(addi(S0, A0, 0),
                       [lui(A6, 0x100), addi(A6, A6, 0x101)] if a6 else li(A6, 0),
                       li(A0, 55 if a7 == 98 else 1234),  # OCALL 55: unknown -> -1
                       li(A7, a7), ECALL, store(0), exit_with(9))
    e, r = run(mon, prog)
    if survives:
        assert (r.reason, r.retval) == ("exit", 9)
        assert words(r.shm, 1) == [0 if a7 == 29 else MINUS_ONE]
    else:
        assert (r.reason, r.cause, r.syscall) == ("fault", 8, a7)


def test_sys_write_prints_kbuffer_and_returns_3(mon: Any) -> None:
    # t0 = kbuffer VA; write "hi\n\0" + junk; OCALL 3; then 600 'A's (no NUL) and OCALL 3.
    fill = [addi(T0, ZERO, -1), slli(T0, T0, 37)]
    text = [li(T1, ord("h")), sb(T1, 0, T0), li(T1, ord("i")), sb(T1, 1, T0), li(T1, 10), sb(T1, 2, T0),
            sb(ZERO, 3, T0), li(T1, ord("Z")), sb(T1, 4, T0)]
    many = [li(T1, ord("A")), li(T2, 600), sb(T1, 0, T0), addi(T0, T0, 1), addi(T2, T2, -1), bne(T2, ZERO, -12)]
    prog = enclave_elf(addi(S0, A0, 0), fill, text, ocall(3), store(0), many, ocall(3), exit_with(0))
    got: list[bytes] = []
    e, r = run(mon, prog, output=got.append)
    assert r.reason == "exit"
    assert words(r.shm, 1) == [3]  # B12
    assert b"".join(got) == b"hi\n" + b"A" * 511  # byte 511 forced to 0 (B13)


def test_output_callback_error_destroys_and_propagates(mon: Any) -> None:
    kb = [addi(T0, ZERO, -1), slli(T0, T0, 37), li(T1, ord("x")), sb(T1, 0, T0)]
    prog = enclave_elf(kb, ocall(3), addi(T0, T0, 1), jal(ZERO, -4))  # print, then spin

    def boom(b: bytes) -> None:
        raise KeyError("sink")

    e = mon.create(prog)
    with pytest.raises(KeyError):
        e.run(output=boom)
    assert e.state == "INVALID" and mon.ids() == []


def test_getrandom_seeded_lcg_and_bad_buffer() -> None:
    prog = enclave_elf(addi(S0, A0, 0), ocall(8, [addi(A1, S0, 0x100)], [li(A2, 8)]), store(0),
                       ocall(8, [addi(A1, S0, 0x108)], [li(A2, 8)]), store(1),
                       ocall(8, [li(A1, 0x2000)], [li(A2, 4)]), store(2), exit_with(0))

    def draws(mon: Any) -> list[bytes]:
        out = []
        for _ in range(2):
            e, r = run(mon, prog)
            assert words(r.shm, 3) == [8, 8, MINUS_ONE]
            out.append(r.shm[0x100:0x110])
        return out

    a, b = draws(_core.Monitor.new()), draws(_core.Monitor.new())
    assert a == b, "deterministic for the same monitor seed"
    assert a[0] != a[1], "independent streams per enclave"
    assert draws(_core.Monitor.new(seed=1)) != a
    lcg = draws(_core.Monitor.new(rng="penglai-lcg"))
    assert lcg[0] == bytes.fromhex("0001b208000f424f" "000954ce0003fb45")  # §6.6 test vector
    osr = draws(_core.Monitor.new(rng="os"))
    assert osr[0] != osr[1]
    with pytest.raises(ValueError):
        _core.Monitor.new(rng="bogus")


def test_sbrk_semantics(mon: Any) -> None:
    prog = enclave_elf(
        addi(S0, A0, 0),
        ocall(4, [li(A1, 0)]), store(0),            # current top, no exit
        ocall(4, [li(A1, 0x2000)]), store(1),       # 8 KiB -> 16 KiB block -> 12 KiB mapped
        ocall(4, [li(A1, 0x1000)]), store(2),       # 4 KiB -> 8 KiB block -> 4 KiB mapped
        ocall(4, [li(A1, 100)]), store(3),          # not a multiple of 4096 -> -1
        ocall(4, [li(A1, -0x1000)]), store(4),      # release the newest region
        ocall(4, [li(A1, -0x8000)]), store(5),      # release everything
        exit_with(0),
    )
    e, r = run(mon, prog)
    assert words(r.shm, 6) == [HEAP, HEAP + 0x3000, HEAP + 0x4000, MINUS_ONE, HEAP + 0x3000, HEAP]
    assert mon.secure_memory_used == 0


def test_mmap_unmap_semantics(mon: Any) -> None:
    sp = mon.secure_memory
    prog = enclave_elf(
        addi(S0, A0, 0),
        ocall(1, [li(A1, 0)], [li(A2, 0x2000)]), store(0),     # 16 KiB block, 12 KiB mapped
        ocall(1, [li(A1, 0)], [li(A2, 0x1000)]), store(1),     # below the first
        ocall(1, [li(A1, 0x1234)], [li(A2, 0x1000)]), store(2),  # unaligned hint -> 0
        ocall(1, [li(A1, 0x1000)], [li(A2, 100)]), store(3),     # hint with a small size -> 0
        ocall(2, [li(A1, 0)], [li(A2, 0x1000)]), store(4),     # nothing there -> -1
        exit_with(0),
    )
    e, r = run(mon, prog)
    assert words(r.shm, 5) == [MMAP - 0x3000, MMAP - 0x4000, 0, 0, MINUS_ONE]
    assert mon.secure_memory_used == 0 and mon.secure_memory == sp


def test_unmap_releases_the_whole_region(mon: Any) -> None:
    prog = enclave_elf(
        addi(S0, A0, 0),
        ocall(1, [li(A1, 0)], [li(A2, 0x2000)]), addi(T2, A0, 0),   # 3 pages mapped
        lui(T1, 1),
        ocall(2, [add(A1, T2, T1)], [li(A2, 0x1000)]), store(0),     # middle page: whole region
        ocall(2, [addi(A1, T2, 0)], [li(A2, 0x1000)]), store(1),     # gone: -1
        ocall(2, [li(A1, 0)], [li(A2, -1)]), store(2),               # wrapping range: -1
        exit_with(0),
    )
    e, r = run(mon, prog)
    assert words(r.shm, 3) == [0, MINUS_ONE, MINUS_ONE]
    assert mon.secure_memory_used == 0


def test_unknown_and_user_ocalls(mon: Any) -> None:
    prog = enclave_elf(addi(S0, A0, 0), ocall(40, [li(A1, 7)], [li(A2, 8)]), store(0),
                       ocall(41), store(1), exit_with(0))
    e = mon.create(prog, shm=bytes(0x1000))
    e.set_user_ocalls([41, 3])  # 3 is known: never forwarded
    r = e.run()
    assert (r.reason, r.ocall_id) == ("ocall", 41) and e.state == "OCALLING"
    assert e.run().reason == "refused"
    r2 = e.run("ocall_return", ocall_result=-5)
    assert r2.reason == "exit"
    assert words(r2.shm, 2) == [MINUS_ONE, (1 << 64) - 5]


def test_enclave_calls_without_exit(mon: Any) -> None:
    prog = enclave_elf(addi(S0, A0, 0), penglai(90), store(0), penglai(91), store(1),
                       li(A0, 77), penglai(89), store(2),   # yield: the host continues, a0 unchanged
                       penglai(94), store(3), penglai(88), store(4), exit_with(0))
    mon.create(enclave_elf(exit_with(0)))  # takes eid 0
    e, r = run(mon, prog)
    assert e.eid == 1
    assert (r.reason, e.state) == ("yield", "RUNNABLE")
    r = e.run("continue")
    assert r.reason == "exit"
    # get_report(77, ...) reads an unmapped name: -1; get_key of type -1: unsupported, nothing
    # written, 0 (B9; attestation itself is tested in test_attest.py).
    assert words(r.shm, 5) == [1, MINUS_ONE, 77, MINUS_ONE, 0]
    e2, r2 = run(_core.Monitor.new(caller_id_compat=True), prog)
    assert r2.reason == "yield"
    assert words(r2.shm, 2) == [0, 0]


def test_relay_return_and_rerun(mon: Any) -> None:
    # Read relay[0] into shm[0], return the relay page, read it again into shm[1].
    prog = enclave_elf(addi(S0, A0, 0), addi(T2, A3, 0), [0x0003B503], store(0),  # ld a0, 0(t2)
                       ocall(7), store(2), [0x0003B503], store(1), exit_with(0))
    e = mon.create(prog, shm=bytes(0x1000), name=b"relay")
    r = e.run(relay=struct.pack("<Q", 22222) + bytes(0xFF8))
    assert r.reason == "relay" and e.state == "OCALLING"
    assert words(r.relay[0], 1) == [22222]
    assert words(r.shm, 1) == [22222]
    r = e.run("rerun_relay", relay=struct.pack("<Q", 3) + bytes(0xFF8))
    assert r.reason == "exit"
    assert words(r.shm, 3) == [22222, 3, 0]


def test_relay_needs_a_unique_name(mon: Any) -> None:
    a = mon.create(enclave_elf(exit_with(0)), name=b"same")
    b = mon.create(enclave_elf(exit_with(0)), name=b"same")
    r = b.run(relay=bytes(0x1000))
    assert r.reason == "refused" and "name" in (r.message or "")
    assert b.state == "FRESH"
    assert a.run().reason == "exit"
    assert b.run(relay=bytes(0x1000)).reason == "exit"


def test_secure_memory_exhausted(mon: Any) -> None:
    m = _core.Monitor.new(secure_memory=5 << 20)
    a = m.create(enclave_elf(exit_with(1)))
    b = m.create(enclave_elf(exit_with(2)))
    with pytest.raises(MemoryError, match="secure memory exhausted"):
        m.create(enclave_elf(exit_with(3)))
    assert m.ids() == [a.id, b.id] and m.secure_memory_used == 4 << 20
    # sbrk beyond the pool: -1, the enclave keeps running.
    grow = enclave_elf(addi(S0, A0, 0), ocall(4, [li(A1, 0x100000)]), store(0), exit_with(0))
    assert a.run().retval == 1
    c = m.create(grow, shm=bytes(0x1000))
    r = c.run()
    assert words(r.shm, 1) == [MINUS_ONE] and r.reason == "exit"
    assert b.run().retval == 2 and m.secure_memory_used == 0


def test_enclave_types(mon: Any) -> None:
    assert mon.create(enclave_elf(exit_with(0)), type=2).type == 2  # shadow: test_shadow.py
    # Server enclaves (type 1, tests/test_ipc.py) need a name; unknown types are refused.
    with pytest.raises(ValueError, match="needs a name"):
        mon.create(enclave_elf(exit_with(0)), type=1)
    s = mon.create(enclave_elf(exit_with(0)), type=1, name=b"srv")
    assert (s.type, s.state) == (1, "RUNNABLE")
    with pytest.raises(ValueError, match="unknown enclave type 3"):
        mon.create(enclave_elf(exit_with(0)), type=3)


def spin_elf() -> bytes:
    return enclave_elf(addi(T0, T0, 1), jal(ZERO, -4))


def test_stop_resume_destroy_from_another_thread() -> None:
    mon = _core.Monitor.new(slice=10_000)
    e = mon.create(spin_elf())
    assert e.stop() == -1 and e.resume() == -1
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(e.run()))
    t.start()
    deadline = time.time() + 10
    while e.state != "RUNNING" and time.time() < deadline:
        time.sleep(0.001)
    assert e.state == "RUNNING"
    assert e.stop() == 0 and e.state == "STOPPED"
    time.sleep(0.05)
    with pytest.raises(RuntimeError, match="running"):
        e.get_x(5)
    assert e.resume() == 0
    time.sleep(0.05)
    assert e.state == "RUNNING" and t.is_alive()
    assert e.destroy() == 0
    t.join(10)
    assert not t.is_alive()
    assert result[0].reason == "destroyed" and result[0].instret > 0
    assert e.state == "INVALID" and mon.ids() == [] and mon.secure_memory_used == 0
    assert e.destroy() == -1


def test_budget_then_continue() -> None:
    mon = _core.Monitor.new()
    e = mon.create(spin_elf())
    r = e.run(budget=1000)
    assert (r.reason, r.instret, e.state) == ("budget", 1000, "RUNNABLE")
    assert e.get_x(T0) == 500
    assert e.stop() == 0
    assert e.resume() == 0
    r = e.run("continue", budget=10)
    assert (r.reason, r.instret) == ("budget", 10)
    assert e.run().reason == "refused"
    assert e.destroy() == 0
