"""The emulated ``/dev/penglai_enclave_dev``: one monitor model and the driver's shm and
schrodinger registries and enclave records, opened per call as the C library opens the device."""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar, cast

from .. import _core
from .structs import PAGE_SIZE, PERSISTENCY_FILE, SCHRODINGER_POOL_PAGES, SHM_ID_END, SHM_ID_MIN, SHM_MAX_SIZE, U64_END

log = logging.getLogger("pltvm.driver")
"""Diagnostics the kernel driver would log (why a create failed, ...)."""

def err(msg: str) -> None:
    sys.stderr.write(msg)
    sys.stderr.flush()


def out(msg: str) -> None:
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


def current_output() -> Callable[[bytes], Any]:
    """The sink :func:`set_output` chose (``sys.stdout`` by default)."""
    return _output


def _page_count(size: int) -> int:
    pages = (size + PAGE_SIZE - 1) // PAGE_SIZE
    return 1 << max(pages - 1, 0).bit_length()


def int_arg(caller: str, name: str, value: Any) -> int:
    """``value`` if it is an int (C would not compile anything else); TypeError naming the
    argument otherwise. Range checks are the caller's: out-of-range values take the C failure path."""
    if not isinstance(value, int):
        raise TypeError(f"{caller}: {name} must be an int, not {type(value).__name__}")
    return value


class Region:
    """A driver shm or schrodinger region: host memory the program maps."""

    __slots__ = ("buf", "pages", "refcount")

    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)  # zero-filled (B19)
        self.pages = _page_count(size)
        self.refcount = 0


@dataclass
class Binding:
    """Where an enclave's shm / relay bytes live on the host side."""

    region: Region
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
            from ..sizes import secure_memory_from_env  # the size syntax of the CLI and pltvm.Device

            secure_memory = secure_memory_from_env()
        for name, value in (("secure_memory", secure_memory), ("seed", seed)):
            int_arg("Device", name, value)
            if not 0 <= value < U64_END:
                raise ValueError(f"Device: {name} must be in [0, 2**64), not {value}")
        self.monitor = _core.Monitor.new(secure_memory=secure_memory, rng=rng, seed=seed)
        self.lock = threading.Lock()
        self.shms: dict[int, Region] = {}
        self.schrodingers: dict[int, Region] = {}
        self.schrodinger_pages = 0
        # Driver id -> the record of the live enclave the mirror created under that id.
        self.records: dict[int, Record] = {}
        self.persistency_shm: Optional[int] = None
        self.persistency_file = PERSISTENCY_FILE
        """Host file behind OCALL_READ_SECT / OCALL_WRITE_SECT for this device (set it before
        :func:`PLenclave_fs_persistency_init`)."""

    @staticmethod
    def resolve(table: dict[int, Region], rid: int, offset: int, size: int) -> Optional[Binding]:
        """The region ``(rid, offset, size)`` if the driver accepts it (page-aligned, non-empty,
        inside the region), else None. The arguments are ints (checked by the callers)."""
        region = table.get(rid)
        if region is None or offset % PAGE_SIZE or size <= 0 or size % PAGE_SIZE:
            return None
        if offset < 0 or offset + size > len(region.buf):
            return None
        return Binding(region, offset, size)

    # Enclave records. The C API names enclaves by driver id, and the monitor hands a freed id to
    # the next enclave at once, possibly in another thread while the first one's run result is
    # still being handled. So the driver-id table only finds a record; everything else works on
    # the record itself, and a record is removed only by identity: a finished enclave's clean-up
    # can never drop (and a new enclave can never inherit) the record of the id's next owner.

    def register(self, enc: _core.Enclave, shm: Optional[Binding]) -> Record:
        rec = Record(enc, shm)
        with self.lock:
            self.records[enc.id] = rec
        return rec

    def drop(self, rec: Record) -> None:
        with self.lock:
            if self.records.get(rec.id) is rec:
                del self.records[rec.id]

    def find(self, eid: int) -> Optional[Record]:
        """The record of the live enclave with driver id ``eid``: the mirror's own, or a bare one
        for an enclave made by other means (no shm or relay bindings)."""
        with self.lock:
            rec = self.records.get(eid)
        if rec is not None:
            if rec.enc.state != "INVALID":
                return rec
            self.drop(rec)  # ended without the mirror seeing it (destroyed by other means)
        enc = self.monitor.lookup(eid) if isinstance(eid, int) and 0 <= eid < 1 << 32 else None
        return Record(enc, None) if enc is not None else None

    def _new_id(self, table: dict[int, Region]) -> Optional[int]:
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
            table[rid] = Region(size)
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



class Record:
    """The driver's record of one enclave: the monitor's handle and where its shm and relay
    pages live on the host side."""

    __slots__ = ("enc", "id", "shm", "relay")

    def __init__(self, enc: _core.Enclave, shm: Optional[Binding]) -> None:
        self.enc = enc
        self.id: int = enc.id
        self.shm = shm
        self.relay: Optional[Binding] = None


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


def open_dev() -> int:
    dev = default_device()
    try:
        fd = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return -1
    _fds[fd] = dev
    return fd


def close_dev(fd: int) -> int:
    _fds.pop(fd, None)
    try:
        os.close(fd)
    except OSError:
        return -1
    return 0


_T = TypeVar("_T")
NO_DEVICE: Any = object()


def on_device(caller: str, call: Callable[[Device], _T]) -> _T:
    """Run one driver call on a freshly opened device fd, as each C library function opens
    /dev/penglai_enclave_dev for itself. Returns ``NO_DEVICE`` (after the C message) if the
    device cannot be opened."""
    fd = open_dev()
    if fd < 0:
        out(f"{caller}: failed to open enclave dev\n")
        return cast(_T, NO_DEVICE)
    try:
        return call(_fds[fd])
    finally:
        close_dev(fd)


def device_of(fd: int) -> Optional[Device]:
    return _fds.get(fd) if isinstance(fd, int) else None
