#!/usr/bin/env python3
"""Fuzzing figures: executions per second and time to find the magic values.

    python benches/fuzz_bench.py                 # everything (a few minutes)
    python benches/fuzz_bench.py --quick         # shorter runs, 3 seeds
    python benches/fuzz_bench.py --only rate     # or: --only magic4 / magic8
    python benches/fuzz_bench.py --engine jit    # one engine (default: both, side by side)

* rate: execs/s with coverage on (edges; cmplog tracing stage on) for fuzz-nop (returns at
  once) and fuzz-parser, with 1 and 2 jobs, for a fixed time each; then ``parser-4k``:
  fuzz-parser seeded with a 4 KiB input of about 500 records (tens of thousands of
  instructions per execution, where running compiled code matters), 1 job. Each line is
  run once per engine (``--engine``: both by default; coverage and cmplog are counted in
  compiled code under ``jit``).
* magic4 / magic8: time to the crash behind the 4-/8-byte comparison (fuzz-magic4/8), median
  over N seeds, with and without cmplog (runs without cmplog are cut at the time limit and
  count as not found).

Not part of the test suite: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Optional

from pltvm.fuzz import Fuzzer


def rate(name: str, jobs: int, seconds: float, cmplog: bool, engine: str,
         max_len: int = 256, seeds: Optional[list[bytes]] = None) -> tuple[float, int]:
    fz = Fuzzer(name, max_len=max_len, seed=1, cmplog=cmplog, engine=engine)
    st = fz.run(seeds, max_total_time=seconds, jobs=jobs, stop_on_finding=False)
    return st.execs_per_sec, st.edges


def parser_input() -> bytes:
    """A 4 KiB fuzz-parser input: a version record, then name and slot records until full."""
    v = bytearray(b"V\x01\x01")
    k = 0
    while len(v) + 16 <= 4096:
        if k % 2 == 0:
            v += b"N\x0d" + bytes(ord("a") + (i + k) % 26 for i in range(13))
        else:
            v += bytes([ord("S"), 5, k % 12, k & 0xff, (k ^ 0x55) & 0xff, 3, 4])
        k += 1
    return bytes(v)


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
    ap.add_argument("--engine", choices=("both", "jit", "interp"), default="both",
                    help="pltvm engine for every line (default: both, one line each)")
    a = ap.parse_args()
    seconds = 2.0 if a.quick else 5.0
    seeds = a.seeds or (3 if a.quick else 10)
    engines = ["jit", "interp"] if a.engine == "both" else [a.engine]
    if a.only in (None, "rate"):
        print(f"{'target':12} {'cmplog':>6} {'jobs':>4} {'engine':>6} {'execs/s':>10} {'edges':>6}")
        for name in ("fuzz-nop", "fuzz-parser"):
            for cmplog in (True, False):
                for jobs in (1, 2):
                    for engine in engines:
                        r, e = rate(name, jobs, seconds, cmplog, engine)
                        print(f"{name:12} {int(cmplog):>6} {jobs:>4} {engine:>6} {r:>10,.0f} {e:>6}", flush=True)
        for cmplog in (True, False):
            for engine in engines:
                r, e = rate("fuzz-parser", 1, seconds, cmplog, engine, max_len=4096, seeds=[parser_input()])
                print(f"{'parser-4k':12} {int(cmplog):>6} {1:>4} {engine:>6} {r:>10,.0f} {e:>6}", flush=True)
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
