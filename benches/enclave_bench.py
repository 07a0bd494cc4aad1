#!/usr/bin/env python3
"""Enclave benchmarks (issue 4, item 7).

1. create + run + destroy of the bundled hello-world enclave per second, from Python, through
   the C-API mirror (pltvm.host) and through the native binding (pltvm._core.Monitor).
2. Instructions per second of a CPU-bound loop run as an enclave (U-mode, Sv39, the monitor
   model's slice loop) and the same instructions on the user machine that ``pltvm exec --user``
   uses (U-mode, no paging). Target: enclave mode at most 10% slower.

Usage: python3 benches/enclave_bench.py [--iterations N] [--seconds S] [--repeat R]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import A0, A6, A7, ECALL, T0, T1, T2, ZERO, Seg, addi, bne, code, li, lui, make_elf  # noqa: E402

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


def enclave_loop(iterations: int) -> bytes:
    tail = [addi(A0, T1, 0), lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, 99), ECALL]
    return make_elf([Seg(0x1000, code(loop_body(iterations) + tail), flags=7)], 0x1000)


def user_loop(iterations: int) -> tuple[bytes, int]:
    tail = [addi(A0, ZERO, 0), addi(A7, ZERO, 93), ECALL]
    return code(loop_body(iterations) + tail), 0x10000


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


def bench_enclave(iterations: int) -> tuple[int, float]:
    mon = _core.Monitor.new()
    enc = mon.create(enclave_loop(iterations))
    t0 = time.perf_counter()
    r = enc.run()
    dt = time.perf_counter() - t0
    assert r.reason == "exit", r
    return r.instret, dt


def bench_user(iterations: int) -> tuple[int, float]:
    text, base = user_loop(iterations)
    m = _core.Machine.user("emulate")
    m.load_segment(base, text, len(text))
    m.pc = base
    t0 = time.perf_counter()
    ex = m.run(None)
    dt = time.perf_counter() - t0
    assert ex.reason == "exit", ex
    return ex.instret, dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=40_000_000, help="loop iterations (5 instructions each)")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per lifecycle measurement")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    capi, native = bench_lifecycle(args.seconds)
    print(f"hello-world create+run+destroy: {capi:8.0f}/s via pltvm.host, {native:8.0f}/s via _core.Monitor")

    best_e = best_u = 0.0
    for _ in range(args.repeat):
        n_e, t_e = bench_enclave(args.iterations)
        n_u, t_u = bench_user(args.iterations)
        best_e = max(best_e, n_e / t_e / 1e6)
        best_u = max(best_u, n_u / t_u / 1e6)
    print(f"CPU-bound loop ({n_e:,} instructions): enclave {best_e:7.1f} MIPS, user machine {best_u:7.1f} MIPS, "
          f"enclave costs {100 * (best_u / best_e - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
