#!/usr/bin/env python3
"""create + run + destroy of the bundled hello-world enclave per second through the Pythonic
API, ``pltvm.Device`` (issue 4, item 7; benches/enclave_bench.py measures pltvm.host and the raw
binding).

Variants: ELF bytes given once and output captured (the API's own cost), the bundled name (the
file is read each time), the default sink (sys.stdout, redirected to a StringIO here), a 4 KiB
shm, and THREADS threads sharing one device.

Usage: python3 benches/device_bench.py [--seconds S] [--threads N]
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Callable

import pltvm

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "python" / "pltvm" / "enclaves" / "hello-world.elf"


def rate(seconds: float, once: Callable[[], None]) -> float:
    once()  # warm up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        once()
        n += 1
    return n / (time.perf_counter() - t0)


def threaded_rate(seconds: float, threads: int, dev: pltvm.Device, data: bytes) -> float:
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        while time.perf_counter() < stop:
            with dev.create(data) as e:
                e.run(output="capture")
            counts[i] += 1

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per variant (default 2)")
    ap.add_argument("--threads", type=int, default=2, help="threads for the shared-device variant (default 2)")
    args = ap.parse_args()
    data = HELLO.read_bytes()
    dev = pltvm.Device()

    def from_bytes() -> None:
        with dev.create(data) as e:
            r = e.run(output="capture")
        assert r.output == b"hello world!\n"

    def by_name() -> None:
        with dev.create("hello-world") as e:
            e.run(output="capture")

    sink = io.StringIO()

    def default_sink() -> None:
        with redirect_stdout(sink):
            with dev.create(data) as e:
                e.run()

    def with_shm() -> None:
        with dev.create(data, shm=4096) as e:
            e.run(output="capture")

    def new_device() -> None:
        with pltvm.Device() as d:
            d.create(data).run(output="capture")

    print("pltvm.Device: hello-world create + run + destroy per second")
    for label, fn in [
        ("bytes, output captured", from_bytes),
        ("bundled name", by_name),
        ("default sink (stdout)", default_sink),
        ("with a 4 KiB shm", with_shm),
        ("a new Device each time", new_device),
    ]:
        print(f"  {label:<28} {rate(args.seconds, fn):9.0f} /s")
    print(f"  {f'{args.threads} threads, one Device':<28} {threaded_rate(args.seconds, args.threads, dev, data):9.0f} /s")
    assert dev.monitor.ids() == []


if __name__ == "__main__":
    main()
