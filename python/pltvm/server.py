"""Server enclaves on a :class:`pltvm.Device` (docs/ipc.md).

A server enclave is created by the host (:meth:`pltvm.Device.create_server`) under a name and
then only runs inside ``call_enclave`` from other enclaves: an enclave finds it with
``acquire_enclave(name)``, calls it with a ``call_enclave_arg_t`` (the request value and,
optionally, a memory region that belongs to the server during the call) and continues when the
server answers with ``SERVER_RETURN``. The host never runs, stops or attests a server; it sees
the calls in :attr:`pltvm.RunResult.calls` of the enclave that made them::

    with pltvm.Device() as dev:
        dev.create_server("server", name="test-server")
        r = dev.create("caller").run()
        for c in r.calls:
            print(c)   # Call(caller=1, callee=0, result=0, resp_val=2, depth=1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Union

from .errors import EnclaveDestroyed, EnclaveError
from .handle import EnclaveHandle

if TYPE_CHECKING:
    from .device import Device


class ServerError(EnclaveError):
    """Misuse of a server enclave: running, stopping or attesting it from the host (it only
    runs inside calls from other enclaves), or destroying it while it serves a call."""


class ServerNameTaken(ServerError, ValueError):
    """Another live server enclave has this name (names are unique among servers)."""


class Call(NamedTuple):
    """One ``call_enclave`` made during a run (nested calls included), in the order they ended."""

    caller: int
    """Monitor eid of the calling enclave."""
    callee: int
    """The handle it called (the server's monitor eid, or what the caller passed)."""
    result: int
    """What ``call_enclave`` returned to the caller: 0, -1 (error) or -2 (server busy)."""
    resp_val: int
    """The server's ``resp_val`` (0 unless the call returned)."""
    depth: int
    """1 for a call of the enclave the host ran, 2 for a call that callee made, ..."""


class ServerEnclave(EnclaveHandle):
    """A server enclave (made by :meth:`pltvm.Device.create_server`): ``state`` is ``RUNNABLE``
    (idle or waiting for a server it called), ``RUNNING`` (serving a call) or ``INVALID`` (gone:
    destroyed, or it faulted inside a call)."""

    __slots__ = ()

    @property
    def measurement(self) -> bytes:
        """The server's measurement (32 bytes; no print buffer page is measured). Enclaves get
        a report on it with ``get_report(name, ...)``."""
        try:
            return bytes(self._core.measurement)
        except RuntimeError:
            raise EnclaveDestroyed(f"server enclave {self._id:#x} no longer exists") from None

    def run(self, *args: Any, **kw: Any) -> Any:
        """Always raises :class:`ServerError`: a server runs only inside calls."""
        raise ServerError(f"server enclave {self.name!r} runs only inside call_enclave from another enclave")

    def stop(self) -> None:
        """Always raises :class:`ServerError` (Penglai refuses to stop a server)."""
        raise ServerError(f"server enclave {self.name!r} cannot be stopped by the host")

    def attest(self, nonce: int = 0) -> Any:
        """Always raises :class:`ServerError`: the host cannot attest a server; an enclave asks
        for a report on it with ``get_report(name, report, nonce)``."""
        raise ServerError(f"server enclave {self.name!r} cannot be attested by the host; "
                          "enclaves use get_report(name, ...)")

    def destroy(self) -> None:
        """Destroy the server. Raises :class:`ServerError` while it serves a call (destroy the
        enclave that called it, or let the call finish, first). Does nothing if it is gone."""
        if self._core.destroy() != 0 and self.alive:
            raise ServerError(f"server enclave {self.name!r} is serving a call and cannot be destroyed")
        self._device._servers.pop(self, None)

    def __enter__(self) -> ServerEnclave:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"<pltvm.ServerEnclave id={self._id:#x} name={self.name!r} state={self.state}>"


def create_server(device: Device, elf: Any, name: Union[str, bytes], stack_size: int, shm: Any) -> ServerEnclave:
    """:meth:`pltvm.Device.create_server`."""
    from . import _core
    from .arguments import MAX_STACK_SIZE, elf_type_problem, load_elf, name_bytes, region_spec
    from .errors import InvalidEnclave, SecureMemoryExhausted

    if device.closed:
        raise EnclaveError("the device is closed")
    if isinstance(name, (bytes, bytearray)) or isinstance(name, str):
        name_b = name_bytes(name)
    else:
        raise TypeError(f"name must be a str or bytes, not {type(name).__name__}")
    if not name_b or not name_b.split(b"\0", 1)[0]:
        raise ValueError("name: a server enclave needs a non-empty name (acquire_enclave finds it by name)")
    if isinstance(stack_size, bool) or not isinstance(stack_size, int):
        raise TypeError(f"stack_size must be an int, not {type(stack_size).__name__}")
    if not 0 <= stack_size <= MAX_STACK_SIZE:
        raise ValueError(f"stack_size must be between 0 and {MAX_STACK_SIZE:#x} (the driver's limit), "
                         f"not {stack_size:#x}")
    shm_spec = region_spec(shm, "shm", device.monitor)
    data, label = load_elf(elf)
    problem = elf_type_problem(data)
    if problem is not None:
        raise InvalidEnclave(f"{label}: {problem}")
    try:
        core = device.monitor.create(data, name=name_b, type=1, stack_size=stack_size,
                                     shm=None if shm_spec is None else bytes(shm_spec))
    except MemoryError as e:
        raise SecureMemoryExhausted(f"{label}: {e}") from None
    except _core.LimitError as e:
        raise ValueError(str(e)) from None
    except ValueError as e:
        if "exists already" in str(e):
            raise ServerNameTaken(str(e)) from None
        raise InvalidEnclave(f"{label}: {e}") from None
    except (RuntimeError, NotImplementedError, OverflowError) as e:
        raise EnclaveError(f"{label}: {e}") from None
    server = ServerEnclave(device, core)
    device._servers[server] = None
    if device.closed:
        device._servers.pop(server, None)
        core.destroy()
        raise EnclaveError("the device is closed")
    return server
