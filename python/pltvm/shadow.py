"""Shadow enclaves and copy-on-write fork, the Pythonic way.

A *shadow enclave* is a clean, measured template (Penglai-TVM's ``SHADOW_ENCLAVE``): the ELF
loaded with no stack, no kbuffer and no shm, measured, never run. :meth:`ShadowEnclave.fork`
makes a fresh :class:`~pltvm.device.Enclave` from it in O(1), whatever the image size: the
instance shares every frame of the template copy-on-write, gets a fresh zero 64 KiB stack, its
own print buffer, the given shm and (at its first run) relay region, its own ids, and the
template's measurement. What it observes is what Penglai's eager copy gives it::

    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        for _ in range(4):
            e = shadow.fork(shm=4096)
            e.run()                      # hello world!
            print(e.private_bytes)       # only what this instance wrote
        print(dev.stats())

Instances are independent enclaves: they never see each other's writes, the template never
changes, and destroying the template while instances live is safe.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from . import _core
from .arguments import elf_type_problem, int_arg, load_elf, name_bytes, region, region_spec, u64_arg

from .handle import EnclaveHandle
from .errors import EnclaveDestroyed, EnclaveError, InvalidEnclave, SecureMemoryExhausted

__all__ = ["ShadowEnclave", "create_shadow", "stats"]

_new_object = object.__new__


def _device_module() -> Any:
    from . import device

    return device


class ShadowEnclave(EnclaveHandle):
    """A shadow enclave (template) on a :class:`~pltvm.Device`, made by
    :meth:`Device.create_shadow <pltvm.Device.create_shadow>` or :func:`create_shadow`.

    Use it as a context manager to destroy it on exit (instances already forked stay alive).
    """

    _gone_message = "shadow enclave {id:#x} was destroyed"

    def __init__(self, device: Any, core: Any, output: Any) -> None:
        super().__init__(device, core)
        self._output = output
        # fork() is the hot path: what it needs is looked up once here.
        self._dm = _device_module()
        self._enclave_class = self._dm.Enclave
        # Default names fork<id>-1, fork<id>-2, ... (at most 16 bytes) come from the binding,
        # one counter per template shared by fork() and fork_run_destroy().
        self._next_name = core.next_fork_name

    @property
    def measurement(self) -> bytes:
        """The template's SM3 measurement (image only; every instance reports it, B36).
        Raises :class:`~pltvm.EnclaveDestroyed` once the template is destroyed."""
        try:
            return bytes(self._core.measurement)
        except RuntimeError as e:
            raise self._gone_or(e) from None

    @property
    def size(self) -> int:
        """Bytes of memory the template holds (its image, page tables and fork skeleton).
        Raises :class:`~pltvm.EnclaveDestroyed` once the template is destroyed."""
        try:
            return int(self._core.shared_bytes) + int(self._core.private_bytes)
        except RuntimeError as e:
            raise self._gone_or(e) from None

    def attest(self, nonce: int = 0) -> Any:
        """Host attestation of the template (fid 80): a verified-layout
        :class:`~pltvm.attest.Report` with ``enclave.hash = SM3(measurement ‖ nonce)``.
        Raises :class:`~pltvm.EnclaveDestroyed` once the template is destroyed."""
        from .attest import Report

        nonce = int_arg(nonce, "nonce") & 0xFFFF_FFFF_FFFF_FFFF
        try:
            return Report.from_bytes(self._core.attest(nonce))
        except RuntimeError as e:
            raise self._gone_or(e) from None

    def _name(self, name: Union[str, bytes, None]) -> bytes:
        """``name`` checked, or a default unique among this template's forks
        (``fork<template id>-<n>``, at most 16 bytes)."""
        if name is None:
            n: bytes = self._next_name()
            return n
        b = name_bytes(name)
        assert b is not None  # name is not None
        return b

    def fork(
        self,
        *,
        shm: Union[None, int, bytes, bytearray, memoryview] = None,
        relay: Union[None, int, bytes, bytearray, memoryview] = None,
        name: Union[str, bytes, None] = None,
        output: Any = None,
    ) -> Any:
        """A new FRESH instance (a :class:`~pltvm.device.Enclave`, not yet run).

        ``shm``: host shared memory of the instance (size or initial contents, whole pages);
        ``relay``: the relay region mapped at its first :meth:`~pltvm.device.Enclave.run`;
        ``name``: at most 16 bytes (default unique); ``output``: its output sink (default:
        the template's). Raises :class:`~pltvm.EnclaveDestroyed` if the template was
        destroyed.
        """
        device = self._device
        if device._closed:
            raise EnclaveError("the device is closed")
        if shm is None and relay is None and name is None:
            # The per-instance hot path: the binding names the fork, and the Enclave is made
            # without a call of its __init__ (the same three fields and output sink that
            # __init__ sets; test_fork_path compares the two objects).
            try:
                core = self._core.fork_default()
            except (ValueError, MemoryError, RuntimeError) as e:
                raise self._fork_error(e) from None
            enclave = _new_object(self._enclave_class)
            enclave._device = device
            enclave._core = core
            enclave._id = core.id
            out = self._output if output is None else output
            if out is not None:
                enclave._output = out
            device._enclaves[enclave] = None  # Device._register, inlined
            if device._closed:
                device._enclaves.pop(enclave, None)
                core.destroy()
                raise EnclaveError("the device is closed")
            return enclave
        dm = self._dm
        shm_spec = None if shm is None else region_spec(shm, "shm", device._monitor)
        relay_buf = None if relay is None else region(relay, "relay", device._monitor)
        name_b = self._next_name() if name is None else self._name(name)
        try:
            if shm_spec is None:
                core = self._core.fork(name=name_b)
            else:
                core = self._core.fork(name=name_b, shm=bytes(shm_spec))
        except (ValueError, MemoryError, RuntimeError) as e:
            raise self._fork_error(e) from None
        shm_buf = bytearray(shm_spec) if isinstance(shm_spec, int) else shm_spec
        enclave = dm.Enclave(device, core, shm_buf, self._output if output is None else output)
        if relay_buf is not None:
            enclave._relay = relay_buf
        device._enclaves[enclave] = None  # Device._register, inlined: this is the hot path
        if device._closed:
            device._enclaves.pop(enclave, None)
            core.destroy()
            raise EnclaveError("the device is closed")
        return enclave

    def fork_run_destroy(
        self,
        n: int,
        *,
        shm: Union[None, int, bytes, bytearray, memoryview] = None,
        relay: Union[None, int, bytes, bytearray, memoryview] = None,
    ) -> Tuple[int, bytes]:
        """Fork, run to the end and destroy ``n`` instances without returning to Python in
        between (the GIL is released): (how many exited normally, their collected output)."""
        n = u64_arg(n, "n")
        shm_spec = region_spec(shm, "shm", self._device._monitor)
        relay_buf = region(relay, "relay", self._device._monitor)
        try:
            k, out = self._core.fork_run_destroy(
                n, name=self._name(None), shm=None if shm_spec is None else bytes(shm_spec),
                relay=bytes(relay_buf) if relay_buf is not None else None,
            )
        except (ValueError, MemoryError, RuntimeError) as e:
            raise self._fork_error(e) from None
        return int(k), bytes(out)

    def _fork_error(self, e: Exception) -> Exception:
        """The pltvm error for a fork the binding refused: the pool cannot hold what was asked
        (SecureMemoryExhausted), a size past a limit (ValueError naming it), the template is
        gone (EnclaveDestroyed), or anything else (EnclaveError)."""
        if isinstance(e, MemoryError):
            return SecureMemoryExhausted(str(e))
        if isinstance(e, _core.LimitError):
            return ValueError(str(e))
        if not self.alive:
            return EnclaveDestroyed(f"shadow enclave {self.id:#x} was destroyed")
        return EnclaveError(str(e))

    def destroy(self) -> None:
        """Destroy the template (``destroy_shadow_enclave``); its instances keep running.
        A no-op if it is already gone."""
        self._core.destroy()
        shadows = getattr(self._device, "_shadows", None)
        if shadows is not None:
            shadows.pop(self.id, None)

    def __enter__(self) -> ShadowEnclave:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"<pltvm.ShadowEnclave id={self.id:#x} {'alive' if self.alive else 'destroyed'}>"


def create_shadow(device: Any, elf: Any, *, name: Union[str, bytes, None] = None, output: Any = None) -> ShadowEnclave:
    """Create a shadow enclave on ``device`` (a :class:`~pltvm.Device`) from ``elf`` (a path,
    ELF bytes or a bundled enclave name). Raises :class:`~pltvm.InvalidEnclave`,
    :class:`~pltvm.SecureMemoryExhausted` or :class:`~pltvm.EnclaveError`."""
    dm = _device_module()
    if not isinstance(device, dm.Device):
        raise TypeError(f"device must be a pltvm.Device, not {type(device).__name__}")
    if device._closed:
        raise EnclaveError("the device is closed")
    data, label = load_elf(elf)
    problem = elf_type_problem(data)
    if problem is not None:
        raise InvalidEnclave(f"{label}: {problem}")
    name_b = name_bytes(name) or b""
    try:
        core = device.monitor.create_shadow(data, name=name_b)
    except MemoryError as e:
        raise SecureMemoryExhausted(f"{label}: {e}") from None
    except (ValueError, OverflowError) as e:
        raise InvalidEnclave(f"{label}: {e}") from None
    except (RuntimeError, NotImplementedError) as e:
        raise EnclaveError(f"{label}: {e}") from None
    out = getattr(device, "_output", None) if output is None else output
    shadow = ShadowEnclave(device, core, out)
    shadows: Optional[Dict[int, ShadowEnclave]] = getattr(device, "_shadows", None)
    if shadows is None:
        shadows = {}
        device._shadows = shadows
    shadows[shadow.id] = shadow
    return shadow


def stats(device: Any) -> Dict[str, int]:
    """Frame accounting of ``device``: ``enclaves`` (live normal enclaves and instances),
    ``instances``, ``templates``, ``busy`` (being run now; not counted in the frame figures),
    ``frames_private`` (frames owned by one enclave alone), ``frames_shared`` (frames an
    instance shares copy-on-write, counted per instance), ``frames_template``, ``frame_size``,
    and the same in bytes: ``private_bytes``, ``shared_bytes``, ``template_bytes``."""
    s = dict(device.monitor.stats())
    fs = s["frame_size"]
    s["private_bytes"] = s["frames_private"] * fs
    s["shared_bytes"] = s["frames_shared"] * fs
    s["template_bytes"] = s["frames_template"] * fs
    return s
