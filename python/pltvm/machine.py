"""The public machine API: :class:`Machine`, its register views and :class:`Exit`.

A :class:`Machine` wraps the native ``pltvm._core.Machine`` and adds ELF loading (see
:mod:`pltvm.elf`), the Linux initial stack of user machines, HTIF set-up of bare machines and
friendly register/CSR views.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Optional, Sequence, Union

from . import _core
from .arguments import DEFAULT_ENGINE, MASK64, check_engine, int_arg, u64_arg
from .elf import ElfImage, check_bare_layout, check_user_layout, parse_elf
from .errors import ElfError, PltvmError

__all__ = [
    "Machine",
    "Exit",
    "Registers",
    "Csrs",
    "DEFAULT_RAM_SIZE",
    "DEFAULT_SYSTEM_RAM_SIZE",
    "MONITOR_SIZE",
    "user_auxv",
]

DEFAULT_RAM_SIZE = 128 << 20
"""RAM size of a bare machine when none is given (128 MiB)."""

DEFAULT_SYSTEM_RAM_SIZE = 256 << 20
"""RAM size of a system machine when none is given (256 MiB; unwritten RAM costs nothing)."""

MONITOR_SIZE = 2 << 20
"""The first 2 MiB of a system machine's RAM belong to the monitor (no S/U access)."""

_DEFAULT_SECURE_MEMORY = 1 << 30

MISALIGNED_MODES = ("emulate", "trap")



# Auxiliary vector keys (Linux <elf.h>).
AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 16, 17
AT_SECURE, AT_RANDOM, AT_EXECFN = 23, 25, 31

HWCAP_RV64IMAFDC = sum(1 << (ord(c) - ord("a")) for c in "imafdc")
"""AT_HWCAP of the hart: one bit per single-letter extension (I, M, A, F, D, C)."""

StrPath = Union[str, "os.PathLike[str]"]
EnvLike = Union[Mapping[str, str], Sequence[Union[str, bytes]]]


@dataclass(frozen=True)
class Exit:
    """Why a run stopped (a copy of the native ``Exit``)."""

    reason: str
    """``"exit"``, ``"budget"``, ``"fault"`` or ``"halt"``."""
    code: Optional[int]
    """Exit code, for ``"exit"``."""
    pc: int
    """Program counter when the run stopped."""
    cause: Optional[int]
    """``mcause`` of the trap, for ``"fault"``."""
    tval: Optional[int]
    """``mtval`` of the trap, for ``"fault"``."""
    instret: int
    """Instructions retired during this run."""

    @classmethod
    def from_core(cls, ex: _core.Exit) -> Exit:
        """Copy a native ``pltvm._core.Exit``."""
        return cls(ex.reason, ex.code, ex.pc, ex.cause, ex.tval, ex.instret)


class Registers:
    """The integer registers ``x0..x31`` of a machine, as a fixed-length sequence.

    Values are unsigned 64-bit ints; writes take any int and keep its low 64 bits (so negative
    values are two's complement). ``x[0]`` reads 0 and ignores writes.
    """

    __slots__ = ("_core",)

    def __init__(self, core: _core.Machine) -> None:
        self._core = core

    @staticmethod
    def _index(i: object) -> int:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"register index must be an int, not {type(i).__name__}")
        if not 0 <= i < 32:
            raise IndexError(f"register index {i} out of range 0..31")
        return i

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> int:
        i = self._index(i)
        return 0 if i == 0 else self._core.get_x(i)

    def __setitem__(self, i: int, value: int) -> None:
        i = self._index(i)
        if i:
            self._core.set_x(i, int(value) & MASK64)

    def __iter__(self) -> Iterator[int]:
        return (self[i] for i in range(32))

    def __repr__(self) -> str:
        return "Registers([" + ", ".join(hex(v) for v in self) + "])"


class Csrs:
    """The CSRs of a machine, indexed by number (``m.csr[0x300]``).

    Reads and writes act as M-mode software would (WARL rules apply on writes) but without side
    effects of the access itself. An absent CSR raises ``KeyError``.
    """

    __slots__ = ("_core",)

    def __init__(self, core: _core.Machine) -> None:
        self._core = core

    @staticmethod
    def _number(n: object) -> int:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"CSR number must be an int, not {type(n).__name__}")
        if not 0 <= n < 4096:
            raise KeyError(n)
        return n

    def __getitem__(self, number: int) -> int:
        return self._core.csr_read(self._number(number))

    def __setitem__(self, number: int, value: int) -> None:
        self._core.csr_write(self._number(number), int(value) & MASK64)

    def __contains__(self, number: object) -> bool:
        try:
            self[number]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def get(self, number: int, default: Optional[int] = None) -> Optional[int]:
        """The CSR's value, or ``default`` if the machine has no such CSR."""
        try:
            return self[number]
        except KeyError:
            return default


def user_auxv(image: ElfImage) -> list[tuple[int, int]]:
    """The auxiliary vector of a user program (without AT_NULL; AT_RANDOM and AT_EXECFN are
    placeholders whose values the machine fills in)."""
    return [
        (AT_PHDR, image.phdr_addr or 0),
        (AT_PHENT, image.phentsize),
        (AT_PHNUM, image.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, image.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_HWCAP, HWCAP_RV64IMAFDC),
        (AT_CLKTCK, 100),
        (AT_SECURE, 0),
        (AT_RANDOM, 0),
        (AT_EXECFN, 0),
    ]


def _env_bytes(env: Optional[EnvLike]) -> list[bytes]:
    if env is None:
        if os.supports_bytes_environ:
            return [k + b"=" + v for k, v in os.environb.items()]
        return [f"{k}={v}".encode() for k, v in os.environ.items()]
    if isinstance(env, Mapping):
        return [os.fsencode(f"{k}={v}") for k, v in env.items()]
    return [e if isinstance(e, bytes) else os.fsencode(e) for e in env]


class Machine:
    """One RV64 hart with its memory and devices.

    Create one with :meth:`bare` (M-mode, RAM at ``0x8000_0000``, CLINT, HTIF), :meth:`user`
    (a static RV64 Linux program in U-mode) or :meth:`system` (an S-mode kernel under the
    Penglai-TVM monitor), then :meth:`load_elf` and :meth:`run`.
    """

    def __init__(
        self,
        core: _core.Machine,
        *,
        argv: Optional[Sequence[Union[str, bytes]]] = None,
        env: Optional[EnvLike] = None,
    ) -> None:
        """Wrap a native machine; use :meth:`bare` or :meth:`user` instead."""
        self._core = core
        self._argv = None if argv is None else list(argv)
        self._env: list[bytes] = _env_bytes(env) if env is not None else []
        self._image: Optional[ElfImage] = None
        self._signature: Optional[tuple[int, int]] = None
        self._stack_set = False
        self.x = Registers(core)
        """Integer registers: ``m.x[10]``, ``m.x[10] = 5``."""
        self.csr = Csrs(core)
        """CSRs by number: ``m.csr[0x340]``."""

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def bare(
        cls, ram_size: int = DEFAULT_RAM_SIZE, misaligned: str = "emulate", *, engine: str = DEFAULT_ENGINE
    ) -> Machine:
        """A bare M-mode machine with ``ram_size`` bytes of RAM at ``0x8000_0000``.

        ``misaligned`` is ``"emulate"`` (misaligned loads/stores complete) or ``"trap"``.
        ``engine`` is ``"interp"`` (the interpreter) or ``"jit"`` (hot blocks compiled to host
        code, with the same results; see docs/jit.md).
        """
        _check_misaligned(misaligned)
        check_engine(engine)
        if isinstance(ram_size, bool) or not isinstance(ram_size, int):
            raise TypeError(f"ram_size must be an int, not {type(ram_size).__name__}")
        if ram_size <= 0:
            raise ValueError(f"ram_size must be positive, not {ram_size}")
        if ram_size > MASK64:
            raise ValueError(f"ram_size must be below 2**64, not {ram_size:#x}")
        return cls._with_engine(_core.Machine.bare(ram_size, misaligned), engine)

    @classmethod
    def system(
        cls,
        ram_size: int = DEFAULT_SYSTEM_RAM_SIZE,
        secure_memory: int = _DEFAULT_SECURE_MEMORY,
        *,
        engine: str = DEFAULT_ENGINE,
    ) -> Machine:
        """A system machine: an S-mode host kernel under the Rust Penglai-TVM monitor.

        RAM (``ram_size`` bytes) is at ``0x8000_0000``; its first 2 MiB are the monitor's (PMP
        entry 0, no S/U access). :meth:`load_elf` loads the kernel above them and the run starts
        in S-mode with ``a0`` = hart id 0 and ``a1`` = 0, as a firmware hands over. The kernel
        talks to the monitor through SBI: console, timer, system reset (the run's exit code) and
        Penglai's host extension (guarded page table, secure memory). ``secure_memory`` caps the
        bytes enclaves may hold at once. ``engine`` runs the host kernel's hart (see
        :meth:`bare`). See docs/system-mode.md.
        """
        check_engine(engine)
        for name, v in (("ram_size", ram_size), ("secure_memory", secure_memory)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        if ram_size <= MONITOR_SIZE:
            raise ValueError(
                f"ram_size must be larger than the monitor's 2 MiB ({MONITOR_SIZE:#x}), not {ram_size:#x}"
                if ram_size >= 0
                else f"ram_size must be positive, not {ram_size}"
            )
        if ram_size > 1 << 40:
            raise ValueError(f"ram_size must be at most 1 TiB, not {ram_size:#x}")
        if secure_memory < 0:
            raise ValueError(f"secure_memory must be >= 0, not {secure_memory}")
        if secure_memory > 1 << 40:
            raise ValueError(f"secure_memory must be at most 1 TiB, not {secure_memory:#x}")
        return cls._with_engine(_core.Machine.system(ram_size, secure_memory), engine)

    @classmethod
    def user(
        cls,
        argv: Optional[Sequence[Union[str, bytes]]] = None,
        env: Optional[EnvLike] = None,
        misaligned: str = "emulate",
        *,
        engine: str = DEFAULT_ENGINE,
    ) -> Machine:
        """A user machine that runs a static RV64 Linux program in U-mode.

        ``argv`` is the program's argument list, ``argv[0]`` being its name (default: the path
        given to :meth:`load_elf`). ``env`` is a mapping or a list of ``"K=V"`` strings (default:
        this process's environment, as qemu-riscv64 does). ``engine``: see :meth:`bare`.
        """
        _check_misaligned(misaligned)
        check_engine(engine)
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of strings, not a single string")
        env_list = _env_bytes(env)  # a snapshot, taken now
        m = cls(_core.Machine.user(misaligned), argv=argv, env=env_list)
        m._core.engine = engine
        return m

    @classmethod
    def _with_engine(cls, core: _core.Machine, engine: str) -> Machine:
        core.engine = engine
        return cls(core)

    @property
    def engine(self) -> str:
        """``"interp"`` or ``"jit"``: how this machine runs guest code (same results either way)."""
        return self._core.engine

    # -- loading ------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"bare"``, ``"user"`` or ``"system"``."""
        return self._core.kind

    @property
    def ram_base(self) -> int:
        """Physical address of RAM."""
        return self._core.ram_base

    @property
    def ram_size(self) -> int:
        """Size of RAM in bytes."""
        return self._core.ram_size

    @property
    def image(self) -> Optional[ElfImage]:
        """The last ELF loaded by :meth:`load_elf`, or None."""
        return self._image

    def load_elf(self, path: StrPath) -> int:
        """Load the ELF executable at ``path`` and point ``pc`` at its entry; return the entry.

        Bare machines: every segment must lie in RAM; a ``tohost`` symbol (with ``fromhost`` if
        present) sets up the HTIF; ``begin_signature``/``end_signature`` are remembered for
        :meth:`signature`. User machines: segments must avoid page 0 and the stack area; the
        initial stack (argv, environment, auxiliary vector) and the program break are set up.
        Raises :class:`pltvm.ElfError` when the file cannot be loaded.
        """
        image = parse_elf(path)
        user = self.kind == "user"
        if user:
            if self._stack_set:
                raise PltvmError("this user machine already has a program loaded")
            check_user_layout(image)
        elif self.kind == "system":
            base = self.ram_base + MONITOR_SIZE
            check_bare_layout(image, base, self.ram_size - MONITOR_SIZE)
        else:
            check_bare_layout(image, self.ram_base, self.ram_size)
        for seg in image.segments:
            try:
                self._core.load_segment(seg.vaddr, seg.data, seg.memsz)
            except ValueError as e:
                raise ElfError(
                    f"{image.path}: cannot load segment {seg.index} at {seg.vaddr:#x} "
                    f"(memsz {seg.memsz:#x}): {e}"
                ) from None
        try:
            if user:
                argv = self._argv if self._argv is not None else [image.path]
                self._core.setup_stack(
                    [os.fsencode(a) for a in argv], self._env, user_auxv(image)
                )
                self._stack_set = True
                self._core.set_brk(_page_up(image.end))
            else:
                tohost = image.symbol("tohost") if self.kind == "bare" else None
                if tohost is not None:
                    self._core.set_htif(tohost, image.symbol("fromhost"))
                begin, end = image.symbol("begin_signature"), image.symbol("end_signature")
                self._signature = None if begin is None or end is None else (begin, end)
        except ValueError as e:
            raise ElfError(f"{image.path}: cannot set up the machine for this program: {e}") from None
        self._core.pc = image.entry
        self._image = image
        return image.entry

    @property
    def signature_range(self) -> Optional[tuple[int, int]]:
        """``(begin_signature, end_signature)`` of the loaded bare ELF, or None."""
        return self._signature

    def signature(self) -> Optional[list[int]]:
        """The 32-bit little-endian words between ``begin_signature`` and ``end_signature`` of
        the loaded ELF, or None if it has no such symbols."""
        if self._signature is None:
            return None
        begin, end = self._signature
        n = max(0, end - begin) // 4
        raw = self._core.mem_read(begin, 4 * n) if n else b""
        return list(struct.unpack(f"<{n}I", raw))

    # -- state --------------------------------------------------------------------------------

    @property
    def pc(self) -> int:
        """The program counter."""
        return self._core.pc

    @pc.setter
    def pc(self, value: int) -> None:
        self._core.pc = int_arg(value, "pc") & MASK64  # any int: its low 64 bits

    @property
    def instret(self) -> int:
        """Instructions retired since the machine was created."""
        return self._core.instret

    def mem_read(self, addr: int, n: int) -> bytes:
        """Read ``n`` bytes of physical memory at ``addr``. ValueError if not all are backed."""
        if int_arg(n, "n") < 0:
            raise ValueError(f"cannot read a negative number of bytes ({n})")
        return self._core.mem_read(u64_arg(addr, "addr"), u64_arg(n, "n"))

    def mem_write(self, addr: int, data: bytes) -> None:
        """Write ``data`` to physical memory at ``addr``. ValueError if not all is backed."""
        self._core.mem_write(u64_arg(addr, "addr"), bytes(data))

    # -- running ------------------------------------------------------------------------------

    def run(self, max_instructions: Optional[int] = None) -> Exit:
        """Run until the guest exits, faults or halts, or ``max_instructions`` have retired.

        The GIL is released while the hart runs. Ctrl-C stops the run and raises
        ``KeyboardInterrupt``.
        """
        if max_instructions is not None:
            if isinstance(max_instructions, bool) or not isinstance(max_instructions, int):
                raise TypeError("max_instructions must be an int or None")
            u64_arg(max_instructions, "max_instructions")
        return Exit.from_core(self._core.run(max_instructions))

    # -- debugging --------------------------------------------------------------------------

    def gdb_serve(
        self, address: Union[str, int] = "127.0.0.1:1234", *, ready: Optional[Callable[[int], object]] = None
    ) -> tuple[str, Optional[int]]:
        """Serve one gdb remote session for this machine (``target remote HOST:PORT``).

        ``address`` is ``"HOST:PORT"``, ``":PORT"`` or a port number; the host defaults to the
        loopback interface (another one only when named). Port 0 picks a free port. ``ready``
        is called with the port once listening. The machine runs only as gdb asks, from where
        it stands (the first instruction of a freshly loaded ELF). Returns ``("exited", code)``
        when the guest exited, ``("detached", None)`` when gdb detached or went away (the
        machine stays where it stopped), ``("killed", None)`` after gdb's ``kill``. Ctrl-C
        raises KeyboardInterrupt. See docs/debugging.md.
        """
        host, port = parse_gdb_address(address)
        return _core.gdb_serve(self._core, host, port, ready)

    def __repr__(self) -> str:
        loaded = f" {self._image.path!r}" if self._image else ""
        return f"<pltvm.Machine {self.kind}{loaded} pc={self.pc:#x}>"


def parse_gdb_address(address: Union[str, int]) -> tuple[str, int]:
    """``"HOST:PORT"``, ``":PORT"``, ``"PORT"`` or an int -> (host, port); the host defaults to
    127.0.0.1. ValueError names the argument when it is not an address."""
    if isinstance(address, bool) or not isinstance(address, (str, int)):
        raise TypeError("address must be a str (HOST:PORT) or an int (a port)")
    text = str(address)
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host = ""
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text, 10)
    except ValueError:
        raise ValueError(f"address {text!r}: the port must be a number (HOST:PORT)") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"address {text!r}: the port must be in 0..65535")
    return host, port


def _check_misaligned(misaligned: str) -> None:
    if misaligned not in MISALIGNED_MODES:
        raise ValueError(f"misaligned must be 'emulate' or 'trap', not {misaligned!r}")


def _page_up(addr: int) -> int:
    return (addr + 4095) & ~4095
