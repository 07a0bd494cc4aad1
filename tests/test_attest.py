"""Reports, keys and verification (docs/abi.md §4.2, §6.2–§6.4; B6–B9)."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import A0, A1, A2, A6, A7, ECALL, S0, Seg, addi, code, li, make_elf, needs_native, sd

import pltvm
import pltvm.enclaves
from pltvm import attest
from pltvm.errors import (
    AttestationError,
    MeasurementMismatchError,
    NonceMismatchError,
    ReportFormatError,
    SignatureChainError,
)

pytestmark = needs_native
TEXT = 0x1000


def _core() -> Any:
    from pltvm import _core

    return _core


@pytest.fixture
def mon() -> Any:
    m = _core().Monitor.new()
    m.set_keys(test=True)
    return m


def dev_pub(m: Any) -> bytes:
    return bytes(m.platform()["dev_pub_key"])


def hello() -> bytes:
    return pltvm.enclaves.path("hello-world").read_bytes()


# --- known answers -------------------------------------------------------------------------


def test_sm3_known_answers() -> None:
    # GB/T 32905-2016, Appendix A examples 1 and 2.
    assert attest.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert attest.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


@pytest.mark.parametrize("ikm,salt,info,length,okm", [
    # RFC 5869 A.1, A.3
    ("0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    ("0b" * 22, "", "", 42,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
])
def test_hkdf_rfc5869(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    out = HKDF(hashes.SHA256(), length, bytes.fromhex(salt) or None, bytes.fromhex(info)).derive(bytes.fromhex(ikm))
    assert out.hex() == okm


# --- reports -------------------------------------------------------------------------------


def test_report_layout_and_chain(mon: Any) -> None:
    e = mon.create(hello())
    raw = e.attest(0x1122334455667788)
    assert len(raw) == attest.REPORT_SIZE == 328
    r = attest.Report.from_bytes(raw)
    assert r.to_bytes() == raw and bytes(r) == raw
    assert raw[256:264] == bytes.fromhex("8877665544332211")
    p = mon.platform()
    assert (r.dev_pub_key, r.sm_pub_key, r.sm_hash, r.sm_signature) == \
        (p["dev_pub_key"], p["sm_pub_key"], p["sm_hash"], p["sm_signature"])
    assert r.sm_hash == attest.sm3(p["description"].encode())
    assert "pltvm " + _core().__version__ in p["description"]
    m = bytes(e.measurement)
    assert r.enclave_hash == attest.update_hash(m, 0x1122334455667788)
    v = attest.verify(raw, expected_measurement=m, nonce=0x1122334455667788, device_public_key=dev_pub(mon),
                      expected_sm_hash=p["sm_hash"])
    assert v.device_key_pinned and v.measurement == m and v.nonce == 0x1122334455667788
    assert attest.verify(raw).device_key_pinned is False
    assert attest.Report.from_dict(r.as_dict()) == r
    assert attest.verify(r.to_report_t(), nonce=0x1122334455667788).report == r


def test_reports_are_deterministic_and_nonce_dependent(mon: Any) -> None:
    e = mon.create(hello())
    assert e.attest(5) == e.attest(5), "RFC 6979: same input, same signature (B8 fix)"
    a, b = attest.Report.from_bytes(e.attest(5)), attest.Report.from_bytes(e.attest(6))
    assert a.enclave_hash != b.enclave_hash and a.enclave_signature != b.enclave_signature


def _region(i: int) -> str:
    byte = i // 8
    if byte < 160:
        return "sm_signature"  # sm.hash, sm.signature and sm_pub_key are what the device key signed
    if byte < 256:
        return "enclave_signature"
    if byte < 264:
        return "nonce"
    return "device_key"


def test_every_bit_flip_fails_with_the_right_reason(mon: Any) -> None:
    e = mon.create(hello())
    m = bytes(e.measurement)
    raw = e.attest(42)
    dev = dev_pub(mon)
    seen = set()
    for i in range(len(raw) * 8):
        b = bytearray(raw)
        b[i // 8] ^= 1 << (i % 8)
        with pytest.raises(AttestationError) as ei:
            attest.verify(bytes(b), expected_measurement=m, nonce=42, device_public_key=dev)
        want = _region(i)
        assert ei.value.check == want, (i, ei.value)
        kind = {"nonce": NonceMismatchError}.get(want, SignatureChainError)
        assert isinstance(ei.value, kind)
        seen.add(want)
    assert seen == {"sm_signature", "enclave_signature", "nonce", "device_key"}
    # Unpinned: a changed device key breaks sm.signature instead; a changed nonce field with no
    # expected nonce is caught by the measurement check.
    b = bytearray(raw)
    b[300] ^= 4
    with pytest.raises(SignatureChainError) as ei:
        attest.verify(bytes(b), expected_measurement=m)
    assert ei.value.check == "sm_signature"
    b = bytearray(raw)
    b[256] ^= 1
    with pytest.raises(MeasurementMismatchError):
        attest.verify(bytes(b), expected_measurement=m)


def test_wrong_nonce_measurement_format(mon: Any) -> None:
    e = mon.create(hello())
    raw = e.attest(7)
    with pytest.raises(NonceMismatchError, match="expected 0x8"):
        attest.verify(raw, nonce=8)
    other = attest.measure(pltvm.enclaves.path("mem"))
    with pytest.raises(MeasurementMismatchError) as ei:
        attest.verify(raw, expected_measurement=other, nonce=7)
    assert ei.value.check == "measurement"
    with pytest.raises(ReportFormatError):
        attest.verify(raw[:-1])
    with pytest.raises(ValueError):
        attest.verify(raw[:-1])
    with pytest.raises(SignatureChainError) as ei:
        attest.verify(raw, expected_sm_hash=bytes(32))
    assert ei.value.check == "sm_hash"
    # A report signed by another device does not pass for the pinned one.
    mon2 = _core().Monitor.new()
    mon2.set_keys(bytes([1]) * 32, bytes([2]) * 32)
    raw2 = mon2.create(hello()).attest(7)
    attest.verify(raw2, nonce=7, expected_measurement=bytes(e.measurement))
    with pytest.raises(SignatureChainError, match="device key"):
        attest.verify(raw2, device_public_key=dev_pub(mon))


def test_attest_state_rules(mon: Any) -> None:
    loop = pltvm.enclaves.path("loop").read_bytes()
    e = mon.create(loop)
    assert e.state == "FRESH"
    e.attest(1)
    r = e.run(budget=1000, output=lambda b: None)
    assert r.reason == "budget" and e.state == "RUNNABLE"
    with pytest.raises(RuntimeError, match="RUNNABLE"):
        e.attest(1)
    assert e.stop() == 0 and e.state == "STOPPED"
    attest.verify(e.attest(2), nonce=2, expected_measurement=attest.measure(loop))
    e.destroy()
    with pytest.raises(RuntimeError):
        e.attest(1)


def test_plenclave_attest_fills_report_t(tmp_path: Path) -> None:
    from pltvm import host as H

    H.default_device().monitor.set_keys(test=True)
    elf = H.elf_args()
    H.elf_args_init(elf, str(pltvm.enclaves.path("hello-world")))
    enc = H.PLenclave()
    params = H.enclave_args()
    assert H.PLenclave_init(enc) == 0
    H.enclave_args_init(params)
    assert H.PLenclave_create(enc, elf, params) == 0
    assert H.PLenclave_attest(enc, 99) == 0
    rep = enc.attest_param.report
    assert rep.enclave.nonce == 99 and len(rep.dev_pub_key) == 64
    v = attest.verify(rep, nonce=99, expected_measurement=attest.measure(pltvm.enclaves.path("hello-world")),
                      device_public_key=_core().sm2_public_key(attest.test_keys()[0]))
    assert v.nonce == 99
    H.PLenclave_destroy(enc)
    H.PLenclave_destruct(enc)
    H.elf_args_destroy(elf)


def test_pythonic_enclave_attest() -> None:
    with pltvm.Device() as d:
        d.monitor.set_keys(test=True)
        e = d.create("hello-world")
        r = e.attest(3)
        assert isinstance(r, attest.Report)
        attest.verify(r, nonce=3, expected_measurement=e.measurement)


# --- in-enclave get_report (94) and get_key (88) --------------------------------------------

NONCE = 0x5A5A


def calls_elf(tag: int = 0) -> bytes:
    """get_report(NULL, shm, NONCE); get_key(ENCLAVE_KEY, shm+512, 32); get_key(STORAGE_KEY,
    shm+576, 16); get_key(ATTEST_KEY, shm+640, 32); results at shm+1024.. ; exit(tag)."""
    ext = li(A6, 0x100101)

    def call(fid: int, a0: int, a1_off: int, a2: int, slot: int) -> list[int]:
        return [*li(A0, a0), addi(A1, S0, a1_off), *li(A2, a2), *ext, *li(A7, fid), ECALL, sd(A0, 1024 + 8 * slot, S0)]

    prog = code(
        addi(S0, A0, 0),
        call(94, 0, 0, NONCE, 0),
        call(88, 0, 512, 32, 1),
        call(88, 1, 576, 16, 2),
        call(88, 2, 640, 32, 3),
        li(A0, tag), ext, li(A7, 99), ECALL,
    )
    return make_elf([Seg(TEXT, prog, flags=7)], TEXT)


def run_calls(mon: Any, elf: bytes) -> tuple[bytes, bytes]:
    shm = bytes(range(256)) * 16
    e = mon.create(elf, shm=shm)
    m = bytes(e.measurement)
    r = e.run(shm=shm, output=lambda b: None)
    assert r.reason == "exit", r
    return m, bytes(r.shm)


def test_get_report_remeasures_the_live_address_space(mon: Any) -> None:
    elf = calls_elf()
    shm0 = bytes(range(256)) * 16
    m, shm = run_calls(mon, elf)
    assert struct.unpack_from("<4q", shm, 1024) == (0, 0, 0, 0)
    rep = attest.Report.from_bytes(shm[:328])
    assert rep.nonce == NONCE
    v = attest.verify(rep, nonce=NONCE, device_public_key=dev_pub(mon))
    # B6: a fresh §6.1 measurement with the nonce (nothing was written before the call) ...
    assert v.enclave_hash == attest.measure(elf, shm=shm0, nonce=NONCE)
    # ... which is not what host attestation reports.
    assert v.enclave_hash != attest.update_hash(m, NONCE)


def test_get_key_follows_the_measurement(mon: Any) -> None:
    m1, s1 = run_calls(mon, calls_elf(0))
    m1b, s1b = run_calls(mon, calls_elf(0))
    m2, s2 = run_calls(mon, calls_elf(1))
    assert m1 == m1b and m1 != m2
    k1, k2 = s1[512:544], s2[512:544]
    assert k1 == s1b[512:544], "same measurement, same key"
    assert k1 != k2, "different measurement, different key"
    assert k1 == attest.derive_key(m1, 32)  # Rust hkdf vs cryptography's HKDF
    assert s1[576:592] == attest.derive_key(m1, 16), "STORAGE_KEY uses the same root key"
    assert s1[640:672] == shm_orig()[640:672], "ATTEST_KEY writes nothing (B9)"


def shm_orig() -> bytes:
    return bytes(range(256)) * 16


# --- keys -------------------------------------------------------------------------------------


def test_keys_from_the_host_program() -> None:
    core = _core()
    d, s = bytes(range(1, 33)), bytes(range(2, 34))
    m = core.Monitor.new()
    m.set_keys(core.private_key_pem(d).encode(), s.hex().encode())
    p = m.platform()
    assert p["dev_pub_key"] == core.sm2_public_key(d) and p["sm_pub_key"] == core.sm2_public_key(s)
    assert p["origin"] == "host"
    with pytest.raises(ValueError):
        m.set_keys(bytes(32), s)  # 0 is not a private key
    with pytest.raises(ValueError):
        m.set_keys(b"junk", s)


def test_key_store_is_created_private_and_reused(tmp_path: Path) -> None:
    env = dict(os.environ, PLTVM_KEY_DIR=str(tmp_path / "keys"))
    env.pop("PLTVM_TEST_KEYS", None)
    code_ = "import pltvm.attest as a; print(a.local_device_public_key().hex())"
    out = [subprocess.run([sys.executable, "-c", code_], env=env, capture_output=True, text=True, check=True).stdout
           for _ in range(2)]
    assert out[0] == out[1] and len(out[0].strip()) == 128
    f = tmp_path / "keys" / "platform-keys"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    env["PLTVM_TEST_KEYS"] = "1"
    test = subprocess.run([sys.executable, "-c", code_], env=env, capture_output=True, text=True, check=True).stdout
    assert test.strip() == _core().sm2_public_key(attest.test_keys()[0]).hex()


def test_signatures_verify_with_an_independent_sm2() -> None:
    """gmssl (pure Python, test extras) checks the digest-level SM2 signatures (e = hash)."""
    gm = pytest.importorskip("gmssl.sm2")
    core = _core()
    m = core.Monitor.new()
    m.set_keys(test=True)
    raw = m.create(hello()).attest(11)
    r = attest.Report.from_bytes(raw)

    def check(pub: bytes, digest: bytes, sig: bytes) -> bool:
        v = gm.CryptSM2(private_key="00", public_key=pub.hex())
        if pub.hex().startswith("04"):  # gmssl strips a leading "04" prefix (and more); skip
            pytest.skip("gmssl cannot take a public key whose hex starts with 04")
        return bool(v.verify(sig.hex(), digest))

    assert check(r.sm_pub_key, r.enclave_hash, r.enclave_signature)
    assert check(r.dev_pub_key, attest.sm_signed_digest(r.sm_hash, r.sm_pub_key), r.sm_signature)
    bad = bytearray(r.enclave_hash)
    bad[0] ^= 1
    assert not check(r.sm_pub_key, bytes(bad), r.enclave_signature)
    # and gmssl's own SM3 agrees with cryptography's
    from gmssl import func, sm3

    assert sm3.sm3_hash(func.bytes_to_list(b"abc")) == attest.sm3(b"abc").hex()


# --- fork ---------------------------------------------------------------------------------------


def test_fork_report_carries_the_template_measurement(mon: Any) -> None:
    """A fork instance reports SM3(template hash ‖ nonce) (B36)."""
    data = hello()
    tpl = mon.create(data, type=2)
    t_hash = attest.measure(data, "shadow")
    assert bytes(tpl.measurement) == t_hash
    inst = tpl.fork()
    assert bytes(inst.measurement) == t_hash, "a fork instance must carry its template's hash"
    v = attest.verify(inst.attest(9), nonce=9, expected_measurement=t_hash, device_public_key=dev_pub(mon))
    assert v.measurement == t_hash
