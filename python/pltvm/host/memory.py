"""Host shared memory (``PLenclave_shm*``), relay regions (``PLenclave_schrodinger_*``), the
arguments a run takes from them, and the persistency file."""

from __future__ import annotations

from typing import Any, Optional, Union

from .driver import NO_DEVICE, int_arg, on_device, out
from .structs import MAP_FAILED, PLenclave

# The shm and schrodinger calls are the same four driver operations on two registries; they
# differ only in the registry, the argument's name and the C library's messages.


def _get(caller: str, size: int, schrodinger: bool, failed: str) -> int:
    int_arg(caller, "size", size)
    rid = on_device(caller, lambda dev: dev.shmget(size, schrodinger))
    if rid is NO_DEVICE:
        return -1
    if rid < 0:
        out(failed)
        return -1
    return rid


def _attach(caller: str, arg: str, rid: int, schrodinger: bool, failed: str) -> Union[memoryview, int]:
    int_arg(caller, arg, rid)
    view = on_device(caller, lambda dev: dev.shmat(rid, schrodinger))
    if view is NO_DEVICE:
        return MAP_FAILED
    if view is None:
        out(failed)
        return MAP_FAILED
    return view


def _detach(caller: str, arg: str, rid: int, addr: Any, schrodinger: bool, failed: str) -> int:
    int_arg(caller, arg, rid)
    ok = on_device(caller, lambda dev: dev.shmdt(rid, schrodinger))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(failed)
        return -1
    if isinstance(addr, memoryview):  # like munmap of the C pointer
        try:
            addr.release()
        except (BufferError, ValueError):
            pass
    return 0


def _remove(caller: str, arg: str, rid: int, schrodinger: bool, failed: str) -> int:
    int_arg(caller, arg, rid)
    ok = on_device(caller, lambda dev: dev.shmctl(rid, schrodinger))
    if ok is NO_DEVICE:
        return -1
    if not ok:
        out(failed)
    return 0  # B41: 0 even when the driver refused


def PLenclave_shmget(size: int) -> int:
    """A new host shm of ``size`` bytes: a non-zero multiple of 4096 up to :data:`SHM_MAX_SIZE`
    (4 MiB); its id (>= 0x10000), or -1 with the C message for any other int. A non-int ``size``
    raises TypeError."""
    return _get("PLenclave_shmget", size, False, "PLenclave_shmget: failed to create shm\n")


def PLenclave_shmat(shmid: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach: a writable memoryview of the shm, or ``MAP_FAILED`` (-1). ``addr`` (the C mmap
    hint) is ignored, whatever its value."""
    return _attach("PLenclave_shmat", "shmid", shmid, False, f"PLenclave_shmat: failed to bind shm {shmid}\n")


def PLenclave_shmdt(shmid: int, addr: Any) -> int:
    """Detach; ``addr``, if it is the memoryview :func:`PLenclave_shmat` returned, is released
    (like munmap); any other value is accepted and ignored. 0 or -1."""
    return _detach("PLenclave_shmdt", "shmid", shmid, addr, False, f"PLenclave_shmdt: failed to unbind shm{shmid}\n")


def PLenclave_shmctl(shmid: int) -> int:
    """Destroy the shm (refused while attached, B43). Returns 0 even on failure (B41)."""
    return _remove("PLenclave_shmctl", "shmid", shmid, False, f"PLenclave_shmctl: failed to destroy shm{shmid}\n")


def PLenclave_schrodinger_get(size: int) -> int:
    """A relay region of ``size`` bytes (a non-zero multiple of 4096) from the driver's 16 MiB
    pool; its id, or -1 with the C message for any other int or when the pool is used up. A
    non-int ``size`` raises TypeError."""
    return _get("PLenclave_schrodinger_get", size, True, "PLenclave_schrodinger_get: failed to create\n")


def PLenclave_schrodinger_at(id: int, addr: Any = None) -> Union[memoryview, int]:
    """Attach (exclusive): a writable memoryview, or ``MAP_FAILED`` (-1). ``addr`` is ignored."""
    return _attach("PLenclave_schrodinger_at", "id", id, True,
                   f"PLenclave_schrodinger_at: failed to bind schrodinger mm {id}\n")


def PLenclave_schrodinger_dt(id: int, addr: Any) -> int:
    """Detach (``addr`` as for :func:`PLenclave_shmdt`). 0 or -1."""
    return _detach("PLenclave_schrodinger_dt", "id", id, addr, True,
                   f"PLenclave_schrodinger_dt: failed to unbind schrodinger mm{id}\n")


def PLenclave_schrodinger_ctl(id: int) -> int:
    """Destroy the relay region; returns 0 even on failure (B41)."""
    return _remove("PLenclave_schrodinger_ctl", "id", id, True,
                   f"PLenclave_schrodinger_ctl: failed to destroy schrodinger mm{id}\n")


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
