"""The deferred snapshot (``pl_fuzz_input``) and ``Enclave.snapshot()`` on the fuzz-init demo.

fuzz-init builds a table over about 3 million instructions, prints ``READY`` once, then takes
inputs from ``pl_fuzz_input``: ``[index u8][key u32 LE]`` stores to 0x5000_0000 when the key is
``table[index]``; an input that sees another input's global (``scratch``) or a second
initialisation stores to 0x30.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pltvm
from pltvm.attest import MeasurementMismatchError, update_hash, verify
from pltvm.fuzz import FUZZ_INPUT_OCALL, FuzzError, Fuzzer, RunResult
from pltvm.snapshot import SnapshotEnclave

READY = b"fuzz-init: table ready\n"
BUG_TVAL = 0x5000_0000
ISOLATION_TVAL = 0x30


def table() -> list[int]:
    t = [0] * 4096
    x = 0x9E3779B9
    for _ in range(64):
        for i in range(4096):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            t[i] = (t[i] + x) & 0xFFFFFFFF
    return t


TABLE = table()


def crash_input(index: int) -> bytes:
    return bytes([index]) + struct.pack("<I", TABLE[index])


def shm_input(data: bytes, size: int = 4096) -> bytes:
    return (struct.pack("<Q", len(data)) + data).ljust(size, b"\0")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pltvm", "fuzz", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


# --- the fuzzer's deferred snapshot ------------------------------------------------------------


def test_initialisation_runs_once_across_a_campaign() -> None:
    outputs: list[bytes] = []

    def check(r: RunResult) -> None:
        outputs.append(r.output)

    fz = Fuzzer("fuzz-init", max_len=64, seed=3, cmplog=False, check=check)
    assert fz.deferred
    assert fz.init is not None and fz.init.snapshot and fz.init.outcome is None
    assert fz.init.output.count(READY) == 1
    assert fz.init.instructions > 1_000_000
    stats = fz.run(runs=3000, stop_on_finding=False)
    assert stats.executions == 3000
    assert len(outputs) > 1000  # check() sees every ok run
    assert sum(o.count(READY) for o in outputs) == 0, "no execution ran the initialisation again"
    assert all(f.fault is None or f.fault.tval != ISOLATION_TVAL for f in stats.findings)


def test_executions_start_after_the_initialisation_with_a_fresh_state() -> None:
    fz = Fuzzer("fuzz-init", max_len=64)
    assert fz.init is not None
    for i in range(30):
        r = fz.run_one(bytes([i, 1, 2, 3, 4, 5]))
        # A global written by the previous input (scratch) would crash at 0x30.
        assert (r.outcome, r.retval) == ("ok", 0), r.fault
        assert r.output == b""
        assert r.instructions < 2_000 < fz.init.instructions
    assert fz.run_one(b"").outcome == "ok"


def test_without_deferred_every_execution_initialises() -> None:
    fz = Fuzzer("fuzz-init", max_len=64, max_instructions=10_000_000, deferred=False)
    assert not fz.deferred and fz.init is None
    r = fz.run_one(b"\x01\x02\x03\x04\x05")
    assert r.output.count(READY) == 1 and r.instructions > 1_000_000
    crash = fz.run_one(crash_input(9))
    assert crash.outcome == "crash" and crash.fault is not None and crash.fault.tval == BUG_TVAL
    # Too small an initialisation budget: no snapshot, and the Fuzzer says why.
    short = Fuzzer("fuzz-init", max_len=64, max_init_instructions=1000)
    assert not short.deferred
    assert short.init is not None and short.init.outcome == "timeout" and short.init.instructions == 1000
    with pytest.raises(FuzzError, match="max_init_instructions"):
        Fuzzer("fuzz-init", max_init_instructions=0)
    # A target without pl_fuzz_input: the initialisation run is an ordinary empty-input run.
    m4 = Fuzzer("fuzz-magic4", max_len=64)
    assert not m4.deferred and m4.init is not None and (m4.init.outcome, m4.init.snapshot) == ("ok", False)


def test_the_crash_is_found_and_its_artifact_reproduces(tmp_path: Path) -> None:
    fz = Fuzzer("fuzz-init", max_len=64, seed=1)
    stats = fz.run(runs=200_000)
    assert len(stats.findings) == 1
    f = stats.findings[0]
    assert f.kind == "crash" and f.fault is not None and (f.fault.cause, f.fault.tval) == (15, BUG_TVAL)
    assert f.input[1:5] == struct.pack("<I", TABLE[f.input[0]])
    r = cli("fuzz-init", "-runs=200000", "-seed=1", "-max_len=64", f"-artifact_prefix={tmp_path}/")
    assert r.returncode == 77, r.stderr
    assert "INFO: deferred snapshot at pl_fuzz_input" in r.stderr
    assert "store page fault" in r.stderr and f"tval {BUG_TVAL:#x}" in r.stderr
    crashes = list(tmp_path.glob("crash-*"))
    assert len(crashes) == 1
    rep = cli("fuzz-init", str(crashes[0]))
    assert rep.returncode == 77, rep.stderr
    assert f"tval {BUG_TVAL:#x}" in rep.stderr
    # The same file through the non-deferred path reproduces too (the SDK's shm fallback).
    rep2 = cli("fuzz-init", "-deferred=0", "-max_instructions=10000000", str(crashes[0]))
    assert rep2.returncode == 77 and "deferred snapshot" not in rep2.stderr
    ok = tmp_path / "ok"
    ok.write_bytes(b"\x00\x00\x00\x00\x00")
    assert cli("fuzz-init", str(ok)).returncode == 0
    assert cli("fuzz-init", "-max_init_instructions=0", str(ok)).returncode == 2


# --- Enclave.snapshot() -----------------------------------------------------------------------


def paused_snapshot(dev: pltvm.Device, **kw: object) -> tuple[pltvm.Enclave, SnapshotEnclave, pltvm.RunResult]:
    """fuzz-init run with a handler that snapshots it at pl_fuzz_input and ends its loop."""
    e = dev.create("fuzz-init", shm=4096)
    snaps: list[SnapshotEnclave] = []

    def pause(enclave: pltvm.Enclave, a1: int, a2: int, a3: int) -> int:
        assert enclave.state == "OCALLING"
        snaps.append(enclave.snapshot(**kw))  # type: ignore[arg-type]
        return 1  # "no more input": the source leaves its loop

    e.on_ocall(FUZZ_INPUT_OCALL, pause)

    r = e.run(output="capture")
    assert r.exited and r.value == 0 and r.output == READY and r.ocalls == 1
    assert len(snaps) == 1
    return e, snaps[0], r


def test_snapshot_forks_resume_after_the_ocall_and_are_isolated() -> None:
    with pltvm.Device() as dev:
        src, snap, first = paused_snapshot(dev)
        assert isinstance(snap, SnapshotEnclave) and snap.source_id == src.id
        assert snap.pc > 0x1000
        forks = [snap.fork(output="capture") for _ in range(5)]
        for i, f in enumerate(forks):
            assert f.state == "RUNNABLE"
            f.shm[:] = shm_input(bytes([i, 9, 9, 9, 9]))
            r = f.run(output="capture")
            assert r.exited and r.value == 0 and r.output == b"", r
            assert r.instret < 2_000 < first.instret
        bad = snap.fork()
        bad.shm[:] = shm_input(crash_input(3))
        r = bad.run(check=False)
        assert r.faulted and r.fault is not None and r.fault.tval == BUG_TVAL
        # A fork run with no input: the snapshot's shm (empty input) -> ok.
        assert snap.fork().run().value == 0
        # fork_run_destroy resumes too.
        assert snap.fork_run_destroy(4) == (4, b"")


def test_snapshot_measurement_is_not_the_original() -> None:
    with pltvm.Device() as dev:
        src, snap, _ = paused_snapshot(dev)
        assert snap.measurement != src_measurement(dev), "a snapshot is not the measured enclave"
        with pltvm.Device() as dev2:  # a fresh device: the same run counter, the same paused state
            assert snap.measurement == paused_snapshot(dev2)[1].measurement
        f = snap.fork()
        f.run(max_instructions=3)
        assert f.state == "RUNNABLE"
        f.stop()
        report = f.attest(nonce=5)
        assert report.enclave_hash == update_hash(snap.measurement, 5)
        with pytest.raises(MeasurementMismatchError):
            verify(report, expected_measurement=src_measurement(dev), nonce=5)
        assert snap.attest(nonce=6).enclave_hash == update_hash(snap.measurement, 6)


def src_measurement(dev: pltvm.Device) -> bytes:
    with dev.create("fuzz-init", shm=4096) as e:
        return e.measurement


def test_hostile_snapshots_raise_typed_errors_and_leak_nothing() -> None:
    with pltvm.Device() as dev:
        used = dev.secure_memory_used
        fresh = dev.create("fuzz-init", shm=4096)
        with pytest.raises(pltvm.EnclaveError, match="FRESH"):
            fresh.snapshot()
        r = fresh.run(max_instructions=1000)
        assert r.reason == "budget"
        with pytest.raises(pltvm.EnclaveError, match="RUNNABLE"):
            fresh.snapshot()
        fresh.destroy()
        with pytest.raises(pltvm.EnclaveDestroyed):
            fresh.snapshot()
        with pytest.raises(TypeError):
            fresh.snapshot(ocall_result="0")  # type: ignore[arg-type]
        src, snap, _ = paused_snapshot(dev)
        with pytest.raises(ValueError, match="relay"):
            snap.fork(relay=4096)
        with pytest.raises(ValueError):
            snap.fork(shm=8192)
        # A snapshot of a snapshot's fork paused again, and repeated snapshots.
        again: list[SnapshotEnclave] = []
        f = snap.fork()

        def pause(enclave: pltvm.Enclave, a1: int, a2: int, a3: int) -> int:
            again.append(enclave.snapshot())
            again.append(enclave.snapshot(ocall_result=1))
            return 1

        f.on_ocall(FUZZ_INPUT_OCALL, pause)

        f.shm[:] = shm_input(b"\x05abcd")
        assert f.run().value == 0
        assert len(again) == 2 and again[0].id != again[1].id
        # ocall_result=1: the SDK's "no more input": the fork's loop ends at once.
        assert again[1].fork().run().value == 0
        # The nested snapshot holds the fork's state after its input (scratch = 1): its own forks
        # see it, so fuzz-init's isolation check fires in them, and only in them.
        g = again[0].fork()
        g.shm[:] = shm_input(crash_input(1))
        assert g.run(check=False).fault.tval == ISOLATION_TVAL
        h = snap.fork()
        h.shm[:] = shm_input(crash_input(1))
        assert h.run(check=False).fault.tval == BUG_TVAL
        # Destroying the source and the first snapshot leaves the nested ones working.
        src.destroy()
        snap.destroy()
        assert again[0].fork().run(check=False).fault.tval == ISOLATION_TVAL
        with pytest.raises(pltvm.EnclaveDestroyed):
            snap.fork()
        for s in again:
            s.destroy()
        assert dev.secure_memory_used == used
        assert dev.enclaves == []
    # Closing a device destroys its snapshots too.
    dev2 = pltvm.Device()
    paused_snapshot(dev2)
    assert dev2.stats()["templates"] == 1
    dev2.close()
    assert dev2.stats()["templates"] == 0 and dev2.secure_memory_used == 0


def test_snapshot_arguments_are_checked_before_anything_is_made() -> None:
    with pltvm.Device() as dev:
        results: list[object] = []
        e = dev.create("fuzz-init", shm=4096)

        def pause(enclave: pltvm.Enclave, a1: int, a2: int, a3: int) -> int:
            for v in (1 << 64, -(1 << 63) - 1, 1 << 70):
                with pytest.raises(ValueError, match="ocall_result"):
                    enclave.snapshot(ocall_result=v)
            for bad in (True, 1.0, None):
                with pytest.raises(TypeError, match="ocall_result"):
                    enclave.snapshot(ocall_result=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="16 bytes"):
                enclave.snapshot(name="x" * 17)
            assert dev.stats()["templates"] == 0, "nothing made by the refusals"
            # Every 64-bit value reaches the forks' a0 (negative ones as two's complement).
            for v in (0, 2, (1 << 64) - 1, -1, 1 << 63, -(1 << 63)):
                s = enclave.snapshot(ocall_result=v)
                f = s.fork()
                results.append(f._core.get_x(10))
                f.destroy()
                s.destroy()
            return 1

        e.on_ocall(FUZZ_INPUT_OCALL, pause)
        assert e.run(output="capture").value == 0
        assert results == [0, 2, (1 << 64) - 1, (1 << 64) - 1, 1 << 63, 1 << 63]
        assert dev.stats()["templates"] == 0


def test_two_jobs_fork_the_same_snapshot() -> None:
    stats = Fuzzer("fuzz-init", max_len=64, seed=2).run(runs=300_000, jobs=2)
    assert [(f.kind, f.fault.tval if f.fault else None) for f in stats.findings] == [("crash", BUG_TVAL)]
