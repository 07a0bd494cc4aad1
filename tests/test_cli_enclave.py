"""`pltvm run ELF [THREADS]` (the SDK's host demo, docs/abi.md §4.6) and `pltvm enclaves`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ILLEGAL, Seg, bundled, code, make_elf, run_cli

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = [
    pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor"),
    pytest.mark.usefixtures("fresh_host_device"),
]

from pltvm import cli, enclaves  # noqa: E402
from pltvm.cli import run as cli_run  # noqa: E402
from pltvm import host as H  # noqa: E402

FINISH = "host: PLenclave run is finish \n"
AFTER = "host: after exit the thread\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_hello_world_subprocess() -> None:
    bundled("hello-world")
    r = run_cli("run", "hello-world")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello world!\n" + FINISH.encode() + AFTER.encode()
    assert b"Traceback" not in r.stderr


def test_hello_world_by_path_and_threads(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "run", str(bundled("hello-world")))
    assert (rc, out) == (0, "hello world!\n" + FINISH + AFTER)
    rc, out, err = run(capsys, "run", "hello-world", "4")
    assert rc == 0
    lines = out.splitlines(keepends=True)
    assert lines[-1] == AFTER
    assert sorted(lines[:-1]) == sorted(["hello world!\n"] * 4 + [FINISH] * 4)
    # Each thread prints its enclave's output before its finish line.
    assert lines[0] == "hello world!\n"
    assert H.default_device().monitor.ids() == []


def test_relay_page(capsys: pytest.CaptureFixture[str]) -> None:
    bundled("relay-page")
    rc, out, err = run(capsys, "run", "relay-page")
    assert (rc, out) == (0, "relay_page 1 000056ce\nrelay_page 2 00000000\n" + FINISH + AFTER)
    rc, out, err = run(capsys, "run", "relay-page", "3")  # relay names test-enclave1..3: no clash
    assert rc == 0 and out.count("relay_page 2 00000000\n") == 3 and out.count(FINISH) == 3


def test_mem_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    bundled("mem")
    rc, out, err = run(capsys, "run", "mem")
    assert rc == 0 and out.endswith("mem: 0 failures\n" + FINISH + AFTER)
    rc, out, err = run(capsys, "run", "info")
    assert rc == 0
    for line in ("info: a0 shm        0x3900000000", "info: a1 shm size   0x1000", "info: a3 relay      0x3800000000",
                 "info: a4 relay size 0x1000", "info: shm[0] 11111", "info: relay[0] 22222"):
        assert line + "\n" in out, out
    assert out.endswith(FINISH + AFTER)


def test_crash(capsys: pytest.CaptureFixture[str]) -> None:
    bundled("crash")
    rc, out, err = run(capsys, "run", "crash")
    assert rc == 1  # the C demo exits 0 here; pltvm reports the thread's error in its status
    assert out == "crash: storing to address 0\n[ERROR] host: result -1 val is wrong!\n" + AFTER
    assert "LIB: PLenclave_run: ioctl run enclave is failed \n" in err
    assert H.default_device().monitor.ids() == []


def test_create_failure(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "run", "--secure-memory", "1M", "hello-world", "2")
    assert rc == 1
    lines = out.splitlines(keepends=True)
    assert lines[-1] == AFTER
    assert sorted(lines[:-1]) == sorted(["host:1: failed to create enclave\n", "host:2: failed to create enclave\n",
                                         FINISH, FINISH])
    assert "LIB: PLenclave_create: ioctl create enclave is failed" in err


def test_enclaves(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "enclaves")
    assert rc == 0 and out.split() == enclaves.names()
    assert {"hello-world", "mem", "loop", "relay-page", "crash", "info"} <= set(out.split())


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "no-such-enclave"], "no-such-enclave: no such file or bundled enclave"),
        (["run", "hello-world", "0"], "must be a positive integer"),
        (["run", "hello-world", "-3"], ""),
        (["run", "hello-world", "two"], "must be a positive integer"),
        (["run", "hello-world", "1", "extra"], "unrecognized arguments"),
        (["run"], "required"),
        (["run", "--secure-memory", "lots", "hello-world"], "invalid size"),
    ],
)
def test_bad_usage(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    rc, out, err = run(capsys, *args)
    assert rc == 2 and "pltvm: error: " in err and message in err
    assert "Traceback" not in err and out == ""


def test_bad_elf_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = {
        "empty.elf": (b"", "empty"),
        "text.elf": (b"not an elf at all\n" * 10, "not a valid Penglai enclave"),
        "x86.elf": (make_elf([Seg(0x1000, code(ILLEGAL), flags=7)], 0x1000, machine=62), "RISC-V"),
        "dyn.elf": (make_elf([Seg(0x1000, code(ILLEGAL), flags=7)], 0x1000, e_type=3), "executable"),
    }
    for name, (data, message) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        rc, out, err = run(capsys, "run", str(p))
        assert rc == 2, name
        assert err.startswith(f"pltvm: error: {p}: ") and message in err, err
        assert out == ""
    rc, out, err = run(capsys, "run", str(tmp_path))  # a directory
    assert rc == 2 and "pltvm: error: " in err


def test_help_documents_output_and_status() -> None:
    r = run_cli("run", "--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    for s in ("THREADS", "exit status", "host: PLenclave run is finish", "[ERROR] host: result", "130", "pltvm enclaves"):
        assert s in text
    r = run_cli("--help")
    assert b"run" in r.stdout and b"enclaves" in r.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_loop_interrupted() -> None:
    bundled("loop")
    p = subprocess.Popen(
        [sys.executable, "-m", "pltvm", "run", "loop", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert p.stdout is not None
        first = p.stdout.readline() + p.stdout.readline()  # both enclaves spin once they printed
        assert first == b"loop: spinning\n" * 2
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130
    assert first + out == b"loop: spinning\n" * 2
    assert err.endswith(b"pltvm: interrupted\n") and b"Traceback" not in err


def test_fork_host_status_reports_thread_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """The C demos exit 0 even when a thread printed an error; pltvm exits 1 then."""
    bundled("crash")
    rc, out, err = run(capsys, "fork-host", "crash", "2")
    assert rc == 1
    assert out.count("[ERROR] host: run_result val is wrong!\n") == 2
    rc, out, err = run(capsys, "fork-host", "hello-world", "2")
    assert rc == 0 and out.count("hello world!\n") == 2
    rc, out, err = run(capsys, "fork-host", "--secure-memory", "64K", "hello-world")
    assert (rc, out) == (1, "host: failed to create enclave\n")


def test_worker_exception_is_raised_after_every_thread_ended(capsys: pytest.CaptureFixture[str]) -> None:
    """A closed stdout (BrokenPipeError in a thread's print) ends `pltvm run` with SIGPIPE's
    status once every thread is back, not with a traceback per thread."""
    bundled("hello-world")

    def closed(data: bytes) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    H.set_output(closed)
    try:
        with pytest.raises(BrokenPipeError):
            cli_run.run_host_demo(str(bundled("hello-world")), 4)
    finally:
        H.set_output(None)
    assert H.default_device().monitor.ids() == []
    import threading

    assert [t for t in threading.enumerate() if t.name.startswith("pltvm-")] == []
