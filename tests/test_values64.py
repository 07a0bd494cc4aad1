"""Values cross the Python <-> enclave boundary with all 64 bits: Python OCALL handler results and
arguments, exit values (``RunResult.value`` and the C API's ``user_param.retval``), the addresses
``mmap``/``sbrk`` give the enclave, and registers and relay contents around a relay re-run.

Each value is one a 32-bit truncation (sign- or zero-extending) would change."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from conftest import A0, A1, A2, A3, A4, A6, A7, ECALL, S0, S1, Seg, T0, ZERO, addi, code, li, lui, make_elf, sd

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor")

from pltvm import Device  # noqa: E402
from pltvm import host as H  # noqa: E402

MASK = (1 << 64) - 1
PAGE = 4096
HEAP_BASE = 0x10_0000_0000
MMAP_BASE = 0x30_0000_0000
MM_ARG_BASE = 0x38_0000_0000
S2 = 18

WIDE = [
    1 << 31, (1 << 32) - 1, 1 << 32, 0x1_8000_0001, (1 << 63) - 1, 1 << 63,
    0x8000_0000_7FFF_FFFF, 0xFEDC_BA98_7654_3210, 0xFFFF_FFFF_0000_0000, MASK,
]


def signed(v: int) -> int:
    v &= MASK
    return v - (1 << 64) if v >> 63 else v


def _shift(rd: int, rs1: int, sh: int, f3: int) -> int:
    return (sh << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x13


def li64(rd: int, v: int, scratch: int = T0) -> list[int]:
    """rd = any 64-bit value: the high word shifted up, or'ed with the zero-extended low word."""
    v &= MASK
    hi, lo = v >> 32, v & 0xFFFF_FFFF
    out = li(rd, signed(hi << 32) >> 32) + [_shift(rd, rd, 32, 1)]
    out += li(scratch, signed(lo << 32) >> 32) + [_shift(scratch, scratch, 32, 1), _shift(scratch, scratch, 32, 5)]
    return out + [(scratch << 20) | (rd << 15) | (6 << 12) | (rd << 7) | 0x33]  # or rd, rd, scratch


def ld(rd: int, off: int, rs1: int) -> int:
    return ((off & 0xFFF) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03


def penglai(fid: int) -> list[int]:
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid), ECALL]


def enclave(*insns: list[int] | int) -> bytes:
    flat: list[int] = []
    for x in insns:
        flat.extend(x if isinstance(x, list) else [x])
    return make_elf([Seg(0x1000, code(flat), flags=7)], 0x1000)


def exit_elf(v: int) -> bytes:
    return enclave(li64(A0, v), penglai(99))


def word(b: Any, i: int) -> int:
    return struct.unpack_from("<Q", bytes(b), 8 * i)[0]


@pytest.mark.parametrize("v", WIDE + [-1, -(1 << 31) - 1, -(1 << 63)], ids=hex)
def test_python_ocall_result_and_arguments(v: int) -> None:
    args = ((v ^ 0x5555) & MASK, ~v & MASK, ((v << 17) | ((v & MASK) >> 47)) & MASK)
    elf = enclave(
        addi(S0, A0, 0), li64(A1, args[0]), li64(A2, args[1]), li64(A3, args[2]),
        addi(A0, ZERO, 100), penglai(98), sd(A0, 0, S0), penglai(99),
    )
    seen: list[tuple[int, int, int]] = []

    def handler(enclave: Any, a1: int, a2: int, a3: int) -> int:
        seen.append((a1, a2, a3))
        return v

    e = Device().create(elf, shm=PAGE)
    e.on_ocall(100, handler)
    r = e.run()
    assert seen == [args]
    assert word(r.shm, 0) == v & MASK
    assert r.value == signed(v)


@pytest.mark.parametrize("v", WIDE, ids=hex)
def test_exit_value_and_c_api_retval(v: int, tmp_path: Path) -> None:
    assert Device().create(exit_elf(v)).run().value == signed(v)
    H.configure()
    try:
        p = tmp_path / "e.elf"
        p.write_bytes(exit_elf(v))
        elf, params, e = H.elf_args(), H.enclave_args(), H.PLenclave()
        H.elf_args_init(elf, str(p))
        assert H.PLenclave_init(e) == 0
        H.enclave_args_init(params)
        assert H.PLenclave_create(e, elf, params) == 0
        assert H.PLenclave_run(e) == 0
        assert e.user_param.retval == v  # C's unsigned long
    finally:
        H.configure()


def test_mmap_and_sbrk_addresses() -> None:
    hint = 0x20_0000_0000
    steps = [(1, 0, PAGE), (1, hint, 2 * PAGE), (4, 0, 0), (4, PAGE, 0), (8, hint, PAGE)]
    insns: list[Any] = [addi(S0, A0, 0)]
    for i, (oid, a1, a2) in enumerate(steps):
        insns += [addi(A0, ZERO, oid), li64(A1, a1), li64(A2, a2), penglai(98), sd(A0, 8 * i, S0)]
    insns += [ld(T0, 0, S0), sd(T0, 0, T0), addi(A0, ZERO, 0), penglai(99)]  # the mmap works
    r = Device().create(enclave(*insns), shm=PAGE).run()
    assert [word(r.shm, i) for i in range(len(steps))] == [MMAP_BASE - PAGE, hint, HEAP_BASE, HEAP_BASE + PAGE, PAGE]
    assert r.value == 0


def test_relay_rerun_registers_and_contents() -> None:
    kept = 0x5A5A_0000_FFFF_1234
    elf = enclave(
        addi(S0, A0, 0), addi(S1, A3, 0), sd(A3, 0, S0), sd(A4, 8, S0), li64(S2, kept),
        addi(A0, ZERO, 7), penglai(98),  # OCALL_RETURN_RELAY_PAGE
        sd(A0, 16, S0), sd(S2, 24, S0), ld(T0, 0, S1), sd(T0, 32, S0), ld(A0, 8, S1), penglai(99),
    )
    e = Device().create(elf, shm=PAGE)
    r = e.run(relay=struct.pack("<Q", 0x8765_4321_0FED_CBA9) + bytes(2 * PAGE - 8))
    assert r.relay_returned and [word(r.shm, 0), word(r.shm, 1)] == [MM_ARG_BASE, 2 * PAGE]
    r = e.resume_relay(struct.pack("<QQ", 0xFEDC_BA98_7654_3210, 0x8000_0000_0000_0001))
    assert [word(r.shm, i) for i in (2, 3, 4)] == [0, kept, 0xFEDC_BA98_7654_3210]
    assert r.value == signed(0x8000_0000_0000_0001)
