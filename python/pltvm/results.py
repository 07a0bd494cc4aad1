"""What a run of an enclave gives back: :class:`RunResult` and :class:`Fault`, and where the
enclave's output goes while it runs (:data:`OutputSink`, resolved per run by :class:`Capture`)."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, List, Optional, Tuple, Union

from .arguments import signed64

__all__ = ["RunResult", "Fault", "OutputSink", "Capture", "GONE", "make_result", "new_result", "set_calls", "write_stdout",
           "file_sink"]

OutputSink = Union[None, str, bytearray, Callable[[bytes], Any], IO[Any]]
"""Where enclave prints go: ``None`` (``sys.stdout`` at the time of the print), ``"capture"``
(collected into :attr:`RunResult.output`), a ``bytearray`` (appended to, and also reported in
:attr:`RunResult.output`), a callable taking ``bytes``, or a text or binary file object."""


def write_stdout(data: bytes) -> None:
    """Default sink: ``sys.stdout`` as it is now (redirections and capture included)."""
    out = sys.stdout
    if out is None:  # pythonw, closed stdout
        return
    buf = getattr(out, "buffer", None)
    if buf is not None:
        out.flush()
        buf.write(data)
        buf.flush()
    else:
        out.write(data.decode("utf-8", "replace"))
        out.flush()


def file_sink(f: IO[Any]) -> Callable[[bytes], None]:
    """A sink writing to the text or binary file ``f``, flushed after each write."""
    if isinstance(f, io.TextIOBase):

        def text(data: bytes) -> None:
            f.write(data.decode("utf-8", "replace"))
            f.flush()

        return text

    def binary(data: bytes) -> None:
        f.write(data)
        f.flush()

    return binary


class Capture:
    """Resolves an :data:`OutputSink` for one run; ``output()`` is what the run printed.

    ``"capture"`` is collected by the binding itself (``run(capture=True)``: no Python call
    per flush) and handed over with each result (:meth:`add`)."""

    __slots__ = ("sink", "buf", "start", "native", "captured")

    def __init__(self, output: OutputSink) -> None:
        self.buf: Optional[bytearray] = None
        self.start = 0
        self.native = False
        self.captured: Optional[bytes] = None
        if output is None:
            self.sink: Optional[Callable[[bytes], Any]] = write_stdout
        elif isinstance(output, str):
            if output != "capture":
                raise ValueError(f'output must be None, "capture", a bytearray, a callable or a file, not {output!r}')
            self.native = True
            self.captured = b""
            self.sink = None
        elif isinstance(output, bytearray):
            self.buf, self.start = output, len(output)
            self.sink = output.extend
        elif callable(output):
            self.sink = output
        elif hasattr(output, "write"):
            self.sink = file_sink(output)
        else:
            raise TypeError(f"output must be None, \"capture\", a bytearray, a callable or a file, "
                            f"not {type(output).__name__}")

    def add(self, data: Optional[bytes]) -> None:
        """Output the binding collected during one call of ``run(capture=True)``."""
        if data:
            self.captured = data if not self.captured else self.captured + data

    def output(self) -> Optional[bytes]:
        """What the run printed, for sinks that collect bytes; else None."""
        if self.native:
            return self.captured
        if self.buf is None:
            return None
        return bytes(self.buf) if self.start == 0 else bytes(self.buf[self.start :])


@dataclass(frozen=True)
class Fault:
    """An exception that ended an enclave (the monitor destroyed it)."""

    cause: int
    """``mcause`` (e.g. 15: store/AMO page fault; 8: an ecall the monitor does not know)."""
    pc: int
    """Address of the faulting instruction."""
    tval: int
    """``mtval``: the bad address of an access or page fault, else 0 or the instruction."""
    syscall: Optional[int] = None
    """``a7`` of a rejected ecall (a Linux syscall other than ioctl, B25), else None."""

    @property
    def cause_name(self) -> str:
        """Readable name of ``cause``, e.g. ``"store/AMO page fault"``."""
        from .traps import cause_name

        return cause_name(self.cause)

    def __str__(self) -> str:
        extra = f", ecall a7={self.syscall}" if self.syscall is not None else ""
        return f"{self.cause_name} (mcause={self.cause}) at pc={self.pc:#x}, tval={self.tval:#x}{extra}"


@dataclass(frozen=True)
class RunResult:
    """How a call of :meth:`Enclave.run` ended.

    ``reason`` is one of:

    * ``"exit"``: ``EAPP_RETURN(value)``; the enclave is gone. ``value`` is ``a0`` as a signed
      64-bit integer.
    * ``"relay"``: the enclave returned its relay page (``eapp_return_relay_page``); ``relay``
      holds the page's contents (also in :attr:`Enclave.relay`). Change them if you like and
      continue with :meth:`Enclave.resume_relay` (or :meth:`Enclave.run`).
    * ``"fault"``: the monitor destroyed the enclave after an exception; see ``fault``. Only
      returned with ``run(check=False)``; otherwise :class:`~pltvm.EnclaveFault` is raised.
    * ``"destroyed"``: :meth:`Enclave.destroy` was called (from another thread) during the run.
    * ``"budget"``: ``max_instructions`` were executed; :meth:`Enclave.run` continues.
    * ``"yield"``: the enclave called ``EAPP_YIELD`` (enclave call 89), itself or inside a
      server it called; it is RUNNABLE with its state intact and the next :meth:`Enclave.run`
      continues it after the call, with ``a0`` unchanged. ``max_instructions`` bounds each
      call of :meth:`Enclave.run` on its own.
    """

    reason: str
    value: Optional[int] = None
    """Exit value (``reason == "exit"``), signed."""
    relay: Optional[bytes] = field(default=None, repr=False)
    """Relay region contents handed back to the host (relay return, exit, fault, destroy)."""
    shm: Optional[bytes] = field(default=None, repr=False)
    """Host shm contents when the run returned (also in :attr:`Enclave.shm`)."""
    fault: Optional[Fault] = None
    """Cause, pc and tval of a fault."""
    output: Optional[bytes] = None
    """What the enclave printed during this run, when the output sink collects bytes
    (``"capture"`` or a ``bytearray``); else None."""
    instret: int = 0
    """Instructions the enclave retired during this run (OCALL round trips included)."""
    ocalls: int = 0
    """Python OCALL handlers called during this run."""
    calls: Tuple[Any, ...] = ()
    """The ``call_enclave`` calls the enclave (and the servers it called) made during this
    run, in the order they ended: :class:`pltvm.server.Call` records (caller, callee, result,
    resp_val, depth)."""

    @property
    def exited(self) -> bool:
        """The enclave called ``EAPP_RETURN``."""
        return self.reason == "exit"

    @property
    def relay_returned(self) -> bool:
        """The enclave returned its relay page and waits for :meth:`Enclave.resume_relay`."""
        return self.reason == "relay"

    @property
    def faulted(self) -> bool:
        """The monitor destroyed the enclave after an exception."""
        return self.reason == "fault"

    @property
    def destroyed(self) -> bool:
        """The host destroyed the enclave during the run."""
        return self.reason == "destroyed"

    @property
    def yielded(self) -> bool:
        """The enclave yielded (``EAPP_YIELD``); :meth:`Enclave.run` continues it."""
        return self.reason == "yield"

    @property
    def finished(self) -> bool:
        """The enclave no longer exists (exit, fault or destroy)."""
        return self.reason in ("exit", "fault", "destroyed")


GONE = frozenset(("exit", "fault", "destroyed", "aborted"))
"""Run reasons after which the enclave no longer exists."""


_new_object = object.__new__


def new_result(reason: str, value: Optional[int], output: Optional[bytes], instret: int, ocalls: int = 0,
               relay: Optional[bytes] = None, shm: Optional[bytes] = None,
               fault: Optional[Fault] = None) -> RunResult:
    """``RunResult(...)`` built without the frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` call per field, a good part of a short run's cost in Python). The
    fields are plain instance attributes either way, so the object is the same
    (tests/test_device.py compares the two)."""
    res = _new_object(RunResult)
    res.__dict__.update(reason=reason, value=value, relay=relay, shm=shm, fault=fault, output=output,
                        instret=instret, ocalls=ocalls, calls=())
    return res


def make_result(cap: Capture, reason: str, instret: int, ocalls: int, value: Optional[int] = None,
                relay: Optional[bytes] = None, shm: Optional[bytes] = None,
                fault: Optional[Fault] = None) -> RunResult:
    """:func:`new_result` for a run that used ``cap``: the output is what ``cap`` captured."""
    return new_result(reason, value, cap.output(), instret, ocalls, relay, shm, fault)


def set_calls(res: RunResult, calls: List[Any]) -> None:
    """``res.calls`` from the binding's ``(caller, callee, result, resp_val, depth)`` tuples;
    the handle and the result are shown signed (-1, -2)."""
    from .server import Call

    res.__dict__["calls"] = tuple(Call(c, signed64(h), int(v), signed64(rv) if rv >> 63 else rv, d)
                                  for c, h, v, rv, d in calls)
