"""``pltvm.attest``: Penglai-TVM reports, their verification, and ahead-of-time measurement.

Nothing here runs an enclave. :func:`verify` checks a 328-byte ``report_t`` (from
``PLenclave_attest``, ``Enclave.attest``, an enclave's ``get_report`` or a file) and
:func:`measure` computes an enclave's measurement from its ELF file alone.

The chain of trust (README, "Attestation"; docs/attestation.md)::

    device key (pinned by the verifier: ``device_public_key``)
      └─ sm.signature = SM2_dev( SM3(sm.hash ‖ sm.sm_pub_key) )       sm.hash = SM3(monitor description)
           └─ enclave.signature = SM2_sm( enclave.hash )
                enclave.hash = SM3(measurement ‖ le64(nonce))             (host attestation)

``enclave.nonce`` itself is outside every signature: only ``enclave.hash`` binds the nonce, so
a nonce is established only together with the measurement (or the whole expected
``enclave.hash``). :func:`verify` refuses a ``nonce=`` it cannot check that way.

SM2 is curve sm2p256v1 with the 32-byte hash used directly as the digest ``e`` (no ``Z_A``), as
Penglai signs; signatures are ``r ‖ s`` big-endian. The verifier's SM3 comes from
``cryptography`` (OpenSSL); SM2 verification from the RustCrypto ``sm2`` crate compiled into
``pltvm._core`` (``cryptography`` has no SM2 signatures), exposed as a plain function: no
monitor, no enclave. :func:`measure` runs the monitor's own creation steps (``pltvm._core``)
without keeping the enclave: the same file checks, loader and hash as ``Device.create``.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Optional, Union

from .errors import (
    AttestationError,
    MeasurementMismatchError,
    NonceMismatchError,
    ReportFormatError,
    SignatureChainError,
)

__all__ = [
    "REPORT_SIZE",
    "ROOT_KEY",
    "Report",
    "VerifiedReport",
    "AttestationError",
    "ReportFormatError",
    "SignatureChainError",
    "NonceMismatchError",
    "MeasurementMismatchError",
    "sm3",
    "update_hash",
    "sm_signed_digest",
    "verify",
    "measure",
    "derive_key",
    "test_keys",
    "local_device_public_key",
]

REPORT_SIZE = 328
HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 64

PAGE = 4096
DEFAULT_STACK_SIZE = 0x10000
_U64 = 1 << 64
_KINDS = {"normal": 0, "server": 1, "shadow": 2}

ROOT_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2)
"""The derive-key root key fixed in Penglai's ``key.c`` (ENCLAVE_KEY and STORAGE_KEY)."""


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905) of ``data``."""
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _nonce(nonce: Any, what: str = "nonce") -> int:
    """A nonce as the 64-bit value the report carries; out-of-range values are errors, never
    truncated."""
    if isinstance(nonce, bool) or not isinstance(nonce, int):
        raise TypeError(f"{what} must be an int, not {type(nonce).__name__}")
    if not 0 <= nonce < _U64:
        raise ValueError(f"{what} must be in [0, 2**64): the report carries a 64-bit nonce, not {nonce:#x}")
    return nonce


def update_hash(measurement: bytes, nonce: int) -> bytes:
    """``SM3(measurement ‖ le64(nonce))``: the ``enclave.hash`` of host attestation (§6.2).
    ``nonce`` must fit in 64 bits."""
    return sm3(bytes(measurement) + struct.pack("<Q", _nonce(nonce)))


def sm_signed_digest(sm_hash: bytes, sm_pub_key: bytes) -> bytes:
    """What the device key signs in ``sm.signature``: ``SM3(sm.hash ‖ sm.sm_pub_key)``."""
    return sm3(bytes(sm_hash) + bytes(sm_pub_key))


def derive_key(measurement: bytes, size: int = 32) -> bytes:
    """What ``get_key(ENCLAVE_KEY or STORAGE_KEY, buf, size)`` gives an enclave with this stored
    measurement: HKDF-SHA256(salt = measurement, IKM = :data:`ROOT_KEY`, info = empty)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), size, bytes(measurement), b"").derive(ROOT_KEY)


# ---------------------------------------------------------------------------------------------
# Reports.


@dataclass(frozen=True)
class Report:
    """A parsed ``report_t`` (field names as in Penglai's C structures, flattened)."""

    sm_hash: bytes
    sm_signature: bytes
    sm_pub_key: bytes
    enclave_hash: bytes
    enclave_signature: bytes
    nonce: int
    dev_pub_key: bytes

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview]) -> "Report":
        b = bytes(data)
        if len(b) != REPORT_SIZE:
            raise ReportFormatError(f"a report_t is {REPORT_SIZE} bytes, not {len(b)}")
        return cls(
            sm_hash=b[0:32],
            sm_signature=b[32:96],
            sm_pub_key=b[96:160],
            enclave_hash=b[160:192],
            enclave_signature=b[192:256],
            nonce=struct.unpack_from("<Q", b, 256)[0],
            dev_pub_key=b[264:328],
        )

    def to_bytes(self) -> bytes:
        return (
            self.sm_hash + self.sm_signature + self.sm_pub_key + self.enclave_hash
            + self.enclave_signature + struct.pack("<Q", self.nonce) + self.dev_pub_key
        )

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    @classmethod
    def from_report_t(cls, r: Any) -> "Report":
        """From :class:`pltvm.host.report_t`."""
        return cls(bytes(r.sm.hash), bytes(r.sm.signature), bytes(r.sm.sm_pub_key), bytes(r.enclave.hash),
                   bytes(r.enclave.signature), int(r.enclave.nonce), bytes(r.dev_pub_key))

    def to_report_t(self) -> Any:
        """As :class:`pltvm.host.report_t` (what ``PLenclave_attest`` fills)."""
        from . import host

        return host.report_t(
            sm=host.sm_report_t(self.sm_hash, self.sm_signature, self.sm_pub_key),
            enclave=host.enclave_report_t(self.enclave_hash, self.enclave_signature, self.nonce),
            dev_pub_key=self.dev_pub_key,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: hex strings and the nonce as an integer."""
        return {
            "sm": {"hash": self.sm_hash.hex(), "signature": self.sm_signature.hex(),
                   "sm_pub_key": self.sm_pub_key.hex()},
            "enclave": {"hash": self.enclave_hash.hex(), "signature": self.enclave_signature.hex(),
                        "nonce": self.nonce},
            "dev_pub_key": self.dev_pub_key.hex(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        try:
            r = cls(bytes.fromhex(d["sm"]["hash"]), bytes.fromhex(d["sm"]["signature"]),
                    bytes.fromhex(d["sm"]["sm_pub_key"]), bytes.fromhex(d["enclave"]["hash"]),
                    bytes.fromhex(d["enclave"]["signature"]), _nonce(d["enclave"]["nonce"], "enclave.nonce"),
                    bytes.fromhex(d["dev_pub_key"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ReportFormatError(f"not a report: {e}") from None
        sizes = {"sm.hash": (r.sm_hash, HASH_SIZE), "sm.signature": (r.sm_signature, SIGNATURE_SIZE),
                 "sm.sm_pub_key": (r.sm_pub_key, PUBLIC_KEY_SIZE), "enclave.hash": (r.enclave_hash, HASH_SIZE),
                 "enclave.signature": (r.enclave_signature, SIGNATURE_SIZE),
                 "dev_pub_key": (r.dev_pub_key, PUBLIC_KEY_SIZE)}
        for name, (value, size) in sizes.items():
            if len(value) != size:
                raise ReportFormatError(f"not a report: {name} is {len(value)} bytes, not {size}")
        return r

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


@dataclass(frozen=True)
class VerifiedReport:
    """What :func:`verify` established. ``report`` is the report as given (its ``nonce`` field
    is whatever the file says); the other fields are only what was checked."""

    report: Report
    nonce: Optional[int]
    """The report's nonce if ``enclave.hash`` binds it (an expected measurement or expected
    ``enclave.hash`` was checked), else None: the nonce field is not signed, so an unchecked
    value proves nothing."""
    enclave_hash: bytes
    device_public_key: bytes
    sm_public_key: bytes
    sm_hash: bytes
    device_key_pinned: bool
    """Whether the device key was compared with one the caller trusts (else only the report's
    own chain was checked)."""
    measurement: Optional[bytes]
    """The expected measurement, if one was given and matched."""
    fresh: bool = False
    """Whether the report was checked to be made for the caller's ``nonce`` (``nonce=`` given
    and bound through ``enclave.hash``)."""


def _sm2_verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    from . import _core

    return bool(_core.sm2_verify(public_key, digest, signature))


def _as_bytes(value: Union[bytes, bytearray, memoryview, str], size: int, what: str) -> bytes:
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.strip().removeprefix("0x"))
        except ValueError:
            raise ValueError(f"{what} is not hex") from None
    b = bytes(value)
    if len(b) == size + 1 and size == PUBLIC_KEY_SIZE and b[0] == 4:
        b = b[1:]  # SEC1 uncompressed 04 ‖ X ‖ Y
    if len(b) != size:
        raise ValueError(f"{what} must be {size} bytes, not {len(b)}")
    return b


def verify(
    report: Union[bytes, bytearray, memoryview, Report, Any],
    *,
    expected_measurement: Union[bytes, str, None] = None,
    nonce: Optional[int] = None,
    device_public_key: Union[bytes, str, None] = None,
    expected_sm_hash: Union[bytes, str, None] = None,
    expected_enclave_hash: Union[bytes, str, None] = None,
) -> VerifiedReport:
    """Verify a report; raise an :class:`AttestationError` subclass naming the failed check.

    Checks, in order: the format (:class:`ReportFormatError`); the device key equals
    ``device_public_key`` if given, ``sm.signature`` verifies under the device key, ``sm.hash``
    equals ``expected_sm_hash`` if given, and ``enclave.signature`` verifies under
    ``sm.sm_pub_key`` (:class:`SignatureChainError`); ``enclave.nonce == nonce`` if given
    (:class:`NonceMismatchError`); ``enclave.hash == SM3(expected_measurement ‖ le64(nonce))``
    if an expected measurement is given, and ``enclave.hash == expected_enclave_hash`` if that
    is given (:class:`MeasurementMismatchError`).

    What a verifier must pin (docs/attestation.md): ``device_public_key`` (without it anyone
    can make a report that passes: the chain is checked only against the report's own key);
    ``expected_measurement`` (host attestation, ``Enclave.attest``/``PLenclave_attest``; from
    :func:`measure`) or ``expected_enclave_hash`` (an in-enclave ``get_report(NULL)``, which
    hashes the live address space with the nonce: ``measure(elf, nonce=N, ...)``); and for
    freshness ``nonce``. The nonce field is not signed, so ``nonce=`` alone would compare an
    unsigned field: it is refused (``ValueError``) unless one of the two hashes binds it.
    Nonces must fit in 64 bits. ``expected_sm_hash`` pins the monitor build.
    """
    if nonce is not None:
        nonce = _nonce(nonce)
        if expected_measurement is None and expected_enclave_hash is None:
            raise ValueError(
                "nonce= needs expected_measurement= (or expected_enclave_hash=): the report's nonce "
                "field is not signed, only enclave.hash = SM3(measurement || nonce) binds it, so "
                "without the measurement a replayed report with a rewritten nonce would pass")
    if isinstance(report, Report):
        r = report
    elif isinstance(report, (bytes, bytearray, memoryview)):
        r = Report.from_bytes(report)
    elif hasattr(report, "sm") and hasattr(report, "enclave"):
        r = Report.from_report_t(report)
    else:
        raise ReportFormatError(f"cannot read a report from {type(report).__name__}")
    m = None if expected_measurement is None else _as_bytes(expected_measurement, HASH_SIZE, "expected_measurement")
    want_hash = (None if expected_enclave_hash is None
                 else _as_bytes(expected_enclave_hash, HASH_SIZE, "expected_enclave_hash"))
    pinned = device_public_key is not None
    if pinned:
        want = _as_bytes(device_public_key, PUBLIC_KEY_SIZE, "device_public_key")  # type: ignore[arg-type]
        if r.dev_pub_key != want:
            raise SignatureChainError("device key: the report's dev_pub_key is not the trusted device key",
                                      check="device_key")
    if not _sm2_verify(r.dev_pub_key, sm_signed_digest(r.sm_hash, r.sm_pub_key), r.sm_signature):
        raise SignatureChainError(
            "sm.signature: not a device-key signature over SM3(sm.hash || sm_pub_key)", check="sm_signature")
    if expected_sm_hash is not None:
        if r.sm_hash != _as_bytes(expected_sm_hash, HASH_SIZE, "expected_sm_hash"):
            raise SignatureChainError("sm.hash: not the expected monitor", check="sm_hash")
    if not _sm2_verify(r.sm_pub_key, r.enclave_hash, r.enclave_signature):
        raise SignatureChainError("enclave.signature: not an SM-key signature over enclave.hash",
                                  check="enclave_signature")
    if nonce is not None and r.nonce != nonce:
        raise NonceMismatchError(f"nonce: the report has {r.nonce:#x}, expected {nonce:#x}")
    if m is not None and update_hash(m, r.nonce) != r.enclave_hash:
        why = ("the report is for another enclave or was made for another nonce (a replayed report "
               "with its unsigned nonce field rewritten)" if nonce is not None else
               "the report is for another enclave, or its unsigned nonce field was changed")
        raise MeasurementMismatchError(
            f"measurement: enclave.hash is not SM3({m.hex()} || nonce {r.nonce:#x}): {why}")
    if want_hash is not None and r.enclave_hash != want_hash:
        raise MeasurementMismatchError(f"enclave.hash: {r.enclave_hash.hex()} is not the expected {want_hash.hex()}")
    bound = m is not None or want_hash is not None
    return VerifiedReport(r, r.nonce if bound else None, r.enclave_hash, r.dev_pub_key, r.sm_pub_key, r.sm_hash,
                          pinned, m, fresh=bound and nonce is not None)


def test_keys() -> tuple[bytes, bytes]:
    """The documented development key set (device scalar, SM scalar); not secret."""
    from . import _core

    d, s, _ = _core.test_keys()
    return d, s


def local_device_public_key() -> bytes:
    """This machine's device public key (X ‖ Y) from the default key store (``PLTVM_KEY_DIR``
    or ``~/.local/share/pltvm``, created on first use; ``PLTVM_TEST_KEYS=1``: the test key)."""
    from . import _core

    d, _, _ = _core.default_keys()
    return _core.sm2_public_key(d)


# ---------------------------------------------------------------------------------------------
# Ahead-of-time measurement (§1.3–§1.5, §5.1, §6.1), from the ELF file alone.


def _read_elf(elf: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]) -> tuple[bytes, str]:
    """The file's bytes and a label for messages ("" for bytes). A string that is not an
    existing path may name a bundled enclave ("hello-world"), as in ``Device.create``."""
    if isinstance(elf, (bytes, bytearray, memoryview)):
        return bytes(elf), ""
    if not isinstance(elf, (str, os.PathLike)):
        raise TypeError(f"elf must be a path, bytes or a bundled enclave name, not {type(elf).__name__}")
    path = os.fspath(elf)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(elf, str) and not os.path.exists(path):
        from . import enclaves

        try:
            path = str(enclaves.path(elf))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{elf}: no such file or bundled enclave (bundled: {', '.join(enclaves.names()) or 'none'})"
            ) from None
    with open(path, "rb") as f:
        return f.read(), str(elf)


def measure(
    elf: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview],
    kind: str = "normal",
    *,
    stack_size: int = DEFAULT_STACK_SIZE,
    shm: Union[bytes, bytearray, memoryview, None] = None,
    nonce: int = 0,
) -> bytes:
    """The measurement the monitor stores for this ELF, computed without running anything.

    ``elf``: a path, the file's bytes, or a bundled enclave name (``"hello-world"``).
    ``kind``: ``"normal"`` (image, ``stack_size`` bytes of stack, the host ``shm`` contents if
    given, the kbuffer page), ``"shadow"`` (a template: image only; its fork instances carry
    this hash) or ``"server"`` (image, stack, shm; no kbuffer). ``shm`` is the shared memory's
    contents at create time (a non-zero multiple of 4096 bytes): part of the identity (B5).
    ``nonce`` other than 0 gives the §6.1 hash with that nonce (what ``get_report(NULL)``
    would report for a freshly created enclave; at most 2**64 - 1).

    The value comes from the monitor's own creation steps (file checks, loader, mappings, SM3)
    run without keeping the enclave, so it is what ``Device.create`` stores. A file the monitor
    refuses raises ValueError with the monitor's reason (prefixed with the path when ``elf``
    is one); a missing file FileNotFoundError.
    """
    if kind not in _KINDS:
        raise ValueError(f'kind must be "normal", "shadow" or "server", not {kind!r}')
    if isinstance(stack_size, bool) or not isinstance(stack_size, int):
        raise TypeError(f"stack_size must be an int, not {type(stack_size).__name__}")
    if not 0 <= stack_size < _U64:
        raise ValueError(f"stack_size must be in [0, 2**64), not {stack_size:#x}")
    nonce = _nonce(nonce)
    if kind == "shadow":
        stack_size = 0  # the driver forces it (§5.1)
        if shm is not None:
            raise ValueError("a shadow template has no shm (instances get theirs at fork)")
    shm_bytes = None if shm is None else bytes(shm)
    if shm_bytes is not None and (len(shm_bytes) == 0 or len(shm_bytes) % PAGE):
        raise ValueError(f"shm must be a non-zero multiple of 4096 bytes, not {len(shm_bytes)}")
    data, label = _read_elf(elf)
    from . import _core

    try:
        return _core.measure_elf(data, type=_KINDS[kind], stack_size=stack_size, shm=shm_bytes, nonce=nonce)
    except ValueError as e:
        if label:
            raise ValueError(f"{label}: {e}") from None
        raise
