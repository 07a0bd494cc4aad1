"""``pltvm attest`` and ``pltvm verify``: freshness that cannot be checked is refused, reports
made with a stack size or shm verify against ``--expect ELF`` with the same options, errors
name what is wrong."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from conftest import needs_native, run_cli
from measure_oracle import oracle_measure
from sm2_oracle import gm_verify_report

import pltvm.enclaves

pytestmark = needs_native


def _attest(tmp_path: Path, *args: str, name: str = "r.bin") -> Path:
    out = tmp_path / name
    r = run_cli("attest", "hello-world", "--test-keys", "-o", str(out), *args)
    assert r.returncode == 0, r.stderr
    gm_verify_report(out.read_bytes())
    return out


def test_verify_with_pinned_key_measurement_and_nonce(tmp_path: Path) -> None:
    rep = _attest(tmp_path, "--nonce", "0x1234")
    r = run_cli("verify", str(rep), "--expect", "hello-world", "--nonce", "0x1234", "--device-key", "test")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "nonce: 0x1234 (matches --nonce: the report is fresh)" in out
    assert "NOT pinned" not in out
    m = oracle_measure(pltvm.enclaves.path("hello-world").read_bytes())
    assert f"measurement: {m.hex()} (matches)" in out
    # The same with the measurement as hex.
    r = run_cli("verify", str(rep), "--expect", m.hex(), "--nonce", "0x1234", "--device-key", "test")
    assert r.returncode == 0, r.stderr


def test_nonce_without_expect_is_a_usage_error(tmp_path: Path) -> None:
    rep = _attest(tmp_path, "--nonce", "5")
    r = run_cli("verify", str(rep), "--nonce", "5", "--device-key", "test")
    assert r.returncode == 2 and r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("pltvm: error: --nonce needs --expect") and "not signed" in err
    # Without --nonce it verifies the chain and says the nonce was not checked.
    r = run_cli("verify", str(rep), "--device-key", "test")
    assert r.returncode == 0, r.stderr
    assert "nonce: not checked (the field is not signed)" in r.stdout.decode()


def test_a_replayed_report_with_a_rewritten_nonce_fails(tmp_path: Path) -> None:
    rep = _attest(tmp_path, "--nonce", "1000")
    forged = bytearray(rep.read_bytes())
    struct.pack_into("<Q", forged, 256, 2000)
    f = tmp_path / "forged.bin"
    f.write_bytes(bytes(forged))
    r = run_cli("verify", str(f), "--expect", "hello-world", "--nonce", "2000", "--device-key", "test")
    assert r.returncode == 1, r.stdout
    assert r.stderr.decode().startswith("pltvm verify: FAILED (measurement): ")
    assert "replayed" in r.stderr.decode()


@pytest.mark.parametrize("nonce", ["-1", "0x10000000000000000", str(2**64 + 5)])
def test_out_of_range_nonces_are_usage_errors(tmp_path: Path, nonce: str) -> None:
    rep = _attest(tmp_path)
    r = run_cli("verify", str(rep), "--expect", "hello-world", "--nonce", nonce)
    assert r.returncode == 2 and b"64-bit" in r.stderr


def test_expect_elf_takes_the_create_parameters(tmp_path: Path) -> None:
    shm = tmp_path / "shm.bin"
    shm.write_bytes(b"shared bytes\n" * 100)  # 1300 bytes: one page once padded
    rep = _attest(tmp_path, "--stack-size", "16K", "--shm", str(shm), "--nonce", "9")
    base = ["verify", str(rep), "--expect", "hello-world", "--nonce", "9", "--device-key", "test"]
    r = run_cli(*base, "--stack-size", "16K", "--shm", str(shm))
    assert r.returncode == 0, r.stderr
    data = pltvm.enclaves.path("hello-world").read_bytes()
    padded = shm.read_bytes() + bytes(4096 - 1300)
    assert oracle_measure(data, stack_size=0x4000, shm=padded).hex() in r.stdout.decode()
    # Other parameters describe another enclave.
    for extra in ([], ["--stack-size", "16K"], ["--shm", str(shm)], ["--stack-size", "20K", "--shm", str(shm)]):
        r = run_cli(*base, *extra)
        assert r.returncode == 1 and b"FAILED (measurement)" in r.stderr, extra
    # The same options on pltvm measure give the value the report was made with.
    r = run_cli("measure", "hello-world", "--stack-size", "16K", "--shm", str(shm))
    assert r.stdout.decode().strip() == oracle_measure(data, stack_size=0x4000, shm=padded).hex()


def test_options_that_need_an_elf(tmp_path: Path) -> None:
    rep = _attest(tmp_path)
    for extra in (["--stack-size", "16K"], ["--shadow"]):
        r = run_cli("verify", str(rep), *extra)
        assert r.returncode == 2 and b"give --expect" in r.stderr, extra
    m = oracle_measure(pltvm.enclaves.path("hello-world").read_bytes()).hex()
    r = run_cli("verify", str(rep), "--expect", m, "--stack-size", "16K")
    assert r.returncode == 2 and b"not to a hex measurement" in r.stderr


@pytest.mark.parametrize("key", ["zz", "12", "04" + "ab" * 62, "ab" * 65, "05" + "ab" * 64, ""])
def test_bad_device_keys_are_named(tmp_path: Path, key: str) -> None:
    rep = _attest(tmp_path)
    r = run_cli("verify", str(rep), "--device-key", key)
    assert r.returncode == 2 and r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith(f"pltvm: error: --device-key {key!r}: expected a device public key"), err
    assert "fromhex" not in err and "Traceback" not in err


def test_device_key_forms(tmp_path: Path) -> None:
    from pltvm import _core, attest

    rep = _attest(tmp_path)
    pub = _core.sm2_public_key(attest.test_keys()[0]).hex()
    for key in (pub, "0x" + pub, "04" + pub, pub.upper()):
        r = run_cli("verify", str(rep), "--device-key", key)
        assert r.returncode == 0, (key, r.stderr)
    other = _core.sm2_public_key(bytes([9]) * 32).hex()
    r = run_cli("verify", str(rep), "--device-key", other)
    assert r.returncode == 1 and b"FAILED (device_key)" in r.stderr


def test_json_reports_verify(tmp_path: Path) -> None:
    r = run_cli("attest", "hello-world", "--test-keys", "--json", "--nonce", "77")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    r = run_cli("verify", str(f), "--expect", doc["measurement"], "--nonce", "77", "--device-key", "test")
    assert r.returncode == 0, r.stderr
    f.write_text("{not json")
    r = run_cli("verify", str(f))
    assert r.returncode == 2 and r.stderr.decode().startswith(f"pltvm: error: {f}: not a report")


def test_attest_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "zero-entry.elf"
    data = bytearray(pltvm.enclaves.path("hello-world").read_bytes())
    struct.pack_into("<Q", data, 24, 0)
    bad.write_bytes(bytes(data))
    for cmd in ("attest", "measure"):
        r = run_cli(cmd, str(bad))
        assert r.returncode == 2
        assert r.stderr.decode() == f"pltvm: error: {bad}: e_entry is 0\n", cmd
    empty = tmp_path / "empty.shm"
    empty.write_bytes(b"")
    r = run_cli("attest", "hello-world", "--shm", str(empty))
    assert r.returncode == 2 and f"--shm {empty}: the file is empty".encode() in r.stderr
    r = run_cli("attest", "hello-world", "--shm", str(tmp_path / "missing"))
    assert r.returncode == 2 and b"missing" in r.stderr
