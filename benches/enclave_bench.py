#!/usr/bin/env python3
"""Enclave benchmarks (issue 4, item 7).

1. create + run + destroy of the bundled hello-world enclave per second, from Python, through
   the C-API mirror (pltvm.host) and through the native binding (pltvm._core.Monitor).
2. Instructions per second of the same instructions run as an enclave (U-mode, Sv39, the monitor
   model's slice loop) and on the user machine that ``pltvm exec --user`` uses (U-mode, no
   paging), for two workloads:

   * ``cpu``: a register-only loop (5 instructions an iteration, no memory access);
   * ``mem``: a load/add/store walk over a 2 MiB array with a stride of one page plus 8 bytes,
     so every access is on another page (7 instructions an iteration); the 512 pages fit the
     1024-entry TLB, so this measures memory access through warm translations;
   * ``mem-tlb``: the same walk over 8 MiB: 2048 pages overflow the 1024-entry TLB
     (``mmu::tlb::TLB_ENTRIES``; grow ``SIZES`` with it if it grows), so every load and every
     store refills it: a page walk in the enclave, none on the user machine. The walker, like
     a hardware page-walk cache, remembers the two upper levels of its last walk per 2 MiB
     region and re-reads them before use, so an enclave refill still reads three PTEs from
     memory but takes the short path when they are unchanged. ``cargo run --release -p
     pltvm-core --example tlb_miss`` runs the same walk on the native path (for profiling).

   The two sides run alternately (enclave first on even rounds, the user machine first on odd
   ones), so drift in the machine's load hits both alike. Each figure is the best of the rounds
   with the median beside it; only the time inside ``run`` is measured. Target: enclave mode at
   most 10% slower.

Usage: python3 benches/enclave_bench.py [--iterations N] [--mem-iterations N] [--seconds S] [--repeat R]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import (  # noqa: E402
    A0, A1, A2, A3, A4, A5, A6, A7, ECALL, PF_R, PF_W, PF_X, T0, T1, T2, ZERO, Seg, addi, bne, code, li, lui, make_elf, sd,
)

from pltvm import _core  # noqa: E402
from pltvm import host as H  # noqa: E402


def xor(rd: int, rs1: int, rs2: int) -> int:
    return (rs2 << 20) | (rs1 << 15) | (4 << 12) | (rd << 7) | 0x33


def add(rd: int, rs1: int, rs2: int) -> int:
    return (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33


def loop_body(iterations: int) -> list[int]:
    """t2 = iterations; loop: t0 += 1; t1 ^= t0; t1 += t1; t2 -= 1; bnez t2 (5 instructions)."""
    assert iterations < 1 << 31
    return li(T2, iterations) + [addi(T0, T0, 1), xor(T1, T1, T0), add(T1, T1, T1), addi(T2, T2, -1),
                                 bne(T2, ZERO, -16)]


def sub(rd: int, rs1: int, rs2: int) -> int:
    return (0x20 << 25) | (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33


def ld(rd: int, off: int, rs1: int) -> int:
    return ((off & 0xFFF) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03


def bltu(rs1: int, rs2: int, off: int) -> int:
    o = off & 0x1FFF
    return ((((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (6 << 12)
            | (((o >> 1) & 0xF) << 8) | (((o >> 11) & 1) << 7) | 0x63)


TEXT = 0x1_0000
DATA = 0x10_0000
SIZES = {"mem": 2 << 20, "mem-tlb": 8 << 20}
STRIDE = 4096 + 8


def mem_body(iterations: int, size: int) -> list[int]:
    """a4 walks [DATA, DATA + size) by STRIDE, wrapping; each step loads, adds, stores:
    ld t1; add t1, t1, t2; sd t1; a4 += stride; bltu a4, end, +8; a4 -= size; t2 -= 1; bnez t2
    (7 instructions, 8 on a wrap)."""
    assert iterations < 1 << 31
    return (li(A1, DATA) + li(A2, size) + [(A2 << 20) | (A1 << 15) | (A3 << 7) | 0x33]  # a3 = end
            + [addi(A4, A1, 0)] + li(A5, STRIDE) + li(T2, iterations)
            + [ld(T1, 0, A4), (T2 << 20) | (T1 << 15) | (T1 << 7) | 0x33, sd(T1, 0, A4), (A5 << 20) | (A4 << 15) | (A4 << 7) | 0x33,
               bltu(A4, A3, 8), sub(A4, A4, A2), addi(T2, T2, -1), bne(T2, ZERO, -28)])


def body(workload: str, iterations: int) -> list[int]:
    return loop_body(iterations) if workload == "cpu" else mem_body(iterations, SIZES[workload])


def enclave_elf(workload: str, iterations: int) -> bytes:
    tail = [addi(A0, T1, 0), lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, 99), ECALL]
    segs = [Seg(TEXT, code(body(workload, iterations) + tail), flags=PF_R | PF_X)]
    if workload in SIZES:
        # File-backed zeros: the enclave loader maps a segment's file pages and NOBITS sections
        # (this writer makes no section headers), and both sides then start with every frame.
        segs.append(Seg(DATA, bytes(SIZES[workload]), flags=PF_R | PF_W))
    return make_elf(segs, TEXT)


def user_text(workload: str, iterations: int) -> bytes:
    return code(body(workload, iterations) + [addi(A0, ZERO, 0), addi(A7, ZERO, 93), ECALL])


def bench_lifecycle(seconds: float) -> tuple[float, float]:
    elf_path = REPO / "python" / "pltvm" / "enclaves" / "hello-world.elf"
    data = elf_path.read_bytes()
    sink = io.StringIO()
    H.set_output(lambda b: None)
    ea = H.elf_args()
    H.elf_args_init(ea, str(elf_path))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        e = H.PLenclave()
        p = H.enclave_args()
        H.PLenclave_init(e)
        H.enclave_args_init(p)
        assert H.PLenclave_create(e, ea, p) == 0
        with redirect_stdout(sink):
            assert H.PLenclave_run(e) == 0
        H.PLenclave_destruct(e)
        n += 1
    capi = n / (time.perf_counter() - t0)
    H.set_output(None)
    mon = _core.Monitor.new()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        enc = mon.create(data, name=b"bench")
        r = enc.run(output=lambda b: None)
        assert r.reason == "exit"
        n += 1
    return capi, n / (time.perf_counter() - t0)


def bench_enclave(workload: str, iterations: int) -> tuple[int, float]:
    mon = _core.Monitor.new()
    enc = mon.create(enclave_elf(workload, iterations))
    t0 = time.perf_counter()
    r = enc.run()
    dt = time.perf_counter() - t0
    assert r.reason == "exit", r
    return r.instret, dt


def bench_user(workload: str, iterations: int) -> tuple[int, float]:
    text = user_text(workload, iterations)
    m = _core.Machine.user("emulate")
    m.load_segment(TEXT, text, len(text))
    if workload in SIZES:
        m.load_segment(DATA, bytes(SIZES[workload]), SIZES[workload])
    m.pc = TEXT
    t0 = time.perf_counter()
    ex = m.run(None)
    dt = time.perf_counter() - t0
    assert ex.reason == "exit", ex
    return ex.instret, dt


def compare(workload: str, iterations: int, rounds: int) -> None:
    """Alternate the two sides `rounds` times; print best and median MIPS of each."""
    mips: dict[str, list[float]] = {"enclave": [], "user": []}
    runs = {"enclave": bench_enclave, "user": bench_user}
    n = 0
    for r in range(rounds):
        for side in ("enclave", "user") if r % 2 == 0 else ("user", "enclave"):
            n, t = runs[side](workload, iterations)
            mips[side].append(n / t / 1e6)
    best = {k: max(v) for k, v in mips.items()}
    med = {k: statistics.median(v) for k, v in mips.items()}
    print(f"{workload} ({n:,} instructions a run, {rounds} alternating rounds): "
          f"enclave {best['enclave']:6.1f} MIPS best, {med['enclave']:6.1f} median; "
          f"user machine {best['user']:6.1f} best, {med['user']:6.1f} median; "
          f"enclave costs {100 * (best['user'] / best['enclave'] - 1):+.1f}% (best of {rounds}), "
          f"{100 * (med['user'] / med['enclave'] - 1):+.1f}% (median)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=40_000_000, help="cpu loop iterations (5 instructions each)")
    ap.add_argument("--mem-iterations", type=int, default=10_000_000,
                    help="mem and mem-tlb walk iterations (7 instructions each, one page each)")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per lifecycle measurement")
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds of the enclave/user comparison")
    args = ap.parse_args()

    capi, native = bench_lifecycle(args.seconds)
    print(f"hello-world create+run+destroy: {capi:8.0f}/s via pltvm.host, {native:8.0f}/s via _core.Monitor "
          f"(one {args.seconds:g} s run each)")
    compare("cpu", args.iterations, args.repeat)
    compare("mem", args.mem_iterations, args.repeat)
    compare("mem-tlb", args.mem_iterations, args.repeat)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
