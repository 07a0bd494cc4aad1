"""Seeded mutations of enclave ELF files, for loader property tests.

:func:`mutants` yields ``(elf_bytes, description)``: a base file (a bundled enclave, or a small
file built here with ``SHT_NOBITS`` sections) with one to three mutations. Most mutations set
one header field to a value from a list of hostile ones: addresses at and near the top of the
64-bit space, 2^63, 2^40, the Sv39 boundaries 2^38 and 2^39, the stack/shm/kbuffer areas,
unaligned addresses; sizes near 0, near a page, near the file size, over the driver's 512 MiB
limit and near 2^64. The rest flip random bytes in the headers or truncate the file.
Accepted images stay small (at most a few MiB mapped) so thousands of mutants run quickly.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = 4096
TOP = 1 << 64

ADDRESSES = [
    0, 1, 0x1000, 0x1001, 0x2000, 0x3000, 0x10_0000, 0x7FFF_F000,
    TOP - 0x1000, TOP - 0x2000, TOP - 0x3000, TOP - 0x10, TOP - 1, TOP - 0x1000 + 0x10,
    1 << 63, (1 << 63) - 0x1000, (1 << 63) + 0x1000,
    1 << 40, (1 << 40) - 0x1000, 1 << 39, (1 << 39) - 0x1000, 1 << 38, (1 << 38) - 0x1000,
    0x38_0000_0000 - 0x1000, 0x38_0000_0000, 0x39_0000_0000, 0x60_0000_0000,
    0xFFFF_FFE0_0000_0000, 0xFFFF_FFC0_0000_0000 - 0x1000, 0xFFFF_FF80_0000_0000,
]
SIZES = [
    0, 1, 0x10, 0xFFF, 0x1000, 0x1001, 0x2000, 0x10000, 0x20_0000, 0x40_0000,
    (512 << 20) + 1, 1 << 32, 1 << 40, 1 << 63, TOP - 1, TOP - 0x1000,
]
# Header field offsets and widths.
EHDR = {"e_type": (16, 2), "e_machine": (18, 2), "e_entry": (24, 8), "e_phoff": (32, 8),
        "e_shoff": (40, 8), "e_phentsize": (54, 2), "e_phnum": (56, 2), "e_shentsize": (58, 2),
        "e_shnum": (60, 2), "ei_class": (4, 1), "ei_data": (5, 1)}
PHDR = {"p_type": (0, 4), "p_flags": (4, 4), "p_offset": (8, 8), "p_vaddr": (16, 8),
        "p_filesz": (32, 8), "p_memsz": (40, 8)}
SHDR = {"sh_type": (4, 4), "sh_addr": (16, 8), "sh_size": (32, 8)}


def nobits_elf() -> bytes:
    """A small RV64 ET_EXEC file: one RWX program header at 0x1000 (two pages of file data),
    a PT_GNU_STACK, and section headers with two SHT_NOBITS sections (one not page-aligned)."""
    text = bytes(range(256)) * 20  # 5120 bytes: 1.25 pages
    data_off = 0x1000
    shoff = data_off + len(text)
    shoff += -shoff % 8
    phdrs = struct.pack("<IIQQQQQQ", 1, 7, data_off, 0x1000, 0x1000, len(text), 0x6000, 0x1000)
    phdrs += struct.pack("<IIQQQQQQ", 0x6474E551, 6, 0, 0, 0, 0, 0, 16)
    sh = bytes(64)
    sh += struct.pack("<IIQQQQIIQQ", 0, 1, 6, 0x1000, data_off, len(text), 0, 0, 4, 0)
    sh += struct.pack("<IIQQQQIIQQ", 0, 8, 3, 0x3000, shoff, 0x1800, 0, 0, 16, 0)
    sh += struct.pack("<IIQQQQIIQQ", 0, 8, 3, 0x4800, shoff, 0x1000, 0, 0, 16, 0)
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 243, 1, 0x1000, 64, shoff, 0, 64, 56, 2, 64, 4, 0)
    out = bytearray(ehdr + phdrs)
    out += bytes(data_off - len(out)) + text
    out += bytes(shoff - len(out)) + sh
    return bytes(out)


def bases() -> list[tuple[str, bytes]]:
    """The files mutants start from."""
    out = [(p.stem, p.read_bytes()) for p in sorted((REPO / "python" / "pltvm" / "enclaves").glob("*.elf"))]
    out.append(("nobits", nobits_elf()))
    return out


def _fields(b: bytes) -> tuple[list[int], list[int]]:
    """Offsets of the program and section header entries the file claims (those inside it)."""
    if len(b) < 64:
        return [], []
    phoff, shoff = struct.unpack_from("<QQ", b, 32)
    (phnum,) = struct.unpack_from("<H", b, 56)
    (shnum,) = struct.unpack_from("<H", b, 60)
    ph = [phoff + 56 * i for i in range(phnum) if phoff + 56 * (i + 1) <= len(b)]
    sh = [shoff + 64 * i for i in range(shnum) if shoff and shoff + 64 * (i + 1) <= len(b)]
    return ph, sh


def _put(b: bytearray, off: int, width: int, value: int) -> None:
    b[off:off + width] = (value % (1 << (8 * width))).to_bytes(width, "little")


def _value(rng: random.Random, field: str, data: bytes) -> int:
    if field in ("p_vaddr", "sh_addr", "e_entry"):
        v = rng.choice(ADDRESSES)
        return v if rng.random() < 0.8 else (v + rng.choice([-PAGE, PAGE, 8])) % TOP
    if field in ("p_filesz", "p_memsz", "sh_size"):
        if rng.random() < 0.3:
            return rng.randrange(0, 3 * PAGE)
        return rng.choice(SIZES)
    if field in ("p_offset", "e_phoff", "e_shoff"):
        n = len(data)
        return rng.choice([0, 1, 64, 0x1000, n - 1, n, n + 1, n - 56, n - 64, TOP - 1, 1 << 63,
                           rng.randrange(0, n + 1)]) % TOP
    if field == "e_type":
        return rng.choice([0, 1, 2, 3, 4, 0xFE00, 0xFFFF])
    if field == "e_machine":
        return rng.choice([0, 62, 183, 243, 0xFFFF])
    if field in ("e_phentsize", "e_shentsize"):
        return rng.choice([0, 1, 55, 56, 57, 63, 64, 65, 0xFFFF])
    if field in ("e_phnum", "e_shnum"):
        return rng.choice([0, 1, 2, 3, 8, 100, 0xFFFF])
    if field in ("ei_class", "ei_data"):
        return rng.choice([0, 1, 2, 3])
    if field == "sh_type":
        return rng.choice([0, 1, 8, 8, 8, 0xFFFF_FFFF])
    if field == "p_type":
        return rng.choice([0, 1, 2, 3, 6, 0x6474E551, 0x7000_0003])
    return rng.randrange(0, 16)  # p_flags


def mutate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One to three mutations of ``data``, and what they were."""
    b = bytearray(data)
    what = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        r = rng.random()
        ph, sh = _fields(bytes(b))
        if r < 0.12:
            field = rng.choice(list(EHDR))
            off, width = EHDR[field]
            v = _value(rng, field, bytes(b))
            _put(b, off, width, v)
            what.append(f"{field}={v:#x}")
        elif r < 0.52 and ph:
            i = rng.randrange(len(ph))
            field = rng.choice(["p_vaddr", "p_vaddr", "p_filesz", "p_offset", "p_flags", "p_type", "p_memsz"])
            off, width = PHDR[field]
            v = _value(rng, field, bytes(b))
            _put(b, ph[i] + off, width, v)
            what.append(f"ph{i}.{field}={v:#x}")
        elif r < 0.85 and sh:
            i = rng.randrange(len(sh))
            field = rng.choice(["sh_addr", "sh_addr", "sh_size", "sh_type"])
            off, width = SHDR[field]
            v = _value(rng, field, bytes(b))
            _put(b, sh[i] + off, width, v)
            what.append(f"sh{i}.{field}={v:#x}")
        elif r < 0.95:
            region = rng.choice([(0, 64)] + [(o, 56) for o in ph] + [(o, 64) for o in sh])
            pos = region[0] + rng.randrange(region[1])
            if pos < len(b):
                bit = rng.randrange(8)
                b[pos] ^= 1 << bit
                what.append(f"flip byte {pos:#x} bit {bit}")
        else:
            n = rng.randrange(0, len(b) + 1)
            del b[n:]
            what.append(f"truncate to {n:#x}")
    return bytes(b), ", ".join(what) or "unchanged"


def mutants(seed: int, count: int) -> Iterator[tuple[bytes, str]]:
    """``count`` mutants, reproducible from ``seed``."""
    rng = random.Random(seed)
    base = bases()
    for k in range(count):
        name, data = base[rng.randrange(len(base))]
        elf, what = mutate(rng, data)
        yield elf, f"#{k} {name}: {what}"
