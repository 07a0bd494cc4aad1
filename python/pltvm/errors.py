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
    "AttestationError",
    "ReportFormatError",
    "SignatureChainError",
    "NonceMismatchError",
    "MeasurementMismatchError",
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
    little-endian RISC-V executable, malformed headers, or a loader rejection (docs/abi.md
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
        from .traps import cause_name

        return cause_name(self.cause)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cause, self.pc, self.tval, self.syscall, None, self.enclave_id))


# --- attestation (pltvm.attest) -------------------------------------------------------------------


class AttestationError(PltvmError):
    """A report failed verification (:func:`pltvm.attest.verify`). ``check`` names the failed
    check: ``"format"``, ``"device_key"``, ``"sm_signature"``, ``"sm_hash"``,
    ``"enclave_signature"``, ``"nonce"`` or ``"measurement"``."""

    check = "attestation"

    def __init__(self, message: str, *, check: str | None = None) -> None:
        super().__init__(message)
        if check is not None:
            self.check = check


class ReportFormatError(AttestationError, ValueError):
    """Not a 328-byte ``report_t``."""

    check = "format"


class SignatureChainError(AttestationError):
    """The signature chain is broken: the device key is not the trusted one, ``sm.signature``
    does not verify under the device key, ``sm.hash`` is not the expected monitor, or
    ``enclave.signature`` does not verify under the SM key (``check`` says which)."""

    check = "signature_chain"


class NonceMismatchError(AttestationError):
    """The report's nonce is not the one the verifier sent."""

    check = "nonce"


class MeasurementMismatchError(AttestationError):
    """``enclave.hash`` is not ``SM3(expected measurement ‖ nonce)``: another enclave (or
    another image, stack size, shm contents) produced the report."""

    check = "measurement"
