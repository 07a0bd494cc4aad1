"""What one replica of an :class:`~pltvm.ray.EnclavePool` does, without Ray.

A :class:`Replica` holds a :class:`~pltvm.Device` and a shadow template of the ELF; each input
runs in a fresh copy-on-write fork, under the harness contract of :mod:`pltvm.fuzz`: the
instance's shm (at ``0x39_0000_0000``, ``shm_size`` bytes) holds the input's length as a
little-endian u64 followed by the bytes, the rest zero (``a0``/``a1`` at entry are the shm's
base and size); it runs from its entry with an instruction budget, what it prints is captured,
and it is destroyed. The pool's actors are this class made remote, so what a pool computes is
what :meth:`Replica.run_batch` computes in-process (benches/ray_bench.py compares the two).

Nothing here imports Ray.
"""

from __future__ import annotations

import dataclasses

import functools
from typing import Any, Iterable, NamedTuple, Optional, Sequence, Union

from ..arguments import elf_type_problem, load_elf
from ..device import Device, Fault
from ..errors import EnclaveError, InvalidEnclave
from ..shadow import ShadowEnclave

__all__ = ["Result", "Replica", "Packed", "unpack", "REASONS", "OUTCOMES", "DEFAULT_SHM_SIZE", "DEFAULT_MAX_INSTRUCTIONS", "check_inputs",
           "shm_size_arg", "count_arg"]

PAGE = 4096
DEFAULT_SHM_SIZE = PAGE
DEFAULT_MAX_INSTRUCTIONS = 1_000_000
#: The largest shm a pool accepts (the fuzzer's limit, 16 MiB of input, plus the length word).
MAX_SHM_SIZE = (1 << 24) + PAGE
OUTCOMES = ("ok", "crash", "timeout")


class Result(NamedTuple):
    """One input's run. A named tuple: cheap to build and to pickle, as a pool returns
    thousands per batch."""

    outcome: str
    """``"ok"`` (the enclave exited, or returned its relay page), ``"crash"`` (a fault, or the
    monitor destroyed it) or ``"timeout"`` (``max_instructions`` ran out)."""
    value: Optional[int]
    """The exit value (``a0`` of ``EAPP_RETURN``, signed 64-bit, as :attr:`pltvm.RunResult.value`)
    when the enclave exited, else None."""
    output: bytes
    """What the enclave printed."""
    fault: Optional[Fault]
    """Cause, pc and tval of a fault (``outcome == "crash"``), else None."""
    instructions: int
    """Instructions retired."""
    reason: str
    """How :meth:`pltvm.Enclave.run` ended: ``"exit"``, ``"fault"``, ``"budget"``, ``"relay"``,
    ``"destroyed"`` or ``"aborted"`` (its output could not be delivered)."""


_OUTCOME_OF_REASON = {"exit": "ok", "relay": "ok", "fault": "crash", "budget": "timeout", "destroyed": "crash",
                      "aborted": "crash"}
#: Reasons by code in a packed batch (:meth:`Replica.run_packed`), and their outcomes.
REASONS = ("exit", "fault", "budget", "relay", "destroyed", "aborted")
_CODE = {r: i for i, r in enumerate(REASONS)}
_OUTCOME_OF_CODE = tuple(_OUTCOME_OF_REASON[r] for r in REASONS)
_new_result = functools.partial(tuple.__new__, Result)

Packed = tuple[bytes, list[Optional[int]], list[bytes], list[Optional[Fault]], list[int]]
"""A batch's results as columns (reason codes, values, outputs, faults, instructions): what a
replica sends back, cheaper to pickle and to unpickle than one object per result."""


def unpack(packed: Packed) -> list[Result]:
    """The :class:`Result`\\ s of a packed batch, in order."""
    codes, values, outputs, faults, instret = packed
    outcomes = [_OUTCOME_OF_CODE[c] for c in codes]
    reasons = [REASONS[c] for c in codes]
    return list(map(_new_result, zip(outcomes, values, outputs, faults, instret, reasons)))


def count_arg(value: object, what: str, lo: int = 1, hi: int = (1 << 64) - 1) -> int:
    """``value`` if it is an int in [lo, hi] (a bool is not); else TypeError / ValueError naming
    the argument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be in [{lo}, {hi}], not {value}")
    return value


def shm_size_arg(value: object) -> int:
    """``shm_size`` checked: whole pages, at least one, at most :data:`MAX_SHM_SIZE`."""
    size = count_arg(value, "shm_size", PAGE, MAX_SHM_SIZE)
    if size % PAGE:
        raise ValueError(f"shm_size must be a multiple of {PAGE} bytes, not {size}")
    return size


def check_inputs(chunk: Sequence[object], first: int, max_len: int, name: str = "inputs") -> list[bytes]:
    """A batch of inputs as bytes. TypeError / ValueError naming the bad one (``inputs[i]``,
    ``i`` counted from ``first``; or ``name`` alone when ``name`` is not ``"inputs"``) if it is
    not bytes-like or longer than ``max_len`` (``shm_size - 8``)."""
    out: list[bytes] = []
    for i, d in enumerate(chunk):
        if type(d) is not bytes:
            if not isinstance(d, (bytes, bytearray, memoryview)):
                where = f"{name}[{first + i}]" if name == "inputs" else name
                raise TypeError(f"{where} must be bytes, not {type(d).__name__}")
            d = bytes(d)
        if len(d) > max_len:
            where = f"{name}[{first + i}]" if name == "inputs" else name
            raise ValueError(f"{where} has {len(d)} bytes; at most shm_size - 8 = {max_len} fit in the shm")
        out.append(d)
    return out


class Replica:
    """A :class:`~pltvm.Device` with a shadow template of ``elf`` (a path, ELF bytes or a
    bundled enclave name), running inputs in forks of it."""

    def __init__(
        self,
        elf: Union[str, bytes, Any],
        shm_size: int = DEFAULT_SHM_SIZE,
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
        secure_memory: Union[int, str, None] = None,
    ) -> None:
        self.shm_size = shm_size_arg(shm_size)
        self.max_instructions = count_arg(max_instructions, "max_instructions")
        data, label = load_elf(elf)
        problem = elf_type_problem(data)
        if problem is not None:
            raise InvalidEnclave(f"{label}: {problem}")
        self.device = Device(secure_memory)
        self.shadow: ShadowEnclave = self.device.create_shadow(data)
        self._shm = bytearray(self.shm_size)
        self._dirty = 0

    @property
    def max_len(self) -> int:
        """The longest input: ``shm_size - 8``."""
        return self.shm_size - 8

    @property
    def measurement(self) -> bytes:
        """The template's measurement (every instance reports it)."""
        return self.shadow.measurement

    def ready(self) -> bytes:
        """The measurement (a pool calls this to wait until its actors are up)."""
        return self.measurement

    def run(self, data: bytes) -> Result:
        """Run one input in a fresh fork of the template and destroy the fork."""
        reason, value, output, fault, instret = self._exec(data)
        return Result(_OUTCOME_OF_REASON[reason], value, output, fault, instret, reason)

    def _exec(self, data: bytes) -> tuple[str, Optional[int], bytes, Optional[Fault], int]:
        shm = self._shm
        n = len(data)
        if n > self.shm_size - 8:
            raise ValueError(f"input has {n} bytes; at most shm_size - 8 = {self.shm_size - 8} fit in the shm")
        if self._dirty > n + 8:
            shm[n + 8 : self._dirty] = bytes(self._dirty - n - 8)
        shm[:8] = n.to_bytes(8, "little")
        shm[8 : 8 + n] = data
        self._dirty = n + 8
        e = self.shadow.fork(shm=shm)  # fork copies the shm: reusing the buffer is safe
        try:
            r = e.run(output="capture", max_instructions=self.max_instructions, check=False)
            if r.reason == "yield":
                r = self._through_yields(e, r)
        except EnclaveError:  # "aborted": the monitor destroyed it (its output was refused)
            e.destroy()
            return "aborted", None, b"", None, 0
        if not r.finished:
            e.destroy()  # a budget run or a relay return leaves the instance behind
        reason = r.reason if r.reason in _CODE else "destroyed"
        return reason, r.value, r.output or b"", r.fault, r.instret

    def _through_yields(self, e: Any, r: Any) -> Any:
        """A fork that yielded (``EAPP_YIELD``) goes on within what is left of the input's
        budget, as the Rust executors continue it: a yield does not end an input. The result
        covers the whole input (output and instructions of every run); ``"budget"`` if the
        budget ran out at a yield."""
        out, n = [r.output or b""], r.instret
        while r.reason == "yield" and n < self.max_instructions:
            r = e.run(output="capture", max_instructions=self.max_instructions - n, check=False)
            out.append(r.output or b"")
            n += r.instret
        return dataclasses.replace(r, reason="budget" if r.reason == "yield" else r.reason,
                                   output=b"".join(out), instret=n)

    def run_batch(self, inputs: Sequence[bytes]) -> list[Result]:
        """:meth:`run` for each input, in order."""
        return unpack(self.run_packed(inputs))

    def run_packed(self, inputs: Sequence[bytes]) -> Packed:
        """:meth:`run_batch` as columns (see :data:`Packed` and :func:`unpack`)."""
        codes = bytearray(len(inputs))
        values: list[Optional[int]] = []
        outputs: list[bytes] = []
        faults: list[Optional[Fault]] = []
        instret: list[int] = []
        exe = self._exec
        for i, d in enumerate(inputs):
            reason, value, output, fault, n = exe(d)
            codes[i] = _CODE[reason]
            values.append(value)
            outputs.append(output)
            faults.append(fault)
            instret.append(n)
        return bytes(codes), values, outputs, faults, instret

    def run_many(self, inputs: Iterable[bytes]) -> list[Result]:
        """:meth:`run_batch` of any iterable (the in-process reference of a pool's ``map``)."""
        return self.run_batch(list(inputs))

    def attest(self, nonce: int = 0) -> bytes:
        """The template's host attestation report (328 bytes) for ``nonce``."""
        return bytes(self.shadow.attest(nonce).to_bytes())

    def close(self) -> None:
        """Destroy the template and close the device."""
        self.shadow.destroy()
        self.device.close()
