"""gmssl (pure-Python SM2/SM3, a required test dependency) as the independent check of pltvm's
signatures and hashes.

pltvm signs and verifies with the RustCrypto ``sm2`` crate; gmssl shares no code with it. Both
use Penglai's form: ``r ‖ s`` over the 32-byte hash used directly as ``e`` (gmssl's ``sign`` and
``verify``, not its ``*_with_sm3`` variants that add ``Z_A``).
"""

from __future__ import annotations

import random
import struct
from typing import Any, Union

from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3_mod

N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def _signer(private_key: bytes = b"", public_key: bytes = b"") -> Any:
    s = gm_sm2.CryptSM2(private_key=private_key.hex() or "00", public_key="00")
    # gmssl's constructor strips every leading "0"/"4" character of the key's hex (lstrip("04")):
    # set the attribute directly so keys starting with those digits work.
    s.public_key = public_key.hex()
    return s


def gm_sm3(data: bytes) -> bytes:
    """SM3 by gmssl."""
    return bytes.fromhex(gm_sm3_mod.sm3_hash(gm_func.bytes_to_list(data)))


def gm_public_key(private_key: bytes) -> bytes:
    """``X ‖ Y`` of a private scalar, computed by gmssl (d·G)."""
    s = _signer(private_key)
    return bytes.fromhex(s._kg(int.from_bytes(private_key, "big"), s.ecc_table["g"]))


def gm_verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """gmssl's verification of ``r ‖ s`` over ``digest`` (used directly as e)."""
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):  # gmssl does not range-check r and s itself
        return False
    return bool(_signer(public_key=public_key).verify(signature.hex(), digest))


def gm_sign(private_key: bytes, digest: bytes, rng: random.Random) -> bytes:
    """gmssl's signature over ``digest`` with a random k from ``rng``."""
    s = _signer(private_key)
    while True:
        k = rng.randrange(1, N)
        sig = s.sign(digest, f"{k:064x}")
        if sig is not None:
            return bytes.fromhex(sig)


def gm_verify_report(report: Union[bytes, Any]) -> None:
    """Assert that both signatures of a ``report_t`` (bytes or ``pltvm.attest.Report``) verify
    with gmssl: ``sm.signature`` under ``dev_pub_key`` over ``SM3(sm.hash ‖ sm_pub_key)``
    (gmssl's SM3 too) and ``enclave.signature`` under ``sm_pub_key`` over ``enclave.hash``."""
    raw = bytes(report)
    assert len(raw) == 328
    sm_hash, sm_sig, sm_pub = raw[0:32], raw[32:96], raw[96:160]
    enclave_hash, enclave_sig = raw[160:192], raw[192:256]
    (_nonce,) = struct.unpack_from("<Q", raw, 256)
    dev_pub = raw[264:328]
    assert gm_verify(dev_pub, gm_sm3(sm_hash + sm_pub), sm_sig), "gmssl rejects sm.signature"
    assert gm_verify(sm_pub, enclave_hash, enclave_sig), "gmssl rejects enclave.signature"
