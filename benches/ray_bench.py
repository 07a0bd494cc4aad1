#!/usr/bin/env python3
"""EnclavePool throughput: inputs per second through ``pool.map`` on a local Ray instance.

    python benches/ray_bench.py                   # fuzz-nop and fuzz-parser, 1 and 2 replicas
    python benches/ray_bench.py --quick           # fewer inputs
    python benches/ray_bench.py --elf hello-world --batch 64 --batch 1024

For each ELF: the in-process rate of the same per-input path (``pltvm.ray.Replica.run_batch``
in this process: fork, input into shm, run with output captured, destroy; no Ray), then
``pool.map`` over the same inputs with 1 and 2 replicas for each batch size. Inputs are
distinct 4-byte values (each run parses them; nothing is cached). Every pool figure is the best
of ``--repeat`` passes after one warm-up pass, and the ratios printed are 2 replicas / 1 replica
and per-replica rate / in-process rate.

Not part of the test suite: figures depend on the machine and its load (print ``uptime`` with
them). The Ray instance gets ``--cpus`` CPUs (default: all); the driver (this process) needs CPU
too, to send inputs and unpickle results.
"""

from __future__ import annotations

import argparse
import os
import struct
import time

from pltvm.ray import EnclavePool, Replica


def inputs(n: int) -> list[bytes]:
    return [struct.pack("<I", i * 2654435761 & 0xFFFF_FFFF) for i in range(n)]


def in_process(elf: str, data: list[bytes], repeat: int) -> float:
    rep = Replica(elf)
    rep.run_batch(data[:1000])
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        rep.run_batch(data)
        best = max(best, len(data) / (time.perf_counter() - t))
    rep.close()
    return best


def pooled(elf: str, data: list[bytes], replicas: int, batch: int, repeat: int) -> float:
    with EnclavePool(elf, replicas=replicas, batch_size=batch) as pool:
        for _ in pool.map(data[: batch * replicas * 4]):
            pass
        best = 0.0
        for _ in range(repeat):
            t = time.perf_counter()
            n = sum(1 for _ in pool.map(data))
            best = max(best, n / (time.perf_counter() - t))
        return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--elf", action="append", help="ELF or bundled name (repeatable; default fuzz-nop, fuzz-parser)")
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 256, 1024)")
    ap.add_argument("--inputs", type=int, help="inputs per pass (default 100000; --quick 30000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    a = ap.parse_args()
    import ray

    ray.init(num_cpus=a.cpus, include_dashboard=False, logging_level="WARNING")
    n = a.inputs or (30_000 if a.quick else 100_000)
    data = inputs(n)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {n} inputs per pass; "
          f"Ray with {a.cpus} CPUs")
    print(f"{'elf':12} {'path':22} {'batch':>6} {'inputs/s':>10} {'2r/1r':>6} {'per replica / in-process':>25}")
    for elf in a.elf or ["fuzz-nop", "fuzz-parser"]:
        base = in_process(elf, data, a.repeat)
        print(f"{elf:12} {'in-process run_batch':22} {'-':>6} {base:>10,.0f}", flush=True)
        for batch in a.batch or [256, 1024]:
            one = pooled(elf, data, 1, batch, a.repeat)
            print(f"{elf:12} {'pool.map, 1 replica':22} {batch:>6} {one:>10,.0f} {'':>6} {one / base:>24.0%}", flush=True)
            two = pooled(elf, data, 2, batch, a.repeat)
            print(f"{elf:12} {'pool.map, 2 replicas':22} {batch:>6} {two:>10,.0f} {two / one:>5.2f}x "
                  f"{two / 2 / base:>24.0%}", flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ray.shutdown()


if __name__ == "__main__":
    main()
