"""Secure shared memory between enclaves, as the host sees it (docs/ipc.md, "Secure shared
memory").

Enclaves make, attach, detach and destroy segments themselves (``eapp_shm_get``,
``eapp_shm_attach``, ... in the guest SDK); the host program needs no code for it. It can look
at the segments a device holds with :meth:`pltvm.Device.secure_shm`::

    with pltvm.Device() as dev:
        dev.create_server("shm-server", name="shm-server")
        dev.create("shm-owner").run()
        print(dev.secure_shm())   # []: the owner destroyed its segment and detached
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, NamedTuple, Tuple

if TYPE_CHECKING:
    from .device import Device


class SecureShm(NamedTuple):
    """One secure shm segment of a device."""

    key: int
    """The key enclaves name it by."""
    size: int
    """Bytes mapped in each attached enclave (what ``SHM_STAT`` reports)."""
    users: Tuple[Tuple[int, int], ...]
    """``(monitor eid, VA)`` of each attached enclave, in attach order."""
    destroying: bool
    """``SHM_DESTROY`` marked it: nobody can attach it; it is freed with its last user."""
    block: int
    """Bytes of the secure-memory pool it holds."""


def segments(device: Device) -> List[SecureShm]:
    """The secure shm segments the enclaves of ``device`` made, ascending by key: key, mapped
    size, attached enclaves and their VAs, whether it is marked for destruction, pool bytes."""
    return [SecureShm(int(key), int(size), tuple((int(e), int(va)) for e, va in users), bool(destroying), int(block))
            for key, size, users, destroying, block in device.monitor.secure_shm()]
