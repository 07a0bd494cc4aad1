"""Snapshots (a pltvm extension, not part of Penglai): an enclave paused in an OCALL made a
shadow template whose forks resume from that OCALL.

Call :meth:`Enclave.snapshot <pltvm.Enclave.snapshot>` from a Python OCALL handler (the only
time an enclave waits for its host in an OCALL). The result is a :class:`SnapshotEnclave`, a
:class:`~pltvm.shadow.ShadowEnclave`: every :meth:`~SnapshotEnclave.fork` is a copy-on-write
copy of the paused enclave, born ``RUNNABLE``, that continues after the OCALL with the value
given as ``ocall_result`` in ``a0``. The source is not affected: the handler returns and it
runs on (or is destroyed; the snapshot keeps its memory)::

    import pltvm
    from pltvm.fuzz import FUZZ_INPUT_OCALL

    with pltvm.Device() as dev:
        e = dev.create("fuzz-init", shm=4096)
        snaps = []

        @e.on_ocall(FUZZ_INPUT_OCALL)          # pl_fuzz_input() after the initialisation
        def pause(enclave, a1, a2, a3):
            snaps.append(enclave.snapshot())   # forks will see a0 = 0: "an input is in the shm"
            return 1                           # the source: "no more input"

        e.run(output="capture")
        for data in (b"a", b"bc"):
            f = snaps[0].fork()
            f.shm[:8 + len(data)] = len(data).to_bytes(8, "little") + data
            f.run()                            # the initialisation does not run again

What a snapshot holds: the paused enclave's whole address space (image, stack, heap and mmap
blocks, the shm as the host sees it at the snapshot) and its registers. Its forks keep the
source's shm mapping; a fork given ``shm`` must give exactly that size. It refuses an enclave
that is not paused in a host OCALL (EnclaveError), one that holds relay pages (they are the
host's, lent to one enclave), and one that is gone (EnclaveDestroyed).

Measurement: a snapshot is not the measured enclave. Its measurement is a fresh SM3 measurement
(docs/abi.md §6.1, nonce 0) of the paused address space, so attesting the snapshot or a fork of
it, and keys a fork derives, never carry the original enclave's measurement.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from . import _core
from .arguments import int_arg, name_bytes, signed64
from .errors import EnclaveError, SecureMemoryExhausted
from .shadow import ShadowEnclave

__all__ = ["SnapshotEnclave", "snapshot"]


class SnapshotEnclave(ShadowEnclave):
    """A snapshot template (made by :meth:`Enclave.snapshot <pltvm.Enclave.snapshot>`): forks
    resume from the paused OCALL. Everything of :class:`~pltvm.shadow.ShadowEnclave` applies."""

    def __init__(self, device: Any, core: Any, output: Any, shm: Optional[bytes]) -> None:
        super().__init__(device, core, output)
        self._shm = shm

    @property
    def pc(self) -> int:
        """The pc forks resume at (after the OCALL's ``ecall``)."""
        pc = self._core.snapshot_pc
        if pc is None:
            raise self._gone_or(RuntimeError("not a live snapshot"))
        return int(pc)

    @property
    def source_id(self) -> int:
        """Driver id of the enclave the snapshot was taken of."""
        src = self._core.snapshot_source
        if src is None:
            raise self._gone_or(RuntimeError("not a live snapshot"))
        return int(src)

    @property
    def measurement(self) -> bytes:
        """The snapshot's SM3 measurement: the paused address space, measured at the snapshot
        (not the original enclave's hash); every fork reports it."""
        return super().measurement

    def fork(
        self,
        *,
        shm: Union[None, int, bytes, bytearray, memoryview] = None,
        relay: Union[None, int, bytes, bytearray, memoryview] = None,
        name: Union[str, bytes, None] = None,
        output: Any = None,
    ) -> Any:
        """A new RUNNABLE copy of the paused enclave (a :class:`~pltvm.Enclave`): its
        :meth:`~pltvm.Enclave.run` continues after the OCALL. ``shm``: its shm contents
        (default: the snapshot's; exactly the snapshot's shm size). A snapshot's forks take no
        relay region (ValueError)."""
        if relay is not None:
            raise ValueError("relay: a snapshot's forks continue from its OCALL and take no relay region")
        if shm is None and self._shm is not None:
            shm = self._shm
        return super().fork(shm=shm, name=name, output=output)


def snapshot(enclave: Any, *, ocall_result: int = 0, name: Union[str, bytes, None] = None,
             output: Any = None) -> SnapshotEnclave:
    """:meth:`Enclave.snapshot <pltvm.Enclave.snapshot>`."""
    dev = enclave.device
    if dev.closed:
        raise EnclaveError("the device is closed")
    v = int_arg(ocall_result, "ocall_result")
    if not -(1 << 63) <= v < 1 << 64:
        raise ValueError(f"ocall_result must fit in 64 bits, not {v}")
    name_b = name_bytes(name) or b""
    shm = bytes(enclave.shm) if enclave.shm is not None else None
    try:
        core = enclave._core.snapshot(name=name_b, ocall_result=signed64(v), shm=shm)
    except MemoryError as e:
        raise SecureMemoryExhausted(str(e)) from None
    except _core.LimitError as e:
        raise ValueError(str(e)) from None
    except RuntimeError as e:
        raise enclave._gone_or(e) from None
    out = enclave._output if output is None else output
    snap = SnapshotEnclave(dev, core, out, shm)
    shadows = getattr(dev, "_shadows", None)
    if shadows is None:
        shadows = {}
        dev._shadows = shadows
    shadows[snap.id] = snap
    if dev.closed:  # closed meanwhile: close() may have listed the templates before this one
        snap.destroy()
        raise EnclaveError("the device is closed")
    return snap
