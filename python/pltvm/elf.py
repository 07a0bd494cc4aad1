"""Parsing and validation of RV64 ELF executables.

:func:`parse_elf` reads an ELF file (with pyelftools) and checks everything that does not depend
on the machine it will be loaded into; :func:`check_bare_layout` and :func:`check_user_layout`
add the checks of the two machine kinds. All problems raise :class:`pltvm.ElfError` with a
message that names the file and the problem.

The result, :class:`ElfImage`, holds the loadable segments with their bytes, the entry point, the
defined symbols and where the program headers are in memory, so that other loaders (the
monitor layer) can reuse it.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from typing import Optional, Union

from .errors import ElfError

__all__ = [
    "Segment",
    "ElfImage",
    "parse_elf",
    "check_bare_layout",
    "check_user_layout",
    "PF_X",
    "PF_W",
    "PF_R",
    "EM_RISCV",
    "USER_STACK_TOP",
    "USER_STACK_SIZE",
    "PAGE_SIZE",
]

EM_RISCV = 243
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
ELF64_EHDR_SIZE = 64
ELF64_PHDR_SIZE = 56
ELF64_SHDR_SIZE = 64

PAGE_SIZE = 4096
USER_STACK_TOP = 0x40_0000_0000
"""Top of the user machine's stack (exclusive)."""
USER_STACK_SIZE = 8 << 20
"""Size of the user machine's stack area, just below :data:`USER_STACK_TOP`."""

_U64 = (1 << 64) - 1

_ET_NAMES = {0: "ET_NONE", ET_REL: "ET_REL", ET_EXEC: "ET_EXEC", ET_DYN: "ET_DYN", ET_CORE: "ET_CORE"}
_EM_NAMES = {
    0: "EM_NONE",
    3: "EM_386",
    8: "EM_MIPS",
    20: "EM_PPC",
    21: "EM_PPC64",
    22: "EM_S390",
    40: "EM_ARM",
    62: "EM_X86_64",
    183: "EM_AARCH64",
    243: "EM_RISCV",
    258: "EM_LOONGARCH",
}

StrPath = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Segment:
    """One ``PT_LOAD`` segment: ``data`` (``filesz`` bytes) goes to ``vaddr``, then zeros up to
    ``memsz``."""

    index: int
    """Index of the program header."""
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int
    """``p_flags``: :data:`PF_R` | :data:`PF_W` | :data:`PF_X`."""
    data: bytes = field(repr=False)

    @property
    def end(self) -> int:
        """First address after the segment in memory (``vaddr + memsz``)."""
        return self.vaddr + self.memsz

    @property
    def executable(self) -> bool:
        """Whether the segment has ``PF_X``."""
        return bool(self.flags & PF_X)

    def contains(self, addr: int) -> bool:
        """Whether ``addr`` is inside ``[vaddr, vaddr + memsz)``."""
        return self.vaddr <= addr < self.end


@dataclass(frozen=True)
class ElfImage:
    """A parsed and checked ELF executable."""

    path: str
    entry: int
    e_type: int
    segments: tuple[Segment, ...]
    """The ``PT_LOAD`` segments, in program header order."""
    symbols: dict[str, int] = field(repr=False)
    """Defined symbols (from ``.symtab``/``.dynsym``), name to value."""
    phdr_addr: Optional[int]
    """In-memory address of the program headers (``PT_PHDR``, or the ``PT_LOAD`` that contains
    ``e_phoff``); None when they are not loaded."""
    phentsize: int
    phnum: int

    def symbol(self, name: str) -> Optional[int]:
        """Value of the defined symbol ``name``, or None."""
        return self.symbols.get(name)

    @property
    def end(self) -> int:
        """First address after the highest segment in memory."""
        return max(s.end for s in self.segments)


def _fail(path: str, message: str) -> ElfError:
    return ElfError(f"{path}: {message}")


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not an ELF file") from None
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or e}") from None


def _check_ident(path: str, data: bytes) -> None:
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise _fail(path, f"not an ELF file (bad magic {data[:4]!r})")
    if len(data) < 16:
        raise _fail(path, "truncated ELF file (ELF identification is incomplete)")
    ei_class, ei_data = data[4], data[5]
    if ei_class == 1:
        raise _fail(path, "32-bit ELF (ELFCLASS32); only RV64 (ELFCLASS64) is supported")
    if ei_class != 2:
        raise _fail(path, f"invalid ELF class {ei_class} in e_ident")
    if ei_data == 2:
        raise _fail(path, "big-endian ELF (ELFDATA2MSB); only little-endian RISC-V is supported")
    if ei_data != 1:
        raise _fail(path, f"invalid ELF data encoding {ei_data} in e_ident")
    if len(data) < ELF64_EHDR_SIZE:
        raise _fail(
            path, f"truncated ELF file: the ELF header needs {ELF64_EHDR_SIZE} bytes, file has {len(data)}"
        )


def parse_elf(path: StrPath) -> ElfImage:
    """Read and check the RV64 executable at ``path``.

    Checks: the file is readable; it is a 64-bit little-endian RISC-V ``ET_EXEC`` ELF without an
    interpreter; headers and segment data lie within the file; it has ``PT_LOAD`` segments, none
    with ``filesz > memsz``, none wrapping around the address space, none overlapping another in
    memory; the entry point is inside an executable segment. Raises :class:`pltvm.ElfError`.
    """
    spath = os.fsdecode(path)
    data = _read_file(spath)
    _check_ident(spath, data)

    (e_type, e_machine, _e_version, e_entry, e_phoff, e_shoff, _e_flags, _e_ehsize,
     e_phentsize, e_phnum, e_shentsize, e_shnum, _e_shstrndx) = struct.unpack_from(
        "<HHIQQQIHHHHHH", data, 16
    )
    if e_machine != EM_RISCV:
        name = _EM_NAMES.get(e_machine, "unknown")
        raise _fail(spath, f"not a RISC-V ELF (e_machine={e_machine}, {name}); expected EM_RISCV ({EM_RISCV})")
    if e_phnum and e_phentsize != ELF64_PHDR_SIZE:
        raise _fail(spath, f"bad program header size e_phentsize={e_phentsize} (expected {ELF64_PHDR_SIZE})")
    if e_phnum == 0xFFFF:
        raise _fail(spath, "extended program header numbering (PN_XNUM) is not supported")
    if e_phnum and e_phoff + e_phnum * e_phentsize > len(data):
        raise _fail(
            spath,
            f"truncated ELF file: program headers at offset {e_phoff:#x} "
            f"({e_phnum} x {e_phentsize} bytes) extend past the end of the file ({len(data)} bytes)",
        )
    if e_shoff and e_shnum:
        if e_shentsize != ELF64_SHDR_SIZE:
            raise _fail(spath, f"bad section header size e_shentsize={e_shentsize} (expected {ELF64_SHDR_SIZE})")
        if e_shoff + e_shnum * e_shentsize > len(data):
            raise _fail(
                spath,
                f"truncated ELF file: section headers at offset {e_shoff:#x} "
                f"extend past the end of the file ({len(data)} bytes)",
            )

    # The program headers, read with pyelftools (bounds already checked above).
    phdrs = _program_headers(spath, data)

    interp = [p for p in phdrs if p["p_type"] == PT_INTERP]
    if e_type == ET_DYN:
        if interp:
            raise _fail(
                spath,
                "dynamically linked ELF (ET_DYN with interpreter "
                f"{_interp_name(data, interp[0])}) is not supported; link it statically (-static)",
            )
        raise _fail(
            spath,
            "position-independent executable (ET_DYN) is not supported; link it with -static -no-pie",
        )
    if e_type != ET_EXEC:
        name = _ET_NAMES.get(e_type, "unknown")
        raise _fail(spath, f"not an executable (e_type={e_type}, {name}); expected ET_EXEC")
    if interp:
        raise _fail(
            spath,
            f"dynamically linked ELF (interpreter {_interp_name(data, interp[0])}) is not "
            "supported; link it statically (-static)",
        )

    segments: list[Segment] = []
    for i, p in enumerate(phdrs):
        if p["p_type"] != PT_LOAD:
            continue
        vaddr, offset, filesz, memsz = p["p_vaddr"], p["p_offset"], p["p_filesz"], p["p_memsz"]
        if filesz > memsz:
            raise _fail(
                spath,
                f"segment {i} at {vaddr:#x} has filesz {filesz:#x} > memsz {memsz:#x}",
            )
        if offset + filesz > len(data):
            raise _fail(
                spath,
                f"truncated ELF file: segment {i} data (offset {offset:#x}, {filesz:#x} bytes) "
                f"extends past the end of the file ({len(data)} bytes)",
            )
        if vaddr + memsz > _U64 + 1:
            raise _fail(spath, f"segment {i} at {vaddr:#x} (memsz {memsz:#x}) wraps around the address space")
        segments.append(
            Segment(i, vaddr, offset, filesz, memsz, p["p_flags"], bytes(data[offset : offset + filesz]))
        )
    if not segments:
        raise _fail(spath, "no PT_LOAD segments, nothing to load")

    ordered = sorted((s for s in segments if s.memsz), key=lambda s: s.vaddr)
    for a, b in zip(ordered, ordered[1:]):
        if a.end > b.vaddr:
            raise _fail(
                spath,
                f"overlapping PT_LOAD segments: segment {a.index} [{a.vaddr:#x}, {a.end:#x}) "
                f"and segment {b.index} [{b.vaddr:#x}, {b.end:#x})",
            )

    if not any(s.executable and s.contains(e_entry) for s in segments):
        raise _fail(spath, f"entry point {e_entry:#x} is not inside an executable (PF_X) loaded segment")

    phdr_addr: Optional[int] = None
    pt_phdr = [p for p in phdrs if p["p_type"] == PT_PHDR]
    if pt_phdr:
        phdr_addr = pt_phdr[0]["p_vaddr"]
    elif e_phnum:
        for s in segments:
            if s.offset <= e_phoff and e_phoff + e_phnum * e_phentsize <= s.offset + s.filesz:
                phdr_addr = s.vaddr + e_phoff - s.offset
                break

    symbols = _symbols(spath, data)
    return ElfImage(
        path=spath,
        entry=e_entry,
        e_type=e_type,
        segments=tuple(segments),
        symbols=symbols,
        phdr_addr=phdr_addr,
        phentsize=e_phentsize,
        phnum=e_phnum,
    )


def _elffile(path: str, data: bytes):  # type: ignore[no-untyped-def]
    from elftools.elf.elffile import ELFFile

    try:
        return ELFFile(io.BytesIO(data))
    except Exception as e:  # pyelftools raises ELFError, ELFParseError, struct.error, ...
        raise _fail(path, f"malformed ELF file: {e}") from None


def _program_headers(path: str, data: bytes) -> list[dict[str, int]]:
    """Program headers as dicts of raw integers (``p_type`` etc.)."""
    elf = _elffile(path, data)
    out: list[dict[str, int]] = []
    try:
        for i in range(elf.num_segments()):
            h = elf.get_segment(i).header
            p_type = h["p_type"]
            out.append(
                {
                    "p_type": _PT_BY_NAME.get(p_type, -1) if isinstance(p_type, str) else int(p_type),
                    "p_flags": int(h["p_flags"]),
                    "p_offset": int(h["p_offset"]),
                    "p_vaddr": int(h["p_vaddr"]),
                    "p_filesz": int(h["p_filesz"]),
                    "p_memsz": int(h["p_memsz"]),
                }
            )
    except ElfError:
        raise
    except Exception as e:
        raise _fail(path, f"malformed program headers: {e}") from None
    return out


_PT_BY_NAME = {"PT_LOAD": PT_LOAD, "PT_INTERP": PT_INTERP, "PT_PHDR": PT_PHDR}


def _interp_name(data: bytes, p: dict[str, int]) -> str:
    raw = data[p["p_offset"] : p["p_offset"] + p["p_filesz"]]
    return repr(raw.split(b"\0", 1)[0].decode("utf-8", "replace"))


def _symbols(path: str, data: bytes) -> dict[str, int]:
    from elftools.elf.sections import SymbolTableSection

    elf = _elffile(path, data)
    symbols: dict[str, int] = {}
    try:
        for section in elf.iter_sections():
            if not isinstance(section, SymbolTableSection):
                continue
            for sym in section.iter_symbols():
                if sym["st_shndx"] == "SHN_UNDEF" or not sym.name:
                    continue
                symbols.setdefault(sym.name, int(sym["st_value"]))
    except Exception as e:
        raise _fail(path, f"malformed symbol table: {e}") from None
    return symbols


def check_bare_layout(image: ElfImage, ram_base: int, ram_size: int) -> None:
    """Check that every byte of every segment lies in RAM ``[ram_base, ram_base + ram_size)``."""
    ram_end = ram_base + ram_size
    for s in image.segments:
        if s.memsz and not (ram_base <= s.vaddr and s.end <= ram_end):
            raise _fail(
                image.path,
                f"segment {s.index} [{s.vaddr:#x}, {s.end:#x}) is outside RAM "
                f"[{ram_base:#x}, {ram_end:#x})",
            )


def check_user_layout(image: ElfImage) -> None:
    """Check that no segment touches page 0 or reaches the stack area
    (``[USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_TOP)`` and above)."""
    limit = USER_STACK_TOP - USER_STACK_SIZE
    for s in image.segments:
        if not s.memsz:
            continue
        if s.vaddr < PAGE_SIZE:
            raise _fail(
                image.path,
                f"segment {s.index} at {s.vaddr:#x} is in the zero page (below {PAGE_SIZE:#x})",
            )
        if s.end > limit:
            raise _fail(
                image.path,
                f"segment {s.index} [{s.vaddr:#x}, {s.end:#x}) reaches the stack area "
                f"(user segments must end at or below {limit:#x})",
            )
