#!/usr/bin/env python3
"""EnclavePool throughput: inputs per second through ``pool.map`` on a local Ray instance.

    python benches/ray_bench.py                   # fuzz-nop and fuzz-parser, 1 and 2 replicas
    python benches/ray_bench.py --quick           # fewer inputs
    python benches/ray_bench.py --elf hello-world --batch 64 --batch 1024

For each ELF: the in-process rate of the same per-input path (``pltvm.ray.Replica.run_batch``
in a fresh Python process without Ray: fork, input into shm, run with output captured,
destroy), then
``pool.map`` over the same inputs with 1 and 2 replicas for each batch size. Inputs are
distinct 4-byte values (each run parses them; nothing is cached). The paths are measured in
``--repeat`` rounds, each round running every path once after a warm-up (so load from other
processes hits them alike), and each figure is the best of its rounds. The ratios printed are
2 replicas / 1 replica and per-replica rate / in-process rate.

Not part of the test suite: figures depend on the machine and its load (print ``uptime`` with
them). The Ray instance gets ``--cpus`` CPUs (default: all); the driver (this process) needs CPU
too, to send inputs and unpickle results.
"""

from __future__ import annotations

import argparse
import logging
import os
import struct
import subprocess
import sys
import time
from typing import Callable

from pltvm.ray import EnclavePool


def inputs(n: int) -> list[bytes]:
    return [struct.pack("<I", i * 2654435761 & 0xFFFF_FFFF) for i in range(n)]


def rate(run: Callable[[], int]) -> float:
    t = time.perf_counter()
    n = run()
    return n / (time.perf_counter() - t)


_IN_PROCESS = """
import struct, sys, time
from pltvm.ray.runner import Replica
n = int(sys.argv[2])
data = [struct.pack("<I", i * 2654435761 & 0xFFFF_FFFF) for i in range(n)]
rep = Replica(sys.argv[1])
rep.run_batch(data[:2000])
t = time.perf_counter()
rep.run_batch(data)
print(n / (time.perf_counter() - t))
"""


def in_process(elf: str, n: int) -> float:
    """The same path in a fresh Python process without Ray (the driver's process carries Ray's
    threads and a large heap, which slow a loop run there)."""
    out = subprocess.run([sys.executable, "-c", _IN_PROCESS, elf, str(n)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout)


def measure(elf: str, data: list[bytes], batches: list[int], rounds: int) -> dict[tuple[str, int], float]:
    """Best rate of each path over ``rounds`` rounds; each round runs every path once, so load
    changes during the run hit all paths alike."""
    # num_cpus=0.5: both pools stay up between rounds on a 2-CPU Ray instance (Ray's CPU count
    # is only for placement; an idle replica costs nothing).
    pools = {1: EnclavePool(elf, replicas=1, num_cpus=0.5), 2: EnclavePool(elf, replicas=2, num_cpus=0.5)}
    best: dict[tuple[str, int], float] = {}
    try:
        for pool in pools.values():
            pool.run(data[:4096])
        for _ in range(rounds):
            best[("in-process", 0)] = max(best.get(("in-process", 0), 0.0), in_process(elf, len(data)))
            for b in batches:
                for n, pool in pools.items():
                    pool.batch_size = b
                    r = rate(lambda: sum(1 for _ in pool.map(data)))
                    best[(f"{n}r", b)] = max(best.get((f"{n}r", b), 0.0), r)
    finally:
        for pool in pools.values():
            pool.close()
    return best


def campaigns(elf: str, seconds: float) -> None:
    """Executions per second of a campaign on threads and on Ray actors, 1 and 2 jobs."""
    from pltvm.fuzz import Fuzzer

    print(f"{'elf':12} {'campaign':22} {'jobs':>6} {'execs/s':>10} {'edges':>6} {'corpus':>6}")
    for jobs in (1, 2):
        for how in (None, "auto"):
            st = Fuzzer(elf, max_len=256, seed=1).run(max_total_time=seconds, jobs=jobs, ray=how,
                                                      stop_on_finding=False)
            what = "threads" if how is None else "ray (1 s slices)"
            print(f"{elf:12} {what:22} {jobs:>6} {st.execs_per_sec:>10,.0f} {st.edges:>6} {st.corpus_size:>6}",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--elf", action="append", help="ELF or bundled name (repeatable; default fuzz-nop, fuzz-parser)")
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 256, 1024)")
    ap.add_argument("--inputs", type=int, help="inputs per pass (default 100000; --quick 30000)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (default 3); the best of each path is kept")
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    ap.add_argument("--fuzz", type=float, metavar="S",
                    help="also: fuzz-parser campaign execs/s, threads vs Ray, 1 and 2 jobs, S seconds each")
    a = ap.parse_args()
    import ray

    ray.init(num_cpus=a.cpus, include_dashboard=False, logging_level=logging.WARNING)
    n = a.inputs or (30_000 if a.quick else 100_000)
    data = inputs(n)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {n} inputs per pass; "
          f"Ray with {a.cpus} CPUs")
    print(f"{'elf':12} {'path':22} {'batch':>6} {'inputs/s':>10} {'2r/1r':>6} {'per replica / in-process':>25}")
    batches = a.batch or [256, 1024]
    for elf in a.elf or ["fuzz-nop", "fuzz-parser"]:
        best = measure(elf, data, batches, a.repeat)
        base = best[("in-process", 0)]
        print(f"{elf:12} {'in-process run_batch':22} {'-':>6} {base:>10,.0f}", flush=True)
        for b in batches:
            one, two = best[("1r", b)], best[("2r", b)]
            print(f"{elf:12} {'pool.map, 1 replica':22} {b:>6} {one:>10,.0f} {'':>6} {one / base:>24.0%}")
            print(f"{elf:12} {'pool.map, 2 replicas':22} {b:>6} {two:>10,.0f} {two / one:>5.2f}x "
                  f"{two / 2 / base:>24.0%}", flush=True)
    if a.fuzz:
        campaigns("fuzz-parser", a.fuzz)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ray.shutdown()


if __name__ == "__main__":
    main()
