"""Exception hierarchy of pltvm.

Every error that pltvm raises on purpose derives from :class:`PltvmError`, so callers can catch
one class. Plain programming mistakes (wrong argument types, out-of-range register numbers)
still raise the usual built-in exceptions (``TypeError``, ``ValueError``, ``IndexError``).
"""

from __future__ import annotations

__all__ = [
    "PltvmError",
    "ElfError",
    "EnclaveError",
    "InvalidEnclave",
    "SecureMemoryExhausted",
    "EnclaveDestroyed",
    "EnclaveFault",
]


class PltvmError(Exception):
    """Base class of the errors raised by pltvm."""


class ElfError(PltvmError):
    """An ELF file cannot be loaded: unreadable, malformed, or unsuitable for the machine.

    The message names the file and the problem, e.g.
    ``"prog.elf: 32-bit ELF (ELFCLASS32); only RV64 (ELFCLASS64) is supported"``.
    """


# --- enclaves (pltvm.Device) ----------------------------------------------------------------------


class EnclaveError(PltvmError):
    """Base class of the errors of the Pythonic enclave API (:class:`pltvm.Device`,
    :class:`pltvm.Enclave`): misuse of an enclave, or an enclave that went wrong."""


class InvalidEnclave(EnclaveError, ElfError):
    """The ELF file cannot become an enclave: no such file or bundled enclave, not an RV64
    little-endian RISC-V executable, malformed headers, or a loader rejection (penglai-tvm-abi.md
    B17). Also an :class:`ElfError`."""


class SecureMemoryExhausted(EnclaveError):
    """The device's secure-memory pool cannot hold another enclave of this size (see
    ``Device(secure_memory=...)``); nothing else was disturbed."""


class EnclaveDestroyed(EnclaveError):
    """The enclave no longer exists: it exited, faulted, or was destroyed."""


class EnclaveFault(EnclaveError):
    """The enclave raised an exception (or made an ecall Penglai does not know) and the monitor
    destroyed it, as Penglai does (B39).

    ``cause`` is the ``mcause`` value, ``pc`` the faulting instruction's address, ``tval`` the
    ``mtval`` value (the bad address of an access fault), ``syscall`` the ``a7`` of a rejected
    ecall (else None), ``cause_name`` a readable name of ``cause`` and ``result`` the
    :class:`pltvm.RunResult` of the run (with its output and instruction count), when known.
    """

    def __init__(self, cause: int, pc: int, tval: int, syscall: int | None = None,
                 result: object = None, enclave_id: int | None = None) -> None:
        self.cause = cause
        self.pc = pc
        self.tval = tval
        self.syscall = syscall
        self.result = result
        self.enclave_id = enclave_id
        who = "enclave" if enclave_id is None else f"enclave {enclave_id:#x}"
        extra = f", ecall a7={syscall}" if syscall is not None else ""
        super().__init__(
            f"{who} faulted: {self.cause_name} (mcause={cause}) at pc={pc:#x}, tval={tval:#x}{extra}"
        )

    @property
    def cause_name(self) -> str:
        """Readable name of ``cause``, e.g. ``"store/AMO page fault"``."""
        from .cli import cause_name

        return cause_name(self.cause)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cause, self.pc, self.tval, self.syscall, None, self.enclave_id))
