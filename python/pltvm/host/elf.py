"""ELF files: ``elf_args_init`` and friends, and the check the library adds (pyelftools)."""

from __future__ import annotations

import os
from typing import Optional, Union

from .driver import err
from .structs import DEFAULT_STACK_SIZE, NORMAL_ENCLAVE, elf_args, enclave_args

def elf_problem(data: bytes) -> Optional[str]:
    """Why ``data`` is not an RV64 little-endian RISC-V executable, or None."""
    import io

    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
    except ImportError:  # pragma: no cover - pyelftools is a dependency
        return None
    try:
        f = ELFFile(io.BytesIO(data))
        h = f.header
        ident = h["e_ident"]
        if ident["EI_CLASS"] != "ELFCLASS64":
            return f"{ident['EI_CLASS']}: not a 64-bit ELF file"
        if ident["EI_DATA"] != "ELFDATA2LSB":
            return f"{ident['EI_DATA']}: not a little-endian ELF file"
        if h["e_machine"] != "EM_RISCV":
            return f"{h['e_machine']}: not a RISC-V ELF file"
        if h["e_type"] != "ET_EXEC":
            return f"{h['e_type']}: not an executable"
        for seg in f.iter_segments():
            if seg["p_offset"] + seg["p_filesz"] > len(data):
                return "a program header extends past the end of the file"
        for _ in f.iter_sections():
            pass
    except ELFError as e:
        return f"not a valid ELF file ({e})"
    except Exception as e:  # malformed files make pyelftools raise anything
        return f"not a valid ELF file ({type(e).__name__}: {e})"
    return None


def elf_args_init(elf_args_: Optional[elf_args], filename: Union[str, "os.PathLike[str]", None]) -> None:
    """Open and map the ELF file. Problems print the C library's message and leave an
    invalid ``elf_args`` (see :func:`elf_valid`); the file is also checked with pyelftools
    (64-bit, little-endian, EM_RISCV, ET_EXEC)."""
    if elf_args_ is None:
        return
    elf_args_.fd, elf_args_.size, elf_args_.ptr = -1, 0, None
    try:
        if filename is None:
            raise OSError("NULL")
        fd = os.open(filename, os.O_RDONLY)
    except (OSError, TypeError, ValueError):
        err("LIB: the elf file is not existed\n")
        return
    elf_args_.fd = fd
    try:
        size = os.fstat(fd).st_size
    except OSError:
        err("LIB: fstat is failed \n")
        return
    if size == 0:
        err("LIB: the elf file'size  is zero\n")
        return
    elf_args_.size = size
    try:
        data = b""
        while len(data) < size:
            chunk = os.pread(fd, size - len(data), len(data))
            if not chunk:
                break
            data += chunk
        if len(data) != size:
            raise OSError("short read")
    except OSError:
        err("LIB: can not mmap enough memory for elf file")
        return
    problem = elf_problem(data)
    if problem is not None:
        err(f"LIB: the elf file is not a valid Penglai enclave: {problem}\n")
        return
    elf_args_.ptr = data


def elf_args_destroy(elf_args_: Optional[elf_args]) -> None:
    """Close and unmap the file."""
    if elf_args_ is None:
        return
    if elf_args_.fd >= 0:
        try:
            os.close(elf_args_.fd)
        except OSError:
            pass
    elf_args_.ptr = None


def elf_valid(elf_args_: Optional[elf_args]) -> bool:
    """``fd >= 0 && size > 0 && ptr != NULL``."""
    return elf_args_ is not None and elf_args_.fd >= 0 and elf_args_.size > 0 and elf_args_.ptr is not None


def enclave_args_init(enclave_args_: Optional[enclave_args]) -> None:
    """Defaults: NORMAL_ENCLAVE, 64 KiB stack, no shm. The name is not touched (B18)."""
    if enclave_args_ is None:
        return
    enclave_args_.type = NORMAL_ENCLAVE
    enclave_args_.stack_size = DEFAULT_STACK_SIZE
    enclave_args_.shmid = 0
    enclave_args_.shm_offset = 0
    enclave_args_.shm_size = 0
