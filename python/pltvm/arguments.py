"""Checks and conversions of the arguments the Pythonic API takes (sizes, ids, names, ELF
sources, shm and relay regions), shared by :mod:`pltvm.device`, :mod:`pltvm.shadow`,
:mod:`pltvm.server`, :mod:`pltvm.snapshot` and :mod:`pltvm.ray`. Every error names the
argument."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Optional, Union

from . import _core
from .errors import InvalidEnclave, SecureMemoryExhausted

__all__ = [
    "PAGE_SIZE", "MAX_STACK_SIZE", "NAME_LEN", "MONITOR_OCALLS", "ElfSource", "MASK64", "signed64",
    "pad_pages", "int_arg", "u64_arg", "region", "region_spec", "check_region", "check_ocall_id",
    "ocall_value", "load_elf", "elf_type_problem", "name_bytes", "ENGINES", "DEFAULT_ENGINE", "check_engine",
]

#: Execution engines: the interpreter alone, or hot blocks compiled to host code (docs/jit.md).
#: Both give the same results; ``jit`` is faster on long-running code.
ENGINES = ("interp", "jit")
#: The engine machines and devices use unless told otherwise: ``jit`` on the hosts the compiling
#: tier is built and tested for (x86-64 and aarch64), ``interp`` elsewhere.
DEFAULT_ENGINE = "jit" if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64") else "interp"


def check_engine(engine: object) -> None:
    """Raise TypeError/ValueError unless ``engine`` is one of :data:`ENGINES`."""
    if not isinstance(engine, str):
        raise TypeError(f"engine must be a str, not {type(engine).__name__}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'interp' or 'jit', not {engine!r}")

PAGE_SIZE = 4096
MAX_STACK_SIZE = 64 << 20
"""The driver's limit on an enclave stack."""
NAME_LEN = 16
"""Bytes in an enclave name (the driver's fixed-size field)."""
MONITOR_OCALLS = frozenset(range(1, 13))
"""OCALL ids the monitor services itself (docs/abi.md §3.4); they cannot be handled in
Python."""
ElfSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
"""A path, the ELF file's bytes, or the name of a bundled enclave (``"hello-world"``)."""
MASK64 = (1 << 64) - 1


def signed64(v: int) -> int:
    """``v`` (any int) as the signed 64-bit value of its low 64 bits."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def pad_pages(data: Union[bytes, bytearray, memoryview]) -> bytearray:
    """A copy of ``data`` zero-padded to whole pages."""
    buf = bytearray(data)
    if len(buf) % PAGE_SIZE:
        buf.extend(bytes(PAGE_SIZE - len(buf) % PAGE_SIZE))
    return buf


def int_arg(value: object, what: str) -> int:
    """``value`` if it is an int (a bool is not); else TypeError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


def u64_arg(value: object, what: str) -> int:
    """``value`` if it is an int in [0, 2**64); else TypeError / ValueError naming it."""
    v = int_arg(value, what)
    if v < 0:
        raise ValueError(f"{what} must be >= 0, not {v}")
    if v > MASK64:
        raise ValueError(f"{what} must be below 2**64, not {v:#x}")
    return v


def region(value: Union[None, int, bytes, bytearray, memoryview], what: str, monitor: Any) -> Optional[bytearray]:
    """Host memory for shm / relay: None, a size, or initial contents; whole zero-filled pages.

    The size is checked with the monitor before anything is allocated: more than the device's
    whole secure memory raises :class:`~pltvm.SecureMemoryExhausted`, a size no enclave can
    have (past the address space or the relay pool) ValueError; both name ``what``."""
    spec = region_spec(value, what, monitor)
    return bytearray(spec) if isinstance(spec, int) else spec


def region_spec(value: Union[None, int, bytes, bytearray, memoryview], what: str,
                 monitor: Any) -> Union[None, int, bytearray]:
    """:func:`region` without allocating a zero region yet: None, its size (whole pages) or
    its padded contents. ``bytes(size)`` of a size is zero memory the OS maps on first write,
    so a create that fails (a shm too large for the enclave's page tables) costs nothing."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{what} must be bytes, a size in bytes or None, not bool")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{what} size must be >= 0, not {value}")
        if value == 0:
            return None
        size = -(-value // PAGE_SIZE) * PAGE_SIZE
        check_region(monitor, what, size)
        return size
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) == 0:
            raise ValueError(f"{what} must not be empty (use None for no {what})")
        check_region(monitor, what, -(-len(value) // PAGE_SIZE) * PAGE_SIZE)
        return pad_pages(value)
    raise TypeError(f"{what} must be bytes, a size in bytes or None, not {type(value).__name__}")


def check_region(monitor: Any, what: str, size: int) -> None:
    """Refuse a shm/relay ``size`` the monitor could never give: ValueError or
    :class:`~pltvm.SecureMemoryExhausted`, naming ``what``."""
    if size > MASK64:
        raise ValueError(f"{what} of {size:#x} bytes: a size must be below 2**64")
    try:
        monitor.check_region(what, size)
    except MemoryError as e:
        raise SecureMemoryExhausted(str(e)) from None
    except _core.LimitError as e:
        raise ValueError(str(e)) from None


def check_ocall_id(ocall_id: int) -> int:
    """``ocall_id`` if Python may handle it (a u64 the monitor does not service itself)."""
    if isinstance(ocall_id, bool) or not isinstance(ocall_id, int):
        raise TypeError(f"an OCALL id must be an int, not {type(ocall_id).__name__}")
    if not 0 <= ocall_id <= MASK64:
        raise ValueError(f"an OCALL id must be a 64-bit unsigned value, not {ocall_id}")
    if ocall_id in MONITOR_OCALLS:
        raise ValueError(f"OCALL {ocall_id} is serviced by the monitor (ids 1-12) and cannot be handled in Python")
    return ocall_id


def ocall_value(ret: object, oid: int) -> int:
    """What an OCALL handler returned, as the signed ``a0`` the enclave sees (None is 0)."""
    if ret is None:
        return 0
    if isinstance(ret, bool) or not isinstance(ret, int):
        raise TypeError(f"the handler of OCALL {oid} must return an int or None, not {type(ret).__name__}")
    return signed64(ret)


def load_elf(elf: ElfSource) -> tuple[bytes, str]:
    """ELF bytes and a label for messages."""
    if isinstance(elf, (bytes, bytearray, memoryview)):
        return bytes(elf), "<bytes>"
    if isinstance(elf, (str, os.PathLike)):
        path = Path(os.fspath(elf))
        if not path.exists() and isinstance(elf, str):
            from . import enclaves

            try:
                path = enclaves.path(elf)
            except FileNotFoundError:
                raise InvalidEnclave(
                    f"{elf}: no such file or bundled enclave (bundled: {', '.join(enclaves.names()) or 'none'})"
                ) from None
        try:
            return path.read_bytes(), str(elf)
        except OSError as e:
            raise InvalidEnclave(f"{elf}: cannot read: {e.strerror or e}") from None
    raise TypeError(f"elf must be a path, bytes or a bundled enclave name, not {type(elf).__name__}")


def elf_type_problem(data: bytes) -> Optional[str]:
    """The check the monitor leaves to the host: an RV64 ELF must be an executable (ET_EXEC)."""
    if len(data) >= 64 and data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1 and data[18:20] == b"\xf3\x00":
        e_type = int.from_bytes(data[16:18], "little")
        if e_type != 2:
            kind = {1: "ET_REL", 3: "ET_DYN", 4: "ET_CORE"}.get(e_type, str(e_type))
            return f"e_type is {kind}, not an executable (ET_EXEC)"
    return None


def name_bytes(name: Union[str, bytes, None]) -> Optional[bytes]:
    """An enclave name as the driver stores it (UTF-8, at most 16 bytes, no NUL), or None."""
    if name is None:
        return None
    b = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    if len(b) > NAME_LEN:
        raise ValueError(f"an enclave name has at most {NAME_LEN} bytes, not {len(b)} ({name!r})")
    if b"\0" in b:
        raise ValueError("an enclave name cannot contain NUL bytes")
    return b
