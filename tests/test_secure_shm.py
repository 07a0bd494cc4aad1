"""Secure shared memory between enclaves (docs/ipc.md, "Secure shared memory"): OCALLs 9-12 and
calls 84/83 through the native binding and pltvm.Device. The bundled ``shm-peer`` runs a script
the test writes into its host shm (see guest/demos/shm-peer/shm-peer.c); ``shm-owner`` and
``shm-server`` are the demo pair."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from conftest import bundled

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor")

PAGE = 4096
M1 = (1 << 64) - 1
TOP = 0x40_0000_0000
REQ, PREV = M1 - 1, M1 - 2
GET, ATTACH, DETACH, DESTROY, STAT, LOAD, STORE, PAUSE, CALL, SUM, FILL, OCALL, ECALL, YIELD, AMOADD = range(1, 16)

Step = tuple[int, int, int]


def script(steps: list[Step], server: bool = False) -> bytes:
    shm = bytearray(2 * PAGE)
    struct.pack_into("<QQ", shm, 0, len(steps), int(server))
    for i, (op, a, b) in enumerate(steps):
        struct.pack_into("<QQQ", shm, (32 + 4 * i) * 8, op, a & M1, b & M1)
    shm[192:203] = b"peer-server"
    return bytes(shm)


def peer(m: Any, steps: list[Step], server: bool = False) -> Any:
    e = m.create(bundled("shm-peer").read_bytes(), name=b"peer-server" if server else b"peer",
                 type=int(server), shm=script(steps, server))
    e.set_user_ocalls([100])
    return e


def results(r: Any, n: int) -> tuple[list[int], tuple[int, int]]:
    """Step results and the stat words W[8], W[9] from a run's shm."""
    out = [struct.unpack_from("<Q", r.shm, (35 + 4 * i) * 8)[0] for i in range(n)]
    return out, struct.unpack_from("<QQ", r.shm, 64)


def run_peer(m: Any, steps: list[Step]) -> tuple[list[int], tuple[int, int]]:
    r = peer(m, steps).run("start", output=lambda b: None, budget=1 << 32)
    assert (r.reason, r.retval) == ("exit", 0), r
    return results(r, len(steps))


def test_two_enclaves_see_each_others_stores_in_place() -> None:
    m = _core.Monitor.new()
    va = TOP - PAGE
    a = peer(m, [(GET, 7, PAGE), (STORE, va, 77), (PAUSE, 0, 0), (LOAD, va, 0), (STAT, 7, 0)])
    r = a.run("start", budget=1 << 32)
    assert r.reason == "ocall"
    b = peer(m, [(ATTACH, 7, 0), (LOAD, va, 0), (STORE, va, 99), (AMOADD, va + 8, 5), (STAT, 7, 0), (PAUSE, 0, 0)])
    r = b.run("start", budget=1 << 32)
    assert r.reason == "ocall"
    assert results(r, 5) == ([va, 77, 0, 0, 0], (2, PAGE))
    # The host reads and writes through either enclave's page tables: the same bytes.
    assert a.read(va, 16) == struct.pack("<QQ", 99, 5)
    b.write(va + 16, b"shared")
    assert a.read(va + 16, 6) == b"shared"
    r = a.run("ocall_return", budget=1 << 32)
    assert r.reason == "exit" and results(r, 5) == ([va, 0, 0, 99, 0], (2, PAGE))
    assert b.destroy() == 0


def test_the_demo_pair_through_pltvm_device() -> None:
    import pltvm
    from pltvm.secure_shm import SecureShm, segments

    with pltvm.Device() as dev:
        dev.create_server("shm-server", name="shm-server")
        c = dev.create("shm-owner", output="capture")
        r = c.run()
        assert r.exited and r.value == 0
        assert r.output is not None
        text = r.output.decode()
        for line in (
            "shm-owner: segment at 0x0000003fffff9000, 28672 bytes, 1 user(s), sum 8390656\n",
            "shm-server: attached 0x0000000000005348 at 0x0000003fffff9000, doubled 4096 ints\n",
            "shm-owner: call returned 0, server saw 2 user(s), sum now 16781312, 1 user(s)\n",
            "shm-owner: destroy 0, detach 0, stat after -1\n",
        ):
            assert line in text, text
        assert segments(dev) == [], "destroyed and detached: freed"
        p = dev.create("shm-peer", shm=script([(GET, 11, PAGE), (GET, 12, 2 * PAGE), (DESTROY, 12, 0)]))
        assert p.run().exited
        assert segments(dev) == [SecureShm(key=11, size=PAGE, users=(), destroying=False, block=2 * PAGE)]


@pytest.mark.parametrize("size", [0, 1, PAGE - 1, PAGE + 1, 1 << 40, (1 << 63) - PAGE, 1 << 63, M1, M1 & ~(PAGE - 1), -PAGE])
def test_bad_sizes_get_minus_one_and_nothing_is_charged(size: int) -> None:
    m = _core.Monitor.new(secure_memory=64 << 20)
    base = m.secure_memory_used
    assert run_peer(m, [(GET, 9, size), (STAT, 9, 0), (GET, 9, PAGE)])[0] == [M1, M1, TOP - PAGE]
    assert m.secure_memory_used == base + 2 * PAGE, "only the good segment, created after"


def test_hostile_keys_pointers_and_double_operations() -> None:
    m = _core.Monitor.new()
    r, stat = run_peer(m, [
        (GET, 9, PAGE), (GET, 9, PAGE),             # the key exists
        (ATTACH, 9, 0),                             # already attached: same VA
        (ATTACH, 10, 0), (ATTACH, M1, 0),           # unknown
        (DETACH, 10, 0), (DETACH, 9, 0), (DETACH, 9, 0),
        (DESTROY, M1, 0),                           # unknown: 0
        (STAT, 10, 0), (STAT, 9, 0x10), (STAT, 9, M1 - 7), (STAT, 9, TOP - PAGE - 8),
        (OCALL, 12, 0),                             # EXTEND_MEMORY: the monitor's, not the enclave's
        (STAT, 9, 0),
    ])
    assert r == [TOP - PAGE, M1, TOP - PAGE, 0, 0, M1, 0, M1, 0, M1, M1, M1, M1, M1, 0]
    assert stat == (0, PAGE)


def test_use_after_destroy_and_after_detach() -> None:
    m = _core.Monitor.new()
    base = m.secure_memory_used
    va = TOP - PAGE
    a = peer(m, [(GET, 5, PAGE), (STORE, va, 3), (DESTROY, 5, 0), (ATTACH, 5, 0), (GET, 5, PAGE),
                 (LOAD, va, 0), (DETACH, 5, 0), (LOAD, va, 0)])
    r = a.run("start", budget=1 << 32)
    # Marked: no attach, no new segment under the key; its user still reads it until it detaches.
    assert (r.reason, r.cause, r.tval) == ("fault", 13, va), r
    assert results(r, 7)[0] == [va, 0, 0, 0, M1, 3, 0]
    assert m.secure_memory_used == base


def test_destroying_the_creator_keeps_the_segment_for_the_other_user() -> None:
    m = _core.Monitor.new()
    va = TOP - PAGE
    a = peer(m, [(GET, 3, PAGE), (FILL, va, 512), (PAUSE, 0, 0)])
    assert a.run("start", budget=1 << 32).reason == "ocall"
    b = peer(m, [(ATTACH, 3, 0), (PAUSE, 0, 0), (SUM, va, 512), (STAT, 3, 0), (DESTROY, 3, 0)])
    assert b.run("start", budget=1 << 32).reason == "ocall"
    assert m.secure_shm() == [(3, PAGE, [(a.eid, va), (b.eid, va)], False, 2 * PAGE)]
    assert a.destroy() == 0
    assert m.secure_shm() == [(3, PAGE, [(b.eid, va)], False, 2 * PAGE)]
    r = b.run("ocall_return", budget=1 << 32)
    assert r.reason == "exit" and results(r, 5) == ([va, 0, 512 * 513 // 2, 0, 0], (1, PAGE))
    assert m.secure_shm() == []
    # b was the last user of the destroyed segment: the key is free again.
    assert run_peer(m, [(GET, 3, PAGE)])[0] == [va]


def test_a_snapshot_of_an_attached_enclave_is_refused() -> None:
    m = _core.Monitor.new()
    a = peer(m, [(GET, 8, PAGE), (PAUSE, 0, 0), (DETACH, 8, 0), (PAUSE, 0, 0)])
    assert a.run("start", budget=1 << 32).reason == "ocall"
    with pytest.raises(RuntimeError, match="secure shm"):
        a.snapshot(name=b"snap")
    assert a.run("ocall_return", budget=1 << 32).reason == "ocall"
    snap = a.snapshot(name=b"snap")  # detached: allowed
    f = snap.fork()
    assert f.run("continue", budget=1 << 32).reason == "exit"


def test_a_server_keeps_its_attachment_between_calls() -> None:
    m = _core.Monitor.new()
    s = peer(m, [(ATTACH, REQ, 0), (AMOADD, PREV, 1)], server=True)
    va = TOP - PAGE
    r, _ = run_peer(m, [(GET, 21, PAGE), (CALL, 21, 0), (CALL, 21, 0), (CALL, 21, 0), (LOAD, va, 0), (DESTROY, 21, 0)])
    assert r == [va, 0, 0, 0, 3, 0]
    assert s.destroy() == 0  # its last user: the segment goes
    assert run_peer(m, [(ATTACH, 21, 0)])[0] == [0]
