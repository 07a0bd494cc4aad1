"""Round trips per second of call_enclave + SERVER_RETURN between two enclaves (docs/ipc.md).

The bundled ipc-client calls the bundled ipc-server N times in one run (op 12: the server
counts the call and answers), first with no region, then lending a 16 KiB mmap region (7
mapped pages move to the server and back on every call). Figures, not pass/fail; they depend
on the machine's load (print `uptime` with them).

    python benches/ipc_bench.py [N] [--repeat R]

Paths measured: pltvm.Device (public API: one Enclave.run of the client) and the native
_core binding (one _core Enclave.run). Each call is a context switch inside one process:
its cost is the monitor's bookkeeping plus the guest SDK's entry and return code (about 134
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


if __name__ == "__main__":
    main()
