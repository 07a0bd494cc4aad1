"""One size syntax everywhere (pltvm.sizes): command-line options, PLTVM_SECURE_MEMORY for
pltvm.Device, pltvm.host and the CLI's enclave commands, Device(secure_memory="64M")."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from conftest import needs_native, run_cli

from pltvm import cli, sizes


@pytest.mark.parametrize(
    "text,value",
    [("4096", 4096), ("4M", 4 << 20), ("64m", 64 << 20), ("1G", 1 << 30), ("16K", 16 << 10), ("64MiB", 64 << 20),
     ("0x1000", 4096), ("2gb", 2 << 30), (" 8k ", 8 << 10), ("0xffffffffffffffff", (1 << 64) - 1),
     ("17179869183G", ((1 << 34) - 1) << 30)],
)
def test_parse_size(text: str, value: int) -> None:
    assert sizes.parse_size(text) == value
    assert cli.parse_size is sizes.parse_size  # the CLI's name for it


@pytest.mark.parametrize(
    "text,message",
    [("", "invalid size"), ("M", "invalid size"), ("12X", "invalid size"), ("-1", "invalid size"),
     ("1.5G", "invalid size"), ("64 M B", "invalid size"), ("0", "must be positive"), ("0x0", "must be positive"),
     ("0x10000000000000000", "below 2**64"), ("18446744073709551616", "below 2**64"), ("17179869184G", "below 2**64")],
)
def test_parse_size_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sizes.parse_size(text)


def test_parse_size_allow_zero() -> None:
    assert sizes.parse_size("0", allow_zero=True) == 0
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        sizes.parse_size("0x10000000000000000", allow_zero=True)


def test_secure_memory_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLTVM_SECURE_MEMORY", raising=False)
    assert sizes.secure_memory_from_env() == 1 << 30 and sizes.secure_memory_from_env(5) == 5
    for text, value in (("4M", 4 << 20), ("0x400000", 4 << 20), ("4194304", 4 << 20), ("", 1 << 30)):
        monkeypatch.setenv("PLTVM_SECURE_MEMORY", text)
        assert sizes.secure_memory_from_env() == value
    monkeypatch.setenv("PLTVM_SECURE_MEMORY", "lots")
    with pytest.raises(ValueError) as e:
        sizes.secure_memory_from_env()
    assert str(e.value) == "PLTVM_SECURE_MEMORY must be a number of bytes, not 'lots' (examples: 64M, 1G, 134217728)"
    monkeypatch.setenv("PLTVM_SECURE_MEMORY", "0")
    with pytest.raises(ValueError) as e:
        sizes.secure_memory_from_env()
    assert str(e.value) == "PLTVM_SECURE_MEMORY must be a number of bytes, not '0' (size must be positive, not '0')"


@needs_native
def test_devices_read_the_env_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    import pltvm
    from pltvm import host

    monkeypatch.setenv("PLTVM_SECURE_MEMORY", "4M")
    assert pltvm.Device().secure_memory == 4 << 20
    assert host.Device().monitor.secure_memory == 4 << 20  # was int("4M", 0): ValueError
    assert pltvm.Device(secure_memory="8M").secure_memory == 8 << 20
    for bad in ("lots", "0", "-4M"):
        monkeypatch.setenv("PLTVM_SECURE_MEMORY", bad)
        for make in (pltvm.Device, host.Device):
            with pytest.raises(ValueError, match="PLTVM_SECURE_MEMORY"):
                make()
    with pytest.raises(ValueError, match="^secure_memory: invalid size"):
        pltvm.Device(secure_memory="lots")


def _env(value: str) -> dict[str, str]:
    return dict(os.environ, PLTVM_SECURE_MEMORY=value, PYTHONDONTWRITEBYTECODE="1")


@needs_native
@pytest.mark.parametrize("command", ["run", "fork-host"])
def test_enclave_commands_take_the_env_size(command: str) -> None:
    import subprocess
    import sys

    def pltvm(*args: str, env: dict[str, str]) -> Any:
        return subprocess.run([sys.executable, "-m", "pltvm", *args], capture_output=True, env=env, timeout=300)

    r = pltvm(command, "hello-world", "2", env=_env("4M"))
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert out.count("hello world!") == 2 and "Traceback" not in err
    r = pltvm(command, "hello-world", "2", env=_env("lots"))
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode() == ("pltvm: error: PLTVM_SECURE_MEMORY must be a number of bytes, not 'lots' "
                                 "(examples: 64M, 1G, 134217728)\n")
    # --secure-memory wins over the environment, as before.
    r = pltvm(command, "--secure-memory", "4M", "hello-world", env=_env("lots"))
    assert r.returncode == 0 and b"hello world!" in r.stdout


def test_cli_size_options_share_the_parser() -> None:
    for args in (["exec", "--bare", "--ram-size", "17179869184G", "x"], ["run", "--secure-memory", "0", "x"],
                 ["fork-host", "--secure-memory", "0x10000000000000000", "x"]):
        r = run_cli(*args)
        assert r.returncode == 2 and b"Traceback" not in r.stderr
        assert re.search(rb"size must be|invalid size", r.stderr), (args, r.stderr)


@needs_native
def test_attest_commands_share_the_size_syntax() -> None:
    """`pltvm measure/attest/verify --stack-size` took K/M/G but not 64MiB or 64mb, and let
    negative values through to the monitor."""
    want = run_cli("measure", "hello-world", "--stack-size", str(64 << 20))
    assert want.returncode == 0
    for text in ("64M", "64MiB", "64mb", "0x4000000"):
        r = run_cli("measure", "hello-world", "--stack-size", text)
        assert (r.returncode, r.stdout) == (0, want.stdout), (text, r.stderr)
    assert run_cli("measure", "hello-world", "--stack-size", "0").returncode == 0
    for text, message in (("-1", b"invalid size '-1'"), ("0x10000000000000000", b"size must be below 2**64")):
        r = run_cli("measure", "hello-world", "--stack-size", text)
        assert r.returncode == 2 and b"argument --stack-size: " + message in r.stderr, r.stderr
