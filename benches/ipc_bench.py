"""Round trips per second of call_enclave + SERVER_RETURN between two enclaves (docs/ipc.md).

The bundled ipc-client calls the bundled ipc-server N times in one run (op 12: the server
counts the call and answers), first with no region, then lending a 16 KiB mmap region (7
mapped pages move to the server and back on every call). Figures, not pass/fail; they depend
on the machine's load (print `uptime` with them).

A third figure, "16 KiB secure shm", shares memory instead of moving it: a 16 KiB secure shm
segment (28 KiB mapped) made beforehand by a bundled shm-peer, and N calls to a shm-peer server
that attaches the segment (at once after its first call: it stays attached) and adds 1 to its
first word in place; nothing moves in the call. The segment's word must equal N afterwards.

    python benches/ipc_bench.py [N] [--repeat R]

Paths measured: pltvm.Device (public API: one Enclave.run of the client) and the native
_core binding (one _core Enclave.run). Each call is a context switch inside one process:
its cost is the monitor's bookkeeping plus the guest SDK's entry and return code (85
instructions per round trip with our C SDK, see `instructions/call`).
"""

from __future__ import annotations

import argparse
import os
import struct
import time

import pltvm
from pltvm import _core
from pltvm.enclaves import path as enclave_path

M1 = (1 << 64) - 1


def request(n: int, region: int) -> bytes:
    shm = bytearray(2 * 4096)
    for i, v in {0: 1, 1: M1, 2: 12, 3: region, 5: n}.items():
        struct.pack_into("<Q", shm, 8 * i, v)
    shm[512:517] = b"ipc-a"
    return bytes(shm)


SHM_KEY = 0x5348
PEER_GET, PEER_ATTACH, PEER_LOAD, PEER_AMOADD = 1, 2, 6, 15
REQ, PREV = M1 - 1, M1 - 2
TOP = 0x40_0000_0000


def peer_script(steps: list[tuple[int, int, int]], server: bool) -> bytes:
    """A shm-peer host shm running ``steps`` (guest/demos/shm-peer/shm-peer.c)."""
    shm = bytearray(2 * 4096)
    struct.pack_into("<QQ", shm, 0, len(steps), int(server))
    for i, (op, a, b) in enumerate(steps):
        struct.pack_into("<QQQ", shm, (32 + 4 * i) * 8, op, a & M1, b & M1)
    return bytes(shm)


SHM_SERVER = peer_script([(PEER_ATTACH, REQ, 0), (PEER_AMOADD, PREV, 1)], server=True)
SHM_MAKE = peer_script([(PEER_GET, SHM_KEY, 16384)], server=False)
SHM_LOAD = peer_script([(PEER_ATTACH, SHM_KEY, 0), (PEER_LOAD, M1 - 2, 0)], server=False)


def shm_request(n: int) -> bytes:
    shm = bytearray(request(n, 0))
    struct.pack_into("<QQ", shm, 8, M1, SHM_KEY)  # W[1] acquire by name, W[2] req_arg = key
    shm[512:520] = b"shm-peer"
    return bytes(shm)


def shm_native(n: int) -> tuple[float, float]:
    m = _core.Monitor.new()
    peer = enclave_path("shm-peer").read_bytes()
    m.create(peer, name=b"shm-peer", type=1, shm=SHM_SERVER)
    assert m.create(peer, name=b"mk", shm=SHM_MAKE).run("start").reason == "exit"
    c = m.create(enclave_path("ipc-client").read_bytes(), name=b"c", shm=shm_request(n))
    t = time.perf_counter()
    r = c.run("start")
    dt = time.perf_counter() - t
    assert r.reason == "exit" and struct.unpack_from("<Q", r.shm, 9 * 8)[0] == 0, r
    check = m.create(peer, name=b"chk", shm=SHM_LOAD).run("start")
    assert struct.unpack_from("<Q", check.shm, (35 + 4) * 8)[0] == n, "the server's adds are in the segment"
    return n / dt, r.instret / n


def shm_public(n: int) -> float:
    with pltvm.Device() as dev:
        dev.create_server("shm-peer", name="shm-peer", shm=SHM_SERVER)
        assert dev.create("shm-peer", shm=SHM_MAKE).run().exited
        c = dev.create("ipc-client", shm=shm_request(n))
        t = time.perf_counter()
        r = c.run()
        dt = time.perf_counter() - t
        assert r.exited
    return n / dt


def native(n: int, region: int) -> tuple[float, float]:
    m = _core.Monitor.new()
    m.create(enclave_path("ipc-server").read_bytes(), name=b"ipc-a", type=1)
    c = m.create(enclave_path("ipc-client").read_bytes(), name=b"c", shm=request(n, region))
    t = time.perf_counter()
    r = c.run("start")
    dt = time.perf_counter() - t
    assert r.reason == "exit" and struct.unpack_from("<Q", r.shm, 9 * 8)[0] == 0, r
    return n / dt, r.instret / n


def public(n: int, region: int) -> float:
    with pltvm.Device() as dev:
        dev.create_server("ipc-server", name="ipc-a")
        c = dev.create("ipc-client", shm=request(n, region))
        t = time.perf_counter()
        r = c.run()
        dt = time.perf_counter() - t
        assert r.exited and len(r.calls) == min(n, 4096)
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=100_000, help="calls per run (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    ns = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {ns.n} calls per run, median of {ns.repeat}")
    for region, label in ((0, "empty call"), (16384, "16 KiB region lent")):
        runs = sorted(native(ns.n, region) for _ in range(ns.repeat))
        rate, per = runs[len(runs) // 2]
        pub = sorted(public(ns.n, region) for _ in range(ns.repeat))[len(runs) // 2]
        print(f"{label:20s} native _core {rate:12,.0f} round trips/s   pltvm.Device {pub:12,.0f}/s   "
              f"{per:.1f} instructions/call")
    runs = sorted(shm_native(ns.n) for _ in range(ns.repeat))
    rate, per = runs[len(runs) // 2]
    pub = sorted(shm_public(ns.n) for _ in range(ns.repeat))[len(runs) // 2]
    print(f"{'16 KiB secure shm':20s} native _core {rate:12,.0f} round trips/s   pltvm.Device {pub:12,.0f}/s   "
          f"{per:.1f} instructions/call")


if __name__ == "__main__":
    main()
