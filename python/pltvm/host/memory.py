"""Host shared memory (``PLenclave_shm*``), relay regions (``PLenclave_schrodinger_*``), the
arguments a run takes from them, and the persistency file."""

from __future__ import annotations

from typing import Any, Optional, Union

from .driver import NO_DEVICE, int_arg, on_device, out
from .structs import MAP_FAILED, PLenclave

def PLenclave_shmget(size: int) -> int:
    """A new host shm of ``size`` bytes: a non-zero multiple of 4096 up to :data:`SHM_MAX_SIZE`
    (4 MiB); its id (>= 0x10000), or -1 with the C message for any other int. A non-int ``size``
    raises TypeError."""
    int_arg("PLenclave_shmget", "size", size)
    rid = on_device("PLenclave_shmget", lambda dev: dev.shmget(size, False))
    if rid is NO_DEVICE:
        return -1
    if rid < 0:
        out("PLenclave_shmget: failed to create shm\n")
        return -1
    return rid


def PLenclave_shmat(shmid: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach: a writable memoryview of the shm, or ``MAP_FAILED`` (-1). ``addr`` (the C mmap
    hint) is ignored, whatever its value."""
    int_arg("PLenclave_shmat", "shmid", shmid)
    view = on_device("PLenclave_shmat", lambda dev: dev.shmat(shmid, False))
    if view is NO_DEVICE:
        return MAP_FAILED
    if view is None:
        out(f"PLenclave_shmat: failed to bind shm {shmid}\n")
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
    int_arg("PLenclave_shmdt", "shmid", shmid)
    ok = on_device("PLenclave_shmdt", lambda dev: dev.shmdt(shmid, False))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(f"PLenclave_shmdt: failed to unbind shm{shmid}\n")
        return -1
    _release(addr)
    return 0


def PLenclave_shmctl(shmid: int) -> int:
    """Destroy the shm (refused while attached, B43). Returns 0 even on failure (B41)."""
    int_arg("PLenclave_shmctl", "shmid", shmid)
    ok = on_device("PLenclave_shmctl", lambda dev: dev.shmctl(shmid, False))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(f"PLenclave_shmctl: failed to destroy shm{shmid}\n")
    return 0


def PLenclave_schrodinger_get(size: int) -> int:
    """A relay region of ``size`` bytes (a non-zero multiple of 4096) from the driver's 16 MiB
    pool; its id, or -1 with the C message for any other int or when the pool is used up. A
    non-int ``size`` raises TypeError."""
    int_arg("PLenclave_schrodinger_get", "size", size)
    rid = on_device("PLenclave_schrodinger_get", lambda dev: dev.shmget(size, True))
    if rid is NO_DEVICE:
        return -1
    if rid < 0:
        out("PLenclave_schrodinger_get: failed to create\n")
        return -1
    return rid


def PLenclave_schrodinger_at(id: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach (exclusive): a writable memoryview, or ``MAP_FAILED`` (-1). ``addr`` is ignored."""
    int_arg("PLenclave_schrodinger_at", "id", id)
    view = on_device("PLenclave_schrodinger_at", lambda dev: dev.shmat(id, True))
    if view is NO_DEVICE:
        return MAP_FAILED
    if view is None:
        out(f"PLenclave_schrodinger_at: failed to bind schrodinger mm {id}\n")
        return MAP_FAILED
    return view


def PLenclave_schrodinger_dt(id: int, addr: Any) -> int:
    """Detach (``addr`` as for :func:`PLenclave_shmdt`). 0 or -1."""
    int_arg("PLenclave_schrodinger_dt", "id", id)
    ok = on_device("PLenclave_schrodinger_dt", lambda dev: dev.shmdt(id, True))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(f"PLenclave_schrodinger_dt: failed to unbind schrodinger mm{id}\n")
        return -1
    _release(addr)
    return 0


def PLenclave_schrodinger_ctl(id: int) -> int:
    """Destroy the relay region; returns 0 even on failure (B41)."""
    int_arg("PLenclave_schrodinger_ctl", "id", id)
    ok = on_device("PLenclave_schrodinger_ctl", lambda dev: dev.shmctl(id, True))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(f"PLenclave_schrodinger_ctl: failed to destroy schrodinger mm{id}\n")
    return 0


def PLenclave_set_shm(PLenclave_: Optional[PLenclave], shmid: int, shm_offset: int, shm_size: int) -> int:
    """Set ``user_param``'s shm triple (used by the run of a shadow template). The values are
    checked at that run; a non-int raises TypeError here."""
    for name, value in (("shmid", shmid), ("shm_offset", shm_offset), ("shm_size", shm_size)):
        int_arg("PLenclave_set_shm", name, value)
    if PLenclave_ is None:
        return -1
    p = PLenclave_.user_param
    p.shmid, p.shm_offset, p.shm_size = shmid, shm_offset, shm_size
    return 0


def PLenclave_set_mem_arg(PLenclave_: Optional[PLenclave], id: int, offset: int, size: int) -> int:
    """Set the relay region ``(id, offset, size)`` the next start of a run maps. The values are
    checked at that run; a non-int raises TypeError here."""
    for name, value in (("id", id), ("offset", offset), ("size", size)):
        int_arg("PLenclave_set_mem_arg", name, value)
    if PLenclave_ is None:
        return -1
    p = PLenclave_.user_param
    p.schrodinger_id, p.schrodinger_offset, p.schrodinger_size = id, offset, size
    return 0


def PLenclave_set_rerun_arg(PLenclave_: Optional[PLenclave], reason: int) -> int:
    """Set ``user_param.rerun_reason`` (1: re-run after a relay-page return); never reset by the
    library, as in C."""
    int_arg("PLenclave_set_rerun_arg", "reason", reason)
    if PLenclave_ is None:
        return -1
    PLenclave_.user_param.rerun_reason = reason
    return 0


def PLenclave_fs_persistency_init(shm_id: int) -> int:
    """Bind the persistency file to this shm for OCALL_READ_SECT / OCALL_WRITE_SECT. Enclaves
    created afterwards with the same shm can use them (the transfer buffer is the shm page the
    enclave sees at 0x39_0000_0000)."""
    int_arg("PLenclave_fs_persistency_init", "shm_id", shm_id)
    dev = on_device("PLenclave_fs_persistency_init", lambda dev: dev)
    if dev is NO_DEVICE:
        return -1
    if shm_id not in dev.shms:
        out("PLenclave_fs_persistency_init failed\n")
        return -1
    try:
        with open(dev.persistency_file, "ab") as f:
            if f.tell() == 0:
                f.truncate(4 << 20)
    except OSError:
        out("PLenclave_fs_persistency_init failed\n")
        return -1
    dev.persistency_shm = shm_id
    return 0
