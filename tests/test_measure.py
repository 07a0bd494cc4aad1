"""Measurement (docs/abi.md §6.1): the monitor's value (Rust, at create) against
pltvm.measure (Python, from the ELF alone); two independent implementations of the driver's
loader and of Penglai's hash stream."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from conftest import A0, A6, A7, ECALL, REPO, Seg, code, li, make_elf, needs_native, run_cli

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
        assert pltvm.measure(pltvm.enclaves.path(name)) == attest.measure(data)


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


def test_nonce_changes_the_hash_and_kinds_differ() -> None:
    elf = exit_elf()
    assert attest.measure(elf, nonce=1) != attest.measure(elf)
    assert attest.measure(elf, "shadow") != attest.measure(elf)
    assert attest.measure(elf, "server") != attest.measure(elf)
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


def test_shadow_template_measurement_matches_when_shadow_enclaves_exist() -> None:
    """Shadow templates (issue 5): the monitor's template hash must equal
    measure(kind="shadow"). Skipped, with this reason, while templates cannot be created."""
    data = pltvm.enclaves.path("hello-world").read_bytes()
    mon = _core().Monitor.new()
    try:
        tpl = mon.create(data, type=2)
    except NotImplementedError as e:
        pytest.skip(f"waiting for the shadow-enclave API (issue 5): {e}")
    assert bytes(tpl.measurement) == attest.measure(data, "shadow"), \
        "the shadow API exists but the template hash is not measure(kind='shadow')"


def test_cli_measure() -> None:
    r = run_cli("measure", "hello-world")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == attest.measure(pltvm.enclaves.path("hello-world")).hex()
    r = run_cli("measure", "--shadow", "hello-world")
    assert r.stdout.decode().strip() == attest.measure(pltvm.enclaves.path("hello-world"), "shadow").hex()
    r = run_cli("measure", "no-such-enclave")
    assert r.returncode == 2 and b"no such file" in r.stderr
