"""Shadow-enclave fork benchmarks, from Python. Figures, not pass/fail.

    python3 benches/fork_bench.py                  # everything (a few minutes)
    python3 benches/fork_bench.py latency loop     # some sections
    python3 benches/fork_bench.py --repeat 9 latency

Every figure names the path it takes:

* **public**: the API users call, ``pltvm.Device().create_shadow(...)`` → ``ShadowEnclave.fork()``
  → ``Enclave.run()`` / ``Enclave.destroy()`` (typed errors, the device's table of enclaves,
  output sinks);
* **native**: the binding underneath, ``pltvm._core`` (``Monitor.create_shadow``,
  ``Enclave.fork`` / ``run`` / ``destroy``), which users do not call; the difference between
  the two is the cost of the Python layer;
* **batch**: ``ShadowEnclave.fork_run_destroy(n)``, which forks, runs and destroys ``n``
  instances without returning to Python.

Each measurement is taken ``--repeat`` times (default 5) in one process; a figure is printed as
``median`` of the repeats with the ``best`` beside it, labelled.

Sections:

* latency:    fork and destroy of the bundled hello-world template, timed separately (the
              instance is never run), p50 and p90, public and native, without and with a
              4 KiB shm.
* loop:       fork + ``run(output="capture")`` + destroy of hello-world in a Python loop, per
              second on one core: public and native; and the batch API.
* sizes:      native fork p50/p99 for templates with 64 KiB, 1 MiB, 16 MiB and 64 MiB of
              initialised data (fork is O(1) in the image size).
* vs-create:  creating the same 16 MiB enclave normally vs forking it (native).
* memory:     resident bytes per live instance, 10,000 instances that each wrote one page
              (by the host; and by running, paused on a relay return), each in a fresh process.

The Rust-level copy-on-write figures: ``cargo test --release -p pltvm-core --lib bench_ --
--ignored --nocapture --test-threads 1`` (rust/core/src/monitor/shadow/tests.rs). The same paths
without Python (fork + destroy, fork + run + destroy, the batch, the fuzz runner and campaign):
``cargo run --release -p pltvm-fuzz --example fork_cost``; under ``valgrind --tool=cachegrind`` its
instruction counts per operation do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import pltvm
from pltvm import _core, enclaves

TEXT, DATA = 0x1000, 0x2000
HELLO = enclaves.path("hello-world").read_bytes()


def _elf(data_size: int, insns: bytes) -> bytes:
    """RV64 ELF: code at 0x1000 (R-X) and ``data_size`` bytes of non-zero data at 0x2000."""
    data = bytes((i * 7 + 1) & 0xFF for i in range(4096)) * (data_size // 4096)
    segs = [(TEXT, insns, 5), (DATA, data, 6)]
    phoff, n = 64, len(segs)
    off = 0x1000
    body = b""
    phdrs = b""
    for va, d, flags in segs:
        pos = off + len(body)
        body += bytes((va - pos) % 0x1000)
        phdrs += struct.pack("<IIQQQQQQ", 1, flags, off + len(body), va, va, len(d), len(d), 0x1000)
        body += d
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 243, 1, TEXT, phoff, 0, 0, 64, 56, n, 64, 0, 0)
    head = ehdr + phdrs
    return head + bytes(off - len(head)) + body


# li a0, 0; a6 = 0x100101; a7 = 99; ecall
EXIT0 = struct.pack("<6I", 0x00000513, 0x00100837, 0x10180813, 0x06300893, 0x00000073, 0)


def _pct(v: Sequence[int], p: float) -> float:
    s = sorted(v)
    return s[int((len(s) - 1) * p)]


def _us(ns: float) -> str:
    return f"{ns / 1000:.2f} us"


def _summary(values: List[float], fmt: Callable[[float], str], higher_is_better: bool = False) -> str:
    """``median X (best Y, N runs)`` of per-repeat figures."""
    best = max(values) if higher_is_better else min(values)
    return f"{fmt(statistics.median(values))} median (best {fmt(best)}, {len(values)} runs)"


# --- latency -------------------------------------------------------------------------------------


def _fork_destroy_times(fork: Callable[[], Any], n: int) -> Tuple[List[int], List[int]]:
    """(fork times, destroy times) in ns of ``n`` fork/destroy pairs, timed separately."""
    clock = time.perf_counter_ns
    forks: List[int] = []
    destroys: List[int] = []
    for _ in range(n):
        t0 = clock()
        e = fork()
        t1 = clock()
        e.destroy()
        t2 = clock()
        forks.append(t1 - t0)
        destroys.append(t2 - t1)
    return forks, destroys


def latency(repeat: int) -> None:
    dev = pltvm.Device()
    shadow = dev.create_shadow(HELLO)
    m = _core.Monitor.new()
    t = m.create_shadow(HELLO)
    page = bytes(4096)
    paths: Dict[str, Callable[[], Any]] = {
        "public  shadow.fork()                ": shadow.fork,
        "native  _core fork()                 ": lambda: t.fork(name=b"fork1000-123456"),
        "public  shadow.fork(shm=4096)        ": lambda: shadow.fork(shm=4096),
        "native  _core fork(shm=bytes(4096))  ": lambda: t.fork(name=b"fork1000-123456", shm=page),
    }
    print(f"fork / destroy latency, hello-world template, instance never run; 20,000 pairs per run, "
          f"median of {repeat} runs (best in brackets):")
    print(f"  {'path (figures in us)':<38} {'fork p50':>13} {'fork p90':>13} {'destroy p50':>13} {'destroy p90':>13}")
    cols: Dict[str, Dict[str, List[float]]] = {label: {"fp50": [], "fp90": [], "dp50": [], "dp90": []} for label in paths}
    for fork in paths.values():
        _fork_destroy_times(fork, 2000)  # warm up (allocator)
    for _ in range(repeat):  # the paths take turns
        for label, fork in paths.items():
            f, d = _fork_destroy_times(fork, 20_000)
            c = cols[label]
            c["fp50"].append(_pct(f, 0.5))
            c["fp90"].append(_pct(f, 0.9))
            c["dp50"].append(_pct(d, 0.5))
            c["dp90"].append(_pct(d, 0.9))
    for label in paths:
        cells = [f"{statistics.median(v) / 1000:5.2f} ({min(v) / 1000:4.2f})" for v in cols[label].values()]
        print(f"  {label:<38} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} {cells[3]:>13}")
    shadow.destroy()
    dev.close()
    t.destroy()


# --- fork + run + destroy rates ------------------------------------------------------------------


def _rate(once: Callable[[], None], n: int) -> Tuple[float, float]:
    """(calls per second over ``n`` calls, median ns per call)."""
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        t0 = clock()
        once()
        times.append(clock() - t0)
    return n / (sum(times) / 1e9), statistics.median(times)


def loop(repeat: int) -> None:
    dev = pltvm.Device()
    shadow = dev.create_shadow(HELLO)
    m = _core.Monitor.new()
    t = m.create_shadow(HELLO)

    def public() -> None:
        e = shadow.fork()
        r = e.run(output="capture")
        e.destroy()
        assert r.output == b"hello world!\n"

    def native() -> None:
        buf = bytearray()
        e = t.fork(name=b"fork1000-123456")
        r = e.run("start", output=buf.extend)
        e.destroy()
        assert r.reason == "exit"

    def per_second(v: float) -> str:
        return f"{v:,.0f}/s"

    n = 10_000
    paths: Dict[str, Callable[[], Tuple[float, float]]] = {
        "public  fork() + run(output=\"capture\") + destroy()": lambda: _rate(public, n),
        "native  _core fork() + run(output=...) + destroy()": lambda: _rate(native, n),
        "batch   shadow.fork_run_destroy(100) x 100": lambda: _batch_rate(shadow, n),
    }
    for rate in paths.values():  # warm up (spare harts, allocator)
        rate()
    # The paths take turns, so that a change in the machine's load hits them alike.
    rates: Dict[str, List[float]] = {label: [] for label in paths}
    medians: Dict[str, List[float]] = {label: [] for label in paths}
    for _ in range(repeat):
        for label, rate in paths.items():
            r, med = rate()
            rates[label].append(r)
            medians[label].append(med)
    print(f"fork + run + destroy of hello-world, output captured, one core, {n:,} per run, the paths in turn.")
    print("Rate: calls / total time. On a busy machine a few descheduled calls dominate the total; the median")
    print("time per call (batch: per 100 instances / 100) shows the cost of the path itself:")
    for label in paths:
        med = statistics.median(medians[label])
        print(f"  {label:<52} {_summary(rates[label], per_second, True)}; median {med / 1000:.1f} us per call "
              f"(= {1e9 / med:,.0f}/s)")
    assert dev.monitor.ids() == [shadow.id]
    dev.close()
    t.destroy()


def _batch_rate(shadow: Any, n: int) -> Tuple[float, float]:
    """``n`` instances in batches of 100: (instances per second, median ns per instance)."""
    clock = time.perf_counter_ns
    times = []
    for _ in range(n // 100):
        t0 = clock()
        k, out = shadow.fork_run_destroy(100)
        times.append((clock() - t0) / 100)
        assert k == 100 and out == b"hello world!\n" * 100
    return 1e9 / statistics.mean(times), statistics.median(times)


# --- fork latency by image size (native) ---------------------------------------------------------


def sizes(repeat: int) -> None:
    m = _core.Monitor.new(secure_memory=1 << 31)
    p50s = {}
    print(f"native fork latency by template image size (50,000 forks per run, destroy not timed), "
          f"median of {repeat} runs (best in brackets):")
    for label, size in (("64 KiB", 64 << 10), ("1 MiB", 1 << 20), ("16 MiB", 16 << 20), ("64 MiB", 64 << 20)):
        t = m.create_shadow(_elf(size, EXIT0))
        _fork_destroy_times(t.fork, 2000)
        p50, p99 = [], []
        for _ in range(repeat):
            f, _d = _fork_destroy_times(t.fork, 50_000)
            p50.append(_pct(f, 0.5))
            p99.append(_pct(f, 0.99))
        p50s[label] = statistics.median(p50)
        print(f"  {label:>6} template: p50 {statistics.median(p50) / 1000:.2f} ({min(p50) / 1000:.2f}) us  "
              f"p99 {statistics.median(p99) / 1000:.2f} ({min(p99) / 1000:.2f}) us")
        t.destroy()
    print(f"  ratio 64 MiB / 64 KiB (median p50): {p50s['64 MiB'] / p50s['64 KiB']:.2f}")


def vs_create(repeat: int) -> None:
    m = _core.Monitor.new(secure_memory=1 << 31)
    elf = _elf(16 << 20, EXIT0)
    creates, forks = [], []
    t = m.create_shadow(elf)
    for _ in range(repeat):
        times = []
        for _ in range(10):
            s = time.perf_counter_ns()
            e = m.create(elf)
            times.append(time.perf_counter_ns() - s)
            e.destroy()
        creates.append(_pct(times, 0.5))
        f, _d = _fork_destroy_times(t.fork, 10_000)
        forks.append(_pct(f, 0.5))
    create, fork = statistics.median(creates), statistics.median(forks)
    print(f"16 MiB image, native: normal create p50 {create / 1e6:.2f} ms, shadow fork p50 {fork / 1000:.2f} us "
          f"(medians of {repeat} runs): fork is {create / fork:,.0f}x faster")


# --- resident memory per live instance ----------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_child(mode: str) -> None:
    m = _core.Monitor.new()
    # Increments the global at 0x2000, then returns its relay page (OCALL 7) and stays alive.
    insns = struct.pack(
        "<12I",
        0x000022B7, 0x0002B303, 0x00130313, 0x0062B023,  # lui t0,2; ld t1,0(t0); addi; sd
        0x00700513, 0x00100837, 0x10180813, 0x06200893, 0x00000073,  # a0=7; a6; a7=98; ecall
        0x00000513, 0x06300893, 0x00000073,  # exit
    )
    t = m.create_shadow(_elf(64 << 10, insns))
    n = 10_000
    live = []
    before = _rss_kib()
    for i in range(n):
        f = t.fork(name=b"m%d" % i)  # relay pages need unique names
        if mode == "host":
            f.write(DATA, b"\x01")
        else:
            assert f.run(relay=bytes(4096), output=lambda b: None).reason == "relay"
        live.append(f)
    after = _rss_kib()
    s = m.stats()
    what = "host write, never run" if mode == "host" else "ran, paused in OCALL 7"
    print(f"{n:,} live instances that each wrote one page ({what}), native: "
          f"{(after - before) / n:.1f} KiB resident per instance ({s['frames_private'] / n:.1f} private frames each)")


def memory(repeat: int) -> None:
    for mode in ("host", "run"):
        subprocess.run([sys.executable, __file__, "--memory-child", mode], check=True)


SECTIONS: Dict[str, Callable[[int], None]] = {
    "latency": latency,
    "loop": loop,
    "sizes": sizes,
    "vs-create": vs_create,
    "memory": memory,
}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="fork_bench.py",
        description=__doc__.split("\n\n")[0],
        epilog="sections: " + ", ".join(SECTIONS) + " (default: all)",
    )
    ap.add_argument("sections", nargs="*", metavar="SECTION", help="what to measure (default: everything)")
    ap.add_argument("--repeat", type=int, default=5, metavar="N", help="runs per figure (default 5)")
    ap.add_argument("--memory-child", metavar="MODE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    for s in args.sections or list(SECTIONS):
        SECTIONS[s](args.repeat)


if __name__ == "__main__":
    main()
