"""The C library's constants and structures (``param.h``, ``penglai-enclave.h``) as Python
values and dataclasses with the C field names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

NORMAL_ENCLAVE = 0
SERVER_ENCLAVE = 1
SHADOW_ENCLAVE = 2
RETURN_USER_EXIT_ENCL = 0
RETURN_USER_RELAY_PAGE = 1
DEFAULT_STACK_SIZE = 64 * 1024
NAME_LEN = 16
HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 64
PRIVATE_KEY_SIZE = 32
PENGLAI_ENCLAVE_DEV_PATH = "/dev/penglai_enclave_dev"
MAP_FAILED = -1
"""What :func:`PLenclave_shmat` / :func:`PLenclave_schrodinger_at` return on failure."""
ENCLAVE_SUCCESS, ENCLAVE_TIMER_IRQ, ENCLAVE_OCALL, ENCLAVE_YIELD = 0, 1, 2, 3
ENCLAVE_ERROR, ENCLAVE_NO_MEM = -1, -2

PAGE_SIZE = 4096
SHM_ID_MIN, SHM_ID_END = 0x10000, 0xFFFFF
SHM_MAX_SIZE = 4 << 20
"""The largest host shm :func:`PLenclave_shmget` gives: the driver takes it from the kernel's page
allocator in one block of 2^k pages, and Linux's largest block (order MAX_ORDER - 1 = 10 with the
default MAX_ORDER) is 1024 pages."""
SCHRODINGER_POOL_PAGES = 4096
U64_END = 1 << 64
PERSISTENCY_FILE = os.environ.get("PLTVM_PERSISTENCY_FILE", "/mnt/persistencty_file")
"""Default host file behind OCALL_READ_SECT / OCALL_WRITE_SECT: the driver's path, or
``$PLTVM_PERSISTENCY_FILE``. Each device may use another (:attr:`Device.persistency_file`)."""


@dataclass
class elf_args:
    """``struct elf_args``: the ELF file, open and mapped (``ptr`` holds its bytes)."""

    fd: int = -1
    size: int = 0
    ptr: Optional[bytes] = None


@dataclass
class enclave_args:
    """``struct enclave_args``."""

    name: bytes = b""
    type: int = NORMAL_ENCLAVE
    stack_size: int = 0
    shmid: int = 0
    shm_offset: int = 0
    shm_size: int = 0


@dataclass
class penglai_enclave_user_param:
    """``struct penglai_enclave_user_param`` (the driver's ioctl argument)."""

    eid: int = 0
    name: bytes = b""
    type: int = NORMAL_ENCLAVE
    elf_ptr: Optional[bytes] = None
    elf_size: int = 0
    stack_size: int = 0
    shmid: int = 0
    isShadow: int = 0
    shm_offset: int = 0
    shm_size: int = 0
    schrodinger_id: int = 0
    rerun_reason: int = 0
    schrodinger_offset: int = 0
    schrodinger_size: int = 0
    retval: int = 0


@dataclass
class sm_report_t:
    hash: bytes = bytes(HASH_SIZE)
    signature: bytes = bytes(SIGNATURE_SIZE)
    sm_pub_key: bytes = bytes(PUBLIC_KEY_SIZE)


@dataclass
class enclave_report_t:
    hash: bytes = bytes(HASH_SIZE)
    signature: bytes = bytes(SIGNATURE_SIZE)
    nonce: int = 0


@dataclass
class report_t:
    sm: sm_report_t = field(default_factory=sm_report_t)
    enclave: enclave_report_t = field(default_factory=enclave_report_t)
    dev_pub_key: bytes = bytes(PUBLIC_KEY_SIZE)


@dataclass
class penglai_enclave_attest_param:
    eid: int = 0
    isShadow: int = 0
    nonce: int = 0
    report: report_t = field(default_factory=report_t)


@dataclass
class PLenclave:
    """``struct PLenclave``."""

    elffile: Optional[elf_args] = None
    eid: int = -1
    fd: int = -1
    user_param: penglai_enclave_user_param = field(default_factory=penglai_enclave_user_param)
    attest_param: penglai_enclave_attest_param = field(default_factory=penglai_enclave_attest_param)
