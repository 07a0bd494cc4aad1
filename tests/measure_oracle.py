"""An independent model of what the monitor measures, for tests.

pltvm's measurement (``Enclave.measurement``, ``pltvm.measure``) is computed by the Rust loader
and page-table walk. This module computes the same value a second way, from the written rules
alone, in plain Python with OpenSSL's SM3 (``cryptography``): no code is shared with
``rust/core``. It models

* the file checks the monitor makes (ELF64 little-endian RISC-V ``ET_EXEC``; program and
  section header tables, and every program header's file part, inside the file; every program
  header's ``[p_vaddr, p_vaddr + p_filesz)`` and every ``SHT_NOBITS`` section's
  ``[sh_addr, sh_addr + sh_size)`` (``sh_addr != 0``) end at or below 2^64 - 4096, so the
  loader's 4096-byte steps never wrap; ``e_entry != 0``; page-aligned ``p_vaddr`` where
  ``p_filesz != 0``; the 512 MiB image and 64 MiB stack limits);
* the driver's block (``2^ceil(log2(pages))`` pages) and its loader: stack, ``SHT_NOBITS``
  sections, then every program header; each "allocate VA" takes the data page and then any
  missing table pages from the block, and a later mapping of a VA replaces the earlier one;
* the monitor's kbuffer page and host shm, their table pages taken from the block's free list;
* Penglai's stream: ``le64(entry)``, then the mapped pages in page-table order, each run of
  virtually contiguous pages preceded by its VA with bits 39..63 set and one zero byte, then
  ``le64(nonce)``.

:func:`oracle_measure` raises :class:`Refused` where the monitor refuses the file (the reason is
this module's own wording, not the monitor's).
"""

from __future__ import annotations

import struct
from typing import Optional

from cryptography.hazmat.primitives import hashes

PAGE = 4096
STACK_BASE = 0x38_0000_0000
SHM_BASE = 0x39_0000_0000
KBUFFER = 0xFFFF_FFE0_0000_0000
MAX_ELF_MEM = 512 << 20
MAX_STACK = 64 << 20
SPARE_PAGES = 256
SHT_NOBITS = 8
ROOT_VA_BASE = 0xFFFF_FF80_0000_0000
SV39 = (1 << 39) - 1
TOP_PAGE = (1 << 64) - PAGE


class Refused(Exception):
    """The monitor would not create this enclave."""


def _fields(b: bytes) -> tuple[int, list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
    """(entry, [(flags, offset, vaddr, filesz)], [(sh_type, addr, size)]), checked."""
    if len(b) < 64 or b[:4] != b"\x7fELF" or b[4] != 2 or b[5] != 1:
        raise Refused("not an ELF64 little-endian file")
    e_type, machine = struct.unpack_from("<HH", b, 16)
    if machine != 243:
        raise Refused("not RISC-V")
    if e_type != 2:
        raise Refused("not ET_EXEC")
    entry, phoff, shoff = struct.unpack_from("<QQQ", b, 24)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", b, 54)

    def table(off: int, num: int, size: int, minimum: int) -> list[int]:
        if num == 0:
            return []
        if size < minimum or off + num * size > len(b):
            raise Refused("header table")
        return [off + i * size for i in range(num)]

    phdrs = []
    for o in table(phoff, phnum, phentsize, 56):
        flags, offset, vaddr, _paddr, filesz = struct.unpack_from("<IQQQQ", b, o + 4)
        if offset + filesz > len(b):
            raise Refused("program header past the end of the file")
        if vaddr + filesz > TOP_PAGE:
            raise Refused("program header reaches the topmost page")
        phdrs.append((flags, offset, vaddr, filesz))
    shdrs = []
    if shoff:
        for o in table(shoff, shnum, shentsize, 64):
            (sh_type,) = struct.unpack_from("<I", b, o + 4)
            addr, _off, size = struct.unpack_from("<QQQ", b, o + 16)
            if sh_type == SHT_NOBITS and addr and addr + size > TOP_PAGE:
                raise Refused("NOBITS section reaches the topmost page")
            shdrs.append((sh_type, addr, size))
    if entry == 0:
        raise Refused("e_entry is 0")
    for _flags, _offset, vaddr, filesz in phdrs:
        if filesz and vaddr % PAGE:
            raise Refused("unaligned program header")
    return entry, phdrs, shdrs


class _Tables:
    """Which page tables exist (by the VA bits that select them) and how many pages remain."""

    def __init__(self) -> None:
        self.l1: set[int] = set()  # root index
        self.l0: set[tuple[int, int]] = set()  # (root index, level-1 index)

    def missing(self, va: int) -> list[object]:
        i2, i1 = (va >> 30) & 0x1FF, (va >> 21) & 0x1FF
        out: list[object] = []
        if i2 not in self.l1:
            out.append(i2)
        if (i2, i1) not in self.l0:
            out.append((i2, i1))
        return out

    def add(self, va: int) -> None:
        i2, i1 = (va >> 30) & 0x1FF, (va >> 21) & 0x1FF
        self.l1.add(i2)
        self.l0.add((i2, i1))


def oracle_measure(
    elf: bytes, kind: str = "normal", stack_size: int = 0x10000, shm: Optional[bytes] = None, nonce: int = 0
) -> bytes:
    """The measurement of ``elf`` created as ``kind`` ("normal", "shadow": image only, or
    "server": image, stack and shm, no kbuffer), with ``nonce`` in the stream."""
    if kind == "shadow":
        stack_size, shm = 0, None
    entry, phdrs, shdrs = _fields(elf)
    nobits = [(a, s) for t, a, s in shdrs if t == SHT_NOBITS and a]
    elf_mem = sum(s for _a, s in nobits) + sum(p[3] for p in phdrs)
    if elf_mem > MAX_ELF_MEM:
        raise Refused("image over 512 MiB")
    if stack_size > MAX_STACK:
        raise Refused("stack over 64 MiB")
    need = -(-elf_mem // PAGE) + -(-stack_size // PAGE) + SPARE_PAGES
    block = 1
    while block < need:
        block *= 2
    used = 3  # pages 0-2: monitor metadata, root table, reserved
    tables = _Tables()
    pages: dict[int, Optional[bytes]] = {}  # Sv39 VA of the page -> contents (None: zeros)

    def allocate(va: int, content: Optional[bytes]) -> None:
        nonlocal used
        used += 1 + len(tables.missing(va))
        if used > block:
            raise Refused("block too small")
        tables.add(va)
        pages[(va & ~(PAGE - 1)) & SV39] = content

    for k in range(-(-stack_size // PAGE)):
        allocate(STACK_BASE - stack_size + k * PAGE, None)
    for addr, size in nobits:
        for k in range(-(-size // PAGE)):
            allocate(addr + k * PAGE, None)
    for _flags, offset, vaddr, filesz in phdrs:
        count = -(-filesz // PAGE)
        for k in range(count):
            n = PAGE if k < count - 1 else (filesz % PAGE or PAGE)
            allocate(vaddr + k * PAGE, elf[offset + k * PAGE : offset + k * PAGE + n])
    if used >= block:  # the free_mem page
        raise Refused("block too small")
    free = block - used

    def monitor_map(va: int, contents: list[Optional[bytes]]) -> None:
        nonlocal free
        for k, content in enumerate(contents):
            v = va + k * PAGE
            free -= len(tables.missing(v))
            if free < 0:
                raise Refused("block too small")
            tables.add(v)
            pages[v & SV39] = content

    if kind == "normal":
        monitor_map(KBUFFER, [None])
    if shm is not None and kind != "shadow":
        monitor_map(SHM_BASE, [shm[i : i + PAGE] for i in range(0, len(shm), PAGE)])

    h = hashes.Hash(hashes.SM3())
    h.update(struct.pack("<Q", entry))
    prev = None
    for va in sorted(pages):
        if prev is None or va != prev + PAGE:
            h.update(struct.pack("<Q", ROOT_VA_BASE | va) + b"\0")
        content = pages[va] or b""
        h.update(content + bytes(PAGE - len(content)))
        prev = va
    h.update(struct.pack("<Q", nonce))
    return h.finalize()


def sm3(data: bytes) -> bytes:
    """SM3 from OpenSSL (``cryptography``)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()
