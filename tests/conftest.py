"""Shared test helpers: a tiny RV64 assembler and an ELF64 writer.

Tests build their programs as bytes here, so no cross compiler is needed. ``make_elf`` writes a
minimal valid RV64 executable that tests can corrupt field by field.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import pytest

# Attestation keys: tests never touch the user's key store (~/.local/share/pltvm).
if not os.environ.get("PLTVM_KEY_DIR"):
    import tempfile

    os.environ["PLTVM_KEY_DIR"] = tempfile.mkdtemp(prefix="pltvm-test-keys-")

# ---------------------------------------------------------------------------------------------
# Registers and instruction encoders (RV64I subset, 32-bit encodings only).

ZERO, RA, SP, GP, TP, T0, T1, T2 = range(8)
S0, S1, A0, A1, A2, A3, A4, A5, A6, A7 = range(8, 18)


def _i(imm: int, rs1: int, f3: int, rd: int, op: int) -> int:
    assert -2048 <= imm < 2048, imm
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def _s(imm: int, rs2: int, rs1: int, f3: int, op: int) -> int:
    assert -2048 <= imm < 2048, imm
    imm &= 0xFFF
    return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1F) << 7) | op


def addi(rd: int, rs1: int, imm: int) -> int:
    return _i(imm, rs1, 0, rd, 0x13)


def addiw(rd: int, rs1: int, imm: int) -> int:
    return _i(imm, rs1, 0, rd, 0x1B)


def lui(rd: int, imm20: int) -> int:
    return ((imm20 & 0xFFFFF) << 12) | (rd << 7) | 0x37


def auipc(rd: int, imm20: int) -> int:
    return ((imm20 & 0xFFFFF) << 12) | (rd << 7) | 0x17


def sd(rs2: int, off: int, rs1: int) -> int:
    return _s(off, rs2, rs1, 3, 0x23)


def lbu(rd: int, off: int, rs1: int) -> int:
    return _i(off, rs1, 4, rd, 0x03)


def jal(rd: int, off: int) -> int:
    assert off % 2 == 0 and -(1 << 20) <= off < (1 << 20)
    o = off & 0x1FFFFF
    imm = ((o >> 20) << 31) | (((o >> 1) & 0x3FF) << 21) | (((o >> 11) & 1) << 20) | (((o >> 12) & 0xFF) << 12)
    return imm | (rd << 7) | 0x6F


def bne(rs1: int, rs2: int, off: int) -> int:
    assert off % 2 == 0 and -4096 <= off < 4096
    o = off & 0x1FFF
    return (
        (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (1 << 12)
        | (((o >> 1) & 0xF) << 8) | (((o >> 11) & 1) << 7) | 0x63
    )


ECALL = 0x00000073
EBREAK = 0x00100073
ILLEGAL = 0x00000000


def li(rd: int, value: int) -> list[int]:
    """Load a signed 32-bit constant."""
    assert -(1 << 31) <= value < (1 << 31)
    if -2048 <= value < 2048:
        return [addi(rd, ZERO, value)]
    lo = ((value & 0xFFF) ^ 0x800) - 0x800
    hi = ((value - lo) >> 12) & 0xFFFFF
    return [lui(rd, hi), addiw(rd, rd, lo)]


def code(*insns: int | list[int]) -> bytes:
    """Little-endian bytes of the instructions (lists are flattened)."""
    flat: list[int] = []
    for x in insns:
        flat.extend(x if isinstance(x, list) else [x])
    return b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in flat)


# ---------------------------------------------------------------------------------------------
# ELF64 writer.

PF_X, PF_W, PF_R = 1, 2, 4
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6


@dataclass
class Seg:
    """A program header to write. ``data`` goes in the file; ``memsz`` defaults to len(data)."""

    vaddr: int
    data: bytes
    memsz: Optional[int] = None
    flags: int = PF_R | PF_X
    p_type: int = PT_LOAD
    filesz: Optional[int] = None  # override p_filesz (corruption tests)
    offset: Optional[int] = None  # override p_offset (corruption tests)


@dataclass
class ElfLayout:
    """Where things ended up in the file written by :func:`make_elf`."""

    data: bytes
    phoff: int
    shoff: int
    seg_offsets: list[int] = field(default_factory=list)


def make_elf_layout(
    segments: Sequence[Seg],
    entry: int,
    symbols: Optional[dict[str, int]] = None,
    *,
    e_type: int = 2,
    machine: int = 243,
    ei_class: int = 2,
    ei_data: int = 1,
    magic: bytes = b"\x7fELF",
) -> ElfLayout:
    """Write an ELF64 little-endian executable: header, program headers, segment data (each at
    an offset congruent to its vaddr modulo 16), then a .symtab/.strtab/.shstrtab if symbols."""
    phoff = 64
    phnum = len(segments)
    off = phoff + 56 * phnum
    body = bytearray()
    seg_offsets: list[int] = []
    for s in segments:
        pos = off + len(body)
        pad = (s.vaddr - pos) % 16
        body += b"\0" * pad
        seg_offsets.append(off + len(body))
        body += s.data
    phdrs = bytearray()
    for s, so in zip(segments, seg_offsets):
        filesz = len(s.data) if s.filesz is None else s.filesz
        memsz = len(s.data) if s.memsz is None else s.memsz
        phdrs += struct.pack(
            "<IIQQQQQQ", s.p_type, s.flags, so if s.offset is None else s.offset,
            s.vaddr, s.vaddr, filesz, memsz, 16,
        )
    shoff = 0
    shnum = 0
    shstrndx = 0
    tail = bytearray()
    if symbols:
        base = off + len(body)
        strtab = bytearray(b"\0")
        symtab = bytearray(b"\0" * 24)
        for name, value in symbols.items():
            symtab += struct.pack("<IBBHQQ", len(strtab), 0x10, 0, 0xFFF1, value, 8)  # GLOBAL, ABS
            strtab += name.encode() + b"\0"
        shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0"
        symtab_off = base
        tail += symtab
        strtab_off = base + len(tail)
        tail += strtab
        shstr_off = base + len(tail)
        tail += shstrtab
        tail += b"\0" * ((-(base + len(tail))) % 8)
        shoff = base + len(tail)
        sh = bytearray(b"\0" * 64)
        sh += struct.pack("<IIQQQQIIQQ", 1, 2, 0, 0, symtab_off, len(symtab), 2, 1, 8, 24)
        sh += struct.pack("<IIQQQQIIQQ", 9, 3, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0)
        sh += struct.pack("<IIQQQQIIQQ", 17, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0)
        tail += sh
        shnum, shstrndx = 4, 3
    ident = magic + bytes([ei_class, ei_data, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", e_type, machine, 1, entry, phoff, shoff, 0, 64, 56, phnum, 64, shnum, shstrndx
    )
    data = bytes(ehdr + phdrs + body + tail)
    return ElfLayout(data, phoff, shoff, seg_offsets)


def make_elf(segments: Sequence[Seg], entry: int, symbols: Optional[dict[str, int]] = None, **kw: int) -> bytes:
    """Bytes of an ELF file; see :func:`make_elf_layout`."""
    return make_elf_layout(segments, entry, symbols, **kw).data  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Ready-made programs.

RAM_BASE = 0x8000_0000
USER_BASE = 0x10000
SYS_READ, SYS_WRITE, SYS_EXIT = 63, 64, 93


def bare_exit_program(code_value: int = 21) -> tuple[list[Seg], int, dict[str, int]]:
    """Bare: store (code << 1) | 1 to tohost (at RAM_BASE + 0x1000), then spin."""
    text = code(
        auipc(T0, 1),  # t0 = RAM_BASE + 0x1000 = &tohost
        li(T1, (code_value << 1) | 1),
        sd(T1, 0, T0),
        jal(ZERO, 0),
    )
    segs = [Seg(RAM_BASE, text), Seg(RAM_BASE + 0x1000, b"\0" * 16, flags=PF_R | PF_W)]
    return segs, RAM_BASE, {"tohost": RAM_BASE + 0x1000, "fromhost": RAM_BASE + 0x1008}


def bare_loop_program() -> tuple[list[Seg], int, dict[str, int]]:
    """Bare: ``j .`` forever (plus a tohost so the HTIF is set up)."""
    text = code(addi(A0, ZERO, 1), jal(ZERO, 0))
    segs = [Seg(RAM_BASE, text), Seg(RAM_BASE + 0x1000, b"\0" * 16, flags=PF_R | PF_W)]
    return segs, RAM_BASE, {"tohost": RAM_BASE + 0x1000}


def bare_signature_program() -> tuple[list[Seg], int, dict[str, int]]:
    """Bare: exit 0 at once; the data segment holds a 3-word signature."""
    segs, entry, syms = bare_exit_program(0)
    sig = struct.pack("<III", 0xDEADBEEF, 0x00000001, 0x12345678)
    segs = segs + [Seg(RAM_BASE + 0x2000, sig, flags=PF_R | PF_W)]
    syms = dict(syms, begin_signature=RAM_BASE + 0x2000, end_signature=RAM_BASE + 0x2000 + len(sig))
    return segs, entry, syms


def user_write_exit_program(msg: bytes = b"hello from guest\n", status: int = 7) -> tuple[list[Seg], int]:
    """User: write(1, msg, len(msg)); exit(status). The message follows the code."""
    n_insns = 10
    text = code(
        auipc(A1, 0),
        addi(A1, A1, 4 * n_insns),
        li(A0, 1),
        li(A2, len(msg)),
        li(A7, SYS_WRITE),
        ECALL,
        li(A0, status),
        li(A7, SYS_EXIT),
        ECALL,
        jal(ZERO, 0),
    )
    assert len(text) == 4 * n_insns
    return [Seg(USER_BASE, text + msg)], USER_BASE


def user_exit_program(status: int) -> tuple[list[Seg], int]:
    """User: exit(status)."""
    text = code(li(A0, status), li(A7, SYS_EXIT), ECALL)
    return [Seg(USER_BASE, text)], USER_BASE


def user_illegal_program() -> tuple[list[Seg], int]:
    """User: an all-zero (illegal) instruction at the entry."""
    return [Seg(USER_BASE, code(addi(A0, ZERO, 3), ILLEGAL))], USER_BASE


def user_loop_program() -> tuple[list[Seg], int]:
    """User: ``j .`` forever."""
    return [Seg(USER_BASE, code(jal(ZERO, 0)))], USER_BASE


def user_handshake_program() -> tuple[list[Seg], int]:
    """User: write(1, "R", 1); read(0, sp - 16, 1); exit(that byte)."""
    n_insns = 16
    text = code(
        li(A0, 1),
        auipc(A1, 0),
        addi(A1, A1, 4 * (n_insns - 1)),  # &"R" (right after the code)
        li(A2, 1),
        li(A7, SYS_WRITE),
        ECALL,
        li(A0, 0),
        addi(A1, SP, -16),
        li(A2, 1),
        li(A7, SYS_READ),
        ECALL,
        lbu(A0, -16, SP),
        li(A7, SYS_EXIT),
        ECALL,
        jal(ZERO, 0),
        jal(ZERO, 0),
    )
    assert len(text) == 4 * n_insns
    return [Seg(USER_BASE, text + b"R")], USER_BASE


# ---------------------------------------------------------------------------------------------
# Fixtures and environment probes.

REPO = Path(__file__).resolve().parent.parent


def have_native() -> bool:
    """Whether ``pltvm._core`` is importable and exports Machine."""
    try:
        if importlib.util.find_spec("pltvm._core") is None:
            return False
        from pltvm import _core
    except ImportError:
        return False
    return hasattr(_core, "Machine")


needs_native = pytest.mark.skipif(not have_native(), reason="pltvm._core with Machine is not built")


ENCLAVES = REPO / "python" / "pltvm" / "enclaves"


def bundled(name: str) -> Path:
    """The bundled enclave ELF ``name`` (built from guest/ and committed, so it must exist)."""
    p = ENCLAVES / f"{name}.elf"
    assert p.is_file(), f"bundled enclave {p} is missing: rebuild with make -C guest"
    return p


@pytest.fixture
def fresh_host_device():  # type: ignore[no-untyped-def]
    """A fresh device behind the C-API mirror for one test, and a fresh one (with the default
    output sink) after it, so no enclave or driver id leaks between tests."""
    from pltvm import host

    dev = host.configure()
    yield dev
    host.configure()
    host.set_output(None)


@pytest.fixture
def write_elf(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``write_elf(bytes_or_segments, entry=None, symbols=None, name="t.elf", **kw) -> Path``."""
    counter = [0]

    def _write(data, entry: Optional[int] = None, symbols: Optional[dict[str, int]] = None,
               name: Optional[str] = None, **kw: int) -> Path:  # type: ignore[no-untyped-def]
        if not isinstance(data, (bytes, bytearray)):
            assert entry is not None
            data = make_elf(data, entry, symbols, **kw)
        counter[0] += 1
        p = tmp_path / (name or f"t{counter[0]}.elf")
        p.write_bytes(bytes(data))
        return p

    return _write


def interrupt_fuzz_cli(args: Sequence[str], cwd: Path) -> tuple[int, str]:
    """Start ``python -m pltvm fuzz ARGS``, send SIGINT once it reports its first ``NEW`` input,
    and return its exit status and its whole stderr."""
    import signal

    p = subprocess.Popen([sys.executable, "-m", "pltvm", "fuzz", *args], stderr=subprocess.PIPE, text=True,
                         cwd=cwd)
    assert p.stderr is not None
    lines = []
    for line in p.stderr:
        lines.append(line)
        if "NEW" in line:
            break
    p.send_signal(signal.SIGINT)
    _, rest = p.communicate(timeout=60)
    return p.returncode, "".join(lines) + rest


def run_cli(*args: str, input: Optional[bytes] = None, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m pltvm ARGS`` and capture its output (bytes)."""
    return subprocess.run(
        [sys.executable, "-m", "pltvm", *args],
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
