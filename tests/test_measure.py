"""Measurement (docs/abi.md §6.1): the monitor's value (at create), pltvm.measure (the same
creation steps run ahead of time, from the ELF alone) and an independent model of the driver's
loader and of Penglai's hash stream (tests/measure_oracle.py, plain Python with OpenSSL's SM3),
which is what the values are checked against."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from conftest import A0, A6, A7, ECALL, REPO, Seg, code, li, make_elf, needs_native, run_cli
from measure_oracle import oracle_measure

import pltvm
import pltvm.enclaves
from pltvm import attest

pytestmark = needs_native

ENCLAVES = sorted(p.stem for p in (REPO / "python" / "pltvm" / "enclaves").glob("*.elf"))
TEXT = 0x1000


def _core() -> Any:
    from pltvm import _core

    return _core


def monitor_measurement(elf: bytes, **kw: Any) -> bytes:
    m = _core().Monitor.new()
    e = m.create(elf, **kw)
    try:
        return bytes(e.measurement)
    finally:
        e.destroy()


def exit_elf(extra: int = 0, entry: int = TEXT, data: bytes = b"") -> bytes:
    prog = code(li(A0, extra), li(A6, 0x100101), li(A7, 99), ECALL)
    segs = [Seg(TEXT, prog + data, flags=7)]
    return make_elf(segs, entry)


def test_bundled_enclaves_match_between_monitor_and_ahead_of_time() -> None:
    assert ENCLAVES, "no bundled enclaves"
    for name in ENCLAVES:
        data = pltvm.enclaves.path(name).read_bytes()
        assert monitor_measurement(data) == attest.measure(data), name
        shm = bytes(range(256)) * 32  # 8 KiB
        assert monitor_measurement(data, stack_size=0x3000, shm=shm) == \
            attest.measure(data, stack_size=0x3000, shm=shm), name
        assert pltvm.measure(pltvm.enclaves.path(name)) == attest.measure(data) == oracle_measure(data), name
        assert attest.measure(data, stack_size=0x3000, shm=shm) == oracle_measure(data, stack_size=0x3000, shm=shm)
        assert pltvm.measure(name) == attest.measure(data), "bundled names, as Device.create takes them"
        assert pltvm.measure(name + ".elf") == attest.measure(data)


def test_sm3_stream_of_a_tiny_enclave_written_out_by_hand() -> None:
    """The §6.1 stream for a one-page image, 64 KiB stack and kbuffer, built by hand here."""
    elf = exit_elf()
    page = bytearray(4096)
    off = struct.unpack_from("<Q", elf, 64 + 8)[0]  # p_offset of the only phdr
    filesz = struct.unpack_from("<Q", elf, 64 + 32)[0]
    page[:filesz] = elf[off:off + filesz]
    s = struct.pack("<Q", TEXT)
    s += struct.pack("<Q", 0xFFFF_FF80_0000_1000) + b"\0" + bytes(page)
    s += struct.pack("<Q", 0xFFFF_FFB7_FFFF_0000) + b"\0" + bytes(16 * 4096)
    s += struct.pack("<Q", 0xFFFF_FFE0_0000_0000) + b"\0" + bytes(4096)
    s += struct.pack("<Q", 0)
    assert attest.sm3(s) == attest.measure(elf) == monitor_measurement(elf)


@pytest.mark.parametrize("variant", ["image_byte", "entry", "stack_size", "shm_byte", "shm_absent"])
def test_every_input_changes_the_measurement(variant: str) -> None:
    base = exit_elf(data=bytes(5000))
    shm = bytes(0x2000)
    ref = attest.measure(base, shm=shm)
    assert ref == monitor_measurement(base, shm=shm)
    kw: dict[str, Any] = {"shm": shm}
    if variant == "image_byte":
        seg_off = struct.unpack_from("<Q", base, 64 + 8)[0]
        for pos in (seg_off + 17, seg_off + 4500, seg_off + 5019):  # first page, second page, last byte
            b = bytearray(base)
            b[pos] ^= 0x01
            assert attest.measure(bytes(b), **kw) != ref
            assert monitor_measurement(bytes(b), **kw) == attest.measure(bytes(b), **kw)
        return
    elf = base
    if variant == "entry":
        elf = exit_elf(data=bytes(5000), entry=TEXT + 0)  # same file ...
        b = bytearray(elf)
        struct.pack_into("<Q", b, 24, TEXT + 4)  # ... another e_entry
        elf = bytes(b)
    elif variant == "stack_size":
        kw["stack_size"] = 0x11000
    elif variant == "shm_byte":
        kw["shm"] = bytes(0x1FFF) + b"\x01"
    elif variant == "shm_absent":
        kw.pop("shm")
    got = attest.measure(elf, **kw)
    assert got != ref
    assert monitor_measurement(elf, **kw) == got


@pytest.mark.parametrize("name", ["hello-world", "mem"])
def test_every_kind_and_nonce_against_the_model(name: str) -> None:
    elf = pltvm.enclaves.path(name).read_bytes()
    shm = bytes(range(256)) * 16
    cases: list[tuple[str, dict[str, Any]]] = [
        ("normal", {}), ("normal", {"nonce": 1}), ("normal", {"nonce": 2**64 - 1}), ("normal", {"stack_size": 0}),
        ("shadow", {}), ("shadow", {"nonce": 0x5A5A}),
        ("server", {}), ("server", {"shm": shm}), ("server", {"stack_size": 0x3000, "shm": shm, "nonce": 9}),
    ]
    seen = set()
    for kind, kw in cases:
        got = attest.measure(elf, kind, **kw)
        assert got == oracle_measure(elf, kind, **kw), (kind, kw)
        seen.add(got)
    assert len(seen) == len(cases), "every kind, nonce and layout gives its own hash"
    assert attest.measure(elf, "shadow", stack_size=0x40000) == attest.measure(elf, "shadow")


def test_loader_rejections_match_the_monitor() -> None:
    bad_entry = exit_elf(entry=0)
    with pytest.raises(ValueError, match="e_entry is 0"):
        attest.measure(bad_entry)
    with pytest.raises(ValueError):
        _core().Monitor.new().create(bad_entry)
    with pytest.raises(ValueError, match="multiple of 4096"):
        attest.measure(exit_elf(), shm=b"x")
    with pytest.raises(ValueError, match="no shm"):
        attest.measure(exit_elf(), "shadow", shm=bytes(4096))
    with pytest.raises(ValueError, match="64 MiB"):
        attest.measure(exit_elf(), stack_size=65 << 20)


def test_overlapping_mappings_follow_the_loader_order() -> None:
    """A page mapped twice (NOBITS-free overlap of two program headers): the later one wins
    in both implementations."""
    a = Seg(TEXT, code(li(A6, 0x100101), li(A7, 99), ECALL) + b"A" * 100, flags=7)
    b = Seg(TEXT, b"B" * 50, flags=5)
    elf = make_elf([a, b], TEXT)
    assert attest.measure(elf) == monitor_measurement(elf)


def test_shadow_template_measurement() -> None:
    """The monitor's template hash is measure(kind="shadow") and the model's image-only hash."""
    for name in ENCLAVES:
        data = pltvm.enclaves.path(name).read_bytes()
        tpl = _core().Monitor.new().create(data, type=2)
        try:
            assert bytes(tpl.measurement) == attest.measure(data, "shadow") == oracle_measure(data, "shadow"), name
        finally:
            tpl.destroy()


def test_cli_measure(tmp_path: Any) -> None:
    data = pltvm.enclaves.path("hello-world").read_bytes()
    r = run_cli("measure", "hello-world")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == oracle_measure(data).hex()
    r = run_cli("measure", "--shadow", "hello-world")
    assert r.stdout.decode().strip() == oracle_measure(data, "shadow").hex()
    shm_file = tmp_path / "shm.bin"
    shm_file.write_bytes(b"hello shm")  # padded to one page, as Device.create pads
    r = run_cli("measure", "--stack-size", "12K", "--shm", str(shm_file), "hello-world")
    assert r.returncode == 0, r.stderr
    shm = b"hello shm" + bytes(4096 - 9)
    assert r.stdout.decode().strip() == oracle_measure(data, stack_size=0x3000, shm=shm).hex()
    r = run_cli("measure", "no-such-enclave")
    assert r.returncode == 2 and b"no such file" in r.stderr


def test_refusals_name_the_file(tmp_path: Any) -> None:
    bad = tmp_path / "not-an-enclave.elf"
    b = bytearray(exit_elf())
    b[16] = 3  # ET_DYN
    bad.write_bytes(bytes(b))
    with pytest.raises(ValueError) as ei:
        pltvm.measure(bad)
    assert str(ei.value) == f"{bad}: e_type is ET_DYN, not an executable (ET_EXEC)"
    with pytest.raises(ValueError) as ei:
        pltvm.measure(bytes(b))
    assert str(ei.value) == "e_type is ET_DYN, not an executable (ET_EXEC)"
    with pytest.raises(FileNotFoundError, match="no-such: no such file or bundled enclave"):
        pltvm.measure("no-such")
    for cmd in (["measure", str(bad)], ["attest", str(bad)], ["verify", "-", "--expect", str(bad)]):
        r = run_cli(*cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.decode() == f"pltvm: error: {bad}: e_type is ET_DYN, not an executable (ET_EXEC)\n", cmd
