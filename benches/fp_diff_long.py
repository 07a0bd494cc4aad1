#!/usr/bin/env python3
"""The FP differential test (tests/test_fp_differential.py) at length: many more operand triples,
in batches, each batch under pltvm and qemu-riscv64, stopping at the first difference.

    python3 benches/fp_diff_long.py                     # 200,000 triples, seed 1
    python3 benches/fp_diff_long.py --count 1000000 --seed 7 --variant fpdiff
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import test_fp_differential as fpd  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", default="fpdiff-gc", choices=["fpdiff-gc", "fpdiff"])
    ns = ap.parse_args()
    elf = fpd.BUILD / f"{ns.variant}.elf"
    done = 0
    t0 = time.perf_counter()
    batch_no = 0
    while done < ns.count:
        n = min(ns.batch, ns.count - done)
        seed = ns.seed * 1_000_003 + batch_no
        ref, got = fpd.run_both(elf, fpd.vectors(seed, n), timeout=3600)
        if ref != got:
            print(f"MISMATCH in batch seed {seed}: " + fpd.first_difference(ref, got))
            return 1
        done += n
        batch_no += 1
        print(f"{done} triples agree ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"seed {ns.seed}: all {done} triples agree bit for bit ({ns.variant})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
