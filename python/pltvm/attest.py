"""``pltvm.attest``: Penglai-TVM reports, their verification, and ahead-of-time measurement.

Nothing here runs an enclave. :func:`verify` checks a 328-byte ``report_t`` (from
``PLenclave_attest``, ``Enclave.attest`` of the native module, an enclave's ``get_report`` or a
file) and :func:`measure` computes an enclave's measurement from its ELF file alone.

The chain of trust (README, "Attestation")::

    device key (pinned by the verifier: ``device_public_key``)
      └─ sm.signature = SM2_dev( SM3(sm.hash ‖ sm.sm_pub_key) )       sm.hash = SM3(monitor description)
           └─ enclave.signature = SM2_sm( enclave.hash )
                enclave.hash = SM3(measurement ‖ le64(nonce))             (host attestation)

SM2 is curve sm2p256v1 with the 32-byte hash used directly as the digest ``e`` (no ``Z_A``), as
Penglai signs; signatures are ``r ‖ s`` big-endian. SM3 comes from ``cryptography``
(OpenSSL); SM2 verification from the RustCrypto ``sm2`` crate compiled into ``pltvm._core``
(``cryptography`` has no SM2 signatures), exposed as a plain function: no monitor, no enclave.
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

# Layout constants (docs/abi.md §1.1, §1.3).
PAGE = 4096
STACK_BASE = 0x38_0000_0000
SHM_BASE = 0x39_0000_0000
KBUFFER = 0xFFFF_FFE0_0000_0000
DEFAULT_STACK_SIZE = 0x10000
MAX_ELF_MEM = 512 << 20
MAX_STACK = 64 << 20
SHT_NOBITS = 8
ROOT_VA_BASE = 0xFFFF_FF80_0000_0000
_SV39 = (1 << 39) - 1

ROOT_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2)
"""The derive-key root key fixed in Penglai's ``key.c`` (ENCLAVE_KEY and STORAGE_KEY)."""


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905) of ``data``."""
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def update_hash(measurement: bytes, nonce: int) -> bytes:
    """``SM3(measurement ‖ le64(nonce))``: the ``enclave.hash`` of host attestation (§6.2)."""
    return sm3(bytes(measurement) + struct.pack("<Q", nonce & 0xFFFF_FFFF_FFFF_FFFF))


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
            return cls(bytes.fromhex(d["sm"]["hash"]), bytes.fromhex(d["sm"]["signature"]),
                       bytes.fromhex(d["sm"]["sm_pub_key"]), bytes.fromhex(d["enclave"]["hash"]),
                       bytes.fromhex(d["enclave"]["signature"]), int(d["enclave"]["nonce"]),
                       bytes.fromhex(d["dev_pub_key"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ReportFormatError(f"not a report: {e}") from None

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


@dataclass(frozen=True)
class VerifiedReport:
    """What :func:`verify` established."""

    report: Report
    nonce: int
    enclave_hash: bytes
    device_public_key: bytes
    sm_public_key: bytes
    sm_hash: bytes
    device_key_pinned: bool
    """Whether the device key was compared with one the caller trusts (else only the report's
    own chain was checked)."""
    measurement: Optional[bytes]
    """The expected measurement, if one was given and matched."""


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
) -> VerifiedReport:
    """Verify a report; raise an :class:`AttestationError` subclass naming the failed check.

    Checks, in order: the format (:class:`ReportFormatError`); the device key equals
    ``device_public_key`` if given, ``sm.signature`` verifies under the device key, ``sm.hash``
    equals ``expected_sm_hash`` if given, and ``enclave.signature`` verifies under
    ``sm.sm_pub_key`` (:class:`SignatureChainError`); ``enclave.nonce == nonce`` if given
    (:class:`NonceMismatchError`); ``enclave.hash == SM3(expected_measurement ‖ le64(nonce))``
    if an expected measurement is given (:class:`MeasurementMismatchError`).

    Without ``device_public_key`` the chain is checked only against the report's own device
    key: anyone can make such a report. Pin the device key (:func:`local_device_public_key`
    for this machine's, the test key for reports made with the test keys).
    """
    if isinstance(report, Report):
        r = report
    elif isinstance(report, (bytes, bytearray, memoryview)):
        r = Report.from_bytes(report)
    elif hasattr(report, "sm") and hasattr(report, "enclave"):
        r = Report.from_report_t(report)
    else:
        raise ReportFormatError(f"cannot read a report from {type(report).__name__}")
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
    if nonce is not None and r.nonce != (nonce & 0xFFFF_FFFF_FFFF_FFFF):
        raise NonceMismatchError(f"nonce: the report has {r.nonce:#x}, expected {nonce:#x}")
    m: Optional[bytes] = None
    if expected_measurement is not None:
        m = _as_bytes(expected_measurement, HASH_SIZE, "expected_measurement")
        if update_hash(m, r.nonce) != r.enclave_hash:
            raise MeasurementMismatchError(
                f"measurement: enclave.hash is not SM3({m.hex()} || nonce {r.nonce:#x})")
    return VerifiedReport(r, r.nonce, r.enclave_hash, r.dev_pub_key, r.sm_pub_key, r.sm_hash, pinned, m)


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


def _elf_fields(b: bytes) -> tuple[int, list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
    """(entry, [(flags, offset, vaddr, filesz)], [(sh_type, addr, size)]) as the driver reads
    them; the same checks as the monitor's loader (B17)."""
    if len(b) < 64 or b[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    if b[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    if b[5] != 1:
        raise ValueError("not a little-endian ELF file")
    (machine,) = struct.unpack_from("<H", b, 18)
    if machine != 243:
        raise ValueError(f"e_machine is {machine}, not EM_RISCV (243)")
    entry, phoff, shoff = struct.unpack_from("<QQQ", b, 24)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", b, 54)

    def table(off: int, num: int, size: int, minimum: int, what: str) -> list[int]:
        if num == 0:
            return []
        if size < minimum:
            raise ValueError(f"{what} entry size {size} is smaller than {minimum}")
        if off + num * size > len(b):
            raise ValueError(f"{what} table at {off:#x} ({num} entries) extends past the end of the file")
        return [off + i * size for i in range(num)]

    phdrs = []
    for o in table(phoff, phnum, phentsize, 56, "program header"):
        _, flags, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", b, o)
        if offset + filesz > len(b):
            raise ValueError(f"program header at {vaddr:#x}: file part extends past the end of the file")
        phdrs.append((flags, offset, vaddr, filesz))
    shdrs = []
    if shoff:
        for o in table(shoff, shnum, shentsize, 64, "section header"):
            (sh_type,) = struct.unpack_from("<I", b, o + 4)
            addr, _, size = struct.unpack_from("<QQQ", b, o + 16)
            shdrs.append((sh_type, addr, size))
    if entry == 0:
        raise ValueError("e_entry is 0")
    for flags, offset, vaddr, filesz in phdrs:
        if filesz and vaddr % PAGE:
            raise ValueError(f"program header at {vaddr:#x} is not page-aligned "
                             "(the Penglai loader copies to page starts)")
    return entry, phdrs, shdrs


def measure(
    elf: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview],
    kind: str = "normal",
    *,
    stack_size: int = DEFAULT_STACK_SIZE,
    shm: Union[bytes, bytearray, memoryview, None] = None,
    nonce: int = 0,
) -> bytes:
    """The measurement the monitor stores for this ELF, computed without running anything.

    ``kind``: ``"normal"`` (image, ``stack_size`` bytes of stack, the host ``shm`` contents if
    given, the kbuffer page), ``"shadow"`` (a template: image only; its fork instances carry
    this hash) or ``"server"`` (image, stack, shm; no kbuffer). ``shm`` is the shared memory's
    contents at create time (a non-zero multiple of 4096 bytes): part of the identity (B5).
    ``nonce`` other than 0 gives the §6.1 hash with that nonce (what ``get_report(NULL)``
    would report for a freshly created enclave). Raises ValueError for files the monitor
    refuses.
    """
    if isinstance(elf, (bytes, bytearray, memoryview)):
        data = bytes(elf)
    else:
        with open(elf, "rb") as f:
            data = f.read()
    if kind not in ("normal", "shadow", "server"):
        raise ValueError(f'kind must be "normal", "shadow" or "server", not {kind!r}')
    if kind == "shadow":
        stack_size = 0  # the driver forces it (§5.1)
        if shm is not None:
            raise ValueError("a shadow template has no shm (instances get theirs at fork)")
    if stack_size < 0:
        raise ValueError("stack_size must not be negative")
    shm_bytes = None if shm is None else bytes(shm)
    if shm_bytes is not None and (len(shm_bytes) == 0 or len(shm_bytes) % PAGE):
        raise ValueError("shm must be a non-zero multiple of 4096 bytes")
    entry, phdrs, shdrs = _elf_fields(data)

    elf_mem = sum(s[2] for s in shdrs if s[0] == SHT_NOBITS and s[1] != 0) + sum(p[3] for p in phdrs)
    if elf_mem > MAX_ELF_MEM:
        raise ValueError(f"the ELF needs {elf_mem:#x} bytes, more than the driver's 512 MiB limit")
    if stack_size > MAX_STACK:
        raise ValueError(f"stack size {stack_size:#x} is larger than the driver's 64 MiB limit")

    # Page map, keyed by the VA's Sv39 part (the tables use only bits 12..38); None = zero page.
    # Assignment order is the loader's, so a later mapping of a page replaces the earlier one.
    pages: dict[int, Optional[bytes]] = {}
    mask = ~(PAGE - 1)
    u64 = (1 << 64) - 1

    def key(v: int) -> int:
        return (v & mask) & _SV39

    if stack_size:
        v = STACK_BASE - stack_size
        while v < STACK_BASE:
            pages[key(v)] = None
            v += PAGE
    for sh_type, addr, size in shdrs:
        if addr == 0 or sh_type != SHT_NOBITS:
            continue
        end = min(addr + size, u64)
        v = addr
        while v < end:
            pages[key(v)] = None
            v += PAGE
    for flags, offset, vaddr, filesz in phdrs:
        end = min(vaddr + filesz, u64)
        v = vaddr
        while v < end:
            n = PAGE if v + PAGE < end else (filesz % PAGE or PAGE)
            off = offset + (v - vaddr)
            pages[key(v)] = data[off:off + n]
            v += PAGE
    if kind == "normal":
        pages[key(KBUFFER)] = None
    if shm_bytes is not None:
        for i in range(0, len(shm_bytes), PAGE):
            pages[key(SHM_BASE + i)] = shm_bytes[i:i + PAGE]

    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(struct.pack("<Q", entry))
    zero = bytes(PAGE)
    prev = None
    for k in sorted(pages):
        if prev is None or k != prev + PAGE:
            h.update(struct.pack("<Q", ROOT_VA_BASE | k) + b"\0")  # B3 VA, B4 attribute byte
        content = pages[k]
        if content is None:
            h.update(zero)
        else:
            h.update(content)
            if len(content) < PAGE:
                h.update(zero[len(content):])
        prev = k
    h.update(struct.pack("<Q", nonce & u64))
    return h.finalize()
