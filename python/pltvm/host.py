"""``pltvm.host``: Penglai-TVM's C host library (``libpenglai-enclave-host``) mirrored in Python.

A host program written against ``penglai-enclave.h`` translates line by line::

    from pltvm.host import *

    elf = elf_args()
    elf_args_init(elf, "hello-world.elf")
    if not elf_valid(elf):
        print("error when initializing enclaveFile")
    enclave = PLenclave()
    params = enclave_args()
    PLenclave_init(enclave)
    enclave_args_init(params)
    if PLenclave_create(enclave, elf, params) < 0:
        ...
    while (r := PLenclave_run(enclave)):
        ...
    PLenclave_destruct(enclave)
    elf_args_destroy(elf)

Return codes and the messages printed to stderr/stdout are the C library's (docs/abi.md
§4.5), typos included. Structures are dataclasses with the C field names. Pointers become Python
objects: ``elf_args.ptr`` holds the file's bytes, ``PLenclave_shmat`` and
``PLenclave_schrodinger_at`` return a writable :class:`memoryview` the program uses like the C
pointer (``struct.pack_into("<i", p, 0, 11111)``), or ``-1`` (``MAP_FAILED``) on failure.

The device. ``/dev/penglai_enclave_dev`` is emulated in-process: one monitor model
(``pltvm._core.Monitor``) with a configurable secure-memory pool, plus the driver's shm and
schrodinger (relay-page) registries. :func:`PLenclave_init` opens it; ``PLenclave.fd`` is a real
file descriptor of this process (on ``os.devnull``) that names the device, so closing it
(:func:`PLenclave_destruct`) makes later calls on it fail exactly as in C. Configure the device
with :func:`configure` before the first :func:`PLenclave_init` (or set ``PLTVM_SECURE_MEMORY``).

Host-shared memory. shm and schrodinger regions are host memory (``bytearray``) the program
reads and writes through the memoryview. The enclave sees the same bytes: they are copied into
the enclave's mapping every time it is entered (run, re-run) and copied back every time the run
returns to the program. While a run is in flight the two copies are not synchronised (a host
thread writing the buffer during a run is not seen by the enclave until the next entry).

Integer arguments and fields. Sizes, offsets, ids, reasons and nonces must be ints (anything else
raises TypeError naming the argument, where C would not compile). An int the driver cannot use
takes the C failure path: -1 and the C message (e.g. ``PLenclave_shmget(1 << 40)``: host shm is
at most :data:`SHM_MAX_SIZE`, relay regions come from a 16 MiB pool), or, for an shm or relay
triple the driver does not accept, an enclave that gets no shm or relay pages. No size is
allocated before it has been checked.

Threads. Any number of threads may use the API at once. The driver's bookkeeping for an enclave
(which host shm and relay region it is bound to) belongs to that enclave, not to its driver id:
ids are reused at once, and a thread finishing with an enclave never touches the bookkeeping of
the next enclave given the same id.

Enclave output (``printf`` through the kbuffer) goes to ``sys.stdout`` by default (on Penglai
it goes to the kernel console); :func:`set_output` redirects it. Driver diagnostics that the
kernel would log (why a create failed, ...) go to the ``logging`` logger ``"pltvm.driver"``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar, Union, cast

from . import _core

__all__ = [
    "NORMAL_ENCLAVE",
    "SERVER_ENCLAVE",
    "SHADOW_ENCLAVE",
    "RETURN_USER_EXIT_ENCL",
    "RETURN_USER_RELAY_PAGE",
    "DEFAULT_STACK_SIZE",
    "NAME_LEN",
    "HASH_SIZE",
    "SIGNATURE_SIZE",
    "PUBLIC_KEY_SIZE",
    "PRIVATE_KEY_SIZE",
    "PENGLAI_ENCLAVE_DEV_PATH",
    "MAP_FAILED",
    "ENCLAVE_SUCCESS",
    "ENCLAVE_TIMER_IRQ",
    "ENCLAVE_OCALL",
    "ENCLAVE_YIELD",
    "ENCLAVE_ERROR",
    "ENCLAVE_NO_MEM",
    "elf_args",
    "enclave_args",
    "penglai_enclave_user_param",
    "sm_report_t",
    "enclave_report_t",
    "report_t",
    "penglai_enclave_attest_param",
    "PLenclave",
    "elf_args_init",
    "elf_args_destroy",
    "elf_valid",
    "enclave_args_init",
    "PLenclave_init",
    "PLenclave_create",
    "PLenclave_run",
    "PLenclave_attest",
    "PLenclave_stop",
    "PLenclave_resume",
    "PLenclave_destroy",
    "PLenclave_destruct",
    "PLenclave_shmget",
    "PLenclave_shmat",
    "PLenclave_shmdt",
    "PLenclave_shmctl",
    "PLenclave_schrodinger_get",
    "PLenclave_schrodinger_at",
    "PLenclave_schrodinger_dt",
    "PLenclave_schrodinger_ctl",
    "PLenclave_set_shm",
    "PLenclave_set_mem_arg",
    "PLenclave_set_rerun_arg",
    "PLenclave_fs_persistency_init",
    "Device",
    "configure",
    "default_device",
    "set_output",
]

# ---------------------------------------------------------------------------------------------
# Constants (param.h, penglai-enclave.h).

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
"""Host file behind OCALL_READ_SECT / OCALL_WRITE_SECT (the driver's path; override with the
environment variable or by assigning this attribute before PLenclave_fs_persistency_init)."""

_log = logging.getLogger("pltvm.driver")

# ---------------------------------------------------------------------------------------------
# Structures.


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


# ---------------------------------------------------------------------------------------------
# The emulated device.


def _err(msg: str) -> None:
    sys.stderr.write(msg)
    sys.stderr.flush()


def _out(msg: str) -> None:
    sys.stdout.write(msg)
    sys.stdout.flush()


def _stdout_bytes(data: bytes) -> None:
    out = sys.stdout
    buf = getattr(out, "buffer", None)
    out.flush()
    if buf is not None:
        buf.write(data)
        buf.flush()
    else:
        out.write(data.decode("utf-8", "replace"))
        out.flush()


_output: Callable[[bytes], Any] = _stdout_bytes


def set_output(sink: Optional[Callable[[bytes], Any]]) -> None:
    """Where enclave prints go: a callable taking ``bytes``; ``None`` restores ``sys.stdout``.
    If the callable raises, the enclave is destroyed and the exception propagates from
    :func:`PLenclave_run`."""
    global _output
    _output = sink if sink is not None else _stdout_bytes


def _page_count(size: int) -> int:
    pages = (size + PAGE_SIZE - 1) // PAGE_SIZE
    return 1 << max(pages - 1, 0).bit_length()


def _int_arg(caller: str, name: str, value: Any) -> int:
    """``value`` if it is an int (C would not compile anything else); TypeError naming the
    argument otherwise. Range checks are the caller's: out-of-range values take the C failure path."""
    if not isinstance(value, int):
        raise TypeError(f"{caller}: {name} must be an int, not {type(value).__name__}")
    return value


class _Region:
    """A driver shm or schrodinger region: host memory the program maps."""

    __slots__ = ("buf", "pages", "refcount")

    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)  # zero-filled (B19)
        self.pages = _page_count(size)
        self.refcount = 0


@dataclass
class _Binding:
    """Where an enclave's shm / relay bytes live on the host side."""

    region: _Region
    offset: int
    size: int

    def get(self) -> bytes:
        return bytes(self.region.buf[self.offset : self.offset + self.size])

    def put(self, data: bytes) -> None:
        n = min(len(data), self.size)
        self.region.buf[self.offset : self.offset + n] = data[:n]


class Device:
    """The emulated ``/dev/penglai_enclave_dev``: one monitor and the driver's registries.

    ``secure_memory`` bounds what enclaves may hold (blocks, heap, mmap); ``rng`` is
    ``"seeded"`` (default: per-enclave deterministic generator), ``"penglai-lcg"`` (Penglai's
    global LCG, §6.6) or ``"os"``.
    """

    def __init__(self, secure_memory: Optional[int] = None, rng: str = "seeded", seed: int = 0) -> None:
        if secure_memory is None:
            from .sizes import secure_memory_from_env  # the size syntax of the CLI and pltvm.Device

            secure_memory = secure_memory_from_env()
        for name, value in (("secure_memory", secure_memory), ("seed", seed)):
            _int_arg("Device", name, value)
            if not 0 <= value < U64_END:
                raise ValueError(f"Device: {name} must be in [0, 2**64), not {value}")
        self.monitor = _core.Monitor.new(secure_memory=secure_memory, rng=rng, seed=seed)
        self.lock = threading.Lock()
        self.shms: dict[int, _Region] = {}
        self.schrodingers: dict[int, _Region] = {}
        self.schrodinger_pages = 0
        # Driver id -> the record of the live enclave the mirror created under that id.
        self.records: dict[int, _Record] = {}
        self.persistency_shm: Optional[int] = None

    @staticmethod
    def _resolve(table: dict[int, _Region], rid: int, offset: int, size: int) -> Optional[_Binding]:
        """The region ``(rid, offset, size)`` if the driver accepts it (page-aligned, non-empty,
        inside the region), else None. The arguments are ints (checked by the callers)."""
        region = table.get(rid)
        if region is None or offset % PAGE_SIZE or size <= 0 or size % PAGE_SIZE:
            return None
        if offset < 0 or offset + size > len(region.buf):
            return None
        return _Binding(region, offset, size)

    # Enclave records. The C API names enclaves by driver id, and the monitor hands a freed id to
    # the next enclave at once, possibly in another thread while the first one's run result is
    # still being handled. So the driver-id table only finds a record; everything else works on
    # the record itself, and a record is removed only by identity: a finished enclave's clean-up
    # can never drop (and a new enclave can never inherit) the record of the id's next owner.

    def _register(self, enc: _core.Enclave, shm: Optional[_Binding]) -> _Record:
        rec = _Record(enc, shm)
        with self.lock:
            self.records[enc.id] = rec
        return rec

    def _drop(self, rec: _Record) -> None:
        with self.lock:
            if self.records.get(rec.id) is rec:
                del self.records[rec.id]

    def _find(self, eid: int) -> Optional[_Record]:
        """The record of the live enclave with driver id ``eid``: the mirror's own, or a bare one
        for an enclave made by other means (no shm or relay bindings)."""
        with self.lock:
            rec = self.records.get(eid)
        if rec is not None:
            if rec.enc.state != "INVALID":
                return rec
            self._drop(rec)  # ended without the mirror seeing it (destroyed by other means)
        enc = self.monitor.lookup(eid) if isinstance(eid, int) and 0 <= eid < 1 << 32 else None
        return _Record(enc, None) if enc is not None else None

    def _new_id(self, table: dict[int, _Region]) -> Optional[int]:
        for i in range(SHM_ID_MIN, SHM_ID_END):
            if i not in table and i not in self.shms and i not in self.schrodingers:
                return i
        return None

    def shmget(self, size: int, schrodinger: bool) -> int:
        """A new region of ``size`` bytes: its id, or -1. Sizes the driver cannot satisfy are
        refused before any host memory is allocated."""
        if size <= 0 or size % PAGE_SIZE:
            return -1
        pages = _page_count(size)
        if pages > (SCHRODINGER_POOL_PAGES if schrodinger else SHM_MAX_SIZE // PAGE_SIZE):
            return -1
        with self.lock:
            table = self.schrodingers if schrodinger else self.shms
            if schrodinger and self.schrodinger_pages + pages > SCHRODINGER_POOL_PAGES:
                return -1
            rid = self._new_id(table)
            if rid is None:
                return -1
            table[rid] = _Region(size)
            if schrodinger:
                self.schrodinger_pages += pages
            return rid

    def shmat(self, rid: int, schrodinger: bool) -> Optional[memoryview]:
        with self.lock:
            region = (self.schrodingers if schrodinger else self.shms).get(rid)
            if region is None or (schrodinger and region.refcount >= 1):
                return None
            region.refcount += 1
            return memoryview(region.buf)

    def shmdt(self, rid: int, schrodinger: bool) -> bool:
        with self.lock:
            region = (self.schrodingers if schrodinger else self.shms).get(rid)
            if region is None or region.refcount <= 0:
                return False
            region.refcount -= 1
            return True

    def shmctl(self, rid: int, schrodinger: bool) -> bool:
        with self.lock:
            table = self.schrodingers if schrodinger else self.shms
            region = table.get(rid)
            if region is None or region.refcount > 0:  # B43: refuse while attached
                return False
            del table[rid]
            if schrodinger:
                self.schrodinger_pages -= region.pages
            if self.persistency_shm == rid:
                self.persistency_shm = None
            return True



class _Record:
    """The driver's record of one enclave: the monitor's handle and where its shm and relay
    pages live on the host side."""

    __slots__ = ("enc", "id", "shm", "relay")

    def __init__(self, enc: _core.Enclave, shm: Optional[_Binding]) -> None:
        self.enc = enc
        self.id: int = enc.id
        self.shm = shm
        self.relay: Optional[_Binding] = None


_device: Optional[Device] = None
_device_lock = threading.Lock()
_fds: dict[int, Device] = {}


def configure(secure_memory: Optional[int] = None, rng: str = "seeded", seed: int = 0) -> Device:
    """Replace the process's default device (enclaves of the previous one stay with it)."""
    global _device
    with _device_lock:
        _device = Device(secure_memory, rng, seed)
        return _device


def default_device() -> Device:
    """The process's emulated enclave device, created on first use."""
    global _device
    with _device_lock:
        if _device is None:
            _device = Device()
        return _device


def _open_dev() -> int:
    dev = default_device()
    try:
        fd = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return -1
    _fds[fd] = dev
    return fd


def _close_dev(fd: int) -> int:
    _fds.pop(fd, None)
    try:
        os.close(fd)
    except OSError:
        return -1
    return 0


_T = TypeVar("_T")
_NO_DEVICE: Any = object()


def _on_device(caller: str, call: Callable[[Device], _T]) -> _T:
    """Run one driver call on a freshly opened device fd, as each C library function opens
    /dev/penglai_enclave_dev for itself. Returns ``_NO_DEVICE`` (after the C message) if the
    device cannot be opened."""
    fd = _open_dev()
    if fd < 0:
        _out(f"{caller}: failed to open enclave dev\n")
        return cast(_T, _NO_DEVICE)
    try:
        return call(_fds[fd])
    finally:
        _close_dev(fd)


def _dev(fd: int) -> Optional[Device]:
    return _fds.get(fd) if isinstance(fd, int) else None


# ---------------------------------------------------------------------------------------------
# ELF files.


def _elf_problem(data: bytes) -> Optional[str]:
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
        _err("LIB: the elf file is not existed\n")
        return
    elf_args_.fd = fd
    try:
        size = os.fstat(fd).st_size
    except OSError:
        _err("LIB: fstat is failed \n")
        return
    if size == 0:
        _err("LIB: the elf file'size  is zero\n")
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
        _err("LIB: can not mmap enough memory for elf file")
        return
    problem = _elf_problem(data)
    if problem is not None:
        _err(f"LIB: the elf file is not a valid Penglai enclave: {problem}\n")
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


# ---------------------------------------------------------------------------------------------
# Enclave life cycle.


def PLenclave_init(PLenclave_: Optional[PLenclave]) -> int:
    """Reset the structure and open the (emulated) enclave device."""
    if PLenclave_ is None:
        return -1
    PLenclave_.elffile = None
    PLenclave_.eid = -1
    PLenclave_.user_param = penglai_enclave_user_param()
    PLenclave_.attest_param = penglai_enclave_attest_param()
    PLenclave_.fd = _open_dev()
    if PLenclave_.fd < 0:
        _err("LIB: PLenclave_init: cannot open enclave dev\n")
        return -1
    return 0


def _name16(name: Union[bytes, str, None]) -> bytes:
    if name is None:
        return b""
    if isinstance(name, str):
        name = name.encode()
    return bytes(name[:NAME_LEN]).split(b"\0", 1)[0]


def PLenclave_create(
    PLenclave_: Optional[PLenclave], u_elffile: Optional[elf_args], u_param: Optional[enclave_args]
) -> int:
    """Create an enclave from the ELF; ``user_param.eid`` (and ``eid``) become its id. The
    integer fields of ``u_elffile`` and ``u_param`` must be ints (TypeError); values the driver
    cannot use make the create fail as in C (e.g. a stack over 64 MiB, ``size`` past the end of
    ``ptr``); an shm triple the driver does not accept leaves the enclave without shm."""
    if PLenclave_ is None or PLenclave_.fd < 0:
        _err("LIB: PLenclave_create: enclave hasn't be initialized yet\n")
        return -1
    if u_elffile is None:
        _err("LIB: PLenclave_create: elffile does not exist\n")
        return -1
    _int_arg("PLenclave_create", "elf_args.size", u_elffile.size)
    if u_param is not None:
        for name in ("type", "stack_size", "shmid", "shm_offset", "shm_size"):
            _int_arg("PLenclave_create", f"enclave_args.{name}", getattr(u_param, name))
    PLenclave_.elffile = u_elffile
    p = PLenclave_.user_param
    p.elf_ptr = u_elffile.ptr
    p.elf_size = u_elffile.size
    if p.elf_ptr is None or p.elf_size <= 0:
        _err("LIB: PLencalve_create: ioctl create enclave: elf_ptr is NULL\n")
        return -1
    if u_param is None:
        _err("LIB: PLenclave_create: ioctl create enclave is failed\n")
        return -1
    p.stack_size = 0 if u_param.type == SHADOW_ENCLAVE else u_param.stack_size
    p.shmid = u_param.shmid
    p.shm_offset = u_param.shm_offset
    p.shm_size = u_param.shm_size
    p.type = u_param.type
    p.name = _name16(u_param.name)
    dev = _dev(PLenclave_.fd)
    eid = _ioctl_create(dev, p) if dev is not None else None
    if eid is None:
        _err("LIB: PLenclave_create: ioctl create enclave is failed\n")
        return -1
    p.eid = eid
    PLenclave_.eid = eid
    return 0


def _ioctl_create(dev: Device, p: penglai_enclave_user_param) -> Optional[int]:
    assert p.elf_ptr is not None
    if p.elf_size > len(p.elf_ptr):  # the driver's copy of elf_size bytes would fault
        _log.warning("create enclave failed: elf_size %#x is past the end of the ELF (%#x bytes)",
                     p.elf_size, len(p.elf_ptr))
        return None
    elf = p.elf_ptr if p.elf_size == len(p.elf_ptr) else p.elf_ptr[: p.elf_size]
    if not 0 <= p.type < 1 << 32 or not 0 <= p.stack_size < U64_END:  # the ioctl's u32 and u64
        _log.warning("create enclave failed: type %d or stack_size %d does not fit the ioctl's fields",
                     p.type, p.stack_size)
        return None
    shm = None
    if p.type in (NORMAL_ENCLAVE, SERVER_ENCLAVE):
        shm = Device._resolve(dev.shms, p.shmid, p.shm_offset, p.shm_size)
    persistency = PERSISTENCY_FILE if shm is not None and dev.persistency_shm == p.shmid else None
    try:
        enc = dev.monitor.create(
            elf,
            name=p.name,
            type=p.type,
            stack_size=p.stack_size,
            shm=shm.get() if shm is not None else None,
            persistency=persistency,
        )
    except (ValueError, MemoryError, NotImplementedError, RuntimeError, OverflowError) as e:
        _log.warning("create enclave failed: %s", e)
        return None
    for w in enc.warnings:
        _log.warning("%s", w)
    dev._register(enc, shm)
    return enc.id


def _run_result(dev: Device, p: penglai_enclave_user_param, rec: _Record, entry: str,
                relay: Optional[bytes]) -> int:
    """One run of the enclave of ``rec`` and the driver's work after it. Only ``rec`` is
    touched: by the time the run returns, an ended enclave's id may already be another's."""
    enc, shm = rec.enc, rec.shm
    try:
        r = enc.run(entry, relay=relay, shm=shm.get() if shm is not None else None, output=_output)
    except BaseException:
        if enc.state == "INVALID":  # the output sink raised: the enclave was destroyed
            dev._drop(rec)
        raise
    if shm is not None and r.shm is not None:
        shm.put(r.shm)
    if rec.relay is None and r.relay and r.reason == "relay":
        # A relay page the enclave inherited by name (no schrodinger region of the host): the
        # driver keeps region 0 in the mailbox and maps it again on the re-run.
        rec.relay = _Binding(_Region(len(r.relay[0])), 0, len(r.relay[0]))
    if rec.relay is not None and r.relay:
        rec.relay.put(r.relay[0])
    if r.reason == "exit":
        p.retval = r.retval or 0
    elif r.reason in ("destroyed", "fault", "aborted"):
        p.retval = 0  # B23: read from a freed record on Penglai
    if r.reason == "relay":
        return RETURN_USER_RELAY_PAGE
    if r.reason in ("exit", "fault", "destroyed", "aborted"):
        dev._drop(rec)
    if r.reason in ("exit", "destroyed"):
        return 0
    if r.reason == "fault":
        _log.warning(
            "enclave %#x destroyed: cause %s at pc %#x, tval %#x%s", rec.id, r.cause, r.pc or 0, r.tval or 0,
            f", ecall a7={r.syscall}" if r.syscall is not None else "",
        )
    elif r.reason == "refused":
        _log.warning("run enclave %#x refused: %s", rec.id, r.message)
    return -1


def _fork_instance(dev: Device, p: penglai_enclave_user_param, template: _core.Enclave) -> Optional[_Record]:
    """Run of a shadow template (§4.4, §5.2): fork a fresh instance with the shm named by
    ``user_param`` and its name; ``user_param.eid`` becomes the instance's id and ``isShadow`` 1."""
    shm = Device._resolve(dev.shms, p.shmid, p.shm_offset, p.shm_size)
    persistency = PERSISTENCY_FILE if shm is not None and dev.persistency_shm == p.shmid else None
    try:
        inst = template.fork(name=p.name, shm=shm.get() if shm is not None else None, persistency=persistency)
    except (ValueError, MemoryError, NotImplementedError, RuntimeError, OverflowError) as e:
        _log.warning("fork of shadow enclave %#x failed: %s", template.id, e)
        return None
    rec = dev._register(inst, shm)
    p.eid = inst.id
    p.isShadow = 1
    return rec


def PLenclave_run(PLenclave_: Optional[PLenclave]) -> int:
    """Run (or re-run after a relay-page return). 0: the enclave exited (value in
    ``user_param.retval``) or was destroyed; 1: it returned its relay page; -1: failure,
    including a faulting enclave. The integer fields of ``user_param`` must be ints (TypeError);
    a relay triple the driver does not accept runs the enclave without relay pages."""
    if PLenclave_ is not None:
        _int_arg("PLenclave_run", "eid", PLenclave_.eid)
    if PLenclave_ is None or PLenclave_.fd < 0 or PLenclave_.eid < 0:
        _err("LIB: PLenclave_run: enclave can not be run\n")
        return -1
    p = PLenclave_.user_param
    for name in ("eid", "rerun_reason", "schrodinger_id", "schrodinger_offset", "schrodinger_size",
                 "shmid", "shm_offset", "shm_size"):
        _int_arg("PLenclave_run", f"user_param.{name}", getattr(p, name))
    dev = _dev(PLenclave_.fd)
    rec = dev._find(p.eid) if dev is not None else None
    ret = -1
    if dev is not None and rec is not None:
        if p.rerun_reason > 0:
            if p.rerun_reason == RETURN_USER_RELAY_PAGE:
                ret = _run_result(dev, p, rec, "rerun_relay", rec.relay.get() if rec.relay is not None else None)
        else:
            relay = None
            if p.schrodinger_id > 0 and p.schrodinger_size != 0:
                relay = Device._resolve(dev.schrodingers, p.schrodinger_id, p.schrodinger_offset,
                                        p.schrodinger_size)
            # Size 0: the driver's magic relay argument, "map the relay regions handed to my
            # name" (asyn_enclave_call in another enclave); the run fails if there are none.
            inherit = p.schrodinger_id > 0 and p.schrodinger_size == 0
            run: Optional[_Record] = rec
            if rec.enc.type == SHADOW_ENCLAVE:
                run = _fork_instance(dev, p, rec.enc)
            if run is not None:
                run.relay = relay
                ret = _run_result(dev, p, run, "start_inherit" if inherit else "start",
                                  relay.get() if relay is not None else None)
    if ret < 0:
        _err("LIB: PLenclave_run: ioctl run enclave is failed \n")
        return -1
    return ret


def PLenclave_attest(PLenclave_: Optional[PLenclave], nonce: int) -> int:
    """Host attestation (monitor fid 98; fid 80 for a shadow template): fills ``attest_param``
    as the library does (``isShadow``, ``eid`` = ``PLenclave->eid``, ``nonce``), then
    ``attest_param.report`` with the signed ``report_t`` (``enclave.hash`` =
    ``SM3(measurement ‖ le64(nonce))``; see :mod:`pltvm.attest`). The enclave must be FRESH or
    STOPPED. With ``isShadow = 1`` the instance named by ``user_param.eid`` is attested (B22).
    ``nonce`` is an int, taken modulo 2**64 as C converts it to ``uintptr_t``."""
    _int_arg("PLenclave_attest", "nonce", nonce)
    report = None
    if PLenclave_ is not None:
        PLenclave_.attest_param.isShadow = PLenclave_.user_param.isShadow
        PLenclave_.attest_param.eid = PLenclave_.eid
        PLenclave_.attest_param.nonce = nonce
        dev = _dev(PLenclave_.fd)
        rid = PLenclave_.user_param.eid if PLenclave_.attest_param.isShadow else PLenclave_.eid
        rec = dev._find(rid) if dev is not None else None
        target = rec.enc if rec is not None else None
        if target is not None and hasattr(target, "attest"):
            try:
                report = target.attest(nonce & 0xFFFF_FFFF_FFFF_FFFF)
            except (RuntimeError, ValueError) as e:
                _log.warning("attest enclave %#x failed: %s", rid, e)
    if report is None:
        _err("LIB: ioctl attest enclave is failed ret -1 \n")
        return -1
    from .attest import Report

    PLenclave_.attest_param.report = Report.from_bytes(report).to_report_t()  # type: ignore[union-attr]
    return 0


def _lookup(PLenclave_: Optional[PLenclave]) -> tuple[Optional[Device], Optional[_Record]]:
    if PLenclave_ is None:
        return None, None
    dev = _dev(PLenclave_.fd)
    if dev is None:
        return None, None
    return dev, dev._find(PLenclave_.user_param.eid)


def PLenclave_stop(PLenclave_: Optional[PLenclave]) -> int:
    """Stop a running (or runnable) enclave; its pending PLenclave_run keeps blocking."""
    _, rec = _lookup(PLenclave_)
    if rec is None or rec.enc.stop() != 0:
        _err("LIB: ioctl stop enclave is failed \n")
        return -1
    return 0


def PLenclave_resume(PLenclave_: Optional[PLenclave]) -> int:
    """Wake a stopped enclave. On failure the driver drops its record of the enclave."""
    dev, rec = _lookup(PLenclave_)
    if dev is None or rec is None:
        _err("LIB: ioctl stop enclave is failed \n")
        return -1
    if rec.enc.resume() != 0:
        rec.enc.forget()
        dev._drop(rec)
        _err("LIB: ioctl stop enclave is failed \n")
        return -1
    return 0


def PLenclave_destroy(PLenclave_: Optional[PLenclave]) -> int:
    """Destroy the enclave; a run in flight in another thread returns 0."""
    dev, rec = _lookup(PLenclave_)
    if dev is None or rec is None or rec.enc.destroy() != 0:
        _err("LIB: ioctl stop enclave is failed \n")
        return -1
    dev._drop(rec)
    return 0


def PLenclave_destruct(PLenclave_: Optional[PLenclave]) -> int:
    """Close the device file descriptor; returns ``close()``'s result."""
    if PLenclave_ is None:
        return -1
    return _close_dev(PLenclave_.fd)


# ---------------------------------------------------------------------------------------------
# Host shared memory and relay pages.


def PLenclave_shmget(size: int) -> int:
    """A new host shm of ``size`` bytes: a non-zero multiple of 4096 up to :data:`SHM_MAX_SIZE`
    (4 MiB); its id (>= 0x10000), or -1 with the C message for any other int. A non-int ``size``
    raises TypeError."""
    _int_arg("PLenclave_shmget", "size", size)
    rid = _on_device("PLenclave_shmget", lambda dev: dev.shmget(size, False))
    if rid is _NO_DEVICE:
        return -1
    if rid < 0:
        _out("PLenclave_shmget: failed to create shm\n")
        return -1
    return rid


def PLenclave_shmat(shmid: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach: a writable memoryview of the shm, or ``MAP_FAILED`` (-1). ``addr`` (the C mmap
    hint) is ignored, whatever its value."""
    _int_arg("PLenclave_shmat", "shmid", shmid)
    view = _on_device("PLenclave_shmat", lambda dev: dev.shmat(shmid, False))
    if view is _NO_DEVICE:
        return MAP_FAILED
    if view is None:
        _out(f"PLenclave_shmat: failed to bind shm {shmid}\n")
        return MAP_FAILED
    return view


def _release(addr: Any) -> None:
    if isinstance(addr, memoryview):
        try:
            addr.release()
        except (BufferError, ValueError):
            pass


def PLenclave_shmdt(shmid: int, addr: Any) -> int:
    """Detach; ``addr``, if it is the memoryview :func:`PLenclave_shmat` returned, is released
    (like munmap); any other value is accepted and ignored. 0 or -1."""
    _int_arg("PLenclave_shmdt", "shmid", shmid)
    ok = _on_device("PLenclave_shmdt", lambda dev: dev.shmdt(shmid, False))
    if ok is _NO_DEVICE:
        return -1
    if not ok:
        _out(f"PLenclave_shmdt: failed to unbind shm{shmid}\n")
        return -1
    _release(addr)
    return 0


def PLenclave_shmctl(shmid: int) -> int:
    """Destroy the shm (refused while attached, B43). Returns 0 even on failure (B41)."""
    _int_arg("PLenclave_shmctl", "shmid", shmid)
    ok = _on_device("PLenclave_shmctl", lambda dev: dev.shmctl(shmid, False))
    if ok is _NO_DEVICE:
        return -1
    if not ok:
        _out(f"PLenclave_shmctl: failed to destroy shm{shmid}\n")
    return 0


def PLenclave_schrodinger_get(size: int) -> int:
    """A relay region of ``size`` bytes (a non-zero multiple of 4096) from the driver's 16 MiB
    pool; its id, or -1 with the C message for any other int or when the pool is used up. A
    non-int ``size`` raises TypeError."""
    _int_arg("PLenclave_schrodinger_get", "size", size)
    rid = _on_device("PLenclave_schrodinger_get", lambda dev: dev.shmget(size, True))
    if rid is _NO_DEVICE:
        return -1
    if rid < 0:
        _out("PLenclave_schrodinger_get: failed to create\n")
        return -1
    return rid


def PLenclave_schrodinger_at(id: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach (exclusive): a writable memoryview, or ``MAP_FAILED`` (-1). ``addr`` is ignored."""
    _int_arg("PLenclave_schrodinger_at", "id", id)
    view = _on_device("PLenclave_schrodinger_at", lambda dev: dev.shmat(id, True))
    if view is _NO_DEVICE:
        return MAP_FAILED
    if view is None:
        _out(f"PLenclave_schrodinger_at: failed to bind schrodinger mm {id}\n")
        return MAP_FAILED
    return view


def PLenclave_schrodinger_dt(id: int, addr: Any) -> int:
    """Detach (``addr`` as for :func:`PLenclave_shmdt`). 0 or -1."""
    _int_arg("PLenclave_schrodinger_dt", "id", id)
    ok = _on_device("PLenclave_schrodinger_dt", lambda dev: dev.shmdt(id, True))
    if ok is _NO_DEVICE:
        return -1
    if not ok:
        _out(f"PLenclave_schrodinger_dt: failed to unbind schrodinger mm{id}\n")
        return -1
    _release(addr)
    return 0


def PLenclave_schrodinger_ctl(id: int) -> int:
    """Destroy the relay region; returns 0 even on failure (B41)."""
    _int_arg("PLenclave_schrodinger_ctl", "id", id)
    ok = _on_device("PLenclave_schrodinger_ctl", lambda dev: dev.shmctl(id, True))
    if ok is _NO_DEVICE:
        return -1
    if not ok:
        _out(f"PLenclave_schrodinger_ctl: failed to destroy schrodinger mm{id}\n")
    return 0


def PLenclave_set_shm(PLenclave_: Optional[PLenclave], shmid: int, shm_offset: int, shm_size: int) -> int:
    """Set ``user_param``'s shm triple (used by the run of a shadow template). The values are
    checked at that run; a non-int raises TypeError here."""
    for name, value in (("shmid", shmid), ("shm_offset", shm_offset), ("shm_size", shm_size)):
        _int_arg("PLenclave_set_shm", name, value)
    if PLenclave_ is None:
        return -1
    p = PLenclave_.user_param
    p.shmid, p.shm_offset, p.shm_size = shmid, shm_offset, shm_size
    return 0


def PLenclave_set_mem_arg(PLenclave_: Optional[PLenclave], id: int, offset: int, size: int) -> int:
    """Set the relay region ``(id, offset, size)`` the next start of a run maps. The values are
    checked at that run; a non-int raises TypeError here."""
    for name, value in (("id", id), ("offset", offset), ("size", size)):
        _int_arg("PLenclave_set_mem_arg", name, value)
    if PLenclave_ is None:
        return -1
    p = PLenclave_.user_param
    p.schrodinger_id, p.schrodinger_offset, p.schrodinger_size = id, offset, size
    return 0


def PLenclave_set_rerun_arg(PLenclave_: Optional[PLenclave], reason: int) -> int:
    """Set ``user_param.rerun_reason`` (1: re-run after a relay-page return); never reset by the
    library, as in C."""
    _int_arg("PLenclave_set_rerun_arg", "reason", reason)
    if PLenclave_ is None:
        return -1
    PLenclave_.user_param.rerun_reason = reason
    return 0


def PLenclave_fs_persistency_init(shm_id: int) -> int:
    """Bind the persistency file to this shm for OCALL_READ_SECT / OCALL_WRITE_SECT. Enclaves
    created afterwards with the same shm can use them (the transfer buffer is the shm page the
    enclave sees at 0x39_0000_0000)."""
    _int_arg("PLenclave_fs_persistency_init", "shm_id", shm_id)
    dev = _on_device("PLenclave_fs_persistency_init", lambda dev: dev)
    if dev is _NO_DEVICE:
        return -1
    if shm_id not in dev.shms:
        _out("PLenclave_fs_persistency_init failed\n")
        return -1
    try:
        with open(PERSISTENCY_FILE, "ab") as f:
            if f.tell() == 0:
                f.truncate(4 << 20)
    except OSError:
        _out("PLenclave_fs_persistency_init failed\n")
        return -1
    dev.persistency_shm = shm_id
    return 0
