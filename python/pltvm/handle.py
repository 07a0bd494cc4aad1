"""What every enclave object of a :class:`~pltvm.Device` shares: its device, ids, name and
state, and the error a failed call on it becomes."""

from __future__ import annotations

from typing import Any

from .errors import EnclaveDestroyed, EnclaveError

__all__ = ["EnclaveHandle"]


class EnclaveHandle:
    """Base of :class:`~pltvm.Enclave`, :class:`~pltvm.ShadowEnclave` and
    :class:`~pltvm.ServerEnclave`: a handle on one enclave of the monitor."""

    __slots__ = ("_device", "_core", "_id", "__weakref__")
    _gone_message = "enclave {id:#x} no longer exists"
    """What :class:`~pltvm.EnclaveDestroyed` says once the enclave is gone."""

    def __init__(self, device: Any, core: Any) -> None:
        self._device = device
        self._core = core
        self._id: int = int(core.id)  # never changes; read once

    @property
    def device(self) -> Any:
        """The :class:`~pltvm.Device` the enclave lives on."""
        return self._device

    @property
    def id(self) -> int:
        """The driver's id (``PLenclave.eid`` in C, e.g. ``0x1000``)."""
        return self._id

    @property
    def eid(self) -> int:
        """The monitor's enclave id: what ``get_enclave_id()`` returns inside, the handle
        ``acquire_enclave(name)`` returns for a server, the index in the monitor's table of
        templates for a shadow enclave."""
        return int(self._core.eid)

    @property
    def name(self) -> str:
        """The enclave's name (at most 16 bytes; what ``acquire_enclave`` looks for)."""
        return bytes(self._core.name).decode("utf-8", "replace")

    @property
    def state(self) -> str:
        """Monitor state: ``FRESH``, ``RUNNING``, ``RUNNABLE``, ``STOPPED``, ``OCALLING`` or
        ``INVALID`` (gone)."""
        return str(self._core.state)

    @property
    def alive(self) -> bool:
        """The enclave still exists in the monitor."""
        return self.state not in ("INVALID", "DESTROYED")

    def _gone_or(self, e: BaseException) -> EnclaveError:
        """The error for a failed binding call: :class:`~pltvm.EnclaveDestroyed` if the
        enclave is gone, else ``e`` as an :class:`~pltvm.EnclaveError`."""
        if not self.alive:
            return EnclaveDestroyed(self._gone_message.format(id=self._id))
        return EnclaveError(str(e))
