#!/usr/bin/env python3
"""Cost of the system machine's guarded page table, as an S-mode kernel sees it.

* ``SET_PTE`` (Penglai host fid 101, flag 1) in a loop of S-mode code: ``mv a0, s1; mv a1, s2;
  ecall; addi t0, t0, -1; bnez t0, loop``. The same loop with the debug fid 84 (which does
  nothing) gives the cost of the SBI round trip itself (trap out of the interpreter, dispatch,
  back); ``SET_PTE`` minus that is the rule checks plus the store.
* A 2 MiB secure-memory donation (``MEMORY_EXTEND``, fid 92, the same code path that makes an
  enclave block secure): it scans every leaf in the PMD and PTE sub-areas for mappings of the
  donated frames, so its cost grows with the page-table pages present. Measured with every
  page of the PTE sub-area full of valid leaves (the worst case) for PT areas of 1 to 64 MiB.

Path measured: the public Python API (``pltvm.Machine.system`` + ``Machine.run``); the donation
figure includes one ``Machine.run`` call (a null SBI call through the same path is subtracted).
Figures depend on load: the script prints ``os.getloadavg()``.

    python benches/system_bench.py            # default
    python benches/system_bench.py --quick    # fewer iterations
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import time

import pltvm

BASE = 0x8020_0000
EXT_HOST = 0x10_0100
PT = 0x9000_0000
BITMAP = 0x8400_0000
FLAG = 0x8030_0000
LEAF = 0xCF  # V R W X A D
PTR = 0x01
RAM = 1 << 30


def addi(rd: int, rs1: int, imm: int) -> int:
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (rd << 7) | 0x13


def bne(rs1: int, rs2: int, off: int) -> int:
    o = off & 0x1FFF
    return (
        ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3F) << 25
        | rs2 << 20
        | rs1 << 15
        | 1 << 12
        | ((o >> 1) & 0xF) << 8
        | ((o >> 11) & 1) << 7
        | 0x63
    )


ECALL = 0x73
A0, A1, A2, A6, A7, T0, S1, S2 = 10, 11, 12, 16, 17, 5, 9, 18


def code(m: pltvm.Machine, insns: list[int]) -> None:
    m.mem_write(BASE, b"".join(struct.pack("<I", i) for i in insns))
    m.pc = BASE


def sbi(m: pltvm.Machine, fid: int, *args: int) -> int:
    """One Penglai host call from S-mode (an `ecall` at BASE); returns the signed result."""
    code(m, [ECALL])
    for i, a in enumerate(args):
        m.x[A0 + i] = a
    m.x[A6], m.x[A7] = fid, EXT_HOST
    ex = m.run(1)
    assert ex.reason == "budget", ex
    a0, a1 = m.x[A0], m.x[A1]
    return a1 if a0 == 0 else a0 - (1 << 64) if a0 >> 63 else a0


def installed(pt_size: int, fill: bool) -> pltvm.Machine:
    """A machine after SM_INIT + PT_AREA_SEPARATION with a PT area of `pt_size` bytes: PGD and
    PMD 2 pages each, root at PT + 0x1000 mapping RAM 1:1 with 2 MiB leaves in the first PMD page;
    with `fill`, every PTE page is full of valid leaves (targets from 0xA000_0000 up, never a
    donated range)."""
    m = pltvm.Machine.system(ram_size=RAM)
    pte = PT + 4 * 4096
    if fill:
        target = 0xA000_0000 >> 12
        page = bytearray(4096)
        for p in range(pte, PT + pt_size, 4096):
            for i in range(512):
                struct.pack_into("<Q", page, 8 * i, ((target + i) << 10) | LEAF)
            m.mem_write(p, bytes(page))
    # Identity map of RAM for the kernel: root[2] -> PMD page 0 of 2 MiB leaves.
    m.mem_write(PT + 0x1000 + 16, struct.pack("<Q", (((PT + 0x2000) >> 12) << 10) | PTR))
    m.mem_write(PT + 0x2000, b"".join(struct.pack("<Q", (((0x8000_0000 >> 12) + 512 * i) << 10) | LEAF) for i in range(512)))
    m.csr[0x180] = (8 << 60) | ((PT + 0x1000) >> 12)
    assert sbi(m, 100, PT, pt_size, BITMAP, 2 << 20, FLAG) == 0
    assert sbi(m, 83, 1, 1) == 0
    return m


def loop_cost(m: pltvm.Machine, fid: int, a0: int, a1: int, a2: int, n: int) -> float:
    """Seconds per iteration of the 5-instruction SBI loop."""
    code(m, [addi(A0, S1, 0), addi(A1, S2, 0), ECALL, addi(T0, T0, -1), bne(T0, 0, -16)])
    m.x[S1], m.x[S2], m.x[A2], m.x[A6], m.x[A7], m.x[T0] = a0, a1, a2, fid, EXT_HOST, n
    t = time.perf_counter()
    ex = m.run(5 * n)
    dt = time.perf_counter() - t
    assert ex.reason == "budget" and m.x[T0] == 0, ex
    return dt / n


def bench_set_pte(n: int, repeat: int) -> None:
    m = installed(1 << 20, fill=False)
    entry = PT + 4 * 4096 + 8
    value = ((0x8800_0000 >> 12) << 10) | LEAF
    null = [loop_cost(m, 84, 0, 0, 0, n) for _ in range(repeat)]
    setp = [loop_cost(m, 101, 1, entry, value, n) for _ in range(repeat)]
    assert sbi(m, 101, 1, entry, value) == 0
    pmd = [loop_cost(m, 101, 1, PT + 3 * 4096 + 8, ((0x8800_0000 >> 12) << 10) | LEAF, n) for _ in range(repeat)]
    med = statistics.median
    print(f"SBI round trip (fid 84, does nothing):      {med(null) * 1e9:8.0f} ns/call (best {min(null) * 1e9:.0f})")
    print(f"SET_PTE flag 1, 4 KiB leaf (PTE sub-area):  {med(setp) * 1e9:8.0f} ns/call (best {min(setp) * 1e9:.0f})")
    print(f"SET_PTE flag 1, 2 MiB leaf (PMD, 512 bits): {med(pmd) * 1e9:8.0f} ns/call (best {min(pmd) * 1e9:.0f})")
    print(f"  -> SET_PTE's own cost (4 KiB leaf):       {(med(setp) - med(null)) * 1e9:8.0f} ns")


def bench_donation(sizes: list[int], repeat: int) -> None:
    print("2 MiB donation (MEMORY_EXTEND), PTE sub-area full of valid leaves:")
    print(f"  {'PT area':>8} {'PT pages':>9} {'leaves':>9} {'us/donation':>12} {'best':>8}")
    for size in sizes:
        m = installed(size, fill=True)
        # The cost of one Machine.run with a null SBI call, subtracted below.
        base = []
        for _ in range(repeat):
            code(m, [ECALL])
            m.x[A6], m.x[A7] = 84, EXT_HOST
            t = time.perf_counter()
            m.run(1)
            base.append(time.perf_counter() - t)
        times = []
        for k in range(repeat):
            code(m, [ECALL])
            m.x[A0], m.x[A1], m.x[A6], m.x[A7] = 0x8800_0000 + (k << 21), 2 << 20, 92, EXT_HOST
            t = time.perf_counter()
            m.run(1)
            times.append(time.perf_counter() - t)
            assert m.x[A0] == 0, f"donation {k} refused"
        own = [t - statistics.median(base) for t in times]
        pages = size // 4096
        leaves = (pages - 4) * 512 + 512
        print(f"  {size >> 20:>6} MiB {pages:>9} {leaves:>9} {statistics.median(own) * 1e6:>12.1f} {min(own) * 1e6:>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    args = ap.parse_args()
    n = 20_000 if args.quick else 200_000
    repeat = 3 if args.quick else 7
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench_set_pte(n, repeat)
    bench_donation([1 << 20, 4 << 20, 16 << 20] if args.quick else [1 << 20, 4 << 20, 16 << 20, 64 << 20], repeat)


if __name__ == "__main__":
    main()
