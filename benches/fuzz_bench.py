#!/usr/bin/env python3
"""Fuzzing figures: executions per second and time to find the magic values.

    python benches/fuzz_bench.py                 # everything (a few minutes)
    python benches/fuzz_bench.py --quick         # shorter runs, 3 seeds
    python benches/fuzz_bench.py --only rate     # or: --only magic4 / magic8

* rate: execs/s with coverage on (edges; cmplog tracing stage on) for fuzz-nop (returns at
  once) and fuzz-parser, with 1 and 2 jobs, for a fixed time each.
* magic4 / magic8: time to the crash behind the 4-/8-byte comparison (fuzz-magic4/8), median
  over N seeds, with and without cmplog (runs without cmplog are cut at the time limit and
  count as not found).

Not part of the test suite: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pltvm.fuzz import Fuzzer


def rate(name: str, jobs: int, seconds: float, cmplog: bool) -> tuple[float, int]:
    fz = Fuzzer(name, max_len=256, seed=1, cmplog=cmplog)
    st = fz.run(max_total_time=seconds, jobs=jobs, stop_on_finding=False)
    return st.execs_per_sec, st.edges


def time_to_find(name: str, seed: int, cmplog: bool, limit: float) -> tuple[float, int]:
    fz = Fuzzer(name, max_len=64, seed=seed, cmplog=cmplog)
    t = time.monotonic()
    st = fz.run(max_total_time=limit)
    found = any(f.kind == "crash" for f in st.findings)
    return (time.monotonic() - t if found else float("inf")), st.executions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("rate", "magic4", "magic8"))
    ap.add_argument("--seeds", type=int)
    a = ap.parse_args()
    seconds = 2.0 if a.quick else 5.0
    seeds = a.seeds or (3 if a.quick else 10)
    if a.only in (None, "rate"):
        print(f"{'target':12} {'cmplog':>6} {'jobs':>4} {'execs/s':>10} {'edges':>6}")
        for name in ("fuzz-nop", "fuzz-parser"):
            for cmplog in (True, False):
                for jobs in (1, 2):
                    r, e = rate(name, jobs, seconds, cmplog)
                    print(f"{name:12} {int(cmplog):>6} {jobs:>4} {r:>10,.0f} {e:>6}", flush=True)
    for which, limit in (("magic4", 30.0 if a.quick else 60.0), ("magic8", 60.0 if a.quick else 120.0)):
        if a.only not in (None, which):
            continue
        name = f"fuzz-{which}"
        for cmplog in (True, False):
            times = []
            for s in range(1, seeds + 1):
                t, n = time_to_find(name, s, cmplog, limit if cmplog else min(limit, 10.0))
                times.append(t)
            med = statistics.median(times)
            shown = f"{med:.3f} s" if med != float("inf") else "not found"
            found = sum(t != float("inf") for t in times)
            print(f"{name} cmplog={int(cmplog)}: median time to crash {shown} over {seeds} seeds "
                  f"({found} found; limit {limit if cmplog else min(limit, 10.0):.0f} s)", flush=True)


if __name__ == "__main__":
    main()
