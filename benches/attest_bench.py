"""Attestation benchmark: measurement throughput for a 64 MiB image and reports per second.

    python3 benches/attest_bench.py [--mib 64] [--reports 2000]

Prints: the monitor's create of a 64 MiB image (load + SM3 measurement, Rust), the
ahead-of-time pltvm.measure of the same file (the same creation steps in a private monitor), the
measurement alone (create time minus a create of the same layout with a 4 KiB image is not
separable, so the monitor figure is an upper bound on the cost of measuring), host reports
signed per second (Enclave.attest: SM3 + one SM2 signature) and reports verified per second
(pltvm.attest.verify: two SM2 verifications + SM3).
"""

from __future__ import annotations

import argparse
import os
import struct
import time


def image_elf(mib: int) -> bytes:
    """An RV64 enclave ELF with one RWX PT_LOAD of `mib` MiB of pseudo-random bytes at 0x1000
    whose first instructions exit."""
    # li a0,0 ; lui a6,0x100 ; addiw a6,a6,0x101 ; li a7,99 ; ecall
    insns = [0x00000513, 0x00100837, 0x1018081B, 0x06300893, 0x00000073]
    exit_code = b"".join(struct.pack("<I", i) for i in insns)
    body = exit_code + os.urandom(mib * (1 << 20) - len(exit_code))
    phoff, off = 64, 0x1000
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 2, 243, 1, 0x1000, phoff, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 7, off, 0x1000, 0x1000, len(body), len(body), 0x1000)
    head = ehdr + phdr
    return head + bytes(off - len(head)) + body


def best(f, n: int = 3) -> float:  # type: ignore[no-untyped-def]
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--reports", type=int, default=2000)
    a = ap.parse_args()

    from pltvm import _core, attest

    elf = image_elf(a.mib)
    mon = _core.Monitor.new(secure_memory=4 << 30)
    mon.set_keys(test=True)

    def create() -> None:
        mon.create(elf).destroy()

    t_create = best(create)
    t_aot = best(lambda: attest.measure(elf))
    t_sm3 = best(lambda: attest.sm3(elf))
    e = mon.create(elf)
    assert bytes(e.measurement) == attest.measure(elf)
    mib = a.mib
    print(f"image: {mib} MiB")
    print(f"monitor create (load + measure, Rust sm3): {t_create * 1e3:8.1f} ms  {mib / t_create:8.1f} MiB/s")
    print(f"pltvm.measure (ahead of time):            {t_aot * 1e3:8.1f} ms  {mib / t_aot:8.1f} MiB/s")
    print(f"cryptography SM3 of the file bytes:       {t_sm3 * 1e3:8.1f} ms  {mib / t_sm3:8.1f} MiB/s")

    small = mon.create(image_elf(1))
    n = a.reports
    t0 = time.perf_counter()
    for i in range(n):
        small.attest(i)
    dt = time.perf_counter() - t0
    print(f"reports signed (Enclave.attest):           {n / dt:8.0f} /s")
    raw = small.attest(1)
    m = bytes(small.measurement)
    t0 = time.perf_counter()
    for _ in range(n):
        attest.verify(raw, nonce=1, expected_measurement=m)
    dt = time.perf_counter() - t0
    print(f"reports verified (pltvm.attest.verify):    {n / dt:8.0f} /s")


if __name__ == "__main__":
    main()
