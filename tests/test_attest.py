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
from sm2_oracle import gm_public_key, gm_sign, gm_sm3, gm_verify, gm_verify_report

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
    """The monitor's SM3 (the one its measurement stream runs through) and the verifier's."""
    core = _core()
    # GB/T 32905-2016, Appendix A examples 1 and 2.
    for msg, want in [(b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
                      (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")]:
        assert core.sm3(msg).hex() == want
        assert attest.sm3(msg).hex() == want
    # Lengths around the 64-byte block and its padding boundary, checked by gmssl's SM3.
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 4096 + 9):
        msg = bytes((7 * i + n) & 0xFF for i in range(n))
        assert core.sm3(msg) == gm_sm3(msg), n
        assert attest.sm3(msg) == gm_sm3(msg), n


@pytest.mark.parametrize("ikm,salt,info,length,okm", [
    # RFC 5869 A.1, A.2, A.3
    ("0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (bytes(range(0x50)).hex(), bytes(range(0x60, 0xB0)).hex(), bytes(range(0xB0, 0x100)).hex(), 82,
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
     "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
    ("0b" * 22, "", "", 42,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
])
def test_hkdf_rfc5869(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    """The monitor's HKDF-SHA256, the one get_key derives keys with."""
    out = _core().hkdf_sha256(bytes.fromhex(ikm), bytes.fromhex(salt), bytes.fromhex(info), length)
    assert out.hex() == okm


def test_hkdf_length_limits() -> None:
    core = _core()
    assert len(core.hkdf_sha256(b"k", b"s", b"", 255 * 32)) == 8160
    assert core.hkdf_sha256(b"k", b"s", b"", 0) == b""
    with pytest.raises(ValueError, match="at most 8160"):
        core.hkdf_sha256(b"k", b"s", b"", 255 * 32 + 1)


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
    assert v.device_key_pinned and v.measurement == m and v.nonce == 0x1122334455667788 and v.fresh
    gm_verify_report(raw)
    # The measurement, independently: the monitor's stored value is what the model of the
    # loader and hash stream gives for the file.
    from measure_oracle import oracle_measure

    assert m == oracle_measure(hello())
    unpinned = attest.verify(raw)
    assert unpinned.device_key_pinned is False and unpinned.nonce is None and not unpinned.fresh
    assert attest.Report.from_dict(r.as_dict()) == r
    assert attest.verify(r.to_report_t(), nonce=0x1122334455667788, expected_measurement=m).report == r


def test_reports_are_deterministic_and_nonce_dependent(mon: Any) -> None:
    e = mon.create(hello())
    assert e.attest(5) == e.attest(5), "RFC 6979: same input, same signature (B8 fix)"
    a, b = attest.Report.from_bytes(e.attest(5)), attest.Report.from_bytes(e.attest(6))
    assert a.enclave_hash != b.enclave_hash and a.enclave_signature != b.enclave_signature
    for r in (a, b):
        gm_verify_report(r)
        assert r.enclave_hash == gm_sm3(bytes(e.measurement) + struct.pack("<Q", r.nonce))


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
    # gmssl agrees on a sample of the flips in signed bytes (all four fields' first and last
    # bits, and seeded random ones; gmssl is pure Python, so not all 2,624).
    import random

    rng = random.Random(7)
    sample = {0, 255, 256, 767, 768, 1279, 1280, 1535, 1536, 2047} | {rng.randrange(0, 2048) for _ in range(12)}
    for i in sorted(sample):
        b = bytearray(raw)
        b[i // 8] ^= 1 << (i % 8)
        r = attest.Report.from_bytes(bytes(b))
        sm_ok = gm_verify(r.dev_pub_key, gm_sm3(r.sm_hash + r.sm_pub_key), r.sm_signature)
        enc_ok = gm_verify(r.sm_pub_key, r.enclave_hash, r.enclave_signature)
        byte = i // 8
        # sm.hash, sm.signature: the device signature breaks; sm_pub_key: both (the enclave
        # signature is checked under it); enclave.hash, enclave.signature: the SM signature.
        want = (False, True) if byte < 96 else (False, False) if byte < 160 else (True, False)
        assert (sm_ok, enc_ok) == want, i
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
    gm_verify_report(raw)
    with pytest.raises(NonceMismatchError, match="expected 0x8"):
        attest.verify(raw, nonce=8, expected_measurement=bytes(e.measurement))
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
    gm_verify_report(raw2)
    assert attest.Report.from_bytes(raw2).dev_pub_key == gm_public_key(bytes([1]) * 32)
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
    raw = e.attest(2)
    attest.verify(raw, nonce=2, expected_measurement=attest.measure(loop))
    gm_verify_report(raw)
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
    gm_verify_report(attest.Report.from_report_t(rep))
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
        gm_verify_report(r)


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
    gm_verify_report(rep)
    # B6: a fresh §6.1 measurement with the nonce (nothing was written before the call) ...
    live = attest.measure(elf, shm=shm0, nonce=NONCE)
    from measure_oracle import oracle_measure

    assert live == oracle_measure(elf, shm=shm0, nonce=NONCE)
    v = attest.verify(rep, nonce=NONCE, expected_enclave_hash=live, device_public_key=dev_pub(mon))
    assert v.enclave_hash == live and v.nonce == NONCE and v.fresh
    # ... which is not what host attestation reports.
    assert v.enclave_hash != attest.update_hash(m, NONCE)
    with pytest.raises(MeasurementMismatchError):
        attest.verify(rep, nonce=NONCE, expected_measurement=m, device_public_key=dev_pub(mon))


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


def test_our_signatures_verify_with_gmssl_and_gmssl_signatures_with_ours() -> None:
    """Both directions against gmssl (pure Python SM2/SM3, e = the 32-byte hash, no Z_A)."""
    import random

    core = _core()
    rng = random.Random(2024)
    n = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
    for _ in range(4):
        d = rng.randrange(1, n - 1).to_bytes(32, "big")
        pub = core.sm2_public_key(d)
        assert pub == gm_public_key(d), "our public key derivation agrees with gmssl's"
        digest = bytes(rng.randrange(256) for _ in range(32))
        ours = core.sm2_sign(d, digest)
        assert gm_verify(pub, digest, ours)
        theirs = gm_sign(d, digest, rng)
        assert theirs != ours and core.sm2_verify(pub, digest, theirs)
        other = bytes([digest[0] ^ 1]) + digest[1:]
        assert not core.sm2_verify(pub, other, theirs) and not gm_verify(pub, other, ours)


def test_a_report_made_entirely_with_gmssl_verifies() -> None:
    """A report_t assembled with gmssl's SM2 and SM3 (device and SM keys of its own, the
    measurement of the bundled hello-world from the independent model) passes pltvm.attest.verify
    pinned to that device key, and fails when one byte of it changes."""
    import random

    from measure_oracle import oracle_measure

    rng = random.Random(5)
    dev, sm = bytes(range(3, 35)), bytes(range(40, 72))
    dev_pub, sm_pub = gm_public_key(dev), gm_public_key(sm)
    sm_hash = gm_sm3(b"a monitor that is not pltvm")
    m = oracle_measure(hello())
    nonce = 0xFEDC_BA98_7654_3210
    enclave_hash = gm_sm3(m + struct.pack("<Q", nonce))
    raw = (sm_hash + gm_sign(dev, gm_sm3(sm_hash + sm_pub), rng) + sm_pub + enclave_hash
           + gm_sign(sm, enclave_hash, rng) + struct.pack("<Q", nonce) + dev_pub)
    v = attest.verify(raw, device_public_key=dev_pub, expected_measurement=m, nonce=nonce, expected_sm_hash=sm_hash)
    assert v.fresh and v.nonce == nonce and v.measurement == m
    # The measurement the monitor would store for that file is the one gmssl's report names.
    assert attest.measure(hello()) == m
    for pos, check in ((40, "sm_signature"), (170, "enclave_signature"), (300, "device_key")):
        b = bytearray(raw)
        b[pos] ^= 0x10
        with pytest.raises(SignatureChainError) as ei:
            attest.verify(bytes(b), device_public_key=dev_pub, expected_measurement=m, nonce=nonce)
        assert ei.value.check == check


# --- replays and nonces (the nonce field is not signed) -------------------------------------


def test_a_replayed_report_with_a_rewritten_nonce_is_refused(mon: Any) -> None:
    e = mon.create(hello())
    m = bytes(e.measurement)
    old = e.attest(1000)
    forged = bytearray(old)
    struct.pack_into("<Q", forged, 256, 2000)  # the verifier's fresh nonce, written into an old report
    forged_b = bytes(forged)
    # The signatures still verify: the nonce field is outside them (gmssl agrees) ...
    gm_verify_report(forged_b)
    # ... so a nonce check without the measurement cannot be made, and is refused, not faked.
    with pytest.raises(ValueError, match="expected_measurement"):
        attest.verify(forged_b, device_public_key=dev_pub(mon), nonce=2000)
    with pytest.raises(MeasurementMismatchError, match="replayed"):
        attest.verify(forged_b, device_public_key=dev_pub(mon), nonce=2000, expected_measurement=m)
    with pytest.raises(MeasurementMismatchError):
        attest.verify(forged_b, device_public_key=dev_pub(mon), expected_measurement=m)
    # Without a measurement nothing vouches for the field: VerifiedReport.nonce says so.
    v = attest.verify(forged_b, device_public_key=dev_pub(mon))
    assert v.nonce is None and not v.fresh and v.report.nonce == 2000
    # The genuine report for the fresh nonce passes.
    v = attest.verify(e.attest(2000), device_public_key=dev_pub(mon), nonce=2000, expected_measurement=m)
    assert v.fresh and v.nonce == 2000


@pytest.mark.parametrize("bad", [-1, 2**64, 2**64 + 5, 2**65, -(2**63)])
def test_out_of_range_nonces_are_errors_not_truncated(mon: Any, bad: int) -> None:
    e = mon.create(hello())
    m = bytes(e.measurement)
    raw = e.attest(bad % 2**64)  # the report a truncating verifier would have accepted
    with pytest.raises(ValueError, match="2\\*\\*64"):
        attest.verify(raw, nonce=bad, expected_measurement=m, device_public_key=dev_pub(mon))
    with pytest.raises(ValueError, match="2\\*\\*64"):
        attest.update_hash(m, bad)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        attest.measure(hello(), nonce=bad)
    d = attest.Report.from_bytes(raw).as_dict()
    d["enclave"]["nonce"] = bad
    with pytest.raises(ReportFormatError):
        attest.Report.from_dict(d)
    with pytest.raises(OverflowError):
        e.attest(bad)


def test_nonce_types(mon: Any) -> None:
    raw = mon.create(hello()).attest(1)
    for bad in (True, 1.0, "1"):
        with pytest.raises(TypeError, match="nonce must be an int"):
            attest.verify(raw, nonce=bad, expected_measurement=bytes(32))  # type: ignore[arg-type]


def test_nonce_limits_are_accepted(mon: Any) -> None:
    e = mon.create(hello())
    m = bytes(e.measurement)
    for n in (0, 1, 2**63, 2**64 - 1):
        v = attest.verify(e.attest(n), nonce=n, expected_measurement=m, device_public_key=dev_pub(mon))
        assert v.nonce == n and v.fresh


def test_expected_enclave_hash_checks(mon: Any) -> None:
    e = mon.create(hello())
    raw = e.attest(3)
    h = attest.Report.from_bytes(raw).enclave_hash
    assert attest.verify(raw, expected_enclave_hash=h, nonce=3).fresh
    with pytest.raises(MeasurementMismatchError):
        attest.verify(raw, expected_enclave_hash=bytes(32))
    with pytest.raises(ValueError, match="expected_enclave_hash must be 32 bytes"):
        attest.verify(raw, expected_enclave_hash=b"short")


def test_attestation_error_is_exported() -> None:
    assert pltvm.AttestationError is AttestationError
    assert "AttestationError" in pltvm.__all__
    assert issubclass(SignatureChainError, pltvm.AttestationError)
    assert issubclass(pltvm.AttestationError, pltvm.PltvmError)


# --- fork ---------------------------------------------------------------------------------------


def test_fork_report_carries_the_template_measurement(mon: Any) -> None:
    """A fork instance reports SM3(template hash ‖ nonce) (B36)."""
    data = hello()
    tpl = mon.create(data, type=2)
    t_hash = attest.measure(data, "shadow")
    assert bytes(tpl.measurement) == t_hash
    inst = tpl.fork()
    assert bytes(inst.measurement) == t_hash, "a fork instance must carry its template's hash"
    raw = inst.attest(9)
    v = attest.verify(raw, nonce=9, expected_measurement=t_hash, device_public_key=dev_pub(mon))
    assert v.measurement == t_hash
    gm_verify_report(raw)
    from measure_oracle import oracle_measure

    assert t_hash == oracle_measure(data, "shadow")
