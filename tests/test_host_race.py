"""pltvm.host under concurrency: the C-API mirror's per-enclave bookkeeping (host shm and relay
pages) must follow each enclave, not its driver id. Driver ids are reused lowest first, so with
several threads an id freed by one thread's finished run is handed to another thread's new
enclave at once; neither enclave may inherit or lose the other's shm or relay registration."""

from __future__ import annotations

import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import A0, ECALL, Seg, addi, bundled, code, lui, make_elf

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = [
    pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor"),
    pytest.mark.usefixtures("fresh_host_device"),
]

from pltvm import host as H  # noqa: E402
from pltvm.host import driver  # noqa: E402

RELAY_VALUE = 22222


class _Sink:
    """Collects enclave output per thread name (the output callable runs on the run's thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_thread: dict[str, list[bytes]] = {}

    def __call__(self, data: bytes) -> None:
        with self.lock:
            self.by_thread.setdefault(threading.current_thread().name, []).append(data)


def _relay_page_runs(elf: H.elf_args, i: int, runs: int, failures: list[str]) -> None:
    """demo/host's thread body, ``runs`` times over: each enclave reads 22222 from its relay page,
    hands the page back (run returns 1), is re-run after the host wrote ``i`` into it, and exits."""
    for k in range(runs):
        e = H.PLenclave()
        params = H.enclave_args()
        H.PLenclave_init(e)
        H.enclave_args_init(params)
        mid = H.PLenclave_schrodinger_get(0x1000)
        mm = H.PLenclave_schrodinger_at(mid, 0)
        if not isinstance(mm, memoryview):
            failures.append(f"thread {i} run {k}: no relay page")
            return
        struct.pack_into("<i", mm, 0, RELAY_VALUE)
        params.name = b"race-%d" % i
        if H.PLenclave_create(e, elf, params) < 0:
            failures.append(f"thread {i} run {k}: create failed")
        else:
            H.PLenclave_set_mem_arg(e, mid, 0, 0x1000)
            results = []
            while (r := H.PLenclave_run(e)) == H.RETURN_USER_RELAY_PAGE and len(results) < 4:
                results.append(r)
                struct.pack_into("<i", mm, 0, i)
                H.PLenclave_set_rerun_arg(e, H.RETURN_USER_RELAY_PAGE)
            results.append(r)
            if results != [1, 0]:
                failures.append(f"thread {i} run {k}: run results {results}")
        H.PLenclave_destruct(e)
        H.PLenclave_schrodinger_dt(mid, mm)
        H.PLenclave_schrodinger_ctl(mid)


def _stress(threads: int, runs: int) -> None:
    elf = H.elf_args()
    H.elf_args_init(elf, str(bundled("relay-page")))
    assert H.elf_valid(elf)
    sink = _Sink()
    H.set_output(sink)
    failures: list[str] = []
    ts = [threading.Thread(target=_relay_page_runs, args=(elf, i, runs, failures), name=f"race-{i}")
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    H.elf_args_destroy(elf)
    assert failures == []
    for i in range(threads):
        # Every enclave saw its own thread's relay page: 22222 at the start, i after the re-run.
        out = b"".join(sink.by_thread[f"race-{i}"]).decode()
        assert out == f"relay_page 1 {RELAY_VALUE:08x}\nrelay_page 2 {i:08x}\n" * runs
    dev = H.default_device()
    assert dev.monitor.ids() == []
    assert dev.records == {}, "a finished enclave's bookkeeping is gone with it"


def _shm_increment_elf() -> bytes:
    """An enclave that adds 1 to the first word of its shm (a0) and exits with the old value."""
    a6, a7 = 16, 17
    insns = [0x00053283,  # ld t0, 0(a0)
             addi(6, 5, 1),  # addi t1, t0, 1
             0x00653023,  # sd t1, 0(a0)
             addi(A0, 5, 0), lui(a6, 0x100), addi(a6, a6, 0x101), addi(a7, 0, 99), ECALL]
    return make_elf([Seg(0x1000, code(insns), flags=7)], 0x1000)


def test_a_reused_id_keeps_its_new_enclaves_shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interleaving of the race, made deterministic: enclave A's run ends (the monitor frees
    its id) and, before the mirror has finished with A's result, B is created and gets the same
    id. A's clean-up must not take B's shm binding with it."""
    p = tmp_path / "inc.elf"
    p.write_bytes(_shm_increment_elf())
    elf = H.elf_args()
    H.elf_args_init(elf, str(p))
    views = {}
    enclaves = {}
    for name in ("a", "b"):
        shmid = H.PLenclave_shmget(0x1000)
        view = H.PLenclave_shmat(shmid, 0)
        assert isinstance(view, memoryview)
        views[name] = (shmid, view)
    struct.pack_into("<Q", views["a"][1], 0, 10)
    struct.pack_into("<Q", views["b"][1], 0, 20)

    def create(name: str) -> H.PLenclave:
        e, params = H.PLenclave(), H.enclave_args()
        H.PLenclave_init(e)
        H.enclave_args_init(params)
        params.name = name.encode()
        params.shmid, params.shm_offset, params.shm_size = views[name][0], 0, 0x1000
        assert H.PLenclave_create(e, elf, params) == 0
        return e

    enclaves["a"] = create("a")
    put = driver.Binding.put

    def put_then_create_b(self: Any, data: bytes) -> None:
        put(self, data)
        if "b" not in enclaves:  # A's run is over and its id is free: B takes it now
            enclaves["b"] = create("b")

    monkeypatch.setattr(driver.Binding, "put", put_then_create_b)
    assert H.PLenclave_run(enclaves["a"]) == 0
    monkeypatch.setattr(driver.Binding, "put", put)
    a, b = enclaves["a"], enclaves["b"]
    assert a.eid == b.eid == 0x1000, "B reuses A's driver id"
    assert (a.user_param.retval, struct.unpack_from("<Q", views["a"][1], 0)[0]) == (10, 11)
    struct.pack_into("<Q", views["b"][1], 0, 30)  # written after B's create: seen at its run
    assert H.PLenclave_run(b) == 0
    assert (b.user_param.retval, struct.unpack_from("<Q", views["b"][1], 0)[0]) == (30, 31)
    assert H.default_device().records == {}


def test_eight_threads_reusing_driver_ids() -> None:
    """400 relay-page enclaves from 8 threads: driver ids are reused all the time."""
    _stress(8, 50)


@pytest.mark.slow
def test_sixteen_threads_reusing_driver_ids_long() -> None:
    _stress(16, 150)
