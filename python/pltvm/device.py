"""``pltvm.Device``: the Pythonic host API for Penglai-TVM enclaves.

The same monitor model as the C-API mirror (:mod:`pltvm.host`), without return codes,
structures or ids to pass around::

    import pltvm

    with pltvm.Device() as dev:
        with dev.create("hello-world", shm=4096) as enclave:
            result = enclave.run()          # prints "hello world!" to sys.stdout
            assert result.exited and result.value == 0

* :class:`Device` is one emulated enclave device: a monitor with its own secure-memory pool,
  enclave table and run counter. Leaving its ``with`` block (or :meth:`Device.close`) destroys
  every enclave it still holds.
* :meth:`Device.create` loads an enclave from a path, ELF bytes or the name of a bundled enclave
  (``pltvm enclaves``). Bad input raises :class:`~pltvm.InvalidEnclave`, a full pool
  :class:`~pltvm.SecureMemoryExhausted`.
* :meth:`Enclave.run` returns a frozen :class:`RunResult`: the exit value, a relay-page return
  (re-run with :meth:`Enclave.resume_relay` or :meth:`Enclave.run`), or a fault, which also
  raises :class:`~pltvm.EnclaveFault` unless ``check=False``.
* Host shm (``create(shm=...)``) and the relay region (``run(relay=...)``) are ``bytearray``
  objects (:attr:`Enclave.shm`, :attr:`Enclave.relay`) the program reads and writes; they are
  copied into the enclave whenever it is entered and copied back whenever a run returns (the
  binding's synchronisation at run boundaries, docs/compatibility.md).
* Enclave output goes to ``sys.stdout`` as it is at the time of the print (so redirections and
  pytest's ``capsys`` see it), or to a callable, a ``bytearray``, a file object, or is captured
  into :attr:`RunResult.output` (``output="capture"``).
* OCALL ids the monitor does not know can be handled in Python (``@device.ocall(100)`` or
  :meth:`Enclave.on_ocall`): the handler gets the enclave and ``a1, a2, a3`` and returns the
  value the enclave sees in ``a0``. If a handler (or an output callable) raises, the enclave is
  destroyed and the exception propagates from the run.
* :meth:`Enclave.stop`, :meth:`Enclave.resume` and :meth:`Enclave.destroy` may be called from any
  thread while another thread is inside :meth:`Enclave.run`; runs release the GIL, so enclaves in
  different threads execute in parallel.
"""

from __future__ import annotations

import itertools
import threading
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar, Union

from . import _core
from .arguments import (DEFAULT_ENGINE, MASK64, MAX_STACK_SIZE, MONITOR_OCALLS, PAGE_SIZE, ElfSource, check_engine,
                        check_ocall_id, elf_type_problem, int_arg, load_elf, name_bytes, ocall_value, pad_pages, region,
                        region_spec, signed64, u64_arg)
from .attest import Report
from .errors import EnclaveDestroyed, EnclaveError, EnclaveFault, InvalidEnclave, SecureMemoryExhausted
from .handle import EnclaveHandle
from .results import GONE, Capture, Fault, OutputSink, RunResult, make_result, new_result, set_calls
from .sizes import parse_size, secure_memory_from_env

__all__ = [
    "Device",
    "Enclave",
    "RunResult",
    "Fault",
    "OcallHandler",
    "OutputSink",
    "ElfSource",
    "DEFAULT_STACK_SIZE",
    "DEFAULT_SECURE_MEMORY",
    "PAGE_SIZE",
    "MONITOR_OCALLS",
]

DEFAULT_STACK_SIZE = 0x10000
"""The C library's default (``enclave_args_init``): 64 KiB."""
DEFAULT_SECURE_MEMORY = 1 << 30

OcallHandler = Callable[["Enclave", int, int, int], Optional[int]]
"""``handler(enclave, a1, a2, a3) -> a0`` (``None`` means 0; negative values are allowed)."""

_F = TypeVar("_F", bound=Callable[..., Any])
_get_ident = threading.get_ident
_UNSET: Any = object()
# Enclave.run's hot path recognises output="capture" by identity (the literal is interned);
# an equal string that is another object takes the general path, with the same result.
_CAPTURE = "capture"


class Enclave(EnclaveHandle):
    """A normal Penglai enclave on a :class:`Device` (made by :meth:`Device.create`).

    Use it as a context manager to destroy it on exit. After it exits, faults or is destroyed,
    :meth:`run` raises :class:`~pltvm.EnclaveDestroyed`; :meth:`destroy` is then a no-op.
    """

    # Per-instance state that starts out the same for every enclave lives here as class
    # defaults (an assignment makes it the instance's own): fork instances are made in a few
    # microseconds and every attribute set in __init__ shows in that figure.
    _relay: Optional[bytearray] = None
    _relay_pending = False
    _runner: Optional[int] = None
    _ocall_ids: tuple[int, ...] = ()
    """The OCALL ids last passed to the binding (``set_user_ocalls``)."""
    _handlers: Mapping[int, OcallHandler] = MappingProxyType({})
    """This enclave's OCALL handlers: a dict of its own from the first :meth:`on_ocall`."""
    _shm: Optional[bytearray] = None
    _output: OutputSink = None

    def __init__(self, device: Device, core: Any, shm: Optional[bytearray], output: OutputSink) -> None:
        # EnclaveHandle.__init__ inlined: a fork makes one of these in a few microseconds.
        self._device = device
        self._core = core
        self._id = core.id
        if shm is not None:
            self._shm = shm
        if output is not None:
            self._output = output

    @property
    def shm(self) -> Optional[bytearray]:
        """Host shm (mapped at ``0x39_0000_0000`` in the enclave), or None. Write it between
        runs; the enclave's writes appear here when a run returns."""
        return self._shm

    @property
    def relay(self) -> Optional[bytearray]:
        """The relay region given to :meth:`run` (mapped at ``0x38_0000_0000``), or None.
        Updated when a run returns; modify it before :meth:`resume_relay`."""
        return self._relay

    @property
    def measurement(self) -> bytes:
        """The enclave's measurement (32 bytes)."""
        try:
            return bytes(self._core.measurement)
        except RuntimeError as e:
            raise self._gone_or(e) from None

    @property
    def private_bytes(self) -> int:
        """Bytes of memory this enclave owns alone; for a fork instance, the frames it wrote
        (copy-on-write) plus its shm/relay (see :mod:`pltvm.shadow`)."""
        try:
            return int(self._core.private_bytes)
        except RuntimeError as e:
            raise self._gone_or(e) from None

    @property
    def warnings(self) -> List[str]:
        """Loader warnings (a page mapped twice, ...)."""
        try:
            return list(self._core.warnings)
        except RuntimeError as e:
            raise self._gone_or(e) from None

    def attest(self, nonce: int = 0) -> Report:
        """Host attestation (``PLenclave_attest``): a signed :class:`pltvm.attest.Report` whose
        ``enclave_hash`` is ``SM3(measurement ‖ le64(nonce))``. Possible before the first run
        and while stopped (Penglai's rule); raises :class:`~pltvm.EnclaveError` otherwise.
        Check it with :func:`pltvm.attest.verify`."""
        nonce = int_arg(nonce, "nonce") & MASK64
        try:
            return Report.from_bytes(self._core.attest(nonce))
        except RuntimeError as e:
            raise self._gone_or(e) from None

    def snapshot(self, *, ocall_result: int = 0, name: Union[str, bytes, None] = None,
                 output: OutputSink = None) -> Any:
        """A shadow template of this enclave paused in an OCALL (call it from an OCALL handler):
        a :class:`pltvm.snapshot.SnapshotEnclave` whose forks continue after the OCALL with
        ``a0 = ocall_result`` (a pltvm extension; the fuzzer's deferred snapshot). This enclave
        is not affected. Its measurement is a fresh one of the paused memory, never this
        enclave's. Raises :class:`~pltvm.EnclaveError` if the enclave is not paused in an OCALL
        or holds relay pages, :class:`~pltvm.EnclaveDestroyed` if it is gone,
        :class:`~pltvm.SecureMemoryExhausted` if the pool cannot hold the copy's blocks.
        See :mod:`pltvm.snapshot`."""
        from .snapshot import snapshot

        return snapshot(self, ocall_result=ocall_result, name=name, output=output)

    def read(self, va: int, n: int) -> bytes:
        """``n`` bytes of enclave virtual memory at ``va`` (not while the enclave runs; e.g. in
        an OCALL handler). Raises :class:`~pltvm.EnclaveError` if a page is not mapped."""
        va, n = u64_arg(va, "va"), u64_arg(n, "n")
        try:
            return bytes(self._core.read(va, n))
        except RuntimeError as e:
            raise self._gone_or(e) from None
        except ValueError as e:
            raise EnclaveError(f"enclave memory: {e}") from None

    def write(self, va: int, data: Union[bytes, bytearray, memoryview]) -> None:
        """Write enclave virtual memory (same rules as :meth:`read`)."""
        va = u64_arg(va, "va")
        try:
            self._core.write(va, bytes(data))
        except RuntimeError as e:
            raise self._gone_or(e) from None
        except ValueError as e:
            raise EnclaveError(f"enclave memory: {e}") from None

    # --- OCALL handlers ----------------------------------------------------------------------

    def on_ocall(self, ocall_id: int, handler: Optional[OcallHandler] = None) -> Any:
        """Handle OCALL ``ocall_id`` of this enclave in Python (overrides a device handler).

        ``handler(enclave, a1, a2, a3)`` returns the enclave's ``a0`` (None → 0). Usable as a
        decorator: ``@enclave.on_ocall(100)``. Ids the monitor services (1–12) are refused.
        """
        oid = check_ocall_id(ocall_id)
        if handler is None:

            def decorate(func: _F) -> _F:
                self._own_handlers()[oid] = func
                return func

            return decorate
        self._own_handlers()[oid] = handler
        return handler

    def _own_handlers(self) -> Dict[int, OcallHandler]:
        h = self.__dict__.get("_handlers")
        if h is None:
            h = self._handlers = {}
        return h

    def _handler(self, oid: int) -> Optional[OcallHandler]:
        h = self._handlers.get(oid)
        return h if h is not None else self._device._handlers.get(oid)

    def _sync_ocalls(self) -> None:
        """Tell the binding which OCALL ids Python handles, when that set changed."""
        ids = tuple(sorted(set(self._handlers) | set(self._device._handlers)))
        if ids != self._ocall_ids:
            self._core.set_user_ocalls(list(ids))
            self._ocall_ids = ids

    # --- running -----------------------------------------------------------------------------

    def run(
        self,
        relay: Union[None, bytes, bytearray, memoryview] = None,
        *,
        output: OutputSink = _UNSET,
        max_instructions: Optional[int] = None,
        check: bool = True,
    ) -> RunResult:
        """Run the enclave until it exits, returns its relay page, yields or faults.

        * First run: ``relay`` (bytes, padded to whole pages) becomes the relay region the
          enclave sees at ``0x38_0000_0000`` (``PLenclave_set_mem_arg``).
        * After a relay return: the same as :meth:`resume_relay` (``relay`` replaces the
          region's contents).
        * After a ``"budget"`` result (or a Ctrl-C): continues where the enclave stopped.
        * After a ``"yield"`` result (the enclave called ``EAPP_YIELD``): continues after the
          call, with ``a0`` unchanged.

        ``output`` overrides the enclave's output sink for this run; ``max_instructions``
        bounds this call (reason ``"budget"``). A fault raises :class:`~pltvm.EnclaveFault`
        (``check=False`` returns the result instead). Raises :class:`~pltvm.EnclaveDestroyed`
        if the enclave is gone, :class:`~pltvm.EnclaveError` if it cannot run now (another
        thread is running it). Running a stopped enclave blocks until :meth:`resume`.
        """
        if ((output is _CAPTURE or (output is _UNSET and self._output is _CAPTURE)) and relay is None
                and max_instructions is None and self._shm is None
                and self._relay is None and not self._relay_pending and not self._handlers and not self._ocall_ids
                and not self._device._handlers):
            # The per-instance hot path (e.g. a fresh fork run with output="capture"): one
            # binding call that starts the enclave and, when it exits plainly, hands back
            # (value, output, instret) to build the result from.
            try:
                r = self._core.run_capture()
            except BaseException:
                if not self.alive:
                    self._device._forget(self)
                raise
            if type(r) is tuple:
                self._device._enclaves.pop(self, None)  # Device._forget, inlined
                return new_result("exit", r[0], r[1], r[2])
            if r.reason != "refused":
                return self._run("start", output, None, check, r)
            # Refused (not FRESH, gone or busy): nothing ran; the general path says why.
        if self._relay_pending:
            return self.resume_relay(relay, output=output, max_instructions=max_instructions, check=check)
        state = self._core.state
        if state == "FRESH":
            if relay is not None:
                buf = region(relay, "relay", self._device._monitor)
                if buf is not None:
                    self._relay = buf
            return self._run("start", output, max_instructions, check)
        if relay is not None:
            raise EnclaveError(f"a relay region can only be given to the first run or after a relay "
                               f"return (the enclave is {state})")
        if state in ("RUNNABLE", "STOPPED"):
            return self._run("continue", output, max_instructions, check)
        if state in ("INVALID", "DESTROYED"):
            raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists (it exited, faulted or was destroyed)")
        raise EnclaveError(f"enclave {self.id:#x} cannot be run now: it is {state}")

    def debug(
        self, address: Union[str, int] = "127.0.0.1:1234", *, ready: Optional[Callable[[int], object]] = None
    ) -> tuple[str, Optional[int]]:
        """Serve one gdb remote session for this enclave (``target remote HOST:PORT``).

        gdb sees the enclave's hart in U-mode and its own virtual address space, so the
        enclave ELF's symbols work as they are (``gdb-multiarch enclave.elf``). The enclave
        runs only as gdb asks: from its first instruction if it never ran, else from where it
        stopped. The monitor's OCALLs (prints, mmap, sbrk, ...) are served as in :meth:`run`
        (output goes to the process's stdout); host OCALL ids go to the handlers of
        :meth:`on_ocall` / :meth:`Device.ocall`. ``address`` and ``ready`` are as for
        :meth:`pltvm.Machine.gdb_serve`. Returns ``("exited", value)`` (gdb was told the exit
        status), ``("fault", None)`` (the enclave faulted; it is destroyed),
        ``("detached", None)`` or ``("killed", None)``. No reverse execution for enclaves.
        See docs/debugging.md.
        """
        from .machine import parse_gdb_address

        host, port = parse_gdb_address(address)
        state = self.state
        if state == "FRESH":
            entry = "start"
        elif state in ("RUNNABLE", "STOPPED"):
            entry = "continue"
        elif state == "RUNNING":
            raise EnclaveError(f"enclave {self.id:#x} is running in another thread")
        elif not self.alive:
            raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists")
        else:
            raise EnclaveError(f"enclave {self.id:#x} is {state} and cannot be debugged now")
        try:
            self._sync_ocalls()
        except RuntimeError as e:
            raise self._gone_or(e) from None

        def ocall(oid: int, a1: int, a2: int, a3: int) -> int:
            handler = self._handler(oid)
            if handler is None:
                return -1
            return ocall_value(handler(self, a1, a2, a3), oid)

        try:
            outcome, code = _core.gdb_serve_enclave(self._core, host, port, entry, ready, ocall)
        except RuntimeError as e:  # running in another thread, or gone
            raise self._gone_or(e) from None
        if outcome in ("exited", "fault") or not self.alive:
            self._device._forget(self)
        return outcome, code

    def resume_relay(
        self,
        relay: Union[None, bytes, bytearray, memoryview] = None,
        *,
        output: OutputSink = _UNSET,
        max_instructions: Optional[int] = None,
        check: bool = True,
    ) -> RunResult:
        """Continue after a relay-page return (``PLenclave_set_rerun_arg(e,
        RETURN_USER_RELAY_PAGE)`` + ``PLenclave_run``): the relay region, with the contents of
        :attr:`relay` (or ``relay`` if given), is mapped again and the enclave continues with
        ``a0 = 0``."""
        if not self._relay_pending:
            if not self.alive:
                raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists")
            raise EnclaveError(f"enclave {self.id:#x} has not returned its relay page")
        if relay is not None:
            buf = region(relay, "relay", self._device._monitor)
            assert buf is not None
            self._relay = buf
        return self._run("rerun_relay", output, max_instructions, check)

    def _run(self, entry: str, output: OutputSink, budget: Optional[int], check: bool, given: Any = None) -> RunResult:
        """The run loop (OCALL round trips included). ``given``: the binding's result of a run
        already made with ``entry`` (the hot path in :meth:`run`), handled as if made here."""
        if budget is not None:
            u64_arg(budget, "max_instructions")
        cap = Capture(self._output if output is _UNSET else output)
        core = self._core
        device = self._device
        total = 0
        ocalls = 0
        result = 0
        calls: List[Any] = []
        first = True
        send_shm = True
        while True:
            if self._handlers or device._handlers or self._ocall_ids:
                try:
                    self._sync_ocalls()
                except RuntimeError as e:
                    raise self._gone_or(e) from None
            relay = bytes(self._relay) if (self._relay is not None and entry in ("start", "rerun_relay")) else None
            left = None if budget is None else max(budget - total, 0)
            self._runner = _get_ident()
            try:
                shm = bytes(self._shm) if self._shm is not None and send_shm else None
                if given is not None:
                    r, given = given, None
                elif relay is None and shm is None and left is None and result == 0:
                    # Fewer keywords for the binding to match.
                    r = core.run(entry, capture=True) if cap.native else core.run(entry, output=cap.sink)
                else:
                    r = core.run(entry, relay=relay, shm=shm, budget=left, output=cap.sink, ocall_result=result,
                                 capture=cap.native)
            except BaseException:
                # An output callable raised (the binding destroyed the enclave) or Ctrl-C (the
                # enclave is RUNNABLE and can be run again).
                if not self.alive:
                    self._relay_pending = False
                    device._forget(self)
                raise
            finally:
                self._runner = None
            # The binding's fields are built on each access (r.relay is a new list): read once.
            if cap.native:
                cap.add(r.output)
            total += r.instret
            made = r.calls
            if made:
                calls += made
            shm_out = r.shm
            if shm_out is not None and self._shm is not None:
                self._shm[:] = shm_out
            relays = r.relay
            if relays and self._relay is not None:
                self._relay[:] = pad_pages(relays[0])
            reason = r.reason
            if reason == "refused":
                if not self.alive:
                    self._relay_pending = False
                    device._forget(self)
                    if not first:  # destroyed while a Python OCALL handler ran
                        return make_result(cap, "destroyed", total, ocalls)
                    raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists")
                raise EnclaveError(f"enclave {self.id:#x} cannot run: {r.message}")
            first = False
            if reason == "ocall":
                oid = int(r.ocall_id)
                handler = self._handler(oid)
                ocalls += 1
                if handler is None:  # unregistered meanwhile
                    result = -1
                    send_shm = False
                else:
                    a1, a2, a3 = r.ocall_args
                    before = bytes(self._shm) if self._shm is not None else None
                    try:
                        result = ocall_value(handler(self, int(a1), int(a2), int(a3)), oid)
                    except BaseException:
                        core.destroy()
                        self._relay_pending = False
                        device._forget(self)
                        raise
                    # The handler may have written the shm through Enclave.shm (copy it in) or
                    # through Enclave.write (keep the enclave's copy).
                    send_shm = self._shm is not None and bytes(self._shm) != before
                entry = "ocall_return"
                continue
            break

        if reason == "relay":
            self._relay_pending = True
        elif self._relay_pending:
            self._relay_pending = False
        if reason in GONE:
            device._enclaves.pop(self, None)  # Device._forget, inlined
        relay_out = relays[0] if relays else None
        if reason == "exit":
            res = make_result(cap, "exit", total, ocalls, signed64(r.retval), relay_out, shm_out)
            if calls:
                set_calls(res, calls)
            return res
        if reason == "fault":
            fault = Fault(int(r.cause), int(r.pc), int(r.tval), None if r.syscall is None else int(r.syscall))
            res = make_result(cap, "fault", total, ocalls, None, relay_out, shm_out, fault)
            if calls:
                set_calls(res, calls)
            if check:
                raise EnclaveFault(fault.cause, fault.pc, fault.tval, fault.syscall, res, self.id)
            return res
        if reason == "aborted":
            raise EnclaveError(f"enclave {self.id:#x} was destroyed: its output could not be delivered")
        res = make_result(cap, reason, total, ocalls, None, relay_out, shm_out)
        if calls:
            set_calls(res, calls)
        return res

    # --- control from any thread --------------------------------------------------------------

    def stop(self) -> None:
        """Stop the enclave (``PLenclave_stop``): a run in another thread keeps blocking until
        :meth:`resume` or :meth:`destroy`. Possible while the enclave is running or between
        slices of a budgeted run; raises :class:`~pltvm.EnclaveError` otherwise (e.g. before
        its first run, as Penglai, B24)."""
        if self._core.stop() != 0:
            if not self.alive:
                raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists")
            raise EnclaveError(f"enclave {self.id:#x} cannot be stopped: it is {self.state}")

    def resume(self) -> None:
        """Wake a stopped enclave (``PLenclave_resume``). Raises :class:`~pltvm.EnclaveError`
        if it is not stopped (unlike the C library, the enclave is left alone)."""
        if self._core.resume() != 0:
            if not self.alive:
                raise EnclaveDestroyed(f"enclave {self.id:#x} no longer exists")
            raise EnclaveError(f"enclave {self.id:#x} cannot be resumed: it is {self.state}, not STOPPED")

    def destroy(self) -> None:
        """Destroy the enclave and free its secure memory. A run in flight in another thread
        returns a ``"destroyed"`` result; this call waits until it has. Does nothing if the
        enclave no longer exists. Must not be called from this enclave's output callable
        (raise an exception there instead: that destroys the enclave)."""
        runner = self._runner
        if runner is not None and runner == _get_ident():
            raise EnclaveError("an enclave cannot be destroyed from its own output callable; raise an exception")
        self._core.destroy()
        if self._relay_pending:
            self._relay_pending = False
        self._device._enclaves.pop(self, None)  # Device._forget, inlined

    def __enter__(self) -> Enclave:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"<pltvm.Enclave id={self.id:#x} name={self.name!r} state={self.state}>"


class Device:
    """An emulated Penglai enclave device: one monitor, its secure-memory pool and enclaves.

    ``secure_memory`` (bytes, or a size such as ``"64M"``) bounds what enclaves may hold
    (blocks, heap, mmap; default ``PLTVM_SECURE_MEMORY`` or 1 GiB). ``rng`` chooses what
    ``getrandom`` returns: ``"seeded"`` (default; a deterministic per-enclave generator from
    ``seed``), ``"penglai-lcg"`` (Penglai's global LCG) or ``"os"``. ``output`` is the default
    output sink of its enclaves (:data:`OutputSink`). ``engine`` is how enclave harts run:
    ``"interp"`` (the interpreter) or ``"jit"`` (hot blocks compiled; same results).

    Devices are independent of each other and of :mod:`pltvm.host`'s default device. All
    methods are thread-safe.
    """

    def __init__(
        self,
        secure_memory: Union[int, str, None] = None,
        rng: str = "seeded",
        seed: int = 0,
        *,
        output: OutputSink = None,
        engine: str = DEFAULT_ENGINE,
    ) -> None:
        check_engine(engine)
        if secure_memory is None:
            secure_memory = secure_memory_from_env(DEFAULT_SECURE_MEMORY)
        elif isinstance(secure_memory, str):
            try:
                secure_memory = parse_size(secure_memory)
            except ValueError as e:
                raise ValueError(f"secure_memory: {e}") from None
        if isinstance(secure_memory, bool) or not isinstance(secure_memory, int):
            raise TypeError(f"secure_memory must be an int or a size string, not {type(secure_memory).__name__}")
        u64_arg(secure_memory, "secure_memory")
        seed = int_arg(seed, "seed")  # any int: its low 64 bits are the seed
        if rng not in ("seeded", "penglai-lcg", "os"):
            raise ValueError(f'rng must be "seeded", "penglai-lcg" or "os", not {rng!r}')
        Capture(output)  # validate now
        self._monitor = _core.Monitor.new(secure_memory=secure_memory, rng=rng, seed=seed & MASK64, engine=engine)
        self._output = output
        self._lock = threading.Lock()
        # The live enclaves, in creation order (a dict used as an ordered set). Keyed by the
        # object rather than the driver id, so that adding and removing are single atomic dict
        # operations with no lock: an id freed by one thread may be reused by another's fork
        # at once, and removing by id could then drop the wrong enclave.
        self._enclaves: Dict[Enclave, None] = {}
        self._handlers: Dict[int, OcallHandler] = {}
        self._servers: Dict[Any, None] = {}  # pltvm.server.ServerEnclave, creation order
        self._names = itertools.count(1)
        self._closed = False

    @property
    def monitor(self) -> Any:
        """The underlying ``pltvm._core.Monitor``."""
        return self._monitor

    @property
    def secure_memory(self) -> int:
        """Size of the secure-memory pool in bytes."""
        return int(self._monitor.secure_memory)

    @property
    def secure_memory_used(self) -> int:
        """Secure memory the live enclaves hold."""
        return int(self._monitor.secure_memory_used)

    @property
    def enclaves(self) -> List[Enclave]:
        """The enclaves of this device that still exist, in creation order."""
        return list(self._enclaves)

    @property
    def closed(self) -> bool:
        """:meth:`close` was called."""
        return self._closed

    def create(
        self,
        elf: ElfSource,
        *,
        stack_size: int = DEFAULT_STACK_SIZE,
        shm: Union[None, int, bytes, bytearray, memoryview] = None,
        name: Union[str, bytes, None] = None,
        output: OutputSink = _UNSET,
    ) -> Enclave:
        """Create a normal enclave (``PLenclave_create``).

        ``elf``: a path, ELF bytes, or a bundled enclave name (``"hello-world"``).
        ``stack_size``: bytes of stack (default 64 KiB, at most 64 MiB).
        ``shm``: host shared memory the enclave sees at ``0x39_0000_0000`` (``a0``/``a1`` at
        entry): a size in bytes or initial contents, rounded up to whole pages
        (:attr:`Enclave.shm`). ``name``: at most 16 bytes (default: unique on this device;
        relay regions need names unique among live enclaves). ``output``: the enclave's output
        sink (default: the device's).

        Raises :class:`~pltvm.InvalidEnclave` (no such file, bad ELF, loader rejection),
        :class:`~pltvm.SecureMemoryExhausted`, or :class:`~pltvm.EnclaveError` (device closed,
        enclave table full).
        """
        if self._closed:
            raise EnclaveError("the device is closed")
        if isinstance(stack_size, bool) or not isinstance(stack_size, int):
            raise TypeError(f"stack_size must be an int, not {type(stack_size).__name__}")
        if not 0 <= stack_size <= MAX_STACK_SIZE:
            raise ValueError(f"stack_size must be between 0 and {MAX_STACK_SIZE:#x} (the driver's limit), "
                             f"not {stack_size:#x}")
        shm_spec = region_spec(shm, "shm", self._monitor)
        name_b = name_bytes(name)
        if name_b is None:
            name_b = f"enclave{next(self._names)}".encode()
        out = self._output if output is _UNSET else output
        Capture(out)  # validate now rather than at the first run
        data, label = load_elf(elf)
        problem = elf_type_problem(data)
        if problem is not None:
            raise InvalidEnclave(f"{label}: {problem}")
        try:
            core = self._monitor.create(
                data, name=name_b, type=0, stack_size=stack_size,
                shm=None if shm_spec is None else bytes(shm_spec),
            )
        except MemoryError as e:
            raise SecureMemoryExhausted(f"{label}: {e}") from None
        except _core.LimitError as e:  # a size argument past a limit, not the ELF's fault
            raise ValueError(str(e)) from None
        except (ValueError, OverflowError) as e:
            raise InvalidEnclave(f"{label}: {e}") from None
        except (RuntimeError, NotImplementedError) as e:
            raise EnclaveError(f"{label}: {e}") from None
        shm_buf = bytearray(shm_spec) if isinstance(shm_spec, int) else shm_spec
        enclave = Enclave(self, core, shm_buf, out)
        self._register(enclave)
        return enclave

    def create_server(
        self,
        elf: ElfSource,
        *,
        name: Union[str, bytes],
        stack_size: int = DEFAULT_STACK_SIZE,
        shm: Union[None, int, bytes, bytearray, memoryview] = None,
    ) -> Any:
        """Create a server enclave (``PLenclave_create`` with ``SERVER_ENCLAVE``): a
        :class:`pltvm.server.ServerEnclave` that other enclaves of this device find with
        ``acquire_enclave(name)`` and call with ``call_enclave``; the host never runs it.

        ``name``: 1 to 16 bytes, unique among this device's live servers
        (:class:`pltvm.server.ServerNameTaken` otherwise). ``elf``, ``stack_size`` and ``shm``
        as for :meth:`create` (the server sees its shm at ``a3``/``a4`` of each call).
        See :mod:`pltvm.server`."""
        from .server import create_server

        return create_server(self, elf, name, stack_size, shm)

    def create_shadow(
        self, elf: ElfSource, *, name: Union[str, bytes, None] = None, output: OutputSink = None
    ) -> Any:
        """Create a shadow enclave (a measured template to fork instances from in O(1)):
        a :class:`pltvm.shadow.ShadowEnclave`. See :mod:`pltvm.shadow`."""
        from .shadow import create_shadow

        return create_shadow(self, elf, name=name, output=self._output if output is None else output)

    def stats(self) -> Dict[str, int]:
        """Frame accounting: live enclaves, instances, templates, frames shared/private
        (see :func:`pltvm.shadow.stats`)."""
        from .shadow import stats

        return stats(self)

    def ocall(self, ocall_id: int) -> Callable[[_F], _F]:
        """Decorator: handle OCALL ``ocall_id`` in Python for every enclave of this device
        (an :meth:`Enclave.on_ocall` handler takes precedence)::

            @device.ocall(100)
            def add(enclave, a1, a2, a3):
                return a1 + a2
        """
        oid = check_ocall_id(ocall_id)

        def decorate(func: _F) -> _F:
            self._handlers[oid] = func
            return func

        return decorate

    def _register(self, enclave: Enclave) -> None:
        """Add a new enclave to the device (pltvm.shadow's fork inlines this), or destroy it
        if the device was closed meanwhile: :meth:`close` sets ``_closed`` before it lists the
        enclaves, so either it sees this one or we see ``_closed``."""
        self._enclaves[enclave] = None
        if self._closed:
            self._enclaves.pop(enclave, None)
            enclave._core.destroy()
            raise EnclaveError("the device is closed")

    def _forget(self, enclave: Enclave) -> None:
        self._enclaves.pop(enclave, None)

    def close(self) -> None:
        """Destroy every enclave of this device (runs in flight return ``"destroyed"``) and
        refuse new ones. Idempotent."""
        with self._lock:
            self._closed = True
            enclaves = list(self._enclaves)
        for s in list(getattr(self, "_shadows", {}).values()):  # shadow templates (pltvm.shadow)
            s.destroy()
        for e in enclaves:
            if e._runner is not None and e._runner == threading.get_ident():
                continue  # cannot wait for our own run
            e.destroy()
        for srv in list(self._servers):  # after the enclaves that may be calling them
            srv._core.destroy()
            self._servers.pop(srv, None)

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<pltvm.Device enclaves={len(self._enclaves)} secure_memory={self.secure_memory:#x} "
                f"used={self.secure_memory_used:#x}{' closed' if self._closed else ''}>")
