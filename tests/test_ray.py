"""pltvm.ray on a local Ray instance (2 CPUs, started once for this module): pools give the
single-process results in order, survive a killed replica, attest the same measurement from
every replica; a two-worker Ray fuzz campaign finds the magic-value crash; `pltvm fuzz -ray=`.

Skipped only when Ray is not installed (CI installs the ``ray`` extra)."""

from __future__ import annotations

import hashlib
import logging
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ray: Any = pytest.importorskip("ray")

import pltvm  # noqa: E402
from conftest import interrupt_fuzz_cli  # noqa: E402
from pltvm import attest  # noqa: E402
from pltvm.fuzz import FuzzError, Fuzzer  # noqa: E402
from pltvm.ray import EnclavePool, PoolError, RayClusterError, Replica, Result  # noqa: E402
from pltvm.ray.cluster import parse_address  # noqa: E402
from pltvm.ray.fuzz import FuzzWorker  # noqa: E402

MAGIC4 = struct.pack("<I", 0x4D5A4C50)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One local Ray instance for the module; its GCS address."""
    # The device key is made once here, before any replica could race to create it.
    attest.local_device_public_key()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def test_pltvm_does_not_import_ray() -> None:
    code = ("import sys, pltvm, pltvm.fuzz, pltvm.cli, pltvm.device, pltvm.shadow, pltvm.ray, pltvm.ray.fuzz; "
            "pltvm.Device; assert 'ray' not in sys.modules, 'ray imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_without_ray_pools_and_campaigns_say_how_to_install(tmp_path: Path) -> None:
    code = f"""
import sys
sys.modules["ray"] = None  # as if Ray were not installed
import pltvm.ray
from pltvm.fuzz import Fuzzer, FuzzError
try:
    pltvm.ray.EnclavePool("hello-world")
except pltvm.ray.RayNotInstalled as e:
    assert 'pip install "pltvm[ray]"' in str(e), e
else:
    raise SystemExit("EnclavePool: no error")
try:
    Fuzzer("fuzz-nop").run(runs=1, ray="auto")
except FuzzError as e:
    assert 'pltvm[ray]' in str(e), e
else:
    raise SystemExit("Fuzzer.run: no error")
from pltvm.cli import main
sys.exit(main(["fuzz", "fuzz-nop", {str(tmp_path / "c")!r}, "-ray=auto", "-runs=1"]))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'pltvm fuzz: error: ray: pltvm.ray needs Ray: pip install "pltvm[ray]"' in r.stderr
    assert "Traceback" not in r.stderr


def _same(pool_result: Result, ref: Any) -> None:
    """A pool result equals pltvm.fuzz's Rust harness result for the same input."""
    assert pool_result.outcome == ref.outcome
    want = None if ref.retval is None else ref.retval - (1 << 64) if ref.retval >> 63 else ref.retval
    assert pool_result.value == want
    assert pool_result.output == ref.output
    assert pool_result.instructions == ref.instructions
    if ref.fault is None:
        assert pool_result.fault is None
    else:
        assert pool_result.fault is not None
        assert (pool_result.fault.cause, pool_result.fault.pc, pool_result.fault.tval) == \
            (ref.fault.cause, ref.fault.pc, ref.fault.tval)


def test_pool_results_equal_single_process(cluster: str) -> None:
    inputs = [b"", b"V\x01\x01", b"V\x01\x03", b"V\x01\x02N\x03abc", b"S\x02\x00\x01", b"\xff" * 40]
    inputs += [struct.pack("<IB", i * 2654435761 & 0xFFFFFFFF, i) for i in range(200)]
    ref = Fuzzer("fuzz-parser", max_len=4088)
    with EnclavePool("fuzz-parser", replicas=2, batch_size=9) as pool:
        got = list(pool.map(iter(inputs)))  # any iterable, read lazily
        one = ray.get(pool.submit(inputs[3]))
    assert len(got) == len(inputs)
    for data, r in zip(inputs, got):
        _same(r, ref.run_one(data))
    assert {r.value for r in got} >= {0, 1, 2, 3, 5, 7}  # many exit paths of the parser
    assert one == got[3]
    # Crashes: fuzz-magic4 stores to an unmapped page behind its magic value.
    crash_inputs = [b"abcd", MAGIC4, MAGIC4 + b"tail", b"PLZ", MAGIC4[:3] + b"\0"]
    with EnclavePool("fuzz-magic4", replicas=1, batch_size=2) as pool:
        got = list(pool.map(crash_inputs))
    m4 = Fuzzer("fuzz-magic4")
    for data, r in zip(crash_inputs, got):
        _same(r, m4.run_one(data))
    assert [r.outcome for r in got] == ["ok", "crash", "crash", "ok", "ok"]
    assert got[1].fault is not None and (got[1].fault.cause, got[1].fault.tval) == (15, 0x40)
    assert got[1].reason == "fault" and got[1].value is None
    # Output and timeouts: hello-world prints, fuzz-hang spins on "HANG".
    with EnclavePool("hello-world", replicas=1) as pool:
        (hello,) = pool.map([b"x"])
    _same(hello, Fuzzer("hello-world").run_one(b"x"))
    assert hello.output == b"hello world!\n" and hello.value == 0
    with EnclavePool("fuzz-hang", max_instructions=100_000, shm_size=8192) as pool:
        hang, summed, long_input = pool.map([b"HANG", b"HAN", b"\x01" * 8184])
    hz = Fuzzer("fuzz-hang", max_instructions=100_000, max_len=8184)
    for r, data in ((hang, b"HANG"), (summed, b"HAN"), (long_input, b"\x01" * 8184)):
        _same(r, hz.run_one(data))
    assert (hang.outcome, hang.value, hang.reason, hang.instructions) == ("timeout", None, "budget", 100_000)
    assert summed.value == (ord("H") + ord("A") + ord("N")) & 0xFF
    assert long_input.outcome == "ok" and long_input.value == 8184 & 0xFF  # the whole input arrived


def test_killed_replica_loses_no_input_and_keeps_order(cluster: str) -> None:
    inputs = [b"HANG" if i % 2 else bytes([i % 251, 7]) for i in range(200)]
    budget = 1_000_000  # a batch runs 10 timeouts, 10M instructions: still running at the kill
    local = Replica("fuzz-hang", max_instructions=budget)
    want = local.run_batch(inputs)
    local.close()
    assert [r.outcome for r in want[:2]] == ["ok", "timeout"]
    with EnclavePool("fuzz-hang", replicas=2, batch_size=20, max_in_flight=2, max_instructions=budget) as pool:
        it = pool.map(inputs)
        first = next(it)
        victim = pool.actors[0]
        ray.kill(victim)  # while it runs (or has queued) its next batch
        got = [first, *it]
        assert pool.restarts == 1 and pool.retried_batches >= 1
        assert victim not in pool.actors
        # The replacement works like the others.
        assert list(pool.map(inputs[:40])) == want[:40]
    assert got == want


def test_a_batch_whose_replica_dies_too_often_is_an_error(cluster: str) -> None:
    inputs = [b"HANG"] * 40
    with EnclavePool("fuzz-hang", replicas=2, batch_size=10, max_in_flight=1, max_instructions=1_000_000,
                     max_retries=0) as pool:
        it = pool.map(inputs)
        next(it)
        ray.kill(pool.actors[0])
        with pytest.raises(PoolError, match=r"inputs \d+\.\.\d+: their replica died 1 times \(max_retries=0\)"):
            list(it)
        assert pool.restarts == 1
        assert [r.outcome for r in pool.map([b"x", b"HANG"])] == ["ok", "timeout"]  # the pool goes on


def test_every_replica_attests_the_same_measurement(cluster: str) -> None:
    nonce = 0x1234_5678_9ABC_DEF0
    measurement = pltvm.measure("hello-world", "shadow")
    with EnclavePool("hello-world", replicas=2) as pool:
        assert pool.measurement == measurement
        reports = pool.attest(nonce)
    assert len(reports) == 2
    for r in reports:
        v = attest.verify(r, expected_measurement=measurement, nonce=nonce,
                          device_public_key=attest.local_device_public_key())
        assert v.fresh and v.measurement == measurement
    assert reports[0].enclave_hash == reports[1].enclave_hash == attest.update_hash(measurement, nonce)
    with pytest.raises(attest.MeasurementMismatchError):
        attest.verify(reports[0], expected_measurement=pltvm.measure("fuzz-nop", "shadow"), nonce=nonce)


def test_two_worker_ray_campaign_finds_the_magic(cluster: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    events: list[str] = []
    stats = Fuzzer("fuzz-magic4", max_len=64, seed=1).run(
        corpus, runs=40_000, jobs=2, ray="auto", on_event=lambda kind, p, x: events.append(kind))
    assert len(stats.findings) == 1  # both workers may find it: reported once
    f = stats.findings[0]
    assert f.kind == "crash" and f.input[:4] == MAGIC4
    assert f.fault is not None and (f.fault.cause, f.fault.tval) == (15, 0x40)
    assert f.fault.symbol is not None and f.fault.symbol.startswith("main")
    assert 0 < stats.executions <= 40_000
    files = {p.name: p.read_bytes() for p in corpus.iterdir()}
    assert files and all(name == hashlib.sha1(b).hexdigest() for name, b in files.items())
    assert set(files.values()) == set(stats.corpus)
    assert events.count("finding") == 1 and events.count("new") == len(stats.corpus)


def test_ray_campaign_splits_the_run_budget(cluster: str) -> None:
    fz = Fuzzer("fuzz-parser", max_len=128, seed=(1 << 64) - 1)  # slice seeds wrap around 2**64
    empty = fz.run_one(b"").edges
    stats = fz.run(runs=6_000, jobs=2, ray="auto", stop_on_finding=False)
    assert stats.executions == 6_000 and not stats.interrupted
    assert stats.edges > empty and stats.corpus_size >= 3


def test_more_workers_or_replicas_than_cpus_fail_clearly(cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker / replica needs a CPU of the (2-CPU) cluster: a third one never starts, and
    that is an error naming the cause, not a hang."""
    import pltvm.ray.fuzz

    monkeypatch.setattr(pltvm.ray.fuzz, "START_TIMEOUT", 3.0)
    with pytest.raises(FuzzError, match=r"ray: [1-3] of 3 workers did not start within 3 s .*free CPU"):
        Fuzzer("fuzz-nop").run(runs=100, jobs=3, ray="auto")
    with pytest.raises(PoolError, match=r"[1-3] of 3 replicas did not start within 3"):
        EnclavePool("fuzz-nop", replicas=3, start_timeout=3)
    with EnclavePool("fuzz-nop", replicas=2) as pool:  # the CPUs were given back
        assert pool.run([b"a"])[0].outcome == "ok"


def test_ray_campaign_replaces_a_killed_worker(cluster: str) -> None:
    killed: list[str] = []
    seen: set[str] = set()

    def on_event(kind: str, progress: dict[str, Any], payload: object) -> None:
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith("pltvm-fuzz-"))
        seen.update(names)
        if kind == "new" and not killed:
            assert len(names) == 2
            ray.kill(ray.get_actor(names[0]))
            killed.append(names[0])

    stats = Fuzzer("fuzz-parser", max_len=128, seed=6).run(runs=20_000, jobs=2, ray="auto", stop_on_finding=False,
                                                           on_event=on_event, pulse=0.1)
    assert killed and stats.executions == 20_000 and not stats.interrupted
    assert stats.corpus_size >= 3
    assert any(n.endswith(".2") for n in seen), seen  # the replacement (workers .0 and .1 came first)


def test_ray_workers_fork_the_deferred_snapshot_as_the_driver_does(cluster: str) -> None:
    """fuzz-init prints "table ready" once its initialisation is done: executions that fork the
    deferred snapshot never print it; with deferred=False every execution does."""
    def check(r: Any) -> None:
        if b"table ready" in r.output:
            raise ValueError("initialised again")

    on = Fuzzer("fuzz-init", max_len=64, seed=3, cmplog=False, check=check)
    assert on.deferred
    stats = on.run(runs=3000, jobs=2, ray="auto", stop_on_finding=False)
    assert stats.executions == 3000
    assert not [f for f in stats.findings if f.message and "initialised again" in f.message]
    off = Fuzzer("fuzz-init", max_len=64, seed=3, cmplog=False, check=check, deferred=False,
                 max_instructions=10_000_000)
    stats = off.run(runs=50, jobs=2, ray="auto")
    assert len(stats.findings) == 1 and "initialised again" in (stats.findings[0].message or "")


def test_fuzz_worker_keeps_imported_entries() -> None:
    """A worker's slice starts from its corpus plus the imports; entries that add coverage stay."""
    fz = Fuzzer("fuzz-parser", max_len=128)
    elf = Path(fz.path).read_bytes()
    w = FuzzWorker(elf, 128, 100_000, 1 << 16, True, [], None)
    rich = b"V\x01\x01N\x03abcS\x03\x01\x02\x03"
    r = w.slice([rich], seed=1, runs=1, seconds=10.0, stop_on_finding=False)
    assert r["executions"] == 1 and r["corpus"] == [rich]
    r = w.slice([], seed=2, runs=50, seconds=10.0, stop_on_finding=False)
    assert rich in r["corpus"] and r["executions"] == 50


def test_cli_ray_campaign_writes_corpus_and_findings_locally(cluster: str, tmp_path: Path) -> None:
    corpus, art = tmp_path / "corpus", tmp_path / "art"
    art.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "pltvm", "fuzz", "fuzz-magic4", str(corpus), f"-ray={cluster}", "-jobs=2",
         "-seed=3", "-runs=40000", "-max_len=64", f"-artifact_prefix={art}/"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 77, r.stderr
    crash = [p for p in art.iterdir() if p.name.startswith("crash-")]
    assert len(crash) == 1 and crash[0].read_bytes()[:4] == MAGIC4
    assert f"Test unit written to {crash[0]}" in r.stderr
    assert "store page fault" in r.stderr and "NEW    cov:" in r.stderr and "Done " in r.stderr
    assert any(corpus.iterdir())


def test_cli_ray_campaign_ctrl_c_exits_72_and_keeps_the_corpus(cluster: str, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    status, stderr = interrupt_fuzz_cli(["fuzz-parser", str(corpus), f"-ray={cluster}", "-jobs=2", "-seed=2",
                                         "-max_total_time=120"], tmp_path)
    assert status == 72, stderr
    assert "interrupted" in stderr and "Done " in stderr and "Traceback" not in stderr
    assert len(list(corpus.iterdir())) >= 1


def test_pltvm_ray_type_checks(tmp_path: Path) -> None:
    """mypy --strict accepts pltvm.ray (Ray itself is not followed: it is imported via importlib)."""
    pytest.importorskip("mypy")
    pkg = Path(__file__).resolve().parent.parent / "python"
    files = [str(f) for f in sorted((pkg / "pltvm" / "ray").glob("*.py"))]
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *files],
                       capture_output=True, text=True, timeout=600, cwd=pkg)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1:1", "cannot reach a Ray cluster at '127.0.0.1:1'"),
    ("nonsense", "expected auto, HOST:PORT"),
    ("10.0.0.1:99999", "expected auto, HOST:PORT"),
    ("http://x:80/", "expected auto, HOST:PORT"),
])
def test_cli_bad_ray_address_exits_2(address: str, why: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", "fuzz-magic4", str(tmp_path / "c"),
                        f"-ray={address}", "-runs=10"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert why in r.stderr and "Traceback" not in r.stderr


def test_pool_bad_address_raises_a_cluster_error() -> None:
    code = """
from pltvm.ray import EnclavePool, RayClusterError
for address in ("127.0.0.1:1", "no-port"):
    try:
        EnclavePool("hello-world", address=address)
    except RayClusterError as e:
        print(e)
    else:
        raise SystemExit("no error")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot reach a Ray cluster at '127.0.0.1:1'" in r.stdout
    assert "ray address 'no-port': expected auto, HOST:PORT" in r.stdout


def test_cli_empty_ray_flag_exits_2(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", "fuzz-magic4", str(tmp_path / "c"), "-ray="],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "-ray needs a value" in r.stderr


def test_parse_address() -> None:
    assert parse_address("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert parse_address("ray://head:10001") == ("head", 10001)
    assert parse_address("[::1]:6379") == ("::1", 6379)
    for bad in ("", ":6379", "host", "host:", "host:0", "host:65536", "host:-1", "a b:1", "host:6379/x"):
        with pytest.raises(RayClusterError):
            parse_address(bad)


@pytest.mark.parametrize("kw, exc, word", [
    (dict(replicas=0), ValueError, "replicas"),
    (dict(replicas=True), TypeError, "replicas"),
    (dict(shm_size=0), ValueError, "shm_size"),
    (dict(shm_size=4095), ValueError, "shm_size"),
    (dict(shm_size=4097), ValueError, "shm_size"),
    (dict(shm_size=-4096), ValueError, "shm_size"),
    (dict(shm_size=1 << 40), ValueError, "shm_size"),
    (dict(shm_size=1 << 63), ValueError, "shm_size"),
    (dict(shm_size=(1 << 64) - 4096), ValueError, "shm_size"),
    (dict(shm_size=1 << 64), ValueError, "shm_size"),
    (dict(shm_size="4096"), TypeError, "shm_size"),
    (dict(max_instructions=0), ValueError, "max_instructions"),
    (dict(max_instructions=1 << 64), ValueError, "max_instructions"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(max_in_flight=0), ValueError, "max_in_flight"),
    (dict(max_retries=-1), ValueError, "max_retries"),
    (dict(num_cpus=-1), ValueError, "num_cpus"),
    (dict(start_timeout=0), ValueError, "start_timeout"),
])
def test_pool_bad_arguments_name_the_argument(kw: dict[str, Any], exc: type, word: str) -> None:
    with pytest.raises(exc, match=word):
        EnclavePool("hello-world", **kw)


def test_pool_refuses_bad_elves_before_starting_replicas(tmp_path: Path) -> None:
    with pytest.raises(pltvm.InvalidEnclave):
        EnclavePool(b"not an elf")
    with pytest.raises(pltvm.InvalidEnclave, match="no such file or bundled enclave"):
        EnclavePool(str(tmp_path / "missing.elf"))


def test_pool_bad_inputs_name_their_index(cluster: str) -> None:
    with EnclavePool("fuzz-nop", batch_size=2) as pool:
        with pytest.raises(ValueError, match=r"inputs\[3\] has 4089 bytes; at most shm_size - 8 = 4088"):
            list(pool.map([b"a", b"b", b"c", b"x" * 4089]))
        with pytest.raises(TypeError, match=r"inputs\[1\] must be bytes, not str"):
            list(pool.map([b"a", "b"]))
        with pytest.raises(ValueError, match="input has"):
            pool.submit(b"x" * 5000)
        assert [r.outcome for r in pool.map([b"x" * 4088, bytearray(b"y"), memoryview(b"z")])] == ["ok"] * 3
        assert list(pool.map([])) == []
        for nonce, exc in ((-1, ValueError), (1 << 64, ValueError), (True, TypeError), ("1", TypeError)):
            with pytest.raises(exc, match="nonce"):
                pool.attest(nonce)  # type: ignore[arg-type]
        assert len(pool.attest((1 << 64) - 1)) == 1
    assert pool.closed
    with pytest.raises(PoolError, match="closed"):
        list(pool.map([b"a"]))
    with pytest.raises(PoolError, match="closed"):
        pool.attest(0)
    pool.close()  # idempotent
